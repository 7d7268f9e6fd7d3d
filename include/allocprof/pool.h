/* allocprof pool hooks: let a memory pool tell allocprof which requests it served and which fell
 * through to the allocator, and count units of work. C and C++.
 *
 * Without the shim loaded every call costs one null check: the hook symbols are weak references,
 * so they resolve to the shim's definitions when it is preloaded and to null otherwise. No link
 * dependency, no runtime cost worth measuring (examples/producer/hook_cost.cc measures it).
 *
 * Protocol for a pool (see examples/producer/ for a complete one):
 *   id = allocprof_pool_register("client-write", max_block, slots_per_bucket);   once
 *   allocprof_pool_rent_begin(id, requested);       before the pool looks for an array
 *   ...                                             allocations here are the pool's fall-throughs
 *   allocprof_pool_rent_end(id, requested, granted, outcome);
 *   allocprof_pool_return(id, size, outcome);       when an array comes back (kept or dropped)
 *   allocprof_count("messages", n);                 units of work, for "allocations per message"
 *   allocprof_mark("warmup-done");                   a named point in time
 * Thread-safety: all calls are thread-safe; a rent's begin and end must be on the same thread.
 */
#ifndef ALLOCPROF_POOL_H_
#define ALLOCPROF_POOL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a rent was served. */
enum allocprof_rent_outcome {
  ALLOCPROF_RENT_HIT = 0,       /* an array the pool held */
  ALLOCPROF_RENT_FILL = 1,      /* a new array for an empty slot (first use of that slot) */
  ALLOCPROF_RENT_EXHAUSTED = 2, /* bucket and neighbour empty: a new array the pool does not track */
  ALLOCPROF_RENT_OVERSIZE = 3,  /* larger than the largest bucket: a new array, never pooled */
};

/* What the pool did with a returned array. */
enum allocprof_return_outcome {
  ALLOCPROF_RETURN_KEPT = 0,
  ALLOCPROF_RETURN_DROPPED_FULL = 1,     /* its bucket had no free slot */
  ALLOCPROF_RETURN_DROPPED_OVERSIZE = 2, /* larger than any bucket */
};

/* The shim's entry points (weak: null without the shim). Call the inline wrappers below. */
extern uint32_t allocprof_hook_pool_register(const char* name, uint64_t max_block, uint32_t slots_per_bucket)
    __attribute__((weak));
extern void allocprof_hook_pool_rent_begin(uint32_t pool, uint64_t requested) __attribute__((weak));
extern void allocprof_hook_pool_rent_end(uint32_t pool, uint64_t requested, uint64_t granted, int outcome)
    __attribute__((weak));
extern void allocprof_hook_pool_return(uint32_t pool, uint64_t size, int outcome) __attribute__((weak));
extern void allocprof_hook_count(const char* unit, uint64_t n) __attribute__((weak));
extern void allocprof_hook_mark(const char* name) __attribute__((weak));

/* Returns the pool's id for the calls below (0 without the shim; pass it on regardless). */
static inline uint32_t allocprof_pool_register(const char* name, uint64_t max_block, uint32_t slots_per_bucket) {
  return allocprof_hook_pool_register ? allocprof_hook_pool_register(name, max_block, slots_per_bucket) : 0;
}
static inline void allocprof_pool_rent_begin(uint32_t pool, uint64_t requested) {
  if (allocprof_hook_pool_rent_begin) allocprof_hook_pool_rent_begin(pool, requested);
}
static inline void allocprof_pool_rent_end(uint32_t pool, uint64_t requested, uint64_t granted,
                                           enum allocprof_rent_outcome outcome) {
  if (allocprof_hook_pool_rent_end) allocprof_hook_pool_rent_end(pool, requested, granted, (int)outcome);
}
static inline void allocprof_pool_return(uint32_t pool, uint64_t size, enum allocprof_return_outcome outcome) {
  if (allocprof_hook_pool_return) allocprof_hook_pool_return(pool, size, (int)outcome);
}
static inline void allocprof_count(const char* unit, uint64_t n) {
  if (allocprof_hook_count) allocprof_hook_count(unit, n);
}
/* Names a point in time ("warmup-done"); the analyzer lists marks with their times. */
static inline void allocprof_mark(const char* name) {
  if (allocprof_hook_mark) allocprof_hook_mark(name);
}

#ifdef __cplusplus
} /* extern "C" */

namespace allocprof {

/* A rent as a scope: begins on construction; Served() ends it with the outcome. A scope left
 * without Served() (an exception in the pool) ends as a fall-through of the requested size. */
class RentScope {
 public:
  RentScope(uint32_t pool, uint64_t requested) : pool_(pool), requested_(requested) {
    allocprof_pool_rent_begin(pool, requested);
  }
  void Served(uint64_t granted, allocprof_rent_outcome outcome) {
    if (done_) return;
    done_ = true;
    allocprof_pool_rent_end(pool_, requested_, granted, outcome);
  }
  ~RentScope() { Served(requested_, ALLOCPROF_RENT_EXHAUSTED); }
  RentScope(const RentScope&) = delete;
  RentScope& operator=(const RentScope&) = delete;

 private:
  uint32_t pool_;
  uint64_t requested_;
  bool done_ = false;
};

}  // namespace allocprof
#endif

#endif /* ALLOCPROF_POOL_H_ */
