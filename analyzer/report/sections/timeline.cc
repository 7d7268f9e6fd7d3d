// Timeline: live bytes (min, max, at the end), allocations and frees per window over the run
// (--windows N equal windows, or --window WIDTH), from the heap pass's timeline.
#include "passes/timeline.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

// The text shows at most this many rows, each the sum of neighbouring windows.
constexpr size_t kTextRows = 20;

class TimelineSection : public Section {
 public:
  void Finish(const SectionInputs& in) override {
    const HeapTotals& t = in.process.totals;
    if (!t.allocations && !t.frees) return;
    windows_ = in.heap.timeline().Windows(in.end_ns, in.options.windows, in.options.window_ns);
    width_ns_ = windows_.empty() ? 0 : windows_[0].end_ns - windows_[0].start_ns;
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    if (windows_.empty()) return;
    size_t rows = std::min<size_t>(kTextRows, windows_.size());
    size_t per_row = (windows_.size() + rows - 1) / rows;
    absl::StrAppendFormat(&out,
                          "\nTimeline (%d windows of %.3f ms; every %d shown as one row; full series in --json)\n",
                          windows_.size(), width_ns_ / 1e6, per_row);
    if (p.sampling.sampled()) {
      // A window's extremes are the extremes of an estimate, biased outwards: left out.
      absl::StrAppendFormat(&out,
                            "  sampled: estimates with their 1 sigma; live min and max %s (the extremes of an estimate "
                            "are biased outwards)\n",
                            kNotAvailableWhenSampling);
      absl::StrAppendFormat(&out, "  %10s %24s %24s %24s\n", "time s", "live end", "allocations", "frees");
      for (size_t i = 0; i < windows_.size(); i += per_row) {
        TimeWindow row = Row(i, per_row);
        absl::StrAppendFormat(&out, "  %10.3f %24s %24s %24s\n", row.start_ns / 1e9,
                              HumanBytes(static_cast<double>(row.live_end)) + PlusMinusBytes(row.live_end_variance),
                              HumanCount(row.allocations) + PlusMinusCount(row.allocations_variance),
                              HumanCount(row.frees) + PlusMinusCount(row.frees_variance));
      }
      return;
    }
    absl::StrAppendFormat(&out, "  %10s %12s %12s %12s %14s %14s\n", "time s", "live min", "live max", "live end",
                          "allocations", "frees");
    for (size_t i = 0; i < windows_.size(); i += per_row) {
      TimeWindow row = Row(i, per_row);
      absl::StrAppendFormat(
          &out, "  %10.3f %12s %12s %12s %14s %14s\n", row.start_ns / 1e9,
          HumanBytes(static_cast<double>(row.live_min)), HumanBytes(static_cast<double>(row.live_max)),
          HumanBytes(static_cast<double>(row.live_end)), HumanCount(row.allocations), HumanCount(row.frees));
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot) return;
    j.Key("timeline_window_s").Double(Seconds(width_ns_));
    // Sampled: live_end and the counts are estimates with their sigma; live_min/max, the extremes
    // of an estimate, are null.
    bool sampled = p.sampling.sampled();
    if (sampled) j.Key("timeline_estimated").Bool(true);
    j.Key("timeline").BeginArray();
    for (const auto& w : windows_) {
      j.BeginObject();
      j.Key("start_s").Double(Seconds(w.start_ns));
      j.Key("end_s").Double(Seconds(w.end_ns));
      if (sampled) {
        j.Key("live_min").Null();
        j.Key("live_max").Null();
      } else {
        j.Key("live_min").Int(w.live_min);
        j.Key("live_max").Int(w.live_max);
      }
      j.Key("live_end").Int(w.live_end);
      j.Key("allocations").Uint(w.allocations);
      j.Key("bytes_allocated").Uint(w.bytes_allocated);
      j.Key("frees").Uint(w.frees);
      j.Key("bytes_freed").Uint(w.bytes_freed);
      if (sampled) {
        j.Key("live_end_sigma").Double(std::sqrt(w.live_end_variance));
        j.Key("allocations_sigma").Double(std::sqrt(w.allocations_variance));
        j.Key("bytes_allocated_sigma").Double(std::sqrt(w.bytes_allocated_variance));
        j.Key("frees_sigma").Double(std::sqrt(w.frees_variance));
        j.Key("bytes_freed_sigma").Double(std::sqrt(w.bytes_freed_variance));
      }
      j.EndObject();
    }
    j.EndArray();
  }

 private:
  // Windows [first, first + count) as one.
  TimeWindow Row(size_t first, size_t count) const {
    TimeWindow row = windows_[first];
    for (size_t k = first + 1; k < std::min(windows_.size(), first + count); ++k) {
      const TimeWindow& w = windows_[k];
      row.live_min = std::min(row.live_min, w.live_min);
      row.live_max = std::max(row.live_max, w.live_max);
      row.live_end = w.live_end;
      row.live_end_variance = w.live_end_variance;
      row.allocations += w.allocations;
      row.frees += w.frees;
      row.allocations_variance += w.allocations_variance;
      row.frees_variance += w.frees_variance;
    }
    return row;
  }

  std::vector<TimeWindow> windows_;
  uint64_t width_ns_ = 0;
};

}  // namespace

std::unique_ptr<Section> NewTimelineSection(const SectionSetup&) { return std::make_unique<TimelineSection>(); }

}  // namespace allocprof
