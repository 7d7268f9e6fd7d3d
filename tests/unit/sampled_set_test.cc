// The shim's set of sampled live addresses (shim/record/sampled_set.h), compiled directly: every
// inserted address is found once, absent ones are not, full lines degrade safely.
#include "record/sampled_set.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace allocprof::shim {
namespace {

// Addresses (16-byte aligned, like malloc's) that all land on the line of `first`.
std::vector<uintptr_t> SameLine(uintptr_t first, size_t n) {
  std::vector<uintptr_t> out{first};
  size_t line = SampledSet::BucketOf(first);
  for (uintptr_t a = first + 16; out.size() < n; a += 16) {
    if (SampledSet::BucketOf(a) == line) out.push_back(a);
  }
  return out;
}

TEST(SampledSet, InsertedAddressesAreRemovedOnceAndOthersNever) {
  SampledSet set;
  ASSERT_TRUE(set.Init());
  EXPECT_FALSE(set.Remove(0x7f0000001000)) << "empty set";
  set.Insert(0x7f0000001000);
  set.Insert(0x7f0000001000);  // a stale duplicate (its free was missed) is kept once
  EXPECT_TRUE(set.Remove(0x7f0000001000));
  EXPECT_FALSE(set.Remove(0x7f0000001000)) << "already taken out";
  auto line = SameLine(0x7f0000100000, SampledSet::kSlots + 1);
  for (int i = 0; i < SampledSet::kSlots; ++i) set.Insert(line[i]);
  EXPECT_FALSE(set.Remove(line[SampledSet::kSlots])) << "a full line that never overflowed knows its members";
  for (int i = 0; i < SampledSet::kSlots; ++i) EXPECT_TRUE(set.Remove(line[i])) << i;
  EXPECT_FALSE(set.Remove(line[0]));
}

// The first touch of a page of lines must be a write: one fault that maps a fresh page. A read
// first maps the zero page, and the write after it faults again to replace it, with a TLB flush
// that interrupts every core the program runs on (the cost that made sampling 1.2x on churn).
TEST(SampledSet, AnInsertFaultsEachNewPageOfLinesInOnce) {
  // Huge pages would back hundreds of lines with one fault, so the count would tell nothing.
  ASSERT_EQ(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), 0);
  auto set = std::make_unique<SampledSet>();
  ASSERT_TRUE(set->Init());
  constexpr size_t kLinesPerPage = 4096 / 64;
  constexpr size_t kPages = 256;
  std::vector<bool> seen(SampledSet::kBuckets / kLinesPerPage);
  std::vector<uintptr_t> addrs;
  for (uintptr_t a = 0x7f0000000000; addrs.size() < kPages; a += 16) {
    size_t page = SampledSet::BucketOf(a) / kLinesPerPage;
    if (!seen[page]) {
      seen[page] = true;
      addrs.push_back(a);
    }
  }
  rusage before{}, after{};
  getrusage(RUSAGE_THREAD, &before);
  for (uintptr_t a : addrs) set->Insert(a);
  getrusage(RUSAGE_THREAD, &after);
  prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
  long faults = after.ru_minflt - before.ru_minflt;
  EXPECT_LE(faults, static_cast<long>(kPages + kPages / 4))
      << "two faults a page: the line was read before it was written";
  for (uintptr_t a : addrs) EXPECT_TRUE(set->Remove(a)) << a;
}

TEST(SampledSet, OverflowedLineRecordsEveryFreeThatHashesThere) {
  SampledSet set;
  ASSERT_TRUE(set.Init());
  auto line = SameLine(0x7f0000200000, SampledSet::kSlots + 3);
  for (int i = 0; i <= SampledSet::kSlots; ++i) set.Insert(line[i]);  // one more than fits
  // The one that did not fit must still have its free recorded; so is any unknown free there.
  EXPECT_TRUE(set.Remove(line[SampledSet::kSlots]));
  EXPECT_TRUE(set.Remove(line[SampledSet::kSlots + 1]));
  for (int i = 0; i < SampledSet::kSlots; ++i) EXPECT_TRUE(set.Remove(line[i]));
  EXPECT_FALSE(set.Remove(0x7f0000001000)) << "other lines are unaffected";
}

