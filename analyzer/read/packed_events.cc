#include "read/packed_events.h"

#include <stddef.h>

namespace allocprof {
namespace {

constexpr size_t kExtraBytes = 15;
constexpr size_t kBlockHeadBytes = 3;
constexpr size_t kMaxEventBytes = 1 + 8 + 8 + 8 + 4 + kExtraBytes;
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

}  // namespace

bool EventPacker::Pack(const Event* events, size_t n, PackedEvents* out) {
  // Put() writes 8 bytes wherever a field starts, so the last one may reach 8 bytes past the end.
  size_t worst = n * kMaxEventBytes + (n / PackedEvents::kBlock + 1) * kBlockHeadBytes + 8;
  if (scratch_.size() < worst) scratch_.resize(worst);
  uint8_t* const start = scratch_.data();
  uint8_t* p = start;
  const uint32_t thread = n ? events[0].thread : 0;
  uint64_t time = n ? events[0].time : 0, addr = 0;
  for (size_t b = 0; b < n; b += PackedEvents::kBlock) {
    const Event* const block = events + b;
    const size_t m = n - b < PackedEvents::kBlock ? n - b : PackedEvents::kBlock;
    // Pass 1: the widest value of each field, and whether the times are sorted.
    uint64_t any_dt = 0, any_dx = 0, any_size = 0;
    uint32_t any_stack = 0;
    bool unsorted = false;
    uint64_t t = time, a = addr;
    for (size_t i = 0; i < m; ++i) {
      const Event& e = block[i];
      unsorted |= e.time < t;
      any_dt |= e.time - t;
      any_dx |= e.addr ^ a;
      any_size |= e.size;
      any_stack |= e.stack_id;
      t = e.time;
      a = e.addr;
    }
    if (unsorted) return false;
    const uint32_t shift = any_dt ? static_cast<uint32_t>(__builtin_ctzll(any_dt)) : 0;
    const uint32_t widths =
        ByteLength(any_dt >> shift) | ByteLength(any_dx) << 4 | ByteLength(any_size) << 8 | ByteLength(any_stack) << 12;
    p[0] = static_cast<uint8_t>(widths);
    p[1] = static_cast<uint8_t>(widths >> 8);
    p[2] = static_cast<uint8_t>(shift);
    p += kBlockHeadBytes;
    // Pass 2: every event at the same offsets.
    const Offsets at(widths);
    for (size_t i = 0; i < m; ++i) {
      const Event& e = block[i];
      uint32_t flags;  // entry, is_free, kind, outcome
      memcpy(&flags, &e.entry, 4);
      bool extra = (e.thread ^ thread) | (flags >> 16) | e.pool | (e.weight ^ 1) | ((flags & 0xff) > kMaxEntry);
      p[0] = static_cast<uint8_t>((flags & kMaxEntry) | ((flags >> 2) & kFreeBit) | (extra ? kExtraBit : 0));
      Put(p + 1, (e.time - time) >> shift);
      Put(p + at.addr, e.addr ^ addr);
      Put(p + at.size, e.size);
      Put(p + at.stack, e.stack_id);
      time = e.time;
      addr = e.addr;
      p += at.end;
      if (__builtin_expect(extra, 0)) {
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
  size_t used = static_cast<size_t>(p - start);
  // Copied, not resized and filled: resize() would zero the whole buffer first. Reserved exactly,
  // or the second insert could double the capacity.
  out->bytes.clear();
  out->bytes.reserve(used + PackedEvents::kSlack);
  out->bytes.insert(out->bytes.end(), start, p);
  out->bytes.insert(out->bytes.end(), PackedEvents::kSlack, 0);
  out->count = n;
  out->thread = thread;
  out->first_time = n ? events[0].time : 0;
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
      shift_ = p[2];
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
      if (__builtin_expect(entry_byte & kExtraBit, 0)) {
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
