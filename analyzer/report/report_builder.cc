// Builds an AnalysisReport: reads each trace through the heap pass and the sections' own passes,
// then builds the frame and finishes each section (symbolizing only the stacks the report shows).
#include <stdio.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "read/process_trace.h"
#include "report/report.h"
#include "report/section.h"
#include "symbolize/symbolizer.h"

namespace allocprof {
namespace {

uint64_t ProcessOrigin(const ProcessCatalog& catalog) {
  return catalog.has_process ? catalog.process.start_monotonic_ns : catalog.first_time;
}

// Which process, and the heap pass's totals.
void DescribeProcess(const std::string& path, const ProcessCatalog& catalog, const HeapAnalysis& heap,
                     ProcessReport& r) {
  r.file = path;
  r.process = catalog.process;
  r.ended_cleanly = catalog.ended_cleanly;
  r.execs = catalog.execs;
  r.threads = catalog.threads.size();
  r.totals = heap.totals();
  r.events = catalog.events;
  r.sampling = catalog.sampling;
  for (int e = 0; e < static_cast<int>(format::EntryPoint::kCount); ++e) {
    if (r.totals.calls_by_entry[e]) {
      r.by_entry.push_back({format::kEntryPoints[e].name, {r.totals.calls_by_entry[e], r.totals.bytes_by_entry[e]}});
      r.by_entry_variance.push_back({r.totals.calls_by_entry_variance[e], r.totals.bytes_by_entry_variance[e]});
    }
  }
}

// The analysis window as the report states it; a window that never opened gets a warning naming
// the marks that do exist.
void DescribeWindow(const std::string& path, const ProcessCatalog& catalog, const WindowGate& gate, uint64_t* end,
                    ProcessReport& r) {
  uint64_t process_origin = ProcessOrigin(catalog);
  ReportWindow& w = r.window;
  w.active = true;
  w.from = gate.spec().from.Describe("start");
  w.to = gate.spec().to.Describe("end");
  w.opened = gate.opened();
  w.closed = gate.closed();
  if (gate.opened()) r.origin_ns = gate.open_ns();
  if (gate.closed()) *end = gate.close_ns();
  if (!gate.opened()) *end = r.origin_ns = std::max(catalog.last_time, r.totals.last_event_ns);
  w.from_s = RelSeconds(r.origin_ns, process_origin);
  w.to_s = RelSeconds(*end, process_origin);
  if (gate.opened()) return;
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

// What part of the run the figures cover: the time origin, the window, capture changes. Returns
// the absolute end.
uint64_t DescribeCoverage(const std::string& path, const ProcessCatalog& catalog, const HeapAnalysis& heap,
                          ProcessReport& r) {
  r.origin_ns = heap.origin_ns() ? heap.origin_ns() : catalog.first_time;
  uint64_t end = std::max(catalog.last_time, r.totals.last_event_ns);
  if (heap.window().active()) DescribeWindow(path, catalog, heap.window(), &end, r);
  uint64_t process_origin = ProcessOrigin(catalog);
  for (const auto& c : catalog.captures) {
    static const char* kStates[] = {"paused", "recording", "ended"};
    r.captures.push_back({RelSeconds(c.time, process_origin), kStates[static_cast<int>(c.state)], c.reason});
  }
  r.duration_s = end > r.origin_ns ? static_cast<double>(end - r.origin_ns) / 1e9 : 0;
  return end;
}

// Everything the reader and the passes had to say, after whatever the frame said first.
void CollectWarnings(const std::string& path, const ProcessCatalog& catalog, const StackFrames& frames,
                     ProcessReport& r) {
  for (const auto& d : catalog.diagnostics) {
    r.warnings.push_back(d.message);
    if (d.kind == Diagnostic::Kind::kNote) continue;
    r.damage.push_back(
        {d.kind == Diagnostic::Kind::kTruncated ? "truncated" : "corrupt", d.offset, d.bytes, d.message});
  }
  if (!catalog.ended_cleanly) {
    r.warnings.push_back(absl::StrFormat(
        "%s: the trace has no end record: the process was killed or is still running; figures cover what was "
        "flushed before that (live-at-end counts what was still allocated then)",
        path));
    r.damage.push_back({"no_end_record", 0, 0, r.warnings.back()});
  }
  for (const auto& w : catalog.shim_warnings) r.warnings.push_back(absl::StrCat(path, ": recorded by the shim: ", w));
  for (const auto& w : frames.warnings()) r.warnings.push_back(w);
  if (r.totals.frees_of_unknown) {
    r.warnings.push_back(
        absl::StrFormat("%s: %d frees of addresses the trace never saw allocated", path, r.totals.frees_of_unknown));
  }
  if (catalog.out_of_order_events) {
    r.warnings.push_back(
        absl::StrFormat("%s: %d events arrived after newer ones had been analyzed", path, catalog.out_of_order_events));
  }
}

ProcessReport BuildProcess(const std::string& path, const ProcessCatalog& catalog, HeapAnalysis& heap,
                           std::vector<std::shared_ptr<Section>> sections, const AnalysisOptions& options,
                           std::unique_ptr<Symbolizer> prepared) {
  ProcessReport r;
  DescribeProcess(path, catalog, heap, r);
  uint64_t end = DescribeCoverage(path, catalog, heap, r);
  StackFrames frames(catalog, options.symbolize, std::move(prepared));
  SectionInputs inputs{catalog, options, heap, frames, r, end};
  for (const auto& s : sections) s->Finish(inputs);
  r.sections = std::move(sections);
  CollectWarnings(path, catalog, frames, r);
  return r;
}

// One trace through the heap pass and every section's own pass.
absl::StatusOr<ProcessReport> AnalyzeProcess(const std::string& path, const AnalysisOptions& options,
                                             bool show_progress) {
  ProcessCatalog catalog;
  HeapAnalysis heap(options, &catalog);
  std::vector<std::shared_ptr<Section>> sections = NewSections({options, &catalog});
  std::vector<EventSink*> ordered;
  for (const auto& s : sections) {
    if (EventSink* sink = s->events()) ordered.push_back(sink);
  }
  // The Gen model rides on the heap pass's live set (a third thread for it measured slower on
  // two cores: see bench/HISTORY.md).
  HeapPassFanout sink(&heap, std::move(ordered));
  ProgressFn progress;
  if (show_progress) {
    progress = [&path](uint64_t done, uint64_t total) {
      fprintf(stderr, "\rallocprof: %s: %3.0f%%", path.c_str(), total ? 100.0 * done / total : 100.0);
    };
  }
  // The symbolizer's fixed cost runs on the reader thread while this one finishes the pass.
  SymbolizerWarmup warmup;
  absl::Status st = ReadProcessTrace(path, &sink, &catalog, progress, options.symbolize ? warmup.work() : nullptr);
  if (show_progress) fprintf(stderr, "\n");
  if (!st.ok()) return st;
  heap.Finish();
  return BuildProcess(path, catalog, heap, std::move(sections), options, warmup.Take(catalog));
}

}  // namespace

double SectionInputs::SinceProcessStart(uint64_t t) const { return RelSeconds(t, ProcessOrigin(catalog)); }

absl::StatusOr<AnalysisReport> Analyze(const std::vector<std::string>& traces, const AnalysisOptions& options,
                                       bool show_progress) {
  auto started = std::chrono::steady_clock::now();
  AnalysisReport report;
  report.inputs = traces;
  report.options = options;
  for (const std::string& path : traces) {
    auto process = AnalyzeProcess(path, options, show_progress);
    if (!process.ok()) return process.status();
    report.processes.push_back(std::move(*process));
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

void KeepTop(AnalysisReport* report, size_t n) {
  report->options.top_n = n;
  for (auto& p : report->processes) {
    for (auto& s : p.sections) s->KeepTop(n);
  }
}

}  // namespace allocprof
