#include "export/export_chrome.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "util/json_writer.h"

namespace allocprof {
namespace {

enum class Kind { kLive, kCallRate, kByteRate, kCollection, kStack };

struct Item {
  uint64_t ts_ns;
  Kind kind;
  double value = 0;       // counters
  size_t collection = 0;  // kCollection, kStack: index into the input's collections or samples
};

// Appends a counter point unless it repeats the series' previous value.
void Point(std::vector<Item>* items, std::optional<double>* last, uint64_t ts, Kind kind, double value) {
  if (*last && **last == value) return;
  *last = value;
  items->push_back(Item{ts, kind, value, 0});
}

double Micros(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace

std::string RenderChromeTrace(const ChromeTraceInput& in) {
  std::vector<Item> items;
  std::optional<double> live, calls, bytes;
  for (const TimeWindow& w : in.windows) {
    double seconds = static_cast<double>(w.end_ns - w.start_ns) / 1e9;
    Point(&items, &live, w.start_ns, Kind::kLive, static_cast<double>(w.live_max));
    Point(&items, &calls, w.start_ns, Kind::kCallRate, seconds > 0 ? w.allocations / seconds : 0);
    Point(&items, &bytes, w.start_ns, Kind::kByteRate, seconds > 0 ? w.bytes_allocated / seconds : 0);
  }
  // Final points: where the run ends, the live level it ended with and no more allocations.
  uint64_t end = in.end_ns;
  if (!in.windows.empty()) end = std::max(end, in.windows.back().start_ns);
  if (!in.windows.empty()) {
    items.push_back(Item{end, Kind::kLive, static_cast<double>(in.windows.back().live_end), 0});
    items.push_back(Item{end, Kind::kCallRate, 0, 0});
    items.push_back(Item{end, Kind::kByteRate, 0, 0});
  }
  for (size_t i = 0; i < in.collections.size(); ++i) {
    items.push_back(Item{in.collections[i].time_ns, Kind::kCollection, 0, i});
  }
  for (size_t i = 0; i < in.samples.size(); ++i) items.push_back(Item{in.samples[i].time_ns, Kind::kStack, 0, i});
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.ts_ns < b.ts_ns; });

