// A compact form for events that wait in the merger: ~9 bytes per event instead of sizeof(Event).
//
// The merger holds every event until each live thread has promised that nothing older follows; an
// idle thread promises only once per flush interval, so on a busy trace ~1.3 M events wait (see
// bench/HISTORY.md). They are held packed and unpacked a slice at a time when the merge reaches them.
//
// Events go in blocks of up to kBlock. A block opens with a 3-byte header giving the width (0..8
// bytes) of each of its four fields, the same for all its events; each event is then an entry
// byte, the four fields little-endian at those widths, and, rarely, an extra block:
//
//   header:   byte 0  bits 0-3 bytes of the time delta, bits 4-7 bytes of the address XOR
//             byte 1  bits 0-3 bytes of the size, bits 4-7 bytes of the stack id
//             byte 2  bits 0-5 the time deltas' shift (their common trailing zero bits: times are
//                     quanta), bit 7 some event of the block has an extra block
//   entry:    bits 0-5 entry point, bit 6 is_free, bit 7 an extra block follows
//   fields:   time delta >> shift (from the previous event, the first from itself), address XOR
//             the previous event's address, size, stack id
//   extra:    thread u32, entry u8, kind u8, outcome u8, pool u32, weight u32 (15 bytes)
//
// Widths per block, not per event: the packer finds them in one pass over the block's events and
// writes every event at the same offsets, the unpacker reads them so, with no per-event lengths to
// compute or decode (bench/HISTORY.md, session 10). A block's widest value sets its width, so an
// outlier costs at most one block.
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
  static constexpr size_t kBlock = 256;  // events per block (the last one may hold fewer)
  std::vector<uint8_t> bytes;            // the encoded events, then kSlack zero bytes
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
  // What the first pass learns of each block: the second writes the events straight into the
  // output, sized exactly.
  struct Block {
    uint32_t widths, shift, extras;
  };
  std::vector<Block> blocks_;
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
    block_left_ = 0;
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
  // The current block: events left in it, its field widths and the time deltas' shift.
  size_t block_left_ = 0;
  uint32_t widths_ = 0, shift_ = 0;
  bool block_extras_ = false;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_PACKED_EVENTS_H_
