// Number formatting shared by the report's renderers (text, JSON, diff).
// Thread-safety: pure functions.
#ifndef ALLOCPROF_ANALYZER_RENDER_UTIL_H_
#define ALLOCPROF_ANALYZER_RENDER_UTIL_H_

#include <stdint.h>

#include <optional>
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
// A sampled figure that no recorded allocation contributed to reads 0, yet is not exactly 0: blocks
// totalling B bytes all miss the sampling points (a Poisson process on the allocated bytes) with
// probability exp(-B / interval), so at 95% confidence B < interval * ln 20, about 3 intervals. When
// every block the figure counts is at least `min_block` bytes, their number is below that / min_block.
struct NoneRecordedBound {
  double bytes = 0;
  uint64_t blocks = 0;  // 0: no bound (blocks of any size)
};
// The bound behind a sampled figure `value`; none for a full trace (interval 0), a figure that is not
// 0, or blocks of at least the interval (always recorded, so their 0 is exact).
std::optional<NoneRecordedBound> NoneRecorded(uint64_t interval_bytes, double value, uint64_t min_block = 0);
// Its text after the figure: "; none recorded: under 1.5 MiB of blocks at 95%", or with a block bound
// "; none recorded: fewer than 19 blocks (under 1.5 MiB) at 95%"; "" when there is no bound.
std::string NoneRecordedNote(uint64_t interval_bytes, double value, uint64_t min_block = 0);
// What a sampled report says in place of a figure it cannot estimate.
inline constexpr const char* kNotAvailableWhenSampling = "not available when sampling";

inline double Seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }
// Seconds from `origin` to `t`, 0 when t is earlier.
inline double RelSeconds(uint64_t t, uint64_t origin) { return t > origin ? Seconds(t - origin) : 0; }

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_RENDER_UTIL_H_
