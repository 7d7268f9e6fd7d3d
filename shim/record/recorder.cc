// Cold paths of the recorder.
#include "record/recorder.h"

#include "record/record_encoder.h"
#include "runtime/capture_control.h"
#include "runtime/module_map.h"
#include "runtime/trace_writer.h"

namespace allocprof::shim {
namespace {

// An event with no thread state to hold it (the thread already released its state): written at
// once in a chunk of its own, without a stack.
void RecordOrphan(const Event& e) {
  uint64_t now = NowNs();
  SmallEncoder<1024> small(now);
  if (e.is_free)
    small.enc.Free(e.entry, now, e.addr);
  else
    small.enc.Alloc(e.entry, now, e.addr, e.size, 0);
  uint8_t scratch[sizeof(format::ChunkHeader) + 1024];
  WriteProcessChunk(small.enc, scratch, sizeof(scratch));
}

// Returns the calling thread's state when the event can be recorded into it, else null (after
// handling the event some other way, or dropping it when tracing is off).
// Paused (capture control), only frees are recorded, and only once something was recorded, and
// control records the caller wants even then (marks).
ThreadState* PrepareSlow(const Event* e, bool even_when_paused = false) {
  Mode mode = g_mode.load(std::memory_order_acquire);
  if (mode == Mode::kUninitialized || mode == Mode::kInitializing) {
    EnsureProcessInitialized();
    mode = g_mode.load(std::memory_order_acquire);
  }
  if (mode == Mode::kPaused) {
    bool wanted = e ? e->is_free && g_record_frees_while_paused.load(std::memory_order_relaxed) : even_when_paused;
    if (!wanted) return nullptr;
  } else if (!IsTracing(mode) && mode != Mode::kWriteThrough) {
    return nullptr;
  }
  ThreadState* t = t_local.state;
  if (!t && !t_local.exited) t = CreateThreadState();
  if (!t && e) RecordOrphan(*e);
  return t;
}

}  // namespace

ThreadState* StateForControlRecord(bool even_when_paused) { return PrepareSlow(nullptr, even_when_paused); }

void AfterControlRecord(ThreadState* t) {
  if (g_mode.load(std::memory_order_relaxed) == Mode::kWriteThrough) {
    Lock(t);
    FlushLocked(t, NowNs());
    Unlock(t);
  }
}

void RecordEventSlow(Event e) {
  int saved_errno = errno;
  Mode mode = g_mode.load(std::memory_order_acquire);
  if (mode == Mode::kUninitialized || mode == Mode::kInitializing) {
    EnsureProcessInitialized();
    mode = g_mode.load(std::memory_order_acquire);
  }
  if (mode == Mode::kCounting) {
    CountEvent(e);
    errno = saved_errno;
    return;
  }
  // Paused (capture control), an allocation is not recorded, so it must not enter the sampled set.
  if (mode == Mode::kPaused && !e.is_free) {
    NotePausedAllocation();
    errno = saved_errno;
    return;
  }
  // A sampled trace stays sampled outside the sampling mode's fast path (exit's write-through).
  if (!g_sample_interval || SampleEvent(e)) RecordSampled(e);
  errno = saved_errno;
}

void RecordSampled(Event e) {
  int saved_errno = errno;
  if (ThreadState* t = PrepareSlow(&e)) {
    RecordInto(t, e);
    if (g_mode.load(std::memory_order_relaxed) == Mode::kWriteThrough) {
      Lock(t);
      FlushLocked(t, NowNs());
      Unlock(t);
    }
  }
  errno = saved_errno;
}

void* RecordReallocSlow(format::EntryPoint entry, void* old_ptr, uint64_t size, void* (*call)(void*), void* ctx) {
  int caller_errno = errno;
  Mode mode = g_mode.load(std::memory_order_acquire);
  if (mode == Mode::kUninitialized || mode == Mode::kInitializing) {
    EnsureProcessInitialized();
    mode = g_mode.load(std::memory_order_acquire);
  }
  if (mode == Mode::kCounting) {
    errno = caller_errno;
    return CountRealloc(entry, old_ptr, size, call, ctx);
  }
  ThreadState* t = PrepareSlow(nullptr);
  bool paused = g_mode.load(std::memory_order_relaxed) == Mode::kPaused;
  if (g_sample_interval && !paused) {
    errno = caller_errno;
    return RecordReallocSampled(t, entry, old_ptr, size, call, ctx);
  }
  if (t && g_mode.load(std::memory_order_relaxed) == Mode::kTracing) {
    errno = caller_errno;
    return RecordRealloc(entry, old_ptr, size, [&] { return call(ctx); });
  }
  // Write-through (exit), paused or untraceable: free then allocation as two separate events, the
  // free before the memory can be reused (a failed realloc leaves its block recorded as freed).
  // Paused, RecordEvent keeps the free if it is wanted (and sampled) and the allocation is not
  // recorded.
  if (old_ptr && (t || paused))
    RecordEvent(Event{format::EntryPoint::kReallocFree, true, reinterpret_cast<uintptr_t>(old_ptr), 0});
  errno = caller_errno;
  void* result = call(ctx);
  if (result && t && !paused) RecordEvent(Event{entry, false, reinterpret_cast<uintptr_t>(result), size});
  return result;
}

void DefineStackLocked(ThreadState* t, uint32_t id, uint32_t depth, uint64_t now) {
  // A module loaded since the last scan may own these frames: record it first.
  RecordNewModules();
  if (!t->enc.ControlRoom(StackDefBound(depth))) FlushLocked(t, now);
  t->enc.StackDef(id, t->frames, depth);
}

}  // namespace allocprof::shim
