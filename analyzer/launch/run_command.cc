// allocprof run [options] -- CMD ARGS...: runs CMD with the shim preloaded.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "launch/preload_launch.h"
#include "launch/shim_options.h"
#include "launch/shim_path.h"
#include "launch/signal_relay.h"
#include "util/cli_args.h"
#include "util/exit_codes.h"
#include "util/output_file.h"

namespace allocprof {
namespace {

constexpr char kRunUsage[] =
    "usage: allocprof run [options] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD with allocprof's shim preloaded. The trace goes to FILE (default allocprof.trace);\n"
    "forked and exec'd child processes write FILE.PID. SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to\n"
    "allocprof are passed on to CMD; allocprof exits as CMD did (its exit status, or its signal).\n"
    "Each option can also come from the ALLOCPROF_* variable named with it (a flag wins); a bad\n"
    "value in either is refused before CMD starts.\n"
    "\n"
    "options:\n";

}  // namespace

int RunCommand(int argc, char** argv) {
  CliArgs args;
  DeclareShimFlags(args, options::kRun);
  args.Option("--force", false, "replace an existing trace file and remove its child-process traces FILE.PID");
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kRunUsage, args.Help().c_str());
    return kExitOk;
  }
  if (int at = args.first_positional_index(); at >= 0) {
    // The program's name without '--' before it: its own flags would be taken for run's.
    std::string options = ShellWords(argc, argv, 2, at);
    return UsageError("run", absl::StrCat("put the command after '--': allocprof run ", options,
                                          options.empty() ? "" : " ", "-- ", ShellWords(argc, argv, at, argc)));
  }
  if (!st.ok()) return UsageError("run", std::string(st.message()));
  if (args.rest().empty()) return UsageError("run", "no command given: allocprof run [options] -- CMD [ARGS...]");
  // The flags, and the ALLOCPROF_* variables CMD would inherit, checked as the shim would.
  absl::StatusOr<std::vector<ShimOption>> shim_options = CollectShimOptions(args, options::kRun);
  if (!shim_options.ok()) {
    return UsageError("run", std::string(shim_options.status().message()));
  }
  bool quiet = ShimOptionValue(*shim_options, options::Id::kQuiet) == "1";
  const std::string& cmd = args.rest()[0];
  PreloadTarget target;
  if (int rc = PrepareTarget("allocprof run", cmd, quiet, &target); rc != kExitOk) return rc;

  std::string output = Absolute(args.Get("--output", "allocprof.trace"));
  if (absl::Status path = CheckOutputPath(output); !path.ok()) {
    return UsageError("run", std::string(path.message()));
  }
  std::string problem;
  if (int rc = PrepareTraceOutput(output, args.Has("--force"), &problem); rc != kExitOk) {
    fprintf(stderr, "allocprof run: %s%s\n", problem.c_str(),
            rc == kExitCantCreate ? absl::StrCat(" (", cmd, " was not started)").c_str() : "");
    return rc;
  }

  std::vector<std::pair<std::string, std::string>> env = {
      {"ALLOCPROF_MODE", "trace"},
      {"ALLOCPROF_OUTPUT", output},
  };
  // The rest as given; a variable without a flag is inherited (and was checked above).
  for (const ShimOption& o : *shim_options) {
    if (o.from_flag && o.spec->id != options::Id::kOutput) env.emplace_back(o.spec->variable, o.value);
  }
  if (args.Has("--start-paused")) env.emplace_back("ALLOCPROF_CONTROL", "1");
  int status = RunPreloaded("allocprof run", target, args.rest(), env);
  if (status < 0) return kExitBadInput;
  int code = ExitCodeOfStatus(status);
  bool traced = IsRegularFile(output);
  if (!quiet && traced) {
    int children = static_cast<int>(ChildTraces(output).size());
    fprintf(stderr, "allocprof: trace written to %s%s\n", output.c_str(),
            children
                ? absl::StrCat(" (and ", children, " child-process trace", children > 1 ? "s" : "", " ", output, ".*)")
                      .c_str()
                : "");
  }
  if (!traced) {
    // The path was checked before the start, so the shim never ran in CMD (the loader's or the
    // shim's message above says why): a run that succeeded untraced is not a success.
    bool ran_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    fprintf(stderr, "allocprof run: no trace was written to %s%s\n", output.c_str(),
            ran_ok ? absl::StrCat(": ", cmd, " ran untraced (see the messages above)").c_str() : "");
    if (ran_ok) return kExitCantCreate;
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (!quiet) {
      const char* name = sigabbrev_np(sig);
      fprintf(stderr, "allocprof: %s was killed by signal %d%s%s%s%s\n", cmd.c_str(), sig, name ? " (SIG" : "",
              name ? name : "", name ? ")" : "",
              sig == SIGKILL ? "; its trace holds what was flushed before (SIGKILL cannot be caught)" : "");
    }
    DieOfSignal(sig);  // as the program did: the shell (or CI) sees the same signal
  }
  return code;
}

}  // namespace allocprof
