// The allocator functions the shim forwards to (the next definitions after ours, found with
// dlsym(RTLD_NEXT)), and the bootstrap arena that serves allocations made while they are being
// looked up (dlsym itself calls calloc).
//
// Thread-safety: ResolveRealFunctions may run concurrently in several threads; every pointer is
// written with the same value, so readers see either null or the final value.
#ifndef ALLOCPROF_SHIM_REAL_FUNCTIONS_H_
#define ALLOCPROF_SHIM_REAL_FUNCTIONS_H_

#include <stddef.h>
#include <sys/types.h>

namespace allocprof::shim {

struct RealFunctions {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void* (*reallocarray)(void*, size_t, size_t);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  void* (*memalign)(size_t, size_t);
  void* (*valloc)(size_t);
  void* (*pvalloc)(size_t);
  size_t (*malloc_usable_size)(void*);
  void* (*dlopen)(const char*, int);
  int (*dlclose)(void*);
  int (*execve)(const char*, char* const[], char* const[]);
  int (*execvpe)(const char*, char* const[], char* const[]);
  int (*execveat)(int, const char*, char* const[], char* const[], int);
  int (*fexecve)(int, char* const[], char* const[]);
  void (*exit_now)(int);  // _exit
};

extern RealFunctions g_real;

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
bool IsBootstrapPointer(const void* p);
size_t BootstrapUsableSize(const void* p);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_REAL_FUNCTIONS_H_
