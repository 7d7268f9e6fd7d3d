// Sampling: a sampled trace's figures are estimates (read/sampling.h); this says so, with the
// expected error of the allocation and byte totals. Nothing for a full trace.
#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

class SamplingSection : public Section {
 public:
  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    const SamplingEstimate& s = p.sampling;
    if (!s.sampled()) return;
    absl::StrAppendFormat(&out,
                          "   SAMPLED trace (--sample %s): every count and byte figure below is an estimate from %s "
                          "recorded allocations;\n   expected error (1 sigma): allocations %.2f%%, bytes %.2f%%;\n"
                          "   each figure shows its own (± 1 sigma); blocks of %s or more are always recorded, so "
                          "figures made only of them are exact (no ±)\n",
                          HumanBytes(static_cast<double>(s.interval_bytes)), HumanCount(s.samples),
                          100 * s.AllocationsRelError(), 100 * s.BytesRelError(),
                          HumanBytes(static_cast<double>(s.interval_bytes)));
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    const SamplingEstimate& s = p.sampling;
    if (!s.sampled()) return;
    j.Key("sampling").BeginObject();
    j.Key("interval_bytes").Uint(s.interval_bytes);
    j.Key("estimated").Bool(true);
    j.Key("samples").Uint(s.samples);
    j.Key("allocations_rel_error").Double(s.AllocationsRelError());
    j.Key("bytes_rel_error").Double(s.BytesRelError());
    j.EndObject();
  }
};

}  // namespace

std::unique_ptr<Section> NewSamplingSection(const SectionSetup&) { return std::make_unique<SamplingSection>(); }

}  // namespace allocprof
