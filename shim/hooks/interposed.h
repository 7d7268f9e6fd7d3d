// Every function the shim defines in place of the program's, from two tables: the allocation entry
// points (ALLOCPROF_ENTRY_POINTS in allocprof/trace_format.h, which also fixes their on-disk codes)
// and the functions below that record no allocation. The real-function table
// (hooks/real_functions.h), the operator new/delete wrappers (hooks/hooks_new.cc) and the order in
// which `allocprof attach` redirects a running process (kPatchOrder) are derived from them, so a
// new function is a line in one table plus its wrapper when that is written by hand.
#ifndef ALLOCPROF_SHIM_INTERPOSED_H_
#define ALLOCPROF_SHIM_INTERPOSED_H_

#include <stddef.h>

#include "allocprof/trace_format.h"

// Interposed functions that are no allocation entry point: X(symbol, shim), `shim` as in
// ALLOCPROF_ENTRY_POINTS (kLookUp: the next definition goes into the real-function table).
// malloc_usable_size passes through (hooks_malloc.cc); _exit, _Exit and the exec family flush the
// trace first (runtime/lifecycle.cc); dlopen records new modules (hooks/dlopen_hook.S; attached, a
// wrapper that also patches the new objects: attach.cc); dlclose drops the stack walker's rules of
// unmapped code (hooks/dlclose_hook.cc); the calls that set signal dispositions keep the shim's
// fatal-signal handler out of the program's way (hooks/signal_hooks.cc, runtime/fatal_signals.h).
#define ALLOCPROF_OTHER_INTERPOSED(X) \
  X(malloc_usable_size, kLookUp)      \
  X(_exit, kLookUp)                   \
  X(_Exit, kByHand)                   \
  X(execve, kLookUp)                  \
  X(execv, kByHand)                   \
  X(execvp, kByHand)                  \
  X(execvpe, kLookUp)                 \
  X(execl, kByHand)                   \
  X(execlp, kByHand)                  \
  X(execle, kByHand)                  \
  X(fexecve, kLookUp)                 \
  X(execveat, kLookUp)                \
  X(dlopen, kLookUp)                  \
  X(dlclose, kLookUp)                 \
  X(sigaction, kByHand)               \
  X(__sigaction, kByHand)             \
  X(signal, kByHand)                  \
  X(bsd_signal, kByHand)              \
  X(sysv_signal, kByHand)             \
  X(__sysv_signal, kByHand)           \
  X(sigset, kByHand)

// ALLOCPROF_LOOKS_UP_<shim>(x): x for a function whose next definition the shim looks up, nothing
// otherwise. Every `shim` token of both tables needs its line here.
#define ALLOCPROF_LOOKS_UP_kLookUp(x) x
#define ALLOCPROF_LOOKS_UP_kByHand(x)
#define ALLOCPROF_LOOKS_UP_kNone(x)
#define ALLOCPROF_LOOKS_UP_kNew(x)
#define ALLOCPROF_LOOKS_UP_kNewNothrow(x)
#define ALLOCPROF_LOOKS_UP_kNewAligned(x)
#define ALLOCPROF_LOOKS_UP_kNewAlignedNothrow(x)
#define ALLOCPROF_LOOKS_UP_kDelete(x)
#define ALLOCPROF_LOOKS_UP_kDeleteSized(x)
#define ALLOCPROF_LOOKS_UP_kDeleteNothrow(x)
#define ALLOCPROF_LOOKS_UP_kDeleteAligned(x)
#define ALLOCPROF_LOOKS_UP_kDeleteSizedAligned(x)
#define ALLOCPROF_LOOKS_UP_kDeleteAlignedNothrow(x)

