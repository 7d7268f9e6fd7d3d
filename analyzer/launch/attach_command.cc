// allocprof attach [options] PID: loads the shim into a running process (through ptrace:
// ptrace_inject.h) and records its allocations from then until it exits.
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "launch/ptrace_inject.h"
#include "launch/shim_options.h"
#include "launch/shim_path.h"
#include "util/cli_args.h"
#include "util/exit_codes.h"
#include "util/output_file.h"
#include "util/text_file.h"

namespace allocprof {
namespace {

constexpr char kAttachUsage[] =
    "usage: allocprof attach [options] PID\n"
    "\n"
    "Loads allocprof's shim into the running, dynamically linked x86-64 glibc process PID (through\n"
    "ptrace, which needs permission) and records its allocations from now until it exits. Blocks\n"
    "allocated before the attach are unknown: their frees are counted apart (\"freed, allocated\n"
    "before attach\"), not reported as errors. The command returns once recording has started.\n"
    "\n"
    "options:\n";

std::string ProcessName(pid_t pid) {
  std::string comm;
  if (!ReadWholeFile(absl::StrCat("/proc/", pid, "/comm"), &comm)) return "?";
  return std::string(absl::StripTrailingAsciiWhitespace(comm));
}

// The value of a "Key:\tvalue" line of /proc/PID/status.
std::string StatusField(const std::string& status, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, key + ":")) return std::string(absl::StripAsciiWhitespace(line));
  }
  return "";
}

int PtraceScope() {
  std::string text;
  int scope = -1;
  if (ReadWholeFile("/proc/sys/kernel/yama/ptrace_scope", &text)) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &scope)) scope = -1;
  }
  return scope;
}

std::string PtraceAdvice() {
  int scope = PtraceScope();
  std::string why;
  switch (scope) {
    case -1:
      why =
          "Yama is not active here, so the usual causes are: the process belongs to another user (attach as "
          "that user or as root), or a container or seccomp policy forbids ptrace (docker: --cap-add=SYS_PTRACE).";
      break;
    case 0:
      why =
          "kernel.yama.ptrace_scope is 0, so the usual causes are: the process belongs to another user (attach "
          "as that user or as root), or a container or seccomp policy forbids ptrace (docker: "
          "--cap-add=SYS_PTRACE).";
      break;
    case 1:
      why =
          "kernel.yama.ptrace_scope is 1: only a parent may trace its children, and allocprof is not the "
          "process's parent. Run allocprof attach as root (or with CAP_SYS_PTRACE), or allow it for now with "
          "'sudo sysctl kernel.yama.ptrace_scope=0'.";
      break;
    case 2:
      why = "kernel.yama.ptrace_scope is 2: only root (CAP_SYS_PTRACE) may attach. Run allocprof attach as root.";
      break;
    default:
      why = absl::StrCat("kernel.yama.ptrace_scope is ", scope,
                         ": ptrace attach is disabled until reboot. Start the program under 'allocprof run' instead.");
  }
  return why;
}

// Everything that can be checked before the process is stopped. Returns an exit code, or -1 to go on.
// (The injector refuses static, non-glibc and non-x86-64 processes itself.)
int CheckTarget(pid_t pid, const std::string& label) {
  if (pid == getpid()) {
    return UsageError("attach", absl::StrFormat("%d is allocprof itself", pid));
  }
  std::string maps;
  if (!ReadWholeFile(absl::StrCat("/proc/", pid, "/maps"), &maps)) {
    if (kill(pid, 0) != 0 && errno == ESRCH) {
      fprintf(stderr, "allocprof attach: no such process: %d\n", pid);
      return kExitBadInput;
    }
    fprintf(stderr,
            "allocprof attach: ptrace is not permitted: cannot read /proc/%d/maps: %s (the process belongs to "
            "another user: attach as that user or as root)\n",
            pid, strerror(errno));
    return kExitNotPermitted;
  }
  if (maps.empty()) {
    fprintf(stderr, "allocprof attach: %s has no memory map (a kernel thread or a zombie): nothing to attach to\n",
            label.c_str());
    return kExitBadInput;
  }
  if (absl::StrContains(maps, "/liballocprof.so")) {
    fprintf(stderr,
            "allocprof attach: %s already has liballocprof.so loaded (it runs under 'allocprof run' or was attached "
            "before); its trace is being written already\n",
            label.c_str());
    return kExitBadInput;
  }
  std::string status;
  if (ReadWholeFile(absl::StrCat("/proc/", pid, "/status"), &status)) {
    std::string tracer = StatusField(status, "TracerPid");
    if (!tracer.empty() && tracer != "0") {
      pid_t tracer_pid = 0;
      (void)absl::SimpleAtoi(tracer, &tracer_pid);
      fprintf(stderr,
              "allocprof attach: %s is already being traced by pid %s (%s): a process has only one tracer; detach "
              "that debugger or profiler first\n",
              label.c_str(), tracer.c_str(), ProcessName(tracer_pid).c_str());
      return kExitBadInput;
    }
  }
  if (PtraceScope() >= 3) {
    fprintf(stderr, "allocprof attach: ptrace is not permitted on this machine: %s\n", PtraceAdvice().c_str());
    return kExitNotPermitted;
  }
  return -1;
}

