#include "unwind/stack_capture.h"

#include <link.h>
#include <pthread.h>
#include <string.h>

#include "record/thread_state.h"
#include "runtime/options.h"
#include "runtime/raw_syscalls.h"

namespace allocprof::shim {

CodeRange g_shim_code = {0, 0};

namespace {

int FindSelf(struct dl_phdr_info* info, size_t, void* data) {
  auto target = reinterpret_cast<uintptr_t>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    uintptr_t hi = lo + ph.p_memsz;
    if (target >= lo && target < hi) {
      g_shim_code = CodeRange{lo, hi};
      return 1;
    }
  }
  return 0;
}

inline bool InShim(uintptr_t ip) { return ip >= g_shim_code.lo && ip < g_shim_code.hi; }

uint64_t ParseHex(const char*& p) {
  uint64_t v = 0;
  for (;; ++p) {
    char c = *p;
    if (c >= '0' && c <= '9')
      v = v * 16 + static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      v = v * 16 + static_cast<uint64_t>(c - 'a' + 10);
    else
      return v;
  }
}

// The mapping that holds the current stack pointer, from /proc/self/maps with raw system calls.
// (pthread_getattr_np is no option: it allocates while holding the thread's own lock, so calling
// it from inside an allocation it made deadlocks.)
void FindStackBounds(ThreadState* t) {
  auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  t->stack_lo = UINTPTR_MAX;  // unknown: walk nothing rather than fault
  t->stack_hi = 0;
  int fd = RawOpen("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  size_t have = 0;
  for (;;) {
    ssize_t n = RawRead(fd, buf + have, sizeof(buf) - 1 - have);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    buf[have] = '\0';
    char* line = buf;
    char* nl;
    while ((nl = strchr(line, '\n')) != nullptr) {
      const char* p = line;
      uint64_t lo = ParseHex(p);
      if (*p == '-') {
        ++p;
        uint64_t hi = ParseHex(p);
        if (sp >= lo && sp < hi) {
          t->stack_lo = lo;
          t->stack_hi = hi;
          RawClose(fd);
          return;
        }
      }
      line = nl + 1;
    }
    have = static_cast<size_t>(buf + have - line);
    memmove(buf, line, have);
    if (have == sizeof(buf) - 1) have = 0;  // an absurdly long line: drop it
  }
  RawClose(fd);
}

}  // namespace

__attribute__((noinline)) uint32_t WalkFramePointers(ThreadState* t, uintptr_t* out, uint32_t max) {
  if (t->stack_lo == 0) FindStackBounds(t);
  auto* fp = static_cast<uintptr_t*>(__builtin_frame_address(0));
  uint32_t n = 0;
  while (n < max) {
    auto a = reinterpret_cast<uintptr_t>(fp);
    if (a < t->stack_lo || a > t->stack_hi - 16 || (a & 7)) break;
    uintptr_t ret = fp[1];
    if (ret == 0) break;
    out[n++] = ret;
    auto* next = reinterpret_cast<uintptr_t*>(fp[0]);
    if (next <= fp) break;
    fp = next;
  }
  return n;
}

RuleCache* RuleCacheSlow(ThreadState* t) {
  if (!t->rule_cache_failed) {
    t->rule_cache = CreateRuleCache();
    t->rule_cache_failed = t->rule_cache == nullptr;
  }
  return t->rule_cache;
}

void InitStackCapture() {
  dl_iterate_phdr(FindSelf, reinterpret_cast<void*>(&InitStackCapture));
  if (GetOptions().unwind == format::UnwindMode::kLibunwind) {
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  }
}

std::atomic<uintptr_t> g_signal_restorer{0};

uint32_t TrimShimFrames(uintptr_t* frames, uint32_t n) {
  uint32_t skip = 0;
  while (skip < n && InShim(frames[skip])) ++skip;
  uint32_t max = GetOptions().max_depth;
  if (__builtin_expect(t_local.handlers_running == 0, 1)) {
    n -= skip;
    if (n > max) n = max;
    if (skip) memmove(frames, frames + skip, n * sizeof(uintptr_t));
    return n;
  }
  // Inside a program's signal handler: further in, the trampoline it was called from
  // (fatal_signals.cc) is ours too, and the signal return code it returns to is nobody's call.
  uintptr_t restorer = g_signal_restorer.load(std::memory_order_relaxed);
  uint32_t kept = 0;
  for (uint32_t i = skip; i < n && kept < max; ++i) {
    if (!InShim(frames[i]) && frames[i] != restorer) frames[kept++] = frames[i];
  }
  return kept;
}

}  // namespace allocprof::shim
