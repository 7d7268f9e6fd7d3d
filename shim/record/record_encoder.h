// Encodes trace records into the columns of one chunk (see trace_format.h for the layout) and
// assembles the chunk payload. The caller guarantees room: call NeedsFlush() before an event and
// ControlRoom() before a control record.
#ifndef ALLOCPROF_SHIM_RECORD_ENCODER_H_
#define ALLOCPROF_SHIM_RECORD_ENCODER_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "allocprof/trace_format.h"

namespace allocprof::shim {

inline constexpr uint32_t StackDefBound(uint32_t depth) { return 1 + 3 * 10 + depth * 10; }
// Most bytes one event adds to any single column.
inline constexpr uint32_t kMaxEventColumnBytes = 11;

struct ColumnSpan {
  uint8_t* begin;
  uint8_t* cursor;
  uint8_t* end;
};

class RecordEncoder {
 public:
  // Splits [memory, memory + bytes) among the columns, `control_bytes` of it for the control column.
  void Init(uint8_t* memory, size_t bytes, size_t control_bytes) {
    // Shares of the event columns, from the raw bytes an event puts in each on churn (per event:
    // tags 1.0, times 1.0, sizes 0.94, addresses 0.50, hints 0.50, stacks 0.5, ages 1.0): the first
    // full column ends the chunk, so balanced shares make chunks longer and compress better.
    static constexpr uint32_t kShare[format::kColumnCount] = {18, 18, 17, 10, 10, 9, 18, 0};
    size_t rest = bytes - control_bytes;
    uint8_t* p = memory;
    for (int c = 0; c < format::kColumnCount; ++c) {
      size_t n = c == static_cast<int>(format::Column::kControl) ? control_bytes : rest * kShare[c] / 100;
      col_[c] = ColumnSpan{p, p, p + n};
      p += n;
    }
  }

  // Empties the chunk; its times count from base_time, its allocations from alloc_seq.
  void Start(uint64_t base_time, uint32_t alloc_seq) {
    for (auto& c : col_) c.cursor = c.begin;
    base_time_ = base_time;
    last_quanta_ = 0;
    prev_alloc_addr_ = prev_free_addr_ = 0;
    records_ = 0;
    fits_until_ = 0;
    alloc_seq_start_ = alloc_seq;
    hints_.Reset();
    free_entries_.Reset();
    stacks_.Reset();
  }

  uint32_t records() const { return records_; }
  uint64_t base_time() const { return base_time_; }
  uint32_t alloc_seq_start() const { return alloc_seq_start_; }

  // True when some event column has less than kMaxEventColumnBytes left. Runs before every event,
  // so it checks the columns only once per batch of records that certainly fit (each record adds at
  // most kMaxEventColumnBytes to any event column).
  bool NeedsFlush() const {
    if (__builtin_expect(records_ < fits_until_, 1)) return false;
    ptrdiff_t least = PTRDIFF_MAX;
    for (int c = 0; c < static_cast<int>(format::Column::kControl); ++c) {
      ptrdiff_t room = col_[c].end - col_[c].cursor;
      if (room < least) least = room;
    }
    ptrdiff_t fit = least / static_cast<ptrdiff_t>(kMaxEventColumnBytes);
    fits_until_ = records_ + static_cast<uint32_t>(fit > UINT32_MAX / 2 ? UINT32_MAX / 2 : fit);
    return fit == 0;
  }
  bool ControlRoom(size_t bytes) const {
    const ColumnSpan& c = col_[static_cast<int>(format::Column::kControl)];
    return static_cast<size_t>(c.end - c.cursor) >= bytes && !NeedsFlush();
  }

  // ---- events ----
  // Returns the allocation's format::SizeClass (the free cache keeps it for the free).
  uint32_t Alloc(format::EntryPoint entry, uint64_t time, uint64_t addr, uint64_t size, uint32_t stack_id) {
    TagByte(static_cast<uint8_t>(format::kAllocTagBase | static_cast<uint8_t>(entry)));
    Time(time);
    Put(format::Column::kSizes, size);
    uint32_t cls = format::SizeClass(size);
    uint32_t hint = hints_.Find(cls, addr);
    Put(format::Column::kHints, hint);
    if (hint) {
      hints_.Take(cls, hint);
    } else {
      Put(format::Column::kAddresses, format::ZigZag(static_cast<int64_t>(addr - prev_alloc_addr_)));
    }
    prev_alloc_addr_ = addr;
    Put(format::Column::kStacks, stacks_.Encode(entry, stack_id));
    return cls;
  }
  void Free(format::EntryPoint entry, uint64_t time, uint64_t addr) {
    TagByte(static_cast<uint8_t>(format::kFreeTagBase | static_cast<uint8_t>(entry)));
    Time(time);
    Put(format::Column::kAddresses, format::ZigZag(static_cast<int64_t>(addr - prev_free_addr_)));
    prev_free_addr_ = addr;
  }
  // A free of the address of this thread's allocation `age` allocations ago (size class `cls`,
  // allocated through an entry point of `family`).
  void FreeAge(format::EntryPoint entry, uint64_t time, uint32_t age, uint32_t cls, format::Family family,
               uint64_t addr) {
    TagByte(static_cast<uint8_t>(format::kFreeAgeTagBase | free_entries_.Encode(family, entry)));
    Time(time);
    Put(format::Column::kAges, age);
    hints_.Push(cls, addr);
  }

