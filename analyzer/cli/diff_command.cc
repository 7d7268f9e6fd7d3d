// allocprof diff BEFORE AFTER: ratios after/before and a verdict CI can act on.
#include <stdio.h>

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
    "verdict. Exit status: 0 all rules hold, 1 a rule failed, 2 bad input, 64 bad command line,\n"
    "73 the --json FILE cannot be written.\n"
    "\n"
    "Rules (--fail-if, repeatable): METRIC>1.10x compares the ratio after/before; METRIC>5 compares\n"
    "after's value; also >=, <, <=. Metrics are the row names of the table (allocations,\n"
    "bytes_allocated, peak_live_bytes, gen2, pool:NAME:fallthrough, ...). When both sides count\n"
    "work units, allocations and bytes_allocated rules compare per-unit figures. Without --fail-if:\n"
    "allocations>1.10x, bytes_allocated>1.10x, peak_live_bytes>1.25x, gen2>1.50x.\n"
    "\n"
    "A trace that is a run's root (its child traces TRACE.PID[.N] beside it) stands for the process\n"
    "of the run that allocated most; AFTER's is the process with BEFORE's command name (like with\n"
    "like); --process PID|NAME picks the process on both sides.\n"
    "\n"
    "options:\n";

}  // namespace

int DiffCommand(int argc, char** argv) {
  CliArgs args;
  args.Option("--fail-if", true, "a verdict rule (repeatable), e.g. allocations>1.10x");
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
  if (!st.ok() || args.positional().size() != 2) {
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
    rules.push_back(*rule);
  }
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
  // A rule on a figure a sampled side cannot estimate would never apply: refuse it, naming why.
  for (const Rule& rule : rules) {
    for (int i = 0; i < 2; ++i) {
      if (!sides[i].sampling.empty() && !IsEstimableWhenSampling(rule.metric)) {
        return UsageError("diff", absl::StrFormat("rule '%s': %s is not available when sampling (%s: %s)", rule.text,
                                                  rule.metric, i ? "AFTER" : "BEFORE", sides[i].sampling));
      }
    }
  }
  DiffResult result = Compare(sides[0], sides[1], rules, top);
  if (json_path != "-") {
    fputs((args.Has("--markdown") ? RenderDiffMarkdown(result) : RenderDiffText(result)).c_str(), stdout);
  }
  if (!json_path.empty()) {
    if (absl::Status out = WriteOutputFile(json_path, RenderDiffJson(result), args.positional()); !out.ok()) {
      fprintf(stderr, "allocprof diff: %s\n", std::string(out.message()).c_str());
      return kExitCantCreate;
    }
  }
  return result.passed ? kExitOk : kExitVerdictFailed;
}

}  // namespace allocprof
