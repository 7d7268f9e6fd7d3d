// What `allocprof run` and `allocprof test` share: finding the shim, resolving CMD (refusing a
// statically linked one, which never loads the shim), starting it with the shim preloaded and the
// shim's variables set, relaying signals to it (signal_relay.h) and waiting for it the way a shell
// waits for its foreground job.
#ifndef ALLOCPROF_ANALYZER_LAUNCH_PRELOAD_LAUNCH_H_
#define ALLOCPROF_ANALYZER_LAUNCH_PRELOAD_LAUNCH_H_

#include <string>
#include <utility>
#include <vector>

namespace allocprof {

struct PreloadTarget {
  std::string shim;      // liballocprof.so
  std::string resolved;  // CMD as execv takes it
};

// Finds the shim and resolves argv[0]. On failure prints "<who>: <why>" and returns the exit code
// (kExitBadInput: no shim, a static CMD; 127: CMD not found); kExitOk otherwise. A set-user-ID
// CMD is started (the loader then ignores LD_PRELOAD) with a warning, unless `quiet`.
int PrepareTarget(const char* who, const std::string& cmd, bool quiet, PreloadTarget* out);

// Starts `argv` with the shim first in LD_PRELOAD, ALLOCPROF_ROOT_PID its pid and `env` set
// (name, value), waits for it, and returns its wait status, or -1 after printing why it could not
// be started.
int RunPreloaded(const char* who, const PreloadTarget& target, const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& env);

// The exit code a shell reports for a wait status: the program's, or 128 + the signal it died of.
int ExitCodeOfStatus(int status);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_LAUNCH_PRELOAD_LAUNCH_H_
