// Entry points: calls and bytes by allocator entry point (the malloc/new mix), from the heap pass;
// in a sampled trace each with its 1 sigma.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

class EntryPointsSection : public Section {
 public:
  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    absl::StrAppend(&out, "\nEntry points\n");
    for (size_t i = 0; i < p.by_entry.size(); ++i) {
      const auto& [name, cb] = p.by_entry[i];
      if (p.sampling.sampled()) {  // estimates: each with its 1 sigma
        const auto& [calls_variance, bytes_variance] = p.by_entry_variance[i];
        std::string calls = absl::StrCat(HumanCount(cb.first), PlusMinusCount(calls_variance));
        std::string bytes = cb.second ? absl::StrCat(HumanBytes(cb.second), PlusMinusBytes(bytes_variance)) : "";
        absl::StrAppendFormat(&out, "  %-36s %23s %-5s  %22s\n", name, calls,
                              cb.first == 1 && calls_variance == 0 ? "call" : "calls", bytes);
        continue;
      }
      absl::StrAppendFormat(&out, "  %-36s %15s %-5s  %12s\n", name, HumanCount(cb.first),
                            cb.first == 1 ? "call" : "calls", cb.second ? HumanBytes(cb.second) : "");
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    j.Key("by_entry_point").BeginObject();
    for (size_t i = 0; i < p.by_entry.size(); ++i) {
      const auto& [name, cb] = p.by_entry[i];
      j.Key(name).BeginObject();
      j.Key("calls").Uint(cb.first);
      j.Key("bytes").Uint(cb.second);
      if (p.sampling.sampled()) {
        j.Key("calls_sigma").Double(std::sqrt(p.by_entry_variance[i].first));
        j.Key("bytes_sigma").Double(std::sqrt(p.by_entry_variance[i].second));
      }
      j.EndObject();
    }
    j.EndObject();
  }
};

}  // namespace

std::unique_ptr<Section> NewEntryPointsSection(const SectionSetup&) { return std::make_unique<EntryPointsSection>(); }

}  // namespace allocprof
