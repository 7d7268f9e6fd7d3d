// Remembers, per thread, which of its recent allocations produced which address, so a free of one
// of them is written as FREE_AGE (a small, often repeating number) instead of an address.
//
// Four-way set-associative over the address, one cache line per set, as many entries as FREE_AGE
// reaches back (format::kMaxAge): with two ways, a program holding 4096 blocks live lost a quarter
// of its frees to evictions (each then written with a full address). An entry that is stale (its
// block freed elsewhere and the address reused) still names an allocation with that address,
// which is all FREE_AGE claims.
// Thread-safety: owned by one thread (or whoever holds its ThreadState lock).
#ifndef ALLOCPROF_SHIM_FREE_CACHE_H_
#define ALLOCPROF_SHIM_FREE_CACHE_H_

#include <stdint.h>

#include "allocprof/trace_format.h"

namespace allocprof::shim {

class FreeCache {
 public:
  static constexpr uint32_t kWays = 4;
  static constexpr uint32_t kSets = 4096;

  struct Entry {
    uint64_t addr;
    uint32_t seq;    // the thread's allocation number
    uint8_t cls;     // format::SizeClass of the allocation
    uint8_t family;  // format::Family of its entry point
  };

  static_assert(sizeof(Entry) == 16, "four ways fill one cache line");

  void Remember(uint64_t addr, uint32_t seq, uint32_t cls, format::Family family) {
    Entry* set = Set(addr);
    Entry* slot = nullptr;
#pragma GCC unroll 4
    for (uint32_t w = 0; w < kWays && !slot; ++w) {
      if (set[w].addr == addr || set[w].addr == 0) slot = &set[w];
    }
    if (!slot) {
      // Evict the oldest allocation (sequence numbers wrap: compare by distance).
      slot = &set[0];
      for (uint32_t w = 1; w < kWays; ++w) {
        if (static_cast<int32_t>(set[w].seq - slot->seq) < 0) slot = &set[w];
      }
    }
    *slot = Entry{addr, seq, static_cast<uint8_t>(cls), static_cast<uint8_t>(family)};
  }

  const Entry* Find(uint64_t addr) const {
    const Entry* set = const_cast<FreeCache*>(this)->Set(addr);
#pragma GCC unroll 4
    for (uint32_t w = 0; w < kWays; ++w) {
      if (set[w].addr == addr) return &set[w];
    }
    return nullptr;
  }

 private:
  Entry* Set(uint64_t addr) {
    uint64_t h = (addr >> 4) * 0x9e3779b97f4a7c15ull;
    return &entries_[(h >> 40) & (kSets - 1)][0];
  }
  alignas(64) Entry entries_[kSets][kWays];
};

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_FREE_CACHE_H_
