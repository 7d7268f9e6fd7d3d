// The sampler's natural logarithm, so that the shim does not need libm: a program that dlopens
// libm.so.6 must find it unloaded, as it would without the shim (README, "Known limits").
// Accurate to a few units in the last place (about 1e-16 relative) for positive normal doubles,
// which covers the sampler's draws in [2^-53, 1]; zero, negatives, subnormals, infinities and NaN
// are outside its domain. Pure function: thread-safe, async-signal-safe.
#ifndef ALLOCPROF_SHIM_NATURAL_LOG_H_
#define ALLOCPROF_SHIM_NATURAL_LOG_H_

#include <stdint.h>

namespace allocprof::shim {

// ln(x) = e*ln(2) + ln(m) with x = 2^e * m and m in (sqrt(2)/2, sqrt(2)]; then ln(m) = 2*atanh(s)
// with s = (m-1)/(m+1), |s| <= 0.172, whose odd series 2s(1 + s^2/3 + s^4/5 + ...) is cut after
// s^18/19: the first term left out is below 3e-17 of the sum.
inline double NaturalLog(double x) {
  uint64_t bits = __builtin_bit_cast(uint64_t, x);
  int e = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  double m = __builtin_bit_cast(double, (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1, 2)
  const double kSqrt2 = 0x1.6a09e667f3bcdp+0, kLn2 = 0x1.62e42fefa39efp-1;
  if (m > kSqrt2) {
    m *= 0.5;
    ++e;
  }
  double f = m - 1.0;  // exact: m is within a factor of 2 of 1
  double s = f / (2.0 + f);
  double z = s * s;
  double p =
      1.0 / 3 +
      z * (1.0 / 5 +
           z * (1.0 / 7 +
                z * (1.0 / 9 + z * (1.0 / 11 + z * (1.0 / 13 + z * (1.0 / 15 + z * (1.0 / 17 + z * (1.0 / 19))))))));
  double log_m = 2.0 * s + 2.0 * s * z * p;
  return static_cast<double>(e) * kLn2 + log_m;
}

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_NATURAL_LOG_H_