TEST(SampledSet, TakeOutTellsAHeldAddressFromAnOverflowedMaybe) {
  SampledSet set;
  ASSERT_TRUE(set.Init());
  auto line = SameLine(0x7f0000300000, SampledSet::kSlots + 2);
  for (int i = 0; i <= SampledSet::kSlots; ++i) set.Insert(line[i]);  // one more than fits
  EXPECT_EQ(set.TakeOut(line[0]), SampledSet::Removal::kRemoved);
  EXPECT_EQ(set.TakeOut(line[0]), SampledSet::Removal::kMaybe) << "gone, but the line overflowed";
  EXPECT_EQ(set.TakeOut(line[SampledSet::kSlots + 1]), SampledSet::Removal::kMaybe) << "never inserted";
  EXPECT_EQ(set.TakeOut(0x7f0000001000), SampledSet::Removal::kAbsent) << "other lines are unaffected";
}

// Without its lines (Init not called, or its mmap failed) the set still never loses a recorded
// allocation's free: the insert overflows the address's line.
TEST(SampledSet, WithoutLinesAnInsertedAddressStillHasItsFreeRecorded) {
  SampledSet never_initialised;
  EXPECT_TRUE(never_initialised.CertainlyAbsent(0x7f0000001000));
  EXPECT_FALSE(never_initialised.Remove(0x7f0000001000)) << "nothing inserted yet";
  never_initialised.Insert(0x7f0000001000);
  EXPECT_FALSE(never_initialised.CertainlyAbsent(0x7f0000001000));
  EXPECT_EQ(never_initialised.TakeOut(0x7f0000001000), SampledSet::Removal::kMaybe);
  EXPECT_EQ(never_initialised.TakeOut(0x7f0000001000), SampledSet::Removal::kMaybe) << "the line stays overflowed";
  auto line = SameLine(0x7f0000400000, 2);
  never_initialised.Insert(line[0]);
  EXPECT_TRUE(never_initialised.Remove(line[1])) << "an unknown free on that line is recorded too";
}

// A pinned address (the bootstrap arena's blocks) is never certainly absent, so the hooks' fast
// free sends it to the slow path, but it is not in the set: its free is not recorded, and its line
// works as before.
TEST(SampledSet, APinnedAddressIsNeverCertainlyAbsentNorAMember) {
  SampledSet set;
  ASSERT_TRUE(set.Init());
  auto line = SameLine(0x7f0000500000, SampledSet::kSlots + 1);
  EXPECT_TRUE(set.CertainlyAbsent(line[0]));
  set.Pin(line[0]);
  EXPECT_FALSE(set.CertainlyAbsent(line[0]));
  EXPECT_FALSE(set.CertainlyAbsent(line[1])) << "pinning is per line";
  EXPECT_EQ(set.TakeOut(line[0]), SampledSet::Removal::kAbsent);
  EXPECT_FALSE(set.CertainlyAbsent(line[0])) << "taking out does not unpin";
  for (int i = 1; i <= SampledSet::kSlots; ++i) set.Insert(line[i]);
  for (int i = 1; i <= SampledSet::kSlots; ++i) EXPECT_EQ(set.TakeOut(line[i]), SampledSet::Removal::kRemoved) << i;
  EXPECT_FALSE(set.CertainlyAbsent(line[0]));
  EXPECT_TRUE(set.CertainlyAbsent(0x7f0000001000)) << "other lines are unaffected";
}

// Addresses whose lines are different but in the same group of lines as `first`'s.
std::vector<uintptr_t> SameGroupOtherLines(uintptr_t first, size_t n) {
  std::vector<uintptr_t> out;
  size_t line = SampledSet::BucketOf(first), group = SampledSet::GroupOf(line);
  for (uintptr_t a = first + 16; out.size() < n; a += 16) {
    size_t b = SampledSet::BucketOf(a);
    if (b != line && SampledSet::GroupOf(b) == group) out.push_back(a);
  }
  return out;
}

