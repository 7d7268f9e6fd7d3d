// The C allocator entry points. Each forwards to the real function and records the event; the
// reentrancy guard makes calls from inside the shim (and from the real functions) pass straight
// through.
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hooks/real_functions.h"
#include "record/recorder.h"

using namespace allocprof::shim;
using allocprof::format::EntryPoint;

namespace {

// Before the real functions are known (dlsym's own allocations land here).
__attribute__((noinline)) void* EarlyAlloc(size_t size, size_t alignment) {
  if (ResolveRealFunctions()) return nullptr;  // resolved now: caller proceeds normally
  void* p = BootstrapAlloc(size, alignment);
  if (!p) errno = ENOMEM;
  return p;
}

inline bool Ready() { return __builtin_expect(RealFunctionsReady(), 1); }

// Everything but sampling's fast paths, out of line: those then pay for no saved registers or
// stack frame, and end in a tail call.
__attribute__((noinline)) void* MallocSlow(size_t size) {
  if (!Ready()) {
    if (void* p = EarlyAlloc(size, 16)) return p;
    if (!Ready()) return nullptr;
  }
  HookGuard guard;
  void* p = g_real.malloc(size);
  AfterAlloc(guard, EntryPoint::kMalloc, p, size);
  return p;
}

__attribute__((noinline)) void FreeSlow(void* p) {
  if (!p || IsBootstrapPointer(p)) return;
  HookGuard guard;
  BeforeFree(guard, EntryPoint::kFree, p);
  g_real.free(p);
}

__attribute__((noinline)) void* CallocSlow(size_t n, size_t size) {
  if (!Ready()) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
      errno = ENOMEM;
      return nullptr;
    }
    if (void* p = EarlyAlloc(total, 16)) return p;
    if (!Ready()) return nullptr;
  }
  HookGuard guard;
  void* p = g_real.calloc(n, size);
  AfterAlloc(guard, EntryPoint::kCalloc, p, static_cast<uint64_t>(n) * size);
  return p;
}

}  // namespace

#define ALLOCPROF_EXPORT extern "C" __attribute__((visibility("default")))

ALLOCPROF_EXPORT void* malloc(size_t size) {
  if (SamplerSkipsAllocation(size)) return g_real.malloc(size);
  return MallocSlow(size);
}

ALLOCPROF_EXPORT void free(void* p) {
  if (SamplerSkipsFree(p)) return g_real.free(p);
  FreeSlow(p);
}

ALLOCPROF_EXPORT void* calloc(size_t n, size_t size) {
  // An overflowing product fails in the real calloc, recorded or not: the slow path keeps it.
  size_t total;
  if (!__builtin_mul_overflow(n, size, &total) && SamplerSkipsAllocation(total)) return g_real.calloc(n, size);
  return CallocSlow(n, size);
}

namespace {

void* ReallocFromBootstrap(void* old_ptr, size_t size) {
  void* p = malloc(size);
  if (p) {
    size_t old_size = BootstrapUsableSize(old_ptr);
    memcpy(p, old_ptr, old_size < size ? old_size : size);
  }
  return p;
}

__attribute__((noinline)) void* ReallocSlow(void* old_ptr, size_t size) {
  if (!Ready() && !ResolveRealFunctions()) return BootstrapAlloc(size, 16);
  if (old_ptr && IsBootstrapPointer(old_ptr)) return ReallocFromBootstrap(old_ptr, size);
  HookGuard guard;
  if (!guard.entered()) {
    return ReallocUnentered(EntryPoint::kRealloc, old_ptr, size, [&] { return g_real.realloc(old_ptr, size); });
  }
  return RecordRealloc(EntryPoint::kRealloc, old_ptr, size, [&] { return g_real.realloc(old_ptr, size); });
}

}  // namespace

ALLOCPROF_EXPORT void* realloc(void* old_ptr, size_t size) {
  if (SamplerSkipsRealloc(old_ptr, size)) return g_real.realloc(old_ptr, size);
  return ReallocSlow(old_ptr, size);
}

// Rare enough to keep one path: no sampling fast path.
ALLOCPROF_EXPORT void* reallocarray(void* old_ptr, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (!Ready() && !ResolveRealFunctions()) return BootstrapAlloc(total, 16);
  if (old_ptr && IsBootstrapPointer(old_ptr)) return ReallocFromBootstrap(old_ptr, total);
  HookGuard guard;
  auto call = [&] {
    return g_real.reallocarray ? g_real.reallocarray(old_ptr, n, size) : g_real.realloc(old_ptr, total);
  };
  if (!guard.entered()) return ReallocUnentered(EntryPoint::kReallocarray, old_ptr, total, call);
  return RecordRealloc(EntryPoint::kReallocarray, old_ptr, total, call);
}

ALLOCPROF_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!Ready() && !ResolveRealFunctions()) {
    *out = BootstrapAlloc(size, alignment);
    return *out ? 0 : ENOMEM;
  }
  HookGuard guard;
  int rc = g_real.posix_memalign(out, alignment, size);
  AfterAlloc(guard, EntryPoint::kPosixMemalign, rc == 0 ? *out : nullptr, size);
  return rc;
}

ALLOCPROF_EXPORT void* aligned_alloc(size_t alignment, size_t size) {
  if (!Ready() && !ResolveRealFunctions()) return BootstrapAlloc(size, alignment);
  HookGuard guard;
  void* p = g_real.aligned_alloc(alignment, size);
  AfterAlloc(guard, EntryPoint::kAlignedAlloc, p, size);
  return p;
}

ALLOCPROF_EXPORT void* memalign(size_t alignment, size_t size) {
  if (!Ready() && !ResolveRealFunctions()) return BootstrapAlloc(size, alignment);
  HookGuard guard;
  void* p = g_real.memalign(alignment, size);
  AfterAlloc(guard, EntryPoint::kMemalign, p, size);
  return p;
}

ALLOCPROF_EXPORT void* valloc(size_t size) {
  if (!Ready() && !ResolveRealFunctions()) return BootstrapAlloc(size, 4096);
  HookGuard guard;
  void* p = g_real.valloc(size);
  AfterAlloc(guard, EntryPoint::kValloc, p, size);
  return p;
}

ALLOCPROF_EXPORT void* pvalloc(size_t size) {
  if (!Ready() && !ResolveRealFunctions()) return BootstrapAlloc(size, 4096);
  HookGuard guard;
  void* p = g_real.pvalloc(size);
  AfterAlloc(guard, EntryPoint::kPvalloc, p, size);
  return p;
}

ALLOCPROF_EXPORT size_t malloc_usable_size(void* p) {
  if (!p) return 0;
  if (IsBootstrapPointer(p)) return BootstrapUsableSize(p);
  if (!Ready()) ResolveRealFunctions();
  return g_real.malloc_usable_size(p);
}

// C23's sized frees; glibc 2.36 lacks them, but programs built against newer headers may call them.
ALLOCPROF_EXPORT void free_sized(void* p, size_t) {
  if (!p || IsBootstrapPointer(p)) return;
  HookGuard guard;
  BeforeFree(guard, EntryPoint::kFreeSized, p);
  g_real.free(p);
}

ALLOCPROF_EXPORT void free_aligned_sized(void* p, size_t, size_t) {
  if (!p || IsBootstrapPointer(p)) return;
  HookGuard guard;
  BeforeFree(guard, EntryPoint::kFreeAlignedSized, p);
  g_real.free(p);
}
