// allocprof diff BEFORE AFTER: ratios after/before and a verdict CI can act on.
#include <stdio.h>
#include <string.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/analysis_flags.h"
#include "cli/commands.h"
#include "report/diff.h"
#include "util/cli_args.h"
#include "util/output_file.h"

namespace allocprof {
namespace {

constexpr char kUsage[] =
    "usage: allocprof diff [options] BEFORE AFTER\n"
    "\n"
    "BEFORE and AFTER are traces or JSON reports from 'allocprof analyze --json'. Prints every figure\n"
    "side by side with the ratio after/before, the stacks that grew most and the new ones, and a\n"
    "verdict. Exit status: 0 all rules hold, 1 a rule failed, 2 bad input or a damaged input (no\n"
    "verdict: the damage is printed first; --allow-damaged compares anyway and marks the damaged side's\n"
    "figures with !), 64 bad command line, 73 the --json FILE cannot be written.\n"
    "\n"
    "Rules (--fail-if, repeatable): METRIC>1.10x compares the ratio after/before; METRIC>5 compares\n"
    "after's value; also >=, <, <=. Metrics: allocations, bytes_allocated, peak_live_bytes, gen2,\n"
    "pool:NAME:fallthrough, ... ('--list-metrics' lists them all, with the pools of BEFORE and AFTER\n"
    "when given). A rule naming a metric, pool or work unit neither input has is refused (exit 64).\n"
    "When both sides count work units, allocations and bytes_allocated rules compare per-unit\n"
    "figures. Without --fail-if: allocations>1.10x, bytes_allocated>1.10x, peak_live_bytes>1.25x,\n"
    "gen2>1.50x.\n"
    "\n"
    "A trace that is a run's root (its child traces TRACE.PID[.N] beside it) stands for the process\n"
    "of the run that allocated most; AFTER's is the process with BEFORE's command name (like with\n"
    "like); --process PID|NAME picks the process on both sides.\n"
    "\n"
    "options:\n";

// A rule that can never apply: a CI gate that would never fire. Exit 64 with the valid names.
int RuleError(const absl::Status& why, const DiffSide* before = nullptr, const DiffSide* after = nullptr) {
  fprintf(stderr, "allocprof diff: %s\n%s", std::string(why.message()).c_str(), ListMetricsText(before, after).c_str());
  return kExitUsage;
}

}  // namespace

int DiffCommand(int argc, char** argv) {
  CliArgs args;
  args.Option("--fail-if", true, "a verdict rule (repeatable), e.g. allocations>1.10x");
  args.Option("--list-metrics", false, "list the metrics rules can name (and the pools of BEFORE and AFTER) and exit");
  args.Option("--allow-damaged", false, "compare even when an input is damaged (its figures are marked !)");
  args.Option("--markdown", false, "print a Markdown table for a pull-request comment instead of text");
  args.Option("--json", true, "also write the comparison as JSON to FILE (- for stdout, then no text)");
  AddAnalysisFlags(args);  // for trace inputs; --top: stacks listed as grown / new
  AddProcessFlags(args, false);
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kUsage, args.Help().c_str());
    return kExitOk;
  }
  bool list = args.Has("--list-metrics");
  if (!st.ok() || (args.positional().size() != 2 && !(list && args.positional().empty()))) {
    return UsageError("diff",
                      st.ok() ? absl::StrCat("give two inputs, BEFORE and AFTER (got ", args.positional().size(), ")")
                              : std::string(st.message()));
  }
  size_t top = 10;
  if (args.Has("--top") && !absl::SimpleAtoi(args.Get("--top"), &top)) {
    return UsageError("diff", "--top needs a number");
  }
  std::vector<Rule> rules;
  for (const auto& text : args.GetAll("--fail-if")) {
    auto rule = ParseRule(text);
    if (!rule.ok()) {
      return UsageError("diff", absl::StrFormat("%s", std::string(rule.status().message()).c_str()));
    }
    // Names no input could have are refused before the (slow) analysis; pools and units after.
    if (absl::Status known = CheckRule(*rule, nullptr, nullptr); !known.ok()) return RuleError(known);
    rules.push_back(*rule);
  }
  if (list && args.positional().empty()) {
    fputs(ListMetricsText(nullptr, nullptr).c_str(), stdout);
    return kExitOk;
  }
  // The defaults are kept even when a sampled side cannot give a figure: Compare lists such a rule
  // as not applied; only rules the user wrote are refused for it (below).
  bool explicit_rules = !rules.empty();
  if (rules.empty()) rules = DefaultRules();
  AnalysisOptions options;
  if (absl::Status flags = ReadAnalysisFlags(args, &options); !flags.ok()) {
    return UsageError("diff", absl::StrFormat("%s", std::string(flags.message()).c_str()));
  }
  std::string json_path = args.Get("--json");
  if (absl::Status out = CheckOutputFile(json_path, args.positional()); !json_path.empty() && !out.ok()) {
    fprintf(stderr, "allocprof diff: %s\n", std::string(out.message()).c_str());
    return kExitCantCreate;
  }
  options.top_n = std::max<size_t>(100, top);  // more stacks than a report shows, so "new" means new
  DiffSide sides[2];
  RunSelection selection = ReadProcessFlags(args);
  for (int i = 0; i < 2; ++i) {
    // A run on each side: AFTER's process is BEFORE's command (like with like) unless --process says.
    if (i == 1 && selection.process.empty()) selection.same_command = sides[0].command;
    auto side = LoadDiffSide(args.positional()[i], options, selection);
    if (!side.ok()) {
      fprintf(stderr, "allocprof diff: %s\n", std::string(side.status().message()).c_str());
      return IsProcessSelectionError(side.status()) ? kExitUsage : kExitBadInput;
    }
    sides[i] = std::move(*side);
  }
  if (list) {
    fputs(ListMetricsText(&sides[0], &sides[1]).c_str(), stdout);
    return kExitOk;
  }
  // A rule on a figure a sampled side cannot estimate would never apply: refuse it, naming why.
  for (const Rule& rule : explicit_rules ? rules : std::vector<Rule>{}) {
    for (int i = 0; i < 2; ++i) {
      if (UnavailableWhenSampling(sides[i], rule.metric) && (i == 1 || rule.ratio)) {
        return UsageError("diff", absl::StrFormat("rule '%s': %s is not available when sampling (%s: %s)", rule.text,
                                                  rule.metric, i ? "AFTER" : "BEFORE", sides[i].sampling));
      }
    }
  }
  for (const Rule& rule : rules) {
    if (absl::Status known = CheckRule(rule, &sides[0], &sides[1]); !known.ok()) {
      return RuleError(known, &sides[0], &sides[1]);
    }
  }
  DiffResult result = Compare(sides[0], sides[1], rules, top, args.Has("--allow-damaged"));
  if (result.withheld) {
    fprintf(stderr, "allocprof diff: no verdict: %s\n", VerdictLine(result).c_str() + strlen("verdict: WITHHELD — "));
  }
  if (json_path != "-") {
    fputs((args.Has("--markdown") ? RenderDiffMarkdown(result) : RenderDiffText(result)).c_str(), stdout);
  }
  if (!json_path.empty()) {
    if (absl::Status out = WriteOutputFile(json_path, RenderDiffJson(result), args.positional()); !out.ok()) {
      fprintf(stderr, "allocprof diff: %s\n", std::string(out.message()).c_str());
      return kExitCantCreate;
    }
  }
  if (result.withheld) return kExitBadInput;
  return result.passed ? kExitOk : kExitVerdictFailed;
}

}  // namespace allocprof
