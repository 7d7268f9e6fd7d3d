// budget_tests: counting mode is exact. Run under `allocprof test` (tests/integration/budget_test.cc
// does, and also without the shim and under `allocprof run`, where every test must skip).
//
// Known numbers of blocks of known sizes go through every allocation entry point and every
// release function, in and out of allocation scopes, on several threads with frees across
// threads; every counter of allocprof/budget.h is checked against them, in thread and process
// scope, and so are the pool counters and the assertions of allocprof/gtest.h themselves
// (failing ones included, through gtest-spi).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <latch>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "allocprof/gtest.h"

extern "C" void free_sized(void*, size_t) __attribute__((weak));
extern "C" void free_aligned_sized(void*, size_t, size_t) __attribute__((weak));

namespace {

using allocprof::AllocationScope;
using allocprof::Counters;
using allocprof::CounterScope;

// Keeps the compiler from eliding allocation/release pairs.
void* volatile g_sink;
void Use(void* p) {
  g_sink = p;
  if (p) memset(p, 0xab, 1);
}

constexpr std::align_val_t kAlign{64};
volatile size_t g_too_large = SIZE_MAX / 2;

#define SKIP_WITHOUT_COUNTERS()                                         \
  do {                                                                  \
    AllocationScope probe;                                              \
    if (!probe.available()) GTEST_SKIP() << probe.unavailable_reason(); \
  } while (0)

// What a run of EveryEntryPoint must have counted.
struct Expected {
  uint64_t allocations = 0, frees = 0, bytes = 0, bytes_freed = 0;
  void Alloc(uint64_t size) { ++allocations, bytes += size; }
  void Free(uint64_t size) { ++frees, bytes_freed += size; }
};

void ExpectDelta(const Counters& d, const Expected& e, const char* where) {
  SCOPED_TRACE(where);
  EXPECT_TRUE(d.available());
  EXPECT_EQ(d.allocations(), e.allocations);
  EXPECT_EQ(d.frees(), e.frees);
  EXPECT_EQ(d.bytes(), e.bytes);
  EXPECT_EQ(d.bytes_freed(), e.bytes_freed);
  EXPECT_EQ(d.live_bytes(), static_cast<int64_t>(e.bytes - e.bytes_freed));
  EXPECT_EQ(d.frees_unknown(), 0u);
}

// Every allocation entry point once (sizes all different), then every release function. Returns
// what must have been counted; `after_allocs` and `after_frees` get the counters' differences at
// those two points (checked by the caller: a gtest assertion may allocate).
__attribute__((noinline)) Expected EveryEntryPoint(CounterScope scope, Counters* after_allocs, Counters* after_frees) {
  Expected e;
  std::vector<std::pair<void*, int>> blocks;  // reserved before counting: no allocation of its own below
  blocks.reserve(64);
  Counters before = Counters::Now(scope);
  auto keep = [&](void* p, int release) {
    Use(p);
    blocks.emplace_back(p, release);
  };
  // Each block names the release function that frees it below.
  keep(malloc(101), 0), e.Alloc(101);
  keep(calloc(3, 37), 0), e.Alloc(111);
  void* r = realloc(nullptr, 121);  // an allocation through realloc
  e.Alloc(121);
  Use(r);
  r = realloc(r, 1301);  // moved or grown in place: the old block freed, a new one allocated
  e.Free(121), e.Alloc(1301);
  Use(r);
  g_sink = realloc(r, 0);  // glibc: frees the block, returns null
  e.Free(1301);
  void* ra = reallocarray(nullptr, 7, 19);
  e.Alloc(133);
  Use(ra);
  ra = reallocarray(ra, 11, 13);
  e.Free(133), e.Alloc(143);
  keep(ra, 0);
  void* p = nullptr;
  if (posix_memalign(&p, 64, 151) == 0) keep(p, 0), e.Alloc(151);
  keep(aligned_alloc(64, 192), 0), e.Alloc(192);
  keep(memalign(128, 163), 0), e.Alloc(163);
  keep(valloc(173), 0), e.Alloc(173);
  keep(pvalloc(181), 0), e.Alloc(181);  // the requested bytes, not the page pvalloc rounds up to
  keep(::operator new(191), 1), e.Alloc(191);
  keep(::operator new[](193), 2), e.Alloc(193);
  keep(::operator new(197, std::nothrow), 3), e.Alloc(197);
  keep(::operator new[](199, std::nothrow), 4), e.Alloc(199);
  keep(::operator new(211, kAlign), 5), e.Alloc(211);
  keep(::operator new[](223, kAlign), 6), e.Alloc(223);
  keep(::operator new(227, kAlign, std::nothrow), 7), e.Alloc(227);
  keep(::operator new[](229, kAlign, std::nothrow), 8), e.Alloc(229);
  // Blocks for the sized release forms, and for the C23 sized frees where the shim has them.
  keep(::operator new(233), 9), e.Alloc(233);
  keep(::operator new[](239), 10), e.Alloc(239);
  keep(::operator new(241, kAlign), 11), e.Alloc(241);
  keep(::operator new[](251, kAlign), 12), e.Alloc(251);
  keep(malloc(269), free_sized ? 13 : 0), e.Alloc(269);
  keep(aligned_alloc(64, 320), free_aligned_sized ? 14 : 0), e.Alloc(320);
  // An allocation that fails is no allocation.
  g_sink = malloc(g_too_large);
  g_sink = ::operator new(g_too_large, std::nothrow);
  *after_allocs = Counters::Now(scope).Since(before);

  static const uint64_t kSizes[] = {101, 111, 143, 151, 192, 163, 173, 181, 191, 193, 197,
                                    199, 211, 223, 227, 229, 233, 239, 241, 251, 269, 320};
  for (size_t i = 0; i < blocks.size() && i < sizeof(kSizes) / sizeof(kSizes[0]); ++i) {
    void* b = blocks[i].first;
    size_t n = kSizes[i];
    switch (blocks[i].second) {
      case 0:
        free(b);
        break;
      case 1:
        ::operator delete(b);
        break;
      case 2:
        ::operator delete[](b);
        break;
      case 3:
        ::operator delete(b, std::nothrow);
        break;
      case 4:
        ::operator delete[](b, std::nothrow);
        break;
      case 5:
        ::operator delete(b, kAlign);
        break;
      case 6:
        ::operator delete[](b, kAlign);
        break;
      case 7:
        ::operator delete(b, kAlign, std::nothrow);
        break;
      case 8:
        ::operator delete[](b, kAlign, std::nothrow);
        break;
      case 9:
        ::operator delete(b, n);
        break;
      case 10:
        ::operator delete[](b, n);
        break;
      case 11:
        ::operator delete(b, n, kAlign);
        break;
      case 12:
        ::operator delete[](b, n, kAlign);
        break;
      case 13:
        free_sized(b, n);
        break;
      case 14:
        free_aligned_sized(b, 64, n);
        break;
    }
    e.Free(n);
  }
  free(nullptr);  // no free
  ::operator delete(nullptr);
  *after_frees = Counters::Now(scope).Since(before);
  return e;
}

void CheckEveryEntryPoint(CounterScope scope) {
  Counters after_allocs, after_frees;
  Expected e = EveryEntryPoint(scope, &after_allocs, &after_frees);
  EXPECT_EQ(e.allocations, 25u);
  EXPECT_EQ(e.frees, 25u);
  Expected allocs_only = e;
  allocs_only.frees = 3, allocs_only.bytes_freed = 121 + 1301 + 133;  // realloc's frees
  ExpectDelta(after_allocs, allocs_only, "after the allocations");
  ExpectDelta(after_frees, e, "after the releases");
}

TEST(Exact, EveryEntryPointOutsideAScope) {
  SKIP_WITHOUT_COUNTERS();
  CheckEveryEntryPoint(CounterScope::kThread);
  CheckEveryEntryPoint(CounterScope::kProcess);  // no other thread runs: the process counts the same
}

TEST(Exact, EveryEntryPointInsideAScope) {
  SKIP_WITHOUT_COUNTERS();
  AllocationScope scope;  // stacks are kept now: the counts must not change
  Counters after_allocs, after_frees;
  Expected e = EveryEntryPoint(CounterScope::kThread, &after_allocs, &after_frees);
  scope.Stop();
  ExpectDelta(after_frees, e, "after the releases");
  // The scope's own view: everything allocated was freed (the vector of blocks too).
  EXPECT_EQ(scope.allocations(), e.allocations + 1);
  EXPECT_EQ(scope.frees(), e.frees + 1);
  EXPECT_EQ(scope.live_bytes(), 0);
  EXPECT_EQ(scope.bytes(), scope.bytes_freed());
  EXPECT_EQ(scope.bytes(), e.bytes + 64 * sizeof(std::pair<void*, int>));
}

// A free inside a scope of a block allocated before it counts the block's size.
TEST(Exact, FreesOfBlocksAllocatedBeforeTheScope) {
  SKIP_WITHOUT_COUNTERS();
  void* a = malloc(1000);
  void* b = ::operator new[](2000);
  Use(a), Use(b);
  AllocationScope scope;
  free(a);
  ::operator delete[](b);
  scope.Stop();
  EXPECT_EQ(scope.allocations(), 0u);
  EXPECT_EQ(scope.frees(), 2u);
  EXPECT_EQ(scope.bytes_freed(), 3000u);
  EXPECT_EQ(scope.live_bytes(), -3000);
}

// Threads allocate known blocks, free half, and hand the other half to the main thread, which
// frees them: each thread's own counters, the main thread's and the process's are exact.
TEST(Exact, ThreadsAndCrossThreadFrees) {
  SKIP_WITHOUT_COUNTERS();
  constexpr int kThreads = 4;
  constexpr int kBlocks = 1000;
  std::vector<void*> handed(kThreads * kBlocks / 2);
  Counters seen[kThreads];
  std::latch ready(kThreads + 1), go(1), done(kThreads + 1), leave(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.arrive_and_wait();
      go.wait();
      Counters before = Counters::Now(CounterScope::kThread);
      const size_t size = 16 + 8 * static_cast<size_t>(t);
      void* mine[kBlocks];
      for (int i = 0; i < kBlocks; ++i) {
        mine[i] = i % 2 ? malloc(size) : ::operator new(size);
        Use(mine[i]);
      }
      for (int i = 0; i < kBlocks; i += 2) ::operator delete(mine[i]);
      for (int i = 1; i < kBlocks; i += 2) handed[t * kBlocks / 2 + i / 2] = mine[i];
      seen[t] = Counters::Now(CounterScope::kThread).Since(before);
      done.count_down();
      leave.wait();
    });
  }
  ready.arrive_and_wait();  // every thread exists and waits: nothing else allocates from here
  Counters process_before = Counters::Now(CounterScope::kProcess);
  go.count_down();
  done.arrive_and_wait();
  Counters process_mid = Counters::Now(CounterScope::kProcess).Since(process_before);
  Counters main_before = Counters::Now(CounterScope::kThread);
  for (void* p : handed) free(p);  // blocks of other threads, freed here
  Counters main_delta = Counters::Now(CounterScope::kThread).Since(main_before);
  Counters process_end = Counters::Now(CounterScope::kProcess).Since(process_before);

  uint64_t bytes = 0;
  for (int t = 0; t < kThreads; ++t) {
    uint64_t size = 16 + 8 * static_cast<uint64_t>(t);
    bytes += kBlocks * size;
    Expected e;
    e.allocations = kBlocks, e.bytes = kBlocks * size, e.frees = kBlocks / 2, e.bytes_freed = kBlocks / 2 * size;
    ExpectDelta(seen[t], e, ("thread " + std::to_string(t)).c_str());
  }
  Expected mid;
  mid.allocations = kThreads * kBlocks, mid.bytes = bytes, mid.frees = kThreads * kBlocks / 2,
  mid.bytes_freed = bytes / 2;
  ExpectDelta(process_mid, mid, "process, the threads' work done");
  Expected main_thread;
  main_thread.frees = kThreads * kBlocks / 2, main_thread.bytes_freed = bytes / 2;
  ExpectDelta(main_delta, main_thread, "main thread, frees of the others' blocks");
  EXPECT_EQ(main_delta.live_bytes(), -static_cast<int64_t>(bytes / 2));
  Expected all = mid;
  all.frees = kThreads * kBlocks, all.bytes_freed = bytes;
  ExpectDelta(process_end, all, "process, every block freed");
  leave.count_down();
  for (auto& t : threads) t.join();
  // Exited threads keep counting in the process totals: nothing they counted is lost (the exit
  // itself frees blocks, so the figures can only grow).
  Counters after_join = Counters::Now(CounterScope::kProcess).Since(process_before);
  EXPECT_GE(after_join.allocations(), all.allocations);
  EXPECT_GE(after_join.frees(), all.frees);
  EXPECT_GE(after_join.bytes(), all.bytes);
}

