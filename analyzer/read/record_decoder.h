// Decodes the records of one chunk's payload (see include/allocprof/trace_format.h).
//
// Every length and count is checked against the payload's end and the format's limits before use,
// so a malformed payload yields an error naming the record, never an out-of-bounds read or a huge
// allocation.
#ifndef ALLOCPROF_ANALYZER_RECORD_DECODER_H_
#define ALLOCPROF_ANALYZER_RECORD_DECODER_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "allocprof/trace_format.h"
#include "read/event.h"
#include "read/trace_file.h"

namespace allocprof {

enum class RecordKind : uint8_t {
  kAlloc,
  kFree,
  kStackDef,
  kThreadStart,
  kThreadName,
  kThreadEnd,
  kModule,
  kProcess,
  kExec,
  kFork,
  kWarning,
  kEnd,
  kQuiet,
  kPoolRegister,
  kRentBegin,
  kRentEnd,
  kPoolReturn,
  kCounterName,
  kCount,
  kMark,
  kCapture,
  kSampling,
  kModuleUnload,
  kSuppressions,
};

const char* RecordKindName(RecordKind kind);

struct Segment {
  uint64_t vaddr, memsz, flags;
};

struct ProcessInfo {
  uint64_t pid = 0, ppid = 0, exec_generation = 0;
  uint64_t start_monotonic_ns = 0, start_realtime_ns = 0;
  uint64_t page_size = 0, llc_bytes = 0;
  uint64_t unwind_mode = 0, max_depth = 0;
  std::string exe, command_line, shim_version;
  uint64_t flags = 0;  // format::kProcess* (0 in traces written before the field existed)
  bool attached() const { return flags & format::kProcessAttached; }
  bool forked() const { return flags & format::kProcessForked; }
};

struct Record {
  RecordKind kind;
  format::EntryPoint entry;  // kAlloc, kFree
  uint64_t time = 0;         // timed records
  uint64_t addr = 0;         // 0 when a compressed reference could not be resolved (lost chunk)
  uint64_t size = 0;
  uint64_t age = 0;       // kFree records written as FREE_AGE: the age they carried
  uint32_t stack_id = 0;  // kAlloc, kStackDef (whose `time` is that of the chunk's next timed
                          // event: the first use of the stack, see ChunkDecoder)
  uint64_t value = 0;     // kThreadStart: tid; kFork: child pid; kQuiet: thread; kModule, kModuleUnload: load bias;
                          // kPoolRegister: slots per bucket; kCounterName, kCount: counter id;
                          // kSampling: interval bytes
  uint32_t pool = 0;      // pool records
  uint64_t granted = 0;   // kRentEnd
  uint8_t outcome = 0;    // kRentEnd, kPoolReturn; kCapture: the format::CaptureState
  // (pool records reuse `size`: requested, returned size, kPoolRegister's max block; kCount: n)
  std::vector<uint64_t> frames;   // kStackDef
  std::string text;               // thread name, module path, exec path, warning
  std::string build_id;           // kModule, raw bytes
  std::vector<Segment> segments;  // kModule
  ProcessInfo process;            // kProcess
};

// The part of a thread's decoding state that spans chunks: the addresses of its recent allocations,
// which FREE_AGE records refer to by age. Detects lost chunks from ChunkHeader::alloc_seq, after
// which ages reaching back past the gap are unresolvable (reported as address 0), never wrong.
class AllocationHistory {
 public:
  void BeginChunk(uint32_t alloc_seq);
  void Add(uint64_t addr, uint32_t size_class, format::Family family) {
    if (__builtin_expect(ring_.empty(), 0)) Grow();
    uint32_t slot = next_seq_ % format::kMaxAge;
    ring_[slot] = (addr & ((uint64_t{1} << 56) - 1)) | (uint64_t{size_class} << 56);
    families_[slot] = static_cast<uint8_t>(family);
    ++next_seq_;
  }
  // False when the allocation is older than the history reaches or lies before a gap.
  bool Resolve(uint64_t age, uint64_t* addr, uint32_t* size_class, format::Family* family) const;

