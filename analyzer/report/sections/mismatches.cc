// Mismatched frees: blocks released by another family than allocated them (new freed by free,
// new[] by delete, malloc by delete), by allocation stack; from the heap pass. In a sampled trace
// each count is an estimate with its 1 sigma.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

struct Mismatch {
  std::string alloc_entry, free_entry;
  uint64_t count = 0;
  double variance = 0;  // sampled traces
  ReportStack stack;    // where the block was allocated
};

// Frames shown per mismatch in the text.
constexpr size_t kTextFrames = 6;

class MismatchesSection : public Section {
 public:
  void Finish(const SectionInputs& in) override {
    std::vector<std::pair<MismatchKey, uint64_t>> found(in.heap.mismatches().begin(), in.heap.mismatches().end());
    if (found.empty()) return;
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      if (a.second != b.second) return a.second > b.second;
      return a.first.stack_id < b.first.stack_id;
    });
    auto stacks = in.heap.AllStacks();
    for (size_t i = 0; i < found.size() && i < in.options.top_n; ++i) {
      const auto& [key, count] = found[i];
      Mismatch m;
      m.alloc_entry = format::kEntryPoints[static_cast<size_t>(key.alloc_entry)].name;
      m.free_entry = format::kEntryPoints[static_cast<size_t>(key.free_entry)].name;
      m.count = count;
      m.variance = in.heap.MismatchVariance(key);
      StackStats none;
      const StackStats* stats = &none;
      for (const auto& entry : stacks) {
        if (entry.first == key.stack_id) stats = entry.second;
      }
      m.stack = in.frames.Stack(key.stack_id, *stats);
      mismatches_.push_back(std::move(m));
    }
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    if (mismatches_.empty()) return;
    absl::StrAppendFormat(&out, "\nMismatched frees (%s%s)\n", HumanCount(p.totals.mismatched_frees),
                          PlusMinusCount(p.totals.mismatched_frees_variance));
    for (const auto& m : mismatches_) {
      absl::StrAppendFormat(&out, "  %s%s x allocated with %s, freed with %s\n", HumanCount(m.count),
                            PlusMinusCount(m.variance), m.alloc_entry, m.free_entry);
      for (size_t i = 0; i < m.stack.frames.size() && i < kTextFrames; ++i) {
        absl::StrAppend(&out, "      ", FrameText(m.stack.frames[i]), "\n");
      }
    }
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot) return;
    j.Key("mismatched_frees").BeginObject();
    j.Key("count").Uint(p.totals.mismatched_frees);
    if (p.sampling.sampled()) j.Key("count_sigma").Double(std::sqrt(p.totals.mismatched_frees_variance));
    j.Key("stacks").BeginArray();
    for (const auto& m : mismatches_) {
      j.BeginObject();
      j.Key("allocated_with").String(m.alloc_entry);
      j.Key("freed_with").String(m.free_entry);
      j.Key("count").Uint(m.count);
      if (p.sampling.sampled()) j.Key("count_sigma").Double(std::sqrt(m.variance));
      WriteFrames(j, m.stack.frames);
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
  }

  void KeepTop(size_t n) override {
    if (mismatches_.size() > n) mismatches_.resize(n);
  }

 private:
  std::vector<Mismatch> mismatches_;
};

}  // namespace

std::unique_ptr<Section> NewMismatchesSection(const SectionSetup&) { return std::make_unique<MismatchesSection>(); }

}  // namespace allocprof