// Pool counters by name: two registrations of one name are one pool.
TEST(Exact, PoolCountersByName) {
  SKIP_WITHOUT_COUNTERS();
  uint32_t a = allocprof_pool_register("exact-pool", 1024, 4);
  uint32_t b = allocprof_pool_register("exact-pool", 1024, 4);
  uint32_t other = allocprof_pool_register("exact-other", 64, 1);
  AllocationScope scope;
  const allocprof_rent_outcome kOutcomes[] = {ALLOCPROF_RENT_HIT, ALLOCPROF_RENT_FILL, ALLOCPROF_RENT_EXHAUSTED,
                                              ALLOCPROF_RENT_OVERSIZE};
  for (int i = 0; i < 4; ++i) {
    for (int k = 0; k <= i; ++k) {  // outcome i happens i + 1 times, half of them through each id
      uint32_t id = k % 2 ? b : a;
      allocprof_pool_rent_begin(id, 100);
      if (kOutcomes[i] != ALLOCPROF_RENT_HIT) Use(malloc(100)), free(g_sink);
      allocprof_pool_rent_end(id, 100, 128, kOutcomes[i]);
    }
  }
  allocprof_pool_return(a, 128, ALLOCPROF_RETURN_KEPT);
  allocprof_pool_return(b, 128, ALLOCPROF_RETURN_DROPPED_FULL);
  allocprof_pool_return(a, 5000, ALLOCPROF_RETURN_DROPPED_OVERSIZE);
  allocprof_pool_return(a, 5000, ALLOCPROF_RETURN_DROPPED_OVERSIZE);
  allocprof_pool_rent_begin(other, 8);
  allocprof_pool_rent_end(other, 8, 16, ALLOCPROF_RENT_FILL);
  scope.Stop();
  Counters d = scope.delta();
  ASSERT_NE(d.pool("exact-pool"), nullptr);
  EXPECT_EQ(d.rents("exact-pool"), 10u);
  EXPECT_EQ(d.hits("exact-pool"), 1u);
  EXPECT_EQ(d.fallthroughs("exact-pool"), 9u);
  EXPECT_EQ(d.fallthroughs("exact-pool", ALLOCPROF_RENT_FILL), 2u);
  EXPECT_EQ(d.fallthroughs("exact-pool", ALLOCPROF_RENT_EXHAUSTED), 3u);
  EXPECT_EQ(d.fallthroughs("exact-pool", ALLOCPROF_RENT_OVERSIZE), 4u);
  EXPECT_EQ(d.fallthrough_bytes("exact-pool"), 9u * 128);
  EXPECT_EQ(d.returns("exact-pool"), 4u);
  EXPECT_EQ(d.dropped_returns("exact-pool"), 3u);
  EXPECT_EQ(d.dropped_returns("exact-pool", ALLOCPROF_RETURN_DROPPED_OVERSIZE), 2u);
  EXPECT_EQ(d.rents("exact-other"), 1u);
  EXPECT_EQ(d.fallthroughs("exact-other", ALLOCPROF_RENT_FILL), 1u);
  EXPECT_EQ(d.rents("no-such-pool"), 0u);
  EXPECT_EQ(d.allocations(), 9u);  // the fall-throughs' own mallocs
  // The failure text lists the pool's fall-throughs with their kind.
  char text[16384];
  scope.Describe(text, sizeof(text), "exact-pool", "testing::");
  EXPECT_NE(strstr(text, "malloc of 100 bytes, a fall-through (oversize) of pool \"exact-pool\""), nullptr) << text;
  EXPECT_EQ(strstr(text, "exact-other"), nullptr) << text;
}

