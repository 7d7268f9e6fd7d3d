// Coverage: what part of the run the figures cover — the analysis window (--from/--to), capture
// control's pauses, and an attach — as notes under the process's title and as JSON "window" and
// "capture". The frame (report_builder.cc) works them out; this section states them.
#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

class CoverageSection : public Section {
 public:
  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    if (p.window.active) {
      const ReportWindow& w = p.window;
      absl::StrAppendFormat(&out, "   window: from %s to %s = %.3f s .. %.3f s after the process started%s\n", w.from,
                            w.to, w.from_s, w.to_s, w.opened ? "" : " (never opened: empty)");
      absl::StrAppend(&out, "   every figure below covers this window only; times are relative to its start\n");
    }
    if (!p.captures.empty()) {
      absl::StrAppend(&out, "   capture control:");
      size_t shown = 0;
      for (const auto& c : p.captures) {
        if (++shown > 12) {
          absl::StrAppendFormat(&out, " ... %d more", p.captures.size() - 12);
          break;
        }
        absl::StrAppendFormat(&out, " %s at %.3f s (%s);", c.state, c.time_s, c.reason);
      }
      absl::StrAppend(&out, "\n");
    }
    if (p.process.attached()) {
      absl::StrAppend(&out,
                      "   attached to the running process (allocprof attach): figures start at the attach; "
                      "blocks allocated before it are unknown\n");
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    const ReportWindow& w = p.window;
    j.Key("window").BeginObject();
    j.Key("active").Bool(w.active);
    j.Key("from").String(w.active ? w.from : "start");
    j.Key("to").String(w.active ? w.to : "end");
    j.Key("opened").Bool(!w.active || w.opened);
    j.Key("closed").Bool(w.closed);
    j.Key("from_s").Double(w.from_s);
    j.Key("to_s").Double(w.active ? w.to_s : p.duration_s);
    j.Key("live_allocations_at_start").Uint(p.totals.window_live_at_start);
    j.Key("live_bytes_at_start").Uint(p.totals.window_live_bytes_at_start);
    j.EndObject();
    j.Key("capture").BeginArray();
    for (const auto& c : p.captures) {
      j.BeginObject();
      j.Key("time_s").Double(c.time_s);
      j.Key("state").String(c.state);
      j.Key("reason").String(c.reason);
      j.EndObject();
    }
    j.EndArray();
  }
};

}  // namespace

std::unique_ptr<Section> NewCoverageSection(const SectionSetup&) { return std::make_unique<CoverageSection>(); }

}  // namespace allocprof
