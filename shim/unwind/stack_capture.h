// Captures the calling program's stack (return addresses, leaf first), without the shim's own
// frames. By default from the call frame information with a per-thread cache of frame rules
// (cfi_backtrace.h), handing stacks it cannot follow to libunwind's unw_backtrace, which gives the
// same frames at several times the cost; frame-pointer walking on request (cheaper still, correct
// only where the code keeps frame pointers).
#ifndef ALLOCPROF_SHIM_STACK_CAPTURE_H_
#define ALLOCPROF_SHIM_STACK_CAPTURE_H_

#include <stdint.h>
#include <string.h>

#include <atomic>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "record/thread_state.h"
#include "runtime/module_map.h"
#include "runtime/options.h"
#include "runtime/process_state.h"
#include "unwind/cfi_backtrace.h"
#include "unwind/stack_table.h"

namespace allocprof::shim {

// Extra frames captured beyond max_depth to make room for the shim's own.
inline constexpr uint32_t kShimFrameSlack = 16;

void InitStackCapture();

// The shim's executable segment: frames there are the shim's own.
struct CodeRange {
  uintptr_t lo, hi;
};
extern CodeRange g_shim_code;

// Frame-pointer walk (out of line: it needs the thread's stack bounds).
uint32_t WalkFramePointers(ThreadState* t, uintptr_t* out, uint32_t max);
// The thread's rule cache, created on first use; null if it could not be mapped.
RuleCache* RuleCacheSlow(ThreadState* t);
// Drops the shim's own frames (the leading ones, and a signal trampoline's further in, with the
// signal return code it returns to) and caps the depth; returns the program's frame count.
uint32_t TrimShimFrames(uintptr_t* frames, uint32_t n);
// Where the shim's signal trampoline returns to (libc's __restore_rt, the sa_restorer every
// handler returns through): noted by the trampoline, so a handler's stacks leave it out. 0 until
// a trampoline has run.
extern std::atomic<uintptr_t> g_signal_restorer;

// Fills t->frames with up to max_depth program frames; returns how many. Inlined into every entry
// point so the unwinder starts one frame from the program: each shim frame it walks costs as much
// as a program frame.
__attribute__((always_inline)) inline uint32_t CaptureStack(ThreadState* t) {
  const Options& o = GetOptions();
  uint32_t want = o.max_depth + kShimFrameSlack;
  int n = 0;
  if (__builtin_expect(o.unwind == format::UnwindMode::kLibunwind, 1)) {
    RuleCache* cache = __builtin_expect(t->rule_cache != nullptr, 1) ? t->rule_cache : RuleCacheSlow(t);
    if (__builtin_expect(cache != nullptr, 1)) {
      // Leaves the shim's frames out itself.
      n = CfiBacktrace(cache, t->frames, static_cast<int>(o.max_depth), g_shim_code.lo, g_shim_code.hi);
      if (__builtin_expect(n >= 0, 1)) return static_cast<uint32_t>(n);
    }
    n = unw_backtrace(reinterpret_cast<void**>(t->frames), static_cast<int>(want));
  } else if (o.unwind == format::UnwindMode::kFramePointer) {
    n = static_cast<int>(WalkFramePointers(t, t->frames, want));
  }
  return n > 0 ? TrimShimFrames(t->frames, static_cast<uint32_t>(n)) : 0;
}

// The shared stack table's id for the `depth` frames CaptureStack just stored. A walk the memo
// replayed took the same steps over the same words as the one it remembers, so its frames are the
// same and so is their id: the memo keeps the id, and a call path seen before is neither hashed nor
// looked up again. The id counts only for the process generation (a forked child defines its
// stacks again) and module epoch it was given in.
__attribute__((always_inline)) inline InternResult InternCapturedStack(ThreadState* t, uint32_t depth) {
  WalkMemo::Entry* walk = t->rule_cache ? t->rule_cache->memo().last : nullptr;
  uint32_t generation = g_generation.load(std::memory_order_relaxed);
  uint32_t epoch = g_module_epoch.load(std::memory_order_acquire);
  if (walk && walk->stack_id && walk->stack_generation == generation && walk->stack_epoch == epoch) {
    return {walk->stack_id, false};
  }
  InternResult stack = InternStack(t->frames, depth);
  if (walk) {
    walk->stack_id = stack.id;
    walk->stack_generation = generation;
    walk->stack_epoch = epoch;
  }
  return stack;
}

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_STACK_CAPTURE_H_
