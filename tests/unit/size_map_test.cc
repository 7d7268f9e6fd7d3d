// Counting mode's size map (shim/count/size_map.h), compiled directly: a size set for a block is
// taken back once, exactly, for aligned and unaligned addresses, sizes of 4 GiB and more, across
// leaves, and from several threads at once; a block never set is unknown.
#include "count/size_map.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace allocprof::shim {
namespace {

TEST(SizeMap, SizesAreTakenBackOnceAndUnknownBlocksAreUnknown) {
  SizeMap map;
  ASSERT_TRUE(map.Init());
  uint64_t size = 7;
  EXPECT_FALSE(map.Take(0x7f0000001000, &size)) << "nothing set: no leaf yet";
  map.Set(0x7f0000001000, 100);
  map.Set(0x7f0000001010, 0);  // malloc(0) is a block of 0 bytes, not an unknown one
  EXPECT_FALSE(map.Take(0x7f0000001020, &size)) << "a neighbour in the same leaf, never set";
  ASSERT_TRUE(map.Take(0x7f0000001000, &size));
  EXPECT_EQ(size, 100u);
  EXPECT_FALSE(map.Take(0x7f0000001000, &size)) << "taken already";
  ASSERT_TRUE(map.Take(0x7f0000001010, &size));
  EXPECT_EQ(size, 0u);
  // Another 16 MiB region: another leaf.
  map.Set(0x7f0001001000, 4096);
  ASSERT_TRUE(map.Take(0x7f0001001000, &size));
  EXPECT_EQ(size, 4096u);
}

TEST(SizeMap, UnalignedAddressesAndHugeSizesGoToTheSideTable) {
  SizeMap map;
  ASSERT_TRUE(map.Init());
  uint64_t size = 0;
  // Two 8-byte aligned blocks in one granule (an allocator other than glibc's).
  map.Set(0x7f0000002000, 8);
  map.Set(0x7f0000002008, 9);
  ASSERT_TRUE(map.Take(0x7f0000002008, &size));
  EXPECT_EQ(size, 9u);
  ASSERT_TRUE(map.Take(0x7f0000002000, &size));
  EXPECT_EQ(size, 8u);
  map.Set(0x7f0000003000, uint64_t{5} << 30);
  map.Set(0x7f0000003010, UINT32_MAX - 2);  // the largest size an entry holds itself
  ASSERT_TRUE(map.Take(0x7f0000003000, &size));
  EXPECT_EQ(size, uint64_t{5} << 30);
  EXPECT_FALSE(map.Take(0x7f0000003000, &size));
  ASSERT_TRUE(map.Take(0x7f0000003010, &size));
  EXPECT_EQ(size, UINT32_MAX - 2u);
  // Addresses beyond 47 bits cannot be in the radix.
  map.Set(uintptr_t{1} << 50, 64);
  ASSERT_TRUE(map.Take(uintptr_t{1} << 50, &size));
  EXPECT_EQ(size, 64u);
}

TEST(SizeMap, ThreadsSetAndTakeTheirOwnBlocksConcurrently) {
  SizeMap map;
  ASSERT_TRUE(map.Init());
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Each thread's blocks lie in regions no other thread uses first, so leaves race.
      for (int round = 0; round < 3; ++round) {
        for (uintptr_t i = 0; i < 20000; ++i) map.Set(0x7f0000000000 + (i * 4 + t) * 4096, i + t);
        for (uintptr_t i = 0; i < 20000; ++i) {
          uint64_t size = 0;
          if (!map.Take(0x7f0000000000 + (i * 4 + t) * 4096, &size) || size != i + t) ++wrong[t];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[t], 0) << t;
}

}  // namespace
}  // namespace allocprof::shim
