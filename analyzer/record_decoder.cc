#include "record_decoder.h"

#include "absl/strings/str_format.h"

namespace allocprof {

using format::RecordTag;

const char* RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kAlloc: return "alloc";
    case RecordKind::kFree: return "free";
    case RecordKind::kStackDef: return "stack";
    case RecordKind::kThreadStart: return "thread-start";
    case RecordKind::kThreadName: return "thread-name";
    case RecordKind::kThreadEnd: return "thread-end";
    case RecordKind::kModule: return "module";
    case RecordKind::kProcess: return "process";
    case RecordKind::kExec: return "exec";
    case RecordKind::kFork: return "fork";
    case RecordKind::kWarning: return "warning";
    case RecordKind::kEnd: return "end";
    case RecordKind::kQuiet: return "quiet";
  }
  return "?";
}

RecordDecoder::RecordDecoder(const Chunk& chunk)
    : chunk_(chunk),
      begin_(chunk.payload.data()),
      p_(chunk.payload.data()),
      end_(chunk.payload.data() + chunk.payload.size()),
      last_time_(chunk.header.base_time_ns) {}

bool RecordDecoder::Fail(const char* what) {
  error_ = absl::StrFormat("chunk at offset %d: record #%d at payload offset %d: %s", chunk_.offset, index_,
                           p_ - begin_, what);
  return false;
}

bool RecordDecoder::Uint(uint64_t* v) { return format::GetVarint(&p_, end_, v) || Fail("truncated varint"); }

bool RecordDecoder::Time(uint64_t* t) {
  uint64_t dt;
  if (!Uint(&dt)) return false;
  last_time_ += dt;
  *t = last_time_;
  return true;
}

bool RecordDecoder::Addr(uint64_t* a) {
  uint64_t zz;
  if (!Uint(&zz)) return false;
  prev_addr_ += static_cast<uint64_t>(format::UnZigZag(zz));
  *a = prev_addr_;
  return true;
}

bool RecordDecoder::Bytes(std::string* out) {
  uint64_t n;
  if (!Uint(&n)) return false;
  if (n > format::kMaxStringLength) return Fail("string longer than the format allows");
  if (n > static_cast<uint64_t>(end_ - p_)) return Fail("string runs past the payload");
  out->assign(reinterpret_cast<const char*>(p_), n);
  p_ += n;
  return true;
}

bool RecordDecoder::Next(Record* r) {
  if (p_ >= end_ || !error_.empty()) return false;
  uint8_t tag = *p_++;
  ++index_;
  if (tag < format::kControlTagBase) {
    bool is_free = tag >= format::kFreeTagBase;
    uint8_t entry = tag & 0x3f;
    if (entry >= static_cast<uint8_t>(format::EntryPoint::kCount)) return Fail("unknown entry point");
    r->entry = static_cast<format::EntryPoint>(entry);
    if (is_free) {
      r->kind = RecordKind::kFree;
      r->size = 0;
      r->stack_id = 0;
      return Time(&r->time) && Addr(&r->addr);
    }
    r->kind = RecordKind::kAlloc;
    uint64_t stack;
    if (!(Time(&r->time) && Uint(&r->size) && Addr(&r->addr) && Uint(&stack))) return false;
    if (stack > UINT32_MAX) return Fail("stack id out of range");
    r->stack_id = static_cast<uint32_t>(stack);
    return true;
  }
  uint64_t v, n;
  switch (static_cast<RecordTag>(tag)) {
    case RecordTag::kStackDef: {
      r->kind = RecordKind::kStackDef;
      if (!Uint(&v) || !Uint(&n)) return false;
      if (v > UINT32_MAX) return Fail("stack id out of range");
      if (n > format::kMaxStackDepth) return Fail("stack deeper than the format allows");
      r->stack_id = static_cast<uint32_t>(v);
      r->frames.resize(n);
      uint64_t prev = 0;
      for (uint64_t i = 0; i < n; ++i) {
        uint64_t f;
        if (!Uint(&f)) return false;
        prev = i == 0 ? f : prev + static_cast<uint64_t>(format::UnZigZag(f));
        r->frames[i] = prev;
      }
      return true;
    }
    case RecordTag::kThreadStart:
      r->kind = RecordKind::kThreadStart;
      return Time(&r->time) && Uint(&r->value);
    case RecordTag::kThreadName:
      r->kind = RecordKind::kThreadName;
      return Bytes(&r->text);
    case RecordTag::kThreadEnd:
      r->kind = RecordKind::kThreadEnd;
      return Time(&r->time);
    case RecordTag::kModule: {
      r->kind = RecordKind::kModule;
      if (!(Time(&r->time) && Uint(&r->value) && Bytes(&r->text) && Bytes(&r->build_id) && Uint(&n))) return false;
      if (n > 256) return Fail("module with more segments than the format allows");
      r->segments.resize(n);
      for (auto& s : r->segments) {
        if (!(Uint(&s.vaddr) && Uint(&s.memsz) && Uint(&s.flags))) return false;
      }
      return true;
    }
    case RecordTag::kProcess: {
      r->kind = RecordKind::kProcess;
      ProcessInfo& p = r->process;
      return Uint(&p.pid) && Uint(&p.ppid) && Uint(&p.exec_generation) && Uint(&p.start_monotonic_ns) &&
             Uint(&p.start_realtime_ns) && Uint(&p.page_size) && Uint(&p.llc_bytes) && Uint(&p.unwind_mode) &&
             Uint(&p.max_depth) && Bytes(&p.exe) && Bytes(&p.command_line) && Bytes(&p.shim_version);
    }
    case RecordTag::kExec:
      r->kind = RecordKind::kExec;
      return Time(&r->time) && Bytes(&r->text);
    case RecordTag::kFork:
      r->kind = RecordKind::kFork;
      return Time(&r->time) && Uint(&r->value);
    case RecordTag::kWarning:
      r->kind = RecordKind::kWarning;
      return Time(&r->time) && Bytes(&r->text);
    case RecordTag::kEnd:
      r->kind = RecordKind::kEnd;
      return Time(&r->time);
    case RecordTag::kQuiet:
      r->kind = RecordKind::kQuiet;
      return Time(&r->time) && Uint(&r->value);
  }
  --p_;
  return Fail(absl::StrFormat("unknown record tag 0x%02x", tag).c_str());
}

}  // namespace allocprof