  // ---- control records ----
  void Tag(format::RecordTag tag) { TagByte(static_cast<uint8_t>(tag)); }
  void Time(uint64_t t) {
    uint64_t q = t > base_time_ ? (t - base_time_) / format::kTimeQuantumNs : 0;
    // A record built from another thread's clock reading (the ticker) may be a hair older.
    Put(format::Column::kTimes, q > last_quanta_ ? q - last_quanta_ : 0);
    if (q > last_quanta_) last_quanta_ = q;
  }
  void Uint(uint64_t v) { Put(format::Column::kControl, v); }
  void Bytes(const void* data, uint32_t n) {
    Uint(n);
    ColumnSpan& c = col_[static_cast<int>(format::Column::kControl)];
    memcpy(c.cursor, data, n);
    c.cursor += n;
  }
  void String(const char* s, uint32_t max) { Bytes(s, static_cast<uint32_t>(strnlen(s, max))); }
  void StackDef(uint32_t id, const uintptr_t* frames, uint32_t depth) {
    Tag(format::RecordTag::kStackDef);
    Uint(id);
    Uint(depth);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < depth; ++i) {
      Uint(i == 0 ? frames[0] : format::ZigZag(static_cast<int64_t>(frames[i] - prev)));
      prev = frames[i];
    }
  }

  // ---- assembly (ColumnsTable and the functions after it, over this encoder's columns) ----
  size_t WriteTable(uint8_t* out) const;
  const ColumnSpan& column(int c) const { return col_[c]; }
  size_t PayloadSize() const;
  size_t CopyPayload(uint8_t* out) const;

 private:
  void TagByte(uint8_t tag) {
    *col_[0].cursor++ = tag;
    ++records_;
  }
  void Put(format::Column c, uint64_t v) {
    ColumnSpan& s = col_[static_cast<int>(c)];
    s.cursor = format::PutVarint(s.cursor, v);
  }

  ColumnSpan col_[format::kColumnCount];
  uint64_t base_time_ = 0;
  uint64_t last_quanta_ = 0;
  uint64_t prev_alloc_addr_ = 0;
  uint64_t prev_free_addr_ = 0;
  uint32_t records_ = 0;
  mutable uint32_t fits_until_ = 0;  // NeedsFlush() is false while records_ is below this
  uint32_t alloc_seq_start_ = 0;
  format::HintHistory hints_;
  format::FreeEntryPredictor free_entries_;
  format::StackPredictor stacks_;
};

// A chunk payload from its columns (`cols`, format::kColumnCount of them, as an encoder filled
// them; a sealed chunk's outlive its encoder's). The section table: one uvarint size per column;
// returns its length (at most 70 bytes).
inline size_t ColumnsTable(const ColumnSpan* cols, uint8_t* out) {
  uint8_t* p = out;
  for (int c = 0; c < format::kColumnCount; ++c) {
    p = format::PutVarint(p, static_cast<uint64_t>(cols[c].cursor - cols[c].begin));
  }
  return static_cast<size_t>(p - out);
}
inline size_t ColumnsPayloadSize(const ColumnSpan* cols) {
  uint8_t table[80];
  size_t n = ColumnsTable(cols, table);
  for (int c = 0; c < format::kColumnCount; ++c) n += static_cast<size_t>(cols[c].cursor - cols[c].begin);
  return n;
}
// Writes the whole payload contiguously; `out` holds ColumnsPayloadSize(cols) bytes.
inline size_t CopyColumnsPayload(const ColumnSpan* cols, uint8_t* out) {
  uint8_t* p = out + ColumnsTable(cols, out);
  for (int c = 0; c < format::kColumnCount; ++c) {
    size_t n = static_cast<size_t>(cols[c].cursor - cols[c].begin);
    memcpy(p, cols[c].begin, n);
    p += n;
  }
  return static_cast<size_t>(p - out);
}

inline size_t RecordEncoder::WriteTable(uint8_t* out) const { return ColumnsTable(col_, out); }
inline size_t RecordEncoder::PayloadSize() const { return ColumnsPayloadSize(col_); }
inline size_t RecordEncoder::CopyPayload(uint8_t* out) const { return CopyColumnsPayload(col_, out); }

// A small encoder with its own storage, for chunks of a few control records or late events.
template <size_t kBytes>
struct SmallEncoder {
  uint8_t memory[kBytes];
  RecordEncoder enc;
  explicit SmallEncoder(uint64_t base_time) {
    enc.Init(memory, kBytes, kBytes / 2);
    enc.Start(base_time, 0);
  }
};

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_RECORD_ENCODER_H_
