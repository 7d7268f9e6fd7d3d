#include "cli/analysis_flags.h"

#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "allocprof/units.h"

namespace allocprof {

void AddGenModelFlags(CliArgs& args) {
  args.Option("--gen0-budget", true, "Gen model: Gen0 budget in bytes (default 5/8 of max(0.8 x LLC, 256KiB))");
  args.Option("--llc", true,
              "Gen model: last-level cache size (default: recorded with the trace, else this machine's)");
  args.Option("--gen1-min", true, "Gen model: Gen1 minimum budget (default 256KiB)");
  args.Option("--gen1-max", true, "Gen model: Gen1 maximum budget (default 6MiB)");
  args.Option("--gen2-min", true, "Gen model: Gen2 minimum budget (default 256KiB)");
  args.Option("--loh-min", true, "Gen model: large-object-heap minimum budget (default 3MiB)");
}

absl::Status ReadGenModelFlags(const CliArgs& args, GenParameters* gen) {
  struct ByteFlag {
    const char* flag;
    uint64_t* field;
  };
  for (const ByteFlag& f : {ByteFlag{"--gen0-budget", &gen->gen0_budget}, ByteFlag{"--llc", &gen->llc_bytes},
                            ByteFlag{"--gen1-min", &gen->gen1_min}, ByteFlag{"--gen1-max", &gen->gen1_max},
                            ByteFlag{"--gen2-min", &gen->gen2_min}, ByteFlag{"--loh-min", &gen->loh_min}}) {
    if (args.Has(f.flag) && !units::ParseByteSize(args.Get(f.flag).c_str(), f.field)) {
      return absl::InvalidArgumentError(absl::StrCat(f.flag, ": cannot use '", args.Get(f.flag), "'"));
    }
  }
  return absl::OkStatus();
}

// LeakSanitizer's suppressions format: `leak:PATTERN` per line, `#` comments, blank lines.
absl::Status ReadSuppressions(const std::string& path, std::vector<std::string>* out) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--suppressions: cannot read ", path));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    if (!absl::ConsumePrefix(&text, "leak:") || absl::StripAsciiWhitespace(text).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": expected leak:PATTERN (LeakSanitizer's format), found '", line, "'"));
    }
    out->emplace_back(absl::StripAsciiWhitespace(text));
  }
  return absl::OkStatus();
}

void AddAnalysisFlags(CliArgs& args) {
  args.Option("--top", true, "stacks per list (default 10)");
  args.Option("--windows", true, "timeline windows over the run (default 100)");
  args.Option("--window", true, "fixed timeline window width instead, e.g. 10ms");
  args.Option("--size-classes", true, "size class lower bounds, e.g. 16,64,256,4KiB (default powers of two)");
  args.Option("--loh-threshold", true, "large-object threshold in bytes (default 85000)");
  args.Option("--short-lived", true, "'short-lived' means freed within this (default 1ms)");
  args.Option("--pool-target", true, "hit rate the pool sizing advisor aims at (default 0.99)");
  AddGenModelFlags(args);
  args.Option("--no-symbols", false, "frames as module+offset without reading module files");
  args.Option("--suppressions", true, "leak suppressions file, LeakSanitizer's format (leak:PATTERN per line)");
  args.Option("--no-default-suppressions", false, "list the C/C++ runtimes' one-time allocations as leaks too");
  args.Option("--wrapper", true,
              "allocation helpers skipped in stack labels, comma-separated (xalloc,my_pool::*; adds to "
              "operator new, std::allocator, _IO_*, xmalloc...)");
  args.Option("--from", true, "analyse from this mark (allocprof_mark name, or mark:NAME) or time (12.5s) on");
  args.Option("--to", true, "analyse up to this mark (the first after --from) or time since the process started");
}

absl::Status ReadAnalysisFlags(const CliArgs& args, AnalysisOptions* o) {
  auto bad = [](const char* flag, const std::string& value) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot use '", value, "'"));
  };
  o->symbolize = !args.Has("--no-symbols");
  o->default_suppressions = !args.Has("--no-default-suppressions");
  if (args.Has("--suppressions")) {
    if (absl::Status st = ReadSuppressions(args.Get("--suppressions"), &o->suppressions); !st.ok()) return st;
  }
  if (args.Has("--wrapper")) {
    for (const auto& part : absl::StrSplit(args.Get("--wrapper"), ',', absl::SkipEmpty())) {
      o->wrappers.emplace_back(part);
    }
  }
  if (args.Has("--top") && !absl::SimpleAtoi(args.Get("--top"), &o->top_n)) return bad("--top", args.Get("--top"));
  if (args.Has("--windows") &&
      (!absl::SimpleAtoi(args.Get("--windows"), &o->windows) || o->windows == 0 || o->windows > 100000)) {
    return bad("--windows", args.Get("--windows"));
  }
  if (args.Has("--window") &&
      (!units::ParseDuration(args.Get("--window").c_str(), &o->window_ns) || o->window_ns == 0)) {
    return bad("--window", args.Get("--window"));
  }
  if (args.Has("--short-lived") && !units::ParseDuration(args.Get("--short-lived").c_str(), &o->short_lived_ns)) {
    return bad("--short-lived", args.Get("--short-lived"));
  }
  if (args.Has("--loh-threshold") &&
      !units::ParseByteSize(args.Get("--loh-threshold").c_str(), &o->large_object_bytes)) {
    return bad("--loh-threshold", args.Get("--loh-threshold"));
  }
  if (absl::Status st = ReadGenModelFlags(args, &o->gen); !st.ok()) return st;
  if (args.Has("--pool-target") && (!absl::SimpleAtod(args.Get("--pool-target"), &o->pool_target_hit_rate) ||
                                    o->pool_target_hit_rate <= 0 || o->pool_target_hit_rate > 1)) {
    return bad("--pool-target", args.Get("--pool-target"));
  }
  if (absl::Status st = ReadWindowFlags(args, &o->window); !st.ok()) return st;
  if (args.Has("--size-classes")) {
    for (const auto& part : absl::StrSplit(args.Get("--size-classes"), ',', absl::SkipEmpty())) {
      uint64_t b;
      if (!units::ParseByteSize(std::string(part).c_str(), &b)) return bad("--size-classes", std::string(part));
      o->size_boundaries.push_back(b);
    }
  }
  return absl::OkStatus();
}

void AddProcessFlags(CliArgs& args, bool all) {
  args.Option("--process", true,
              "of a run's processes (the root TRACE and its child traces), report this one: a pid, a command "
              "name (python3) or a trace file (default: the one that allocated most)");
  if (all) args.Option("--all-processes", false, "report every process of the run, the one that allocated most first");
}

RunSelection ReadProcessFlags(const CliArgs& args) {
  RunSelection s;
  s.process = args.Get("--process");
  s.all = args.Has("--all-processes");
  return s;
}

absl::Status ReadWindowFlags(const CliArgs& args, WindowSpec* w) {
  if (args.Has("--from")) {
    if (absl::Status st = ParseWindowBound(args.Get("--from"), "--from", &w->from); !st.ok()) return st;
  }
  if (args.Has("--to")) {
    if (absl::Status st = ParseWindowBound(args.Get("--to"), "--to", &w->to); !st.ok()) return st;
  }
  if (w->from.kind == WindowBound::Kind::kTime && w->to.kind == WindowBound::Kind::kTime && w->to.ns <= w->from.ns) {
    return absl::InvalidArgumentError(
        absl::StrCat("--to ", args.Get("--to"), " must come after --from ", args.Get("--from")));
  }
  return absl::OkStatus();
}

}  // namespace allocprof
