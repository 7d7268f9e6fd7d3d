// Remembers, per thread, which of its recent allocations produced which address, so a free of one
// of them is written as FREE_AGE (a small, often repeating number) instead of an address.
//
// Two-way set-associative over the address; an entry that is stale (its block freed elsewhere and
// the address reused) still names an allocation with that address, which is all FREE_AGE claims.
// Thread-safety: owned by one thread (or whoever holds its ThreadState lock).
#ifndef ALLOCPROF_SHIM_FREE_CACHE_H_
#define ALLOCPROF_SHIM_FREE_CACHE_H_

#include <stdint.h>

namespace allocprof::shim {

class FreeCache {
 public:
  static constexpr uint32_t kSets = 4096;

  struct Entry {
    uint64_t addr;
    uint32_t seq;  // the thread's allocation number
    uint32_t cls;  // format::SizeClass of the allocation
  };

  void Remember(uint64_t addr, uint32_t seq, uint32_t cls) {
    Entry* set = Set(addr);
    Entry* slot = set[0].addr == addr || set[0].addr == 0 ? &set[0]
                  : set[1].addr == addr || set[1].addr == 0 ? &set[1]
                  // Evict the older allocation (sequence numbers wrap: compare by distance).
                  : static_cast<int32_t>(set[0].seq - set[1].seq) < 0 ? &set[0] : &set[1];
    *slot = Entry{addr, seq, cls};
  }

  const Entry* Find(uint64_t addr) const {
    const Entry* set = const_cast<FreeCache*>(this)->Set(addr);
    if (set[0].addr == addr) return &set[0];
    if (set[1].addr == addr) return &set[1];
    return nullptr;
  }

 private:
  Entry* Set(uint64_t addr) {
    uint64_t h = (addr >> 4) * 0x9e3779b97f4a7c15ull;
    return &entries_[(h >> 40) & (kSets - 1)][0];
  }
  Entry entries_[kSets][2];
};

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_FREE_CACHE_H_
