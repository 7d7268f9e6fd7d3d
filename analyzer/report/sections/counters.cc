// Counters: units of work the program counted (allocprof_count("messages", n)), and allocations
// and bytes per unit. Its own pass: it sums the kCount events inside the analysis window. The units
// are exact (counts are not sampled); in a sampled trace the per-unit figures carry the totals' 1
// sigma over the unit count.
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

class CountersSection : public Section, public EventSink {
 public:
  EventSink* events() override { return this; }
  void OnEvent(const Event& e) override {
    if (e.kind == EventKind::kCount) counts_[e.pool] += e.size;
  }
  void OnEvents(const Event* events, size_t n) override {
    for (size_t i = 0; i < n; ++i) CountersSection::OnEvent(events[i]);
  }
  void OnHeapEvents(const Event*, size_t) override {}  // no counts among them

  void Finish(const SectionInputs& in) override {
    for (const auto& [id, n] : counts_) {
      auto name = in.catalog.counters.find(id);
      counters_.push_back({name != in.catalog.counters.end() ? name->second : absl::StrCat("counter ", id), n});
    }
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    const SamplingEstimate& s = p.sampling;
    for (const auto& [unit, n] : counters_) {
      if (n == 0) continue;
      double units = static_cast<double>(n);
      std::string count_sigma = s.sampled() && s.allocations_variance > 0
                                    ? absl::StrFormat(" ± %.2g", std::sqrt(s.allocations_variance) / units)
                                    : "";
      std::string bytes_sigma =
          s.sampled() && s.bytes_variance > 0 ? PlusMinusBytes(s.bytes_variance / (units * units)) : "";
      absl::StrAppendFormat(&out, "\nPer %s (%s counted): %.4g%s allocations, %s%s\n", unit, HumanCount(n),
                            static_cast<double>(p.totals.allocations) / units, count_sigma,
                            HumanBytes(static_cast<double>(p.totals.bytes_allocated) / units), bytes_sigma);
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot) return;
    j.Key("counters").BeginObject();
    for (const auto& [name, n] : counters_) j.Key(name).Uint(n);
    j.EndObject();
    j.Key("per_unit").BeginObject();
    for (const auto& [name, n] : counters_) {
      if (n == 0) continue;
      j.Key(name).BeginObject();
      j.Key("allocations").Double(static_cast<double>(p.totals.allocations) / n);
      j.Key("bytes").Double(static_cast<double>(p.totals.bytes_allocated) / n);
      if (p.sampling.sampled()) {
        j.Key("allocations_sigma").Double(std::sqrt(p.sampling.allocations_variance) / static_cast<double>(n));
        j.Key("bytes_sigma").Double(std::sqrt(p.sampling.bytes_variance) / static_cast<double>(n));
      }
      j.EndObject();
    }
    j.EndObject();
  }

 private:
  std::map<uint32_t, uint64_t> counts_;                     // counter id -> units
  std::vector<std::pair<std::string, uint64_t>> counters_;  // name -> units, by id
};

}  // namespace

std::unique_ptr<Section> NewCountersSection(const SectionSetup&) { return std::make_unique<CountersSection>(); }

}  // namespace allocprof
