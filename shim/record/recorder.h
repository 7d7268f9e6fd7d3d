// The hot path: record one allocation or free into the calling thread's buffer.
//
// Callers hold the reentrancy guard (HookGuard). An allocation is recorded after the allocator
// returned it; a free before the memory goes back to the allocator (see trace_format.h's ordering
// contract). Everything unusual (first event of a thread or process, a full buffer, exit, a
// stopped trace) leaves through one out-of-line function.
#ifndef ALLOCPROF_SHIM_RECORDER_H_
#define ALLOCPROF_SHIM_RECORDER_H_

#include <errno.h>
#include <stdint.h>

#include <type_traits>

#include "allocprof/trace_format.h"
#include "count/counters.h"
#include "record/clock.h"
#include "record/sampler.h"
#include "record/thread_state.h"
#include "runtime/process_state.h"
#include "unwind/stack_capture.h"
#include "unwind/stack_table.h"

namespace allocprof::shim {

class HookGuard {
 public:
  HookGuard() : entered_(!t_local.in_hook) { EnterShim(); }
  ~HookGuard() {
    if (entered_) LeaveShim();
  }
  // False when we are inside the shim already: the call is the shim's own and is not recorded.
  bool entered() const { return entered_; }
  HookGuard(const HookGuard&) = delete;
  HookGuard& operator=(const HookGuard&) = delete;

