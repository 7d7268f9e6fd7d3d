// allocprof test [options] -- CMD ARGS...: runs a test binary with the shim counting
// (ALLOCPROF_MODE=count), for the budgets of include/allocprof/budget.h and gtest.h.
#include <stdio.h>

#include <string>
#include <utility>
#include <vector>

#include "launch/preload_launch.h"
#include "launch/shim_options.h"
#include "util/cli_args.h"
#include "util/exit_codes.h"

namespace allocprof {
namespace {

constexpr char kTestUsage[] =
    "usage: allocprof test [options] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD (typically a test binary) with allocprof's shim preloaded in counting mode: every\n"
    "allocation, free and pool rent is counted per thread, for the budgets of allocprof/budget.h\n"
    "and allocprof/gtest.h (EXPECT_ALLOCATIONS_LE, EXPECT_NO_ALLOCATIONS, EXPECT_POOL_FALLTHROUGHS_EQ).\n"
    "No trace file is written and no stack is captured except for allocations made inside an\n"
    "active allocation scope. Programs CMD starts count too. The exit status is CMD's (128+N when\n"
    "it died of signal N). Without allocprof, the same binary skips its budget checks.\n"
    "Preloading by hand (ctest, bazel): LD_PRELOAD=liballocprof.so ALLOCPROF_MODE=count CMD.\n"
    "\n"
    "options:\n";

}  // namespace

int TestCommand(int argc, char** argv) {
  CliArgs args;
  DeclareShimFlags(args, options::kTest);
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kTestUsage, args.Help().c_str());
    return kExitOk;
  }
  if (!st.ok() || args.rest().empty() || !args.positional().empty()) {
    if (!st.ok())
      fprintf(stderr, "allocprof test: %s\n", std::string(st.message()).c_str());
    else if (!args.positional().empty())
      fprintf(stderr, "allocprof test: put the command after '--' (got '%s')\n", args.positional()[0].c_str());
    else
      fprintf(stderr, "allocprof test: no command given\n");
    fprintf(stderr, "%s%s", kTestUsage, args.Help().c_str());
    return kExitUsage;
  }
  absl::StatusOr<std::vector<ShimOption>> shim_options = CollectShimOptions(args, options::kTest);
  if (!shim_options.ok()) {
    fprintf(stderr, "allocprof test: %s\n", std::string(shim_options.status().message()).c_str());
    return kExitUsage;
  }
  bool quiet = ShimOptionValue(*shim_options, options::Id::kQuiet) == "1";
  PreloadTarget target;
  if (int rc = PrepareTarget("allocprof test", args.rest()[0], quiet, &target); rc != kExitOk) return rc;
  std::vector<std::pair<std::string, std::string>> env = {{"ALLOCPROF_MODE", "count"}};
  for (const ShimOption& o : *shim_options) env.emplace_back(o.spec->variable, o.value);
  int status = RunPreloaded("allocprof test", target, args.rest(), env);
  return status < 0 ? kExitBadInput : ExitCodeOfStatus(status);
}

}  // namespace allocprof
