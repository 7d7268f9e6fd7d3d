// The sampled-trace estimator (analyzer/read/sampling.h) on synthetic streams whose true totals are
// known, and the passes' handling of weighted events.
#include "read/sampling.h"

#include <gtest/gtest.h>
#include <math.h>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "passes/heap_analysis.h"
#include "read/process_trace.h"
#include "report/render_util.h"
#include "trace_builder.h"

namespace allocprof {
namespace {

using format::EntryPoint;
using format::SampleProbability;

TEST(SampleProbability, PoissonOverBytesWithAlwaysSampledLargeSizes) {
  EXPECT_DOUBLE_EQ(SampleProbability(100, 0), 1.0) << "interval 0: a full trace";
  EXPECT_DOUBLE_EQ(SampleProbability(4096, 4096), 1.0);
  EXPECT_DOUBLE_EQ(SampleProbability(1 << 20, 4096), 1.0);
  EXPECT_NEAR(SampleProbability(4095, 4096), 1 - exp(-4095.0 / 4096), 1e-15);
  EXPECT_NEAR(SampleProbability(100, 1000), 1 - exp(-0.1), 1e-15);
  EXPECT_DOUBLE_EQ(SampleProbability(0, 1000), SampleProbability(1, 1000)) << "empty blocks count as one byte";
  EXPECT_GT(SampleProbability(1, 1u << 30), 0.0);
}

// A sampled 0 is not an exact 0: the report's bound on what it may hide is where the chance that every
// block missed the sampler, by the sampler's own inclusion probability, falls to 5%.
TEST(NoneRecorded, BoundIsWhereMissingEveryBlockBecomesLessThanFivePercentLikely) {
  constexpr uint64_t kInterval = 512 << 10;
  EXPECT_FALSE(NoneRecorded(0, 0)) << "a full trace's 0 is exact";
  EXPECT_FALSE(NoneRecorded(kInterval, 3)) << "not a 0: its sigma says how good it is";
  EXPECT_FALSE(NoneRecorded(kInterval, 0, kInterval)) << "blocks of the interval or more are always recorded";
  std::optional<NoneRecordedBound> bytes = NoneRecorded(kInterval, 0);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->blocks, 0u) << "blocks of any size: no bound on their number";
  // Blocks of any sizes below the interval, totalling the bound: all missed with probability 5%.
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> size(1, kInterval - 1);
  double missed_all = 1, total = 0;
  while (total < bytes->bytes) {
    uint64_t s = std::min<uint64_t>(size(rng), static_cast<uint64_t>(std::ceil(bytes->bytes - total)));
    missed_all *= 1 - SampleProbability(s, kInterval);
    total += static_cast<double>(s);
  }
  EXPECT_NEAR(missed_all, 0.05, 0.0005);
  // Large objects (85,000 B and up): fewer than `blocks` of them, since that many would all be missed
  // less than 5% of the time, and one fewer would not.
  std::optional<NoneRecordedBound> large = NoneRecorded(kInterval, 0, 85000);
  ASSERT_TRUE(large);
  EXPECT_EQ(large->blocks, 19u);
  double p = SampleProbability(85000, kInterval);
  EXPECT_LE(pow(1 - p, large->blocks), 0.05);
  EXPECT_GT(pow(1 - p, large->blocks - 1), 0.05);
  EXPECT_EQ(NoneRecordedNote(kInterval, 0, 85000), "; none recorded: fewer than 19 blocks (under 1.5 MiB) at 95%");
  EXPECT_EQ(NoneRecordedNote(kInterval, 0), "; none recorded: under 1.5 MiB of blocks at 95%");
  EXPECT_EQ(NoneRecordedNote(0, 0), "");
}

TEST(RoundWeight, StochasticRoundingKeepsTheMean) {
  EXPECT_EQ(RoundWeight(3.0, 0.999), 3u);
  EXPECT_EQ(RoundWeight(3.25, 0.2), 4u);
  EXPECT_EQ(RoundWeight(3.25, 0.3), 3u);
  // Over evenly spread u the mean weight is x exactly (up to the grid).
  double x = 7.3, sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) sum += RoundWeight(x, (i + 0.5) / n);
  EXPECT_NEAR(sum / n, x, 1e-4);
}

