// Sampling mode (ALLOCPROF_SAMPLE=BYTES): which allocations and frees a sampled trace records.
//
// Allocations: each thread counts allocated bytes down from a draw of an exponential distribution
// with mean BYTES; the allocation that reaches zero is recorded and a new countdown is drawn, and
// allocations of BYTES or more are always recorded (trace_format.h, kSampling). An unsampled
// allocation costs one subtract and two compares on a thread-local: no stack, no lock.
// Frees: only those of recorded allocations, which any thread may free, so recorded live addresses
// sit in a process-wide lock-free set (SampledSet).
//
// Thread-safety: the countdown is the calling thread's own; SampledSet takes no lock (one CAS per
// insert or remove) and allocates nothing through the hooked functions (raw mmap).
#ifndef ALLOCPROF_SHIM_SAMPLER_H_
#define ALLOCPROF_SHIM_SAMPLER_H_

#include <stddef.h>
#include <stdint.h>

#include <atomic>

namespace allocprof::shim {

// Mean sampling interval in bytes; 0 when every allocation is recorded. Set once by InitSampler.
extern uint64_t g_sample_interval;

// Recorded allocations that are still live, by address. Each address hashes to one cache line of
// kSlots addresses; there is no probing beyond it. When a line is full, its kOverflowed bit is
// set for good and frees of unknown addresses that hash there are recorded as well (the analyzer
// ignores frees that match no allocation), so no recorded allocation ever loses its free.
class SampledSet {
 public:
  static constexpr size_t kBuckets = size_t{1} << 16;  // 4 MiB of address space, touched as used
  static constexpr int kSlots = 7;

  bool Init();
  void Insert(uintptr_t addr);

  // Takes addr out of the set. True when its free must be recorded: addr was in the set, or its
  // line overflowed (or the set could not be created) so it may have been. Most frees are of
  // unsampled blocks in empty lines: one load of the line's occupancy word answers them.
  bool Remove(uintptr_t addr) {
    Bucket* b = BucketOf(addr);
    if (__builtin_expect(b == nullptr, 0)) return true;
    uint64_t used = b->used.load(std::memory_order_relaxed);
    if (__builtin_expect(used == 0, 1)) return false;
    return RemoveSlow(b, addr, used);
  }

 private:
  // Bit i of `used` is set while addr[i] holds an address (set after the slot is filled, cleared
  // before it is emptied); kOverflowed is set for good when an insert found no free slot. An
  // address is inserted before the program can see it, so its free finds its bit set.
  static constexpr uint64_t kOverflowed = uint64_t{1} << 63;
  struct alignas(64) Bucket {
    std::atomic<uintptr_t> addr[kSlots];
    std::atomic<uint64_t> used;
  };
  bool RemoveSlow(Bucket* b, uintptr_t addr, uint64_t used);
  Bucket* BucketOf(uintptr_t addr) const {
    if (!buckets_) return nullptr;
    uint64_t h = (static_cast<uint64_t>(addr) >> 4) * 0x9e3779b97f4a7c15ull;
    return &buckets_[h >> (64 - 16)];
  }
  Bucket* buckets_ = nullptr;
};
static_assert(SampledSet::kBuckets == size_t{1} << 16, "BucketOf takes the top 16 bits");

extern SampledSet g_sampled;

struct SamplerLocal {
  int64_t countdown;  // bytes left until the next sample; <= 0 before the first draw
  uint64_t rng;       // splitmix64 state
  bool seeded;
};
extern __thread SamplerLocal t_sampler __attribute__((tls_model("initial-exec")));

// Reads the options; maps the set. Returns false (and leaves sampling off) when not sampling.
bool InitSampler();

// Out of line: the first draw of a thread, the end of a countdown, or a size >= the interval.
// Records the address in the set when the allocation is sampled.
bool SampleAllocationSlow(uint64_t bytes, uintptr_t addr);

// True when an allocation of `size` bytes just returned at `addr` is to be recorded.
__attribute__((always_inline)) inline bool SampleAllocation(uint64_t size, uintptr_t addr) {
  uint64_t bytes = size + (size == 0);  // an empty allocation counts as one byte
  int64_t left = t_sampler.countdown - static_cast<int64_t>(bytes);
  if (__builtin_expect(left > 0 && bytes < g_sample_interval, 1)) {
    t_sampler.countdown = left;
    return false;
  }
  return SampleAllocationSlow(bytes, addr);
}

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_SAMPLER_H_
