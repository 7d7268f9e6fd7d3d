// Marks: the named points in time the program recorded (allocprof_mark, allocprof ctl ... mark),
// from the catalog.
#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

// The text lists at most this many (the JSON all).
constexpr size_t kTextMarks = 50;

class MarksSection : public Section {
 public:
  void Finish(const SectionInputs& in) override {
    for (const auto& m : in.catalog.marks) marks_.push_back({in.SinceProcessStart(m.time), m.name});
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    if (marks_.empty()) return;
    absl::StrAppend(&out, "\nMarks\n");
    size_t shown = 0;
    for (const auto& [time_s, name] : marks_) {
      if (++shown > kTextMarks) {
        absl::StrAppendFormat(&out, "  ... %d more (all in --json)\n", marks_.size() - kTextMarks);
        break;
      }
      absl::StrAppendFormat(&out, "  %10.6f s  %s\n", time_s, name);
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot) return;
    j.Key("marks").BeginArray();
    for (const auto& [time_s, name] : marks_) {
      j.BeginObject();
      j.Key("time_s").Double(time_s);
      j.Key("name").String(name);
      j.EndObject();
    }
    j.EndArray();
  }

 private:
  std::vector<std::pair<double, std::string>> marks_;  // (seconds since the process started, name)
};

}  // namespace

std::unique_ptr<Section> NewMarksSection(const SectionSetup&) { return std::make_unique<MarksSection>(); }

}  // namespace allocprof
