// allocprof report TRACE [--baseline TRACE] -o DIR: charts and report.md for a pull request.
//
// The analysis runs here (as `analyze` and `diff` do) and is written into DIR as JSON; the charts
// and report.md are drawn from that JSON by reports/allocprof_report.py under Python matplotlib
// (Debian's, /usr/bin/python3 unless --python), started with posix_spawn and an argv: no shell
// ever sees a path or anything from the trace.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/analysis_flags.h"
#include "cli/commands.h"
#include "report/diff.h"
#include "report/report.h"
#include "util/cli_args.h"
#include "util/output_file.h"
#include "util/text_file.h"

extern char** environ;

namespace allocprof {
namespace {

constexpr char kUsage[] =
    "usage: allocprof report [options] -o DIR TRACE\n"
    "\n"
    "Analyzes TRACE and writes DIR/report.md (headline, charts, top stacks; sized for a pull-request\n"
    "comment) with charts as PNG and SVG: the live heap and allocation rate over time, flame graphs\n"
    "of the allocation stacks by bytes and by calls, size classes, and, when the analysis has them,\n"
    "pools and simulated collections; and DIR/report.html, the same report to explore in a browser\n"
    "(one self-contained file: zoomable flame graph, time-range selection on the timeline). With\n"
    "--baseline it adds before/after charts, a differential flame graph, the comparison table and the\n"
    "verdict of 'allocprof diff' with its default rules. The JSON the charts are drawn from stays in\n"
    "DIR (analysis.json with the flame section, baseline.json, diff.json).\n"
    "DIR is created if missing; an existing file or symlink named DIR is refused. Prints the path of\n"
    "report.md.\n"
    "\n"
    "Exit status: 0 report written, 2 bad input (a trace or JSON that cannot be used), 64 bad command\n"
    "line or unusable DIR, 70 drawing failed (Python or matplotlib missing: see --python), 73 a file\n"
    "in DIR cannot be written, 127 the interpreter cannot be run. The verdict does not change the exit status: gate CI "
    "with\n"
    "'allocprof diff', whose exit status is the verdict.\n"
    "\n"
    "The charts need Python 3 with matplotlib (Debian: python3-matplotlib). The drawing script is\n"
    "found through $ALLOCPROF_REPORTS (the reports/ directory), else beside the binary (../reports).\n"
    "\n"
    "options:\n";

constexpr char kDefaultPython[] = "/usr/bin/python3";
constexpr char kEntryPoint[] = "allocprof_report.py";
constexpr int kExitDrawingFailed = 70;  // EX_SOFTWARE: the chart step did not complete
constexpr int kExitNoInterpreter = 127;
constexpr size_t kDiffTopN = 100;  // stacks per list the diff compares, so "new" means new

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// reports/allocprof_report.py: $ALLOCPROF_REPORTS, else relative to this binary (the build tree's
// build/allocprof, or an installed bin/allocprof with share/allocprof/reports).
std::string FindEntryPoint(std::vector<std::string>* tried) {
  std::vector<std::string> candidates;
  if (const char* env = getenv("ALLOCPROF_REPORTS"); env && *env) {
    candidates.push_back(absl::StrCat(env, "/", kEntryPoint));
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    std::string bindir = Dirname(std::string(exe, static_cast<size_t>(n)));
    candidates.push_back(absl::StrCat(bindir, "/../reports/", kEntryPoint));
    candidates.push_back(absl::StrCat(bindir, "/../share/allocprof/reports/", kEntryPoint));
  }
  for (const auto& c : candidates) {
    if (IsFile(c)) return c;
    tried->push_back(c);
  }
  return "";
}

// DIR must be a directory or not exist yet; a symlink or any other file is refused.
bool CheckDir(const std::string& dir, bool* exists, std::string* error) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      *error = absl::StrCat(dir, ": ", strerror(errno));
      return false;
    }
    *exists = false;
    return true;
  }
  if (S_ISLNK(st.st_mode)) {
    *error = absl::StrCat(dir, " is a symlink: not followed; give the directory itself");
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    *error = absl::StrCat(dir, " exists and is not a directory");
    return false;
  }
  *exists = true;
  return true;
}

