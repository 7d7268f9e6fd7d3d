// Number formatting shared by the report's renderers (text, JSON, diff).
// Thread-safety: pure functions.
#ifndef ALLOCPROF_ANALYZER_RENDER_UTIL_H_
#define ALLOCPROF_ANALYZER_RENDER_UTIL_H_

#include <stdint.h>

#include <string>

namespace allocprof {

std::string HumanBytes(double bytes);  // "12.3 MiB", "512 B"
std::string HumanCount(uint64_t n);    // "1,234,567"
// "1 call", "1,234 calls": the count and the noun that agrees with it.
std::string HumanCountOf(uint64_t n, const char* one, const char* many);
std::string Percent(uint64_t part, uint64_t whole);  // "12.5%", "-" when whole is 0
// A sampled estimate's one standard error from its variance: " ± 1,234", " ± 1.2 MiB"; "" when the
// variance is 0 (a full trace, or a figure made of blocks that are always recorded).
std::string PlusMinusCount(double variance);
std::string PlusMinusBytes(double variance);
// What a sampled report says in place of a figure it cannot estimate.
inline constexpr const char* kNotAvailableWhenSampling = "not available when sampling";

inline double Seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }
// Seconds from `origin` to `t`, 0 when t is earlier.
inline double RelSeconds(uint64_t t, uint64_t origin) { return t > origin ? Seconds(t - origin) : 0; }

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_RENDER_UTIL_H_
