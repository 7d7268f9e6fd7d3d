// allocprof analyze TRACE...: the pressure report of one process, or of a fork tree's traces.
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "allocprof/units.h"
#include "cli_args.h"
#include "commands.h"
#include "report.h"

namespace allocprof {
namespace {

constexpr char kUsage[] =
    "usage: allocprof analyze [options] TRACE [TRACE...]\n"
    "\n"
    "Reads each trace in one streaming pass and prints the allocation report: totals, entry points,\n"
    "size classes, top stacks (symbolized), the live heap over time and its sawtooth, leaks and\n"
    "mismatched frees. Several traces of one fork tree are reported one section per process; the\n"
    "first one is the root.\n"
    "\n"
    "options:\n";

bool WriteFileAtomically(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << data;
    if (!out.flush()) return false;
  }
  return rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int AnalyzeCommand(int argc, char** argv) {
  CliArgs args;
  args.Option("--json", true, "also write the report as JSON to FILE (- for stdout, then no text)");
  args.Option("--top", true, "stacks per list (default 10)");
  args.Option("--windows", true, "timeline windows over the run (default 100)");
  args.Option("--window", true, "fixed timeline window width instead, e.g. 10ms");
  args.Option("--size-classes", true, "size class lower bounds, e.g. 16,64,256,4KiB (default powers of two)");
  args.Option("--loh-threshold", true, "large-object threshold in bytes (default 85000)");
  args.Option("--short-lived", true, "'short-lived' means freed within this (default 1ms)");
  args.Option("--pool-target", true, "hit rate the pool sizing advisor aims at (default 0.99)");
  args.Option("--gen0-budget", true, "Gen model: Gen0 budget in bytes (default 5/8 of max(0.8 x LLC, 256KiB))");
  args.Option("--llc", true, "Gen model: last-level cache size (default: recorded with the trace, else this machine's)");
  args.Option("--gen1-min", true, "Gen model: Gen1 minimum budget (default 256KiB)");
  args.Option("--gen1-max", true, "Gen model: Gen1 maximum budget (default 6MiB)");
  args.Option("--gen2-min", true, "Gen model: Gen2 minimum budget (default 256KiB)");
  args.Option("--loh-min", true, "Gen model: large-object-heap minimum budget (default 3MiB)");
  args.Option("--no-symbols", false, "report frames as module+offset without reading module files");
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
    fprintf(stderr, "allocprof analyze: %s\n%s%s", st.ok() ? "no trace given" : std::string(st.message()).c_str(),
            kUsage, args.Help().c_str());
    return kExitUsage;
  }
  AnalysisOptions options;
  options.symbolize = !args.Has("--no-symbols");
  auto bad = [](const char* flag, const std::string& value) {
    fprintf(stderr, "allocprof analyze: %s: cannot use '%s'\n", flag, value.c_str());
    return kExitUsage;
  };
  if (args.Has("--top") && !absl::SimpleAtoi(args.Get("--top"), &options.top_n)) return bad("--top", args.Get("--top"));
  if (args.Has("--windows") && (!absl::SimpleAtoi(args.Get("--windows"), &options.windows) || options.windows == 0 ||
                                options.windows > 100000)) {
    return bad("--windows", args.Get("--windows"));
  }
  if (args.Has("--window") && (!units::ParseDuration(args.Get("--window").c_str(), &options.window_ns) ||
                               options.window_ns == 0)) {
    return bad("--window", args.Get("--window"));
  }
  if (args.Has("--loh-threshold") &&
      !units::ParseByteSize(args.Get("--loh-threshold").c_str(), &options.large_object_bytes)) {
    return bad("--loh-threshold", args.Get("--loh-threshold"));
  }
  if (args.Has("--short-lived") && !units::ParseDuration(args.Get("--short-lived").c_str(), &options.short_lived_ns)) {
    return bad("--short-lived", args.Get("--short-lived"));
  }
  struct ByteFlag {
    const char* flag;
    uint64_t* field;
  };
  for (const ByteFlag& f : {ByteFlag{"--gen0-budget", &options.gen.gen0_budget}, ByteFlag{"--llc", &options.gen.llc_bytes},
                            ByteFlag{"--gen1-min", &options.gen.gen1_min}, ByteFlag{"--gen1-max", &options.gen.gen1_max},
                            ByteFlag{"--gen2-min", &options.gen.gen2_min}, ByteFlag{"--loh-min", &options.gen.loh_min}}) {
    if (args.Has(f.flag) && !units::ParseByteSize(args.Get(f.flag).c_str(), f.field)) return bad(f.flag, args.Get(f.flag));
  }
  if (args.Has("--pool-target") && (!absl::SimpleAtod(args.Get("--pool-target"), &options.pool_target_hit_rate) ||
                                    options.pool_target_hit_rate <= 0 || options.pool_target_hit_rate > 1)) {
    return bad("--pool-target", args.Get("--pool-target"));
  }
  if (args.Has("--size-classes")) {
    for (const auto& part : absl::StrSplit(args.Get("--size-classes"), ',', absl::SkipEmpty())) {
      uint64_t b;
      if (!units::ParseByteSize(std::string(part).c_str(), &b)) return bad("--size-classes", std::string(part));
      options.size_boundaries.push_back(b);
    }
  }
  bool progress = args.Has("--progress") || isatty(STDERR_FILENO);
  auto report = Analyze(traces, options, progress);
  if (!report.ok()) {
    fprintf(stderr, "allocprof analyze: %s\n", std::string(report.status().message()).c_str());
    return kExitBadInput;
  }
  std::string json_path = args.Get("--json");
  if (json_path != "-") fputs(RenderText(*report).c_str(), stdout);
  if (!json_path.empty()) {
    std::string json = RenderJson(*report);
    if (json_path == "-") {
      fputs(json.c_str(), stdout);
    } else if (!WriteFileAtomically(json_path, json)) {
      fprintf(stderr, "allocprof analyze: cannot write %s\n", json_path.c_str());
      return kExitBadInput;
    }
  }
  if (progress) fprintf(stderr, "allocprof: analyzed in %.2f s\n", report->analysis_seconds);
  return kExitOk;
}

}  // namespace allocprof
