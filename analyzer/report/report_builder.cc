// Builds an AnalysisReport: reads each trace through HeapAnalysis, then symbolizes only the stacks
// the report shows.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "passes/pool_analysis.h"
#include "passes/stack_windows.h"
#include "report/report.h"
#include "symbolize/symbolizer.h"

namespace allocprof {
namespace {

// Module+offset only, from the recorded module map: used with --no-symbols (reproducible output
// that does not depend on the files on this machine).
ReportFrame RawFrame(const std::vector<ModuleInfo>& modules, uint64_t address) {
  for (auto it = modules.rbegin(); it != modules.rend(); ++it) {
    for (const Segment& s : it->segments) {
      uint64_t start = it->load_bias + s.vaddr;
      if ((s.flags & 1) && address >= start && address - start < s.memsz) {
        return ReportFrame{"", "", 0, it->path, address - it->load_bias, false};
      }
    }
  }
  return ReportFrame{"", "", 0, "", address, false};
}

std::vector<ReportFrame> Symbolize(Symbolizer* symbolizer, const std::vector<ModuleInfo>& modules,
                                   const std::vector<uint64_t>& frames) {
  std::vector<ReportFrame> out;
  for (uint64_t address : frames) {
    if (!symbolizer) {
      out.push_back(RawFrame(modules, address));
      continue;
    }
    const SymbolizedAddress& s = symbolizer->Resolve(address);
    if (s.frames.empty()) {
      out.push_back(ReportFrame{"", "", 0, s.module, s.offset, false});
      continue;
    }
    for (const SourceFrame& f : s.frames) {
      out.push_back(ReportFrame{f.function, f.file, f.line, s.module, s.offset, f.inlined});
    }
  }
  return out;
}

ReportStack MakeStack(uint32_t id, const StackStats& s, const ProcessCatalog& catalog, Symbolizer* symbolizer) {
  ReportStack r;
  r.id = id;
  r.calls = s.calls;
  r.bytes = s.bytes;
  r.peak_bytes = s.peak_bytes;
  r.leaked_allocations = s.live_count;
  r.leaked_bytes = s.live_bytes;
  r.temporary = s.temporary;
  auto it = catalog.stacks.find(id);
  if (it != catalog.stacks.end()) r.frames = Symbolize(symbolizer, catalog.modules, it->second);
  return r;
}

using StackList = std::vector<std::pair<uint32_t, const StackStats*>>;

std::vector<ReportStack> TopStacks(const StackList& stacks, size_t n, uint64_t StackStats::*key,
                                   const ProcessCatalog& catalog, Symbolizer* symbolizer) {
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
  for (size_t i = 0; i < k; ++i) out.push_back(MakeStack(chosen[i].first, *chosen[i].second, catalog, symbolizer));
  return out;
}

std::vector<ReportPool> BuildPools(const PoolAnalysis& pools, const ProcessCatalog& catalog, Symbolizer* symbolizer,
                                   size_t top_n) {
  std::vector<ReportPool> out;
  for (const auto& [id, p] : pools.pools()) {
    ReportPool r;
    r.name = p.info.name.empty() ? absl::StrCat("pool ", id) : p.info.name;
    r.max_block = p.info.max_block;
    r.slots_per_bucket = p.info.slots_per_bucket;
    r.rents = p.rents;
    r.hits = p.hits;
    for (int k = 0; k < kFallKinds; ++k) r.fallthrough[k] = p.fallthrough[k];
    r.fallthrough_bytes = p.fallthrough_bytes;
    r.fallthrough_allocations = p.fallthrough_allocations;
    r.dropped_full = p.dropped_full;
    r.dropped_oversize = p.dropped_oversize;
    for (int i = 0; i < kPoolBuckets; ++i) {
      const PoolBucketStats& b = p.buckets[i];
      if (b.rents == 0 && b.dropped_full == 0) continue;
      ReportPoolBucket rb;
      rb.size = PoolBucketSize(i);
      rb.rents = b.rents;
      rb.hits = b.hits;
      rb.max_concurrent = b.max_concurrent;
      rb.dropped_full = b.dropped_full;
      for (int k = 0; k < kFallKinds; ++k) rb.fallthrough[k] = b.fallthrough[k];
      r.buckets.push_back(rb);
    }
    std::vector<std::pair<uint32_t, const PoolFallStack*>> stacks;
    for (const auto& [stack, s] : p.fall_stacks) stacks.push_back({stack, &s});
    std::sort(stacks.begin(), stacks.end(), [](const auto& a, const auto& b) {
      if (a.second->bytes != b.second->bytes) return a.second->bytes > b.second->bytes;
      return a.first < b.first;
    });
    for (size_t i = 0; i < stacks.size() && i < top_n; ++i) {
      ReportPoolStack rs;
      rs.rents = stacks[i].second->rents;
      rs.bytes = stacks[i].second->bytes;
      for (int k = 0; k < kFallKinds; ++k) rs.by_kind[k] = stacks[i].second->by_kind[k];
      auto frames = catalog.stacks.find(stacks[i].first);
      if (frames != catalog.stacks.end()) rs.frames = Symbolize(symbolizer, catalog.modules, frames->second);
      r.top_fallthrough_stacks.push_back(std::move(rs));
    }
    r.advice_max_block = p.advice.max_block;
    r.advice_slots = p.advice.slots;
    r.advice_retained_bytes = p.advice.retained_bytes_worst_case;
    r.advice_hit_rate = p.advice.hit_rate;
    out.push_back(std::move(r));
  }
  return out;
}

ProcessReport BuildProcess(const std::string& path, const ProcessCatalog& catalog, HeapAnalysis& heap,
                           const PoolAnalysis& pools, const StackWindows* stack_windows,
                           const AnalysisOptions& options) {
  ProcessReport r;
  r.file = path;
  r.process = catalog.process;
  r.ended_cleanly = catalog.ended_cleanly;
  r.execs = catalog.execs;
  r.threads = catalog.threads.size();
  r.totals = heap.totals();
  r.events = catalog.events;
  uint64_t process_origin = catalog.has_process ? catalog.process.start_monotonic_ns : catalog.first_time;
  auto since_start = [&](uint64_t t) {
    return t > process_origin ? static_cast<double>(t - process_origin) / 1e9 : 0.0;
  };
  r.sampling = catalog.sampling;
  r.origin_ns = heap.origin_ns() ? heap.origin_ns() : catalog.first_time;
  uint64_t end = std::max(catalog.last_time, r.totals.last_event_ns);
  const WindowGate& gate = heap.window();
  if (gate.active()) {
    ReportWindow& w = r.window;
    w.active = true;
    w.from = gate.spec().from.Describe("start");
    w.to = gate.spec().to.Describe("end");
    w.opened = gate.opened();
    w.closed = gate.closed();
    if (gate.opened()) r.origin_ns = gate.open_ns();
    if (gate.closed()) end = gate.close_ns();
    if (!gate.opened()) end = r.origin_ns = std::max(catalog.last_time, r.totals.last_event_ns);
    w.from_s = since_start(r.origin_ns);
    w.to_s = since_start(end);
    if (!gate.opened()) {
      std::string known;
      for (const auto& m : catalog.marks) {
        if (known.size() < 200) absl::StrAppend(&known, known.empty() ? "" : ", ", "\"", m.name, "\"");
      }
      w.not_opened_warning = absl::StrFormat(
          "%s: the analysis window never opened: --from %s does not occur in this "
          "process (marks recorded: %s); every figure is zero",
          path, w.from, known.empty() ? "none" : known);
      r.warnings.push_back(w.not_opened_warning);
    }
  }
  for (const auto& c : catalog.captures) {
    static const char* kStates[] = {"paused", "recording", "ended"};
    r.captures.push_back({since_start(c.time), kStates[static_cast<int>(c.state)], c.reason});
  }
  r.duration_s = end > r.origin_ns ? static_cast<double>(end - r.origin_ns) / 1e9 : 0;

  for (int e = 0; e < static_cast<int>(format::EntryPoint::kCount); ++e) {
    if (r.totals.calls_by_entry[e]) {
      r.by_entry.push_back({format::kEntryPoints[e].name, {r.totals.calls_by_entry[e], r.totals.bytes_by_entry[e]}});
    }
  }
  for (const SizeClassCount& c : heap.SizeClasses()) {
    ReportSizeClass sc{c.min_bytes, c.max_bytes, c.calls, c.bytes, 0, 0, c.max_bytes >= options.large_object_bytes};
    sc.call_share = r.totals.allocations ? static_cast<double>(c.calls) / r.totals.allocations : 0;
    sc.byte_share = r.totals.bytes_allocated ? static_cast<double>(c.bytes) / r.totals.bytes_allocated : 0;
    r.size_classes.push_back(sc);
  }

  std::unique_ptr<Symbolizer> owned;
  if (options.symbolize) owned = std::make_unique<Symbolizer>(catalog.modules);
  Symbolizer* symbolizer = owned.get();
  StackList stacks = heap.AllStacks();
  r.top_by_calls = TopStacks(stacks, options.top_n, &StackStats::calls, catalog, symbolizer);
  r.top_by_bytes = TopStacks(stacks, options.top_n, &StackStats::bytes, catalog, symbolizer);
  r.top_by_peak = TopStacks(stacks, options.top_n, &StackStats::peak_bytes, catalog, symbolizer);
  r.leaks = TopStacks(stacks, options.top_n, &StackStats::live_bytes, catalog, symbolizer);

  std::vector<std::pair<MismatchKey, uint64_t>> mismatches(heap.mismatches().begin(), heap.mismatches().end());
  std::sort(mismatches.begin(), mismatches.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first.stack_id < b.first.stack_id;
  });
  for (size_t i = 0; i < mismatches.size() && i < options.top_n; ++i) {
    const auto& [key, count] = mismatches[i];
    ReportMismatch m;
    m.alloc_entry = format::kEntryPoints[static_cast<size_t>(key.alloc_entry)].name;
    m.free_entry = format::kEntryPoints[static_cast<size_t>(key.free_entry)].name;
    m.count = count;
    StackStats none;
    const StackStats* found = &none;
    for (const auto& entry : stacks) {
      if (entry.first == key.stack_id) found = entry.second;
    }
    m.stack = MakeStack(key.stack_id, *found, catalog, symbolizer);
    r.mismatches.push_back(std::move(m));
  }