 private:
  void Grow();
  bool started_ = false;
  uint32_t next_seq_ = 0;
  uint32_t valid_from_ = 0;
  uint32_t hole_from_ = 0, hole_to_ = 0;  // allocations of a lost chunk: [hole_from_, hole_to_)
  std::vector<uint64_t> ring_;            // address | size_class << 56, indexed by seq % kMaxAge
  std::vector<uint8_t> families_;         // format::Family of the same allocations
};

class RecordDecoder {
 public:
  // `history` is the chunk's thread's; null for process chunks (they hold no FREE_AGE records).
  RecordDecoder(const Chunk& chunk, AllocationHistory* history);
  // False at the end of the payload or on a malformed record (then error() is set).
  bool Next(Record* r);
  // The same, with allocations and frees decoded straight into *e (its time, addr, size,
  // stack_id, entry and is_free; the other fields are left alone): kEvent. Any other record goes
  // to *r: kRecord. kEnd as Next's false.
  enum class Decoded : uint8_t { kEnd, kEvent, kRecord };
  __attribute__((always_inline)) Decoded NextEvent(Event* e, Record* r) {
    Cursor& tags = col_[static_cast<int>(format::Column::kTags)];
    if (!error_.empty() || tags.p >= tags.end) return Decoded::kEnd;
    uint8_t tag = *tags.p++;
    ++index_;
    if ((tag & 0xc0) == format::kControlTagBase) return DecodeControl(tag, r) ? Decoded::kRecord : Decoded::kEnd;
    return DecodeHeap(tag, e) ? Decoded::kEvent : Decoded::kEnd;
  }
  // No more records than this are left (each has one tag byte).
  size_t MaxRecordsLeft() const {
    const Cursor& tags = col_[static_cast<int>(format::Column::kTags)];
    return static_cast<size_t>(tags.end - tags.p);
  }
  const std::string& error() const { return error_; }

 private:
  // An allocation or free (tag already read) into a Record or an Event.
  template <class Out>
  __attribute__((always_inline)) bool DecodeHeap(uint8_t tag, Out* r);
  struct Cursor {
    const uint8_t* p;
    const uint8_t* end;
  };
  bool Fail(const char* what);
  // Most values fit one or two bytes: those cases stay inline.
  bool Get(format::Column column, uint64_t* v) {
    Cursor& c = col_[static_cast<int>(column)];
    if (__builtin_expect(c.p < c.end && *c.p < 0x80, 1)) {
      *v = *c.p++;
      return true;
    }
    // Most of the rest (sizes, ages, addresses near the last one) take two bytes.
    if (c.end - c.p >= 2 && c.p[1] < 0x80) {
      *v = (c.p[0] & 0x7fu) | (static_cast<uint64_t>(c.p[1]) << 7);
      c.p += 2;
      return true;
    }
    return GetSlow(column, v);
  }
  bool GetSlow(format::Column column, uint64_t* v);
  bool Uint(uint64_t* v) { return Get(format::Column::kControl, v); }
  bool Time(uint64_t* t) {
    uint64_t dq;
    if (!Get(format::Column::kTimes, &dq)) return false;
    quanta_ += dq;
    *t = chunk_.header.base_time_ns + quanta_ * format::kTimeQuantumNs;
    return true;
  }
  bool Bytes(std::string* out);
  bool DecodeControl(uint8_t tag, Record* r);
  bool Pool(uint64_t v, Record* r) {
    if (v > UINT32_MAX) return Fail("pool id out of range");
    r->pool = static_cast<uint32_t>(v);
    return true;
  }
  bool Outcome(uint64_t v, uint64_t max, Record* r) {
    if (v > max) return Fail("unknown pool outcome");
    r->outcome = static_cast<uint8_t>(v);
    return true;
  }

