// Gen-style pressure: what a .NET-style generational collector would have done with this
// allocation stream (passes/gen_model.h), fed from the heap pass's live set.
#include "absl/strings/str_format.h"
#include "passes/gen_model.h"
#include "report/section.h"

namespace allocprof {
namespace {

// At most this many rows of the per-collection table go into the JSON (evenly sampled).
constexpr size_t kMaxJsonCollections = 5000;

class GenSection : public Section {
 public:
  void Finish(const SectionInputs& in) override {
    if (!in.heap.has_gen()) return;
    has_gen_ = true;
    gen_ = in.heap.FinishGen(in.end_ns);
    llc_source_ = in.heap.gen_llc_source();
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    if (!has_gen_) return;
    const GenResult& g = gen_;
    absl::StrAppend(&out, "\nGen-style pressure (what a .NET-style generational collector would have done)\n");
    if (p.sampling.sampled()) {
      // When a budget runs out depends on every allocation's size and time: the model run on a
      // weighted sample is not an estimate of the model run on the full stream.
      absl::StrAppend(&out, "  ", kNotAvailableWhenSampling,
                      " (collections depend on every allocation, which a sampled trace does not record)\n");
      return;
    }
    absl::StrAppendFormat(&out, "  collections   Gen0 %s, Gen1 %s, Gen2 %s   (%.1f per second)\n", HumanCount(g.gen0),
                          HumanCount(g.gen1), HumanCount(g.gen2), g.collections_per_second);
    absl::StrAppendFormat(&out, "  allocated     %s small, %s large-object heap (%s >= %s B)\n",
                          HumanBytes(g.soh_bytes), HumanBytes(g.loh_bytes),
                          HumanCountOf(g.loh_allocations, "object", "objects"), HumanCount(g.parameters.loh_threshold));
    absl::StrAppendFormat(&out, "  promoted      %s; survival Gen0 %.1f%%, Gen1 %.1f%%, Gen2 %.1f%%, LOH %.1f%%\n",
                          HumanBytes(g.promoted_bytes), 100 * g.survival.gen0, 100 * g.survival.gen1,
                          100 * g.survival.gen2, 100 * g.survival.loh);
    if (g.sawtooth.found) {
      absl::StrAppendFormat(&out, "  heap          sawtooth, period ≈ %.3g s, amplitude ≈ %s; peak %s\n",
                            g.sawtooth.period_s, HumanBytes(g.sawtooth.amplitude_bytes), HumanBytes(g.peak_heap_bytes));
    } else {
      absl::StrAppendFormat(&out, "  heap          no periodic pattern; peak %s\n", HumanBytes(g.peak_heap_bytes));
    }
    TextParameters(out);
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot || !has_gen_) return;
    if (p.sampling.sampled()) {  // not estimable from a sample (see RenderText)
      j.Key("gen").Null();
      return;
    }
    const GenResult& g = gen_;
    j.Key("gen").BeginObject();
    j.Key("gen0").Uint(g.gen0);
    j.Key("gen1").Uint(g.gen1);
    j.Key("gen2").Uint(g.gen2);
    j.Key("loh_bytes").Uint(g.loh_bytes);
    j.Key("loh_allocations").Uint(g.loh_allocations);
    j.Key("soh_bytes").Uint(g.soh_bytes);
    j.Key("promoted_bytes").Uint(g.promoted_bytes);
    j.Key("peak_heap_bytes").Uint(g.peak_heap_bytes);
    j.Key("survival").BeginObject();
    j.Key("gen0").Double(g.survival.gen0);
    j.Key("gen1").Double(g.survival.gen1);
    j.Key("gen2").Double(g.survival.gen2);
    j.Key("loh").Double(g.survival.loh);
    j.EndObject();
    j.Key("collections_per_second").Double(g.collections_per_second);
    JsonWindows(j);
    JsonCollections(j);
    j.Key("sawtooth").BeginObject();
    j.Key("found").Bool(g.sawtooth.found);
    j.Key("period_s");
    g.sawtooth.found ? j.Double(g.sawtooth.period_s) : j.Null();
    j.Key("amplitude_bytes");
    g.sawtooth.found ? j.Double(g.sawtooth.amplitude_bytes) : j.Null();
    j.EndObject();
    JsonParameters(j);
    j.EndObject();
  }

