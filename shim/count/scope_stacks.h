// The stacks of the allocations a thread makes while an allocation scope is active on it, kept in
// a ring of the last CountThread::kRingSize, and written out, symbolized, for a budget's failure
// message (allocprof_scope_describe in include/allocprof/budget.h).
//
// Thread-safety: a thread's ring is written and read only by that thread.
#ifndef ALLOCPROF_SHIM_COUNT_SCOPE_STACKS_H_
#define ALLOCPROF_SHIM_COUNT_SCOPE_STACKS_H_

#include <stddef.h>
#include <stdint.h>

namespace allocprof::shim {

// Writes the calling thread's allocations kept since `mark` (CountScopeBegin's value); only the
// fall-throughs of the pool named `pool` when it is not null. Stacks stop before the first frame
// whose function starts with `stop_at`. Returns the length written (out is NUL-terminated).
size_t CountDescribe(uint64_t mark, const char* pool, const char* stop_at, char* out, size_t capacity);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_COUNT_SCOPE_STACKS_H_
