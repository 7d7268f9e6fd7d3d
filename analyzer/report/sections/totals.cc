// Totals: the heap pass's counts and bytes (allocations, frees, peak, live at end, temporaries,
// short-lived, large objects, mismatched frees), and what the analysis window, capture control and
// an attach change about them.
#include <cmath>

#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

class TotalsSection : public Section {
 public:
  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    const HeapTotals& t = p.totals;
    const SamplingEstimate& s = p.sampling;
    double rate = p.duration_s > 0 ? t.allocations / p.duration_s : 0;
    double brate = p.duration_s > 0 ? t.bytes_allocated / p.duration_s : 0;
    // Sampled: each estimate with its 1 sigma, " ± 1,234" (empty in a full trace); a rate's is its
    // count's over the (exact) duration.
    double d2 = p.duration_s > 0 ? p.duration_s * p.duration_s : 0;
    std::string rate_sigma =
        d2 > 0 && s.allocations_variance > 0 ? absl::StrCat(PlusMinusCount(s.allocations_variance / d2), "/s") : "";
    std::string brate_sigma =
        d2 > 0 && s.bytes_variance > 0 ? absl::StrCat(PlusMinusBytes(s.bytes_variance / d2), "/s") : "";
    absl::StrAppend(&out, "\nTotals\n");
    absl::StrAppendFormat(&out, "  allocations        %15s%s   %s/s%s (realloc counts once)\n",
                          HumanCount(t.allocations), PlusMinusCount(s.allocations_variance),
                          HumanCount(static_cast<uint64_t>(rate)), rate_sigma);
    absl::StrAppendFormat(&out, "  frees              %15s%s\n", HumanCount(t.frees), PlusMinusCount(t.frees_variance));
    absl::StrAppendFormat(&out, "  bytes allocated    %15s%s   %s/s%s\n", HumanBytes(t.bytes_allocated),
                          PlusMinusBytes(s.bytes_variance), HumanBytes(brate), brate_sigma);
    absl::StrAppendFormat(&out, "  bytes freed        %15s%s\n", HumanBytes(t.bytes_freed),
                          PlusMinusBytes(t.bytes_freed_variance));
    if (p.sampling.sampled()) {
      // The maximum over time of an estimated live heap overstates the peak (it picks the noise's
      // highs): not an estimate of anything.
      absl::StrAppendFormat(&out, "  peak live          %s (the peak of an estimate is biased upwards)\n",
                            kNotAvailableWhenSampling);
    } else {
      absl::StrAppendFormat(&out, "  peak live          %15s   at %.3f s\n", HumanBytes(t.peak_live_bytes),
                            t.peak_time_ns > p.origin_ns ? (t.peak_time_ns - p.origin_ns) / 1e9 : 0.0);
    }
    LiveAtEnd(p, out);
    if (t.fate_unknown_allocations || t.frees_after_damage) {
      absl::StrAppendFormat(&out,
                            "  fate unknown       %15s   in %s made before damage: their frees may be in the lost "
                            "bytes (not leaks)\n",
                            HumanBytes(t.fate_unknown_bytes),
                            HumanCountOf(t.fate_unknown_allocations, "block", "blocks"));
      absl::StrAppendFormat(&out,
                            "  frees after damage %15s   of blocks never seen allocated: allocated in the lost "
                            "bytes, likely (not anomalies)\n",
                            HumanCount(t.frees_after_damage));
    }
    Carried(p, out);
    if (p.sampling.sampled()) {
      absl::StrAppend(
          &out, "  temporary          not available when sampling (the thread's next allocation is not recorded)\n");
      absl::StrAppendFormat(&out, "  short-lived        %15s   ± %s (1 sigma), %s: freed within %s\n",
                            HumanCount(t.short_lived),
                            HumanCount(static_cast<uint64_t>(std::sqrt(t.short_lived_variance) + 0.5)),
                            Percent(t.short_lived, t.allocations), absl::StrFormat("%g ms", o.short_lived_ns / 1e6));
    } else {
      absl::StrAppendFormat(&out, "  temporary          %15s   %s: freed before the thread allocated again\n",
                            HumanCount(t.temporary), Percent(t.temporary, t.allocations));
      absl::StrAppendFormat(&out, "  short-lived        %15s   %s: freed within %s\n", HumanCount(t.short_lived),
                            Percent(t.short_lived, t.allocations), absl::StrFormat("%g ms", o.short_lived_ns / 1e6));
    }
    absl::StrAppendFormat(&out, "  large objects      %15s%s   %s%s (>= %s B)%s\n", HumanCount(t.large_objects),
                          PlusMinusCount(t.large_objects_variance), HumanBytes(t.large_object_bytes),
                          PlusMinusBytes(t.large_object_bytes_variance), HumanCount(o.large_object_bytes),
                          NoneRecordedNote(s.interval_bytes, t.large_objects, o.large_object_bytes));
    absl::StrAppendFormat(&out, "  mismatched frees   %15s%s%s\n", HumanCount(t.mismatched_frees),
                          PlusMinusCount(t.mismatched_frees_variance),
                          NoneRecordedNote(s.interval_bytes, t.mismatched_frees));
    if (p.process.attached()) {
      absl::StrAppendFormat(&out, "  pre-attach frees   %15s   freed, allocated before attach\n",
                            HumanCount(t.frees_of_pre_attach));
    }
    if (p.process.forked()) {
      absl::StrAppendFormat(&out, "  inherited at fork  %15s   freed, allocated by the parent before the fork\n",
                            HumanCount(t.frees_inherited_at_fork));
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    const HeapTotals& t = p.totals;
    j.Key("totals").BeginObject();
    j.Key("allocations").Uint(t.allocations);
    j.Key("frees").Uint(t.frees);
    j.Key("bytes_allocated").Uint(t.bytes_allocated);
    j.Key("bytes_freed").Uint(t.bytes_freed);
    if (p.sampling.sampled()) {  // the peak of an estimate is not an estimate of the peak
      j.Key("peak_live_bytes").Null();
      j.Key("peak_time_s").Null();
    } else {
      j.Key("peak_live_bytes").Uint(t.peak_live_bytes);
      j.Key("peak_time_s").Double(RelSeconds(t.peak_time_ns, p.origin_ns));
    }
    j.Key("leaked_allocations").Uint(t.leaked_allocations);
    j.Key("leaked_bytes").Uint(t.leaked_bytes);
    if (p.sampling.sampled()) {
      j.Key("allocations_sigma").Double(std::sqrt(p.sampling.allocations_variance));
      j.Key("bytes_allocated_sigma").Double(std::sqrt(p.sampling.bytes_variance));
      j.Key("leaked_allocations_sigma").Double(std::sqrt(t.leaked_allocations_variance));
      j.Key("leaked_bytes_sigma").Double(std::sqrt(t.leaked_bytes_variance));
      j.Key("frees_sigma").Double(std::sqrt(t.frees_variance));
      j.Key("bytes_freed_sigma").Double(std::sqrt(t.bytes_freed_variance));
      j.Key("large_objects_sigma").Double(std::sqrt(t.large_objects_variance));
      j.Key("large_object_bytes_sigma").Double(std::sqrt(t.large_object_bytes_variance));
      j.Key("mismatched_frees_sigma").Double(std::sqrt(t.mismatched_frees_variance));
      // A 0 no recorded allocation contributed to, and what it may hide at 95% (render_util.h);
      // null when the figure is not such a 0.
      uint64_t interval = p.sampling.interval_bytes;
      std::optional<NoneRecordedBound> leaks = NoneRecorded(interval, t.leaked_bytes);
      std::optional<NoneRecordedBound> large = NoneRecorded(interval, t.large_objects, o.large_object_bytes);
      std::optional<NoneRecordedBound> mismatched = NoneRecorded(interval, t.mismatched_frees);
      j.Key("leaked_bytes_upper_95");
      leaks ? j.Double(leaks->bytes) : j.Null();
      j.Key("large_objects_upper_95");
      large ? j.Uint(large->blocks) : j.Null();
      j.Key("large_object_bytes_upper_95");
      large ? j.Double(large->bytes) : j.Null();
      j.Key("mismatched_frees_bytes_upper_95");
      mismatched ? j.Double(mismatched->bytes) : j.Null();
      double d = p.duration_s > 0 ? p.duration_s : 0;
      j.Key("allocations_per_second_sigma").Double(d > 0 ? std::sqrt(p.sampling.allocations_variance) / d : 0);
      j.Key("bytes_per_second_sigma").Double(d > 0 ? std::sqrt(p.sampling.bytes_variance) / d : 0);
      j.Key("temporary_allocations").Null();  // not estimable from a sample
      j.Key("short_lived_allocations").Uint(t.short_lived);
      j.Key("short_lived_allocations_sigma").Double(std::sqrt(t.short_lived_variance));
      j.Key("short_lived_allocations_error").Double(std::sqrt(t.short_lived_variance));  // the old name
    } else {
      j.Key("temporary_allocations").Uint(t.temporary);
      j.Key("short_lived_allocations").Uint(t.short_lived);
    }
    j.Key("large_objects").Uint(t.large_objects);
    j.Key("large_object_bytes").Uint(t.large_object_bytes);
    j.Key("mismatched_frees").Uint(t.mismatched_frees);
    j.Key("frees_of_unknown").Uint(t.frees_of_unknown);
    j.Key("fate_unknown_allocations").Uint(t.fate_unknown_allocations);
    j.Key("fate_unknown_bytes").Uint(t.fate_unknown_bytes);
    j.Key("frees_after_damage").Uint(t.frees_after_damage);
    j.Key("frees_unrecorded").Uint(t.frees_unrecorded);
    j.Key("inherited_frees").Uint(t.inherited_frees);
    j.Key("inherited_bytes_freed").Uint(t.inherited_bytes_freed);
    if (p.process.attached()) j.Key("frees_of_pre_attach").Uint(t.frees_of_pre_attach);
    if (p.process.forked()) j.Key("frees_inherited_at_fork").Uint(t.frees_inherited_at_fork);
    j.Key("duration_s").Double(p.duration_s);
    j.Key("allocations_per_second").Double(p.duration_s > 0 ? t.allocations / p.duration_s : 0);
    j.Key("bytes_per_second").Double(p.duration_s > 0 ? t.bytes_allocated / p.duration_s : 0);
    j.Key("threads").Uint(p.threads);
    j.Key("events").Uint(p.events);
    j.EndObject();
  }

