// Signal handlers' events while their thread was inside the shim: kept aside, merged on the way
// out (nested_events.h).
#include "record/nested_events.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <atomic>

#include "record/recorder.h"
#include "record/thread_state.h"
#include "unwind/cfi_backtrace.h"
#include "unwind/stack_capture.h"

namespace allocprof::shim {
namespace {

// The handler's frames, from the hook's caller up to the signal frame; none when another
// handler's walk is under way on this thread (its rule cache is in use).
uint32_t CaptureHandlerStack(ThreadState* t, uintptr_t* frames) {
  if (t_local.nested_walking || GetOptions().unwind == format::UnwindMode::kNone) return 0;
  t_local.nested_walking = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  RuleCache* cache = t->nested_rule_cache;
  if (!cache) cache = t->nested_rule_cache = CreateRuleCache();
  int n = 0;
  if (cache) {
    int followed = 0;
    n = CfiBacktrace(cache, frames, NestedEvent::kMaxFrames, g_shim_code.lo, g_shim_code.hi, &followed);
    if (n < 0) n = followed;
  }
  // Below the handler: the trampoline that called it (the shim's) and the interrupted code.
  for (int i = 0; i < n; ++i) {
    if (frames[i] >= g_shim_code.lo && frames[i] < g_shim_code.hi) {
      n = i;
      break;
    }
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_local.nested_walking = false;
  return static_cast<uint32_t>(n);
}

// Slot `i`, its block mapped if it is the first of it; null if none could be.
NestedEvent* SlotAt(NestedEvents* kept, uint32_t i, bool map) {
  uint32_t b = i / NestedEvents::kBlockEvents;
  if (b >= NestedEvents::kMaxBlocks) return nullptr;
  NestedEvent* block = __atomic_load_n(&kept->blocks[b], __ATOMIC_ACQUIRE);
  if (!block && map) {
    size_t bytes = sizeof(NestedEvent) * NestedEvents::kBlockEvents;
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return nullptr;
    // A handler that interrupted this one may have mapped it meanwhile.
    NestedEvent* none = nullptr;
    if (__atomic_compare_exchange_n(&kept->blocks[b], &none, static_cast<NestedEvent*>(mem), false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      block = static_cast<NestedEvent*>(mem);
    } else {
      munmap(mem, bytes);
      block = none;
    }
  }
  return block ? &block[i % NestedEvents::kBlockEvents] : nullptr;
}

// Writes one kept event into the thread's buffer, as RecordInto would have.
void WriteNested(ThreadState* t, const NestedEvent& ev) {
  InternResult stack{0, false};
  uint32_t depth = 0;
  if (!ev.is_free) {
    depth = ev.depth;
    memcpy(t->frames, ev.frames, depth * sizeof(uintptr_t));
    stack = InternStack(t->frames, depth);
  }
  Lock(t);
  // A flush promises nothing past now; the event's own time is kept in order by the encoder.
  PrepareLocked(t, stack, depth, NowNs());
  auto entry = static_cast<format::EntryPoint>(ev.entry);
  if (ev.is_free)
    EncodeFree(t, entry, ev.time, ev.addr);
  else
    EncodeAlloc(t, entry, ev.time, ev.addr, ev.size, stack.id);
  Unlock(t);
}

void Drain(ThreadState* t, NestedEvents* kept) {
  uint32_t done = 0;
  for (;;) {
    uint32_t count = __atomic_load_n(&kept->count, __ATOMIC_ACQUIRE);
    bool tracing = g_mode.load(std::memory_order_relaxed) == Mode::kTracing;
    for (; done < count; ++done) {
      NestedEvent* ev = SlotAt(kept, done, false);
      if (!ev || !ev->valid) {
        ++kept->lost;
        continue;
      }
      if (tracing) WriteNested(t, *ev);
      ev->valid = false;
    }
    // A handler that ran meanwhile reserved another slot: write it too before starting over.
    if (__atomic_compare_exchange_n(&kept->count, &count, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
  }
}

}  // namespace

void RecordNested(const Event& e) {
  ThreadState* t = t_local.state;
  if (g_mode.load(std::memory_order_relaxed) != Mode::kTracing || !t || !t->nested) return;
  int saved_errno = errno;
  // What the shim calls from here on is its own.
  uint8_t over = t_local.signal_over_shim;
  t_local.signal_over_shim = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  NestedEvents* kept = t->nested;
  uint32_t slot = __atomic_fetch_add(&kept->count, 1, __ATOMIC_RELAXED);
  if (NestedEvent* ev = SlotAt(kept, slot, true)) {
    ev->entry = static_cast<uint8_t>(e.entry);
    ev->is_free = e.is_free;
    ev->addr = e.addr;
    ev->size = e.size;
    ev->time = NowNs();
    ev->depth = e.is_free ? 0 : CaptureHandlerStack(t, ev->frames);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    ev->valid = true;
  }
  __atomic_fetch_or(&t_local.deferred_signals, kNestedEventsPending, __ATOMIC_RELAXED);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_local.signal_over_shim = over;
  errno = saved_errno;
}

void MergeNestedEvents() {
  EnterShim();  // the merge's own calls are the shim's; a handler that interrupts it keeps its events aside
  do {
    __atomic_fetch_and(&t_local.deferred_signals, ~kNestedEventsPending, __ATOMIC_RELAXED);
    ThreadState* t = t_local.state;
    if (t && t->nested) Drain(t, t->nested);
  } while (__atomic_load_n(&t_local.deferred_signals, __ATOMIC_RELAXED) & kNestedEventsPending);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_local.in_hook = false;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

}  // namespace allocprof::shim
