/* allocprof budgets: what a block of code allocates, counted in-process, without a trace. C and C++.
 *
 * Under the shim in counting mode (`allocprof test -- CMD`, or LD_PRELOAD=liballocprof.so with
 * ALLOCPROF_MODE=count) every allocation, free, pool rent and pool return is counted per thread:
 *
 *   allocprof_counters_t c;
 *   if (allocprof_counters_snapshot(&c, ALLOCPROF_SCOPE_THREAD)) { ... c.allocations ... }
 *
 * or, in C++, allocprof::AllocationScope, which takes a snapshot when constructed:
 *
 *   allocprof::AllocationScope scope;
 *   pool.Rent(n);
 *   scope.allocations(), scope.bytes(), scope.fallthroughs("producer")
 *
 * Without the shim (or with the shim tracing: `allocprof run`) there are no counters: the snapshot
 * returns 0 and AllocationScope::available() is false. The hooks are weak symbols, as in pool.h:
 * no link dependency, one null check without the shim. allocprof/gtest.h builds test assertions
 * on this header (EXPECT_ALLOCATIONS_LE, EXPECT_NO_ALLOCATIONS, EXPECT_POOL_FALLTHROUGHS_EQ).
 *
 * What is counted, exactly (docs/budgets.md):
 * - allocations: successful calls of every allocation entry point (malloc, calloc, realloc,
 *   reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc, every operator new);
 *   a realloc counts one allocation and, when it moved or freed its block, one free;
 * - frees: frees of non-null blocks (free, free_sized, free_aligned_sized, every operator delete);
 * - bytes_allocated: the bytes the program asked for (not what the allocator rounded them up to);
 * - bytes_freed: the bytes the program asked for when it allocated each freed block, whenever
 *   that was: a free during a scope of a block allocated before it counts its full size;
 * - live_bytes: bytes_allocated - bytes_freed; for one thread it is negative when the thread
 *   frees blocks other threads (or it, before the scope) allocated;
 * - frees_unknown: frees of blocks the shim did not see allocated (made before it was loaded, or
 *   by the shim's own code); their bytes are in no other counter.
 * - pools, by the name given to allocprof_pool_register (pools of the same name are summed): rents
 *   and their outcomes (hits and the three kinds of fall-through), bytes granted by fall-throughs,
 *   returns and their outcomes (kept, dropped because full, dropped because oversize).
 * Thread scope: what the calling thread did. Process scope: every thread, including those that
 * have exited.
 *
 * Stacks: while a scope is active on a thread (allocprof_scope_begin .. _end, which
 * AllocationScope calls), the shim keeps the stacks of that thread's last 16 allocations;
 * allocprof_scope_describe writes them, symbolized, for a failure message.
 *
 * Thread-safety: every function may be called from any thread. A thread's counters change only
 * on that thread; a process-wide snapshot sums the threads' counters while they keep running.
 */
#ifndef ALLOCPROF_BUDGET_H_
#define ALLOCPROF_BUDGET_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "allocprof/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

enum allocprof_counter_scope {
  ALLOCPROF_SCOPE_THREAD = 0,  /* the calling thread */
  ALLOCPROF_SCOPE_PROCESS = 1, /* every thread of the process, live or exited */
};

/* Pools with more distinct names than this are counted under none (allocprof_counters_t::pools_untracked). */
#define ALLOCPROF_MAX_POOLS 32
#define ALLOCPROF_POOL_NAME_MAX 64

typedef struct allocprof_pool_counters {
  char name[ALLOCPROF_POOL_NAME_MAX]; /* as registered, cut to 63 bytes */
  uint64_t rents;
  uint64_t rent_outcomes[4];  /* by enum allocprof_rent_outcome: [HIT] hits, the others fall-throughs */
  uint64_t fallthrough_bytes; /* bytes granted by rents that were not hits */
  uint64_t returns;
  uint64_t return_outcomes[3]; /* by enum allocprof_return_outcome: kept, dropped (full), dropped (oversize) */
} allocprof_pool_counters_t;

typedef struct allocprof_counters {
  uint64_t allocations;
  uint64_t frees;
  uint64_t bytes_allocated;
  uint64_t bytes_freed;
  int64_t live_bytes; /* bytes_allocated - bytes_freed */
  uint64_t frees_unknown;
  uint32_t pool_count;      /* entries of pools[] in use */
  uint32_t pools_untracked; /* registrations under names beyond ALLOCPROF_MAX_POOLS */
  allocprof_pool_counters_t pools[ALLOCPROF_MAX_POOLS];
} allocprof_counters_t;

/* The shim's entry points (weak: null without the shim). Call the inline wrappers below. */
extern int allocprof_hook_counters_snapshot(allocprof_counters_t* out, size_t size, int scope) __attribute__((weak));
extern uint64_t allocprof_hook_scope_begin(void) __attribute__((weak));
extern void allocprof_hook_scope_end(void) __attribute__((weak));
extern size_t allocprof_hook_scope_describe(uint64_t mark, const char* pool, const char* stop_at, char* out,
                                            size_t capacity) __attribute__((weak));