  const Chunk& chunk_;
  AllocationHistory* history_;
  Cursor col_[format::kColumnCount] = {};  // version 3 payloads leave kAges empty
  uint64_t quanta_ = 0;
  uint64_t prev_alloc_addr_ = 0;
  uint64_t prev_free_addr_ = 0;
  format::HintHistory hints_;
  format::FreeEntryPredictor free_entries_;
  format::StackPredictor stacks_;
  // Version 4 on: stack codes and an ages column (before, stack ids as they are, ages among hints).
  const bool predicted_codes_;
  bool hints_unknown_ = false;       // a FREE_AGE could not be resolved: later hints cannot be either
  bool prev_alloc_unknown_ = false;  // an allocation's address was unknown: later explicit ones too
  uint32_t index_ = 0;
  std::string error_;
};

inline bool AllocationHistory::Resolve(uint64_t age, uint64_t* addr, uint32_t* size_class,
                                       format::Family* family) const {
  if (age == 0 || age > format::kMaxAge || ring_.empty()) return false;
  uint32_t target = next_seq_ - static_cast<uint32_t>(age);
  if (static_cast<int32_t>(target - valid_from_) < 0) return false;
  if (target - hole_from_ < hole_to_ - hole_from_) return false;  // allocated in a lost chunk
  uint64_t v = ring_[target % format::kMaxAge];
  *addr = v & ((uint64_t{1} << 56) - 1);
  *size_class = static_cast<uint32_t>((v >> 56) & 0x7f);
  *family = static_cast<format::Family>(families_[target % format::kMaxAge]);
  return true;
}

namespace record_decoder_internal {

// What differs between decoding an allocation or free into a Record and into an Event.
inline void SetFree(Record* r, bool is_free) { r->kind = is_free ? RecordKind::kFree : RecordKind::kAlloc; }
inline void SetFree(Event* e, bool is_free) { e->is_free = is_free; }
inline void SetAge(Record* r, uint64_t age) { r->age = age; }
inline void SetAge(Event*, uint64_t) {}

}  // namespace record_decoder_internal

// In the header, inlined into the decoding loops: it runs for every allocation and free of the
// trace, and the call with its saved registers cost ~15 instructions per event.
template <class Out>
__attribute__((always_inline)) inline bool RecordDecoder::DecodeHeap(uint8_t tag, Out* r) {
  using record_decoder_internal::SetAge;
  using record_decoder_internal::SetFree;
  uint8_t kind = tag & 0xc0;
  uint8_t entry = tag & 0x3f;
  if (entry >= static_cast<uint8_t>(format::EntryPoint::kCount) &&
      !(kind == format::kFreeAgeTagBase && entry == format::kPredictedFreeEntry)) {
    return Fail("unknown entry point");
  }
  r->entry = static_cast<format::EntryPoint>(entry);
  r->stack_id = 0;
  r->size = 0;
  SetAge(r, 0);
  if (kind == format::kAllocTagBase) {
    SetFree(r, false);
    uint64_t hint, stack;
    if (!(Time(&r->time) && Get(format::Column::kSizes, &r->size) && Get(format::Column::kHints, &hint))) return false;
    uint32_t cls = format::SizeClass(r->size);
    if (hint == 0) {
      uint64_t zz;
      if (!Get(format::Column::kAddresses, &zz)) return false;
      // Relative to the previous allocation's address: unknown once that one was.
      r->addr = prev_alloc_unknown_ ? 0 : prev_alloc_addr_ + static_cast<uint64_t>(format::UnZigZag(zz));
    } else if (hints_unknown_) {
      r->addr = 0;
    } else {
      if (hint > hints_.count[cls]) return Fail("allocation hint out of range");
      r->addr = hints_.Take(cls, static_cast<uint32_t>(hint));  // 0: a block whose address was lost
    }
    if (r->addr) {
      prev_alloc_addr_ = r->addr;
    } else {
      prev_alloc_unknown_ = true;
    }
    if (!Get(format::Column::kStacks, &stack)) return false;
    if (!predicted_codes_) {
      if (stack > UINT32_MAX) return Fail("stack id out of range");
      r->stack_id = static_cast<uint32_t>(stack);
    } else if (!stacks_.Decode(r->entry, stack, &r->stack_id)) {
      return Fail("stack id out of range");
    }
    if (history_) history_->Add(r->addr, cls, format::FamilyOf(r->entry));
    return true;
  }
  SetFree(r, true);
  if (kind == format::kFreeTagBase) {
    uint64_t zz;
    if (!(Time(&r->time) && Get(format::Column::kAddresses, &zz))) return false;
    r->addr = prev_free_addr_ + static_cast<uint64_t>(format::UnZigZag(zz));
    prev_free_addr_ = r->addr;
    return true;
  }
  // FREE_AGE
  // Before version 4 the ages shared the hints column.
  uint64_t age;
  if (!(Time(&r->time) && Get(predicted_codes_ ? format::Column::kAges : format::Column::kHints, &age))) return false;
  SetAge(r, age);
  uint32_t cls = 0;
  format::Family family;
  // A block whose own address was lost (0 in the history) still has a known size class and family:
  // the writer pushed its address as a hint, a placeholder keeps the later hints in step.
  if (history_ && !hints_unknown_ && history_->Resolve(age, &r->addr, &cls, &family)) {
    hints_.Push(cls, r->addr);
    uint8_t e = free_entries_.Decode(family, entry);
    if (e == format::FreeEntryPredictor::kUnknownEntry)
      return Fail("predicted free entry point with nothing to predict from");
    r->entry = static_cast<format::EntryPoint>(e);
  } else {
    // The writer pushed a hint and taught its predictor something we cannot mirror, so the rest
    // of the chunk's FREE_AGE records stay unresolved too; a predicted entry point then has
    // nothing to be decoded from, and kFree stands in for it.
    r->addr = 0;
    hints_unknown_ = true;
    if (entry == format::kPredictedFreeEntry) r->entry = format::EntryPoint::kFree;
  }
  return true;
}

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_RECORD_DECODER_H_
