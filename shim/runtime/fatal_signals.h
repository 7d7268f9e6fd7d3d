// Fatal signals: a traced program stopped by a signal whose disposition is the default (Ctrl-C,
// SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGABRT, SIGSEGV, ...) still gets a complete trace. The shim's
// handler stands in for SIG_DFL: it flushes every thread's buffer, writes the end record, restores
// SIG_DFL and lets the signal act (re-sent with its original siginfo; a fault re-executes), so the
// exit status and core dump are the program's own.
//
// The program never sees it: sigaction/signal (shim/hooks/signal_hooks.cc) report SIG_DFL where
// the handler stands, pass the program's own handlers straight to the kernel (the handler steps
// aside; the program's runs as if the shim were not there), and put it back when the program
// restores SIG_DFL. A signal ignored at start stays ignored. Attached (allocprof attach), the
// handler is installed where the disposition was SIG_DFL, and the calls are redirected with the
// other interposed functions (hooks/interposed.h).
//
// Async-signal safety: the handler uses raw system calls, atomics and the bounded waits of
// FlushAllThreads, allocates nothing (chunks go out uncompressed) and starts no thread. A signal
// that reaches a thread inside the shim (which may hold its own buffer's lock mid-record) is held
// back: blocked in that thread, queued again for the process (another thread takes it at once),
// and released when the thread leaves the shim (LeaveShim). Faults and signals the process sent
// itself (abort, raise) cannot wait: that thread's own half-written buffer is then skipped. The
// handler blocks every handled signal while it runs, so a fault inside it kills the process with
// the default action instead of looping.
#ifndef ALLOCPROF_SHIM_FATAL_SIGNALS_H_
#define ALLOCPROF_SHIM_FATAL_SIGNALS_H_

#include <signal.h>

namespace allocprof::shim {

// Once the trace is open: takes over the default disposition of every fatal signal (but the
// --control-signal).
void InstallFatalSignalHandlers();

// The interposed calls (signal_hooks.cc). `real` is the next definition of the same function.
int InterposeSigaction(int sig, const struct sigaction* act, struct sigaction* old,
                       int (*real)(int, const struct sigaction*, struct sigaction*));
using SignalHandler = void (*)(int);
SignalHandler InterposeSignal(int sig, SignalHandler handler, SignalHandler (*real)(int, SignalHandler));

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_FATAL_SIGNALS_H_
