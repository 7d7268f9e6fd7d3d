// The set of sampled allocations that are still live, for sampling mode (sampler.h): a free is
// recorded only when its allocation was, and any thread may free any block.
//
// Thread-safety: lock-free; every operation is a few atomic loads and at most one CAS or RMW per
// word. Allocates nothing through the hooked functions (one raw mmap at Init).
#ifndef ALLOCPROF_SHIM_SAMPLED_SET_H_
#define ALLOCPROF_SHIM_SAMPLED_SET_H_

#include <stddef.h>
#include <stdint.h>

#include <atomic>

namespace allocprof::shim {

// Recorded allocations that are still live, by address. Each address hashes to one cache line of
// kSlots addresses; there is no probing beyond it. A dense byte per line says which of its slots
// are in use, so the common case, the free of an unsampled block, reads one byte of a 64 KiB
// array (cache- and TLB-friendly) and never the line. When a line is full, its kOverflowed bit is
// set for good and frees of unknown addresses that hash there are recorded as well (the analyzer
// ignores frees that match no allocation), so no recorded allocation ever loses its free.
class SampledSet {
 public:
  static constexpr int kBucketBits = 16;
  static constexpr size_t kBuckets = size_t{1} << kBucketBits;  // 4 MiB of lines, touched as used
  static constexpr int kSlots = 7;

  bool Init();
  void Insert(uintptr_t addr);

  // What TakeOut found: addr itself (now out of the set), no trace of it, or only a line that
  // overflowed (or no set at all), so it may have been sampled but was not held.
  enum class Removal : uint8_t { kAbsent, kRemoved, kMaybe };

  // Takes addr out of the set. True when its free must be recorded: addr was in the set, or its
  // line overflowed (or the set could not be created) so it may have been.
  bool Remove(uintptr_t addr) { return TakeOut(addr) != Removal::kAbsent; }

  // Remove, telling a held address from a maybe: a caller that puts addr back (a failed realloc)
  // must do so only for kRemoved, or it would add an address that was never sampled.
  Removal TakeOut(uintptr_t addr) {
    if (__builtin_expect(used_ == nullptr, 0)) return Removal::kMaybe;
    size_t b = BucketOf(addr);
    uint8_t used = used_[b].load(std::memory_order_relaxed);
    if (__builtin_expect(used == 0, 1)) return Removal::kAbsent;
    return RemoveSlow(b, addr, used);
  }

  // True when addr is certainly not in the set (its line holds nothing and never overflowed):
  // its free need not be recorded. One byte read, nothing written.
  bool CertainlyAbsent(uintptr_t addr) const {
    return __builtin_expect(used_ != nullptr, 1) && used_[BucketOf(addr)].load(std::memory_order_relaxed) == 0;
  }

  // The line an address belongs to.
  static size_t BucketOf(uintptr_t addr) {
    uint64_t h = (static_cast<uint64_t>(addr) >> 4) * 0x9e3779b97f4a7c15ull;
    return static_cast<size_t>(h >> (64 - kBucketBits));
  }

 private:
  // Bit i of used_[b] is set while line b's slot i holds an address (set after the slot is
  // filled, cleared before it is emptied). An address is inserted before the program can see it,
  // so its free finds its bit set.
  static constexpr uint8_t kOverflowed = 0x80;
  struct alignas(64) Line {
    std::atomic<uintptr_t> addr[kSlots];
  };
  Removal RemoveSlow(size_t b, uintptr_t addr, uint8_t used);
  std::atomic<uint8_t>* used_ = nullptr;  // kBuckets bytes
  Line* lines_ = nullptr;                 // kBuckets lines
};

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_SAMPLED_SET_H_
