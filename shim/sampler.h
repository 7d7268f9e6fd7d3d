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

  // Takes addr out of the set. True when its free must be recorded: addr was in the set, or its
  // line overflowed (or the set could not be created) so it may have been.
  bool Remove(uintptr_t addr) {
    if (__builtin_expect(used_ == nullptr, 0)) return true;
    size_t b = BucketOf(addr);
    uint8_t used = used_[b].load(std::memory_order_relaxed);
    if (__builtin_expect(used == 0, 1)) return false;
    return RemoveSlow(b, addr, used);
  }

 private:
  // Bit i of used_[b] is set while line b's slot i holds an address (set after the slot is
  // filled, cleared before it is emptied). An address is inserted before the program can see it,
  // so its free finds its bit set.
  static constexpr uint8_t kOverflowed = 0x80;
  struct alignas(64) Line {
    std::atomic<uintptr_t> addr[kSlots];
  };
  bool RemoveSlow(size_t b, uintptr_t addr, uint8_t used);
  static size_t BucketOf(uintptr_t addr) {
    uint64_t h = (static_cast<uint64_t>(addr) >> 4) * 0x9e3779b97f4a7c15ull;
    return static_cast<size_t>(h >> (64 - kBucketBits));
  }
  std::atomic<uint8_t>* used_ = nullptr;  // kBuckets bytes
  Line* lines_ = nullptr;                  // kBuckets lines
};

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
