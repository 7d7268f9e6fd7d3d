// Top stacks: the call stacks with the most calls, the most bytes, the most bytes live at the
// global peak, and the most bytes still live at the end (leaks); from the heap pass, symbolized.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "report/section.h"

namespace allocprof {
namespace {

using StackList = std::vector<std::pair<uint32_t, const StackStats*>>;

constexpr size_t kShownFrames = 8;

// What a row shows of its stack: stacks that show the same are one row.
std::string ShownFrames(const ReportStack& s) {
  std::string key;
  for (size_t i = 0; i < s.frames.size() && i < kShownFrames; ++i) absl::StrAppend(&key, FrameText(s.frames[i]), "\n");
  return key;
}

// The n stacks with the most `key`, rows that show the same frames merged (their figures added);
// candidates are the 4n + 16 top stack ids, so a row merged from many small stacks beyond those
// can be missed.
std::vector<ReportStack> TopStacks(const StackList& stacks, size_t n, uint64_t StackStats::*key, StackFrames& frames,
                                   const std::vector<std::string>& wrappers) {
  StackList chosen;
  for (const auto& entry : stacks) {
    if (entry.second->*key > 0) chosen.push_back(entry);
  }
  size_t k = std::min(4 * n + 16, chosen.size());
  std::partial_sort(chosen.begin(), chosen.begin() + k, chosen.end(), [&](const auto& a, const auto& b) {
    if (a.second->*key != b.second->*key) return a.second->*key > b.second->*key;
    return a.first < b.first;
  });
  std::vector<ReportStack> out;
  absl::flat_hash_map<std::string, size_t> rows;
  for (size_t i = 0; i < k; ++i) {
    ReportStack s = frames.Stack(chosen[i].first, *chosen[i].second);
    std::string shown = ShownFrames(s);
    auto [row, added] = rows.try_emplace(shown, out.size());
    if (added || s.frames.empty()) {
      s.label = StackLabel(s.frames, wrappers);
      out.push_back(std::move(s));
      continue;
    }
    ReportStack& r = out[row->second];
    r.merged.push_back(s.id);
    r.calls += s.calls;
    r.bytes += s.bytes;
    r.peak_bytes += s.peak_bytes;
    r.leaked_allocations += s.leaked_allocations;
    r.leaked_bytes += s.leaked_bytes;
    r.temporary += s.temporary;
    r.calls_variance += s.calls_variance;
    r.bytes_variance += s.bytes_variance;
    r.leaked_allocations_variance += s.leaked_allocations_variance;
    r.leaked_bytes_variance += s.leaked_bytes_variance;
  }
  auto value = [&](const ReportStack& s) {
    if (key == &StackStats::calls) return s.calls;
    if (key == &StackStats::bytes) return s.bytes;
    if (key == &StackStats::peak_bytes) return s.peak_bytes;
    return s.leaked_bytes;
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const ReportStack& a, const ReportStack& b) { return value(a) > value(b); });
  if (out.size() > n) out.resize(n);
  return out;
}

// "1 call", "211,666 ± 9,120 calls": a count, its 1 sigma when sampled, and the noun.
std::string Estimated(uint64_t n, double variance, const char* one, const char* many) {
  return absl::StrCat(HumanCount(n), PlusMinusCount(variance), " ", n == 1 && variance == 0 ? one : many);
}

void TextList(std::string& out, const char* title, const std::vector<ReportStack>& stacks,
              const std::function<std::string(const ReportStack&)>& headline) {
  if (stacks.empty()) return;
  absl::StrAppend(&out, "\n", title, "\n");
  int rank = 1;
  for (const auto& s : stacks) {
    std::string ids = absl::StrCat("stack ", s.id);
    if (!s.merged.empty()) absl::StrAppend(&ids, " + ", s.merged.size(), " with the same frames");
    absl::StrAppendFormat(&out, "  #%-2d %s   in %s   [%s]\n", rank++, headline(s), s.label, ids);
    if (s.frames.empty()) absl::StrAppend(&out, "      (no stack recorded)\n");
    size_t shown = 0;
    for (const auto& f : s.frames) {
      if (++shown > kShownFrames) {
        absl::StrAppendFormat(&out, "      ... %d more frames\n", s.frames.size() - kShownFrames);
        break;
      }
      absl::StrAppend(&out, "      ", FrameText(f), "\n");
    }
  }
}

// Sampled: calls, bytes and leaks are Horvitz–Thompson estimates, each with its 1 sigma (`*_sigma`);
// which allocation a thread made next is not recorded, so "temporary" is not estimable (null), and
// a stack's live bytes at the moment of the peak of an estimate is not one either (null).
void JsonList(JsonWriter& j, const char* key, const std::vector<ReportStack>& stacks, bool sampled) {
  j.Key(key);
  if (sampled && std::string_view(key) == "top_by_peak") {
    j.Null();
    return;
  }
  j.BeginArray();
  for (const auto& s : stacks) {
    j.BeginObject();
    j.Key("id").Uint(s.id);
    j.Key("label").String(s.label);
    j.Key("merged_ids").BeginArray();
    for (uint32_t id : s.merged) j.Uint(id);
    j.EndArray();
    j.Key("calls").Uint(s.calls);
    j.Key("bytes").Uint(s.bytes);
    sampled ? j.Key("peak_bytes").Null() : j.Key("peak_bytes").Uint(s.peak_bytes);
    j.Key("leaked_allocations").Uint(s.leaked_allocations);
    j.Key("leaked_bytes").Uint(s.leaked_bytes);
    if (sampled) {
      j.Key("calls_sigma").Double(std::sqrt(s.calls_variance));
      j.Key("bytes_sigma").Double(std::sqrt(s.bytes_variance));
      j.Key("leaked_allocations_sigma").Double(std::sqrt(s.leaked_allocations_variance));
      j.Key("leaked_bytes_sigma").Double(std::sqrt(s.leaked_bytes_variance));
    }
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
    const std::vector<std::string>& w = in.options.wrappers;
    by_calls_ = TopStacks(stacks, n, &StackStats::calls, in.frames, w);
    by_bytes_ = TopStacks(stacks, n, &StackStats::bytes, in.frames, w);
    by_peak_ = TopStacks(stacks, n, &StackStats::peak_bytes, in.frames, w);
    // Leaks: suppressed stacks (the runtimes' one-time allocations, --suppressions) are counted
    // apart. Every leaking stack is resolved for this.
    StackList leaking;
    const AnalysisOptions& o = in.options;
    // The user's, then the program's own (__lsan_default_suppressions, as LeakSanitizer reads both).
    std::vector<std::string> patterns = o.suppressions;
    embedded_ = LeakPatterns(in.catalog.embedded_suppressions).size();
    for (std::string& p : LeakPatterns(in.catalog.embedded_suppressions)) patterns.push_back(std::move(p));
    for (const auto& entry : stacks) {
      if (entry.second->live_count == 0) continue;
      if ((o.default_suppressions || !patterns.empty()) &&
          Suppressed(in.frames.Frames(entry.first), w, o.default_suppressions, patterns)) {
        suppressed_blocks_ += entry.second->live_count;
        suppressed_bytes_ += entry.second->live_bytes;
        continue;
      }
      leaking.push_back(entry);
    }
    leaks_ = TopStacks(leaking, n, &StackStats::live_bytes, in.frames, w);
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    // Sampled: each figure with its 1 sigma ("38.2 MiB ± 1.1 MiB"); empty in a full trace.
    TextList(out, "Top stacks by calls", by_calls_, [](const ReportStack& s) {
      return absl::StrFormat("%s, %s%s", Estimated(s.calls, s.calls_variance, "call", "calls"), HumanBytes(s.bytes),
                             PlusMinusBytes(s.bytes_variance));
    });
    TextList(out, "Top stacks by bytes", by_bytes_, [](const ReportStack& s) {
      return absl::StrFormat("%s%s in %s", HumanBytes(s.bytes), PlusMinusBytes(s.bytes_variance),
                             Estimated(s.calls, s.calls_variance, "call", "calls"));
    });
    if (p.sampling.sampled()) {
      absl::StrAppend(&out, "\nTop stacks by contribution to the peak: ", kNotAvailableWhenSampling,
                      " (the peak of an estimated live heap is not an estimate of the peak)\n");
    } else {
      TextList(out, "Top stacks by contribution to the peak", by_peak_,
               [](const ReportStack& s) { return absl::StrFormat("%s live at the peak", HumanBytes(s.peak_bytes)); });
    }
    TextList(out, "Leaks (live at end) by stack", leaks_, [](const ReportStack& s) {
      return absl::StrFormat(
          "%s%s in %s", HumanBytes(s.leaked_bytes), PlusMinusBytes(s.leaked_bytes_variance),
          Estimated(s.leaked_allocations, s.leaked_allocations_variance, "allocation", "allocations"));
    });
    if (suppressed_blocks_) {
      std::vector<std::string> by;
      if (o.default_suppressions) by.push_back("the C/C++ runtimes' one-time allocations");
      if (!o.suppressions.empty()) by.push_back("--suppressions");
      if (embedded_) by.push_back("the program's __lsan_default_suppressions");
      absl::StrAppendFormat(&out, "  suppressed: %d block%s, %d bytes (%s; not in the list above)\n",
                            suppressed_blocks_, suppressed_blocks_ == 1 ? "" : "s", suppressed_bytes_,
                            absl::StrJoin(by, ", "));
    }
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
    j.Key("suppressed_leaks").BeginObject();
    j.Key("blocks").Uint(suppressed_blocks_);
    j.Key("bytes").Uint(suppressed_bytes_);
    j.EndObject();
    j.EndObject();
  }

  void KeepTop(size_t n) override {
    for (auto* list : {&by_calls_, &by_bytes_, &by_peak_, &leaks_}) {
      if (list->size() > n) list->resize(n);
    }
  }

 private:
  std::vector<ReportStack> by_calls_, by_bytes_, by_peak_, leaks_;
  uint64_t suppressed_blocks_ = 0, suppressed_bytes_ = 0;
  size_t embedded_ = 0;  // patterns the program embedded
};

}  // namespace

std::unique_ptr<Section> NewStacksSection(const SectionSetup&) { return std::make_unique<StacksSection>(); }

}  // namespace allocprof
