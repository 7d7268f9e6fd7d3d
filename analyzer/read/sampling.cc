#include "read/sampling.h"

#include <math.h>

#include "allocprof/trace_format.h"

namespace allocprof {
namespace {

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

double SamplingEstimate::AllocationsRelError() const {
  return sampled() && allocations > 0 ? sqrt(allocations_variance) / allocations : 0;
}

double SamplingEstimate::BytesRelError() const { return sampled() && bytes > 0 ? sqrt(bytes_variance) / bytes : 0; }

double EventUniform(uint64_t time, uint64_t addr, uint64_t size) {
  uint64_t h = Mix(time + 0x9e3779b97f4a7c15ull);
  h = Mix(h ^ addr);
  h = Mix(h ^ size);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

uint32_t RoundWeight(double x, double u) {
  double whole = floor(x);
  return static_cast<uint32_t>(whole) + (u < x - whole ? 1 : 0);
}

uint32_t SampleWeigher::WeighAllocation(uint64_t time, uint64_t addr, uint64_t size) {
  SamplingEstimate& e = estimate_;
  if (!e.sampled()) return 1;
  double p = format::SampleProbability(size, e.interval_bytes);
  double x = 1.0 / p;
  double whole = floor(x), frac = x - whole;
  // E[w²] − E[w] for w ∈ {whole, whole + 1} with mean x.
  double excess = whole * whole + frac * (2 * whole + 1) - x;
  double s = static_cast<double>(size);
  ++e.samples;
  e.allocations += x;
  e.bytes += s * x;
  e.allocations_variance += excess;
  e.bytes_variance += s * s * excess;
  return RoundWeight(x, EventUniform(time, addr, size));
}

}  // namespace allocprof
