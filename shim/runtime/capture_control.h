// Capture control: record only inside a window of the run (--start-after, --start-at-mark,
// --stop-after, --start-paused) and toggle recording at runtime (`allocprof ctl PID ...` through
// a FIFO next to the trace, or a signal the user names).
//
// While paused, g_mode is Mode::kPaused. The hot path only checks for Mode::kTracing, so paused
// events go to the slow path and full tracing pays nothing for this feature. Paused, allocations
// pass through unrecorded; frees are still recorded once anything has been recorded, so blocks
// recorded before a pause are not mistaken for leaks. Once capture has ended (--stop-after)
// nothing more is recorded. Every change of state is a kCapture record in the trace.
//
// Thread-safety: state changes are serialised by a spin lock (cold path); the ticker thread runs
// deadlines and reads the control FIFO.
#ifndef ALLOCPROF_SHIM_CAPTURE_CONTROL_H_
#define ALLOCPROF_SHIM_CAPTURE_CONTROL_H_

#include <stdint.h>

#include <atomic>

#include "runtime/process_state.h"

namespace allocprof::shim {

extern std::atomic<bool> g_record_frees_while_paused;

// After options are loaded: the mode tracing starts in (`recording`, kTracing or kSampling, or
// kPaused), and the mode recording resumes in. `start_ns` is the process start the --start-after /
// --stop-after deadlines count from.
Mode InitialCaptureMode(uint64_t start_ns, Mode recording);
// Once the trace file is open: records the initial state when capture control is in use, and
// installs the --control-signal handler.
void StartCaptureControl();
// Whether the ticker thread must run for capture control even without periodic flushes.
bool CaptureNeedsTicker();

// allocprof_mark(name) was recorded: starts capture if it is the --start-at-mark mark.
void CaptureOnMark(const char* name);

// For the ticker: milliseconds until the next deadline (-1: none), the deadlines themselves, and
// the control channel (-1 when there is none).
int CaptureMsUntilDeadline(uint64_t now);
void CaptureRunDeadlines(uint64_t now);
int ControlPollFd();
void ControlOnReadable();
int SignalPollFd();
void DrainSignalPipe();

// A forked child gets a channel of its own; exit and exec record pending changes and remove the
// channel's FIFO.
void CaptureAfterForkChild();
// The control FIFO, when asked for: at start (StartCaptureControl) and in a forked child once its
// own trace is open.
void OpenControlChannel();
void CloseControlChannel();

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_CAPTURE_CONTROL_H_
