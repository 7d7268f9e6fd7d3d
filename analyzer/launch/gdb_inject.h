// Loads a shared library into a running process with gdb: calls dlopen there, then a start
// function of the library with one string argument, and detaches. The process continues where it
// was stopped. (gdb allocates the string in the process; those few bytes are never freed.)
//
// gdb resumes the process's other threads while the injected calls run (its default), so a lock
// held by another thread (the allocator's, the loader's) is released rather than deadlocking the
// call; a thread stopped while it held one itself can still make the call hang, which the timeout
// bounds.
#ifndef ALLOCPROF_ANALYZER_GDB_INJECT_H_
#define ALLOCPROF_ANALYZER_GDB_INJECT_H_

#include <sys/types.h>

#include <string>

namespace allocprof {

struct InjectRequest {
  std::string gdb;  // gdb binary
  pid_t pid = 0;
  std::string library;         // absolute path
  std::string start_function;  // `long F(const char*)` in the library, called after a successful dlopen
  std::string start_argument;
  int timeout_seconds = 60;
};

struct InjectResult {
  enum class Outcome {
    kLoaded,        // dlopen succeeded; `state` holds start_function's answer
    kDlopenFailed,  // `detail` holds dlerror()
    kPtraceDenied,  // gdb could not attach: permissions, ptrace_scope, a seccomp filter
    kNoSuchProcess,
    kTimedOut,   // gdb was killed after timeout_seconds
    kGdbFailed,  // anything else: `detail` holds gdb's last lines
  };
  Outcome outcome = Outcome::kGdbFailed;
  long state = 0;
  std::string detail;
};

InjectResult InjectLibrary(const InjectRequest& request);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_GDB_INJECT_H_
