// The sampler's inline fast path (shim/record/sampler.h), compiled directly: what the hooks may skip
// without the slow path. The countdown there never exceeds the interval, so one unsigned compare
// stands for "not the sampled byte" and "smaller than the interval".
#include <gtest/gtest.h>
#include <stdint.h>

#include "record/sampler.h"

namespace allocprof::shim {

// The definitions sampler.cc would make; its slow path is not linked here.
uint64_t g_sample_interval = 0;
constinit SampledSet g_sampled;
__thread SamplerLocal t_sampler __attribute__((tls_model("initial-exec")));

namespace {

TEST(SamplerFastPath, SkipsOnlyWhatLeavesTheCountdownPositive) {
  g_sample_interval = 4096;
  t_sampler = SamplerLocal{};
  EXPECT_FALSE(SkipAllocation(1)) << "before the first draw every allocation goes to the slow path";
  t_sampler.countdown = 1000;
  EXPECT_TRUE(SkipAllocation(0));
  EXPECT_EQ(t_sampler.countdown, 999u) << "an empty allocation counts as one byte";
  EXPECT_TRUE(SkipAllocation(900));
  EXPECT_EQ(t_sampler.countdown, 99u);
  EXPECT_FALSE(SkipAllocation(99)) << "the allocation that reaches zero is the slow path's";
  EXPECT_EQ(t_sampler.countdown, 99u) << "untouched when the slow path decides";
  EXPECT_TRUE(SkipAllocation(98));
  EXPECT_EQ(t_sampler.countdown, 1u);
  EXPECT_FALSE(SkipAllocation(0));
}

// Sizes no allocator can serve still go to the slow path (which records them as blocks of the
// interval or more), and leave the countdown as it was: read as signed, they would have grown it.
TEST(SamplerFastPath, HugeSizesNeverPassNorMoveTheCountdown) {
  g_sample_interval = 4096;
  t_sampler = SamplerLocal{};
  t_sampler.countdown = 4096;
  for (uint64_t size : {UINT64_MAX, UINT64_MAX - 15, (uint64_t{1} << 63) | (uint64_t{1} << 62), uint64_t{1} << 63,
                        uint64_t{1} << 62, uint64_t{4096}}) {
    EXPECT_FALSE(SkipAllocation(size)) << size;
    EXPECT_EQ(t_sampler.countdown, 4096u) << size;
  }
  EXPECT_TRUE(SkipAllocation(4095));
  EXPECT_EQ(t_sampler.countdown, 1u);
}

}  // namespace
}  // namespace allocprof::shim
