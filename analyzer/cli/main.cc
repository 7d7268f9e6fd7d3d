// allocprof: one CLI, one subcommand per stage of the workflow.
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: allocprof COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  run [options] -- CMD ARGS...   run CMD with the shim preloaded and write a trace\n"
    "  test [options] -- CMD ARGS...  run a test binary with the shim counting, for allocation budgets\n"
    "  attach [options] PID           load the shim into a running process and trace it from now on\n"
    "  analyze [options] TRACE...     allocation report (text, --json FILE)\n"
    "  diff [options] BEFORE AFTER    compare two traces or reports, with a CI verdict\n"
    "  report [options] -o DIR TRACE  charts and report.md for a pull request (--baseline TRACE)\n"
    "  export [options] TRACE         folded stacks, pprof profile or Chrome trace JSON\n"
    "  ctl PID start|stop|mark NAME   control a running traced process (run --control)\n"
    "  dump TRACE                     print every record of a trace\n"
    "\n"
    "Run 'allocprof COMMAND --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? allocprof::kExitUsage : allocprof::kExitOk;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("allocprof %s\n", ALLOCPROF_VERSION);
    return 0;
  }
  const char* cmd = argv[1];
  if (strcmp(cmd, "run") == 0) return allocprof::RunCommand(argc, argv);
  if (strcmp(cmd, "test") == 0) return allocprof::TestCommand(argc, argv);
  if (strcmp(cmd, "attach") == 0) return allocprof::AttachCommand(argc, argv);
  if (strcmp(cmd, "dump") == 0) return allocprof::DumpCommand(argc, argv);
  if (strcmp(cmd, "analyze") == 0) return allocprof::AnalyzeCommand(argc, argv);
  if (strcmp(cmd, "diff") == 0) return allocprof::DiffCommand(argc, argv);
  if (strcmp(cmd, "report") == 0) return allocprof::ReportCommand(argc, argv);
  if (strcmp(cmd, "export") == 0) return allocprof::ExportCommand(argc, argv);
  if (strcmp(cmd, "ctl") == 0) return allocprof::CtlCommand(argc, argv);
  fprintf(stderr,
          "allocprof: unknown command '%s' (run, attach, analyze, diff, report, export, ctl, dump)\nsee 'allocprof "
          "--help'\n",
          cmd);
  return allocprof::kExitUsage;
}