__attribute__((noinline)) void AllocateTwoBlocksForTheStack() {
  Use(malloc(4242));
  free(g_sink);
  Use(::operator new[](4243));
  ::operator delete[](g_sink);
}

// The stacks kept in a scope name the function that allocated, and stop at the framework.
TEST(Describe, NamesTheAllocatingFunction) {
  SKIP_WITHOUT_COUNTERS();
  AllocationScope scope;
  AllocateTwoBlocksForTheStack();
  scope.Stop();
  char text[16384];
  scope.Describe(text, sizeof(text), nullptr, "testing::");
  EXPECT_NE(strstr(text, "malloc of 4242 bytes\n    #0 (anonymous namespace)::AllocateTwoBlocksForTheStack()"), nullptr)
      << text;
  EXPECT_NE(strstr(text, "operator new[] of 4243 bytes"), nullptr) << text;
  EXPECT_NE(strstr(text, "(budget_tests+0x"), nullptr) << text;
  EXPECT_NE(strstr(text, "Describe_NamesTheAllocatingFunction_Test::TestBody()"), nullptr) << text;
  EXPECT_EQ(strstr(text, "testing::"), nullptr) << text;
  // Outside a scope nothing is kept.
  AllocationScope later;
  later.Stop();
  AllocateTwoBlocksForTheStack();
  later.Describe(text, sizeof(text));
  EXPECT_STREQ(text, "allocations on this thread: none kept\n");
}