  if (r.totals.allocations || r.totals.frees) {
    const Timeline& timeline = heap.timeline();
    r.timeline = timeline.Windows(end, options.windows, options.window_ns);
    r.window_ns = r.timeline.empty() ? 0 : r.timeline[0].end_ns - r.timeline[0].start_ns;
    std::vector<TimeWindow> fine = timeline.Fine(end);
    std::vector<double> live;
    for (const auto& w : fine) live.push_back(static_cast<double>(w.live_end));
    r.sawtooth = DetectSawtooth(live, static_cast<double>(timeline.fine_width_ns()) / 1e9);
  }
  if (stack_windows) {
    r.flame = BuildFlameTree(
        catalog, stacks, stack_windows->Cells(r.origin_ns, r.timeline), r.timeline.size(),
        [&](uint64_t address) { return Symbolize(symbolizer, catalog.modules, std::vector<uint64_t>{address}); });
  }

  for (const auto& d : catalog.diagnostics) r.warnings.push_back(d.message);
  if (!catalog.ended_cleanly) {
    r.warnings.push_back(absl::StrFormat(
        "%s: the trace has no end record: the process was killed or is still running; figures cover what was "
        "flushed before that (live-at-end counts what was still allocated then)",
        path));
  }
  for (const auto& w : catalog.shim_warnings) r.warnings.push_back(absl::StrCat(path, ": recorded by the shim: ", w));
  r.pools = BuildPools(pools, catalog, symbolizer, options.top_n);
  for (const auto& m : catalog.marks) r.marks.push_back({since_start(m.time), m.name});
  if (heap.has_gen()) {
    r.has_gen = true;
    r.gen = heap.FinishGen(end);
    r.llc_source = heap.gen_llc_source();
  }
  for (const auto& [id, n] : pools.counts()) {
    auto name = catalog.counters.find(id);
    r.counters.push_back({name != catalog.counters.end() ? name->second : absl::StrCat("counter ", id), n});
  }
  if (symbolizer) {
    for (const auto& w : symbolizer->warnings()) r.warnings.push_back(w);
  }
  if (r.totals.frees_of_unknown) {
    r.warnings.push_back(
        absl::StrFormat("%s: %d frees of addresses the trace never saw allocated", path, r.totals.frees_of_unknown));
  }
  if (catalog.out_of_order_events) {
    r.warnings.push_back(
        absl::StrFormat("%s: %d events arrived after newer ones had been analyzed", path, catalog.out_of_order_events));
  }
  return r;
}

}  // namespace