// The fast free reads its group's count first: an address whose group holds no member is
// certainly absent; a neighbour of a member is sent to its line, which knows it is absent; and the
// count comes back to nought whatever the inserts were (duplicates, removals), unless a line of
// the group overflowed or was pinned, which keeps it up for good.
TEST(SampledSet, AGroupOfLinesIsCertainlyEmptyExactlyWhenNoneOfItsLinesHoldsAnything) {
  SampledSet set;
  ASSERT_TRUE(set.Init());
  uintptr_t member = 0x7f0000600000;
  auto neighbours = SameGroupOtherLines(member, 3);
  EXPECT_TRUE(set.GroupCertainlyEmpty(neighbours[0]));
  set.Insert(member);
  set.Insert(member);  // a duplicate counts once
  EXPECT_FALSE(set.CertainlyAbsent(member));
  EXPECT_FALSE(set.GroupCertainlyEmpty(neighbours[0]));
  EXPECT_TRUE(set.CertainlyAbsent(neighbours[0])) << "its own line is empty";
  EXPECT_EQ(set.TakeOut(neighbours[0]), SampledSet::Removal::kAbsent);
  EXPECT_TRUE(set.Remove(member));
  EXPECT_TRUE(set.GroupCertainlyEmpty(member)) << "the group's count is back to nought";
  EXPECT_TRUE(set.GroupCertainlyEmpty(neighbours[1]));

  auto full = SameLine(neighbours[1], SampledSet::kSlots + 2);
  for (uintptr_t a : full) set.Insert(a);  // overflows the line, twice
  for (uintptr_t a : full) set.Remove(a);
  EXPECT_FALSE(set.CertainlyAbsent(neighbours[1])) << "an overflowed line never looks empty";
  EXPECT_FALSE(set.GroupCertainlyEmpty(neighbours[0])) << "nor does its group";
  EXPECT_TRUE(set.CertainlyAbsent(neighbours[0])) << "but the other lines do";
  EXPECT_TRUE(set.Remove(neighbours[1])) << "its frees are all recorded";

  SampledSet pinned;
  ASSERT_TRUE(pinned.Init());
  pinned.Pin(neighbours[2]);
  pinned.Pin(neighbours[2]);
  pinned.Insert(member);
  EXPECT_TRUE(pinned.Remove(member));
  EXPECT_FALSE(pinned.CertainlyAbsent(neighbours[2]));
  EXPECT_FALSE(pinned.GroupCertainlyEmpty(member));
  EXPECT_TRUE(pinned.CertainlyAbsent(member)) << "pinning is per line";
}

// Threads insert and remove their own addresses in lines they share with the other threads (each
// thread owns one address of every line, as allocators hand neighbouring blocks to different
// threads): a member is always found, and a removed one never again (no line ever overflows here:
// 4 owners for 6 slots).
TEST(SampledSet, ConcurrentThreadsSharingLinesNeverLoseOrInventAMember) {
  SampledSet set;
  ASSERT_TRUE(set.Init());
  constexpr int kThreads = 4;
  constexpr int kLines = 64;
  std::vector<std::vector<uintptr_t>> lines;
  for (int l = 0; l < kLines; ++l)
    lines.push_back(SameLine(0x600000000000 + (static_cast<uintptr_t>(l) << 24), kThreads));
  std::atomic<int> lost{0}, phantom{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50000; ++round) {
        uintptr_t mine = lines[(round * 7 + t) % kLines][t];
        set.Insert(mine);
        if (set.CertainlyAbsent(mine)) lost.fetch_add(1);  // its free would take the fast path
        if (!set.Remove(mine)) lost.fetch_add(1);
        if (set.Remove(mine)) phantom.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(phantom.load(), 0);
  for (const auto& line : lines) EXPECT_TRUE(set.GroupCertainlyEmpty(line[0])) << "every count back to nought";
}

}  // namespace
}  // namespace allocprof::shim