// What the command line asked for, checked: everything needed before the process is touched.
struct AttachPlan {
  pid_t pid = 0;
  std::string label;  // "process PID (comm)", for messages
  std::string output;
  bool force = false;
  bool quiet = false;
  int timeout_seconds = 60;
  std::vector<ShimOption> shim_options;
};

// Parses and checks the arguments. Returns an exit code, or -1 to go on with *plan filled in.
int ParseAttachArgs(int argc, char** argv, AttachPlan* plan) {
  CliArgs args;
  DeclareShimFlags(args, options::kAttach);
  args.Option("--force", false, "replace an existing trace file and remove its child-process traces FILE.PID");
  args.Option("--timeout", true, "seconds the injected calls may take, 1..3600 (default 60)");
  args.Option("-q,--quiet", false, "no message on success");
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kAttachUsage, args.Help().c_str());
    return kExitOk;
  }
  if (!st.ok() || args.positional().size() != 1 || !absl::SimpleAtoi(args.positional()[0], &plan->pid) ||
      plan->pid <= 0) {
    return UsageError("attach", !st.ok() ? std::string(st.message())
                                : args.positional().size() != 1
                                    ? "give exactly one PID"
                                    : absl::StrCat("'", args.positional()[0], "' is not a process id"));
  }
  // The flags, and the variables of the same options in this environment, checked as the shim would.
  absl::StatusOr<std::vector<ShimOption>> shim_options = CollectShimOptions(args, options::kAttach);
  if (!shim_options.ok()) {
    return UsageError("attach", std::string(shim_options.status().message()));
  }
  plan->shim_options = *std::move(shim_options);
  if (args.Has("--timeout") && (!absl::SimpleAtoi(args.Get("--timeout"), &plan->timeout_seconds) ||
                                plan->timeout_seconds < 1 || plan->timeout_seconds > 3600)) {
    return UsageError(
        "attach", absl::StrFormat("--timeout must be a number in 1..3600 (got '%s')", args.Get("--timeout").c_str()));
  }
  plan->quiet = args.Has("--quiet");
  plan->force = args.Has("--force");
  plan->label = absl::StrCat("process ", plan->pid, " (", ProcessName(plan->pid), ")");
  plan->output = Absolute(args.Get("--output", "allocprof.trace"));
  // The shim reads its options one per line.
  if (plan->output.find('\n') != std::string::npos) {
    return UsageError("attach", "the output path must not contain a newline");
  }
  return -1;
}

// Before anything stops the process, the trace must be creatable. Returns an exit code, or -1.
int PrepareOutput(const AttachPlan& plan) {
  // Checked before --force may remove an existing file.
  if (absl::Status path = CheckOutputPath(plan.output); !path.ok()) {
    return UsageError("attach", std::string(path.message()));
  }
  std::string problem;
  if (int rc = PrepareTraceOutput(plan.output, plan.force, &problem); rc != kExitOk) {
    fprintf(stderr, "allocprof attach: %s%s\n", problem.c_str(),
            rc == kExitCantCreate ? " (the process was not attached)" : "");
    return rc;
  }
  return -1;
}

