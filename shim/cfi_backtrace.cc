#include "cfi_backtrace.h"

#include <string.h>
#include <sys/mman.h>

#include <new>

namespace allocprof::shim {

std::atomic<uint32_t> g_code_generation{0};

namespace {
// A step larger than this is taken for a wrong rule rather than a frame.
constexpr uintptr_t kMaxFrameBytes = 256ull << 20;
// libunwind stops at return addresses this low too (no code is mapped there).
constexpr uintptr_t kLowestCode = 0x4000;

uintptr_t Load(uintptr_t address) { return *reinterpret_cast<const uintptr_t*>(address); }
}  // namespace

__attribute__((noinline)) FrameRule RuleCache::Fill(Slot* s, uintptr_t pc) {
  s->rule = FindFrameRule(pc);
  s->pc = pc;
  return s->rule;
}

__attribute__((noinline)) void RuleCache::Clear(uint32_t generation) {
  memset(slots_, 0, sizeof(slots_));
  generation_ = generation;
}

RuleCache* CreateRuleCache() {
  void* mem = mmap(nullptr, sizeof(RuleCache), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  auto* cache = new (mem) RuleCache;  // zero from mmap: every slot empty
  cache->StartEmpty();
  return cache;
}

// Needs its own frame (the shim keeps frame pointers): the walk starts from the caller's registers
// as this function's prologue saved them.
__attribute__((noinline)) int CfiBacktrace(RuleCache* cache, uintptr_t* out, int max, uintptr_t skip_lo,
                                           uintptr_t skip_hi) {
  cache->Revalidate();
  auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  auto sp = reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa());
  uintptr_t bp = Load(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)));
  bool skipping = true;
  int n = 0;
  while (n < max) {
    skipping = skipping && pc >= skip_lo && pc < skip_hi;
    if (!skipping) out[n++] = pc;
    FrameRule rule = cache->Lookup(pc - 1);
    uintptr_t cfa;
    switch (rule.cfa) {
      case FrameRule::kRspPlus: cfa = sp + rule.cfa_offset; break;
      case FrameRule::kRbpPlus: cfa = bp + rule.cfa_offset; break;
      case FrameRule::kLoadRbpPlus: cfa = Load(bp + rule.cfa_offset); break;
      case FrameRule::kOutermost: return n;
      default: return -1;
    }
    if (cfa <= sp || cfa - sp > kMaxFrameBytes) return -1;
    if (rule.rbp == FrameRule::kAtCfaPlus) bp = Load(cfa + rule.rbp_offset);
    else if (rule.rbp == FrameRule::kAtRbpPlus) bp = Load(bp + rule.rbp_offset);
    pc = Load(cfa - 8);
    sp = cfa;
    if (pc < kLowestCode) return n;
  }
  return n;
}

}  // namespace allocprof::shim
