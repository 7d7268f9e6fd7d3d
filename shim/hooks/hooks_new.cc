// Every global operator new / operator delete form. Allocation goes to the real malloc family; on
// failure the throwing forms call the program's new_handler and throw std::bad_alloc through
// libstdc++ (looked up at run time, so the shim does not link libstdc++). No object with a
// destructor is live across those calls, so exceptions pass through these frames with plain
// unwind tables.
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include <cstddef>
#include <new>

#include "hooks/real_functions.h"
#include "record/recorder.h"
#include "runtime/stderr_log.h"

using namespace allocprof::shim;
using allocprof::format::EntryPoint;

namespace {

using NewHandler = void (*)();

// The recording halves, out of line so that the sampler's fast paths in front of them pay for no
// saved registers or stack frame. Allocation with the guard held for its duration only; null on
// failure.
__attribute__((noinline)) void* AllocateRecorded(size_t size, size_t alignment, EntryPoint entry) {
  if (!RealFunctionsReady()) ResolveRealFunctions();
  HookGuard guard;
  void* p;
  if (alignment <= alignof(std::max_align_t)) {
    p = g_real.malloc(size ? size : 1);
  } else {
    p = nullptr;
    if (g_real.posix_memalign(&p, alignment, size ? size : 1) != 0) p = nullptr;
  }
  AfterAlloc(guard, entry, p, size);
  return p;
}

__attribute__((noinline)) void ReleaseRecorded(void* p, EntryPoint entry) {
  if (!p || IsBootstrapPointer(p)) return;
  HookGuard guard;
  BeforeFree(guard, entry, p);
  g_real.free(p);
}

// The sampling mode implies the real functions are known (recorder.h, Sampling). `size + (size == 0)`
// is `size ? size : 1` as the countdown computes it, so the two share their instructions.
inline void* Allocate(size_t size, size_t alignment, EntryPoint entry) {
  if (alignment <= alignof(std::max_align_t) && SamplerSkipsAllocation(size)) return g_real.malloc(size + (size == 0));
  return AllocateRecorded(size, alignment, entry);
}

inline void Release(void* p, EntryPoint entry) {
  if (SamplerSkipsFree(p)) return g_real.free(p);
  ReleaseRecorded(p, entry);
}

NewHandler CurrentNewHandler() {
  static void* fn = nullptr;
  if (!fn) fn = LookupNext("_ZSt15get_new_handlerv");
  return fn ? reinterpret_cast<NewHandler (*)()>(fn)() : nullptr;
}

[[noreturn]] void ThrowBadAlloc() {
  void* fn = LookupNext("_ZSt17__throw_bad_allocv");
  if (fn) reinterpret_cast<void (*)()>(fn)();
  LogError("operator new failed and std::bad_alloc cannot be thrown (libstdc++ not loaded); aborting");
  abort();
}

// The standard's loop: call the new_handler until it frees memory, or throw when there is none.
__attribute__((noinline)) void* AllocateOrThrow(size_t size, size_t alignment, EntryPoint entry) {
  for (;;) {
    if (void* p = Allocate(size, alignment, entry)) return p;
    NewHandler handler = CurrentNewHandler();
    if (!handler) ThrowBadAlloc();
    handler();
  }
}

inline void* New(size_t size, size_t alignment, EntryPoint entry) {
  void* p = Allocate(size, alignment, entry);
  return __builtin_expect(p != nullptr, 1) ? p : AllocateOrThrow(size, alignment, entry);
}

// The nothrow forms run the same new_handler loop and return null where the throwing forms would
// throw, including when the handler itself throws std::bad_alloc. Catching needs exceptions, which
// the shim is built without: on failure, libstdc++'s own nothrow form (`symbol`) does the loop and
// the catch, its inner operator new reaching ours unrecorded (the guard is held), and the block it
// returns is recorded here as the nothrow entry point. Without libstdc++ there is no handler.
__attribute__((noinline)) void* NewNothrowSlow(size_t size, size_t alignment, EntryPoint entry, const char* symbol) {
  void* fn = LookupNext(symbol);
  if (!fn) return nullptr;
  const std::nothrow_t tag{};  // std::nothrow itself lives in libstdc++, which the shim does not link
  HookGuard guard;
  void* p = alignment <= alignof(std::max_align_t)
                ? reinterpret_cast<void* (*)(size_t, const std::nothrow_t&)>(fn)(size, tag)
                : reinterpret_cast<void* (*)(size_t, std::align_val_t, const std::nothrow_t&)>(fn)(
                      size, static_cast<std::align_val_t>(alignment), tag);
  if (guard.entered() && p) RecordAlloc(entry, p, size);
  return p;
}

inline void* NewNothrow(size_t size, size_t alignment, EntryPoint entry, const char* symbol) {
  void* p = Allocate(size, alignment, entry);
  return __builtin_expect(p != nullptr, 1) ? p : NewNothrowSlow(size, alignment, entry, symbol);
}

}  // namespace