 private:
  bool entered_;
};

struct Event {
  format::EntryPoint entry;
  bool is_free;
  uintptr_t addr;
  uint64_t size;
};

// The out-of-line paths take the event by value: a hot path whose event's address escaped would
// have to reload its fields (and test is_free again) after every call the compiler cannot see.
// Out of line: initialisation, thread creation, exited threads, write-through and stopped modes.
void RecordEventSlow(Event e);
// Out of line: records an event that goes into the trace (every event of a full trace, the
// sampler's choices in a sampled one).
void RecordSampled(Event e);
// For records other than allocations and frees (pool hooks, counts): the calling thread's state
// after initialising what is needed, or null when nothing can be recorded (or capture is paused
// and the record is not wanted `even_when_paused`).
ThreadState* StateForControlRecord(bool even_when_paused = false);
// After such a record: in write-through mode (process exit) it goes out at once.
void AfterControlRecord(ThreadState* t);
// Out of line: stack definition (and module scan) for a stack seen for the first time. `now` is the
// time of the event about to be written (a flush here must not promise past it).
void DefineStackLocked(ThreadState* t, uint32_t id, uint32_t depth, uint64_t now);

inline void EncodeAlloc(ThreadState* t, format::EntryPoint entry, uint64_t now, uint64_t addr, uint64_t size,
                        uint32_t stack_id) {
  uint32_t cls = t->enc.Alloc(entry, now, addr, size, stack_id);
  t->free_cache->Remember(addr, t->alloc_seq, cls, format::FamilyOf(entry));
  ++t->alloc_seq;
}

// A free of one of this thread's recent allocations is written by age (see trace_format.h).
__attribute__((always_inline)) inline void EncodeFree(ThreadState* t, format::EntryPoint entry, uint64_t now,
                                                      uint64_t addr) {
  const FreeCache::Entry* c = t->free_cache->Find(addr);
  if (c) {
    uint32_t age = t->alloc_seq - c->seq;
    if (age <= format::kMaxAge && static_cast<int32_t>(c->seq - t->first_seq) >= 0) {
      t->enc.FreeAge(entry, now, age, c->cls, static_cast<format::Family>(c->family), addr);
      return;
    }
  }
  t->enc.Free(entry, now, addr);
}

// With t locked, before writing one record stamped `now`: room in every column (and `control`
// bytes in the control column), and the stack defined if this process's trace lacks it.
__attribute__((always_inline)) inline void PrepareLocked(ThreadState* t, const InternResult& stack, uint32_t depth,
                                                         uint64_t now, size_t control = 0) {
  if (__builtin_expect(t->enc.NeedsFlush() || (control && !t->enc.ControlRoom(control)), 0)) FlushLocked(t, now);
  if (__builtin_expect(stack.needs_definition, 0)) DefineStackLocked(t, stack.id, depth, now);
}

// Records into t's buffer; t is the calling thread's own state.
__attribute__((always_inline)) inline void RecordInto(ThreadState* t, const Event& e) {
  InternResult stack{0, false};
  uint32_t depth = 0;
  if (!e.is_free) {
    depth = CaptureStack(t);
    stack = InternCapturedStack(t, depth);
  }
  Lock(t);
  uint64_t now = NowNs();
  PrepareLocked(t, stack, depth, now);
  if (e.is_free)
    EncodeFree(t, e.entry, now, e.addr);
  else
    EncodeAlloc(t, e.entry, now, e.addr, e.size, stack.id);
  Unlock(t);
}

// Sampling mode: whether the event goes into the trace (sampler.h). Takes a freed address out of
// the set of recorded ones, and puts a sampled allocation's address in.
__attribute__((always_inline)) inline bool SampleEvent(const Event& e) {
  return e.is_free ? g_sampled.Remove(e.addr) : SampleAllocation(e.size, e.addr);
}

// Sampling mode's fast paths, checked first in a hook, before its guard: an allocation the sampler
// skips and the free of a block that was never sampled need nothing more of the shim than the
// countdown or one byte of the sampled set, so they skip the guard, the mode dispatch and the
// event altogether (most events of a sampled run). An allocation from inside the shim (the guard
// held) takes the normal path, which passes it through without touching the countdown. A free
// from inside the shim needs no such check: passed through or fast, a block never sampled goes to
// the real free unrecorded (a signal handler's events over the shim are not kept when sampling,
// nested_events.h). A failed allocation that was skipped still took its bytes off the countdown:
// sampling points lie on the byte stream as a Poisson process, so dropping a stretch of it biases
// no other allocation's chance.
// The mode is read with acquire: it is set to kSampling after the real functions are published
// (EnsureProcessInitialized), so a hook that passes needs no RealFunctionsReady check.
__attribute__((always_inline)) inline bool Sampling() {
  return g_mode.load(std::memory_order_acquire) == Mode::kSampling;
}
__attribute__((always_inline)) inline bool SamplerSkipsAllocation(uint64_t size) {
  return Sampling() && !t_local.in_hook && SkipAllocation(size);
}
// Null and the bootstrap arena's blocks need no check here: free(nullptr) is the real free's
// no-op, and every bootstrap block's line is pinned, never certainly absent (real_functions.h).
__attribute__((always_inline)) inline bool SamplerSkipsFree(const void* p) {
  return Sampling() && g_sampled.CertainlyAbsent(reinterpret_cast<uintptr_t>(p));
}
// realloc: the free half as SamplerSkipsFree (null included), then the allocation half as
// SamplerSkipsAllocation. A size of 0 (glibc's realloc(p, 0) frees p and allocates nothing)
// takes the normal path, where it takes nothing off the countdown.
__attribute__((always_inline)) inline bool SamplerSkipsRealloc(const void* p, uint64_t size) {
  return Sampling() && size != 0 && !t_local.in_hook && g_sampled.CertainlyAbsent(reinterpret_cast<uintptr_t>(p)) &&
         SkipAllocation(size);
}

// Counting mode (count/counters.h): no trace, the event only counted; never touches errno.
__attribute__((always_inline)) inline void CountEvent(const Event& e) {
  if (e.is_free)
    CountFree(e.addr);
  else
    CountAlloc(e.entry, e.addr, e.size);
}

// The out-of-line paths keep errno themselves; an unsampled event never touches it.
__attribute__((always_inline)) inline void RecordEvent(const Event& e) {
  ThreadState* t = t_local.state;
  Mode mode = g_mode.load(std::memory_order_relaxed);
  if (__builtin_expect(t != nullptr && mode == Mode::kTracing, 1)) {
    int* errno_location = t->errno_location;
    int saved_errno = *errno_location;
    RecordInto(t, e);
    *errno_location = saved_errno;
  } else if (mode == Mode::kSampling) {
    if (SampleEvent(e)) RecordSampled(e);
  } else if (mode == Mode::kCounting) {
    CountEvent(e);
  } else {
    RecordEventSlow(e);
  }
}

__attribute__((always_inline)) inline void RecordAlloc(format::EntryPoint entry, const void* p, uint64_t size) {
  RecordEvent(Event{entry, false, reinterpret_cast<uintptr_t>(p), size});
}

__attribute__((always_inline)) inline void RecordFree(format::EntryPoint entry, const void* p) {
  RecordEvent(Event{entry, true, reinterpret_cast<uintptr_t>(p), 0});
}

// A signal handler's event while its thread was inside the shim (nested_events.h); keeps errno.
void RecordNested(const Event& e);

// The hooks' recording step, after an allocation and before a free. A call that finds the guard
// held is the shim's own and passes unrecorded, unless a program's signal handler that
// interrupted the shim made it.
__attribute__((always_inline)) inline void AfterAlloc(const HookGuard& guard, format::EntryPoint entry, const void* p,
                                                      uint64_t size) {
  if (__builtin_expect(guard.entered(), 1)) {
    if (p) RecordAlloc(entry, p, size);
  } else if (__builtin_expect(t_local.signal_over_shim != 0, 0) && p) {
    RecordNested(Event{entry, false, reinterpret_cast<uintptr_t>(p), size});
  }
}

__attribute__((always_inline)) inline void BeforeFree(const HookGuard& guard, format::EntryPoint entry, const void* p) {
  if (__builtin_expect(guard.entered(), 1)) {
    RecordFree(entry, p);
  } else if (__builtin_expect(t_local.signal_over_shim != 0, 0)) {
    RecordNested(Event{entry, true, reinterpret_cast<uintptr_t>(p), 0});
  }
}

// realloc that found the guard held: the shim's own passes through; a handler's is a free and an
// allocation (a failed realloc leaves its block recorded as freed, as in write-through mode).
template <typename Fn>
void* ReallocUnentered(format::EntryPoint entry, void* old_ptr, uint64_t size, Fn&& real_call) {
  if (__builtin_expect(t_local.signal_over_shim == 0, 1)) return real_call();
  if (old_ptr) RecordNested(Event{format::EntryPoint::kReallocFree, true, reinterpret_cast<uintptr_t>(old_ptr), 0});
  void* result = real_call();
  if (result) RecordNested(Event{entry, false, reinterpret_cast<uintptr_t>(result), size});
  return result;
}

// realloc: the old block's free is stamped before the real call, the new block after, and both
// are written while the thread's lock is held so no flush can promise a time between them.
// Returns the real function's result.
template <typename Fn>
void* RecordRealloc(format::EntryPoint entry, void* old_ptr, uint64_t size, Fn&& real_call);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_RECORDER_H_

namespace allocprof::shim {

// The slow half of RecordRealloc: no usable thread state or not in the tracing mode.
void* RecordReallocSlow(format::EntryPoint entry, void* old_ptr, uint64_t size, void* (*call)(void*), void* ctx);
// realloc in a sampled trace (sampled_realloc.cc); t is null when nothing can be recorded.
void* RecordReallocSampled(ThreadState* t, format::EntryPoint entry, void* old_ptr, uint64_t size, void* (*call)(void*),
                           void* ctx);

template <typename Fn>
void* RecordRealloc(format::EntryPoint entry, void* old_ptr, uint64_t size, Fn&& real_call) {
  ThreadState* t = t_local.state;
  if (__builtin_expect(t == nullptr || g_mode.load(std::memory_order_relaxed) != Mode::kTracing, 0)) {
    using Call = std::remove_reference_t<Fn>;
    return RecordReallocSlow(
        entry, old_ptr, size, [](void* ctx) -> void* { return (*static_cast<Call*>(ctx))(); }, &real_call);
  }
  int* errno_location = t->errno_location;
  int caller_errno = *errno_location;
  uint32_t depth = CaptureStack(t);
  InternResult stack = InternCapturedStack(t, depth);
  Lock(t);
  uint64_t before = NowNs();
  *errno_location = caller_errno;
  void* result = real_call();
  int result_errno = *errno_location;
  uint64_t after = NowNs();
  PrepareLocked(t, stack, depth, before);
  // Success, or glibc's realloc(p, 0), which frees p and returns null.
  bool freed_old = old_ptr && (result || size == 0);
  if (freed_old) EncodeFree(t, format::EntryPoint::kReallocFree, before, reinterpret_cast<uintptr_t>(old_ptr));
  if (result) {
    // The free above may have filled a column.
    if (__builtin_expect(t->enc.NeedsFlush(), 0)) FlushLocked(t, after);
    EncodeAlloc(t, entry, after, reinterpret_cast<uintptr_t>(result), size, stack.id);
  }
  Unlock(t);
  *errno_location = result_errno;
  return result;
}

}  // namespace allocprof::shim
