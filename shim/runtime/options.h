// Shim options, read once from ALLOCPROF_* environment variables. Names, ranges and defaults are
// allocprof/options.h's, shared with `allocprof run` and `allocprof attach`; a bad value keeps the
// default and is reported (stderr, and a warning in the trace).
//
// Parsed by walking `environ` directly (getenv is not safe while the C runtime initialises, and the
// first allocation can come that early); falls back to /proc/self/environ when environ is not set
// yet. Thread-safety: LoadOptions runs during process initialisation; afterwards Options is
// read-only.
#ifndef ALLOCPROF_SHIM_OPTIONS_H_
#define ALLOCPROF_SHIM_OPTIONS_H_

#include <stdint.h>

#include "allocprof/trace_format.h"

namespace allocprof::shim {

struct Options {
  char output[4096];           // ALLOCPROF_OUTPUT; empty: allocprof.PID.trace in the working dir
  bool count_only;             // ALLOCPROF_MODE=count: counters for allocprof/budget.h, no trace
  format::UnwindMode unwind;   // ALLOCPROF_UNWIND = libunwind | fp | none
  uint32_t max_depth;          // ALLOCPROF_DEPTH, frames kept per stack
  uint32_t buffer_bytes;       // ALLOCPROF_BUFFER, per-thread chunk size (KiB/MiB suffixes)
  uint32_t flush_interval_ms;  // ALLOCPROF_FLUSH_MS, idle buffers are flushed this often
  int compression_level;       // ALLOCPROF_ZSTD_LEVEL, 0 disables compression, < 0: zstd fast modes
  int root_pid;                // ALLOCPROF_ROOT_PID, the process that owns the plain output name
  bool follow;                 // ALLOCPROF_FOLLOW=0 stops exec'd children from being traced
  bool quiet;                  // ALLOCPROF_QUIET=1 silences the shim's stderr messages
  uint64_t fail_write_after;   // ALLOCPROF_TEST_ENOSPC_AFTER (tests): simulate ENOSPC after N bytes
  uint8_t offload;             // ALLOCPROF_TEST_OFFLOAD (tests): kOffloadOn, kOffloadOff, kOffloadHold
  uint8_t lock_kind;           // ALLOCPROF_TEST_LOCK (tests): kLockMembarrier, kLockExchange
  uint8_t clock_kind;          // ALLOCPROF_TEST_CLOCK (tests): kClockAuto, kClockTsc, kClockVdso (clock.h)
  // Capture control (see capture_control.h). Times are nanoseconds since the process started.
  uint64_t start_after_ns;  // ALLOCPROF_START_AFTER=10s: paused until then
  uint64_t stop_after_ns;   // ALLOCPROF_STOP_AFTER=60s: capture ends then (0: never)
  char start_at_mark[257];  // ALLOCPROF_START_AT_MARK=NAME: paused until allocprof_mark(NAME)
  bool start_paused;        // ALLOCPROF_START_PAUSED=1: paused until `allocprof ctl PID start`
  bool control;             // ALLOCPROF_CONTROL=1: open the control FIFO for `allocprof ctl`
  int control_signal;       // ALLOCPROF_CONTROL_SIGNAL=SIGUSR2 (or a number): toggles capture
  uint64_t sample_bytes;    // ALLOCPROF_SAMPLE, mean sampling interval in bytes; 0: record everything
  uint64_t sample_seed;     // ALLOCPROF_SAMPLE_SEED, makes the sampling repeatable (tests)
  bool sample_seed_set;     // false: the seed comes from the clock and pid
};

// Options::offload, in ALLOCPROF_TEST_OFFLOAD's order of choices.
enum : uint8_t { kOffloadOn, kOffloadOff, kOffloadHold };
// Options::lock_kind, in ALLOCPROF_TEST_LOCK's order of choices.
enum : uint8_t { kLockMembarrier, kLockExchange };

void LoadOptions();
// attach.cc: LoadOptions reads these NAME=value entries (null-terminated) instead of the environment.
void SetOptionEntries(char** entries);
// Hidden, and read inline: every recorded allocation reads the unwinding options.
extern Options g_options __attribute__((visibility("hidden")));
inline const Options& GetOptions() { return g_options; }
// The values LoadOptions rejected, as the messages it printed (for the trace's warnings).
int RejectedOptionCount();
const char* RejectedOption(int i);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_OPTIONS_H_
