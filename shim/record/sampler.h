// Sampling mode (ALLOCPROF_SAMPLE=BYTES): which allocations and frees a sampled trace records.
//
// Allocations: each thread counts allocated bytes down from a draw of an exponential distribution
// with mean BYTES; the allocation that reaches zero is recorded and a new countdown is drawn, and
// allocations of BYTES or more are always recorded (trace_format.h, kSampling). An unsampled
// allocation costs one subtract and two compares on a thread-local: no stack, no lock.
// Frees: only those of recorded allocations, which any thread may free, so recorded live addresses
// sit in a process-wide lock-free set (sampled_set.h).
//
// Thread-safety: the countdown is the calling thread's own; the set takes no lock.
#ifndef ALLOCPROF_SHIM_SAMPLER_H_
#define ALLOCPROF_SHIM_SAMPLER_H_

#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "record/sampled_set.h"

namespace allocprof::shim {

// Mean sampling interval in bytes; 0 when every allocation is recorded. Set once by InitSampler.
// Hidden (here, where they are declared): the hooks address them directly, not through the GOT.
extern uint64_t g_sample_interval __attribute__((visibility("hidden")));

extern SampledSet g_sampled __attribute__((visibility("hidden")));

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
// True, with the allocation's bytes taken off the countdown, when it is not sampled; false (the
// countdown untouched) when the slow path must decide.
__attribute__((always_inline)) inline bool SkipAllocation(uint64_t size) {
  uint64_t bytes = size + (size == 0);  // an empty allocation counts as one byte
  int64_t left = t_sampler.countdown - static_cast<int64_t>(bytes);
  if (__builtin_expect(left > 0 && bytes < g_sample_interval, 1)) {
    t_sampler.countdown = left;
    return true;
  }
  return false;
}

__attribute__((always_inline)) inline bool SampleAllocation(uint64_t size, uintptr_t addr) {
  if (SkipAllocation(size)) return false;
  return SampleAllocationSlow(size + (size == 0), addr);
}

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_SAMPLER_H_
