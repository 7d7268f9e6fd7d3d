// Top stacks: the call stacks with the most calls, the most bytes, the most bytes live at the
// global peak, and the most bytes still live at the end (leaks); from the heap pass, symbolized.
#include <algorithm>
#include <functional>

#include "absl/strings/str_format.h"
#include "report/section.h"

namespace allocprof {
namespace {

using StackList = std::vector<std::pair<uint32_t, const StackStats*>>;

std::vector<ReportStack> TopStacks(const StackList& stacks, size_t n, uint64_t StackStats::*key, StackFrames& frames) {
  StackList chosen;
  for (const auto& entry : stacks) {
    if (entry.second->*key > 0) chosen.push_back(entry);
  }
  size_t k = std::min(n, chosen.size());
  std::partial_sort(chosen.begin(), chosen.begin() + k, chosen.end(), [&](const auto& a, const auto& b) {
    if (a.second->*key != b.second->*key) return a.second->*key > b.second->*key;
    return a.first < b.first;
  });
  std::vector<ReportStack> out;
  for (size_t i = 0; i < k; ++i) out.push_back(frames.Stack(chosen[i].first, *chosen[i].second));
  return out;
}

void TextList(std::string& out, const char* title, const std::vector<ReportStack>& stacks,
              const std::function<std::string(const ReportStack&)>& headline) {
  if (stacks.empty()) return;
  absl::StrAppend(&out, "\n", title, "\n");
  int rank = 1;
  for (const auto& s : stacks) {
    absl::StrAppendFormat(&out, "  #%-2d %s   [stack %d]\n", rank++, headline(s), s.id);
    if (s.frames.empty()) absl::StrAppend(&out, "      (no stack recorded)\n");
    size_t shown = 0;
    for (const auto& f : s.frames) {
      if (++shown > 8) {
        absl::StrAppendFormat(&out, "      ... %d more frames\n", s.frames.size() - 8);
        break;
      }
      absl::StrAppend(&out, "      ", FrameText(f), "\n");
    }
  }
}

// Sampled: which allocation a thread made next is not recorded, so "temporary" is not estimable (null).
void JsonList(JsonWriter& j, const char* key, const std::vector<ReportStack>& stacks, bool sampled) {
  j.Key(key).BeginArray();
  for (const auto& s : stacks) {
    j.BeginObject();
    j.Key("id").Uint(s.id);
    j.Key("calls").Uint(s.calls);
    j.Key("bytes").Uint(s.bytes);
    j.Key("peak_bytes").Uint(s.peak_bytes);
    j.Key("leaked_allocations").Uint(s.leaked_allocations);
    j.Key("leaked_bytes").Uint(s.leaked_bytes);
    sampled ? j.Key("temporary_allocations").Null() : j.Key("temporary_allocations").Uint(s.temporary);
    WriteFrames(j, s.frames);
    j.EndObject();
  }
  j.EndArray();
}

class StacksSection : public Section {
 public:
  void Finish(const SectionInputs& in) override {
    StackList stacks = in.heap.AllStacks();
    size_t n = in.options.top_n;
    by_calls_ = TopStacks(stacks, n, &StackStats::calls, in.frames);
    by_bytes_ = TopStacks(stacks, n, &StackStats::bytes, in.frames);
    by_peak_ = TopStacks(stacks, n, &StackStats::peak_bytes, in.frames);
    leaks_ = TopStacks(stacks, n, &StackStats::live_bytes, in.frames);
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    TextList(out, "Top stacks by calls", by_calls_, [](const ReportStack& s) {
      return absl::StrFormat("%s, %s", HumanCountOf(s.calls, "call", "calls"), HumanBytes(s.bytes));
    });
    TextList(out, "Top stacks by bytes", by_bytes_, [](const ReportStack& s) {
      return absl::StrFormat("%s in %s", HumanBytes(s.bytes), HumanCountOf(s.calls, "call", "calls"));
    });
    TextList(out, "Top stacks by contribution to the peak", by_peak_,
             [](const ReportStack& s) { return absl::StrFormat("%s live at the peak", HumanBytes(s.peak_bytes)); });
    TextList(out, "Leaks (live at end) by stack", leaks_, [](const ReportStack& s) {
      return absl::StrFormat("%s in %s", HumanBytes(s.leaked_bytes),
                             HumanCountOf(s.leaked_allocations, "allocation", "allocations"));
    });
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place == JsonPlace::kProcessList) {
      JsonList(j, "top_by_bytes", by_bytes_, p.sampling.sampled());
      return;
    }
    j.Key("stacks").BeginObject();
    JsonList(j, "top_by_calls", by_calls_, p.sampling.sampled());
    JsonList(j, "top_by_bytes", by_bytes_, p.sampling.sampled());
    JsonList(j, "top_by_peak", by_peak_, p.sampling.sampled());
    JsonList(j, "leaks", leaks_, p.sampling.sampled());
    j.EndObject();
  }

  void KeepTop(size_t n) override {
    for (auto* list : {&by_calls_, &by_bytes_, &by_peak_, &leaks_}) {
      if (list->size() > n) list->resize(n);
    }
  }

 private:
  std::vector<ReportStack> by_calls_, by_bytes_, by_peak_, leaks_;
};

}  // namespace

std::unique_ptr<Section> NewStacksSection(const SectionSetup&) { return std::make_unique<StacksSection>(); }

}  // namespace allocprof
