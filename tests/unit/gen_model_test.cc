// GenModel on hand-written event streams with hand-computed answers.
#include "passes/gen_model.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <random>

namespace allocprof {
namespace {

using format::EntryPoint;

constexpr uint64_t kMiB = 1 << 20;

class Stream {
 public:
  explicit Stream(const GenParameters& p = {}, uint64_t origin = 0) : model_(p, origin) {}
  Stream& Alloc(uint64_t t, uint64_t addr, uint64_t size) {
    model_.OnEvent(Event{t, addr, size, 1, 0, EntryPoint::kMalloc, false});
    return *this;
  }
  Stream& Free(uint64_t t, uint64_t addr) {
    model_.OnEvent(Event{t, addr, 0, 0, 0, EntryPoint::kFree, true});
    return *this;
  }
  GenModel& model() { return model_; }

 private:
  GenModel model_;
};

TEST(GenModel, ResolvesTheGen0BudgetFromTheCache) {
  EXPECT_EQ(ResolveGenParameters({}).gen0_budget, 163840u);  // 5/8 * 256 KiB
  GenParameters p;
  p.llc_bytes = 100 << 10;  // 4/5 of it is below 256 KiB
  EXPECT_EQ(ResolveGenParameters(p).gen0_budget, 163840u);
  p.llc_bytes = 8 * kMiB;  // 4/5 * 8 MiB = 6710886 -> /8*5 = 838860*5
  EXPECT_EQ(ResolveGenParameters(p).gen0_budget, 4194300u);
  p.gen0_budget = 12345;  // explicit wins
  GenModel m(p, 0);
  EXPECT_EQ(m.resolved().gen0_budget, 12345u);
  EXPECT_EQ(m.resolved().gen1_min, 256u << 10);
  EXPECT_EQ(m.resolved().loh_min, 3 * kMiB);
  EXPECT_EQ(m.resolved().loh_threshold, 85000u);
  EXPECT_EQ(m.resolved().windows, 100u);
}

TEST(GenModel, GrowthFollowsSurvToGrowth) {
  EXPECT_DOUBLE_EQ(GenGrowth(0.0, 2.0, 7.0), 2.0);   // nothing survives: the low limit
  EXPECT_DOUBLE_EQ(GenGrowth(0.25, 2.0, 7.0), 3.0);  // 2 * 0.75 / (1 - 0.5)
  EXPECT_DOUBLE_EQ(GenGrowth(0.4, 2.0, 7.0), 6.0);   // 2 * 0.6 / 0.2
  EXPECT_DOUBLE_EQ(GenGrowth(0.5, 2.0, 7.0), 7.0);   // past the threshold 5/12: the high limit
  EXPECT_DOUBLE_EQ(GenGrowth(1.0, 2.0, 7.0), 7.0);
  EXPECT_DOUBLE_EQ(GenGrowth(0.5, 1.2, 1.8), 1.5);  // 0.6 / 0.4
  EXPECT_DOUBLE_EQ(GenGrowth(1.0, 1.25, 4.5), 4.5);
  // Monotonic in the survival rate.
  double prev = 0;
  for (int i = 0; i <= 100; ++i) {
    double g = GenGrowth(i / 100.0, 1.25, 4.5);
    EXPECT_GE(g, prev);
    prev = g;
  }
}

// (1) Only small short-lived objects: every collection is a Gen0 that finds nothing alive.
TEST(GenModel, ShortLivedSmallObjectsNeverSurvive) {
  Stream s;                                    // Gen0 budget 163840
  const uint64_t kSize = 100, kCount = 10000;  // 1,000,000 bytes; 100 does not divide the budget
  for (uint64_t i = 0; i < kCount; ++i) {
    s.Alloc(i * 1000, 0x10000 + (i % 3) * 16, kSize).Free(i * 1000 + 500, 0x10000 + (i % 3) * 16);
  }
  GenResult r = s.model().Finish(kCount * 1000);
  EXPECT_EQ(r.gen0, 1000000u / 163840u);  // floor: 6
  EXPECT_EQ(r.gen1, 0u);
  EXPECT_EQ(r.gen2, 0u);
  EXPECT_EQ(r.promoted_bytes, 0u);
  EXPECT_EQ(r.survival.gen0, 0.0);
  ASSERT_EQ(r.collections.size(), 6u);
  // Collection k happens at the allocation (1-based number a_k) that brings the running total to
  // k * budget, before that object is placed: Gen0 then holds objects a_{k-1} .. a_k - 1, all freed.
  uint64_t prev = 1;
  for (uint64_t k = 1; k <= 6; ++k) {
    const GenCollection& c = r.collections[k - 1];
    uint64_t a = (k * 163840 + kSize - 1) / kSize;
    EXPECT_EQ(c.index, k);
    EXPECT_EQ(c.generation, 0);
    EXPECT_FALSE(c.loh_triggered);
    EXPECT_EQ(c.time_ns, (a - 1) * 1000);
    EXPECT_EQ(c.heap_before, (a - prev) * kSize) << k;
    EXPECT_EQ(c.heap_after, 0u);
    EXPECT_EQ(c.promoted_bytes, 0u);
    prev = a;
  }
  EXPECT_EQ(r.soh_bytes, kCount * kSize);
  EXPECT_EQ(r.loh_bytes, 0u);
}

// (2) Objects that are never freed climb Gen0 -> Gen1 -> Gen2; frees land in the right generation.
TEST(GenModel, LongLivedObjectsArePromoted) {
  GenParameters p;
  p.gen0_budget = 1000;
  p.gen1_min = 1000;
  p.gen1_max = 0;  // no limit
  p.gen2_min = 1500;
  Stream s(p);
  GenModel& m = s.model();
  s.Alloc(1, 0xa1, 500).Alloc(2, 0xa2, 500);  // C1 (Gen0): {a1} -> Gen1, charges Gen1 500
  EXPECT_EQ(m.collections(0), 1u);
  EXPECT_EQ(m.live_bytes(kGen1), 500u);
  EXPECT_EQ(m.consumed(kGen1), 500u);
  s.Alloc(3, 0xa3, 500).Alloc(4, 0xa4, 500);  // C2 (Gen0): {a2, a3} -> Gen1, Gen1 charged 1500
  EXPECT_EQ(m.collections(1), 0u);
  EXPECT_EQ(m.consumed(kGen1), 1500u);
  s.Alloc(5, 0xa5, 500).Alloc(6, 0xa6, 500);  // C3: Gen1 budget exhausted -> Gen1 collection
  EXPECT_EQ(m.collections(0), 3u);
  EXPECT_EQ(m.collections(1), 1u);
  EXPECT_EQ(m.collections(2), 0u);
  EXPECT_EQ(m.live_bytes(kGen0), 500u);   // a6
  EXPECT_EQ(m.live_bytes(kGen1), 1000u);  // a4, a5
  EXPECT_EQ(m.live_bytes(kGen2), 1500u);  // a1, a2, a3
  EXPECT_EQ(m.budget(kGen1), 7u * 1500);  // all of Gen1 survived: growth 7
  EXPECT_EQ(m.consumed(kGen1), 1000u);
  EXPECT_EQ(m.consumed(kGen2), 1500u);
  // Each object's generation follows it: frees are booked where the object now is.
  s.Free(7, 0xa1).Free(8, 0xa4).Free(9, 0xa6);
  EXPECT_EQ(m.freed_bytes(kGen2), 500u);
  EXPECT_EQ(m.freed_bytes(kGen1), 500u);
  EXPECT_EQ(m.freed_bytes(kGen0), 500u);
  s.Alloc(10, 0xa7, 500).Alloc(11, 0xa8, 500);  // C4: Gen2 budget (1500) exhausted -> Gen2
  GenResult r = m.Finish(20);
  EXPECT_EQ(r.gen0, 4u);
  EXPECT_EQ(r.gen1, 2u);
  EXPECT_EQ(r.gen2, 1u);
  // Promoted: C1 500, C2 1000, C3 1000 (Gen0) + 1500 (Gen1), C4 500 (a7) + 500 (a5).
  EXPECT_EQ(r.promoted_bytes, 5000u);
  ASSERT_EQ(r.collections.size(), 4u);
  std::vector<uint64_t> promoted = {500, 1000, 2500, 1000};
  std::vector<int> gens = {0, 0, 1, 2};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(r.collections[i].promoted_bytes, promoted[i]) << i;
    EXPECT_EQ(r.collections[i].generation, gens[i]) << i;
  }
  EXPECT_EQ(r.collections[3].heap_before, 3500u);  // 8 objects, 1 allocated after: 7 * 500
  EXPECT_EQ(r.collections[3].heap_after, 2000u);   // a7 (Gen1); a2, a3 and the promoted a5 (Gen2)
  EXPECT_EQ(m.live_bytes(kGen1), 500u);
  EXPECT_EQ(m.live_bytes(kGen2), 1500u);  // a2, a3, a5
  EXPECT_EQ(m.heap_bytes(), 2500u);       // + a8 in Gen0
  // Gen1 at C4: 500 of 1000 survived (rate 0.5 -> 7); Gen2: 1000 of 1500 (0.67 -> 1.8).
  EXPECT_EQ(r.final_budgets[kGen1], 3500u);
  EXPECT_EQ(r.final_budgets[kGen2], 1800u);
  EXPECT_EQ(r.final_budgets[kGenLoh], 3 * kMiB);  // nothing in the LOH: its minimum
  EXPECT_DOUBLE_EQ(r.survival.gen0, 3000.0 / 3500.0);
  EXPECT_DOUBLE_EQ(r.survival.gen1, 2000.0 / 2500.0);
  EXPECT_DOUBLE_EQ(r.survival.gen2, 1000.0 / 1500.0);
}

// (3) The LOH budget running out triggers a Gen2 that also counts as Gen0 and Gen1.
TEST(GenModel, LargeObjectsTriggerGen2) {
  Stream s;  // LOH budget 3 MiB
  GenModel& m = s.model();
  s.Alloc(1, 0x100, 100);  // Gen0
  s.Alloc(2, 0x1000000, kMiB).Alloc(3, 0x2000000, kMiB);
  EXPECT_EQ(m.consumed(kGen0), 100u);  // large objects are not charged to Gen0
  EXPECT_EQ(m.consumed(kGenLoh), 2 * kMiB);
  EXPECT_EQ(m.collections(0), 0u);
  s.Alloc(4, 0x3000000, kMiB);  // 3 MiB: Gen2 before the third is placed
  EXPECT_EQ(m.collections(0), 1u);
  EXPECT_EQ(m.collections(1), 1u);
  EXPECT_EQ(m.collections(2), 1u);
  EXPECT_EQ(m.budget(kGenLoh), 9 * kMiB);  // 2 MiB, all alive: growth 4.5
  EXPECT_EQ(m.consumed(kGenLoh), 0u);      // exactly used up: no overshoot
  EXPECT_EQ(m.consumed(kGen0), 0u);        // Gen0 was collected too
  EXPECT_EQ(m.live_bytes(kGen1), 100u);    // the small object was promoted
  EXPECT_EQ(m.live_bytes(kGenLoh), 3 * kMiB);
  EXPECT_EQ(m.budget(kGen1), 256u << 10);  // collected empty: minimums
  EXPECT_EQ(m.budget(kGen2), 256u << 10);
  s.Free(5, 0x1000000);
  EXPECT_EQ(m.freed_bytes(kGenLoh), kMiB);  // LOH objects stay in the LOH
  // The next LOH-triggered Gen2 needs 9 MiB more.
  for (uint64_t i = 0; i < 8; ++i) s.Alloc(10 + i, 0x10000000 + i * 0x1000000, kMiB);
  EXPECT_EQ(m.collections(2), 1u);
  s.Alloc(20, 0x20000000, kMiB);
  EXPECT_EQ(m.collections(2), 2u);
  GenResult r = m.Finish(30);
  EXPECT_EQ(r.gen0, 2u);
  EXPECT_EQ(r.gen1, 2u);
  EXPECT_EQ(r.gen2, 2u);
  EXPECT_EQ(r.loh_bytes, 12 * kMiB);
  EXPECT_EQ(r.loh_allocations, 12u);
  ASSERT_EQ(r.collections.size(), 2u);
  EXPECT_TRUE(r.collections[0].loh_triggered);
  EXPECT_EQ(r.collections[0].generation, 2);
  EXPECT_EQ(r.collections[0].time_ns, 4u);
  EXPECT_EQ(r.collections[0].heap_before, 2 * kMiB + 100);
  EXPECT_EQ(r.collections[0].heap_after, 2 * kMiB + 100);
  EXPECT_EQ(r.collections[0].promoted_bytes, 100u);
  // Second: the LOH held 3 MiB (one freed) + 8 MiB; 10 MiB survive; the freed 1 MiB is reclaimed.
  EXPECT_EQ(r.collections[1].heap_before, 11 * kMiB + 100);
  EXPECT_EQ(r.collections[1].heap_after, 10 * kMiB + 100);
  EXPECT_DOUBLE_EQ(r.survival.loh, (2.0 + 10.0) / (2.0 + 11.0));
  EXPECT_EQ(r.final_budgets[kGenLoh], 45 * kMiB);  // 10 MiB at 10/11 survival: 4.5
}

// (4) A collection with high survival enlarges the next budget as the rule says.
TEST(GenModel, BudgetsAdaptToSurvival) {
  GenParameters p;
  p.gen0_budget = 1000;
  p.gen1_min = 1000;
  p.gen1_max = 0;
  p.gen2_min = 1 << 30;
  Stream s(p);
  GenModel& m = s.model();
  uint64_t t = 0, addr = 0x1000;
  auto alloc = [&] { s.Alloc(++t, addr += 16, 500); };
  alloc();  // a1 at 0x1010
  alloc();  // C1: a1 -> Gen1 (500)
  alloc();
  alloc();              // C2: a2, a3 -> Gen1 (Gen1 consumed 1500 >= 1000)
  s.Free(++t, 0x1010);  // a1: Gen1 now 1000 live of 1500
  alloc();
  alloc();  // C3 is a Gen1: survival 2/3 > 5/12 -> growth 7 -> 7 * 1000
  ASSERT_EQ(m.collections(1), 1u);
  EXPECT_EQ(m.budget(kGen1), 7000u);
  EXPECT_EQ(m.consumed(kGen1), 1000u);  // C3's own promotion (a4, a5)
  // With the minimum budget the next Gen1 would be C4; now it takes 7000 bytes of promotion:
  // C4..C9 promote 1000 each (6000 more), C10 sees 7000 and is a Gen1.
  for (int c = 4; c <= 9; ++c) {
    alloc();
    alloc();
    ASSERT_EQ(m.collections(0), static_cast<uint64_t>(c));
    EXPECT_EQ(m.collections(1), 1u) << "C" << c;
  }
  EXPECT_EQ(m.consumed(kGen1), 7000u);
  alloc();
  alloc();  // C10
  EXPECT_EQ(m.collections(0), 10u);
  EXPECT_EQ(m.collections(1), 2u);
  EXPECT_EQ(m.budget(kGen1), 49000u);  // all 7000 survived: 7 * 7000
  EXPECT_EQ(m.budget(kGen2), 1u << 30);
}

TEST(GenModel, LowSurvivalShrinksTheBudgetAgain) {
  GenParameters p;
  p.gen0_budget = 1000;
  p.gen1_min = 1000;
  p.gen1_max = 0;
  p.gen2_min = 1 << 30;
  Stream s(p);
  GenModel& m = s.model();
  // 250-byte objects o1, o2, ...: collection Ck happens at o(4k) and promotes o(4k-4)..o(4k-1)
  // (C1: o1..o3). Gen1 is exhausted after C2 (1750 bytes), so C3 is a Gen1 collection.
  auto addr = [](uint64_t j) { return 0x100000 + j * 16; };
  uint64_t j = 0;
  auto alloc_to = [&](uint64_t last) {
    while (j < last) {
      ++j;
      s.Alloc(j * 10, addr(j), 250);
    }
  };
  alloc_to(12);  // C3 at o12: Gen1 = o1..o7 (1750), all alive: growth 7 -> 12250
  ASSERT_EQ(m.collections(0), 3u);
  ASSERT_EQ(m.collections(1), 1u);
  EXPECT_EQ(m.budget(kGen1), 12250u);
  EXPECT_EQ(m.consumed(kGen1), 1000u);  // o8..o11
  // Each later Ck promotes 1000; after C15 Gen1 has been charged 13 * 1000 >= 12250, so C16 (o64)
  // is the next Gen1. Before it, free three of every four objects promoted since C3 (o8..o59).
  alloc_to(63);
  EXPECT_EQ(m.collections(0), 15u);
  EXPECT_EQ(m.collections(1), 1u);
  EXPECT_EQ(m.consumed(kGen1), 13000u);
  for (uint64_t k = 8; k <= 59; ++k) {
    if (k % 4 != 0) s.Free(j * 10 + 1, addr(k));
  }
  EXPECT_EQ(m.freed_bytes(kGen1), 39u * 250);
  alloc_to(64);  // C16: Gen1 held 13000, 3250 alive: rate 0.25 -> growth 3 -> 9750
  EXPECT_EQ(m.collections(1), 2u);
  EXPECT_EQ(m.budget(kGen1), 9750u);
  EXPECT_EQ(m.live_bytes(kGen2), 1750u + 3250u);
  GenResult r = m.Finish(j * 10);
  EXPECT_EQ(r.collections.back().heap_before - r.collections.back().heap_after, 9750u);
  EXPECT_DOUBLE_EQ(r.survival.gen1, (1750.0 + 3250.0) / (1750.0 + 13000.0));
}

// (5) A steady workload: X bytes per ms, freed promptly, Gen0 budget B -> a collection every B/X ms.
TEST(GenModel, SteadyWorkloadSawtoothPeriod) {
  const uint64_t kOrigin = 5'000'000'000;  // absolute times; results are relative
  Stream s({}, kOrigin);                   // B = 163840
  // A 1000-byte object every 10 us, freed 5 us later: X = 100,000 bytes per ms, for 1 s.
  const uint64_t kObjects = 100000;
  for (uint64_t i = 0; i < kObjects; ++i) {
    uint64_t t = kOrigin + i * 10000;
    s.Alloc(t, 0x7000 + (i % 8) * 1024, 1000).Free(t + 5000, 0x7000 + (i % 8) * 1024);
  }
  GenResult r = s.model().Finish(kOrigin + 1'000'000'000);
  EXPECT_EQ(r.gen0, kObjects * 1000 / 163840);  // 610
  EXPECT_EQ(r.gen1, 0u);
  EXPECT_EQ(r.duration_ns, 1'000'000'000u);
  ASSERT_TRUE(r.sawtooth.found);
  const double kPeriod = 163840.0 / 100000.0 / 1000.0;  // 1.6384 ms
  EXPECT_NEAR(r.sawtooth.period_s, kPeriod, 0.05 * kPeriod);
  EXPECT_NEAR(r.sawtooth.amplitude_bytes, 163840.0, 0.05 * 163840.0);
  EXPECT_NEAR(r.collections_per_second, 610.0, 1e-9);
  EXPECT_LE(r.collections.front().time_ns, 2'000'000u);  // relative to the origin
  ASSERT_EQ(r.windows.size(), 100u);
  uint64_t sum = 0;
  for (const GenWindow& w : r.windows) {
    sum += w.gen0;
    EXPECT_EQ(w.end_ns - w.start_ns, 10'000'000u);
    EXPECT_NEAR(w.per_second, 610.0, 250.0);  // 6 or 7 per 10 ms window, +-1 at a boundary
  }
  EXPECT_EQ(sum, r.gen0);
  EXPECT_EQ(r.windows.back().end_ns, r.duration_ns);
}

// (6) Under a random workload the counts nest and every table row is consistent.
TEST(GenModel, RandomWorkloadCountsNest) {
  GenParameters p;
  p.gen0_budget = 64 << 10;
  p.gen1_min = 64 << 10;
  p.gen2_min = 128 << 10;
  p.loh_min = 1 << 20;
  Stream s(p);
  GenModel& m = s.model();
  std::mt19937_64 rng(12345);
  std::vector<std::pair<uint64_t, uint64_t>> live;  // addr, size
  uint64_t next_addr = 0x10000, t = 0, live_bytes = 0;
  for (int i = 0; i < 200000; ++i) {
    t += 1 + rng() % 2000;
    if (live.empty() || rng() % 100 < 52) {
      uint64_t roll = rng() % 1000, size;
      if (roll < 900)
        size = 16 + rng() % 1024;
      else if (roll < 995)
        size = 1024 + rng() % 65536;
      else
        size = 85000 + rng() % (1 << 20);
      uint64_t addr = (next_addr += 16 * (1 + size / 16));
      s.Alloc(t, addr, size);
      live.push_back({addr, size});
      live_bytes += size;
    } else {
      // Mostly recent objects die (generational hypothesis), some old ones too.
      size_t k = rng() % 4 ? live.size() - 1 - rng() % std::min<size_t>(live.size(), 64) : rng() % live.size();
      s.Free(t, live[k].first);
      live_bytes -= live[k].second;
      live[k] = live.back();
      live.pop_back();
    }
  }
  s.Free(t, 0).Alloc(t, 0, 100).Free(t, 0xdead0);  // unknown addresses are ignored
  uint64_t model_live = m.live_bytes(kGen0) + m.live_bytes(kGen1) + m.live_bytes(kGen2) + m.live_bytes(kGenLoh);
  EXPECT_EQ(model_live, live_bytes);
  GenResult r = m.Finish(t);
  EXPECT_GT(r.gen2, 0u);
  EXPECT_GE(r.gen0, r.gen1);
  EXPECT_GE(r.gen1, r.gen2);
  EXPECT_GT(r.gen1, r.gen2);
  ASSERT_EQ(r.collections.size(), r.gen0);
  std::array<uint64_t, 3> counted{};
  uint64_t promoted = 0, prev_time = 0;
  for (size_t i = 0; i < r.collections.size(); ++i) {
    const GenCollection& c = r.collections[i];
    EXPECT_EQ(c.index, i + 1);
    EXPECT_GE(c.time_ns, prev_time);
    EXPECT_LE(c.heap_after, c.heap_before);
    prev_time = c.time_ns;
    for (int g = 0; g <= c.generation; ++g) ++counted[g];
    promoted += c.promoted_bytes;
  }
  EXPECT_EQ(counted[0], r.gen0);
  EXPECT_EQ(counted[1], r.gen1);
  EXPECT_EQ(counted[2], r.gen2);
  EXPECT_EQ(promoted, r.promoted_bytes);
  uint64_t w0 = 0, w1 = 0, w2 = 0;
  for (const GenWindow& w : r.windows) w0 += w.gen0, w1 += w.gen1, w2 += w.gen2;
  EXPECT_EQ(w0, r.gen0);
  EXPECT_EQ(w1, r.gen1);
  EXPECT_EQ(w2, r.gen2);
  for (double v : {r.survival.gen0, r.survival.gen1, r.survival.gen2, r.survival.loh}) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
  }
}

TEST(GenModel, CollectionTableIsSampledEvenlyWithExactCounts) {
  GenParameters p;
  p.gen0_budget = 100;
  p.max_collections = 8;
  Stream s(p);
  for (uint64_t i = 0; i < 100; ++i) s.Alloc(i + 1, 0x1000 + i * 16, 100).Free(i + 1, 0x1000 + i * 16);
  GenResult r = s.model().Finish(200);
  EXPECT_EQ(r.gen0, 100u);
  EXPECT_EQ(r.collection_stride, 16u);  // 100 rows halved while above 8: strides 2, 4, 8, 16
  ASSERT_EQ(r.collections.size(), 7u);  // indices 1, 17, ..., 97
  for (size_t i = 0; i < r.collections.size(); ++i) EXPECT_EQ(r.collections[i].index, 1 + 16 * i);
  ASSERT_TRUE(r.sawtooth.found);
  EXPECT_DOUBLE_EQ(r.sawtooth.period_s, 1e-9);  // one collection per ns, from sampled rows
}

// Not a test: ns per event on a synthetic stream (run with --gtest_also_run_disabled_tests).
// 8M alloc/free pairs over a sliding window of 8192 live objects, sizes 16..512, every 64th 64 KiB.
TEST(GenModelBench, DISABLED_NsPerEvent) {
  GenModel m({}, 0);
  std::mt19937_64 rng(1);
  constexpr uint64_t kPairs = 8u << 20, kWindow = 8192, kChunk = 1 << 20;
  std::vector<uint64_t> slot_addr(kWindow);
  for (uint64_t k = 0; k < kWindow; ++k) slot_addr[k] = 0x7f0000000000 + k * 0x20000;
  std::vector<Event> chunk;
  chunk.reserve(kChunk);
  double seconds = 0;
  uint64_t events = 0;
  for (uint64_t i = 0; i < kPairs;) {
    chunk.clear();
    for (; i < kPairs && chunk.size() + 2 <= kChunk; ++i) {
      uint64_t t = i * 100, k = i % kWindow;
      if (i >= kWindow) chunk.push_back(Event{t, slot_addr[k], 0, 0, 0, EntryPoint::kFree, true});
      uint64_t size = i % 64 == 0 ? 65536 : 16 + rng() % 497;
      chunk.push_back(Event{t, slot_addr[k], size, 1, 0, EntryPoint::kMalloc, false});
    }
    auto start = std::chrono::steady_clock::now();
    for (const Event& e : chunk) m.OnEvent(e);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    events += chunk.size();
  }
  GenResult r = m.Finish(kPairs * 100);
  std::printf("GenModel: %llu events, %.2f ns/event, gen0 %llu gen1 %llu gen2 %llu\n",
              static_cast<unsigned long long>(events), seconds * 1e9 / static_cast<double>(events),
              static_cast<unsigned long long>(r.gen0), static_cast<unsigned long long>(r.gen1),
              static_cast<unsigned long long>(r.gen2));
}

}  // namespace
}  // namespace allocprof