 private:
  void TextParameters(std::string& out) const {
    const GenParameters& q = gen_.parameters;
    absl::StrAppendFormat(&out,
                          "  parameters    Gen0 budget %s (cache %s, %s); Gen1 min %s max %s; Gen2 min %s; LOH min %s; "
                          "growth Gen1 %.2g-%.2g, Gen2 %.2g-%.2g, LOH %.3g-%.2g\n",
                          HumanBytes(q.gen0_budget), HumanBytes(q.llc_bytes), llc_source_, HumanBytes(q.gen1_min),
                          q.gen1_max ? HumanBytes(q.gen1_max) : "none", HumanBytes(q.gen2_min), HumanBytes(q.loh_min),
                          q.gen1_growth_min, q.gen1_growth_max, q.gen2_growth_min, q.gen2_growth_max, q.loh_growth_min,
                          q.loh_growth_max);
  }

  void JsonWindows(JsonWriter& j) const {
    j.Key("windows").BeginArray();
    for (const auto& w : gen_.windows) {
      j.BeginObject();
      j.Key("start_s").Double(Seconds(w.start_ns));
      j.Key("end_s").Double(Seconds(w.end_ns));
      j.Key("gen0").Uint(w.gen0);
      j.Key("gen1").Uint(w.gen1);
      j.Key("gen2").Uint(w.gen2);
      j.Key("per_second").Double(w.per_second);
      j.EndObject();
    }
    j.EndArray();
  }

  void JsonCollections(JsonWriter& j) const {
    const GenResult& g = gen_;
    size_t step = (g.collections.size() + kMaxJsonCollections - 1) / kMaxJsonCollections;
    if (step == 0) step = 1;
    j.Key("collections_stride").Uint(g.collection_stride * step);
    j.Key("collections").BeginArray();
    for (size_t i = 0; i < g.collections.size(); i += step) {
      const GenCollection& c = g.collections[i];
      j.BeginObject();
      j.Key("index").Uint(c.index);
      j.Key("time_s").Double(Seconds(c.time_ns));
      j.Key("generation").Uint(static_cast<uint64_t>(c.generation));
      j.Key("loh_triggered").Bool(c.loh_triggered);
      j.Key("heap_before").Uint(c.heap_before);
      j.Key("heap_after").Uint(c.heap_after);
      j.Key("promoted_bytes").Uint(c.promoted_bytes);
      j.EndObject();
    }
    j.EndArray();
  }

  void JsonParameters(JsonWriter& j) const {
    const GenParameters& q = gen_.parameters;
    j.Key("parameters").BeginObject();
    j.Key("llc_bytes").Uint(q.llc_bytes);
    j.Key("llc_source").String(llc_source_);
    j.Key("gen0_budget").Uint(q.gen0_budget);
    j.Key("gen1_min").Uint(q.gen1_min);
    j.Key("gen1_max").Uint(q.gen1_max);
    j.Key("gen2_min").Uint(q.gen2_min);
    j.Key("gen2_max").Uint(q.gen2_max);
    j.Key("loh_min").Uint(q.loh_min);
    j.Key("loh_max").Uint(q.loh_max);
    j.Key("gen1_growth").BeginArray().Double(q.gen1_growth_min).Double(q.gen1_growth_max).EndArray();
    j.Key("gen2_growth").BeginArray().Double(q.gen2_growth_min).Double(q.gen2_growth_max).EndArray();
    j.Key("loh_growth").BeginArray().Double(q.loh_growth_min).Double(q.loh_growth_max).EndArray();
    j.Key("loh_threshold").Uint(q.loh_threshold);
    j.EndObject();
  }

  bool has_gen_ = false;
  GenResult gen_;
  std::string llc_source_;  // where the Gen0 budget's cache size came from
};

}  // namespace

std::unique_ptr<Section> NewGenSection(const SectionSetup&) { return std::make_unique<GenSection>(); }

}  // namespace allocprof
