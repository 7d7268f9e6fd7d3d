// The hooks of include/allocprof/budget.h: counters, allocation scopes and their stacks. They
// answer only in counting mode (ALLOCPROF_MODE=count); tracing, there are no counters.
#include <errno.h>

#include "allocprof/budget.h"
#include "count/counters.h"
#include "count/scope_stacks.h"
#include "record/recorder.h"

using namespace allocprof::shim;

namespace {

// Whether this process counts (initialising it on first use).
bool Counting() {
  Mode mode = g_mode.load(std::memory_order_acquire);
  if (mode == Mode::kUninitialized || mode == Mode::kInitializing) {
    EnsureProcessInitialized();
    mode = g_mode.load(std::memory_order_acquire);
  }
  return mode == Mode::kCounting;
}

}  // namespace

#define ALLOCPROF_EXPORT extern "C" __attribute__((visibility("default")))

ALLOCPROF_EXPORT int allocprof_hook_counters_snapshot(allocprof_counters_t* out, size_t size, int scope) {
  HookGuard guard;
  int saved_errno = errno;
  int ok = Counting() && out ? CountSnapshot(out, size, scope) : 0;
  errno = saved_errno;
  return ok;
}

ALLOCPROF_EXPORT uint64_t allocprof_hook_scope_begin(void) {
  HookGuard guard;
  int saved_errno = errno;
  uint64_t mark = Counting() ? CountScopeBegin() : 0;
  errno = saved_errno;
  return mark;
}

ALLOCPROF_EXPORT void allocprof_hook_scope_end(void) {
  if (g_mode.load(std::memory_order_relaxed) == Mode::kCounting) CountScopeEnd();
}

ALLOCPROF_EXPORT size_t allocprof_hook_scope_describe(uint64_t mark, const char* pool, const char* stop_at, char* out,
                                                      size_t capacity) {
  // The guard keeps the symbolizer's own allocations (the demangler's) out of the counters.
  HookGuard guard;
  int saved_errno = errno;
  size_t n = 0;
  if (capacity) out[0] = '\0';
  if (Counting() && out) n = CountDescribe(mark, pool, stop_at, out, capacity);
  errno = saved_errno;
  return n;
}