 private:
  // What is still live where the figures end: the process's end, the window's, or the capture's.
  static void LiveAtEnd(const ProcessReport& p, std::string& out) {
    const HeapTotals& t = p.totals;
    bool window_closed = p.window.active && p.window.closed;
    bool capture_ended = !p.captures.empty() && p.captures.back().state == "ended";
    // Sampled: each with its 1 sigma (empty in a full trace).
    std::string bytes_sigma = PlusMinusBytes(t.leaked_bytes_variance);
    std::string blocks =
        absl::StrCat(HumanCount(t.leaked_allocations), PlusMinusCount(t.leaked_allocations_variance),
                     t.leaked_allocations == 1 && t.leaked_allocations_variance == 0 ? " allocation" : " allocations");
    if (capture_ended && !window_closed) {
      absl::StrAppendFormat(&out, "  live at capture end%15s%s   in %s (frees after --stop-after are not recorded)\n",
                            HumanBytes(t.leaked_bytes), bytes_sigma, blocks);
    } else if (window_closed) {
      absl::StrAppendFormat(&out, "  live at window end %15s%s   in %s made in the window\n",
                            HumanBytes(t.leaked_bytes), bytes_sigma, blocks);
    } else {
      absl::StrAppendFormat(&out, "  live at end        %15s%s   in %s (leaks)%s\n", HumanBytes(t.leaked_bytes),
                            bytes_sigma, blocks, NoneRecordedNote(p.sampling.interval_bytes, t.leaked_bytes));
    }
  }

  // Blocks the figures did not see allocated: carried into the window, or allocated while paused.
  static void Carried(const ProcessReport& p, std::string& out) {
    const HeapTotals& t = p.totals;
    if (p.window.active) {
      absl::StrAppendFormat(&out, "  live at start      %15s   in %s made before the window (carried in)\n",
                            HumanBytes(t.window_live_bytes_at_start),
                            HumanCountOf(t.window_live_at_start, "allocation", "allocations"));
      absl::StrAppendFormat(&out, "  inherited frees    %15s   %s: blocks allocated before the window (not in frees)\n",
                            HumanCount(t.inherited_frees), HumanBytes(t.inherited_bytes_freed));
    }
    if (t.frees_unrecorded) {
      absl::StrAppendFormat(&out,
                            "  unrecorded frees   %15s   of blocks allocated while capture was paused (not in frees)\n",
                            HumanCount(t.frees_unrecorded));
    }
  }
};

}  // namespace

std::unique_ptr<Section> NewTotalsSection(const SectionSetup&) { return std::make_unique<TotalsSection>(); }

}  // namespace allocprof
