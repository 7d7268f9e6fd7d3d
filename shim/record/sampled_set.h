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
// array (cache- and TLB-friendly, part of the object: no pointer to load or test) and never the
// line. When a line is full, its kOverflowed bit is set for good and frees of unknown addresses
// that hash there are recorded as well (the analyzer ignores frees that match no allocation), so
// no recorded allocation ever loses its free. Without lines (Init not called, or its mmap failed)
// an inserted address overflows its line at once.
class SampledSet {
 public:
  static constexpr int kBucketBits = 16;
  static constexpr size_t kBuckets = size_t{1} << kBucketBits;  // 4 MiB of lines, touched as used
  static constexpr int kSlots = 6;

  // Constant-initialised, so a global set can be pinned (Pin) before any constructor runs.
  constexpr SampledSet() = default;

  // Maps the lines. False if that failed: each insert then overflows its line.
  bool Init();
  void Insert(uintptr_t addr);

  // Keeps addr's line from ever looking empty, so CertainlyAbsent is false for addr for good; does
  // not put addr in the set. For blocks that must never reach the allocator's free (the shim's
  // bootstrap arena, real_functions.h): the caller that asks CertainlyAbsent then checks for them
  // only on its slow path.
  void Pin(uintptr_t addr) {
    size_t b = BucketOf(addr);
    uint8_t before = used_[b].fetch_or(kPinned, std::memory_order_release);
    if (!(before & kPinned)) groups_[GroupOf(b)].fetch_add(1, std::memory_order_release);
  }

  // What TakeOut found: addr itself (now out of the set), no trace of it, or only a line that
  // overflowed (or no set at all), so it may have been sampled but was not held.
  enum class Removal : uint8_t { kAbsent, kRemoved, kMaybe };

  // Takes addr out of the set. True when its free must be recorded: addr was in the set, or its
  // line overflowed so it may have been.
  bool Remove(uintptr_t addr) { return TakeOut(addr) != Removal::kAbsent; }

  // Remove, telling a held address from a maybe: a caller that puts addr back (a failed realloc)
  // must do so only for kRemoved, or it would add an address that was never sampled.
  Removal TakeOut(uintptr_t addr) {
    size_t b = BucketOf(addr);
    uint8_t used = used_[b].load(std::memory_order_relaxed);
    if (__builtin_expect(used == 0, 1)) return Removal::kAbsent;
    return RemoveSlow(b, addr, used);
  }

  // True when addr is certainly not in the set (its group of lines, or else its line, holds
  // nothing, never overflowed and is not pinned): its free need not be recorded. Reads the group's
  // count (2 KiB for all groups: they stay in L1, where a byte of 64 KiB read on every free did not,
  // which cost ~0.95 L1 misses a pair on churn) and only if that is not 0 the line's byte; writes
  // nothing.
  bool CertainlyAbsent(uintptr_t addr) const {
    return GroupCertainlyEmpty(addr) || used_[BucketOf(addr)].load(std::memory_order_relaxed) == 0;
  }
  // The first half of that: no line of addr's group holds anything.
  bool GroupCertainlyEmpty(uintptr_t addr) const {
    return groups_[GroupOf(BucketOf(addr))].load(std::memory_order_relaxed) == 0;
  }

  // The line an address belongs to: the top bits of a Fibonacci hash. Block addresses are
  // multiples of 16, so addr * K is (addr >> 4) * 16K: the shift is left out.
  static size_t BucketOf(uintptr_t addr) {
    uint64_t h = static_cast<uint64_t>(addr) * 0x9e3779b97f4a7c15ull;
    return static_cast<size_t>(h >> (64 - kBucketBits));
  }
  // Lines come in groups of 64 neighbours; a group's count is positive while any of its lines holds
  // an address, is pinned or overflowed, or is being inserted into.
  static constexpr int kGroupBits = 10;
  static size_t GroupOf(size_t bucket) { return bucket >> (kBucketBits - kGroupBits); }

 private:
  // Bit i of used_[b] is set while line b's slot i holds an address (set after the slot is
  // filled, cleared before it is emptied). An address is inserted before the program can see it,
  // so its free finds its bit set.
  static constexpr uint8_t kPinned = 0x40;
  static constexpr uint8_t kOverflowed = 0x80;
  static_assert(kSlots <= 6, "slot bits below kPinned");
  struct alignas(64) Line {
    std::atomic<uintptr_t> addr[kSlots];
  };
  Removal RemoveSlow(size_t b, uintptr_t addr, uint8_t used);
  // Raised before an address goes into a line (so it counts before the program can free the
  // block), lowered after it left; raised for good when a line is pinned or overflows.
  alignas(64) std::atomic<uint16_t> groups_[size_t{1} << kGroupBits] = {};
  alignas(64) std::atomic<uint8_t> used_[kBuckets] = {};
  Line* lines_ = nullptr;  // kBuckets lines
};

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_SAMPLED_SET_H_
