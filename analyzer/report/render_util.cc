#include "report/render_util.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace allocprof {

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = bytes;
  while (std::fabs(v) >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f B", v) : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string HumanCount(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string HumanCountOf(uint64_t n, const char* one, const char* many) {
  return absl::StrCat(HumanCount(n), " ", n == 1 ? one : many);
}

std::string Percent(uint64_t part, uint64_t whole) {
  return whole ? absl::StrFormat("%.1f%%", 100.0 * part / whole) : "-";
}

std::string PlusMinusCount(double variance) {
  if (!(variance > 0)) return "";
  return absl::StrCat(" ± ", HumanCount(static_cast<uint64_t>(std::sqrt(variance) + 0.5)));
}

std::string PlusMinusBytes(double variance) {
  if (!(variance > 0)) return "";
  return absl::StrCat(" ± ", HumanBytes(std::sqrt(variance)));
}

std::optional<NoneRecordedBound> NoneRecorded(uint64_t interval_bytes, double value, uint64_t min_block) {
  if (interval_bytes == 0 || value != 0 || min_block >= interval_bytes) return std::nullopt;
  NoneRecordedBound bound;
  bound.bytes = static_cast<double>(interval_bytes) * std::log(20.0);
  if (min_block) bound.blocks = static_cast<uint64_t>(std::ceil(bound.bytes / static_cast<double>(min_block)));
  return bound;
}

std::string NoneRecordedNote(uint64_t interval_bytes, double value, uint64_t min_block) {
  std::optional<NoneRecordedBound> bound = NoneRecorded(interval_bytes, value, min_block);
  if (!bound) return "";
  if (!bound->blocks) return absl::StrCat("; none recorded: under ", HumanBytes(bound->bytes), " of blocks at 95%");
  return absl::StrCat("; none recorded: fewer than ", HumanCount(bound->blocks), " blocks (under ",
                      HumanBytes(bound->bytes), ") at 95%");
}

}  // namespace allocprof
