// allocprof run stands between the user and the program it starts, as a shell does: the signals
// that would stop the program (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are passed on to it, run waits
// for it, and ends the way it ended (its exit code, or death by its signal).
//
// The program runs in run's process group, so what the terminal sends (Ctrl-C, Ctrl-\, a hangup)
// reaches both directly and is not passed on again; neither is what the program itself, or
// another process of the group, sent (kill(0, ...) reached everyone). Anything else sent to run
// alone (kill PID, systemctl stop, timeout) is relayed once. A signal that was ignored when run
// started stays ignored, by run and by the program (nohup).
//
// Thread-safety: run is single-threaded; the handler uses only async-signal-safe calls.
#ifndef ALLOCPROF_ANALYZER_LAUNCH_SIGNAL_RELAY_H_
#define ALLOCPROF_ANALYZER_LAUNCH_SIGNAL_RELAY_H_

#include <sys/types.h>

namespace allocprof {

// Whether a signal that reached run is relayed to the program: `code` is its si_code, `sender`
// and `sender_pgrp` the sending process and its group (-1 when gone), `parent` run's parent.
bool ShouldRelay(int code, pid_t sender, pid_t sender_pgrp, pid_t child, pid_t own_pgrp, pid_t parent);

// Before fork: blocks the relayed signals, so none is lost before the program's pid is known.
void BlockRelayedSignals();
// In the child before exec: the signal mask the program would have had without run.
void RestoreSignalMask();
// In run after fork: relays to `child` from now on (and unblocks).
void StartRelay(pid_t child);
// After the program died of `sig`: run dies of it too (without a core file of its own), so its
// parent sees what it would have seen without run.
[[noreturn]] void DieOfSignal(int sig);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_LAUNCH_SIGNAL_RELAY_H_
