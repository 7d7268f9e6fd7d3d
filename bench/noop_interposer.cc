// noop_interposer: the floor for a preloaded allocation tracer. It interposes the entry points the
// churn workloads use (malloc, free, calloc, realloc, operator new/new[]/delete/delete[]) and only
// forwards them to glibc, so its cost per call is what interposition itself costs (the PLT hop
// and one more call) with no recording at all. bench/README.md compares the shim's instructions
// per allocation+free pair, stage by stage, against it.
//
// Usage: LD_PRELOAD=build/bench/libnoop_interposer.so PROGRAM...
#include <stddef.h>

#include <new>

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);

#define NOOP_EXPORT __attribute__((visibility("default")))
NOOP_EXPORT void* malloc(size_t n) { return __libc_malloc(n); }
NOOP_EXPORT void free(void* p) { __libc_free(p); }
NOOP_EXPORT void* calloc(size_t n, size_t s) { return __libc_calloc(n, s); }
NOOP_EXPORT void* realloc(void* p, size_t n) { return __libc_realloc(p, n); }
}

namespace {
void* NewOrThrow(size_t n) {
  void* p = __libc_malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

NOOP_EXPORT void* operator new(size_t n) { return NewOrThrow(n); }
NOOP_EXPORT void* operator new[](size_t n) { return NewOrThrow(n); }
NOOP_EXPORT void operator delete(void* p) noexcept { __libc_free(p); }
NOOP_EXPORT void operator delete[](void* p) noexcept { __libc_free(p); }
NOOP_EXPORT void operator delete(void* p, size_t) noexcept { __libc_free(p); }
NOOP_EXPORT void operator delete[](void* p, size_t) noexcept { __libc_free(p); }
