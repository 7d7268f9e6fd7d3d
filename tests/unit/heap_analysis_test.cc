// HeapAnalysis on hand-written event streams with hand-computed answers.
#include "passes/heap_analysis.h"

#include <gtest/gtest.h>

#include <map>

#include "passes/address_map.h"

namespace allocprof {
namespace {

using format::EntryPoint;

class Stream {
 public:
  explicit Stream(AnalysisOptions options = {}) : heap_(options, nullptr) {}
  Stream& Alloc(uint64_t t, uint64_t addr, uint64_t size, uint32_t stack = 1, uint32_t thread = 0,
                EntryPoint entry = EntryPoint::kMalloc) {
    heap_.Feed(Event{t, addr, size, stack, thread, entry, false});
    return *this;
  }
  Stream& Free(uint64_t t, uint64_t addr, uint32_t thread = 0, EntryPoint entry = EntryPoint::kFree) {
    heap_.Feed(Event{t, addr, 0, 0, thread, entry, true});
    return *this;
  }
  HeapAnalysis& Done() {
    heap_.Finish();
    return heap_;
  }

 private:
  HeapAnalysis heap_;
};

const StackStats& StackOf(const HeapAnalysis& h, uint32_t id) {
  static const StackStats kNone;
  for (const auto& [sid, s] : h.AllStacks()) {
    if (sid == id) return *s;
  }
  return kNone;
}

TEST(HeapAnalysis, HugeStackIdsAndThreadIndexesStayCheap) {
  Stream s;
  s.Alloc(1, 0xa, 100, 0xfffffff0u, 0xfffffff0u).Alloc(2, 0xb, 50, 7, 3).Free(3, 0xa, 0xfffffff0u);
  HeapAnalysis& h = s.Done();
  EXPECT_EQ(StackOf(h, 0xfffffff0u).calls, 1u);
  EXPECT_EQ(StackOf(h, 7).live_bytes, 50u);
  EXPECT_EQ(h.totals().temporary, 1u);
}

TEST(HeapAnalysis, PeakLeaksAndTotals) {
  Stream s;
  s.Alloc(1000, 0xa, 100, 1).Alloc(2000, 0xb, 300, 2).Free(3000, 0xa).Alloc(4000, 0xc, 50, 1).Free(5000, 0xc);
  HeapAnalysis& h = s.Done();
  const HeapTotals& t = h.totals();
  EXPECT_EQ(t.allocations, 3u);
  EXPECT_EQ(t.frees, 2u);
  EXPECT_EQ(t.bytes_allocated, 450u);
  EXPECT_EQ(t.bytes_freed, 150u);
  EXPECT_EQ(t.peak_live_bytes, 400u);
  EXPECT_EQ(t.peak_time_ns, 2000u);
  EXPECT_EQ(t.leaked_allocations, 1u);
  EXPECT_EQ(t.leaked_bytes, 300u);
  EXPECT_EQ(StackOf(h, 2).live_bytes, 300u);
}

TEST(HeapAnalysis, PeakContributionIsEachStacksLiveBytesAtThePeakMoment) {
  Stream s;
  // stack 1: 100 live at peak; stack 2: 300 live at peak (peak 400 at t=3), both change afterwards.
  s.Alloc(1, 0xa, 100, 1).Alloc(2, 0xb, 200, 2).Alloc(3, 0xc, 100, 2);
  s.Free(4, 0xa).Free(5, 0xb).Alloc(6, 0xd, 150, 1);
  HeapAnalysis& h = s.Done();
  EXPECT_EQ(h.totals().peak_live_bytes, 400u);
  EXPECT_EQ(StackOf(h, 1).peak_bytes, 100u);
  EXPECT_EQ(StackOf(h, 2).peak_bytes, 300u);
}

TEST(HeapAnalysis, TemporaryMeansFreedBeforeTheThreadAllocatedAgain) {
  Stream s;
  s.Alloc(1, 0xa, 8, 1, /*thread=*/0).Free(2, 0xa, 0);              // temporary
  s.Alloc(3, 0xb, 8, 1, 0).Alloc(4, 0xc, 8, 1, 0).Free(5, 0xb);     // not: thread 0 allocated 0xc first
  s.Alloc(6, 0xd, 8, 1, 1).Alloc(7, 0xe, 8, 1, 0).Free(8, 0xd, 0);  // temporary: thread 1 did not allocate again
  HeapAnalysis& h = s.Done();
  EXPECT_EQ(h.totals().temporary, 2u);
}

TEST(HeapAnalysis, ShortLivedUsesTheThreshold) {
  AnalysisOptions o;
  o.short_lived_ns = 1000;
  Stream s(o);
  s.Alloc(0, 0xa, 8).Alloc(1, 0xb, 8).Free(1000, 0xa).Free(1002, 0xb);
  EXPECT_EQ(s.Done().totals().short_lived, 1u);
}

TEST(HeapAnalysis, MismatchedFreesByFamily) {
  Stream s;
  s.Alloc(1, 0xa, 8, 3, 0, EntryPoint::kNew).Free(2, 0xa, 0, EntryPoint::kFree);              // new / free
  s.Alloc(3, 0xb, 8, 3, 0, EntryPoint::kNewArray).Free(4, 0xb, 0, EntryPoint::kDeleteSized);  // new[] / delete
  s.Alloc(5, 0xc, 8, 3, 0, EntryPoint::kMalloc).Free(6, 0xc, 0, EntryPoint::kDelete);         // malloc / delete
  s.Alloc(7, 0xd, 8, 3, 0, EntryPoint::kNew).Free(8, 0xd, 0, EntryPoint::kDeleteSized);       // fine
  s.Alloc(9, 0xe, 8, 3, 0, EntryPoint::kCalloc).Free(10, 0xe, 0, EntryPoint::kReallocFree);   // fine
  HeapAnalysis& h = s.Done();
  EXPECT_EQ(h.totals().mismatched_frees, 3u);
  EXPECT_EQ(h.mismatches().size(), 3u);
}

TEST(HeapAnalysis, FreesOfUnknownAddressesAreCountedNotTrusted) {
  Stream s;
  s.Alloc(1, 0xa, 8).Free(2, 0xdead).Free(3, 0xa).Free(4, 0xa);
  const HeapTotals& t = s.Done().totals();
  EXPECT_EQ(t.frees_of_unknown, 2u);
  EXPECT_EQ(t.bytes_freed, 8u);
}

// Damage (issue 16): what a thread lost is in ProcessCatalog::lost_ranges before the replay
// reaches it (read/catalog_builder.cc); events of a thread the merger did not know of arrive late.
class DamagedStream {
 public:
  explicit DamagedStream(std::vector<ProcessCatalog::LostRange> lost) : heap_(AnalysisOptions{}, &catalog_) {
    catalog_.damage_gaps.push_back({lost.front().start_ns, lost.front().end_ns});
    catalog_.lost_ranges = std::move(lost);
  }
  DamagedStream& Alloc(uint64_t t, uint64_t addr, uint64_t size, uint32_t thread) {
    heap_.Feed(Event{t, addr, size, 1, thread, EntryPoint::kMalloc, false});
    return *this;
  }
  DamagedStream& Free(uint64_t t, uint64_t addr, uint32_t thread) {
    heap_.Feed(Event{t, addr, 0, 0, thread, EntryPoint::kFree, true});
    return *this;
  }
  const HeapTotals& Done() {
    heap_.Finish();
    return heap_.totals();
  }

