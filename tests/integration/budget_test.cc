// Allocation budgets (include/allocprof/budget.h, gtest.h) end to end: `allocprof test` runs test
// binaries with the shim counting; counting is exact (tests/programs/budget_tests.cc checks every
// counter from inside); the demo producer's pool tests fail for the 1 MiB / 8 pool with the
// fall-through's stack and pass for one that fits; without the shim, or with it tracing, the
// budget checks skip and say why.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

RunResult RunCounting(const std::vector<std::string>& argv, const std::vector<std::string>& options = {}) {
  std::vector<std::string> full = {BuildPath("allocprof"), "test"};
  full.insert(full.end(), options.begin(), options.end());
  full.push_back("--");
  full.insert(full.end(), argv.begin(), argv.end());
  return RunProgram(full);
}

std::string Output(const RunResult& r) { return r.out + r.err; }

TEST(Budgets, CountingIsExactUnderAllocprofTest) {
  RunResult r = RunCounting({Program("budget_tests")});
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  EXPECT_TRUE(absl::StrContains(r.out, "[  PASSED  ] 8 tests.")) << Output(r);
  EXPECT_FALSE(absl::StrContains(r.out, "SKIPPED")) << Output(r);
}

// ctest, bazel: the shim preloaded by hand, with ALLOCPROF_MODE=count.
TEST(Budgets, CountingIsExactWhenPreloadedByHand) {
  RunResult r =
      RunProgram({Program("budget_tests")}, {"LD_PRELOAD=" + BuildPath("liballocprof.so"), "ALLOCPROF_MODE=count"});
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  EXPECT_TRUE(absl::StrContains(r.out, "[  PASSED  ] 8 tests.")) << Output(r);
}

// A program that test starts counts too (the shim stays preloaded across exec).
TEST(Budgets, ProgramsTheCommandExecCountToo) {
  RunResult r = RunCounting({"/bin/sh", "-c", "exec \"$0\" --gtest_filter=Exact.*", Program("budget_tests")});
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  EXPECT_TRUE(absl::StrContains(r.out, "[  PASSED  ] 5 tests.")) << Output(r);
}

TEST(Budgets, CountersFromC) {
  RunResult counting = RunCounting({Program("budget_c")});
  EXPECT_EQ(counting.exit_code, 0) << Output(counting);
  EXPECT_EQ(counting.out, "available=1 process=1 allocations=3 bytes=300 frees=1 bytes_freed=100 live=200\n");
  RunResult plain = RunProgram({Program("budget_c")});
  EXPECT_EQ(plain.exit_code, 0) << Output(plain);
  EXPECT_EQ(plain.out, "available=0 process=0 allocations=0 bytes=0 frees=0 bytes_freed=0 live=0\n");
}

TEST(Budgets, ChecksSkipWithoutTheShim) {
  RunResult r = RunProgram({Program("budget_tests")});
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  EXPECT_TRUE(absl::StrContains(r.out, "[  SKIPPED ] 8 tests")) << Output(r);
  EXPECT_TRUE(absl::StrContains(r.out,
                                "allocprof's shim is not loaded: run the tests with `allocprof test -- CMD` (or "
                                "LD_PRELOAD=liballocprof.so ALLOCPROF_MODE=count)"))
      << Output(r);
}

TEST(Budgets, ChecksSkipWhenTheShimTraces) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Program("budget_tests")});
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  EXPECT_TRUE(absl::StrContains(r.out, "[  SKIPPED ] 8 tests")) << Output(r);
  EXPECT_TRUE(absl::StrContains(r.out, "allocprof's shim is loaded but not counting")) << Output(r);
}

