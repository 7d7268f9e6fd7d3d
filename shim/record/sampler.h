// Sampling mode (ALLOCPROF_SAMPLE=BYTES): which allocations and frees a sampled trace records.
//
// Allocations: each thread counts allocated bytes down from a draw of an exponential distribution
// with mean BYTES; the allocation that reaches zero is recorded and a new countdown is drawn, and
// allocations of BYTES or more are always recorded (trace_format.h, kSampling). An unsampled
// allocation costs one subtract and one branch on a thread-local: no stack, no lock.
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

// The bytes left until the next sample are `countdown + reserve`. The fast path sees only
// `countdown`, which never exceeds the interval: an allocation smaller than it is smaller than the
// interval too, so one compare decides both. The rest of a long draw waits in `reserve` and is
// moved in by the slow path.
struct SamplerLocal {
  uint64_t countdown;  // at most g_sample_interval; 0 before the first draw
  uint64_t reserve;    // bytes of the draw beyond `countdown`
  uint64_t rng;        // splitmix64 state
  bool seeded;
};
extern __thread SamplerLocal t_sampler __attribute__((tls_model("initial-exec")));

// Reads the options; maps the set. Returns false (and leaves sampling off) when not sampling.
bool InitSampler();

// Out of line: the first draw of a thread, the end of a countdown, or a size >= the interval.
// Records the address in the set when the allocation is sampled.
bool SampleAllocationSlow(uint64_t bytes, uintptr_t addr);

// True, with the allocation's bytes taken off the countdown, when an allocation of `size` bytes is
// not sampled; false (the countdown untouched) when the slow path must decide. bytes < countdown
// <= interval, so a block of the interval or more never passes (compared unsigned: nor does a
// size near SIZE_MAX), and the countdown stays positive.
__attribute__((always_inline)) inline bool SkipAllocation(uint64_t size) {
  uint64_t bytes = size + (size == 0);  // an empty allocation counts as one byte
  uint64_t countdown = t_sampler.countdown;
  if (__builtin_expect(bytes < countdown, 1)) {
    t_sampler.countdown = countdown - bytes;
    return true;
  }
  return false;
}

// True when an allocation of `size` bytes just returned at `addr` is to be recorded.

__attribute__((always_inline)) inline bool SampleAllocation(uint64_t size, uintptr_t addr) {
  if (SkipAllocation(size)) return false;
  return SampleAllocationSlow(size + (size == 0), addr);
}

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_SAMPLER_H_
