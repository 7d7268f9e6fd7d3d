// allocprof analyze TRACE...: the pressure report of one process, or of a fork tree's traces.
#include <stdio.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "allocprof/units.h"
#include "cli/analysis_flags.h"
#include "cli/commands.h"
#include "report/report.h"
#include "util/cli_args.h"
#include "util/output_file.h"

namespace allocprof {
namespace {

constexpr char kUsage[] =
    "usage: allocprof analyze [options] TRACE [TRACE...]\n"
    "\n"
    "Reads each trace in one streaming pass and prints the allocation report: totals, entry points,\n"
    "size classes, top stacks (symbolized), the live heap over time and its sawtooth, leaks and\n"
    "mismatched frees. A run's child traces (TRACE.PID, TRACE.PID.N: forked children and the programs\n"
    "they exec'd) are found beside the root TRACE: the report lists the processes, says which one\n"
    "allocated most and reports that one (--process picks another, --all-processes reports each).\n"
    "Several TRACEs named are reported one section each, the one that allocated most first.\n"
    "\n"
    "options:\n";

}  // namespace

int AnalyzeCommand(int argc, char** argv) {
  CliArgs args;
  args.Option("--json", true, "also write the report as JSON to FILE (- for stdout, then no text)");
  AddAnalysisFlags(args);
  AddProcessFlags(args, true);
  args.Option("--progress", false, "show progress on stderr (default: only when stderr is a terminal)");
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kUsage, args.Help().c_str());
    return kExitOk;
  }
  std::vector<std::string> traces = args.positional();
  for (const auto& r : args.rest()) traces.push_back(r);
  if (!st.ok() || traces.empty()) {
    return UsageError("analyze", st.ok() ? "no trace given: name one or more TRACE files" : std::string(st.message()));
  }
  AnalysisOptions options;
  if (absl::Status flags = ReadAnalysisFlags(args, &options); !flags.ok()) {
    return UsageError("analyze", absl::StrFormat("%s", std::string(flags.message()).c_str()));
  }
  std::string json_path = args.Get("--json");
  if (absl::Status out = CheckOutputFile(json_path, traces); !json_path.empty() && !out.ok()) {
    fprintf(stderr, "allocprof analyze: %s\n", std::string(out.message()).c_str());
    return kExitCantCreate;
  }
  bool progress = args.Has("--progress") || isatty(STDERR_FILENO);
  RunSelection selection = ReadProcessFlags(args);
  selection.all |= traces.size() > 1 && selection.process.empty();
  auto report = AnalyzeRun(traces, selection, options, progress);
  if (!report.ok()) {
    fprintf(stderr, "allocprof analyze: %s\n", std::string(report.status().message()).c_str());
    return IsProcessSelectionError(report.status()) ? kExitUsage : kExitBadInput;
  }
  if (json_path != "-") fputs(RenderText(*report).c_str(), stdout);
  if (!json_path.empty()) {
    if (absl::Status out = WriteOutputFile(json_path, RenderJson(*report), traces); !out.ok()) {
      fprintf(stderr, "allocprof analyze: %s\n", std::string(out.message()).c_str());
      return kExitCantCreate;
    }
  }
  if (progress) fprintf(stderr, "allocprof: analyzed in %.2f s\n", report->analysis_seconds);
  return kExitOk;
}

}  // namespace allocprof