/* Whether the shim is loaded at all (in any mode). */
static inline int allocprof_shim_loaded(void) { return allocprof_hook_counters_snapshot != 0; }

/* Fills *out with the counters of the thread or the process (enum allocprof_counter_scope) and
 * returns 1; returns 0 and zeroes *out when there are none (no shim, or the shim is tracing). */
static inline int allocprof_counters_snapshot(allocprof_counters_t* out, int scope) {
  if (allocprof_hook_counters_snapshot && allocprof_hook_counters_snapshot(out, sizeof(*out), scope)) return 1;
  memset(out, 0, sizeof(*out));
  return 0;
}

/* Starts keeping the stacks of this thread's allocations (scopes nest); returns the mark that
 * allocprof_scope_describe takes to list the allocations made since. 0 without counters. */
static inline uint64_t allocprof_scope_begin(void) {
  return allocprof_hook_scope_begin ? allocprof_hook_scope_begin() : 0;
}
static inline void allocprof_scope_end(void) {
  if (allocprof_hook_scope_end) allocprof_hook_scope_end();
}

/* Writes, NUL-terminated, the allocations this thread made since `mark` while a scope was active:
 * entry point, size, the pool rent it fell through (if any) and its stack, symbolized (function
 * and module+offset). With `pool`, only fall-throughs of the pool of that name. A stack is cut
 * before its first function whose name starts with `stop_at` (null: never), e.g. "testing::" for
 * GoogleTest's own frames. Returns the length written (0 without counters). */
static inline size_t allocprof_scope_describe(uint64_t mark, const char* pool, const char* stop_at, char* out,
                                              size_t capacity) {
  if (allocprof_hook_scope_describe) return allocprof_hook_scope_describe(mark, pool, stop_at, out, capacity);
  if (capacity) out[0] = '\0';
  return 0;
}

#ifdef __cplusplus
} /* extern "C" */

namespace allocprof {

enum class CounterScope { kThread = ALLOCPROF_SCOPE_THREAD, kProcess = ALLOCPROF_SCOPE_PROCESS };

/* A snapshot of the counters, or the difference of two (Since). */
class Counters {
 public:
  Counters() { memset(&c_, 0, sizeof(c_)); }
  static Counters Now(CounterScope scope) {
    Counters c;
    c.available_ = allocprof_counters_snapshot(&c.c_, static_cast<int>(scope)) != 0;
    return c;
  }
  bool available() const { return available_; }
  const allocprof_counters_t& raw() const { return c_; }

  uint64_t allocations() const { return c_.allocations; }
  uint64_t frees() const { return c_.frees; }
  uint64_t bytes() const { return c_.bytes_allocated; }
  uint64_t bytes_freed() const { return c_.bytes_freed; }
  int64_t live_bytes() const { return c_.live_bytes; }
  uint64_t frees_unknown() const { return c_.frees_unknown; }

  /* The pool of that name (null when no such pool registered). */
  const allocprof_pool_counters_t* pool(const char* name) const {
    for (uint32_t i = 0; i < c_.pool_count && i < ALLOCPROF_MAX_POOLS; ++i) {
      if (strncmp(c_.pools[i].name, name, ALLOCPROF_POOL_NAME_MAX - 1) == 0) return &c_.pools[i];
    }
    return nullptr;
  }
  uint64_t rents(const char* name) const { return Field(name, &allocprof_pool_counters_t::rents); }
  uint64_t hits(const char* name) const { return Outcome(name, ALLOCPROF_RENT_HIT); }
  /* Rents that were not hits: fills, exhausted and oversize. */
  uint64_t fallthroughs(const char* name) const { return rents(name) - hits(name); }
  uint64_t fallthroughs(const char* name, allocprof_rent_outcome kind) const {
    return kind == ALLOCPROF_RENT_HIT ? 0 : Outcome(name, kind);
  }
  uint64_t fallthrough_bytes(const char* name) const {
    return Field(name, &allocprof_pool_counters_t::fallthrough_bytes);
  }
  uint64_t returns(const char* name) const { return Field(name, &allocprof_pool_counters_t::returns); }
  /* Returns the pool did not keep (its bucket was full, or the array oversize). */
  uint64_t dropped_returns(const char* name) const {
    const allocprof_pool_counters_t* p = pool(name);
    return p ? p->return_outcomes[ALLOCPROF_RETURN_DROPPED_FULL] + p->return_outcomes[ALLOCPROF_RETURN_DROPPED_OVERSIZE]
             : 0;
  }
  uint64_t dropped_returns(const char* name, allocprof_return_outcome kind) const {
    const allocprof_pool_counters_t* p = pool(name);
    return p ? p->return_outcomes[kind] : 0;
  }

