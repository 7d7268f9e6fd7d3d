// The default stack walker: return addresses from the call frame information of the loaded
// objects, with the rule for each return address cached per thread, so a walk costs a few loads
// per frame. A frame it cannot follow (signal frames, code without CFI, unusual rules) makes it
// return -1, and the caller walks that stack with libunwind instead; its results are the same as
// unw_backtrace's.
//
// Thread-safety: a RuleCache belongs to one thread. NoteCodeUnmapped (after dlclose) makes every
// cache start over on its next walk: the code at a cached address may have changed.
#ifndef ALLOCPROF_SHIM_CFI_BACKTRACE_H_
#define ALLOCPROF_SHIM_CFI_BACKTRACE_H_

#include <stdint.h>

#include <atomic>

#include "cfi_rules.h"

namespace allocprof::shim {

extern std::atomic<uint32_t> g_code_generation;

inline void NoteCodeUnmapped() { g_code_generation.fetch_add(1, std::memory_order_release); }

class RuleCache {
 public:
  static constexpr uint32_t kBits = 11;
  static constexpr uint32_t kSlots = 1u << kBits;

  // The rule at `pc` (a return address minus one).
  FrameRule Lookup(uintptr_t pc) {
    Slot& s = slots_[(pc * 0x9e3779b97f4a7c15ull) >> (64 - kBits)];
    if (__builtin_expect(s.pc == pc, 1)) return s.rule;
    return Fill(&s, pc);
  }
  // For an empty cache: it is valid for the current code.
  void StartEmpty() { generation_ = g_code_generation.load(std::memory_order_acquire); }
  // Forgets every rule if code was unmapped since the last walk.
  void Revalidate() {
    uint32_t now = g_code_generation.load(std::memory_order_acquire);
    if (__builtin_expect(now != generation_, 0)) Clear(now);
  }

 private:
  struct Slot {
    uintptr_t pc;  // 0: empty
    FrameRule rule;
  };
  FrameRule Fill(Slot* s, uintptr_t pc);
  void Clear(uint32_t generation);

  // No initializers: a cache lives in fresh (zero) mmap memory, whose pages stay untouched until
  // a walk needs them.
  uint32_t generation_;
  Slot slots_[kSlots];
};

// Maps an empty cache (never through the hooked allocator); null if no memory.
RuleCache* CreateRuleCache();

// Stores up to `max` return addresses of the calling stack, leaf first, starting with this call's
// own return address (as unw_backtrace does from the same caller) but leaving out the leading ones
// in [skip_lo, skip_hi) (the shim's own code). Returns how many, or -1 when a frame needs libunwind.
int CfiBacktrace(RuleCache* cache, uintptr_t* out, int max, uintptr_t skip_lo = 0, uintptr_t skip_hi = 0);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_CFI_BACKTRACE_H_
