#include "read/packed_events.h"

#include <stddef.h>

namespace allocprof {
namespace {

constexpr size_t kExtraBytes = 15;
constexpr size_t kHeadBytes = 3;  // control word, entry byte
constexpr size_t kMaxEventBytes = kHeadBytes + 8 + 8 + 8 + 4 + kExtraBytes;
constexpr uint32_t kExtraBit = 1u << 15;
constexpr uint32_t kMaxEntry = 0x3f;
constexpr uint32_t kFreeBit = 0x40;  // in the entry byte
static_assert(offsetof(Event, is_free) == offsetof(Event, entry) + 1 &&
                  offsetof(Event, kind) == offsetof(Event, entry) + 2 &&
                  offsetof(Event, outcome) == offsetof(Event, entry) + 3,
              "entry, is_free, kind and outcome are one 4-byte word");

constexpr uint64_t kMask[9] = {
    0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ~uint64_t{0}};

// Bytes needed for v, 0 for 0; without a branch (zero sizes and stacks of frees are not predictable).
inline uint32_t ByteLength(uint64_t v) {
  uint32_t top_bit = static_cast<uint32_t>(__builtin_clzll(v | 1)) ^ 63;
  return ((top_bit + 8) >> 3) - (v == 0);
}

// Writes all 8 bytes (the buffer has room) and advances by len.
inline uint8_t* Put(uint8_t* p, uint64_t v, uint32_t len) {
  memcpy(p, &v, 8);
  return p + len;
}

inline uint64_t Get(const uint8_t*& p, uint32_t len) {
  uint64_t v;
  memcpy(&v, p, 8);
  p += len;
  return v & kMask[len];
}

}  // namespace

bool EventPacker::Pack(const Event* events, size_t n, PackedEvents* out) {
  // Put() writes 8 bytes wherever a field starts, so the last one may reach 8 bytes past the end.
  size_t worst = n * kMaxEventBytes + 8;
  if (scratch_.size() < worst) scratch_.resize(worst);
  uint8_t* const start = scratch_.data();
  uint8_t* p = start;
  const uint32_t thread = n ? events[0].thread : 0;
  uint64_t time = n ? events[0].time : 0, addr = 0;
  bool unsorted = false;
  for (size_t i = 0; i < n; ++i) {
    const Event& e = events[i];
    unsorted |= e.time < time;
    uint64_t dt = e.time - time;
    uint64_t dx = e.addr ^ addr;
    time = e.time;
    addr = e.addr;
    uint32_t lt = ByteLength(dt), la = ByteLength(dx), ls = ByteLength(e.size), lk = ByteLength(e.stack_id);
    uint32_t flags;  // entry, is_free, kind, outcome
    memcpy(&flags, &e.entry, 4);
    bool extra = (e.thread ^ thread) | (flags >> 16) | e.pool | (e.weight ^ 1) | ((flags & 0xff) > kMaxEntry);
    auto control = static_cast<uint16_t>(lt | la << 4 | ls << 8 | lk << 12 | (extra ? kExtraBit : 0));
    memcpy(p, &control, 2);
    p[2] = static_cast<uint8_t>((flags & kMaxEntry) | ((flags >> 2) & kFreeBit));
    p += kHeadBytes;
    p = Put(p, dt, lt);
    p = Put(p, dx, la);
    p = Put(p, e.size, ls);
    p = Put(p, e.stack_id, lk);
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
  if (unsorted) return false;
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
  size_t n = max < left_ ? max : left_;
  size_t others = 0;
  const uint8_t* p = p_;
  uint64_t time = time_, addr = addr_;
  const uint32_t thread = thread_;
  for (size_t i = 0; i < n; ++i) {
    uint16_t control;
    memcpy(&control, p, 2);
    uint32_t c = control;
    uint32_t entry_byte = p[2];
    p += kHeadBytes;
    time += Get(p, c & 15);
    addr ^= Get(p, (c >> 4) & 15);
    Event& e = out[i];
    e.time = time;
    e.addr = addr;
    e.size = Get(p, (c >> 8) & 15);
    e.stack_id = static_cast<uint32_t>(Get(p, (c >> 12) & 7));
    if (__builtin_expect(c & kExtraBit, 0)) {
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
  p_ = p;
  time_ = time;
  addr_ = addr;
  left_ -= n;
  if (non_heap) *non_heap = others;
  return n;
}

}  // namespace allocprof