  JsonWriter j;
  j.BeginObject().Key("traceEvents").BeginArray();
  auto metadata = [&](const char* name, const std::string& value) {
    j.BeginObject().Key("name").String(name).Key("ph").String("M").Key("pid").Uint(in.pid).Key("tid").Uint(in.pid);
    j.Key("args").BeginObject().Key("name").String(value).EndObject().EndObject();
  };
  metadata("process_name", in.process_name);
  metadata("thread_name", in.thread_name);
  if (!in.samples.empty()) {
    j.BeginObject().Key("name").String("thread_name").Key("ph").String("M").Key("pid").Uint(in.pid);
    j.Key("tid").Uint(kStackTrackTid).Key("args").BeginObject().Key("name").String("allocation stacks");
    j.EndObject().EndObject();
  }
  for (const Item& item : items) {
    j.BeginObject();
    if (item.kind == Kind::kStack) {
      const ChromeStackSample& s = in.samples[item.collection];
      j.Key("name").String("allocations").Key("cat").String("allocations").Key("ph").String("i").Key("s").String("t");
      j.Key("ts").Double(Micros(item.ts_ns)).Key("pid").Uint(in.pid).Key("tid").Uint(kStackTrackTid);
      j.Key("sf").String(absl::StrCat(s.frame));
      j.Key("args").BeginObject();
      j.Key("calls").Uint(s.calls).Key("bytes").Uint(s.bytes);
      j.Key("stack").BeginArray();
      for (uint32_t f = s.frame; f != 0 && f <= in.frames.size(); f = in.frames[f - 1].parent) {
        j.String(in.frames[f - 1].name);
      }
      j.EndArray();
      j.EndObject();
    } else if (item.kind == Kind::kCollection) {
      const ChromeCollection& c = in.collections[item.collection];
      j.Key("name").String(absl::StrCat("Gen", c.generation, " collection"));
      j.Key("cat").String("gen_model").Key("ph").String("i").Key("s").String("p");
      j.Key("ts").Double(Micros(item.ts_ns)).Key("pid").Uint(in.pid).Key("tid").Uint(in.pid);
      j.Key("args").BeginObject();
      j.Key("collection").Uint(c.index).Key("generation").Int(c.generation);
      j.Key("trigger").String(c.loh_triggered ? "loh budget" : "gen0 budget");
      j.Key("heap_before").Uint(c.heap_before).Key("heap_after").Uint(c.heap_after);
      j.Key("promoted_bytes").Uint(c.promoted_bytes);
      j.EndObject();
    } else {
      const char* name = item.kind == Kind::kLive       ? "live"
                         : item.kind == Kind::kCallRate ? "allocation rate"
                                                        : "allocation rate (bytes)";
      const char* arg = item.kind == Kind::kLive ? "bytes" : item.kind == Kind::kCallRate ? "calls/s" : "bytes/s";
      j.Key("name").String(name).Key("cat").String("heap").Key("ph").String("C");
      j.Key("ts").Double(Micros(item.ts_ns)).Key("pid").Uint(in.pid).Key("tid").Uint(in.pid);
      j.Key("args").BeginObject().Key(arg).Double(item.value).EndObject();
    }
    j.EndObject();
  }
  j.EndArray();
  if (!in.frames.empty()) {
    j.Key("stackFrames").BeginObject();
    for (size_t i = 0; i < in.frames.size(); ++i) {
      j.Key(absl::StrCat(i + 1)).BeginObject().Key("name").String(in.frames[i].name);
      j.Key("category").String("allocprof");
      if (in.frames[i].parent) j.Key("parent").String(absl::StrCat(in.frames[i].parent));
      j.EndObject();
    }
    j.EndObject();
  }
  j.Key("displayTimeUnit").String("ms");
  j.Key("otherData").BeginObject();
  j.Key("generator").String(in.generator).Key("trace").String(in.trace_path);
  j.Key("gen_model").Bool(in.gen_model).Key("collections").Uint(in.collections.size());
  j.Key("stack_samples").Uint(in.samples.size());
  j.EndObject();
  j.EndObject();
  return j.str() + "\n";
}

void AddChromeStackSamples(const std::vector<StackWindowCell>& cells, const std::vector<TimeWindow>& windows,
                           uint64_t window_offset_ns, size_t per_window,
                           const std::function<std::vector<std::string>(uint32_t stack_id)>& frames_of,
                           ChromeTraceInput* input) {
  std::vector<std::vector<const StackWindowCell*>> by_window(windows.size());
  for (const StackWindowCell& c : cells) {
    if (c.window < by_window.size()) by_window[c.window].push_back(&c);
  }
  absl::flat_hash_map<std::pair<uint32_t, std::string>, uint32_t> frame_ids;  // (parent, name) -> id
  absl::flat_hash_map<uint32_t, uint32_t> leaf_of_stack;
  for (size_t w = 0; w < by_window.size(); ++w) {
    auto& list = by_window[w];
    size_t k = std::min(per_window, list.size());
    std::partial_sort(list.begin(), list.begin() + k, list.end(), [](const auto* a, const auto* b) {
      if (a->bytes != b->bytes) return a->bytes > b->bytes;
      return a->stack_id < b->stack_id;
    });
    for (size_t i = 0; i < k; ++i) {
      auto [leaf, inserted] = leaf_of_stack.try_emplace(list[i]->stack_id, 0);
      if (inserted) {
        uint32_t parent = 0;
        for (const std::string& name : frames_of(list[i]->stack_id)) {
          auto [id, fresh] = frame_ids.try_emplace(std::make_pair(parent, name), 0);
          if (fresh) {
            input->frames.push_back(ChromeFrame{name, parent});
            id->second = static_cast<uint32_t>(input->frames.size());
          }
          parent = id->second;
        }
        leaf->second = parent;
      }
      if (leaf->second == 0) continue;
      input->samples.push_back(
          ChromeStackSample{window_offset_ns + windows[w].start_ns, list[i]->calls, list[i]->bytes, leaf->second});
    }
  }
}

struct GenCollectionsPass::Impl {
  Impl(const GenParameters& p, uint64_t origin_ns) : model(p, origin_ns), origin(origin_ns) {}
  GenModel model;
  uint64_t origin;
};

GenCollectionsPass::GenCollectionsPass(const ProcessCatalog* catalog, const GenParameters& params)
    : catalog_(catalog), params_(params) {}
GenCollectionsPass::~GenCollectionsPass() = default;

void GenCollectionsPass::OnEvent(const Event& e) {
  if (!impl_) {
    // The same origin as HeapAnalysis: the process start, or the first event if that is earlier.
    uint64_t origin = catalog_ && catalog_->has_process ? catalog_->process.start_monotonic_ns : e.time;
    origin = std::min(origin, e.time);
    GenParameters p = params_;
    if (p.llc_bytes == 0 && catalog_ && catalog_->has_process) p.llc_bytes = catalog_->process.llc_bytes;
    impl_ = std::make_unique<Impl>(p, origin);
  }
  impl_->model.OnEvent(e);
}

std::vector<ChromeCollection> GenCollectionsPass::Finish(uint64_t origin_ns, uint64_t end_ns) {
  std::vector<ChromeCollection> out;
  if (!impl_) return out;
  GenResult r = impl_->model.Finish(end_ns);
  for (const GenCollection& c : r.collections) {
    uint64_t absolute = impl_->origin + c.time_ns;
    out.push_back(ChromeCollection{absolute > origin_ns ? absolute - origin_ns : 0, c.index, c.generation,
                                   c.loh_triggered, c.heap_before, c.heap_after, c.promoted_bytes});
  }
  return out;
}

}  // namespace allocprof