 private:
  ProcessCatalog catalog_;
  HeapAnalysis heap_;
};

TEST(HeapAnalysis, NoTemporaryAcrossWhatAThreadLost) {
  // Thread 0 allocates 0xa, then loses [20, 30) (it may have allocated there); thread 1 frees 0xa.
  DamagedStream s({{0, 20, 30}});
  s.Alloc(10, 0xa, 8, 0).Alloc(35, 0xb, 8, 1).Free(40, 0xa, 1);
  EXPECT_EQ(s.Done().temporary, 0u);
}

TEST(HeapAnalysis, ALostFreeNeverRaisesThePeak) {
  // 0xa may have been freed in thread 1's lost [20, 30): from there on it is not counted live,
  // and at the end its fate is unknown, not a leak.
  DamagedStream s({{1, 20, 30}});
  s.Alloc(10, 0xa, 100, 0).Alloc(40, 0xb, 60, 0).Free(50, 0xb, 0);
  const HeapTotals& t = s.Done();
  EXPECT_EQ(t.peak_live_bytes, 100u);
  EXPECT_EQ(t.leaked_allocations, 0u);
  EXPECT_EQ(t.fate_unknown_allocations, 1u);
  EXPECT_EQ(t.fate_unknown_bytes, 100u);
}

TEST(HeapAnalysis, ALateAllocationPairsWithTheFreeReplayedBeforeIt) {
  // Thread 0's first chunk was lost, so its events (at 10 and 12) arrive after thread 1 freed
  // its blocks (at 20 and 25); 0xb was then allocated again by thread 1 and is still live.
  DamagedStream s({{0, 0, 5}});
  s.Free(20, 0xa, 1).Free(25, 0xb, 1).Alloc(30, 0xb, 16, 1);
  s.Alloc(10, 0xa, 8, 0).Alloc(12, 0xb, 8, 0);
  const HeapTotals& t = s.Done();
  EXPECT_EQ(t.frees_of_unknown, 0u);
  EXPECT_EQ(t.frees_after_damage, 0u);
  EXPECT_EQ(t.bytes_freed, 16u);
  EXPECT_EQ(t.leaked_allocations, 1u);  // thread 1's 0xb
  EXPECT_EQ(t.leaked_bytes, 16u);
}

TEST(HeapAnalysis, PowerOfTwoSizeClassesAndLargeObjects) {
  Stream s;
  s.Alloc(1, 0x1, 0).Alloc(2, 0x2, 1).Alloc(3, 0x3, 16).Alloc(4, 0x4, 31).Alloc(5, 0x5, 32).Alloc(6, 0x6, 85000);
  HeapAnalysis& h = s.Done();
  auto classes = h.SizeClasses();
  ASSERT_EQ(classes.size(), 5u);
  EXPECT_EQ(classes[0].max_bytes, 0u);
  EXPECT_EQ(classes[1].min_bytes, 1u);
  EXPECT_EQ(classes[2].min_bytes, 16u);
  EXPECT_EQ(classes[2].max_bytes, 31u);
  EXPECT_EQ(classes[2].calls, 2u);
  EXPECT_EQ(classes[3].min_bytes, 32u);
  EXPECT_EQ(classes[4].min_bytes, 65536u);
  EXPECT_EQ(h.totals().large_objects, 1u);
  EXPECT_EQ(h.totals().large_object_bytes, 85000u);
}

TEST(HeapAnalysis, CustomSizeClassBoundaries) {
  AnalysisOptions o;
  o.size_boundaries = {64, 16, 4096};
  Stream s(o);
  s.Alloc(1, 0x1, 8).Alloc(2, 0x2, 16).Alloc(3, 0x3, 100).Alloc(4, 0x4, 5000);
  auto classes = s.Done().SizeClasses();
  ASSERT_EQ(classes.size(), 4u);
  EXPECT_EQ(classes[0].max_bytes, 15u);
  EXPECT_EQ(classes[1].min_bytes, 16u);
  EXPECT_EQ(classes[1].max_bytes, 63u);
  EXPECT_EQ(classes[2].min_bytes, 64u);
  EXPECT_EQ(classes[3].min_bytes, 4096u);
}

TEST(HeapAnalysis, TimelineWindowsCarryLiveBytes) {
  Stream s;
  // Origin is the first event (no catalog). Live: 100 at 0 ms, 300 at 5 ms, 200 at 15 ms.
  s.Alloc(0, 0xa, 100).Alloc(5000000, 0xb, 200).Free(15000000, 0xa);
  HeapAnalysis& h = s.Done();
  auto windows = h.timeline().Windows(20000000, 2, 0);
  ASSERT_EQ(windows.size(), 2u);
  EXPECT_EQ(windows[0].allocations, 2u);
  EXPECT_EQ(windows[0].live_max, 300);
  EXPECT_EQ(windows[0].live_end, 300);
  EXPECT_EQ(windows[1].frees, 1u);
  EXPECT_EQ(windows[1].live_end, 200);
  EXPECT_EQ(windows[1].live_min, 200);
}

TEST(Timeline, CoarsensToStayBoundedAndKeepsTotals) {
  Timeline t(0, 1000);
  int64_t live = 0;
  for (uint64_t i = 0; i < 100000; ++i) {
    live += 10;
    t.OnAlloc(i * 10000, 10, live);  // 1 s of events every 10 µs
  }
  auto fine = t.Fine(1000000000);
  EXPECT_LE(fine.size(), Timeline::kMaxFine);
  EXPECT_GE(fine.size(), Timeline::kMinFine / 2);
  auto windows = t.Windows(1000000000, 100, 0);
  ASSERT_EQ(windows.size(), 100u);
  uint64_t total = 0;
  for (const auto& w : windows) total += w.allocations;
  EXPECT_EQ(total, 100000u);
  EXPECT_EQ(windows.back().live_end, live);
}

// A sampled trace's weighted events: each window sums its events' variances (w(w-1) for a count,
// s^2 w(w-1) for bytes), and the live end carries the variance of the blocks live then, which a
// free takes out again. Full-trace events (weight 1) add none.
TEST(Timeline, SampledWindowsCarryTheVariancesOfTheirEstimates) {
  Timeline t(0, 1000);
  t.OnAlloc(100, 4 * 100, 400, 4);    // a block of 100 B that stands for 4
  t.OnAlloc(200, 2 * 1000, 2400, 2);  // 1000 B, weight 2
  t.OnAlloc(300, 50, 2450);           // unsampled weight: exact
  auto first = t.Windows(1000, 1, 0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_DOUBLE_EQ(first[0].allocations_variance, 4.0 * 3 + 2.0 * 1);
  EXPECT_DOUBLE_EQ(first[0].bytes_allocated_variance, 100.0 * 100 * 12 + 1000.0 * 1000 * 2);
  EXPECT_DOUBLE_EQ(first[0].live_end_variance, 100.0 * 100 * 12 + 1000.0 * 1000 * 2);
  t.OnFree(1500, 2 * 1000, 450, 2);  // the 1000 B block is freed in the second window
  auto two = t.Windows(2000, 2, 0);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_DOUBLE_EQ(two[1].frees_variance, 2.0);
  EXPECT_DOUBLE_EQ(two[1].bytes_freed_variance, 1000.0 * 1000 * 2);
  EXPECT_DOUBLE_EQ(two[1].live_end_variance, 100.0 * 100 * 12) << "only the 100 B block is live";
  EXPECT_DOUBLE_EQ(two[0].live_end_variance, first[0].live_end_variance);
}

}  // namespace
}  // namespace allocprof

namespace allocprof {
namespace {

// The live-set map against std::map as the model, with erase-heavy churn over colliding addresses.
TEST(AddressMap, BehavesLikeAMapUnderChurn) {
  AddressMap<uint64_t> m;
  std::map<uint64_t, uint64_t> model;
  uint64_t x = 42;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t addr = 0x10000 + ((x >> 33) % 5000) * 16;
    if ((x >> 20) & 1) {
      auto [v, inserted] = m.TryEmplace(addr, static_cast<uint64_t>(i));
      auto [it, model_inserted] = model.try_emplace(addr, static_cast<uint64_t>(i));
      ASSERT_EQ(inserted, model_inserted);
      ASSERT_EQ(*v, it->second);
    } else {
      uint64_t* v = m.Find(addr);
      auto it = model.find(addr);
      ASSERT_EQ(v != nullptr, it != model.end());
      if (v) {
        ASSERT_EQ(*v, it->second);
        m.Erase(v);
        model.erase(it);
      }
    }
    ASSERT_EQ(m.size(), model.size());
  }
  size_t seen = 0;
  m.ForEach([&](uint64_t key, uint64_t value) {
    ++seen;
    EXPECT_EQ(model.at(key), value);
  });
  EXPECT_EQ(seen, model.size());
}

}  // namespace
}  // namespace allocprof