InjectRequest BuildRequest(const AttachPlan& plan, const std::string& shim) {
  InjectRequest request;
  request.pid = plan.pid;
  request.library = shim;
  request.timeout_seconds = plan.timeout_seconds;
  // The shim's options, as the environment variables `run` would set, one per line.
  request.start_function = "allocprof_attach_start";
  request.start_argument = absl::StrCat("ALLOCPROF_OUTPUT=", plan.output, "\nALLOCPROF_ROOT_PID=", plan.pid, "\n");
  for (const ShimOption& o : plan.shim_options) {
    if (o.spec->id != options::Id::kOutput)
      absl::StrAppend(&request.start_argument, o.spec->variable, "=", o.value, "\n");
  }
  return request;
}

// Tells the user what the injection did; returns the command's exit code.
int ReportOutcome(const AttachPlan& plan, const InjectRequest& request, const InjectResult& r) {
  const char* label = plan.label.c_str();
  const char* shim = request.library.c_str();
  using Outcome = InjectResult::Outcome;
  switch (r.outcome) {
    case Outcome::kLoaded:
      if (r.state < 0) {
        fprintf(stderr,
                "allocprof attach: the shim was loaded into %s but could not start tracing (it could not create %s "
                "as the process sees the filesystem; its stderr says why)\n",
                label, plan.output.c_str());
        return kExitCantCreate;
      }
      if (!plan.quiet) {
        fprintf(stderr,
                "allocprof: attached to %s through thread %d (%s): recording to %s until it exits (%ld call sites "
                "redirected to the shim)\n",
                label, r.thread, r.where.c_str(), plan.output.c_str(), r.state);
      }
      return kExitOk;
    case Outcome::kDlopenFailed:
      fprintf(stderr, "allocprof attach: %s could not load %s: %s\n", label, shim, r.detail.c_str());
      return kExitBadInput;
    case Outcome::kNoStartFunction:
      fprintf(stderr, "allocprof attach: %s loaded %s but found no %s in it: %s\n", label, shim,
              request.start_function.c_str(), r.detail.c_str());
      return kExitBadInput;
    case Outcome::kNotPermitted:
      fprintf(stderr, "allocprof attach: ptrace is not permitted on %s (%s). %s\n", label, r.detail.c_str(),
              PtraceAdvice().c_str());
      return kExitNotPermitted;
    case Outcome::kUnsupported:
      fprintf(stderr, "allocprof attach: cannot attach: %s\n", r.detail.c_str());
      return kExitNotPermitted;
    case Outcome::kNoSuchProcess:
      fprintf(stderr, "allocprof attach: no such process: %d (%s)\n", plan.pid, r.detail.c_str());
      return kExitBadInput;
    case Outcome::kTimedOut:
      fprintf(stderr,
              "allocprof attach: %s: %s; allocprof let go of %s, which finishes the injected calls and resumes by "
              "itself if they ever return (they may wait for a lock its code holds)\n",
              label, r.detail.c_str(), label);
      return kExitBadInput;
    case Outcome::kFailed:
      break;
  }
  fprintf(stderr, "allocprof attach: could not load the shim into %s: %s (the process was left as it was)\n", label,
          r.detail.c_str());
  return kExitBadInput;
}

}  // namespace

int AttachCommand(int argc, char** argv) {
  AttachPlan plan;
  if (int rc = ParseAttachArgs(argc, argv, &plan); rc >= 0) return rc;
  if (int rc = CheckTarget(plan.pid, plan.label); rc >= 0) return rc;
  if (int rc = PrepareOutput(plan); rc >= 0) return rc;
  std::string shim = FindShim();
  if (shim.empty()) {
    fprintf(stderr,
            "allocprof attach: cannot find liballocprof.so next to %s or in ../lib/allocprof; set ALLOCPROF_SHIM\n",
            SelfDir().c_str());
    return kExitBadInput;
  }
  InjectRequest request = BuildRequest(plan, shim);
  return ReportOutcome(plan, request, InjectLibrary(request));
}

}  // namespace allocprof