// mkdir -p: parents as needed, DIR itself must end up a real directory (not a symlink).
bool MakeDir(const std::string& dir, std::string* error) {
  for (size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    std::string prefix = dir.substr(0, at);
    if (mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST) {
      *error = absl::StrCat("cannot create ", prefix, ": ", strerror(errno));
      return false;
    }
  }
  bool exists = false;
  return CheckDir(dir, &exists, error) && exists;
}

// Writes DIR/NAME under the output policy (util/output_file.h); the report's inputs are never replaced.
bool WriteInDir(const std::string& dir, const std::string& name, const std::string& data,
                const std::vector<std::string>& inputs, std::string* error) {
  absl::Status st = WriteOutputFile(absl::StrCat(dir, "/", name), data, inputs);
  if (!st.ok()) *error = std::string(st.message());
  return st.ok();
}

// One side of the report: the analysis JSON to draw (top stacks), and the diff's view of it.
struct Side {
  std::string json;
  DiffSide diff;
};

absl::StatusOr<Side> LoadSide(const std::string& path, const AnalysisOptions& options, size_t top, bool progress,
                              bool allow_json, const RunSelection& selection) {
  Side side;
  if (allow_json && !StartsWithTraceMagic(path)) {
    if (!ReadWholeFile(path, &side.json)) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
    auto diff = DiffSideFromJson(side.json, path);
    if (!diff.ok()) return diff.status();
    side.diff = std::move(*diff);
    return side;
  }
  auto report = AnalyzeRun({path}, selection, options, progress);
  if (!report.ok()) return report.status();
  // The diff reads no flame section: render it without (tens of MB on large runs), then with.
  report->options.flame = false;
  auto diff = DiffSideFromJson(RenderJson(*report), path);
  report->options.flame = true;
  if (!diff.ok()) return diff.status();
  side.diff = std::move(*diff);
  KeepTop(&*report, top);
  side.json = RenderJson(*report);
  return side;
}

