#include "read/record_decoder.h"

#include "absl/strings/str_format.h"

namespace allocprof {

using format::RecordTag;

const char* RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kAlloc:
      return "alloc";
    case RecordKind::kFree:
      return "free";
    case RecordKind::kStackDef:
      return "stack";
    case RecordKind::kThreadStart:
      return "thread-start";
    case RecordKind::kThreadName:
      return "thread-name";
    case RecordKind::kThreadEnd:
      return "thread-end";
    case RecordKind::kModule:
      return "module";
    case RecordKind::kProcess:
      return "process";
    case RecordKind::kExec:
      return "exec";
    case RecordKind::kFork:
      return "fork";
    case RecordKind::kWarning:
      return "warning";
    case RecordKind::kEnd:
      return "end";
    case RecordKind::kQuiet:
      return "quiet";
    case RecordKind::kPoolRegister:
      return "pool";
    case RecordKind::kRentBegin:
      return "rent-begin";
    case RecordKind::kRentEnd:
      return "rent-end";
    case RecordKind::kPoolReturn:
      return "pool-return";
    case RecordKind::kCounterName:
      return "counter";
    case RecordKind::kCount:
      return "count";
    case RecordKind::kMark:
      return "mark";
    case RecordKind::kCapture:
      return "capture";
    case RecordKind::kSampling:
      return "sampling";
    case RecordKind::kModuleUnload:
      return "module-unload";
    case RecordKind::kSuppressions:
      return "suppressions";
  }
  return "?";
}

void AllocationHistory::BeginChunk(uint32_t alloc_seq) {
  if (started_ && alloc_seq == next_seq_) return;
  uint32_t lost = alloc_seq - next_seq_;
  if (!started_ || static_cast<int32_t>(lost) < 0 || lost >= format::kMaxAge) {
    started_ = true;
    next_seq_ = valid_from_ = hole_from_ = hole_to_ = alloc_seq;
    return;
  }
  // A chunk of this thread was lost (damage): the allocations it held cannot be resolved, those
  // before it still can, so frees of blocks allocated before the damage keep their addresses.
  // One hole is kept: a second one gives up what lies before the first.
  if (hole_from_ != hole_to_) valid_from_ = hole_to_;
  hole_from_ = next_seq_;
  hole_to_ = next_seq_ = alloc_seq;
}

void AllocationHistory::Grow() {
  ring_.resize(format::kMaxAge);
  families_.resize(format::kMaxAge);
}

RecordDecoder::RecordDecoder(const Chunk& chunk, AllocationHistory* history)
    : chunk_(chunk), history_(history), predicted_codes_(chunk.format_version >= format::kFirstVersionWithAges) {
  const uint8_t* p = chunk.payload.data();
  const uint8_t* end = p + chunk.payload.size();
  format::PayloadLayout layout = format::PayloadLayoutOf(chunk.format_version);
  uint64_t sizes[format::kColumnCount];
  for (int i = 0; i < layout.count; ++i) {
    if (!format::GetVarint(&p, end, &sizes[i])) {
      Fail("truncated section table");
      return;
    }
  }
  for (int i = 0; i < layout.count; ++i) {
    if (sizes[i] > static_cast<uint64_t>(end - p)) {
      Fail("section table claims more bytes than the payload holds");
      return;
    }
    col_[static_cast<int>(layout.columns[i])] = Cursor{p, p + sizes[i]};
    p += sizes[i];
  }
  if (p != end) Fail("payload longer than its sections");
  hints_.Reset();
  free_entries_.Reset();
  stacks_.Reset();
  if (history_) history_->BeginChunk(chunk.header.alloc_seq);
}

bool RecordDecoder::Fail(const char* what) {
  if (error_.empty()) {
    error_ = absl::StrFormat("chunk at offset %d: record #%d: %s", chunk_.offset, index_, what);
  }
  return false;
}

bool RecordDecoder::GetSlow(format::Column column, uint64_t* v) {
  Cursor& c = col_[static_cast<int>(column)];
  if (format::GetVarint(&c.p, c.end, v)) return true;
  static const char* kNames[] = {"tags", "times", "sizes", "addresses", "hints", "stacks", "ages", "control"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == format::kColumnCount);
  return Fail(absl::StrFormat("truncated %s column", kNames[static_cast<int>(column)]).c_str());
}

