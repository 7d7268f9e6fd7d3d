// Process-wide shim state: whether we are tracing, and in which way.
#ifndef ALLOCPROF_SHIM_PROCESS_STATE_H_
#define ALLOCPROF_SHIM_PROCESS_STATE_H_

#include <stdint.h>

#include <atomic>

namespace allocprof::shim {

enum class Mode : uint32_t {
  kUninitialized = 0,
  kInitializing = 1,
  kTracing = 2,       // the hot path: buffer per thread
  kWriteThrough = 3,  // after the final flush (exit): every event is written at once
  kStopped = 4,       // tracing failed (e.g. disk full) or was never possible; calls pass through
  kSampling = 5,      // like kTracing, but only sampled allocations and their frees (sampler.h)
  kPaused = 6,        // capture control: the trace is open, allocations are not recorded
  kCounting = 7,      // ALLOCPROF_MODE=count: counters only, no trace (count/counters.h)
};

// The modes in which the process records into per-thread buffers.
inline bool IsTracing(Mode m) { return m == Mode::kTracing || m == Mode::kSampling; }
// Recording or paused: the trace file is open and must be finished at exit.
inline bool TraceActive(Mode m) { return IsTracing(m) || m == Mode::kPaused; }

// Hidden: the hooks' fast paths read it directly, not through the GOT.
extern std::atomic<Mode> g_mode __attribute__((visibility("hidden")));

// Incremented in every forked child, so stacks already defined in the parent's trace are defined
// again in the child's own trace before first use.
extern std::atomic<uint32_t> g_generation;

// Starts tracing in this process (cold, idempotent, thread-safe). Returns once g_mode is no longer
// kUninitialized/kInitializing.
void EnsureProcessInitialized();

// Flushes every thread's buffer (bounded waits), as at exit and before exec.
void FlushAllThreads(uint64_t now);

// Ends this process's trace now (_exit, a fatal signal): every thread's buffer is flushed (bounded
// waits), the end record written, tracing stopped. Nothing in a vfork child or when not tracing.
void FinishTrace();

// True in a vfork child, which shares the traced process's memory but must not touch its trace.
bool InVforkChild();

// Set once a fatal signal is ending the process (fatal_signals.h): from then on flushes write
// plain chunks (a compression context may have to allocate) and start no thread.
extern std::atomic<bool> g_signal_exit;

// Starts the ticker if it is not running (a forked child starts it lazily, so a child that only
// execs stays single-threaded).
void MaybeStartTickerAfterFork();
// For each allocation let through unrecorded while paused (see lifecycle.cc).
void NotePausedAllocation();
// How many records show that a forked child is going to run for a while (and gets the ticker).
inline constexpr uint32_t kSubstantialRecords = 1024;

// Stops tracing for good after a write failure; prints one message.
void StopTracing(const char* why, int err);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_PROCESS_STATE_H_
