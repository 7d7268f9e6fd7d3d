// The functions the shim forwards to (the next definitions after ours, found with dlsym(RTLD_NEXT)),
// one per kLookUp row of the tables in hooks/interposed.h, and the bootstrap arena that serves
// allocations made while they are being looked up (dlsym itself calls calloc).
//
// Thread-safety: ResolveRealFunctions may run concurrently in several threads; every pointer is
// written with the same value, so readers see either null or the final value.
#ifndef ALLOCPROF_SHIM_REAL_FUNCTIONS_H_
#define ALLOCPROF_SHIM_REAL_FUNCTIONS_H_

#include <dlfcn.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "hooks/interposed.h"

namespace allocprof::shim {

// One pointer per kLookUp function of the two tables in hooks/interposed.h, named and typed after
// the libc function (g_real.malloc, g_real._exit), in table order. malloc comes first:
// RealFunctionsReady keys on it.
struct RealFunctions {
#define ALLOCPROF_REAL_FIELD(symbol) decltype(&::symbol) symbol;
#define ALLOCPROF_REAL_ENTRY(e, name, family, kind, symbol, releases, shim) \
  ALLOCPROF_LOOKS_UP_##shim(ALLOCPROF_REAL_FIELD(symbol))
#define ALLOCPROF_REAL_OTHER(symbol, shim) ALLOCPROF_LOOKS_UP_##shim(ALLOCPROF_REAL_FIELD(symbol))
  ALLOCPROF_ENTRY_POINTS(ALLOCPROF_REAL_ENTRY)
  ALLOCPROF_OTHER_INTERPOSED(ALLOCPROF_REAL_OTHER)
#undef ALLOCPROF_REAL_OTHER
#undef ALLOCPROF_REAL_ENTRY
#undef ALLOCPROF_REAL_FIELD
};
static_assert(offsetof(RealFunctions, malloc) == 0, "malloc is published last and read first");

extern RealFunctions g_real __attribute__((visibility("hidden")));  // hidden: no GOT hop

// Looks every function up once. Returns false while a lookup is in progress on this thread (the
// caller is dlsym's own allocation and must use the bootstrap arena).
bool ResolveRealFunctions();

inline bool RealFunctionsReady() { return g_real.malloc != nullptr; }

// Looks up one symbol with dlsym(RTLD_NEXT); used for the C++ operators, which may appear later
// (a C program that dlopens a C++ library).
void* LookupNext(const char* symbol);

// For a shim dlopen'ed (RTLD_LOCAL) into a running process: the functions the process already
// calls are the first definitions in the global scope, which RTLD_NEXT from a late-loaded object
// would not search. Call before the first ResolveRealFunctions.
void UseGlobalSymbolLookup();

// Bootstrap arena: a static buffer for the few allocations made before the real allocator is known.
// Its blocks are never reused; free() recognises and ignores them.
void* BootstrapAlloc(size_t size, size_t alignment);
inline constexpr size_t kBootstrapArenaSize = 256 << 10;
extern unsigned char g_bootstrap_arena[kBootstrapArenaSize] __attribute__((visibility("hidden")));
// Inline: every free outside sampling's fast path asks (one subtract and compare, where a call
// cost ~10 instructions a pair). Every block handed out is pinned in g_sampled (sampled_set.h), so
// that fast path, which does not ask, never takes one for an unsampled block.
inline bool IsBootstrapPointer(const void* p) {
  return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g_bootstrap_arena) < kBootstrapArenaSize;
}
size_t BootstrapUsableSize(const void* p);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_REAL_FUNCTIONS_H_
