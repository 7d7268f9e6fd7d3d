// Entry points: calls and bytes by allocator entry point (the malloc/new mix), from the heap pass.
#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

class EntryPointsSection : public Section {
 public:
  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    absl::StrAppend(&out, "\nEntry points\n");
    for (const auto& [name, cb] : p.by_entry) {
      absl::StrAppendFormat(&out, "  %-36s %15s %-5s  %12s\n", name, HumanCount(cb.first),
                            cb.first == 1 ? "call" : "calls", cb.second ? HumanBytes(cb.second) : "");
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    j.Key("by_entry_point").BeginObject();
    for (const auto& [name, cb] : p.by_entry) {
      j.Key(name).BeginObject();
      j.Key("calls").Uint(cb.first);
      j.Key("bytes").Uint(cb.second);
      j.EndObject();
    }
    j.EndObject();
  }
};

}  // namespace

std::unique_ptr<Section> NewEntryPointsSection(const SectionSetup&) { return std::make_unique<EntryPointsSection>(); }

}  // namespace allocprof