  /* this - before, counter by counter (pools by name). */
  Counters Since(const Counters& before) const {
    Counters d = *this;
    d.available_ = available_ && before.available_;
    d.c_.allocations -= before.c_.allocations;
    d.c_.frees -= before.c_.frees;
    d.c_.bytes_allocated -= before.c_.bytes_allocated;
    d.c_.bytes_freed -= before.c_.bytes_freed;
    d.c_.live_bytes -= before.c_.live_bytes;
    d.c_.frees_unknown -= before.c_.frees_unknown;
    for (uint32_t i = 0; i < d.c_.pool_count && i < ALLOCPROF_MAX_POOLS; ++i) {
      allocprof_pool_counters_t& p = d.c_.pools[i];
      const allocprof_pool_counters_t* b = before.pool(p.name);
      if (!b) continue;
      p.rents -= b->rents;
      for (int k = 0; k < 4; ++k) p.rent_outcomes[k] -= b->rent_outcomes[k];
      p.fallthrough_bytes -= b->fallthrough_bytes;
      p.returns -= b->returns;
      for (int k = 0; k < 3; ++k) p.return_outcomes[k] -= b->return_outcomes[k];
    }
    return d;
  }

 private:
  uint64_t Field(const char* name, uint64_t allocprof_pool_counters_t::*field) const {
    const allocprof_pool_counters_t* p = pool(name);
    return p ? p->*field : 0;
  }
  uint64_t Outcome(const char* name, allocprof_rent_outcome kind) const {
    const allocprof_pool_counters_t* p = pool(name);
    return p ? p->rent_outcomes[kind] : 0;
  }

  allocprof_counters_t c_;
  bool available_ = false;
};

/* Counts what happens from its construction on: every accessor gives the difference between a
 * snapshot taken then and one taken at the call, or at Stop() once stopped. While it is active
 * (until Stop() or destruction) the shim keeps the stacks of this thread's allocations, which
 * Describe() writes. Neither the constructor nor Stop() allocates. Not copyable; use it on the
 * thread that created it. */
class AllocationScope {
 public:
  explicit AllocationScope(CounterScope scope = CounterScope::kThread) : scope_(scope) {
    mark_ = allocprof_scope_begin();
    start_ = Counters::Now(scope_);
  }
  ~AllocationScope() { End(); }
  AllocationScope(const AllocationScope&) = delete;
  AllocationScope& operator=(const AllocationScope&) = delete;

  /* False when there are no counters (no shim, or the shim is tracing); every figure is then 0. */
  bool available() const { return start_.available(); }
  /* Why available() is false, for a skip message. */
  const char* unavailable_reason() const {
    if (available()) return "";
    return allocprof_shim_loaded()
               ? "allocprof's shim is loaded but not counting (it is tracing: allocprof run); run the tests with "
                 "`allocprof test -- CMD` or ALLOCPROF_MODE=count"
               : "allocprof's shim is not loaded: run the tests with `allocprof test -- CMD` (or "
                 "LD_PRELOAD=liballocprof.so ALLOCPROF_MODE=count)";
  }

  /* Freezes the figures (and stops keeping stacks); later calls do nothing. */
  void Stop() {
    if (stopped_) return;
    end_ = Counters::Now(scope_);
    stopped_ = true;
    End();
  }

  /* The difference since construction. */
  Counters delta() const { return (stopped_ ? end_ : Counters::Now(scope_)).Since(start_); }

  uint64_t allocations() const { return delta().allocations(); }
  uint64_t frees() const { return delta().frees(); }
  uint64_t bytes() const { return delta().bytes(); }
  uint64_t bytes_freed() const { return delta().bytes_freed(); }
  int64_t live_bytes() const { return delta().live_bytes(); }
  uint64_t rents(const char* pool) const { return delta().rents(pool); }
  uint64_t hits(const char* pool) const { return delta().hits(pool); }
  uint64_t fallthroughs(const char* pool) const { return delta().fallthroughs(pool); }
  uint64_t fallthroughs(const char* pool, allocprof_rent_outcome kind) const {
    return delta().fallthroughs(pool, kind);
  }
  uint64_t dropped_returns(const char* pool) const { return delta().dropped_returns(pool); }

  /* Writes the allocations this thread made in the scope (the last 16) with their stacks, as
   * allocprof_scope_describe does; returns the length written. */
  size_t Describe(char* out, size_t capacity, const char* pool = nullptr, const char* stop_at = nullptr) const {
    return allocprof_scope_describe(mark_, pool, stop_at, out, capacity);
  }

 private:
  void End() {
    if (active_) allocprof_scope_end();
    active_ = false;
  }

  CounterScope scope_;
  uint64_t mark_ = 0;
  Counters start_;
  Counters end_;
  bool stopped_ = false;
  bool active_ = true;
};

}  // namespace allocprof
#endif

#endif /* ALLOCPROF_BUDGET_H_ */
