// A compact form for events that wait in the merger: ~9 bytes per event instead of sizeof(Event).
//
// The merger holds every event until each live thread has promised that nothing older follows; an
// idle thread promises only once per flush interval, so on a busy trace ~1.3 M events wait (see
// bench/HISTORY.md). They are held packed and unpacked a slice at a time when the merge reaches them.
//
// Each event is a 2-byte control word, an entry byte, then up to four little-endian fields of
// 0..8 bytes (zero bytes when the value is 0), then, rarely, an extra block:
//
//   control:  bits 0-3   bytes of the time delta (from the previous event, the first from itself)
//             bits 4-7   bytes of the address XOR the previous event's address
//             bits 8-11  bytes of the size
//             bits 12-14 bytes of the stack id
//             bit 15     an extra block follows
//   entry:    bits 0-5   entry point, bit 6 is_free
//   extra:    thread u32, entry u8, kind u8, outcome u8, pool u32, weight u32 (15 bytes)
//
// Events without the extra block are heap events (kind kHeap, outcome 0, pool 0, weight 1) of the
// batch's thread: every event of a full trace but the pool hooks'. Fields are read with one
// unaligned 8-byte load and a mask, so the buffer ends with kSlack zero bytes.
//
// Thread-safety: a PackedEvents is a value; an EventPacker or EventUnpacker belongs to one thread.
#ifndef ALLOCPROF_ANALYZER_PACKED_EVENTS_H_
#define ALLOCPROF_ANALYZER_PACKED_EVENTS_H_

#include <stdint.h>
#include <string.h>

#include <vector>

#include "read/event.h"

namespace allocprof {

struct PackedEvents {
  static constexpr size_t kSlack = 8;
  std::vector<uint8_t> bytes;  // the encoded events, then kSlack zero bytes
  size_t count = 0;
  uint32_t thread = 0;  // of every event without an extra block
  uint64_t first_time = 0, last_time = 0;
  bool empty() const { return count == 0; }
};

class EventPacker {
 public:
  // Encodes `n` events into *out (reusing its capacity); false, *out untouched, when they are not
  // sorted by time.
  bool Pack(const Event* events, size_t n, PackedEvents* out);

 private:
  std::vector<uint8_t> scratch_;  // worst-case sized; only the used part is copied out
};

// Reads a PackedEvents from the start, a slice at a time. The PackedEvents must outlive the reads
// and stay unmoved in memory (moving the vector that holds it is fine: its buffer does not move).
class EventUnpacker {
 public:
  void Reset(const PackedEvents& packed) {
    p_ = packed.bytes.data();
    left_ = packed.count;
    thread_ = packed.thread;
    time_ = packed.first_time;
    addr_ = 0;
  }
  size_t remaining() const { return left_; }
  // Decodes up to `max` events into out; returns how many. *non_heap: how many of them are not
  // kHeap events.
  size_t Next(Event* out, size_t max, size_t* non_heap = nullptr);

 private:
  const uint8_t* p_ = nullptr;
  size_t left_ = 0;
  uint32_t thread_ = 0;
  uint64_t time_ = 0, addr_ = 0;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_PACKED_EVENTS_H_
