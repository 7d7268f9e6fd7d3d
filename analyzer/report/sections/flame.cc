// Flame: every stack that allocated as one call tree (report/flame.h), with each node's calls and
// bytes per timeline window, for the flame graphs of reports/ and report.html. Only with
// AnalysisOptions::flame (allocprof report); its own pass (passes/stack_windows.h) counts each
// stack's allocations over time. JSON only; left out when the report's options.flame is off.
#include "report/flame.h"

#include "passes/stack_windows.h"
#include "report/section.h"

namespace allocprof {
namespace {

class FlameSection : public Section {
 public:
  explicit FlameSection(const SectionSetup& setup) {
    if (setup.options.flame) windows_ = std::make_unique<StackWindows>();
  }

  EventSink* events() override { return windows_.get(); }

  void Finish(const SectionInputs& in) override {
    if (!windows_) return;
    // The report's timeline windows (report/sections/timeline.cc computes the same).
    const HeapTotals& t = in.process.totals;
    std::vector<TimeWindow> timeline;
    if (t.allocations || t.frees) {
      timeline = in.heap.timeline().Windows(in.end_ns, in.options.windows, in.options.window_ns);
    }
    tree_ = BuildFlameTree(in.catalog, in.heap.AllStacks(), windows_->Cells(in.process.origin_ns, timeline),
                           timeline.size(), [&](uint64_t address) { return in.frames.AddressFrames(address); });
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot || !o.flame || !tree_.present) return;
    j.Key("flame").BeginObject();
    WriteFlameJson(j, tree_, p.sampling.sampled());
    j.EndObject();
  }

 private:
  std::unique_ptr<StackWindows> windows_;
  FlameTree tree_;
};

}  // namespace

std::unique_ptr<Section> NewFlameSection(const SectionSetup& setup) { return std::make_unique<FlameSection>(setup); }

}  // namespace allocprof
