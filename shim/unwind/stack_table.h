// Deduplicates call stacks: each distinct stack gets a small id, and its frames are written to the
// trace once (once per process generation: a forked child defines them again in its own trace).
//
// Thread-safety: lock-free. Lookups and inserts race only on claiming an empty slot (CAS); a
// loser of that race finds the winner's entry on its next probe. Memory comes from mmap
// (MAP_NORESERVE), never from the hooked allocator.
#ifndef ALLOCPROF_SHIM_STACK_TABLE_H_
#define ALLOCPROF_SHIM_STACK_TABLE_H_

#include <stdint.h>

namespace allocprof::shim {

struct InternResult {
  uint32_t id;            // 0 when the table is full (the event is kept, its stack is not)
  bool needs_definition;  // the caller must write a kStackDef for id before using it
};

bool InitStackTable();
InternResult InternStack(const uintptr_t* frames, uint32_t depth);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_STACK_TABLE_H_