absl::StatusOr<AnalysisReport> Analyze(const std::vector<std::string>& traces, const AnalysisOptions& options,
                                       bool show_progress) {
  auto started = std::chrono::steady_clock::now();
  AnalysisReport report;
  report.inputs = traces;
  report.options = options;
  for (const std::string& path : traces) {
    ProcessCatalog catalog;
    HeapAnalysis heap(options, &catalog);
    PoolAnalysis pools(&catalog, options.pool_target_hit_rate);
    // The Gen model rides on the heap pass's live set (a third thread for it measured slower on
    // two cores: see bench/README.md).
    std::unique_ptr<StackWindows> stack_windows;
    if (options.flame) stack_windows = std::make_unique<StackWindows>();
    std::vector<EventSink*> ordered = {&pools};
    if (stack_windows) ordered.push_back(stack_windows.get());
    HeapPassFanout sink(&heap, ordered);
    ProgressFn progress;
    if (show_progress) {
      progress = [&path](uint64_t done, uint64_t total) {
        fprintf(stderr, "\rallocprof: %s: %3.0f%%", path.c_str(), total ? 100.0 * done / total : 100.0);
      };
    }
    absl::Status st = ReadProcessTrace(path, &sink, &catalog, progress);
    if (show_progress) fprintf(stderr, "\n");
    if (!st.ok()) return st;
    heap.Finish();
    pools.Finish();
    report.processes.push_back(BuildProcess(path, catalog, heap, pools, stack_windows.get(), options));
  }
  if (options.window.active()) {
    bool any_opened = false;
    for (const auto& p : report.processes) any_opened |= p.window.opened;
    if (!any_opened) {
      // The first process's warning names the marks that do exist.
      return absl::NotFoundError(report.processes.empty() ? "no trace"
                                                          : report.processes.front().window.not_opened_warning);
    }
  }
  report.analysis_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace allocprof
