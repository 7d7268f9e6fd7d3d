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

#include "unwind/cfi_rules.h"

namespace allocprof::shim {

extern std::atomic<uint32_t> g_code_generation;

inline void NoteCodeUnmapped() { g_code_generation.fetch_add(1, std::memory_order_release); }

// The thread's last few walks, each with every stack word it read. A walk is a function of its
// starting registers, those words and the rules (fixed while the code generation is): one that
// starts from the same registers and finds the same words would take the same steps, so it is
// answered by re-reading the words, a load and a compare each, instead of a rule lookup and a step
// per frame. It re-reads exactly the words a fresh walk would read, in the same order.
// A program with more call paths than entries misses nearly every time, and then logging every
// load and trying every entry costs more than the walk (bench/README.md, churn --small). So the
// memo earns its keep: each hit gives it kHitCredit walks of credit (up to kMaxCredit), each miss
// takes one; with none left it is cold, and only every kProbeEvery-th walk looks in it and logs
// its loads, until a probe hits. It stays warm while more than 1 walk in kHitCredit + 1 hits.
struct WalkMemo {
  static constexpr int kEntries = 4;
  static constexpr int kMaxFrames = 32;  // deeper stacks are walked every time
  static constexpr int kMaxLoads = 128;
  static constexpr uint32_t kHitCredit = 4;
  static constexpr uint32_t kMaxCredit = 64;
  static constexpr uint32_t kProbeEvery = 16;

  struct Entry {
    uintptr_t pc, sp, skip_lo, skip_hi;
    int max;
    int frames;  // -1: empty
    int loads;
    // The shared stack table's id for these frames, with the process generation and module epoch
    // it holds for (stack_capture.h); 0 until interned.
    uint32_t stack_id, stack_generation, stack_epoch;
    uintptr_t frame[kMaxFrames];
    uintptr_t load_address[kMaxLoads];
    uintptr_t load_value[kMaxLoads];
  };
  Entry entries[kEntries];
  Entry* last;  // the entry the latest walk was replayed from or stored in; null for any other walk
  uint32_t next_victim;
  uint32_t credit;      // misses left before the memo goes cold
  uint32_t cold_walks;  // walks while cold (every kProbeEvery-th is a probe)
  uint64_t hits;        // for tests and benchmarks

  bool Warm() const { return credit > 0; }
};

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
  void StartEmpty();
  // Forgets every rule if code was unmapped since the last walk.
  void Revalidate() {
    uint32_t now = g_code_generation.load(std::memory_order_acquire);
    if (__builtin_expect(now != generation_, 0)) Clear(now);
  }
  WalkMemo& memo() { return memo_; }

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
  WalkMemo memo_;
};

// Maps an empty cache (never through the hooked allocator); null if no memory.
RuleCache* CreateRuleCache();

// Stores up to `max` return addresses of the calling stack, leaf first, starting with this call's
// own return address (as unw_backtrace does from the same caller) but leaving out the leading ones
// in [skip_lo, skip_hi) (the shim's own code). Returns how many, or -1 when a frame needs libunwind
// (then `followed`, if given, says how many of `out` were stored before it: e.g. the frames of a
// signal handler, up to its signal frame).
int CfiBacktrace(RuleCache* cache, uintptr_t* out, int max, uintptr_t skip_lo = 0, uintptr_t skip_hi = 0,
                 int* followed = nullptr);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_CFI_BACKTRACE_H_