// Runs argv[0] (through PATH when it has no slash) and waits. Returns the exit code, 128+N for a
// signal, or -1 with errno_out set when it could not be started.
int Spawn(const std::vector<std::string>& argv, int* errno_out) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  fflush(stdout);
  fflush(stderr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    *errno_out = rc;
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      *errno_out = errno;
      return -1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int ReportCommand(int argc, char** argv) {
  CliArgs args;
  args.Option("-o,--output", true, "directory to write report.md, the charts and their JSON into (required)");
  args.Option("--baseline", true, "trace (or analyze --json report) to compare against");
  args.Option("--python", true, "Python 3 interpreter with matplotlib (default /usr/bin/python3)");
  AddAnalysisFlags(args);  // --top: stacks per table in report.md
  AddProcessFlags(args, false);
  args.Option("--progress", false, "show progress on stderr (default: only when stderr is a terminal)");
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kUsage, args.Help().c_str());
    return kExitOk;
  }
  std::vector<std::string> traces = args.positional();
  for (const auto& r : args.rest()) traces.push_back(r);
  std::string problem = !st.ok() ? std::string(st.message())
                        : traces.size() != 1
                            ? (traces.empty() ? "no trace given" : "one TRACE only (compare with --baseline)")
                        : !args.Has("--output")        ? "-o DIR is required"
                        : args.Get("--output").empty() ? "-o needs a directory"
                                                       : "";
  if (!problem.empty()) return UsageError("report", problem);
  size_t top = 10;
  if (args.Has("--top") && (!absl::SimpleAtoi(args.Get("--top"), &top) || top == 0 || top > 1000)) {
    return UsageError("report", absl::StrFormat("--top: cannot use '%s'", args.Get("--top").c_str()));
  }
  const std::string dir = StripTrailingSlashes(args.Get("--output"));
  const std::string python = args.Get("--python", kDefaultPython);
  const bool has_baseline = args.Has("--baseline");
  bool dir_exists = false;
  std::string error;
  if (!CheckDir(dir, &dir_exists, &error)) {
    return UsageError("report", absl::StrFormat("%s", error.c_str()));
  }
  std::vector<std::string> tried;
  std::string entry = FindEntryPoint(&tried);
  if (entry.empty()) {
    fprintf(stderr,
            "allocprof report: cannot find the chart script (%s); set ALLOCPROF_REPORTS to the reports/ "
            "directory\n",
            absl::StrJoin(tried, ", ").c_str());
    return kExitDrawingFailed;
  }

  AnalysisOptions options;
  if (absl::Status flags = ReadAnalysisFlags(args, &options); !flags.ok()) {
    return UsageError("report", absl::StrFormat("%s", std::string(flags.message()).c_str()));
  }
  options.top_n = std::max(top, has_baseline ? kDiffTopN : top);
  options.flame = true;  // the flame graphs and report.html draw every stack
  bool progress = args.Has("--progress") || isatty(STDERR_FILENO);
  RunSelection selection = ReadProcessFlags(args);
  auto current = LoadSide(traces[0], options, top, progress, false, selection);
  if (!current.ok()) {
    fprintf(stderr, "allocprof report: %s\n", std::string(current.status().message()).c_str());
    return IsProcessSelectionError(current.status()) ? kExitUsage : kExitBadInput;
  }
  Side baseline;
  std::string diff_json;
  if (has_baseline) {
    // The baseline's process: the same command as this run's (like with like), unless --process.
    if (selection.process.empty()) selection.same_command = current->diff.command;
    auto loaded = LoadSide(args.Get("--baseline"), options, top, progress, true, selection);
    if (!loaded.ok()) {
      fprintf(stderr, "allocprof report: --baseline: %s\n", std::string(loaded.status().message()).c_str());
      return kExitBadInput;
    }
    baseline = std::move(*loaded);
    DiffResult diff = Compare(baseline.diff, current->diff, DefaultRules(), 10);
    diff_json = RenderDiffJson(diff);
    fprintf(stderr, "allocprof report: %s (the report's exit status does not depend on it)\n",
            VerdictLine(diff).c_str());
  }

  if (!dir_exists && !MakeDir(dir, &error)) {
    return UsageError("report", absl::StrFormat("%s", error.c_str()));
  }
  std::vector<std::string> inputs = {traces[0]};
  if (has_baseline) inputs.push_back(args.Get("--baseline"));
  bool written = WriteInDir(dir, "analysis.json", current->json, inputs, &error);
  if (written && has_baseline) {
    written = WriteInDir(dir, "baseline.json", baseline.json, inputs, &error) &&
              WriteInDir(dir, "diff.json", diff_json, inputs, &error);
  } else if (written) {
    for (const char* stale : {"baseline.json", "diff.json"}) unlink(absl::StrCat(dir, "/", stale).c_str());
  }
  if (!written) {
    fprintf(stderr, "allocprof report: %s\n", error.c_str());
    return kExitCantCreate;
  }

  std::vector<std::string> cmd = {python,  "-B", entry,   "--analysis",       dir + "/analysis.json",
                                  "--out", dir,  "--top", std::to_string(top)};
  if (has_baseline) {
    for (const char* s : {"--baseline", "baseline.json", "--diff", "diff.json"}) {
      cmd.push_back(s[0] == '-' ? std::string(s) : absl::StrCat(dir, "/", s));
    }
  }
  if (progress) {
    cmd.push_back("--progress");
    fprintf(stderr, "allocprof report: drawing charts with %s\n", python.c_str());
  }
  int spawn_errno = 0;
  int rc = Spawn(cmd, &spawn_errno);
  if (rc < 0) {
    fprintf(stderr, "allocprof report: cannot run %s: %s (pass --python with a Python 3 that has matplotlib)\n",
            python.c_str(), strerror(spawn_errno));
    return kExitNoInterpreter;
  }
  if (rc != 0) {
    fprintf(stderr, "allocprof report: drawing the charts failed (%s exited with %d); the JSON is in %s\n",
            python.c_str(), rc, dir.c_str());
    return kExitDrawingFailed;
  }
  printf("%s/report.md\n", dir.c_str());
  return kExitOk;
}

}  // namespace allocprof