// The ring keeps the last 16 allocations and says how many there were; identical ones are
// written once with their count.
TEST(Describe, KeepsTheLastSixteen) {
  SKIP_WITHOUT_COUNTERS();
  AllocationScope scope;
  for (int i = 0; i < 20; ++i) Use(malloc(48)), free(g_sink);
  scope.Stop();
  char text[16384];
  scope.Describe(text, sizeof(text), nullptr, "testing::");
  EXPECT_NE(strstr(text, "(of 20 allocations, the last 16 are kept)"), nullptr) << text;
  EXPECT_NE(strstr(text, "16 x malloc of 48 bytes"), nullptr) << text;
}

__attribute__((noinline)) void AllocateOnce() { Use(malloc(77)), free(g_sink); }
__attribute__((noinline)) void AllocateTwice() { AllocateOnce(), AllocateOnce(); }
__attribute__((noinline)) void Nothing() {}
uint32_t g_pool_id;
__attribute__((noinline)) void RentOversize() {
  allocprof_pool_rent_begin(g_pool_id, 5000);
  Use(::operator new[](5000));
  allocprof_pool_rent_end(g_pool_id, 5000, 5000, ALLOCPROF_RENT_OVERSIZE);
  ::operator delete[](g_sink);
}
__attribute__((noinline)) void RentHit() {
  allocprof_pool_rent_begin(g_pool_id, 10);
  allocprof_pool_rent_end(g_pool_id, 10, 16, ALLOCPROF_RENT_HIT);
}

