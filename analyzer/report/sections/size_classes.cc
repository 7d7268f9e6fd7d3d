// Size classes: allocations and bytes by size class (--size-classes, default powers of two), with
// the large-object threshold marked; from the heap pass. In a sampled trace calls and bytes are
// estimates, each with its 1 sigma; the shares are ratios of estimates and shown bare.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

struct SizeClassRow {
  uint64_t min_bytes = 0, max_bytes = 0, calls = 0, bytes = 0;
  double call_share = 0, byte_share = 0;
  double calls_variance = 0, bytes_variance = 0;  // sampled traces
  bool large_object = false;                      // the class holds sizes at or above the large-object threshold
};

// "64 B - 128 B", "4 KiB", ">= 1 GiB".
std::string SizeRange(uint64_t lo, uint64_t hi) {
  auto fmt = [](uint64_t b) {
    if (b >= (1ull << 30) && b % (1ull << 30) == 0) return absl::StrCat(b >> 30, " GiB");
    if (b >= (1ull << 20) && b % (1ull << 20) == 0) return absl::StrCat(b >> 20, " MiB");
    if (b >= 1024 && b % 1024 == 0) return absl::StrCat(b >> 10, " KiB");
    return absl::StrCat(b, " B");
  };
  if (hi == UINT64_MAX) return absl::StrCat(">= ", fmt(lo));
  if (lo == hi) return fmt(lo);
  return absl::StrCat(fmt(lo), " - ", fmt(hi + 1));
}

class SizeClassesSection : public Section {
 public:
  void Finish(const SectionInputs& in) override {
    const HeapTotals& t = in.process.totals;
    sampled_ = in.process.sampling.sampled();
    for (const SizeClassCount& c : in.heap.SizeClasses()) {
      SizeClassRow row{c.min_bytes,
                       c.max_bytes,
                       c.calls,
                       c.bytes,
                       0,
                       0,
                       c.calls_variance,
                       c.bytes_variance,
                       c.max_bytes >= in.options.large_object_bytes};
      row.call_share = t.allocations ? static_cast<double>(c.calls) / t.allocations : 0;
      row.byte_share = t.bytes_allocated ? static_cast<double>(c.bytes) / t.bytes_allocated : 0;
      rows_.push_back(row);
    }
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    if (rows_.empty()) return;
    absl::StrAppendFormat(&out, "\nSize classes (large-object threshold %s B marked <LOH%s)\n",
                          HumanCount(o.large_object_bytes),
                          sampled_ ? "; estimates ± 1 sigma, shares are ratios of estimates" : "");
    // Sampled: wider columns for "123,456 ± 1,234" and "12.3 MiB ± 345.6 KiB".
    int calls_width = sampled_ ? 25 : 15, bytes_width = sampled_ ? 24 : 12;
    absl::StrAppendFormat(&out, "  %-22s %*s %7s %*s %7s\n", "size", calls_width, "calls", "share", bytes_width,
                          "bytes", "share");
    for (const auto& c : rows_) {
      bool crosses = c.min_bytes < o.large_object_bytes && c.max_bytes >= o.large_object_bytes;
      absl::StrAppendFormat(&out, "  %-22s %*s %7s %*s %7s%s\n", SizeRange(c.min_bytes, c.max_bytes), calls_width,
                            absl::StrCat(HumanCount(c.calls), PlusMinusCount(c.calls_variance)),
                            absl::StrFormat("%.1f%%", 100 * c.call_share), bytes_width,
                            absl::StrCat(HumanBytes(c.bytes), PlusMinusBytes(c.bytes_variance)),
                            absl::StrFormat("%.1f%%", 100 * c.byte_share),
                            crosses          ? "  <LOH threshold inside"
                            : c.large_object ? "  <LOH"
                                             : "");
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot) return;
    j.Key("large_object_threshold").Uint(o.large_object_bytes);
    j.Key("size_classes").BeginArray();
    for (const auto& c : rows_) {
      j.BeginObject();
      j.Key("min_bytes").Uint(c.min_bytes);
      j.Key("max_bytes").Uint(c.max_bytes);
      j.Key("calls").Uint(c.calls);
      j.Key("bytes").Uint(c.bytes);
      if (sampled_) {
        j.Key("calls_sigma").Double(std::sqrt(c.calls_variance));
        j.Key("bytes_sigma").Double(std::sqrt(c.bytes_variance));
      }
      j.Key("call_share").Double(c.call_share);
      j.Key("byte_share").Double(c.byte_share);
      j.Key("large_object").Bool(c.large_object);
      j.EndObject();
    }
    j.EndArray();
  }

 private:
  std::vector<SizeClassRow> rows_;
  bool sampled_ = false;
};

}  // namespace

std::unique_ptr<Section> NewSizeClassesSection(const SectionSetup&) { return std::make_unique<SizeClassesSection>(); }

}  // namespace allocprof
