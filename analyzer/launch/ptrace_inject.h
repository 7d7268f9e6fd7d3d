// Loads a shared library into a running x86-64 glibc process through ptrace, without a debugger:
// calls dlopen(library, RTLD_NOW | RTLD_NODELETE) there, then `long start_function(const char*)`
// of the library with start_argument, and lets the process run on exactly where it was.
//
// How (ptrace_inject.cc has the details, inject_stub.h the injected code):
//  1. From /proc/PID/maps and the ELF files it maps: refuse a process that is not x86-64, is
//     statically linked or has no glibc; find dlopen, dlsym, dlerror and __errno_location in its
//     libc's .dynsym (no symbols of the program needed), and a "cave": bytes past the end of a
//     library's executable segment on its last page, mapped but never executed.
//  2. PTRACE_SEIZE every thread (again until no new one appears), PTRACE_INTERRUPT them, and pick
//     one: preferably blocked in a system call (then resumed with the kernel's restart semantics),
//     else running its own code; a thread inside libc or the loader (it may hold the allocator's or
//     the loader's lock) is let run and stopped again. The other threads are released at once, so
//     a lock one of them holds is released too.
//  3. Through the cave, make the chosen thread mmap a region, then copy the stub into it, and run
//     it: it saves the extended state with XSAVE in the process itself (never through a ptrace
//     regset, which fails on AMX machines), makes the calls, restores everything and jumps back.
//  4. Read the answers, restore the registers, unmap the region and the cave's bytes, detach.
// Every intermediate state resumes correctly when allocprof itself dies (the gadget and the stub
// finish on their own and return to the program): the target is never left stopped or broken. If
// that happens, what may remain is the region (1 MiB, "[anon:allocprof-attach]" where the kernel
// names anonymous memory) and the cave's 4 KiB page as a private copy.
//
// Not thread-safe: one injection at a time per allocprof process (it uses SIGALRM for timeouts).
#ifndef ALLOCPROF_ANALYZER_LAUNCH_PTRACE_INJECT_H_
#define ALLOCPROF_ANALYZER_LAUNCH_PTRACE_INJECT_H_

#include <sys/types.h>

#include <string>

namespace allocprof {

struct InjectRequest {
  pid_t pid = 0;
  std::string library;         // absolute path, as the process sees the filesystem
  std::string start_function;  // `long F(const char*)` in the library, called after a successful dlopen
  std::string start_argument;
  int timeout_seconds = 60;
};

struct InjectResult {
  enum class Outcome {
    kLoaded,           // dlopen succeeded; `state` holds start_function's answer
    kDlopenFailed,     // `detail` holds dlerror()
    kNoStartFunction,  // dlsym found no start_function; `detail` holds dlerror()
    kNotPermitted,     // ptrace or /proc/PID is not permitted; `detail` says what failed
    kUnsupported,      // not x86-64, statically linked, not glibc; `detail` says which
    kNoSuchProcess,    // it does not exist, or exited during the attach
    kTimedOut,         // the calls did not return within timeout_seconds (the thread was released)
    kFailed,           // anything else; `detail` says what
  };
  Outcome outcome = Outcome::kFailed;
  long state = 0;
  std::string detail;
  pid_t thread = 0;   // the thread that made the calls
  long syscall = -1;  // the system call it had been stopped in, -1 when it was running its code
  std::string where;  // where it was, in words ("blocked in system call 0")
};

InjectResult InjectLibrary(const InjectRequest& request);

// For tests: ALLOCPROF_TEST_INJECT_DIE_AT=N in the environment makes the injector SIGKILL itself at
// its Nth step (it writes the step's name to stderr first), to prove that every step leaves a
// process that runs on unharmed.
inline constexpr char kDieAtVariable[] = "ALLOCPROF_TEST_INJECT_DIE_AT";

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_LAUNCH_PTRACE_INJECT_H_
