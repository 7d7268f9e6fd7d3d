#include "launch/preload_launch.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "launch/shim_path.h"
#include "launch/signal_relay.h"
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

}  // namespace

int PrepareTarget(const char* who, const std::string& cmd, bool quiet, PreloadTarget* out) {
  out->shim = FindShim();
  if (out->shim.empty()) {
    fprintf(stderr, "%s: cannot find liballocprof.so next to %s or in ../lib/allocprof; set ALLOCPROF_SHIM\n", who,
            SelfDir().c_str());
    return kExitBadInput;
  }
  out->resolved = ResolveCommand(cmd);
  if (out->resolved.empty()) {
    fprintf(stderr, "%s: %s: command not found\n", who, cmd.c_str());
    return 127;
  }
  if (ProbeLinkage(out->resolved) == Linkage::kStatic) {
    fprintf(stderr,
            "%s: %s is statically linked: it never loads the shim (LD_PRELOAD needs the dynamic loader), so there "
            "is nothing to trace\n",
            who, out->resolved.c_str());
    return kExitBadInput;
  }
  struct stat st;
  if (stat(out->resolved.c_str(), &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)) && !quiet) {
    fprintf(stderr, "%s: warning: %s is set-user/group-ID; the loader ignores LD_PRELOAD for it\n", who,
            out->resolved.c_str());
  }
  return kExitOk;
}

int RunPreloaded(const char* who, const PreloadTarget& target, const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& env) {
  std::string preload = target.shim;
  if (const char* existing = getenv("LD_PRELOAD"); existing && *existing)
    preload = absl::StrCat(target.shim, ":", existing);
  BlockRelayedSignals();
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "%s: fork failed: %s\n", who, strerror(errno));
    return -1;
  }
  if (child == 0) {
    RestoreSignalMask();
    setenv("LD_PRELOAD", preload.c_str(), 1);
    // CMD's own process is the root of the tree: its trace takes the plain output name.
    setenv("ALLOCPROF_ROOT_PID", std::to_string(getpid()).c_str(), 1);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> child_argv;
    for (const auto& a : argv) child_argv.push_back(const_cast<char*>(a.c_str()));
    child_argv.push_back(nullptr);
    execv(target.resolved.c_str(), child_argv.data());
    fprintf(stderr, "%s: cannot execute %s: %s\n", who, target.resolved.c_str(), strerror(errno));
    _exit(127);
  }
  // Like a shell waiting for its foreground job: what the terminal sends reaches CMD directly, what
  // was sent to us alone is passed on (signal_relay.h).
  StartRelay(child);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

int ExitCodeOfStatus(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace allocprof