bool RecordDecoder::Bytes(std::string* out) {
  uint64_t n;
  if (!Uint(&n)) return false;
  Cursor& c = col_[static_cast<int>(format::Column::kControl)];
  if (n > format::kMaxStringLength) return Fail("string longer than the format allows");
  if (n > static_cast<uint64_t>(c.end - c.p)) return Fail("string runs past the control column");
  out->assign(reinterpret_cast<const char*>(c.p), n);
  c.p += n;
  return true;
}

bool RecordDecoder::Next(Record* r) {
  Cursor& tags = col_[static_cast<int>(format::Column::kTags)];
  if (!error_.empty() || tags.p >= tags.end) return false;
  uint8_t tag = *tags.p++;
  ++index_;
  if ((tag & 0xc0) == format::kControlTagBase) return DecodeControl(tag, r);
  return DecodeHeap(tag, r);
}

bool RecordDecoder::DecodeControl(uint8_t tag, Record* r) {
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
    case RecordTag::kModuleUnload:
      r->kind = RecordKind::kModuleUnload;
      return Time(&r->time) && Uint(&r->value) && Bytes(&r->text);
    case RecordTag::kSuppressions:
      r->kind = RecordKind::kSuppressions;
      return Bytes(&r->text);
    case RecordTag::kProcess: {
      r->kind = RecordKind::kProcess;
      ProcessInfo& p = r->process;
      p.flags = 0;
      if (!(Uint(&p.pid) && Uint(&p.ppid) && Uint(&p.exec_generation) && Uint(&p.start_monotonic_ns) &&
            Uint(&p.start_realtime_ns) && Uint(&p.page_size) && Uint(&p.llc_bytes) && Uint(&p.unwind_mode) &&
            Uint(&p.max_depth) && Bytes(&p.exe) && Bytes(&p.command_line) && Bytes(&p.shim_version))) {
        return false;
      }
      // Optional trailing flags (trace_format.h): only when this record ends its chunk.
      const Cursor& tags = col_[static_cast<int>(format::Column::kTags)];
      const Cursor& control = col_[static_cast<int>(format::Column::kControl)];
      return tags.p < tags.end || control.p >= control.end || Uint(&p.flags);
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
    case RecordTag::kPoolRegister:
      r->kind = RecordKind::kPoolRegister;
      return Uint(&v) && Pool(v, r) && Bytes(&r->text) && Uint(&r->size) && Uint(&r->value);
    case RecordTag::kRentBegin: {
      r->kind = RecordKind::kRentBegin;
      if (!(Time(&r->time) && Uint(&v) && Pool(v, r) && Uint(&r->size) && Uint(&n))) return false;
      if (n > UINT32_MAX) return Fail("stack id out of range");
      r->stack_id = static_cast<uint32_t>(n);
      return true;
    }
    case RecordTag::kRentEnd:
      r->kind = RecordKind::kRentEnd;
      return Time(&r->time) && Uint(&v) && Pool(v, r) && Uint(&r->size) && Uint(&r->granted) && Uint(&n) &&
             Outcome(n, 3, r);
    case RecordTag::kPoolReturn: {
      r->kind = RecordKind::kPoolReturn;
      uint64_t stack;
      if (!(Time(&r->time) && Uint(&v) && Pool(v, r) && Uint(&r->size) && Uint(&n) && Outcome(n, 2, r) &&
            Uint(&stack))) {
        return false;
      }
      if (stack > UINT32_MAX) return Fail("stack id out of range");
      r->stack_id = static_cast<uint32_t>(stack);
      return true;
    }
    case RecordTag::kCounterName:
      r->kind = RecordKind::kCounterName;
      return Uint(&r->value) && Bytes(&r->text);
    case RecordTag::kCount:
      r->kind = RecordKind::kCount;
      return Time(&r->time) && Uint(&r->value) && Uint(&r->size);
    case RecordTag::kMark:
      r->kind = RecordKind::kMark;
      return Time(&r->time) && Bytes(&r->text);
    case RecordTag::kCapture:
      r->kind = RecordKind::kCapture;
      return Time(&r->time) && Uint(&n) && Outcome(n, 2, r) && Bytes(&r->text);
    case RecordTag::kSampling:
      r->kind = RecordKind::kSampling;
      if (!Uint(&r->value)) return false;
      // The shim writes 1 B .. 1 GiB; larger would overflow the 32-bit weights.
      if (r->value == 0 || r->value > (uint64_t{1} << 30)) return Fail("sampling interval out of range");
      return true;
  }
  return Fail(absl::StrFormat("unknown record tag 0x%02x", tag).c_str());
}

}  // namespace allocprof
