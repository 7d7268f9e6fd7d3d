#include "stack_capture.h"

#include <link.h>
#include <pthread.h>
#include <string.h>

#include "options.h"

namespace allocprof::shim {
namespace {

uintptr_t g_self_lo = 0;
uintptr_t g_self_hi = 0;

int FindSelf(struct dl_phdr_info* info, size_t, void* data) {
  auto target = reinterpret_cast<uintptr_t>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    uintptr_t hi = lo + ph.p_memsz;
    if (target >= lo && target < hi) {
      g_self_lo = lo;
      g_self_hi = hi;
      return 1;
    }
  }
  return 0;
}

inline bool InShim(uintptr_t ip) { return ip >= g_self_lo && ip < g_self_hi; }

void FindStackBounds(ThreadState* t) {
  pthread_attr_t attr;
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
  }
  t->stack_lo = reinterpret_cast<uintptr_t>(addr);
  t->stack_hi = t->stack_lo + size;
  if (size == 0) t->stack_hi = t->stack_lo = 1;  // unknown: walk nothing rather than fault
}

}  // namespace

__attribute__((noinline)) uint32_t WalkFramePointers(ThreadState* t, uintptr_t* out, uint32_t max) {
  if (t->stack_lo == 0) FindStackBounds(t);
  auto* fp = static_cast<uintptr_t*>(__builtin_frame_address(0));
  uint32_t n = 0;
  while (n < max) {
    auto a = reinterpret_cast<uintptr_t>(fp);
    if (a < t->stack_lo || a + 16 > t->stack_hi || (a & 7)) break;
    uintptr_t ret = fp[1];
    if (ret == 0) break;
    out[n++] = ret;
    auto* next = reinterpret_cast<uintptr_t*>(fp[0]);
    if (next <= fp) break;
    fp = next;
  }
  return n;
}

void InitStackCapture() {
  dl_iterate_phdr(FindSelf, reinterpret_cast<void*>(&InitStackCapture));
  if (GetOptions().unwind == format::UnwindMode::kLibunwind) {
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  }
}

uint32_t TrimShimFrames(uintptr_t* frames, uint32_t n) {
  uint32_t skip = 0;
  while (skip < n && InShim(frames[skip])) ++skip;
  n -= skip;
  uint32_t max = GetOptions().max_depth;
  if (n > max) n = max;
  if (skip) memmove(frames, frames + skip, n * sizeof(uintptr_t));
  return n;
}

}  // namespace allocprof::shim
