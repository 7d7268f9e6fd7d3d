// Finds a periodic pattern (a sawtooth) in a sampled series, such as the live heap over time.
//
// Detrends the series, computes its autocorrelation and takes the first peak after the first
// zero crossing as the period, refined by parabolic interpolation; the amplitude is the median
// peak-to-trough swing over whole periods. A pattern is reported only when that peak correlates
// strongly (kMinCorrelation) and at least three periods fit in the series.
#ifndef ALLOCPROF_ANALYZER_SAWTOOTH_H_
#define ALLOCPROF_ANALYZER_SAWTOOTH_H_

#include <stdint.h>

#include <vector>

namespace allocprof {

struct Sawtooth {
  bool found = false;
  double period_s = 0;
  double amplitude_bytes = 0;
  double correlation = 0;  // autocorrelation at the period, 0..1
};

inline constexpr double kMinCorrelation = 0.5;

// `samples` are equally spaced, `spacing_s` apart.
Sawtooth DetectSawtooth(const std::vector<double>& samples, double spacing_s);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_SAWTOOTH_H_
