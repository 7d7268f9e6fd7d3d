// The shim's TSC-to-nanoseconds map (shim/record/clock.h), with made-up readings: exact at its
// anchor, monotone, continuous with the clock readings it replaces, no overflow for long runs.
#include "record/clock.h"

#include <gtest/gtest.h>

namespace allocprof::shim {
namespace {

constexpr uint64_t kSecond = 1000000000ull;

// A 2.5 GHz TSC: 0.4 ns a tick. Readings 50 ms apart, TSC far from zero.
constexpr ClockPair kFirst{1'000'000'000'000ull, 7 * kSecond, 40};
constexpr ClockPair kSecond50ms{kFirst.tsc + 125'000'000ull, kFirst.ns + 50'000'000ull, 40};

TEST(TscMap, ExactAtTheAnchorAndScaledByTheReadingsRate) {
  TscMap m;
  ASSERT_TRUE(MakeTscMap(kFirst, kSecond50ms, 0, TscRead::kRdtscp, &m));
  EXPECT_EQ(TscToNs(m, kSecond50ms.tsc), kSecond50ms.ns);
  EXPECT_EQ(TscToNs(m, kSecond50ms.tsc + 2'500'000'000ull), kSecond50ms.ns + kSecond) << "one second of ticks";
  EXPECT_EQ(TscToNs(m, kSecond50ms.tsc + 5), kSecond50ms.ns + 2);
  ASSERT_TRUE(MakeTscMap(kFirst, kSecond50ms, 1000, TscRead::kRdtscp, &m));
  EXPECT_EQ(TscToNs(m, kSecond50ms.tsc), kSecond50ms.ns + 1000) << "the lead";
}

TEST(TscMap, RunsAheadOfTheClockReadingsItReplaces) {
  // The clock's own readings between the second pair and the map's publication (their TSC is past
  // the second pair's): the map never gives a thread that read one of them an older time.
  TscMap m;
  ASSERT_TRUE(MakeTscMap(kFirst, kSecond50ms, 1000, TscRead::kRdtscp, &m));
  for (uint64_t ticks : {0ull, 1ull, 40ull, 2'500ull, 2'500'000ull}) {
    uint64_t clock_read = kSecond50ms.ns + ticks * 2 / 5;  // the clock at the same tick, exact rate
    EXPECT_GT(TscToNs(m, kSecond50ms.tsc + ticks), clock_read) << ticks;
  }
  // A rate 1e-6 off still keeps a reading taken a millisecond later behind the map.
  ClockPair off = kSecond50ms;
  off.ns -= 50;
  ASSERT_TRUE(MakeTscMap(kFirst, off, 1000, TscRead::kRdtscp, &m));
  EXPECT_GT(TscToNs(m, off.tsc + 2'500'000ull), off.ns + 50 + 1'000'000ull);
}

TEST(TscMap, MonotoneAcrossTicksAndNoOverflowForADay) {
  TscMap m;
  ASSERT_TRUE(MakeTscMap(kFirst, kSecond50ms, 0, TscRead::kRdtscp, &m));
  uint64_t prev = 0;
  for (uint64_t t = kSecond50ms.tsc - 1000; t < kSecond50ms.tsc + 1000; ++t) {
    uint64_t ns = TscToNs(m, t);
    EXPECT_GE(ns, prev) << t;
    prev = ns;
  }
  // 32 fractional bits of ns per tick: the map's own rounding is below 1e-9, 86 us a day.
  constexpr int64_t kDayTicks = 86400ll * 2'500'000'000ll;
  constexpr int64_t kDayNs = 86400ll * static_cast<int64_t>(kSecond);
  auto ns_after = [&](const ClockPair& anchor, int64_t ticks) {
    return static_cast<int64_t>(TscToNs(m, anchor.tsc + ticks) - anchor.ns);
  };
  EXPECT_NEAR(ns_after(kSecond50ms, kDayTicks), kDayNs, kDayNs / 1'000'000'000);
  EXPECT_NEAR(ns_after(kSecond50ms, 10 * kDayTicks), 10 * kDayNs, 10 * kDayNs / 1'000'000'000);
  // A 20 GHz TSC (the fastest accepted), a year of ticks: no overflow, still within 1e-8.
  ClockPair fast{kFirst.tsc + 1'000'000'000ull, kFirst.ns + 50'000'000ull, 40};
  ASSERT_TRUE(MakeTscMap(kFirst, fast, 0, TscRead::kRdtscp, &m));
  constexpr int64_t kYearNs = 365 * kDayNs;
  EXPECT_NEAR(ns_after(fast, 20 * kYearNs), kYearNs, kYearNs / 100'000'000);
}

TEST(TscMap, TicksBeforeTheAnchorGiveEarlierTimes) {
  TscMap m;
  ASSERT_TRUE(MakeTscMap(kFirst, kSecond50ms, 0, TscRead::kRdtscp, &m));
  EXPECT_EQ(TscToNs(m, kSecond50ms.tsc - 5), kSecond50ms.ns - 2) << "rounded below the anchor too";
  EXPECT_EQ(TscToNs(m, kFirst.tsc), kFirst.ns);
  EXPECT_LT(TscToNs(m, kSecond50ms.tsc - 3), TscToNs(m, kSecond50ms.tsc));
}

TEST(TscMap, ImplausibleReadingsMakeNoMap) {
  TscMap m;
  EXPECT_FALSE(MakeTscMap(kSecond50ms, kFirst, 0, TscRead::kRdtscp, &m)) << "readings in the wrong order";
  ClockPair same_tsc{kFirst.tsc, kFirst.ns + 50'000'000ull, 40};
  EXPECT_FALSE(MakeTscMap(kFirst, same_tsc, 0, TscRead::kRdtscp, &m));
  ClockPair stopped_clock{kFirst.tsc + 1000, kFirst.ns, 40};
  EXPECT_FALSE(MakeTscMap(kFirst, stopped_clock, 0, TscRead::kRdtscp, &m));
  ClockPair slow{kFirst.tsc + 1'000'000ull, kFirst.ns + 50'000'000ull, 40};  // 20 MHz
  EXPECT_FALSE(MakeTscMap(kFirst, slow, 0, TscRead::kRdtscp, &m));
  ClockPair too_fast{kFirst.tsc + 2'000'000'000ull, kFirst.ns + 50'000'000ull, 40};  // 40 GHz
  EXPECT_FALSE(MakeTscMap(kFirst, too_fast, 0, TscRead::kRdtscp, &m));
}

TEST(TscMap, CarriesHowItsTscIsRead) {
  TscMap m;
  ASSERT_TRUE(MakeTscMap(kFirst, kSecond50ms, 0, TscRead::kLfenceRdtsc, &m));
  EXPECT_EQ(m.read, TscRead::kLfenceRdtsc);
}

// Made-up CPUs: the choice depends only on what CPUID reports, never on the host running the test.
TEST(TscRead, RdtscpWhereverTheCpuHasIt) {
  CpuTscFacts cpu;
  cpu.rdtscp = true;
  EXPECT_EQ(ChooseTscRead(cpu), TscRead::kRdtscp) << "a CPU of no known vendor";
  cpu.amd = true;
  EXPECT_EQ(ChooseTscRead(cpu), TscRead::kRdtscp);
}

TEST(TscRead, LfenceThenRdtscWhereLfenceIsKnownToWaitForEarlierLoads) {
  CpuTscFacts intel;
  intel.intel = true;
  EXPECT_EQ(ChooseTscRead(intel), TscRead::kLfenceRdtsc) << "lfence waits on every Intel CPU";
  CpuTscFacts amd;  // an AMD EPYC guest whose hypervisor hides rdtscp
  amd.amd = true;
  amd.amd_lfence_serial = true;
  EXPECT_EQ(ChooseTscRead(amd), TscRead::kLfenceRdtsc);
}

TEST(TscRead, NoneWhereNoOrderedReadIsKnown) {
  CpuTscFacts amd;  // lfence serializes only if the kernel set a bit user space cannot read
  amd.amd = true;
  EXPECT_EQ(ChooseTscRead(amd), TscRead::kNone);
  CpuTscFacts other;  // another vendor's lfence promises nothing here
  other.amd_lfence_serial = true;
  EXPECT_EQ(ChooseTscRead(other), TscRead::kNone);
}

}  // namespace
}  // namespace allocprof::shim
