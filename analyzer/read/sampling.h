// Reading sampled traces (allocprof run --sample BYTES): each recorded allocation stands for 1/p of
// its kind, p = format::SampleProbability(size, interval) (Horvitz–Thompson), so every count and byte
// total the passes add up is an unbiased estimate of the full trace's.
//
// The passes keep integer accumulators: an allocation's weight is 1/p rounded down or up at random
// with the probability that keeps its mean exactly 1/p (stochastic rounding). The random choice is a
// hash of the event (time, address, size), so a trace always gives the same report, whichever
// thread or order the events are weighed in. Rounding adds at most 1/4 to a weight's variance, which
// the reported error includes.
//
// Thread-safety: one SampleWeigher per reader; SamplingEstimate is plain data.
#ifndef ALLOCPROF_ANALYZER_SAMPLING_H_
#define ALLOCPROF_ANALYZER_SAMPLING_H_

#include <stdint.h>

namespace allocprof {

// What a sampled trace's totals are worth. Variances are estimated from the sample itself:
// Σ (E[w²] − E[w]) over recorded allocations is unbiased for the variance of Σ w (counts), and
// Σ s² (E[w²] − E[w]) for bytes; without rounding, E[w²] − E[w] = (1 − p) / p².
struct SamplingEstimate {
  uint64_t interval_bytes = 0;        // 0: a full trace, every figure exact
  uint64_t samples = 0;               // allocations recorded
  double allocations = 0, bytes = 0;  // estimates from the unrounded weights
  double allocations_variance = 0, bytes_variance = 0;
  bool sampled() const { return interval_bytes != 0; }
  // One standard error relative to the estimate (0 when exact or nothing was recorded).
  double AllocationsRelError() const;
  double BytesRelError() const;
};

class SampleWeigher {
 public:
  void SetInterval(uint64_t interval_bytes) { estimate_.interval_bytes = interval_bytes; }
  uint64_t interval() const { return estimate_.interval_bytes; }
  // The integer weight of a recorded allocation (1 in a full trace) and its share of the estimate.
  uint32_t WeighAllocation(uint64_t time, uint64_t addr, uint64_t size);
  const SamplingEstimate& estimate() const { return estimate_; }

 private:
  SamplingEstimate estimate_;
};

// A recorded allocation's share of the variance of a Horvitz–Thompson sum it is counted in, from
// its integer weight w (what the passes add up): w(w − 1) for a count, s² w(w − 1) for bytes. Their
// sum over the recorded blocks is unbiased for the sum's variance (E[w² − w | recorded] · p =
// Var(w·recorded)); 0 for a weight of 1 (a full trace, or a block that is always recorded). Every
// pass that sums weights (totals, frees, entry points, size classes, stacks, leaks) uses these.
inline double CountVariance(uint64_t w) { return static_cast<double>(w) * static_cast<double>(w ? w - 1 : 0); }
inline double BytesVariance(uint64_t size, uint64_t w) {
  return static_cast<double>(size) * static_cast<double>(size) * CountVariance(w);
}

// The stochastic rounding of x >= 1 for a given uniform u in [0, 1): floor(x) + (u < frac(x)).
uint32_t RoundWeight(double x, double u);
// Uniform in [0, 1) from a hash of an event's fields.
double EventUniform(uint64_t time, uint64_t addr, uint64_t size);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_SAMPLING_H_
