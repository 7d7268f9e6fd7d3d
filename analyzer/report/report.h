// The analysis report of one or more process traces: the data every output format (text, JSON,
// Markdown, charts) is rendered from.
//
// A process's report is a frame (which process, what part of its run the figures cover, the totals,
// the warnings) and its sections, one per pass (report/section.h): each section holds what its pass
// found and renders it as text and as JSON.
#ifndef ALLOCPROF_ANALYZER_REPORT_H_
#define ALLOCPROF_ANALYZER_REPORT_H_

#include <stdint.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "passes/heap_analysis.h"
#include "read/catalog.h"
#include "read/run_tree.h"
#include "report/frames.h"
#include "report/render_util.h"

namespace allocprof {

inline constexpr int kJsonSchemaVersion = 1;

class Section;

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

// Damage that makes the trace's figures incomplete: unreadable or skipped bytes, a cut-off tail,
// a missing end record (the process was killed). A diff withholds its verdict on it.
struct ReportDamage {
  std::string kind;  // "corrupt", "truncated", "no_end_record"
  uint64_t offset = 0;
  uint64_t bytes = 0;  // unreadable bytes (0 when not known)
  std::string message;
};

struct ProcessReport {
  // Which process.
  std::string file;
  ProcessInfo process;
  bool ended_cleanly = false;
  std::vector<std::string> execs;
  uint64_t threads = 0;
  uint64_t events = 0;
  // What the figures cover.
  uint64_t origin_ns = 0;  // times in sections are relative to this (process start, or the window's start)
  ReportWindow window;
  std::vector<ReportCapture> captures;
  double duration_s = 0;
  SamplingEstimate sampling;  // sampled() when the trace was sampled: every figure is an estimate
  // The heap pass's totals, and calls and bytes by entry point: name -> (calls, bytes).
  HeapTotals totals;
  std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> by_entry;
  // Sampled traces: the variances of by_entry's calls and bytes, in the same order (0 when exact).
  std::vector<std::pair<double, double>> by_entry_variance;
  std::vector<std::string> warnings;  // the damage too, first
  std::vector<ReportDamage> damage;
  // One per pass, in the order of ALLOCPROF_SECTIONS (report/sections/all_sections.cc). Shared by
  // copies of the report.
  std::vector<std::shared_ptr<Section>> sections;
};

struct AnalysisReport {
  std::vector<std::string> inputs;
  AnalysisOptions options;
  std::vector<ProcessReport> processes;  // the first is the root (the first input), or AnalyzeRun's focus
  double analysis_seconds = 0;
  // The run's processes when it has more than one (AnalyzeRun): every trace, in file order (the
  // root first), with which one is reported first and which allocated most. Empty otherwise.
  std::vector<RunTrace> run;
  size_t run_focus = 0, run_most = 0;  // indexes in `run`
  std::string focus_reason;            // why the focus: "allocated most", "--process python3", ...
};

// Which process of a run to report (AnalyzeRun).
struct RunSelection {
  std::string process;        // --process PID|NAME|FILE; empty: the process that allocated most
  std::string same_command;   // else the one that allocated most among those with this command name
  bool all = false;           // analyze every process of the run, the focus first
  bool find_children = true;  // one input: look for its child traces (read/run_tree.h)
};

// A run's traces scanned and the focus picked (AnalyzeRun's first half, for commands that read one
// process themselves, such as export). With one trace, no children and no --process, `run` holds
// that trace unscanned.
struct RunPick {
  std::vector<RunTrace> run;
  size_t focus = 0, most = 0;
  std::string reason;
};
absl::StatusOr<RunPick> PickFromRun(const std::vector<std::string>& inputs, const RunSelection& selection);

// A run as one report: the root trace's child traces are found beside it (several inputs are taken
// as the run's traces as they are), each is scanned, the focus picked as `selection` says, and the
// focus (or with `all` every process, the focus first) analyzed. A --process that names no process
// fails with InvalidArgument listing the processes.
absl::StatusOr<AnalysisReport> AnalyzeRun(const std::vector<std::string>& inputs, const RunSelection& selection,
                                          const AnalysisOptions& options, bool show_progress);

// The index in `run` of the process `selector` names (pid, command name, or trace file), the one that
// allocated most when several match; InvalidArgument listing the processes when none does.
absl::StatusOr<size_t> SelectProcess(const std::vector<RunTrace>& run, const std::string& selector);
// Whether `st` is SelectProcess's "no such process" (a command-line error, exit 64).
bool IsProcessSelectionError(const absl::Status& st);
// The index of the process that allocated most.
size_t MostAllocating(const std::vector<RunTrace>& run);
// "pid 10878 python3 (py.trace.10878.4)".
std::string DescribeRunProcess(const RunTrace& t);

// Reads and analyzes each trace (one process each). Fails only when an input cannot be used at all.
absl::StatusOr<AnalysisReport> Analyze(const std::vector<std::string>& traces, const AnalysisOptions& options,
                                       bool show_progress);

std::string RenderText(const AnalysisReport& report);
std::string RenderJson(const AnalysisReport& report);

// Cuts every list of stacks to its first `n` entries (they are sorted), as if analyzed with --top n.
void KeepTop(AnalysisReport* report, size_t n);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_REPORT_H_
