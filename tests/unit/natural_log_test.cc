// The shim's own logarithm (shim/record/natural_log.h), against std::log: over the sampler's whole
// input range, u = k * 2^-53 for k in [1, 2^53] (record/sampler.cc), including its ends and the
// points where the range reduction switches, and over normal doubles far outside it.
#include "record/natural_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>

namespace allocprof::shim {
namespace {

// Relative error against std::log; absolute where the logarithm is 0 (x == 1).
double Error(double x) {
  double want = std::log(x), got = NaturalLog(x);
  return want == 0 ? std::fabs(got) : std::fabs(got - want) / std::fabs(want);
}

constexpr double kTolerance = 1e-12;

TEST(NaturalLog, SamplerRangeEndsAndReductionBoundaries) {
  const double kUlp = 0x1.0p-53;
  EXPECT_EQ(NaturalLog(1.0), 0.0);
  for (uint64_t k : {1ull, 2ull, 3ull, 1000ull, (1ull << 52) - 1, 1ull << 52, (1ull << 53) - 2, (1ull << 53) - 1}) {
    double u = static_cast<double>(k) * kUlp;
    EXPECT_LT(Error(u), kTolerance) << "u = " << k << " * 2^-53";
  }
  // Either side of sqrt(2) * 2^e and of 2^e, where the exponent and the mantissa's range change.
  for (int e = -53; e <= 0; ++e) {
    for (double base : {std::sqrt(2.0), 1.0, std::sqrt(0.5)}) {
      double x = std::ldexp(base, e);
      for (double y : {std::nextafter(x, 0.0), x, std::nextafter(x, 2.0)}) {
        if (y > 1.0) continue;
        EXPECT_LT(Error(y), kTolerance) << "x = " << y;
      }
    }
  }
}

// A million of the sampler's draws (the same construction as DrawCountdown), and their countdown
// for a 512 KiB interval, equal to those libm's logarithm gives (measured: worst error 3.2e-16).
TEST(NaturalLog, MatchesStdLogOverTheSamplersDraws) {
  std::mt19937_64 rng(20261202);
  double worst = 0;
  uint64_t countdowns_differ = 0;
  for (int i = 0; i < 1000000; ++i) {
    double u = static_cast<double>((rng() >> 11) + 1) * 0x1.0p-53;
    worst = std::max(worst, Error(u));
    countdowns_differ += std::ceil(-NaturalLog(u) * 524288.0) != std::ceil(-std::log(u) * 524288.0);
  }
  EXPECT_LT(worst, kTolerance);
  EXPECT_EQ(countdowns_differ, 0u);
}

TEST(NaturalLog, NormalDoublesOutsideTheSamplersRange) {
  std::mt19937_64 rng(17);
  for (int i = 0; i < 200000; ++i) {
    // A random mantissa and an exponent over the normal range.
    double x = std::ldexp(1.0 + static_cast<double>(rng() >> 12) * 0x1.0p-52, static_cast<int>(rng() % 2044) - 1022);
    ASSERT_LT(Error(x), kTolerance) << "x = " << x;
  }
  EXPECT_LT(Error(DBL_MIN), kTolerance);
  EXPECT_LT(Error(DBL_MAX), kTolerance);
  EXPECT_LT(Error(std::nextafter(1.0, 2.0)), kTolerance);
  EXPECT_LT(Error(std::nextafter(1.0, 0.0)), kTolerance);
}

}  // namespace
}  // namespace allocprof::shim
