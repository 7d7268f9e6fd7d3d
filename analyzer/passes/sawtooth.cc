#include "passes/sawtooth.h"

#include <algorithm>
#include <cmath>

namespace allocprof {

namespace {
// The autocorrelation is quadratic in the series' length: longer series are averaged down first.
constexpr size_t kMaxSamples = 2048;
}  // namespace

Sawtooth DetectSawtooth(const std::vector<double>& input, double spacing_s) {
  std::vector<double> reduced;
  const std::vector<double>* series = &input;
  if (input.size() > kMaxSamples) {
    size_t factor = (input.size() + kMaxSamples - 1) / kMaxSamples;
    for (size_t i = 0; i + factor <= input.size(); i += factor) {
      double sum = 0;
      for (size_t k = 0; k < factor; ++k) sum += input[i + k];
      reduced.push_back(sum / static_cast<double>(factor));
    }
    spacing_s *= static_cast<double>(factor);
    series = &reduced;
  }
  const std::vector<double>& samples = *series;
  Sawtooth result;
  size_t n = samples.size();
  if (n < 12 || spacing_s <= 0) return result;
  // Remove the linear trend: a growing heap with a sawtooth on top is still a sawtooth.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    double x = static_cast<double>(i);
    sx += x;
    sy += samples[i];
    sxx += x * x;
    sxy += x * samples[i];
  }
  double denom = n * sxx - sx * sx;
  double slope = denom != 0 ? (n * sxy - sx * sy) / denom : 0;
  double intercept = (sy - slope * sx) / n;
  std::vector<double> d(n);
  double var = 0;
  for (size_t i = 0; i < n; ++i) {
    d[i] = samples[i] - (intercept + slope * static_cast<double>(i));
    var += d[i] * d[i];
  }
  double max_abs = 0;
  for (double v : samples) max_abs = std::max(max_abs, std::fabs(v));
  if (var <= 0 || std::sqrt(var / n) < 1e-6 * std::max(1.0, max_abs)) return result;

  size_t max_lag = n / 3;  // at least three periods
  std::vector<double> r(max_lag + 2, 0);
  for (size_t lag = 1; lag <= max_lag + 1 && lag < n; ++lag) {
    double s = 0;
    for (size_t i = 0; i + lag < n; ++i) s += d[i] * d[i + lag];
    // Normalise by the overlap so long lags are not penalised for being short.
    r[lag] = (s / static_cast<double>(n - lag)) / (var / static_cast<double>(n));
  }
  size_t lag = 1;
  while (lag <= max_lag && r[lag] > 0) ++lag;  // first zero crossing
  size_t best = 0;
  for (; lag <= max_lag; ++lag) {
    if (r[lag] > r[lag - 1] && r[lag] >= r[lag + 1] && r[lag] >= kMinCorrelation) {
      best = lag;
      break;
    }
  }
  if (best == 0) return result;
  double shift = 0;
  double a = r[best - 1], b = r[best], c = r[best + 1];
  if (a - 2 * b + c != 0) shift = std::clamp(0.5 * (a - c) / (a - 2 * b + c), -0.5, 0.5);
  double period_samples = static_cast<double>(best) + shift;

  std::vector<double> swings;
  for (size_t start = 0; start + best <= n; start += best) {
    auto [lo, hi] = std::minmax_element(samples.begin() + start, samples.begin() + start + best);
    swings.push_back(*hi - *lo);
  }
  std::nth_element(swings.begin(), swings.begin() + swings.size() / 2, swings.end());
  result.found = true;
  result.period_s = period_samples * spacing_s;
  result.amplitude_bytes = swings[swings.size() / 2];
  result.correlation = std::min(1.0, r[best]);
  return result;
}

}  // namespace allocprof
