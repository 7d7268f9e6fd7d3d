// The analysis report of one or more process traces: the data every output format (text, JSON,
// and later Markdown and charts) is rendered from.
#ifndef ALLOCPROF_ANALYZER_REPORT_H_
#define ALLOCPROF_ANALYZER_REPORT_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "passes/heap_analysis.h"
#include "passes/sawtooth.h"
#include "passes/timeline.h"
#include "read/process_trace.h"
#include "report/flame.h"

namespace allocprof {

inline constexpr int kJsonSchemaVersion = 1;

struct ReportFrame {
  std::string function;  // demangled; empty when unknown
  std::string file;
  int line = 0;
  std::string module;
  uint64_t offset = 0;  // module-relative address of the call
  bool inlined = false;
};

struct ReportStack {
  uint32_t id = 0;
  uint64_t calls = 0, bytes = 0, peak_bytes = 0, leaked_allocations = 0, leaked_bytes = 0, temporary = 0;
  std::vector<ReportFrame> frames;  // leaf first
};

struct ReportSizeClass {
  uint64_t min_bytes = 0, max_bytes = 0, calls = 0, bytes = 0;
  double call_share = 0, byte_share = 0;
  bool large_object = false;  // the class holds sizes at or above the large-object threshold
};

struct ReportMismatch {
  std::string alloc_entry, free_entry;
  uint64_t count = 0;
  ReportStack stack;  // where the block was allocated
};

struct ReportPoolBucket {
  uint64_t size = 0, rents = 0, hits = 0, max_concurrent = 0, dropped_full = 0;
  uint64_t fallthrough[3] = {0, 0, 0};  // oversize, exhausted, fill
};

struct ReportPoolStack {
  uint64_t rents = 0, bytes = 0;
  uint64_t by_kind[3] = {0, 0, 0};
  std::vector<ReportFrame> frames;
};

struct ReportPool {
  std::string name;
  uint64_t max_block = 0, slots_per_bucket = 0;
  uint64_t rents = 0, hits = 0;
  uint64_t fallthrough[3] = {0, 0, 0};  // oversize, exhausted, fill
  uint64_t fallthrough_bytes = 0, fallthrough_allocations = 0;
  uint64_t dropped_full = 0, dropped_oversize = 0;
  std::vector<ReportPoolBucket> buckets;
  std::vector<ReportPoolStack> top_fallthrough_stacks;
  uint64_t advice_max_block = 0, advice_retained_bytes = 0;
  std::vector<std::pair<uint64_t, uint64_t>> advice_slots;  // (bucket size, slots)
  double advice_hit_rate = 0;
};

// The part of the run a report covers (--from / --to); times are seconds since the process started.
struct ReportWindow {
  bool active = false;
  std::string from, to;  // what bounds it: "mark \"warmup-done\"", "12.500 s", "start", "end"
  bool opened = false;   // false: --from never happened in this process (empty window)
  bool closed = false;   // false: it runs to the end of the trace
  double from_s = 0, to_s = 0;
  std::string not_opened_warning;  // when !opened: why, naming the marks that do exist (also in warnings)
};

// One change of the shim's capture state (capture control).
struct ReportCapture {
  double time_s = 0;  // since the process started
  std::string state;  // "paused", "recording", "ended"
  std::string reason;
};

struct ProcessReport {
  std::string file;
  ProcessInfo process;
  bool ended_cleanly = false;
  std::vector<std::string> execs;
  uint64_t threads = 0;
  HeapTotals totals;
  uint64_t origin_ns = 0;  // times below are relative to this (process start, or the window's start)
  ReportWindow window;
  std::vector<ReportCapture> captures;
  double duration_s = 0;
  std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> by_entry;  // name -> (calls, bytes)
  std::vector<ReportSizeClass> size_classes;
  std::vector<ReportStack> top_by_calls, top_by_bytes, top_by_peak, leaks;
  std::vector<TimeWindow> timeline;
  uint64_t window_ns = 0;
  Sawtooth sawtooth;
  std::vector<ReportMismatch> mismatches;
  std::vector<std::string> warnings;
  uint64_t events = 0;
  std::vector<ReportPool> pools;
  std::vector<std::pair<std::string, uint64_t>> counters;  // work units: name -> count
  std::vector<std::pair<double, std::string>> marks;       // (seconds since the process started, name)
  bool has_gen = false;
  GenResult gen;
  std::string llc_source;     // where the Gen0 budget's cache size came from
  SamplingEstimate sampling;  // sampled() when the trace was sampled: every figure is an estimate
  FlameTree flame;            // with AnalysisOptions::flame: every stack as one call tree
};

struct AnalysisReport {
  std::vector<std::string> inputs;
  AnalysisOptions options;
  std::vector<ProcessReport> processes;  // the first is the root (the first input)
  double analysis_seconds = 0;
};

// Reads and analyzes each trace (one process each). Fails only when an input cannot be used at all.
absl::StatusOr<AnalysisReport> Analyze(const std::vector<std::string>& traces, const AnalysisOptions& options,
                                       bool show_progress);

std::string RenderText(const AnalysisReport& report);
std::string RenderJson(const AnalysisReport& report);

// Formatting shared by renderers.
std::string HumanBytes(double bytes);  // "12.3 MiB"
std::string HumanCount(uint64_t n);    // "1,234,567"
// "1 call", "1,234 calls": the count and the noun that agrees with it.
std::string HumanCountOf(uint64_t n, const char* one, const char* many);
std::string FrameText(const ReportFrame& f);  // "Foo (foo.cc:12)" or "libx.so+0x1234"

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_REPORT_H_
