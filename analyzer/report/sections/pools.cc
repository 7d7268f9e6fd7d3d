// Pools: for programs whose pools call include/allocprof/pool.h — rents, hits, fall-throughs by
// kind, bucket and stack, dropped returns, and the sizing advisor. Its own pass:
// passes/pool_analysis.h.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "passes/pool_analysis.h"
#include "report/section.h"

namespace allocprof {
namespace {

struct PoolBucketRow {
  uint64_t size = 0, rents = 0, hits = 0, max_concurrent = 0, dropped_full = 0;
  std::array<uint64_t, kFallKinds> fallthrough{};  // oversize, exhausted, fill
};

struct PoolStackRow {
  uint64_t rents = 0, bytes = 0;
  std::array<uint64_t, kFallKinds> by_kind{};
  std::vector<ReportFrame> frames;
};

struct PoolReport {
  std::string name;
  uint64_t max_block = 0, slots_per_bucket = 0;
  uint64_t rents = 0, hits = 0;
  std::array<uint64_t, kFallKinds> fallthrough{};  // oversize, exhausted, fill
  uint64_t fallthrough_bytes = 0, fallthrough_allocations = 0;
  uint64_t dropped_full = 0, dropped_oversize = 0;
  std::vector<PoolBucketRow> buckets;
  std::vector<PoolStackRow> top_fallthrough_stacks;
  PoolAdvice advice;
};

// In the text: fall-through stacks per pool, frames per stack.
constexpr size_t kTextStacks = 3;
constexpr size_t kTextFrames = 5;

void JsonFallthrough(JsonWriter& j, const std::array<uint64_t, kFallKinds>& by_kind) {
  static const char* kKinds[] = {"oversize", "exhausted", "fill"};
  j.Key("fallthrough").BeginObject();
  for (int k = 0; k < kFallKinds; ++k) j.Key(kKinds[k]).Uint(by_kind[k]);
  j.EndObject();
}

class PoolsSection : public Section {
 public:
  explicit PoolsSection(const SectionSetup& setup) : pools_(setup.catalog, setup.options.pool_target_hit_rate) {}

  EventSink* events() override { return &pools_; }

  void Finish(const SectionInputs& in) override {
    pools_.Finish();
    for (const auto& [id, p] : pools_.pools()) reports_.push_back(Build(id, p, in));
  }

  void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const override {
    for (const auto& pool : reports_) Text(pool, p.sampling.sampled(), out);
  }

  void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const override {
    if (place != JsonPlace::kRoot) return;
    j.Key("pools").BeginArray();
    for (const auto& pool : reports_) Json(pool, o, p.sampling.sampled(), j);
    j.EndArray();
  }

 private:
  static PoolReport Build(uint32_t id, const PoolStats& p, const SectionInputs& in) {
    PoolReport r;
    r.name = p.info.name.empty() ? absl::StrCat("pool ", id) : p.info.name;
    r.max_block = p.info.max_block;
    r.slots_per_bucket = p.info.slots_per_bucket;
    r.rents = p.rents;
    r.hits = p.hits;
    r.fallthrough = p.fallthrough;
    r.fallthrough_bytes = p.fallthrough_bytes;
    r.fallthrough_allocations = p.fallthrough_allocations;
    r.dropped_full = p.dropped_full;
    r.dropped_oversize = p.dropped_oversize;
    for (int i = 0; i < kPoolBuckets; ++i) {
      const PoolBucketStats& b = p.buckets[i];
      if (b.rents == 0 && b.dropped_full == 0) continue;
      r.buckets.push_back({PoolBucketSize(i), b.rents, b.hits, b.max_concurrent, b.dropped_full, b.fallthrough});
    }
    std::vector<std::pair<uint32_t, const PoolFallStack*>> stacks;
    for (const auto& [stack, s] : p.fall_stacks) stacks.push_back({stack, &s});
    std::sort(stacks.begin(), stacks.end(), [](const auto& a, const auto& b) {
      if (a.second->bytes != b.second->bytes) return a.second->bytes > b.second->bytes;
      return a.first < b.first;
    });
    for (size_t i = 0; i < stacks.size() && i < in.options.top_n; ++i) {
      const PoolFallStack& s = *stacks[i].second;
      r.top_fallthrough_stacks.push_back({s.rents, s.bytes, s.by_kind, in.frames.Frames(stacks[i].first)});
    }
    r.advice = p.advice;
    return r;
  }