#define ALLOCPROF_EXPORT __attribute__((visibility("default")))
using std::align_val_t;
using std::nothrow_t;
constexpr size_t kDefault = 0;

// One wrapper per kNew* and kDelete* row of ALLOCPROF_ENTRY_POINTS, by its signature. `op` is the
// operator its family and kind name (new, new[], delete, delete[]); a nothrow form hands its own
// symbol to NewNothrowSlow, which calls libstdc++'s definition of it.
#define ALLOCPROF_OPERATOR_kNewFamily_kAlloc new
#define ALLOCPROF_OPERATOR_kNewArrayFamily_kAlloc new[]
#define ALLOCPROF_OPERATOR_kNewFamily_kRelease delete
#define ALLOCPROF_OPERATOR_kNewArrayFamily_kRelease delete[]

#define ALLOCPROF_WRAPPER_kLookUp(op, entry, symbol)
#define ALLOCPROF_WRAPPER_kByHand(op, entry, symbol)
#define ALLOCPROF_WRAPPER_kNone(op, entry, symbol)
#define ALLOCPROF_WRAPPER_kNew(op, entry, symbol) \
  ALLOCPROF_EXPORT void* operator op(size_t n) { return New(n, kDefault, entry); }
#define ALLOCPROF_WRAPPER_kNewNothrow(op, entry, symbol)                    \
  ALLOCPROF_EXPORT void* operator op(size_t n, const nothrow_t&) noexcept { \
    return NewNothrow(n, kDefault, entry, #symbol);                         \
  }
#define ALLOCPROF_WRAPPER_kNewAligned(op, entry, symbol) \
  ALLOCPROF_EXPORT void* operator op(size_t n, align_val_t a) { return New(n, static_cast<size_t>(a), entry); }
#define ALLOCPROF_WRAPPER_kNewAlignedNothrow(op, entry, symbol)                            \
  ALLOCPROF_EXPORT void* operator op(size_t n, align_val_t a, const nothrow_t&) noexcept { \
    return NewNothrow(n, static_cast<size_t>(a), entry, #symbol);                          \
  }
#define ALLOCPROF_WRAPPER_kDelete(op, entry, symbol) \
  ALLOCPROF_EXPORT void operator op(void* p) noexcept { Release(p, entry); }
#define ALLOCPROF_WRAPPER_kDeleteSized(op, entry, symbol) \
  ALLOCPROF_EXPORT void operator op(void* p, size_t) noexcept { Release(p, entry); }
#define ALLOCPROF_WRAPPER_kDeleteNothrow(op, entry, symbol) \
  ALLOCPROF_EXPORT void operator op(void* p, const nothrow_t&) noexcept { Release(p, entry); }
#define ALLOCPROF_WRAPPER_kDeleteAligned(op, entry, symbol) \
  ALLOCPROF_EXPORT void operator op(void* p, align_val_t) noexcept { Release(p, entry); }
#define ALLOCPROF_WRAPPER_kDeleteSizedAligned(op, entry, symbol) \
  ALLOCPROF_EXPORT void operator op(void* p, size_t, align_val_t) noexcept { Release(p, entry); }
#define ALLOCPROF_WRAPPER_kDeleteAlignedNothrow(op, entry, symbol) \
  ALLOCPROF_EXPORT void operator op(void* p, align_val_t, const nothrow_t&) noexcept { Release(p, entry); }

#define ALLOCPROF_DEFINE_WRAPPER(e, name, family, kind, symbol, releases, shim) \
  ALLOCPROF_WRAPPER_##shim(ALLOCPROF_OPERATOR_##family##_##kind, EntryPoint::e, symbol)
ALLOCPROF_ENTRY_POINTS(ALLOCPROF_DEFINE_WRAPPER)
