// Sawtooth: whether the live heap rises and falls periodically, and with what period and
// amplitude (passes/sawtooth.h, on the heap pass's fine timeline).
#include "passes/sawtooth.h"

#include "absl/strings/str_format.h"
#include "passes/timeline.h"
#include "report/render_util.h"
#include "report/section.h"

namespace allocprof {
namespace {

class SawtoothSection : public Section {
 public:
  void Finish(const SectionInputs& in) override {
    const HeapTotals& t = in.process.totals;
    if (!t.allocations && !t.frees) return;
    const Timeline& timeline = in.heap.timeline();
    std::vector<double> live;
    for (const auto& w : timeline.Fine(in.end_ns)) live.push_back(static_cast<double>(w.live_end));
    sawtooth_ = DetectSawtooth(live, static_cast<double>(timeline.fine_width_ns()) / 1e9);
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    if (p.sampling.sampled()) {
      // A pattern found in an estimate has no error bound: its depth mixes the sampling noise in.
      absl::StrAppendFormat(&out, "\nLive heap: periodic pattern %s (no error bound for a pattern in an estimate)\n",
                            kNotAvailableWhenSampling);
    } else if (sawtooth_.found) {
      absl::StrAppendFormat(&out, "\nLive heap: sawtooth, period ≈ %.3g s, amplitude ≈ %s (autocorrelation %.2f)\n",
                            sawtooth_.period_s, HumanBytes(sawtooth_.amplitude_bytes), sawtooth_.correlation);
    } else {
      absl::StrAppend(&out, "\nLive heap: no periodic pattern\n");
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot) return;
    if (p.sampling.sampled()) {
      j.Key("sawtooth").Null();
      return;
    }
    j.Key("sawtooth").BeginObject();
    j.Key("found").Bool(sawtooth_.found);
    j.Key("period_s");
    sawtooth_.found ? j.Double(sawtooth_.period_s) : j.Null();
    j.Key("amplitude_bytes");
    sawtooth_.found ? j.Double(sawtooth_.amplitude_bytes) : j.Null();
    j.Key("correlation").Double(sawtooth_.correlation);
    j.EndObject();
  }

 private:
  Sawtooth sawtooth_;
};

}  // namespace

std::unique_ptr<Section> NewSawtoothSection(const SectionSetup&) { return std::make_unique<SawtoothSection>(); }

}  // namespace allocprof
