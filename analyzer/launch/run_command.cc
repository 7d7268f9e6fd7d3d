// allocprof run [options] -- CMD ARGS...: runs CMD with the shim preloaded.
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "allocprof/units.h"
#include "launch/shim_path.h"
#include "util/cli_args.h"
#include "util/exit_codes.h"

namespace allocprof {
namespace {

enum class Linkage { kDynamic, kStatic, kScript, kUnknown };

// A program without PT_INTERP never runs the dynamic loader, so LD_PRELOAD cannot reach it.
Linkage ProbeLinkage(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Linkage::kUnknown;
  Elf64_Ehdr eh;
  ssize_t n = pread(fd, &eh, sizeof(eh), 0);
  Linkage result = Linkage::kUnknown;
  if (n >= 2 && memcmp(&eh, "#!", 2) == 0) {
    result = Linkage::kScript;
  } else if (n == sizeof(eh) && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
             eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 512) {
    result = Linkage::kStatic;
    for (int i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      if (pread(fd, &ph, sizeof(ph), static_cast<off_t>(eh.e_phoff + i * sizeof(ph))) != sizeof(ph)) break;
      if (ph.p_type == PT_INTERP) result = Linkage::kDynamic;
    }
  }
  close(fd);
  return result;
}

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
    "\n"
    "options:\n";

}  // namespace

int RunCommand(int argc, char** argv) {
  CliArgs args;
  args.Option("-o,--output", true, "trace file (default allocprof.trace)");
  args.Option("--unwind", true, "stack capture: libunwind (default), fp (frame pointers), none");
  args.Option("--depth", true, "frames kept per stack, 1..1024 (default 64)");
  args.Option("--buffer", true, "per-thread buffer, e.g. 128KiB (default), 16KiB..8MiB");
  args.Option("--flush-ms", true, "idle buffers are flushed this often (default 200; 0 = only when full)");
  args.Option("--zstd-level", true,
              "compression level of trace chunks, 0 = none, negative = zstd's fast modes (default 1)");
  args.Option("--sample", true,
              "record allocations as a Poisson process over bytes with this mean interval, e.g. 512KiB (1B..1GiB; "
              "reports give estimates)");
  args.Option("--sample-seed", true, "seed of the sampling (default: different every run)");
  args.Option("--no-follow", false, "do not trace programs that CMD execs");
  args.Option("--force", false, "replace an existing trace file");
  args.Option("--start-after", true, "record only after this long, e.g. 10s (each process counts from its start)");
  args.Option("--start-at-mark", true, "record only after the program calls allocprof_mark(NAME)");
  args.Option("--stop-after", true, "stop recording after this long, e.g. 60s (the trace ends cleanly at exit)");
  args.Option("--start-paused", false, "start paused; `allocprof ctl PID start` starts recording (implies --control)");
  args.Option("--control", false, "open a control FIFO next to the trace for `allocprof ctl PID start|stop|mark NAME`");
  args.Option("--control-signal", true, "toggle recording when the program receives this signal, e.g. SIGUSR2");
  args.Option("-q,--quiet", false, "no messages from allocprof on stderr");
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  for (const char* flag : {"--start-after", "--stop-after"}) {
    uint64_t ns;
    if (st.ok() && args.Has(flag) && !units::ParseDuration(args.Get(flag).c_str(), &ns)) {
      st = absl::InvalidArgumentError(
          absl::StrCat(flag, ": cannot use '", args.Get(flag), "' (a duration such as 10s)"));
    }
  }
  if (st.ok() && args.Has("--start-at-mark") &&
      (args.Get("--start-at-mark").empty() || args.Get("--start-at-mark").size() > 256)) {
    st = absl::InvalidArgumentError("--start-at-mark: a mark name of 1..256 bytes");
  }
  if (st.ok() && args.Has("--control-signal")) {
    std::string sig = args.Get("--control-signal");
    if (units::ControlSignalNumber(sig.c_str()) == 0)
      st = absl::InvalidArgumentError(absl::StrCat("--control-signal: cannot use '", sig, "' (e.g. SIGUSR2)"));
  }
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
  bool quiet = args.Has("--quiet");
  std::string unwind = args.Get("--unwind", "libunwind");
  if (unwind != "libunwind" && unwind != "fp" && unwind != "none") {
    fprintf(stderr, "allocprof run: --unwind must be libunwind, fp or none (got '%s')\n", unwind.c_str());
    return kExitUsage;
  }
  struct Range {
    const char* flag;
    uint32_t lo, hi;
  };
  for (const Range& r : {Range{"--depth", 1, 1024}, Range{"--flush-ms", 0, 60000}}) {
    uint32_t v;
    if (args.Has(r.flag) && (!absl::SimpleAtoi(args.Get(r.flag), &v) || v < r.lo || v > r.hi)) {
      fprintf(stderr, "allocprof run: %s must be a number in %u..%u (got '%s')\n", r.flag, r.lo, r.hi,
              args.Get(r.flag).c_str());
      return kExitUsage;
    }
  }
  if (int level;
      args.Has("--zstd-level") && (!absl::SimpleAtoi(args.Get("--zstd-level"), &level) || level < -50 || level > 19)) {
    fprintf(stderr, "allocprof run: --zstd-level must be -50..19 (got '%s')\n", args.Get("--zstd-level").c_str());
    return kExitUsage;
  }
  if (args.Has("--sample")) {
    uint64_t bytes;
    if (!units::ParseByteSize(args.Get("--sample").c_str(), &bytes) || bytes < 1 || bytes > (1u << 30)) {
      fprintf(stderr, "allocprof run: --sample must be 1B..1GiB (got '%s')\n", args.Get("--sample").c_str());
      return kExitUsage;
    }
  }
  if (uint64_t seed; args.Has("--sample-seed") && !absl::SimpleAtoi(args.Get("--sample-seed"), &seed)) {
    fprintf(stderr, "allocprof run: --sample-seed must be a number (got '%s')\n", args.Get("--sample-seed").c_str());
    return kExitUsage;
  }
  if (args.Has("--buffer")) {
    uint64_t bytes;
    if (!units::ParseByteSize(args.Get("--buffer").c_str(), &bytes) || bytes < (16u << 10) || bytes > (8u << 20)) {
      fprintf(stderr, "allocprof run: --buffer must be 16KiB..8MiB (got '%s')\n", args.Get("--buffer").c_str());
      return kExitUsage;
    }
  }
  std::string shim = FindShim();
  if (shim.empty()) {
    fprintf(stderr,
            "allocprof run: cannot find liballocprof.so next to %s or in ../lib/allocprof; set ALLOCPROF_SHIM\n",
            SelfDir().c_str());
    return kExitBadInput;
  }
  const std::string& cmd = args.rest()[0];
  std::string resolved = ResolveCommand(cmd);
  if (resolved.empty()) {
    fprintf(stderr, "allocprof run: %s: command not found\n", cmd.c_str());
    return 127;
  }
  switch (ProbeLinkage(resolved)) {
    case Linkage::kStatic:
      fprintf(stderr,
              "allocprof run: %s is statically linked: it never loads the shim (LD_PRELOAD needs the dynamic "
              "loader), so there is nothing to trace\n",
              resolved.c_str());
      return kExitBadInput;
    default:
      break;
  }
  struct stat st_cmd;
  if (stat(resolved.c_str(), &st_cmd) == 0 && (st_cmd.st_mode & (S_ISUID | S_ISGID)) && !quiet) {
    fprintf(stderr, "allocprof run: warning: %s is set-user/group-ID; the loader ignores LD_PRELOAD for it\n",
            resolved.c_str());
  }

  std::string output = Absolute(args.Get("--output", "allocprof.trace"));
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

  std::string preload = shim;
  if (const char* existing = getenv("LD_PRELOAD"); existing && *existing) preload = absl::StrCat(shim, ":", existing);

  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "allocprof run: fork failed: %s\n", strerror(errno));
    return kExitBadInput;
  }
  if (child == 0) {
    setenv("LD_PRELOAD", preload.c_str(), 1);
    setenv("ALLOCPROF_OUTPUT", output.c_str(), 1);
    setenv("ALLOCPROF_ROOT_PID", std::to_string(getpid()).c_str(), 1);
    setenv("ALLOCPROF_UNWIND", unwind.c_str(), 1);
    if (args.Has("--depth")) setenv("ALLOCPROF_DEPTH", args.Get("--depth").c_str(), 1);
    if (args.Has("--buffer")) setenv("ALLOCPROF_BUFFER", args.Get("--buffer").c_str(), 1);
    if (args.Has("--flush-ms")) setenv("ALLOCPROF_FLUSH_MS", args.Get("--flush-ms").c_str(), 1);
    if (args.Has("--zstd-level")) setenv("ALLOCPROF_ZSTD_LEVEL", args.Get("--zstd-level").c_str(), 1);
    if (args.Has("--sample"))
      setenv("ALLOCPROF_SAMPLE", args.Get("--sample").c_str(), 1);
    else
      unsetenv("ALLOCPROF_SAMPLE");
    if (args.Has("--sample-seed")) setenv("ALLOCPROF_SAMPLE_SEED", args.Get("--sample-seed").c_str(), 1);
    setenv("ALLOCPROF_FOLLOW", args.Has("--no-follow") ? "0" : "1", 1);
    if (quiet) setenv("ALLOCPROF_QUIET", "1", 1);
    if (args.Has("--start-after")) setenv("ALLOCPROF_START_AFTER", args.Get("--start-after").c_str(), 1);
    if (args.Has("--stop-after")) setenv("ALLOCPROF_STOP_AFTER", args.Get("--stop-after").c_str(), 1);
    if (args.Has("--start-at-mark")) setenv("ALLOCPROF_START_AT_MARK", args.Get("--start-at-mark").c_str(), 1);
    if (args.Has("--start-paused")) setenv("ALLOCPROF_START_PAUSED", "1", 1);
    if (args.Has("--control") || args.Has("--start-paused")) setenv("ALLOCPROF_CONTROL", "1", 1);
    if (args.Has("--control-signal")) setenv("ALLOCPROF_CONTROL_SIGNAL", args.Get("--control-signal").c_str(), 1);
    std::vector<char*> child_argv;
    for (const auto& a : args.rest()) child_argv.push_back(const_cast<char*>(a.c_str()));
    child_argv.push_back(nullptr);
    execv(resolved.c_str(), child_argv.data());
    fprintf(stderr, "allocprof run: cannot execute %s: %s\n", resolved.c_str(), strerror(errno));
    _exit(127);
  }
  // Like a shell waiting for its foreground job: the terminal's signals reach CMD directly.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
