// Before/after comparison of two analysis reports, and the verdict rules CI acts on.
//
// Both sides are reduced to the JSON report `allocprof analyze --json` writes (a trace is analyzed
// first), so a diff of traces and a diff of saved reports give the same answer.
#ifndef ALLOCPROF_ANALYZER_DIFF_H_
#define ALLOCPROF_ANALYZER_DIFF_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "report/report.h"

namespace allocprof {

enum class Unit { kCount, kBytes, kPerSecond, kBytesPerSecond, kSeconds, kRatio };

struct MetricValue {
  double value = 0;
  Unit unit = Unit::kCount;
};

struct StackSummary {
  std::string key;    // the top frames, joined: identifies "the same stack" across two runs
  std::string label;  // short form for tables
  double calls = 0, bytes = 0;
};

struct DiffSide {
  std::string source;    // file it came from
  std::string sampling;  // empty for a full trace; else what the estimates are worth (one line)
  std::string command;   // the reported process's command name (read/run_tree.h CommandName)
  std::map<std::string, MetricValue> metrics;
  std::vector<StackSummary> stacks;
};

// Loads a trace (analyzed with `options`; a run's root: the process `selection` picks, see
// AnalyzeRun) or a JSON report. Fails naming the file on bad input.
absl::StatusOr<DiffSide> LoadDiffSide(const std::string& path, const AnalysisOptions& options,
                                      const RunSelection& selection = {});
// Reduces a JSON report's text (analyze's schema) to a side.
absl::StatusOr<DiffSide> DiffSideFromJson(const std::string& json_text, const std::string& source);

// "allocations>1.10x" (ratio after/before), "gen2>=5" (after's value), "pool:NAME:hit_rate<0.9".
struct Rule {
  std::string text;
  std::string metric;
  enum class Op { kGreater, kGreaterEqual, kLess, kLessEqual } op;
  double threshold = 0;
  bool ratio = false;
};
absl::StatusOr<Rule> ParseRule(const std::string& text);
// Whether a sampled trace gives an estimate of `metric` (false: its figure is null, e.g. temporary
// allocations, which depend on the thread's next allocation that sampling does not record).
bool IsEstimableWhenSampling(const std::string& metric);
// Applied when no --fail-if is given.
std::vector<Rule> DefaultRules();

struct RuleOutcome {
  Rule rule;
  bool applicable = false;  // both sides have the metric
  bool failed = false;
  double before = 0, after = 0, compared = 0;  // compared: the ratio or the after value
  Unit unit = Unit::kCount;
};

struct DiffRow {
  std::string metric;
  Unit unit;
  std::optional<double> before, after;
};

struct StackChange {
  StackSummary before, after;
};

struct DiffResult {
  std::string before_source, after_source;
  std::string before_sampling, after_sampling;  // DiffSide::sampling
  std::vector<DiffRow> rows;
  std::vector<StackChange> grown;  // by bytes growth, largest first
  std::vector<StackChange> added;  // in after's lists only
  std::vector<RuleOutcome> outcomes;
  bool passed = true;
};

DiffResult Compare(const DiffSide& before, const DiffSide& after, const std::vector<Rule>& rules, size_t top_n);

// "165.0x", "0.98x", "new", "gone", "—".
std::string FormatRatio(std::optional<double> before, std::optional<double> after);
std::string RenderDiffText(const DiffResult& d);
std::string RenderDiffMarkdown(const DiffResult& d);
std::string RenderDiffJson(const DiffResult& d);
std::string VerdictLine(const DiffResult& d);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_DIFF_H_
