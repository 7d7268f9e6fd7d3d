#include "read/packed_events.h"

#include <stddef.h>

#include <type_traits>

namespace allocprof {
namespace {

constexpr size_t kExtraBytes = 15;
constexpr size_t kBlockHeadBytes = 3;
constexpr uint32_t kBlockExtrasBit = 0x80;  // in the header's third byte
constexpr uint32_t kMaxEntry = 0x3f;
constexpr uint32_t kFreeBit = 0x40;   // in the entry byte
constexpr uint32_t kExtraBit = 0x80;  // in the entry byte
static_assert(offsetof(Event, is_free) == offsetof(Event, entry) + 1 &&
                  offsetof(Event, kind) == offsetof(Event, entry) + 2 &&
                  offsetof(Event, outcome) == offsetof(Event, entry) + 3,
              "entry, is_free, kind and outcome are one 4-byte word");

constexpr uint64_t kMask[9] = {
    0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ~uint64_t{0}};

// Bytes needed for v, 0 for 0.
inline uint32_t ByteLength(uint64_t v) {
  uint32_t top_bit = static_cast<uint32_t>(__builtin_clzll(v | 1)) ^ 63;
  return ((top_bit + 8) >> 3) - (v == 0);
}

// Writes all 8 bytes (the buffer has room); the next field overwrites what lies past its width.
inline void Put(uint8_t* p, uint64_t v) { memcpy(p, &v, 8); }

inline uint64_t Get(const uint8_t* p, uint64_t mask) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v & mask;
}

// Field offsets within an event of a block, after its entry byte.
struct Offsets {
  uint32_t addr, size, stack, end;
  explicit Offsets(uint32_t widths)
      : addr(1 + (widths & 15)),
        size(addr + ((widths >> 4) & 15)),
        stack(size + ((widths >> 8) & 15)),
        end(stack + (widths >> 12)) {}
};

// Whether e needs the extra block: another thread, a kind, outcome, pool or weight other than a
// plain heap event's, or an entry point beyond 6 bits. Two 8-byte words: thread with entry,
// is_free, kind and outcome, then pool with weight.
inline bool NeedsExtra(const Event& e, uint32_t thread) {
  static_assert(offsetof(Event, entry) == offsetof(Event, thread) + 4 &&
                    offsetof(Event, pool) == offsetof(Event, thread) + 8 &&
                    offsetof(Event, weight) == offsetof(Event, thread) + 12,
                "thread, entry..outcome, pool and weight are two 8-byte words");
  uint64_t w0, w1;
  memcpy(&w0, &e.thread, 8);
  memcpy(&w1, &e.pool, 8);
  constexpr uint64_t kPlain = uint64_t{kMaxEntry} << 32 | uint64_t{1} << 40;  // any entry <= 63, is_free
  return ((w0 ^ thread) & ~kPlain) | (w1 ^ uint64_t{1} << 32);
}

// The entry byte without the extra bit: entry point and is_free.
inline uint8_t EntryByte(const Event& e) {
  return static_cast<uint8_t>((static_cast<uint32_t>(e.entry) & kMaxEntry) | (e.is_free ? kFreeBit : 0));
}

}  // namespace

