// The shim's CFI stack walker against libunwind's unw_backtrace, on stacks of different shapes:
// both are called from the same function, so every frame after the first (the two call sites)
// must be identical.
#include "unwind/cfi_backtrace.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <cstdint>
#include <thread>
#include <vector>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

namespace allocprof::shim {
namespace {

constexpr int kMax = 128;

struct Walks {
  int cfi = 0;
  int libunwind = 0;
  uintptr_t cfi_frames[kMax];
  uintptr_t libunwind_frames[kMax];
};

RuleCache* Cache() {
  static thread_local RuleCache* cache = CreateRuleCache();
  return cache;
}

__attribute__((noinline)) void WalkBoth(Walks* w, int max = kMax) {
  w->cfi = CfiBacktrace(Cache(), w->cfi_frames, max);
  w->libunwind = unw_backtrace(reinterpret_cast<void**>(w->libunwind_frames), max);
  asm volatile("" ::: "memory");  // keeps both calls out of tail position
}

void ExpectSameStack(const Walks& w) {
  ASSERT_GT(w.libunwind, 3);
  ASSERT_EQ(w.cfi, w.libunwind);
  for (int i = 1; i < w.cfi; ++i) EXPECT_EQ(w.cfi_frames[i], w.libunwind_frames[i]) << "frame " << i;
}

__attribute__((noinline)) void Leaf(Walks* w) {
  WalkBoth(w);
  asm volatile("");
}
__attribute__((noinline)) void Middle(Walks* w) {
  Leaf(w);
  asm volatile("");
}

TEST(CfiBacktrace, MatchesLibunwindOnTheMainThread) {
  Walks w;
  Middle(&w);
  ExpectSameStack(w);
  // Second walk: every rule now comes from the cache.
  Walks again;
  Middle(&again);
  ExpectSameStack(again);
}

TEST(CfiBacktrace, MatchesLibunwindOnAThreadUpToClone) {
  Walks w;
  std::thread([&] { Middle(&w); }).join();
  ExpectSameStack(w);
}

__attribute__((noinline)) void Recurse(Walks* w, int depth, int max) {
  if (depth == 0)
    WalkBoth(w, max);
  else
    Recurse(w, depth - 1, max);
  asm volatile("");
}

TEST(CfiBacktrace, StopsAtTheDepthLimitLikeLibunwind) {
  Walks w;
  Recurse(&w, 100, 40);
  EXPECT_EQ(w.cfi, 40);
  ExpectSameStack(w);
}

// Frames with a frame pointer (CFA from rbp), with a variable-length array (rsp moves at run time),
// and with a realigned stack (CFA loaded through rbp).
__attribute__((noinline, optimize("no-omit-frame-pointer"))) void WithFramePointer(Walks* w) {
  Middle(w);
  asm volatile("");
}
__attribute__((noinline)) void WithVariableArray(Walks* w, int n) {
  volatile char buffer[n];
  buffer[0] = 1;
  WithFramePointer(w);
  buffer[n - 1] = static_cast<char>(buffer[0] + 1);
}
__attribute__((noinline)) void WithRealignedStack(Walks* w) {
  alignas(64) volatile char block[64];
  block[0] = 1;
  WithVariableArray(w, 100 + block[0]);
  block[1] = static_cast<char>(block[0] + 1);
}
// Realigns with a variable-length array and still reads arguments passed on the stack, so GCC
// keeps a saved argument pointer: its CFA is an expression (loaded through rbp).
__attribute__((noipa)) int WithArgumentPointer(Walks* w, int n, int b, int c, int d, int e, int x, int y) {
  alignas(64) volatile int block[16];
  volatile char vla[n];
  vla[0] = 1;
  block[0] = b + c + d + e + x;
  WithRealignedStack(w);
  block[1] = block[0] + y + vla[0];
  return block[1];
}
TEST(CfiBacktrace, FollowsFramePointerVariableArrayAndRealignedFrames) {
  Walks w;
  EXPECT_EQ(WithArgumentPointer(&w, 8, 2, 3, 4, 5, 6, 7), 28);
  ExpectSameStack(w);
  // Each kind of rule was on the way (the expression one only in WithArgumentPointer).
  int by_kind[5] = {};
  for (int i = 1; i < w.cfi; ++i) ++by_kind[FindFrameRule(w.cfi_frames[i] - 1).cfa];
  EXPECT_EQ(by_kind[FrameRule::kLoadRbpPlus], 1);
  EXPECT_GE(by_kind[FrameRule::kRbpPlus], 3);
  EXPECT_GE(by_kind[FrameRule::kRspPlus], 2);
  EXPECT_EQ(by_kind[FrameRule::kOutermost], 1);
}

Walks* g_sort_walks;
int CompareAndWalk(const void* a, const void* b) {
  if (g_sort_walks->libunwind == 0) WalkBoth(g_sort_walks);
  return *static_cast<const int*>(a) - *static_cast<const int*>(b);
}

TEST(CfiBacktrace, WalksThroughLibcCallbacks) {
  Walks w;
  g_sort_walks = &w;
  int values[] = {5, 3, 9, 1, 7, 2, 8};
  qsort(values, sizeof(values) / sizeof(values[0]), sizeof(int), CompareAndWalk);
  ExpectSameStack(w);
}

Walks g_signal_walks;
void WalkInHandler(int) { Middle(&g_signal_walks); }

TEST(CfiBacktrace, HandsSignalFramesToLibunwind) {
  struct sigaction sa = {};
  sa.sa_handler = WalkInHandler;
  struct sigaction old;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  raise(SIGUSR1);
  sigaction(SIGUSR1, &old, nullptr);
  EXPECT_EQ(g_signal_walks.cfi, -1);  // the signal frame's rules are libunwind's business
  EXPECT_GT(g_signal_walks.libunwind, 5);
}

TEST(CfiBacktrace, StartsOverAfterCodeIsUnmapped) {
  Walks w;
  Middle(&w);
  NoteCodeUnmapped();
  Walks again;
  Middle(&again);
  ExpectSameStack(again);
}

// The same call site twice, the second time leaving out the frame of this function.
__attribute__((noinline)) void WalkTwiceSkippingOnce(uintptr_t (*out)[kMax], int* n) {
  uintptr_t lo = 0, hi = 0;
  volatile int rounds = 2;  // unknown to the compiler: one call site, not an unrolled pair
  for (int i = 0; i < rounds; ++i) {
    n[i] = CfiBacktrace(Cache(), out[i], kMax, lo, hi);
    lo = out[0][0];
    hi = lo + 1;
  }
  asm volatile("" ::: "memory");
}

TEST(CfiBacktrace, LeavesOutLeadingFramesInTheSkippedRange) {
  uintptr_t out[2][kMax];
  int n[2];
  WalkTwiceSkippingOnce(out, n);
  ASSERT_GT(n[0], 3);
  ASSERT_EQ(n[1], n[0] - 1);
  for (int i = 0; i < n[1]; ++i) EXPECT_EQ(out[1][i], out[0][i + 1]) << "frame " << i;
}

// Two callers with the same frame layout: walks from either reach the walker with the same stack
// pointer, so only the words they read tell them apart.
__attribute__((noinline)) void CallerA(Walks* w) {
  Leaf(w);
  asm volatile("");
}
__attribute__((noinline)) void CallerB(Walks* w) {
  Leaf(w);
  asm volatile("nop");  // not identical to CallerA, or the compiler folds the two into one
}
__attribute__((noinline)) void ThroughA(Walks* w) {
  CallerA(w);
  asm volatile("");
}
__attribute__((noinline)) void ThroughB(Walks* w) {
  CallerB(w);
  asm volatile("");
}

TEST(CfiBacktrace, ARepeatedWalkIsAnsweredFromTheWordsItRead) {
  Walks walks[3];
  Cache()->memo().credit = WalkMemo::kMaxCredit;  // warm, whatever the tests before left
  uint64_t hits = Cache()->memo().hits;
  volatile int rounds = 3;  // unknown to the compiler: one call site, not three unrolled ones
  for (int i = 0; i < rounds; ++i) Middle(&walks[i]);
  for (Walks& w : walks) ExpectSameStack(w);
  EXPECT_EQ(Cache()->memo().hits - hits, 2u);
}

TEST(CfiBacktrace, ARememberedWalkIsNotReusedForAnotherCallerAtTheSameDepth) {
  Walks a[3], b[3];
  for (int i = 0; i < 3; ++i) {  // alternating, so each walk meets the other's memory first
    ThroughA(&a[i]);
    ThroughB(&b[i]);
  }
  for (int i = 0; i < 3; ++i) {
    ExpectSameStack(a[i]);
    ExpectSameStack(b[i]);
    EXPECT_NE(a[i].cfi_frames[2], b[i].cfi_frames[2]) << "CallerA and CallerB return to different places";
  }
}

TEST(CfiBacktrace, AColdMemoIsProbedAndWarmsUpOnAHit) {
  WalkMemo& memo = Cache()->memo();
  memo.credit = 0;  // cold, and the next walk is no probe
  memo.cold_walks = 1;
  constexpr int kWalks = 2 * WalkMemo::kProbeEvery + 2;
  Walks walks[kWalks];
  uint64_t hits = memo.hits;
  volatile int rounds = 2;  // one call site, not unrolled ones
  for (int i = 0; i < rounds; ++i) Middle(&walks[i]);
  EXPECT_EQ(memo.hits, hits) << "a cold memo is not looked in between probes";
  EXPECT_EQ(memo.cold_walks, 3u);
  volatile int more = kWalks - 2;
  for (int i = 0; i < more; ++i) Middle(&walks[2 + i]);
  for (Walks& w : walks) ExpectSameStack(w);
  // The first probe logs the walk, the second is answered from it and warms the memo up, so the
  // walks after it are answered too.
  EXPECT_EQ(memo.hits - hits, 1u + (kWalks - 2 * WalkMemo::kProbeEvery)) << "cold walks " << memo.cold_walks;
  EXPECT_TRUE(memo.Warm());
}

TEST(FindFrameRule, UnknownCodeIsUnsupported) {
  std::vector<uint8_t> heap(64);
  EXPECT_EQ(FindFrameRule(reinterpret_cast<uintptr_t>(heap.data())).cfa, FrameRule::kUnsupported);
  EXPECT_EQ(FindFrameRule(0x1000).cfa, FrameRule::kUnsupported);
}

}  // namespace
}  // namespace allocprof::shim
