// Redirects a running process's calls to named functions by rewriting the GOT entries that its
// loaded objects bind them through (`allocprof attach`: a library loaded late does not interpose
// anything, since every call site was bound before it arrived).
//
// Each object's PLT and data relocations (DT_JMPREL, DT_RELA, DT_REL) are scanned for
// R_X86_64_JUMP_SLOT and R_X86_64_GLOB_DAT entries against the named symbols; the matching GOT
// slots are overwritten with the replacement, the page made writable for the write when RELRO
// sealed it, and sealed again. Calls through function pointers taken before the patch, through
// data relocations (R_X86_64_64) or through direct calls inside one object are not redirected.
//
// Thread-safety: patching is serialised by an internal mutex; each slot is written with one aligned
// 8-byte store, so a concurrent caller reaches either the old or the new function.
#ifndef ALLOCPROF_SHIM_GOT_PATCH_H_
#define ALLOCPROF_SHIM_GOT_PATCH_H_

#include <stddef.h>
#include <stdint.h>

namespace allocprof::shim {

struct GotTarget {
  const char* symbol;
  void* replacement;  // null: leave this symbol alone
};

struct GotPatchResult {
  size_t slots = 0;     // GOT slots rewritten now
  size_t failures = 0;  // slots that could not be made writable
};

// Patches every loaded object except the one containing `skip_address` (the shim itself), the
// dynamic loader and the vDSO. Slots already holding their replacement are left alone, so calling
// this again after a dlopen only touches the new objects.
GotPatchResult PatchLoadedObjects(const GotTarget* targets, size_t count, const void* skip_address);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_GOT_PATCH_H_
