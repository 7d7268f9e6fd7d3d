// Appends trace records to a caller-owned buffer. The caller guarantees room: see
// kMaxEventRecord and StackDefBound().
#ifndef ALLOCPROF_SHIM_RECORD_ENCODER_H_
#define ALLOCPROF_SHIM_RECORD_ENCODER_H_

#include <stdint.h>
#include <string.h>

#include "allocprof/trace_format.h"

namespace allocprof::shim {

inline constexpr uint32_t kMaxEventRecord = 1 + 4 * 10;
inline constexpr uint32_t StackDefBound(uint32_t depth) { return 1 + 3 * 10 + depth * 10; }

struct RecordEncoder {
  uint8_t* cursor;
  uint64_t last_time;  // delta base for the next timed record
  uint64_t prev_addr;  // delta base for the next address
  uint32_t records;

  void Tag(format::RecordTag tag) {
    *cursor++ = static_cast<uint8_t>(tag);
    ++records;
  }
  void Uint(uint64_t v) { cursor = format::PutVarint(cursor, v); }
  void Time(uint64_t t) {
    // A thread's clock never runs backwards, but a record built from another thread's time (the
    // ticker) could be a hair older; clamp rather than wrap.
    Uint(t > last_time ? t - last_time : 0);
    if (t > last_time) last_time = t;
  }
  void Bytes(const void* data, uint32_t n) {
    Uint(n);
    memcpy(cursor, data, n);
    cursor += n;
  }
  void String(const char* s, uint32_t max) {
    uint32_t n = static_cast<uint32_t>(strnlen(s, max));
    Bytes(s, n);
  }

  void Alloc(format::EntryPoint entry, uint64_t time, uint64_t addr, uint64_t size, uint32_t stack_id) {
    *cursor++ = static_cast<uint8_t>(format::kAllocTagBase | static_cast<uint8_t>(entry));
    ++records;
    Time(time);
    Uint(size);
    Uint(format::ZigZag(static_cast<int64_t>(addr - prev_addr)));
    prev_addr = addr;
    Uint(stack_id);
  }
  void Free(format::EntryPoint entry, uint64_t time, uint64_t addr) {
    *cursor++ = static_cast<uint8_t>(format::kFreeTagBase | static_cast<uint8_t>(entry));
    ++records;
    Time(time);
    Uint(format::ZigZag(static_cast<int64_t>(addr - prev_addr)));
    prev_addr = addr;
  }
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
};

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_RECORD_ENCODER_H_