  // Sampled: the pool hooks record every rent and return (they are not sampled), so rents, hits,
  // fall-throughs, drops and the advisor are exact; the bytes allocated inside fall-through rents
  // come from the sampled allocations and are withheld.
  static void Text(const PoolReport& pool, bool sampled, std::string& out) {
    uint64_t falls = pool.fallthrough[0] + pool.fallthrough[1] + pool.fallthrough[2];
    absl::StrAppendFormat(&out, "\nPool \"%s\" (largest block %s, %d slots per bucket)%s\n", pool.name,
                          HumanBytes(pool.max_block), pool.slots_per_bucket,
                          sampled ? " — exact: pool hooks are not sampled" : "");
    absl::StrAppendFormat(&out, "  rents %s, served %s (%s), fell through %s: oversize %s, exhausted %s, fill %s; %s\n",
                          HumanCount(pool.rents), HumanCount(pool.hits), Percent(pool.hits, pool.rents),
                          HumanCount(falls), HumanCount(pool.fallthrough[0]), HumanCount(pool.fallthrough[1]),
                          HumanCount(pool.fallthrough[2]),
                          sampled ? absl::StrCat("bytes fallen through ", kNotAvailableWhenSampling)
                                  : HumanBytes(pool.fallthrough_bytes));
    absl::StrAppendFormat(&out, "  returns dropped: %s (bucket full), %s (oversize)\n", HumanCount(pool.dropped_full),
                          HumanCount(pool.dropped_oversize));
    absl::StrAppendFormat(&out, "  %-12s %10s %10s %10s %10s %10s %10s %12s\n", "bucket", "rents", "hits", "oversize",
                          "exhausted", "fill", "dropped", "max out");
    for (const auto& b : pool.buckets) {
      absl::StrAppendFormat(&out, "  %-12s %10s %10s %10s %10s %10s %10s %12s\n", HumanBytes(b.size),
                            HumanCount(b.rents), HumanCount(b.hits), HumanCount(b.fallthrough[0]),
                            HumanCount(b.fallthrough[1]), HumanCount(b.fallthrough[2]), HumanCount(b.dropped_full),
                            HumanCount(b.max_concurrent));
    }
    std::string slots;
    for (const auto& [size, n] : pool.advice.slots) absl::StrAppendFormat(&slots, " %s:%d", HumanBytes(size), n);
    absl::StrAppendFormat(
        &out, "  advisor: largest block %s, slots per bucket%s; retains at most %s; serves %.1f%% of these rents\n",
        HumanBytes(pool.advice.max_block), slots, HumanBytes(pool.advice.retained_bytes_worst_case),
        100 * pool.advice.hit_rate);
    for (size_t i = 0; i < pool.top_fallthrough_stacks.size() && i < kTextStacks; ++i) {
      const auto& s = pool.top_fallthrough_stacks[i];
      absl::StrAppendFormat(&out, "  fall-through stack #%d: %s%s\n", i + 1, HumanCountOf(s.rents, "rent", "rents"),
                            sampled ? "" : absl::StrCat(", ", HumanBytes(s.bytes)));
      for (size_t f = 0; f < s.frames.size() && f < kTextFrames; ++f) {
        absl::StrAppend(&out, "      ", FrameText(s.frames[f]), "\n");
      }
    }
  }

  static void Json(const PoolReport& p, const AnalysisOptions& o, bool sampled, JsonWriter& j) {
    j.BeginObject();
    j.Key("name").String(p.name);
    j.Key("max_block").Uint(p.max_block);
    j.Key("slots_per_bucket").Uint(p.slots_per_bucket);
    j.Key("rents").Uint(p.rents);
    j.Key("hits").Uint(p.hits);
    j.Key("hit_rate").Double(p.rents ? static_cast<double>(p.hits) / p.rents : 0);
    JsonFallthrough(j, p.fallthrough);
    if (sampled) {
      j.Key("exact").Bool(true);  // rents, hits, fall-throughs, drops: pool hooks are not sampled
      j.Key("fallthrough_bytes").Null();
      j.Key("fallthrough_allocations").Null();
    } else {
      j.Key("fallthrough_bytes").Uint(p.fallthrough_bytes);
      j.Key("fallthrough_allocations").Uint(p.fallthrough_allocations);
    }
    j.Key("dropped").BeginObject();
    j.Key("full").Uint(p.dropped_full);
    j.Key("oversize").Uint(p.dropped_oversize);
    j.EndObject();
    j.Key("buckets").BeginArray();
    for (const auto& b : p.buckets) {
      j.BeginObject();
      j.Key("size").Uint(b.size);
      j.Key("rents").Uint(b.rents);
      j.Key("hits").Uint(b.hits);
      JsonFallthrough(j, b.fallthrough);
      j.Key("dropped_full").Uint(b.dropped_full);
      j.Key("max_concurrent_rents").Uint(b.max_concurrent);
      j.EndObject();
    }
    j.EndArray();
    j.Key("top_fallthrough_stacks").BeginArray();
    for (const auto& s : p.top_fallthrough_stacks) {
      j.BeginObject();
      j.Key("rents").Uint(s.rents);
      sampled ? j.Key("bytes").Null() : j.Key("bytes").Uint(s.bytes);
      JsonFallthrough(j, s.by_kind);
      WriteFrames(j, s.frames);
      j.EndObject();
    }
    j.EndArray();
    JsonAdvisor(p.advice, o, j);
    j.EndObject();
  }

  static void JsonAdvisor(const PoolAdvice& a, const AnalysisOptions& o, JsonWriter& j) {
    j.Key("advisor").BeginObject();
    j.Key("max_block").Uint(a.max_block);
    j.Key("slots_per_bucket").BeginArray();
    for (const auto& [size, slots] : a.slots) {
      j.BeginObject();
      j.Key("size").Uint(size);
      j.Key("slots").Uint(slots);
      j.EndObject();
    }
    j.EndArray();
    j.Key("retained_bytes_worst_case").Uint(a.retained_bytes_worst_case);
    j.Key("hit_rate").Double(a.hit_rate);
    j.Key("target_hit_rate").Double(o.pool_target_hit_rate);
    j.EndObject();
  }

  PoolAnalysis pools_;
  std::vector<PoolReport> reports_;
};

}  // namespace

std::unique_ptr<Section> NewPoolsSection(const SectionSetup& setup) { return std::make_unique<PoolsSection>(setup); }

}  // namespace allocprof