TEST(EventUniform, DeterministicAndSpread) {
  EXPECT_EQ(EventUniform(1, 2, 3), EventUniform(1, 2, 3));
  double sum = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    double u = EventUniform(1000 + 16 * i, 0x7f0000001000 + 32 * i, 48);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

struct Population {
  std::vector<uint64_t> sizes;
  double count = 0, bytes = 0;
};

// Mostly small blocks with a tail of large ones, like churn.
Population MakePopulation(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Population pop;
  for (size_t i = 0; i < n; ++i) {
    uint64_t r = rng() % 1000;
    uint64_t size = r < 1 ? (1u << 20) + rng() % (3u << 20) : r < 100 ? 4096 + rng() % 61440 : rng() % 513;
    pop.sizes.push_back(size);
    pop.count += 1;
    pop.bytes += static_cast<double>(size);
  }
  return pop;
}

// One sampled trace of the population: each block independently with probability p(size), as the
// shim's countdown does; returns the weigher's estimate and the passes' integer sums.
struct Replicate {
  SamplingEstimate estimate;
  uint64_t weighted_count = 0, weighted_bytes = 0;
};

// The shim's choice, replayed: each block is recorded with probability p(size) and, when it is,
// weighed as the decoder weighs it. Weigh returns the block's weight, 0 when it is not recorded.
class ShimSampler {
 public:
  ShimSampler(uint64_t interval, std::mt19937_64& rng) : interval_(interval), rng_(rng) {
    weigher_.SetInterval(interval);
  }
  uint32_t Weigh(uint64_t t, uint64_t addr, uint64_t size) {
    if (uniform_(rng_) >= SampleProbability(size, interval_)) return 0;
    return weigher_.WeighAllocation(t, addr, size);
  }
  const SampleWeigher& weigher() const { return weigher_; }

 private:
  uint64_t interval_;
  std::mt19937_64& rng_;
  std::uniform_real_distribution<double> uniform_{0, 1};
  SampleWeigher weigher_;
};

Replicate SampleOnce(const Population& pop, uint64_t interval, std::mt19937_64& rng) {
  ShimSampler sampler(interval, rng);
  Replicate r;
  for (size_t i = 0; i < pop.sizes.size(); ++i) {
    uint64_t s = pop.sizes[i];
    uint32_t w = sampler.Weigh(1000 + i * 16, 0x10000 + i * 64, s);
    r.weighted_count += w;
    r.weighted_bytes += w * s;
  }
  r.estimate = sampler.weigher().estimate();
  return r;
}

// The Horvitz–Thompson estimate is unbiased and its reported error is the real one: over many
// independent samplings of the same population, the mean lands on the truth and the spread of the
// estimates matches the error each sample reports about itself.
TEST(SampleWeigher, UnbiasedWithHonestErrorOverReplicates) {
  const Population pop = MakePopulation(100000, 7);
  const uint64_t interval = 64 << 10;
  std::mt19937_64 rng(12345);
  const int kReplicates = 300;
  double sum_c = 0, sum_b = 0, sq_c = 0, sq_b = 0, reported_var_c = 0, reported_var_b = 0;
  for (int k = 0; k < kReplicates; ++k) {
    Replicate r = SampleOnce(pop, interval, rng);
    double c = static_cast<double>(r.weighted_count), b = static_cast<double>(r.weighted_bytes);
    sum_c += c, sum_b += b, sq_c += c * c, sq_b += b * b;
    reported_var_c += r.estimate.allocations_variance;
    reported_var_b += r.estimate.bytes_variance;
  }
  double mean_c = sum_c / kReplicates, mean_b = sum_b / kReplicates;
  double var_c = sq_c / kReplicates - mean_c * mean_c, var_b = sq_b / kReplicates - mean_b * mean_b;
  reported_var_c /= kReplicates;
  reported_var_b /= kReplicates;
  // Unbiased: the mean of 300 replicates is within 4 standard errors of the mean of the truth.
  EXPECT_NEAR(mean_c, pop.count, 4 * sqrt(var_c / kReplicates));
  EXPECT_NEAR(mean_b, pop.bytes, 4 * sqrt(var_b / kReplicates));
  // Honest: the empirical variance of the (rounded, integer) totals matches the mean reported
  // variance; with 300 replicates the empirical variance's own error is ~8%.
  EXPECT_NEAR(var_c / reported_var_c, 1.0, 0.25) << var_c << " vs reported " << reported_var_c;
  EXPECT_NEAR(var_b / reported_var_b, 1.0, 0.25) << var_b << " vs reported " << reported_var_b;
  // And sampling helps: far fewer records than blocks, for a few percent of error.
  Replicate one = SampleOnce(pop, interval, rng);
  EXPECT_LT(one.estimate.samples, pop.sizes.size() / 5);
  EXPECT_LT(one.estimate.AllocationsRelError(), 0.1);
  EXPECT_LT(one.estimate.BytesRelError(), 0.02);
}

TEST(SampleWeigher, FullTraceWeighsOneAndIsExact) {
  SampleWeigher w;
  EXPECT_EQ(w.WeighAllocation(1, 2, 3), 1u);
  EXPECT_FALSE(w.estimate().sampled());
  EXPECT_EQ(w.estimate().AllocationsRelError(), 0.0);
  SampleWeigher big;
  big.SetInterval(4096);
  EXPECT_EQ(big.WeighAllocation(1, 2, 10000), 1u) << "at or above the interval: always recorded, weight 1";
  EXPECT_EQ(big.estimate().allocations_variance, 0.0);
}

Event Alloc(uint64_t t, uint64_t addr, uint64_t size, uint32_t weight, uint32_t stack = 1) {
  Event e{t, addr, size, stack, 0, EntryPoint::kMalloc, false};
  e.weight = weight;
  return e;
}

Event Free(uint64_t t, uint64_t addr, uint32_t weight = 0, EntryPoint entry = EntryPoint::kFree) {
  Event e{t, addr, 0, 0, 0, entry, true};
  e.weight = weight;
  return e;
}

TEST(HeapAnalysisWeights, EveryCountAndByteTotalIsScaled) {
  HeapAnalysis h({}, nullptr);
  h.Feed(Alloc(100, 0x1000, 100, 40));
  h.Feed(Alloc(200, 0x2000, 100000, 1, 2));
  h.Feed(Alloc(300, 0x3000, 10, 500));
  h.Feed(Free(400, 0x1000));                          // pairs with the 40-weight block
  h.Feed(Free(500, 0x9000));                          // an unsampled block's free (set overflow): ignored
  h.Feed(Free(600, 0x3000, 0, EntryPoint::kDelete));  // mismatched, weight 500
  h.Finish();
  const HeapTotals& t = h.totals();
  EXPECT_EQ(t.allocations, 541u);
  EXPECT_EQ(t.bytes_allocated, 40u * 100 + 100000 + 500u * 10);
  EXPECT_EQ(t.frees, 540u);
  EXPECT_EQ(t.bytes_freed, 4000u + 5000u);
  EXPECT_EQ(t.frees_of_unknown, 0u);
  EXPECT_EQ(t.mismatched_frees, 500u);
  EXPECT_EQ(t.leaked_allocations, 1u);
  EXPECT_EQ(t.leaked_bytes, 100000u);
  EXPECT_EQ(t.peak_live_bytes, 4000u + 100000 + 5000);
  EXPECT_EQ(t.large_objects, 1u);
  EXPECT_EQ(t.calls_by_entry[static_cast<size_t>(EntryPoint::kMalloc)], 541u);
  EXPECT_EQ(t.calls_by_entry[static_cast<size_t>(EntryPoint::kFree)], 40u) << "frees count their allocation's weight";
  EXPECT_EQ(t.calls_by_entry[static_cast<size_t>(EntryPoint::kDelete)], 500u);
  uint64_t calls = 0, bytes = 0;
  for (const auto& [id, s] : h.AllStacks()) calls += s->calls, bytes += s->bytes;
  EXPECT_EQ(calls, 541u);
  EXPECT_EQ(bytes, t.bytes_allocated);
  uint64_t class_calls = 0;
  for (const auto& c : h.SizeClasses()) class_calls += c.calls;
  EXPECT_EQ(class_calls, 541u);
  uint64_t window_allocs = 0, window_frees = 0;
  for (const auto& w : h.timeline().Fine(1000)) window_allocs += w.allocations, window_frees += w.frees;
  EXPECT_EQ(window_allocs, 541u);
  EXPECT_EQ(window_frees, 540u);
  GenResult gen = h.FinishGen(1000);
  EXPECT_EQ(gen.soh_bytes, 9000u);
  EXPECT_EQ(gen.loh_bytes, 100000u);
  EXPECT_EQ(gen.loh_allocations, 1u);
}

// One thread's run of blocks with known lifetimes: block i is allocated at 10 us * i, and freed
// either before the next allocation (a temporary), within 1 ms, or 5 ms later.
struct LifetimeRun {
  std::vector<uint64_t> sizes, lives;
  uint64_t short_lived = 0, temporary = 0;
};

LifetimeRun MakeLifetimeRun(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  LifetimeRun run;
  for (size_t i = 0; i < n; ++i) {
    uint64_t r = rng() % 100;
    uint64_t life = r < 30 ? 5000 : r < 70 ? 200000 + rng() % 700000 : 5000000;  // ns
    run.sizes.push_back(r < 2 ? 65536 + rng() % 65536 : 16 + rng() % 2000);
    run.lives.push_back(life);
    run.short_lived += life <= 1000000;
    run.temporary += life == 5000;
  }
  return run;
}

// The heap pass over one sampling of the run (each block with probability p(size), as the shim).
HeapTotals SampleLifetimes(const LifetimeRun& run, uint64_t interval, std::mt19937_64& rng) {
  ShimSampler sampler(interval, rng);
  std::vector<Event> events;
  for (size_t i = 0; i < run.sizes.size(); ++i) {
    uint64_t t = 1000000 + i * 10000, addr = 0x100000 + i * 4096;
    uint32_t w = sampler.Weigh(t, addr, run.sizes[i]);
    if (!w) continue;
    events.push_back(Alloc(t, addr, run.sizes[i], w));
    events.push_back(Free(t + run.lives[i], addr));
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
  HeapAnalysis h({}, nullptr);
  for (const Event& e : events) h.Feed(e);
  h.Finish();
  return h.totals();
}

// Short-lived (freed within 1 ms) needs only each recorded block's own lifetime, which a sampled
// trace keeps: its weighted count is unbiased and the variance it reports is the real one. The
// temporary count needs the thread's next allocation, which sampling hides: the same sum is far off
// (which is why a sampled report withholds it).
TEST(HeapAnalysisWeights, ShortLivedIsUnbiasedWithHonestErrorTemporaryIsNot) {
  const LifetimeRun run = MakeLifetimeRun(40000, 3);
  const uint64_t interval = 32 << 10;
  std::mt19937_64 rng(777);
  const int kReplicates = 200;
  double sum = 0, sq = 0, reported_var = 0, temporary = 0, temporary_sq = 0;
  for (int k = 0; k < kReplicates; ++k) {
    HeapTotals t = SampleLifetimes(run, interval, rng);
    double v = static_cast<double>(t.short_lived);
    sum += v, sq += v * v;
    reported_var += t.short_lived_variance;
    temporary += static_cast<double>(t.temporary);
    temporary_sq += static_cast<double>(t.temporary) * static_cast<double>(t.temporary);
  }
  double mean = sum / kReplicates, var = sq / kReplicates - mean * mean;
  reported_var /= kReplicates;
  EXPECT_NEAR(mean, static_cast<double>(run.short_lived), 4 * sqrt(var / kReplicates));
  EXPECT_NEAR(var / reported_var, 1.0, 0.3) << var << " vs reported " << reported_var;
  // Biased: the mean over 200 samplings is many standard errors above the truth (a long-lived block
  // looks temporary when the allocations after it were not sampled).
  double mean_temporary = temporary / kReplicates;
  double se_temporary = sqrt((temporary_sq / kReplicates - mean_temporary * mean_temporary) / kReplicates);
  EXPECT_GT(mean_temporary - static_cast<double>(run.temporary), 10 * se_temporary)
      << mean_temporary << " vs " << run.temporary;
}

// Blocks on three stacks of different sizes, 5% of them never freed (leaks): per-stack calls, bytes
// and leaks, and the leak totals, are Horvitz–Thompson sums of recorded blocks (a recorded block's
// survival is exact), so each is unbiased and the variance the pass reports (Σ w(w−1), Σ s² w(w−1))
// is the real one.
struct StackRun {
  std::vector<uint64_t> sizes;
  std::vector<uint32_t> stacks;
  std::vector<bool> never_freed;
  struct Truth {
    double calls = 0, bytes = 0, leaked = 0, leaked_bytes = 0;
  };
  std::array<Truth, 4> truth{};  // by stack id 1..3
  double leaked = 0, leaked_bytes = 0;
};

StackRun MakeStackRun(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  StackRun run;
  for (size_t i = 0; i < n; ++i) {
    uint32_t stack = 1 + static_cast<uint32_t>(rng() % 3);
    uint64_t size = stack == 1 ? 16 + rng() % 496 : stack == 2 ? 1024 + rng() % 7168 : 64 + rng() % 40000;
    bool leak = rng() % 20 == 0;
    run.sizes.push_back(size);
    run.stacks.push_back(stack);
    run.never_freed.push_back(leak);
    StackRun::Truth& t = run.truth[stack];
    t.calls += 1;
    t.bytes += static_cast<double>(size);
    if (leak) {
      t.leaked += 1;
      t.leaked_bytes += static_cast<double>(size);
      run.leaked += 1;
      run.leaked_bytes += static_cast<double>(size);
    }
  }
  return run;
}

struct StackFigures {
  double value[4][4] = {};     // stack -> calls, bytes, leaked, leaked bytes
  double variance[4][4] = {};  // as the pass reports them
  double leaked = 0, leaked_bytes = 0, leaked_variance = 0, leaked_bytes_variance = 0;
};

StackFigures SampleStacks(const StackRun& run, uint64_t interval, std::mt19937_64& rng) {
  ShimSampler sampler(interval, rng);
  std::vector<Event> events;
  for (size_t i = 0; i < run.sizes.size(); ++i) {
    uint64_t t = 1000000 + i * 10000, addr = 0x100000 + i * 65536;
    uint32_t w = sampler.Weigh(t, addr, run.sizes[i]);
    if (!w) continue;
    events.push_back(Alloc(t, addr, run.sizes[i], w, run.stacks[i]));
    if (!run.never_freed[i]) events.push_back(Free(t + 5000, addr));
  }
  HeapAnalysis h({}, nullptr);
  for (const Event& e : events) h.Feed(e);
  h.Finish();
  StackFigures f;
  for (const auto& [id, st] : h.AllStacks()) {
    if (id < 1 || id > 3) continue;
    double v[4] = {static_cast<double>(st->calls), static_cast<double>(st->bytes), static_cast<double>(st->live_count),
                   static_cast<double>(st->live_bytes)};
    double var[4] = {st->calls_variance, st->bytes_variance, st->live_count_variance, st->live_bytes_variance};
    for (int k = 0; k < 4; ++k) f.value[id][k] = v[k], f.variance[id][k] = var[k];
  }
  const HeapTotals& t = h.totals();
  f.leaked = static_cast<double>(t.leaked_allocations);
  f.leaked_bytes = static_cast<double>(t.leaked_bytes);
  f.leaked_variance = t.leaked_allocations_variance;
  f.leaked_bytes_variance = t.leaked_bytes_variance;
  return f;
}

// Over replicates: the mean lands within 4 standard errors of the truth, and the mean reported
// variance matches the spread of the estimates (the empirical variance of 200 replicates is itself
// ±10%, so ±30% is a 3-sigma band).
void ExpectUnbiasedAndHonest(const std::vector<double>& values, const std::vector<double>& variances, double truth,
                             const std::string& what) {
  double n = static_cast<double>(values.size()), sum = 0, sq = 0, reported = 0;
  for (size_t i = 0; i < values.size(); ++i) sum += values[i], sq += values[i] * values[i], reported += variances[i];
  double mean = sum / n, var = sq / n - mean * mean;
  reported /= n;
  EXPECT_NEAR(mean, truth, 4 * sqrt(var / n)) << what;
  ASSERT_GT(reported, 0) << what << ": sampled figures must carry an error";
  EXPECT_NEAR(var / reported, 1.0, 0.3) << what << ": " << var << " vs reported " << reported;
}

TEST(HeapAnalysisWeights, PerStackFiguresAndLeaksAreUnbiasedWithHonestError) {
  const StackRun run = MakeStackRun(30000, 21);
  const uint64_t interval = 32 << 10;
  std::mt19937_64 rng(4242);
  const int kReplicates = 200;
  std::vector<double> values[4][4], variances[4][4], leaked, leaked_var, leaked_bytes, leaked_bytes_var;
  for (int r = 0; r < kReplicates; ++r) {
    StackFigures f = SampleStacks(run, interval, rng);
    for (int s = 1; s <= 3; ++s) {
      for (int k = 0; k < 4; ++k) values[s][k].push_back(f.value[s][k]), variances[s][k].push_back(f.variance[s][k]);
    }
    leaked.push_back(f.leaked), leaked_var.push_back(f.leaked_variance);
    leaked_bytes.push_back(f.leaked_bytes), leaked_bytes_var.push_back(f.leaked_bytes_variance);
  }
  const char* kNames[] = {"calls", "bytes", "leaked allocations", "leaked bytes"};
  for (int s = 1; s <= 3; ++s) {
    const StackRun::Truth& t = run.truth[s];
    double truth[4] = {t.calls, t.bytes, t.leaked, t.leaked_bytes};
    for (int k = 0; k < 4; ++k) {
      ExpectUnbiasedAndHonest(values[s][k], variances[s][k], truth[k], "stack " + std::to_string(s) + " " + kNames[k]);
    }
  }
  ExpectUnbiasedAndHonest(leaked, leaked_var, run.leaked, "leaked allocations");
  ExpectUnbiasedAndHonest(leaked_bytes, leaked_bytes_var, run.leaked_bytes, "leaked bytes");
}

// Every other figure of a sampled report is a Horvitz–Thompson sum too: frees and bytes freed (a
// free weighs what its allocation did), large objects, mismatched frees, calls and bytes by entry
// point, calls and bytes by size class. A mix of malloc, calloc and new blocks, freed by the right
// function, 3% by the wrong one, 10% never, with sizes spanning the large-object threshold (set
// below the sampling interval, so large objects are sampled too).
struct MixRun {
  static constexpr uint64_t kLargeObject = 12000;
  std::vector<uint64_t> sizes;
  std::vector<EntryPoint> alloc_entry, free_entry;  // free_entry kCount: never freed
  std::vector<std::pair<std::string, double>> truth;
  std::map<std::string, double> expected_samples;  // Σ p over the blocks a figure counts
};

size_t PowerOfTwoClass(uint64_t size) { return size == 0 ? 0 : static_cast<size_t>(64 - __builtin_clzll(size)); }

MixRun MakeMixRun(size_t n, uint64_t seed, uint64_t interval) {
  std::mt19937_64 rng(seed);
  MixRun run;
  std::map<std::string, double> truth;
  for (size_t i = 0; i < n; ++i) {
    uint64_t r = rng() % 100;
    EntryPoint alloc = r < 50 ? EntryPoint::kMalloc : r < 65 ? EntryPoint::kCalloc : EntryPoint::kNew;
    uint64_t size = rng() % 10 == 0 ? 8000 + rng() % 16000 : 16 + rng() % 1500;
    EntryPoint right = alloc == EntryPoint::kNew ? EntryPoint::kDelete : EntryPoint::kFree;
    EntryPoint wrong = alloc == EntryPoint::kNew ? EntryPoint::kFree : EntryPoint::kDelete;
    uint64_t f = rng() % 100;
    EntryPoint free = f < 10 ? EntryPoint::kCount : f < 13 ? wrong : right;
    run.sizes.push_back(size);
    run.alloc_entry.push_back(alloc);
    run.free_entry.push_back(free);
    double sz = static_cast<double>(size), p = SampleProbability(size, interval);
    auto add = [&](const std::string& name, double v) {
      truth[name] += v;
      run.expected_samples[name] += p;
    };
    add(absl::StrCat("calls ", format::kEntryPoints[static_cast<size_t>(alloc)].name), 1);
    add(absl::StrCat("bytes ", format::kEntryPoints[static_cast<size_t>(alloc)].name), sz);
    add(absl::StrCat("class calls ", PowerOfTwoClass(size)), 1);
    add(absl::StrCat("class bytes ", PowerOfTwoClass(size)), sz);
    if (size >= MixRun::kLargeObject) add("large objects", 1), add("large-object bytes", sz);
    if (free != EntryPoint::kCount) {
      add("frees", 1);
      add("bytes freed", sz);
      add(absl::StrCat("calls ", format::kEntryPoints[static_cast<size_t>(free)].name), 1);
      if (free == wrong) add("mismatched frees", 1);
    }
  }
  run.truth.assign(truth.begin(), truth.end());
  return run;
}

// One sampling of the run through the heap pass: each figure and the variance the pass reports.
std::map<std::string, std::pair<double, double>> SampleMix(const MixRun& run, uint64_t interval, std::mt19937_64& rng) {
  ShimSampler sampler(interval, rng);
  AnalysisOptions options;
  options.large_object_bytes = MixRun::kLargeObject;
  HeapAnalysis h(options, nullptr);
  for (size_t i = 0; i < run.sizes.size(); ++i) {
    uint64_t t = 1000000 + i * 10000, addr = 0x100000 + i * 65536;
    uint32_t w = sampler.Weigh(t, addr, run.sizes[i]);
    if (!w) continue;
    Event a = Alloc(t, addr, run.sizes[i], w);
    a.entry = run.alloc_entry[i];
    h.Feed(a);
    if (run.free_entry[i] != EntryPoint::kCount) h.Feed(Free(t + 5000, addr, 0, run.free_entry[i]));
  }
  h.Finish();
  const HeapTotals& t = h.totals();
  std::map<std::string, std::pair<double, double>> out;
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  out["frees"] = {d(t.frees), t.frees_variance};
  out["bytes freed"] = {d(t.bytes_freed), t.bytes_freed_variance};
  out["large objects"] = {d(t.large_objects), t.large_objects_variance};
  out["large-object bytes"] = {d(t.large_object_bytes), t.large_object_bytes_variance};
  out["mismatched frees"] = {d(t.mismatched_frees), t.mismatched_frees_variance};
  for (size_t e = 0; e < static_cast<size_t>(EntryPoint::kCount); ++e) {
    if (!t.calls_by_entry[e]) continue;
    out[absl::StrCat("calls ", format::kEntryPoints[e].name)] = {d(t.calls_by_entry[e]), t.calls_by_entry_variance[e]};
    if (t.bytes_by_entry[e])
      out[absl::StrCat("bytes ", format::kEntryPoints[e].name)] = {d(t.bytes_by_entry[e]),
                                                                   t.bytes_by_entry_variance[e]};
  }
  for (const SizeClassCount& c : h.SizeClasses()) {
    out[absl::StrCat("class calls ", PowerOfTwoClass(c.min_bytes))] = {d(c.calls), c.calls_variance};
    out[absl::StrCat("class bytes ", PowerOfTwoClass(c.min_bytes))] = {d(c.bytes), c.bytes_variance};
  }
  return out;
}

TEST(HeapAnalysisWeights, FreesLargeObjectsEntryPointsSizeClassesAreUnbiasedWithHonestError) {
  const uint64_t interval = 32 << 10;
  const MixRun run = MakeMixRun(30000, 99, interval);
  std::mt19937_64 rng(2718);
  const int kReplicates = 200;
  std::map<std::string, std::vector<double>> values, variances;
  for (int r = 0; r < kReplicates; ++r) {
    for (const auto& [name, vv] : SampleMix(run, interval, rng)) {
      values[name].push_back(vv.first);
      variances[name].push_back(vv.second);
    }
  }
  size_t checked = 0;
  for (const auto& [name, truth] : run.truth) {
    // A figure no recorded block counts is absent from that sampling's report: its estimate is 0.
    values[name].resize(kReplicates, 0);
    variances[name].resize(kReplicates, 0);
    // With a handful of recorded blocks a figure's spread is too skewed for 200 replicates to
    // measure; those with 30 or more each time are checked.
    if (run.expected_samples.at(name) < 30) continue;
    ExpectUnbiasedAndHonest(values[name], variances[name], truth, name);
    ++checked;
  }
  // calls and bytes of 3 allocating entry points, calls of 2 freeing ones, frees, bytes freed,
  // large objects and bytes, mismatched frees, and calls and bytes of at least 3 size classes.
  EXPECT_GE(checked, 3 * 2 + 2 + 5 + 3 * 2u);
}

TEST(HeapAnalysisWeights, FullTraceFiguresCarryNoVariance) {
  HeapAnalysis h({}, nullptr);
  h.Feed(Alloc(100, 0x1000, 100, 1));
  h.Feed(Alloc(200, 0x2000, 100, 1));
  h.Feed(Free(300, 0x1000, 1));
  h.Finish();
  EXPECT_EQ(h.totals().leaked_allocations, 1u);
  EXPECT_EQ(h.totals().leaked_allocations_variance, 0.0);
  for (const auto& [id, st] : h.AllStacks()) {
    EXPECT_EQ(st->calls_variance, 0.0);
    EXPECT_EQ(st->live_bytes_variance, 0.0);
  }
}

TEST(SampledTraceReader, WeighsAllocationsAfterTheSamplingRecord) {
  testing::TraceBuilder b;
  b.Chunk(format::kProcessThread, 1000, 0, [](shim::RecordEncoder& e) {
    e.Tag(format::RecordTag::kProcess);
    for (uint64_t v : {42, 1, 0, 1000, 0, 4096, 1 << 25, 2, 64}) e.Uint(v);
    e.String("/bin/test", 100);
    e.String("test", 100);
    e.String("unit", 100);
    e.Tag(format::RecordTag::kSampling);
    e.Uint(1024);
  });
  b.Chunk(0, 2000, 5000, [](shim::RecordEncoder& e) {
    e.Alloc(EntryPoint::kMalloc, 2100, 0x1000, 16, 0);    // p = 1 - exp(-1/64): weight ~64.5
    e.Alloc(EntryPoint::kMalloc, 2200, 0x2000, 4096, 0);  // >= interval: weight 1
    e.Free(EntryPoint::kFree, 2300, 0x1000);
  });
  std::string path = b.WriteTemp();
  struct Collect : EventSink {
    std::vector<Event> events;
    void OnEvent(const Event& e) override { events.push_back(e); }
  } sink;
  ProcessCatalog catalog;
  ASSERT_TRUE(ReadProcessTrace(path, &sink, &catalog).ok());
  unlink(path.c_str());
  EXPECT_TRUE(catalog.diagnostics.empty()) << catalog.diagnostics[0].message;
  ASSERT_TRUE(catalog.sampling.sampled());
  EXPECT_EQ(catalog.sampling.interval_bytes, 1024u);
  EXPECT_EQ(catalog.sampling.samples, 2u);
  double x = 1 / SampleProbability(16, 1024);
  EXPECT_NEAR(catalog.sampling.allocations, x + 1, 1e-9);
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_TRUE(sink.events[0].weight == static_cast<uint32_t>(floor(x)) ||
              sink.events[0].weight == static_cast<uint32_t>(ceil(x)));
  EXPECT_EQ(sink.events[1].weight, 1u);
  EXPECT_EQ(sink.events[2].weight, 0u) << "a sampled trace's free takes its allocation's weight when paired";
}

TEST(SampledTraceReader, ZeroIntervalIsRejectedNamingTheRecord) {
  testing::TraceBuilder b;
  b.Process(1000);
  b.Chunk(format::kProcessThread, 1000, 0, [](shim::RecordEncoder& e) {
    e.Tag(format::RecordTag::kSampling);
    e.Uint(0);
  });
  std::string path = b.WriteTemp();
  struct Null : EventSink {
    void OnEvent(const Event&) override {}
  } sink;
  ProcessCatalog catalog;
  ASSERT_TRUE(ReadProcessTrace(path, &sink, &catalog).ok());
  unlink(path.c_str());
  ASSERT_FALSE(catalog.diagnostics.empty());
  EXPECT_NE(catalog.diagnostics[0].message.find("sampling interval out of range"), std::string::npos)
      << catalog.diagnostics[0].message;
  EXPECT_FALSE(catalog.sampling.sampled());
}

}  // namespace
}  // namespace allocprof