bool EventPacker::Pack(const Event* events, size_t n, PackedEvents* out) {
  constexpr size_t kBlock = PackedEvents::kBlock;
  const uint32_t thread = n ? events[0].thread : 0;
  const uint64_t first_time = n ? events[0].time : 0;
  // Pass 1, every block: the widest value of each field, the events that need an extra block,
  // and whether the times are sorted; so the size of the whole.
  blocks_.resize((n + kBlock - 1) / kBlock);
  size_t total = 0;
  uint64_t time = first_time, addr = 0;
  for (size_t k = 0; k < blocks_.size(); ++k) {
    const Event* const block = events + k * kBlock;
    const size_t m = n - k * kBlock < kBlock ? n - k * kBlock : kBlock;
    uint64_t any_dt = 0, any_dx = 0, any_size = 0;
    uint32_t any_stack = 0, extras = 0;
    bool unsorted = false;
    for (size_t i = 0; i < m; ++i) {
      const Event& e = block[i];
      unsorted |= e.time < time;
      any_dt |= e.time - time;
      any_dx |= e.addr ^ addr;
      any_size |= e.size;
      any_stack |= e.stack_id;
      extras += NeedsExtra(e, thread);
      time = e.time;
      addr = e.addr;
    }
    if (unsorted) return false;
    const uint32_t shift = any_dt ? static_cast<uint32_t>(__builtin_ctzll(any_dt)) : 0;
    const uint32_t widths =
        ByteLength(any_dt >> shift) | ByteLength(any_dx) << 4 | ByteLength(any_size) << 8 | ByteLength(any_stack) << 12;
    blocks_[k] = Block{widths, shift, extras};
    total += kBlockHeadBytes + m * Offsets(widths).end + extras * kExtraBytes;
  }
  // Sized exactly (resize() on the cleared vector allocates no more than asked), written in place.
  out->bytes.clear();
  out->bytes.resize(total + PackedEvents::kSlack);
  uint8_t* p = out->bytes.data();
  // Pass 2: every event of a block at the same offsets.
  time = first_time;
  addr = 0;
  for (size_t k = 0; k < blocks_.size(); ++k) {
    const Event* const block = events + k * kBlock;
    const size_t m = n - k * kBlock < kBlock ? n - k * kBlock : kBlock;
    const Block info = blocks_[k];
    p[0] = static_cast<uint8_t>(info.widths);
    p[1] = static_cast<uint8_t>(info.widths >> 8);
    p[2] = static_cast<uint8_t>(info.shift | (info.extras ? kBlockExtrasBit : 0));
    p += kBlockHeadBytes;
    const Offsets at(info.widths);
    const uint32_t shift = info.shift;
    auto put_fields = [&](const Event& e) {
      Put(p + 1, (e.time - time) >> shift);
      Put(p + at.addr, e.addr ^ addr);
      Put(p + at.size, e.size);
      Put(p + at.stack, e.stack_id);
      time = e.time;
      addr = e.addr;
      p += at.end;
    };
    if (info.extras == 0) {  // a full trace's blocks
      for (size_t i = 0; i < m; ++i) {
        p[0] = EntryByte(block[i]);
        put_fields(block[i]);
      }
      continue;
    }
    for (size_t i = 0; i < m; ++i) {
      const Event& e = block[i];
      bool extra = NeedsExtra(e, thread);
      p[0] = static_cast<uint8_t>(EntryByte(e) | (extra ? kExtraBit : 0));
      put_fields(e);
      if (extra) {
        memcpy(p, &e.thread, 4);
        memcpy(p + 4, &e.entry, 1);
        memcpy(p + 5, &e.kind, 1);
        p[6] = e.outcome;
        memcpy(p + 7, &e.pool, 4);
        memcpy(p + 11, &e.weight, 4);
        p += kExtraBytes;
      }
    }
  }
  // The last Put() wrote up to 8 bytes past the end: the slack is zero again.
  memset(p, 0, PackedEvents::kSlack);
  out->count = n;
  out->thread = thread;
  out->first_time = first_time;
  out->last_time = n ? events[n - 1].time : 0;
  return true;
}

size_t EventUnpacker::Next(Event* out, size_t max, size_t* non_heap) {
  const size_t n = max < left_ ? max : left_;
  size_t others = 0;
  const uint8_t* p = p_;
  uint64_t time = time_, addr = addr_;
  const uint32_t thread = thread_;
  for (size_t done = 0; done < n;) {
    if (block_left_ == 0) {
      widths_ = p[0] | static_cast<uint32_t>(p[1]) << 8;
      shift_ = p[2] & 63;
      block_extras_ = (p[2] & kBlockExtrasBit) != 0;
      p += kBlockHeadBytes;
      size_t events_left = left_ - done;
      block_left_ = events_left < PackedEvents::kBlock ? events_left : PackedEvents::kBlock;
    }
    const size_t m = block_left_ < n - done ? block_left_ : n - done;
    const Offsets at(widths_);
    const uint64_t mt = kMask[widths_ & 15], ma = kMask[(widths_ >> 4) & 15];
    const uint64_t ms = kMask[(widths_ >> 8) & 15], mk = kMask[widths_ >> 12];
    const uint32_t shift = shift_;
    Event* const block = out + done;
    // Blocks without extra events (every block of a full trace) skip the per-event test.
    auto unpack = [&](auto may_have_extras) {
      for (size_t i = 0; i < m; ++i) {
        uint32_t entry_byte = p[0];
        time += Get(p + 1, mt) << shift;
        addr ^= Get(p + at.addr, ma);
        Event& e = block[i];
        e.time = time;
        e.addr = addr;
        e.size = Get(p + at.size, ms);
        e.stack_id = static_cast<uint32_t>(Get(p + at.stack, mk));
        p += at.end;
        if (may_have_extras && (entry_byte & kExtraBit)) {
          memcpy(&e.thread, p, 4);
          memcpy(&e.entry, p + 4, 1);
          e.is_free = (entry_byte & kFreeBit) != 0;
          memcpy(&e.kind, p + 5, 1);
          e.outcome = p[6];
          memcpy(&e.pool, p + 7, 4);
          memcpy(&e.weight, p + 11, 4);
          p += kExtraBytes;
          others += e.kind != EventKind::kHeap;
        } else {
          uint32_t flags = (entry_byte & kMaxEntry) | (entry_byte & kFreeBit) << 2;  // kind kHeap, outcome 0
          memcpy(&e.entry, &flags, 4);
          e.thread = thread;
          e.pool = 0;
          e.weight = 1;
        }
      }
    };
    if (block_extras_)
      unpack(std::true_type{});
    else
      unpack(std::false_type{});
    block_left_ -= m;
    done += m;
  }
  p_ = p;
  time_ = time;
  addr_ = addr;
  left_ -= n;
  if (non_heap) *non_heap = others;
  return n;
}

}  // namespace allocprof
