// allocprof run [options] -- CMD ARGS...: runs CMD with the shim preloaded.
#include <dirent.h>
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
#include "launch/preload_launch.h"
#include "launch/shim_options.h"
#include "launch/shim_path.h"
#include "util/cli_args.h"
#include "util/exit_codes.h"

namespace allocprof {
namespace {

int CountChildTraces(const std::string& output) {
  std::string dir = output.substr(0, output.rfind('/'));
  std::string base = output.substr(output.rfind('/') + 1) + ".";
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  int count = 0;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (!absl::StartsWith(name, base)) continue;
    std::string suffix = name.substr(base.size());
    if (!suffix.empty() && suffix.find_first_not_of("0123456789.") == std::string::npos) ++count;
  }
  closedir(d);
  return count;
}

constexpr char kRunUsage[] =
    "usage: allocprof run [options] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD with allocprof's shim preloaded. The trace goes to FILE (default allocprof.trace);\n"
    "forked and exec'd child processes write FILE.PID. Exit status is CMD's.\n"
    "Each option can also come from the ALLOCPROF_* variable named with it (a flag wins); a bad\n"
    "value in either is refused before CMD starts.\n"
    "\n"
    "options:\n";

}  // namespace

int RunCommand(int argc, char** argv) {
  CliArgs args;
  DeclareShimFlags(args, options::kRun);
  args.Option("--force", false, "replace an existing trace file");
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kRunUsage, args.Help().c_str());
    return kExitOk;
  }
  if (!st.ok() || args.rest().empty() || !args.positional().empty()) {
    if (!st.ok())
      fprintf(stderr, "allocprof run: %s\n", std::string(st.message()).c_str());
    else if (!args.positional().empty())
      fprintf(stderr, "allocprof run: put the command after '--' (got '%s')\n", args.positional()[0].c_str());
    else
      fprintf(stderr, "allocprof run: no command given\n");
    fprintf(stderr, "%s%s", kRunUsage, args.Help().c_str());
    return kExitUsage;
  }
  // The flags, and the ALLOCPROF_* variables CMD would inherit, checked as the shim would.
  absl::StatusOr<std::vector<ShimOption>> shim_options = CollectShimOptions(args, options::kRun);
  if (!shim_options.ok()) {
    fprintf(stderr, "allocprof run: %s\n", std::string(shim_options.status().message()).c_str());
    return kExitUsage;
  }
  bool quiet = ShimOptionValue(*shim_options, options::Id::kQuiet) == "1";
  const std::string& cmd = args.rest()[0];
  PreloadTarget target;
  if (int rc = PrepareTarget("allocprof run", cmd, quiet, &target); rc != kExitOk) return rc;

  std::string output = Absolute(args.Get("--output", "allocprof.trace"));
  if (absl::Status path = CheckOutputPath(output); !path.ok()) {
    fprintf(stderr, "allocprof run: %s\n", std::string(path.message()).c_str());
    return kExitUsage;
  }
  struct stat st_out;
  if (lstat(output.c_str(), &st_out) == 0) {
    if (!args.Has("--force")) {
      fprintf(stderr, "allocprof run: %s already exists; pass --force to replace it or choose another -o\n",
              output.c_str());
      return kExitUsage;
    }
    if (S_ISDIR(st_out.st_mode)) {
      fprintf(stderr, "allocprof run: %s is a directory\n", output.c_str());
      return kExitUsage;
    }
    // Removing the name (a symlink is removed, not followed); the shim then creates a fresh file.
    if (unlink(output.c_str()) != 0) {
      fprintf(stderr, "allocprof run: cannot replace %s: %s\n", output.c_str(), strerror(errno));
      return kExitBadInput;
    }
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
  if (!quiet) {
    int children = CountChildTraces(output);
    if (IsRegularFile(output)) {
      fprintf(stderr, "allocprof: trace written to %s%s\n", output.c_str(),
              children ? absl::StrCat(" (and ", children, " child-process trace", children > 1 ? "s" : "", " ", output,
                                      ".*)")
                             .c_str()
                       : "");
    } else {
      fprintf(stderr, "allocprof: no trace was written to %s (did %s start?)\n", output.c_str(), cmd.c_str());
    }
    if (WIFSIGNALED(status)) {
      fprintf(stderr, "allocprof: %s was killed by signal %d; its trace holds everything up to the last flush\n",
              cmd.c_str(), WTERMSIG(status));
    }
  }
  return code;
}

}  // namespace allocprof