// The proof: the producer's pool, 1 MiB arrays and 8 slots a bucket, fails its budgets;
// the failure names the fall-through, its pool and its stack.
TEST(Budgets, ProducerPoolTestsFailForTheSmallPool) {
  RunResult r = RunCounting({BuildPath("examples/pool_tests")});
  std::string out = Output(r);
  EXPECT_EQ(r.exit_code, 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "[  FAILED  ] 3 tests, listed below:")) << out;
  EXPECT_TRUE(absl::StrContains(out, "[       OK ] Pool.OneMiBBufferIsReturnedAndReused")) << out;
  EXPECT_TRUE(absl::StrContains(out,
                                "Expected: ProduceOneBatch() makes no allocation\n"
                                "  Actual: 1 allocation of 1048656 bytes on this thread (1 free)\n"
                                "allocations on this thread:\n"
                                "  operator new[] of 1048656 bytes, a fall-through (oversize) of pool \"producer\"\n"
                                "    #0 producer::BasicArrayPool<producer::AllocprofPoolHooks>::Rent(unsigned long)+"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "producer::SerializeBatch<producer::BasicArrayPool<")) << out;
  EXPECT_TRUE(absl::StrContains(out, "ProducerPath_SteadyStateBatchMakesNoAllocation_Test::TestBody()")) << out;
  EXPECT_FALSE(absl::StrContains(out, "testing::internal")) << "GoogleTest's frames are left out\n" << out;
  EXPECT_TRUE(absl::StrContains(out, "Actual: 16 in 32 rents (oversize 0, exhausted 16, fill 0; 1048576 bytes)"))
      << out;
}

TEST(Budgets, ProducerPoolTestsPassForAPoolThatFits) {
  RunResult r = RunCounting({BuildPath("examples/pool_tests"), "--pool-max", "4MiB", "--pool-slots", "32"});
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  EXPECT_TRUE(absl::StrContains(r.out, "[  PASSED  ] 4 tests.")) << Output(r);
}

TEST(Budgets, Catch2Assertions) {
  RunResult holds = RunCounting({Program("budget_catch2"), "[holds]"});
  EXPECT_EQ(holds.exit_code, 0) << Output(holds);
  RunResult fails = RunCounting({Program("budget_catch2"), "[fails]"});
  EXPECT_EQ(fails.exit_code, 1) << Output(fails);
  EXPECT_TRUE(absl::StrContains(fails.out, "Expected: AllocateOnce() makes no allocation")) << Output(fails);
  EXPECT_TRUE(absl::StrContains(fails.out, "#0 (anonymous namespace)::AllocateOnce()")) << Output(fails);
  RunResult plain = RunProgram({Program("budget_catch2")});
  EXPECT_EQ(plain.exit_code, 0) << Output(plain);
  EXPECT_TRUE(absl::StrContains(plain.out, "allocprof's shim is not loaded")) << Output(plain);
}

// test writes nothing, and ends as its command did.
TEST(TestCommand, WritesNoFileAndPassesTheExitStatusOn) {
  TempDir dir;
  RunResult r = RunProgram(
      {"/bin/sh", "-c", "cd \"$0\" && exec \"$1\" test -- /bin/sh -c 'exit 7'", dir.path(), BuildPath("allocprof")});
  EXPECT_EQ(r.exit_code, 7) << Output(r);
  EXPECT_EQ(r.out + r.err, "");
  EXPECT_TRUE(dir.Files().empty());
  RunResult killed = RunCounting({"/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(killed.exit_code, 128 + 15) << Output(killed);
}

TEST(TestCommand, RefusesBadOptionsAndCommands) {
  RunResult depth = RunCounting({"/bin/true"}, {"--depth", "0"});
  EXPECT_EQ(depth.exit_code, 64);
  EXPECT_TRUE(absl::StrContains(depth.err, "allocprof test: --depth must be a number in 1..1024 (got '0')"))
      << depth.err;
  RunResult traced_only = RunCounting({"/bin/true"}, {"--sample", "1MiB"});
  EXPECT_EQ(traced_only.exit_code, 64);
  EXPECT_TRUE(absl::StrContains(traced_only.err, "unknown option '--sample'")) << traced_only.err;
  RunResult none = RunProgram({BuildPath("allocprof"), "test"});
  EXPECT_EQ(none.exit_code, 64);
  EXPECT_TRUE(absl::StrContains(none.err, "allocprof test: no command given")) << none.err;
  RunResult missing = RunCounting({"no-such-command-here"});
  EXPECT_EQ(missing.exit_code, 127);
  RunResult static_binary = RunCounting({Program("static_hello")});
  EXPECT_EQ(static_binary.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(static_binary.err, "is statically linked")) << static_binary.err;
  RunResult help = RunProgram({BuildPath("allocprof"), "test", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(help.out, "--depth")) << help.out;
  EXPECT_TRUE(absl::StrContains(help.out, "ALLOCPROF_MODE=count")) << help.out;
}

}  // namespace
}  // namespace allocprof::testing