namespace allocprof::shim {

// The groups `allocprof attach` patches one after the other, each in every loaded object before
// the next (threads keep running meanwhile). Functions that release memory come first: a block
// can then be allocated unseen and freed seen (a pre-attach free), never allocated seen and freed
// unseen (a false leak). The operator new forms come next, before the malloc family they call:
// otherwise a new[] not yet redirected could reach a redirected malloc, record a malloc, and its
// delete[] would look like a mismatched free. Everything else comes last.
enum class PatchGroup : uint8_t { kRelease, kOperatorNew, kRest };

struct InterposedFunction {
  const char* symbol;
  PatchGroup group;
};

namespace internal {

constexpr PatchGroup GroupOf(bool releases, format::Family family) {
  return releases ? PatchGroup::kRelease
                  : (family == format::Family::kMallocFamily ? PatchGroup::kRest : PatchGroup::kOperatorNew);
}

// Both tables in table order; realloc's release half, which has no symbol, included.
inline constexpr InterposedFunction kTableOrder[] = {
#define ALLOCPROF_ENTRY_FUNCTION(e, name, family, kind, symbol, releases, shim) \
  {#symbol, GroupOf(releases, format::Family::family)},
    ALLOCPROF_ENTRY_POINTS(ALLOCPROF_ENTRY_FUNCTION)
#undef ALLOCPROF_ENTRY_FUNCTION
#define ALLOCPROF_OTHER_FUNCTION(symbol, shim) {#symbol, PatchGroup::kRest},
        ALLOCPROF_OTHER_INTERPOSED(ALLOCPROF_OTHER_FUNCTION)
#undef ALLOCPROF_OTHER_FUNCTION
};

constexpr size_t CountInGroup(PatchGroup group) {
  size_t n = 0;
  for (const InterposedFunction& f : kTableOrder) n += f.symbol[0] && f.group == group;
  return n;
}

}  // namespace internal

// Every function the shim defines, in the order attach patches them: the kRelease group, then
// kOperatorNew, then kRest (table order within a group).
struct PatchOrder {
  static constexpr size_t kReleaseEnd = internal::CountInGroup(PatchGroup::kRelease);
  static constexpr size_t kOperatorNewEnd = kReleaseEnd + internal::CountInGroup(PatchGroup::kOperatorNew);
  static constexpr size_t kCount = kOperatorNewEnd + internal::CountInGroup(PatchGroup::kRest);
  InterposedFunction functions[kCount];
};

constexpr PatchOrder MakePatchOrder() {
  PatchOrder order{};
  size_t n = 0;
  constexpr PatchGroup kGroups[] = {PatchGroup::kRelease, PatchGroup::kOperatorNew, PatchGroup::kRest};
  for (PatchGroup group : kGroups) {
    for (const InterposedFunction& f : internal::kTableOrder) {
      if (f.symbol[0] && f.group == group) order.functions[n++] = f;
    }
  }
  return order;
}

inline constexpr PatchOrder kPatchOrder = MakePatchOrder();

namespace internal {

constexpr bool Same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

constexpr PatchGroup GroupOfSymbol(const char* symbol) {
  for (const InterposedFunction& f : kPatchOrder.functions) {
    if (Same(f.symbol, symbol)) return f.group;
  }
  return PatchGroup::kRest;
}

// The order's guarantees, checked on the tables as they stand: every function of a free event in
// the first group, the operator new forms in the second, the malloc family after both.
constexpr bool PatchOrderHolds() {
  for (size_t i = 0; i < static_cast<size_t>(format::EntryPoint::kCount); ++i) {
    if (format::kEntryPoints[i].kind == format::EntryKind::kRelease && kTableOrder[i].group != PatchGroup::kRelease)
      return false;
  }
  return GroupOfSymbol("free") == PatchGroup::kRelease && GroupOfSymbol("realloc") == PatchGroup::kRelease &&
         GroupOfSymbol("_ZdaPv") == PatchGroup::kRelease && GroupOfSymbol("_Znam") == PatchGroup::kOperatorNew &&
         GroupOfSymbol("malloc") == PatchGroup::kRest && GroupOfSymbol("posix_memalign") == PatchGroup::kRest;
}
static_assert(PatchOrderHolds(), "attach's patch order: release functions, then operator new, then the rest");

}  // namespace internal

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_INTERPOSED_H_