// The assertions of allocprof/gtest.h pass and fail as they should, with the stack in the message.
TEST(Assertions, PassAndFail) {
  SKIP_WITHOUT_COUNTERS();
  EXPECT_NO_ALLOCATIONS(Nothing());
  EXPECT_ALLOCATIONS_LE(AllocateTwice(), 2);
  EXPECT_ALLOCATIONS_LE({ AllocateOnce(); }, 1);
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_ALLOCATIONS(AllocateOnce()),
                          "Expected: AllocateOnce() makes no allocation\n  Actual: 1 allocation of 77 bytes");
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_ALLOCATIONS(AllocateOnce()), "#0 (anonymous namespace)::AllocateOnce()");
  EXPECT_NONFATAL_FAILURE(EXPECT_ALLOCATIONS_LE(AllocateTwice(), 1), "makes at most 1 allocations");
  EXPECT_FATAL_FAILURE(ASSERT_NO_ALLOCATIONS(AllocateOnce()), "malloc of 77 bytes");
  g_pool_id = allocprof_pool_register("assert-pool", 4096, 2);
  EXPECT_POOL_FALLTHROUGHS_EQ(RentHit(), "assert-pool", 0);
  EXPECT_POOL_FALLTHROUGHS_EQ(RentOversize(), "assert-pool", 1);
  EXPECT_NONFATAL_FAILURE(EXPECT_POOL_FALLTHROUGHS_EQ(RentOversize(), "assert-pool", 0),
                          "operator new[] of 5000 bytes, a fall-through (oversize) of pool \"assert-pool\"\n"
                          "    #0 (anonymous namespace)::RentOversize()");
  EXPECT_NONFATAL_FAILURE(EXPECT_POOL_FALLTHROUGHS_EQ(RentHit(), "no-such-pool", 1), "no pool of that name registered");
}

}  // namespace
