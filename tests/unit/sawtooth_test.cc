#include "passes/sawtooth.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace allocprof {
namespace {

std::vector<double> Sawtooth(size_t n, size_t period, double amplitude, double trend = 0) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 1e6 + trend * i + amplitude * static_cast<double>(i % period) / period;
  return v;
}

TEST(Sawtooth, FindsTheRampPeriodAndAmplitude) {
  auto s = DetectSawtooth(Sawtooth(1000, 25, 4e6), 0.01);
  ASSERT_TRUE(s.found);
  EXPECT_NEAR(s.period_s, 0.25, 0.01);
  EXPECT_NEAR(s.amplitude_bytes, 4e6 * 24 / 25, 1);
}

TEST(Sawtooth, FindsASquareWave) {
  std::vector<double> v(600);
  for (size_t i = 0; i < v.size(); ++i) v[i] = (i / 20) % 2 ? 5e6 : 1e6;  // period 40 samples
  auto s = DetectSawtooth(v, 0.001);
  ASSERT_TRUE(s.found);
  EXPECT_NEAR(s.period_s, 0.040, 0.001);
  EXPECT_NEAR(s.amplitude_bytes, 4e6, 1);
}

TEST(Sawtooth, IgnoresALinearTrend) {
  auto s = DetectSawtooth(Sawtooth(800, 40, 1e6, /*trend=*/5000), 0.5);
  ASSERT_TRUE(s.found);
  EXPECT_NEAR(s.period_s, 20.0, 0.5);
}

TEST(Sawtooth, NoPatternInNoiseOrFlatOrShortSeries) {
  std::mt19937 rng(42);
  std::normal_distribution<double> noise(1e6, 1e5);
  std::vector<double> v(1000);
  for (auto& x : v) x = noise(rng);
  EXPECT_FALSE(DetectSawtooth(v, 0.01).found);
  EXPECT_FALSE(DetectSawtooth(std::vector<double>(500, 42.0), 0.01).found);
  EXPECT_FALSE(DetectSawtooth(Sawtooth(10, 3, 1e6), 0.01).found);
  std::vector<double> ramp(1000);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<double>(i) * 1000;
  EXPECT_FALSE(DetectSawtooth(ramp, 0.01).found) << "steady growth is not periodic";
}

}  // namespace
}  // namespace allocprof
