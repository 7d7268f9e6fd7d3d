// Counting mode (ALLOCPROF_MODE=count, `allocprof test`): per-thread counters of allocations,
// frees, requested bytes and pool outcomes, which the program under test reads through
// include/allocprof/budget.h. No trace, no writer, no stack capture, except for the allocations a
// thread makes while an allocation scope is active on it (their stacks go to a small ring,
// scope_stacks.h). This is the hot path of counting mode: CountAlloc and CountFree are a few
// loads and stores into the thread's own counters and the size map.
//
// Thread-safety: a CountThread's counters are written only by its own thread, with a relaxed load
// and store (no read-modify-write); snapshots read them from any thread. The registry of live
// threads, the totals of exited ones and the pool-name table are guarded by one mutex that only
// thread start and exit, pool registration and process-wide snapshots take. Events of a thread
// whose state is already released (late TLS destructors) go to the exited totals atomically.
#ifndef ALLOCPROF_SHIM_COUNT_COUNTERS_H_
#define ALLOCPROF_SHIM_COUNT_COUNTERS_H_

#include <stdint.h>

#include <atomic>

#include "allocprof/budget.h"
#include "allocprof/trace_format.h"
#include "count/size_map.h"

namespace allocprof::shim {

// A counter written by one thread and read by any.
struct Counter {
  std::atomic<uint64_t> value;
  __attribute__((always_inline)) void Add(uint64_t n) {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return value.load(std::memory_order_relaxed); }
};

// One pool name's counters, in allocprof_pool_counters_t's order.
struct PoolCounters {
  Counter rents;
  Counter rent_outcomes[4];
  Counter fallthrough_bytes;
  Counter returns;
  Counter return_outcomes[3];
};

struct Totals {
  Counter allocations, frees, bytes_allocated, bytes_freed, frees_unknown;
  PoolCounters pools[ALLOCPROF_MAX_POOLS];
};

// One allocation made while a scope was active, for the failure message of a budget.
struct ScopeAllocation {
  static constexpr uint32_t kMaxFrames = 64;
  uint64_t seq;  // the thread's scope-allocation number
  uint64_t size;
  uint8_t entry;   // format::EntryPoint
  int8_t outcome;  // the rent it fell through (allocprof_rent_outcome), -1: none or not yet ended
  uint16_t pool;   // pool-name index + 1 of that rent, 0: none
  uint32_t depth;
  uintptr_t frames[kMaxFrames];
};

struct CountThread {
  Totals totals;
  uint32_t scope_depth;  // active scopes on this thread: stacks are kept while > 0
  // The rent in progress on this thread (rent_begin .. rent_end), for tagging its fall-throughs.
  uint16_t rent_pool;   // pool-name index + 1, 0: no rent open
  uint64_t rent_first;  // scope_seq when the rent began
  uint64_t scope_seq;   // allocations captured into the ring so far
  static constexpr uint32_t kRingSize = 16;
  ScopeAllocation ring[kRingSize];
  bool retired;
  CountThread* prev;
  CountThread* next;
};

extern __thread CountThread* t_count __attribute__((tls_model("initial-exec")));

// Once, when the process starts in counting mode: the size map and the thread-exit key.
bool InitCounting();

// The calling thread's state, created on first use (cold); null once the thread's state was
// released (then events go to the exited totals) or when memory is unavailable.
CountThread* CountThreadSlow();
// Events that found no thread state.
void CountAllocOrphan(uint64_t size);
void CountFreeOrphan(bool known, uint64_t size);

// Keeps the stack of an allocation made while a scope is active (scope_stacks.cc).
void CaptureScopeAllocation(CountThread* c, format::EntryPoint entry, uint64_t size);

// After the real allocator returned the block.
__attribute__((always_inline)) inline void CountAlloc(format::EntryPoint entry, uintptr_t addr, uint64_t size) {
  g_size_map.Set(addr, size);
  CountThread* c = t_count;
  if (__builtin_expect(c == nullptr, 0)) c = CountThreadSlow();
  if (__builtin_expect(c == nullptr, 0)) return CountAllocOrphan(size);
  c->totals.allocations.Add(1);
  c->totals.bytes_allocated.Add(size);
  if (__builtin_expect(c->scope_depth != 0, 0)) CaptureScopeAllocation(c, entry, size);
}

// A free whose block's size lookup is done (`known` with its `size`, else a block never seen).
__attribute__((always_inline)) inline void CountFreeOf(bool known, uint64_t size) {
  CountThread* c = t_count;
  if (__builtin_expect(c == nullptr, 0)) c = CountThreadSlow();
  if (__builtin_expect(c == nullptr, 0)) return CountFreeOrphan(known, size);
  c->totals.frees.Add(1);
  if (__builtin_expect(known, 1))
    c->totals.bytes_freed.Add(size);
  else
    c->totals.frees_unknown.Add(1);
}

// Before the block goes back to the allocator.
__attribute__((always_inline)) inline void CountFree(uintptr_t addr) {
  uint64_t size = 0;
  bool known = g_size_map.Take(addr, &size);
  CountFreeOf(known, size);
}

// realloc in counting mode: the old block's size is taken before the call (another thread may be
// handed its address as soon as realloc moved it) and put back if the call failed.
void* CountRealloc(format::EntryPoint entry, void* old_ptr, uint64_t size, void* (*call)(void*), void* ctx);

// Pool hooks in counting mode. RegisterPool returns the name's index + 1 (0: table full).
uint32_t CountRegisterPool(const char* name);
void CountRentBegin(uint32_t pool);
void CountRentEnd(uint32_t pool, uint64_t granted, int outcome);
void CountReturn(uint32_t pool, int outcome);

// budget.h's hooks.
int CountSnapshot(allocprof_counters_t* out, size_t size, int scope);
uint64_t CountScopeBegin();
void CountScopeEnd();

// pthread_atfork handlers: the registry is held across fork; in the child only the calling
// thread exists, and the others' counts join the exited totals.
void CountBeforeFork();
void CountAfterForkParent();
void CountAfterForkChild();

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_COUNT_COUNTERS_H_
