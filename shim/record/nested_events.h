// Allocations and frees made by a signal handler that interrupted its thread inside the shim.
//
// The reentrancy guard (t_local.in_hook) makes every call that reaches a hook while the thread is
// already inside the shim pass through unrecorded: those are the shim's own allocations. A signal
// handler that runs on top of the shim is not the shim, but its calls find the guard set too. The
// program's handlers therefore run through a trampoline (runtime/fatal_signals.cc) that sets
// t_local.signal_over_shim when the handler interrupted the shim; the hooks record such a
// handler's events here instead of dropping them, and the shim's own calls made while recording
// one are not recorded (the flag is cleared meanwhile).
//
// The thread under the handler may be halfway through an append to its buffer, holding its lock,
// so a handler's event cannot go there. It goes into this per-thread array instead (a slot
// reserved with one atomic add, so handlers nested in handlers each get their own; blocks of
// slots mapped as needed), with the
// program's frames up to the signal frame, walked with a rule cache of its own. When the thread
// leaves the shim, LeaveShim finds the pending bit in t_local.deferred_signals and merges the
// array into the buffer in order (MergeNestedEvents), interning and defining stacks as usual.
// An event is stamped when it happened; written after the interrupted record, its time is at least
// that record's (the encoder keeps times in order).
//
// Thread-safety: one array per thread, touched by that thread and its signal handlers only.
#ifndef ALLOCPROF_SHIM_NESTED_EVENTS_H_
#define ALLOCPROF_SHIM_NESTED_EVENTS_H_

#include <stdint.h>

namespace allocprof::shim {

// Bit of t_local.deferred_signals (signal 0 does not exist): handler events wait in the array.
inline constexpr uint64_t kNestedEventsPending = 1;

struct NestedEvent {
  bool valid;     // written in full (a slot whose block could not be mapped stays false)
  uint8_t entry;  // format::EntryPoint
  bool is_free;
  uint32_t depth;
  uint64_t time, addr, size;
  static constexpr uint32_t kMaxFrames = 64;
  uintptr_t frames[kMaxFrames];
};

// Slot i lives in blocks[i / kBlockEvents]: the first block is part of the thread's state, the
// others are mapped by the handler that first needs one (a thread can stay inside the shim for
// milliseconds, waiting for the flush thread to let go of its buffer) and kept for later.
struct NestedEvents {
  static constexpr uint32_t kBlockEvents = 128;
  static constexpr uint32_t kMaxBlocks = 64;  // 8,192 events a stay; more are counted as lost
  uint32_t count;                             // slots reserved (may exceed kBlockEvents * kMaxBlocks)
  uint64_t lost;                              // events that found no slot, over the thread's life
  NestedEvent* blocks[kMaxBlocks];
  NestedEvent first[kBlockEvents];
};

// Merges the calling thread's pending handler events into its buffer; called by LeaveShim's slow
// path, outside the shim.
void MergeNestedEvents();

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_NESTED_EVENTS_H_
