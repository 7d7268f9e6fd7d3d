// Before/after comparison of two analysis reports, and the verdict rules CI acts on.
//
// Both sides are reduced to the JSON report `allocprof analyze --json` writes (a trace is analyzed
// first), so a diff of traces and a diff of saved reports give the same answer.
#ifndef ALLOCPROF_ANALYZER_DIFF_H_
#define ALLOCPROF_ANALYZER_DIFF_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "report/report.h"

namespace allocprof {

enum class Unit { kCount, kBytes, kPerSecond, kBytesPerSecond, kSeconds, kRatio };

struct MetricValue {
  double value = 0;
  Unit unit = Unit::kCount;
  double sigma = 0;  // a sampled side's estimate: its 1 sigma (the report's `*_sigma`); 0 when exact
  // A sampled side's 0 because nothing recorded contributed to it: what that 0 may hide at 95%
  // confidence (the report's `*_upper_95`). 0 when the figure is not such a 0.
  double upper_95 = 0;
};

struct StackSummary {
  std::string key;    // the top frames, joined: identifies "the same stack" across two runs
  std::string label;  // short form for tables
  double calls = 0, bytes = 0;
  double calls_sigma = 0, bytes_sigma = 0;  // a sampled side's: 1 sigma; 0 when exact
};

struct DiffSide {
  std::string source;    // file it came from
  std::string sampling;  // empty for a full trace; else what the estimates are worth (one line)
  std::string command;   // the reported process's command name (read/run_tree.h CommandName)
  // What makes its figures incomplete (unreadable bytes, a cut-off tail, no end record): one line
  // each, naming the file, where and how much. A diff withholds its verdict on it.
  std::vector<std::string> damage;
  std::map<std::string, MetricValue> metrics;
  // A sampled side's figures that are not estimable (null in its report: the peak, temporaries, the
  // Gen model, bytes fallen through a pool): a rule on them cannot apply.
  std::set<std::string> unavailable;
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
// Whether a sampled trace gives an estimate of `metric` (false: its figure is null: temporary
// allocations, which depend on the thread's next allocation that sampling does not record; the peak
// live heap, the maximum of an estimate; the Gen model's figures, which depend on every allocation;
// a pool's bytes fallen through).
bool IsEstimableWhenSampling(const std::string& metric);
// Whether `side` cannot give `metric`: sampled, and the figure is not estimable.
bool UnavailableWhenSampling(const DiffSide& side, const std::string& metric);
// Applied when no --fail-if is given.
std::vector<Rule> DefaultRules();

// What a reader sees for a metric: "allocations per message" for allocations_per_messages.
std::string MetricLabel(const std::string& name);
// Every metric a rule may name (name, label): the fixed ones, then the per-unit and pool figures
// of the work units and pools present in either side (null: not known yet).
std::vector<std::pair<std::string, std::string>> KnownMetrics(const DiffSide* before, const DiffSide* after);
// The list `diff --list-metrics` prints, and a rejected rule's error shows.
std::string ListMetricsText(const DiffSide* before, const DiffSide* after);
// Fails, saying why, when a rule names a metric neither side can have: a misspelled metric, a pool
// or work unit in neither input. With null sides, pool and per-unit names of the right shape pass.
absl::Status CheckRule(const Rule& rule, const DiffSide* before, const DiffSide* after);

struct RuleOutcome {
  Rule rule;
  bool applicable = false;  // both sides have the metric
  // Why it was not applied when a side cannot give its figure: "peak live heap: not available
  // when sampling (before, after)". Empty otherwise.
  std::string not_applied;
  bool failed = false;
  double before = 0, after = 0, compared = 0;  // compared: the ratio or the after value
  Unit unit = Unit::kCount;
  // A sampled side: the 1 sigma of `compared` (a ratio's from both sides' relative errors, which are
  // independent), and whether the threshold lies within 2 sigma of it: the verdict on this rule is
  // then the estimate's, and another sampling could have given the other one. 0 / false when exact.
  double compared_sigma = 0;
  bool within_noise = false;
  // A sampled side's 0 with nothing recorded (MetricValue::upper_95) on which the verdict turns: with
  // that side's figure anywhere up to its 95% bound the rule could go the other way. The bound, and
  // which side gave it ("before" or "after"); 0 / empty otherwise.
  double sampled_zero_upper_95 = 0;
  std::string sampled_zero_side;
};

struct DiffRow {
  std::string metric;
  Unit unit;
  std::optional<double> before, after;
  double before_sigma = 0, after_sigma = 0;  // MetricValue::sigma
  std::string label;                         // MetricLabel(metric)
  bool shown = true;  // false: zero on both sides, or a Gen figure of a run the model never collected
  bool before_unavailable = false, after_unavailable = false;  // not available when sampling: "n/a"
  bool notable = false;  // beyond a rule's threshold, or more than 10% either way: bold in Markdown
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
  std::vector<std::string> before_damage, after_damage;  // DiffSide::damage
  // A side is damaged and the comparison was not asked for anyway: no verdict (diff exits 2).
  bool withheld = false;
  bool damaged() const { return !before_damage.empty() || !after_damage.empty(); }
};

// Without allow_damaged, damage on either side withholds the verdict (DiffResult::withheld).
DiffResult Compare(const DiffSide& before, const DiffSide& after, const std::vector<Rule>& rules, size_t top_n,
                   bool allow_damaged = false);

// "165.0x", "0.98x", "new", "gone", "—".
std::string FormatRatio(std::optional<double> before, std::optional<double> after);
std::string RenderDiffText(const DiffResult& d);
std::string RenderDiffMarkdown(const DiffResult& d);
std::string RenderDiffJson(const DiffResult& d);
std::string VerdictLine(const DiffResult& d);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_DIFF_H_
