// realloc in a sampled trace: the old block's free is recorded if its allocation was, the new
// block is sampled like any allocation of its size.
#include "record/recorder.h"

namespace allocprof::shim {

void* RecordReallocSampled(ThreadState* t, format::EntryPoint entry, void* old_ptr, uint64_t size, void* (*call)(void*),
                           void* ctx) {
  int caller_errno = errno;
  auto old_addr = reinterpret_cast<uintptr_t>(old_ptr);
  // Out of the set before the real call: once it returns, another thread may get the old address.
  SampledSet::Removal removal = t && old_ptr ? g_sampled.TakeOut(old_addr) : SampledSet::Removal::kAbsent;
  bool old_recorded = removal != SampledSet::Removal::kAbsent;
  // The free's time is stamped with the lock held and the lock kept until it is written, so no
  // flush can promise a time past it (as in RecordRealloc).
  if (old_recorded) Lock(t);
  uint64_t before = NowNs();
  errno = caller_errno;
  void* result = call(ctx);
  int result_errno = errno;
  // Success, or glibc's realloc(p, 0), which frees p and returns null.
  bool freed_old = old_ptr && (result || size == 0);
  if (old_recorded && !freed_old) {
    // The call failed: the old block lives on, in the set again if it was there (a maybe from an
    // overflowed line was never held; its free is recorded anyway).
    if (removal == SampledSet::Removal::kRemoved) g_sampled.Insert(old_addr);
    old_recorded = false;
    Unlock(t);
  }
  auto new_addr = reinterpret_cast<uintptr_t>(result);
  bool new_recorded = t && result && SampleAllocation(size, new_addr);
  if (old_recorded || new_recorded) {
    InternResult stack{0, false};
    uint32_t depth = 0;
    if (new_recorded) {
      depth = CaptureStack(t);
      stack = InternCapturedStack(t, depth);
    }
    if (!old_recorded) Lock(t);
    uint64_t after = NowNs();
    PrepareLocked(t, stack, depth, old_recorded ? before : after);
    if (old_recorded) EncodeFree(t, format::EntryPoint::kReallocFree, before, old_addr);
    if (new_recorded) {
      if (__builtin_expect(t->enc.NeedsFlush(), 0)) FlushLocked(t, after);
      EncodeAlloc(t, entry, after, new_addr, size, stack.id);
    }
    if (g_mode.load(std::memory_order_relaxed) == Mode::kWriteThrough) FlushLocked(t, NowNs());
    Unlock(t);
  }
  errno = result_errno;
  return result;
}

}  // namespace allocprof::shim
