#include "unwind/cfi_backtrace.h"

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

void ForgetWalks(WalkMemo* memo) {
  for (auto& e : memo->entries) e.frames = -1;
  memo->last = nullptr;
  memo->credit = WalkMemo::kMaxCredit;
}

// The frames of a remembered walk that started from (pc, sp) and would read the same words now,
// or -1.
int Replay(WalkMemo* memo, uintptr_t pc, uintptr_t sp, uintptr_t skip_lo, uintptr_t skip_hi, int max, uintptr_t* out) {
  for (auto& e : memo->entries) {
    if (e.frames < 0 || e.pc != pc || e.sp != sp || e.max != max || e.skip_lo != skip_lo || e.skip_hi != skip_hi) {
      continue;
    }
    int i = 0;
    while (i < e.loads && Load(e.load_address[i]) == e.load_value[i]) ++i;
    if (i < e.loads) continue;
    memcpy(out, e.frame, static_cast<size_t>(e.frames) * sizeof(uintptr_t));
    ++memo->hits;
    memo->last = &e;
    return e.frames;
  }
  return -1;
}

// Loads of one walk, written straight into the entry it may become (kLog), or only made (a walk
// the memo will not keep). A loaded rbp is logged only once a rule uses it: in code built without
// frame pointers rbp holds data, which changes from call to call without changing the walk.
template <bool kLog>
struct LoadLog {
  WalkMemo::Entry* entry;
  int loads = 0;
  uintptr_t bp_address = 0;
  uintptr_t bp_value = 0;
  bool bp_pending = false;

  void Log(uintptr_t address, uintptr_t value) {
    if (!kLog) return;
    if (loads < WalkMemo::kMaxLoads) {
      entry->load_address[loads] = address;
      entry->load_value[loads] = value;
    }
    ++loads;
  }
  uintptr_t operator()(uintptr_t address) {
    uintptr_t value = Load(address);
    Log(address, value);
    return value;
  }
  uintptr_t Bp(uintptr_t address) {
    if (!kLog) return Load(address);
    bp_address = address;
    bp_value = Load(address);
    bp_pending = true;
    return bp_value;
  }
  void UseBp() {
    if (!kLog) return;
    if (bp_pending) Log(bp_address, bp_value);
    bp_pending = false;
  }
};

enum class Step { kNext, kEnd, kLibunwind };

// One frame: from (pc, sp, bp) to the caller's.
template <bool kLog>
__attribute__((always_inline)) inline Step StepFrame(RuleCache* cache, LoadLog<kLog>& load, uintptr_t& pc,
                                                     uintptr_t& sp, uintptr_t& bp) {
  FrameRule rule = cache->Lookup(pc - 1);
  uintptr_t cfa;
  switch (rule.cfa) {
    case FrameRule::kRspPlus:
      cfa = sp + rule.cfa_offset;
      break;
    case FrameRule::kRbpPlus:
      load.UseBp();
      cfa = bp + rule.cfa_offset;
      break;
    case FrameRule::kLoadRbpPlus:
      load.UseBp();
      cfa = load(bp + rule.cfa_offset);
      break;
    case FrameRule::kOutermost:
      return Step::kEnd;
    default:
      return Step::kLibunwind;
  }
  if (cfa <= sp || cfa - sp > kMaxFrameBytes) return Step::kLibunwind;
  if (rule.rbp == FrameRule::kAtCfaPlus) {
    bp = load.Bp(cfa + rule.rbp_offset);
  } else if (rule.rbp == FrameRule::kAtRbpPlus) {
    load.UseBp();
    bp = load.Bp(bp + rule.rbp_offset);
  }
  pc = load(cfa - 8);
  sp = cfa;
  return pc < kLowestCode ? Step::kEnd : Step::kNext;
}

// The walk from (pc, sp) with rbp saved at bp_address: the leading frames in [skip_lo, skip_hi)
// stepped over, then up to `max` frames stored. Returns how many, or -1.
template <bool kLog>
__attribute__((always_inline)) inline int Walk(RuleCache* cache, LoadLog<kLog>& load, uintptr_t pc, uintptr_t sp,
                                               uintptr_t bp_address, uintptr_t* out, int max, uintptr_t skip_lo,
                                               uintptr_t skip_hi, int* followed) {
  uintptr_t bp = load.Bp(bp_address);
  int n = 0;
  if (max <= 0) return 0;
  while (pc >= skip_lo && pc < skip_hi) {
    Step s = StepFrame(cache, load, pc, sp, bp);
    if (s != Step::kNext) return s == Step::kEnd ? 0 : -1;
  }
  while (n < max) {
    out[n++] = pc;
    Step s = StepFrame(cache, load, pc, sp, bp);
    if (s == Step::kEnd) return n;
    if (s != Step::kNext) {
      if (followed) *followed = n;
      return -1;
    }
  }
  return n;
}
}  // namespace

__attribute__((noinline)) FrameRule RuleCache::Fill(Slot* s, uintptr_t pc) {
  s->rule = FindFrameRule(pc);
  s->pc = pc;
  return s->rule;
}

void RuleCache::StartEmpty() {
  generation_ = g_code_generation.load(std::memory_order_acquire);
  ForgetWalks(&memo_);
}

__attribute__((noinline)) void RuleCache::Clear(uint32_t generation) {
  memset(slots_, 0, sizeof(slots_));
  ForgetWalks(&memo_);
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
                                           uintptr_t skip_hi, int* followed) {
  cache->Revalidate();
  auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  auto sp = reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa());
  WalkMemo& memo = cache->memo();
  memo.last = nullptr;
  auto bp_address = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (!memo.Warm() && memo.cold_walks++ % WalkMemo::kProbeEvery != 0) {
    LoadLog<false> load{nullptr};  // cold, and no probe: the walk alone
    return Walk(cache, load, pc, sp, bp_address, out, max, skip_lo, skip_hi, followed);
  }
  int replayed = Replay(&memo, pc, sp, skip_lo, skip_hi, max, out);
  if (replayed >= 0) {
    memo.credit = memo.credit + WalkMemo::kHitCredit < WalkMemo::kMaxCredit ? memo.credit + WalkMemo::kHitCredit
                                                                            : WalkMemo::kMaxCredit;
    return replayed;
  }
  if (memo.credit > 0) --memo.credit;

  WalkMemo::Entry& entry = memo.entries[memo.next_victim % WalkMemo::kEntries];
  entry.frames = -1;  // written below; valid again only if this walk completes
  LoadLog<true> load{&entry};
  int n = Walk(cache, load, pc, sp, bp_address, out, max, skip_lo, skip_hi, followed);
  if (n >= 0 && n <= WalkMemo::kMaxFrames && load.loads <= WalkMemo::kMaxLoads) {
    entry.pc = pc;
    entry.sp = sp;
    entry.skip_lo = skip_lo;
    entry.skip_hi = skip_hi;
    entry.max = max;
    entry.loads = load.loads;
    memcpy(entry.frame, out, static_cast<size_t>(n) * sizeof(uintptr_t));
    entry.frames = n;
    entry.stack_id = 0;
    memo.last = &entry;
    ++memo.next_victim;
  }
  return n;
}

}  // namespace allocprof::shim
