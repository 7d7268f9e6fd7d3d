// How `run`, `attach` and `test` collect the shim's options from their flags and inherited variables
// (launch/shim_options.h), by the table in allocprof/options.h.
#include "launch/shim_options.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace allocprof::options {
namespace {

// run and attach read the same table: flags first, then inherited variables, each checked.
class CollectShimOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const Spec& s : kSpecs) unsetenv(s.variable);
  }
  void TearDown() override { SetUp(); }

  absl::StatusOr<std::vector<ShimOption>> Collect(std::vector<std::string> argv, Use command) {
    args_ = CliArgs();
    DeclareShimFlags(args_, command);
    argv.insert(argv.begin(), {"allocprof", "run"});
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    if (absl::Status st = args_.Parse(static_cast<int>(raw.size()), raw.data(), 2); !st.ok()) return st;
    return CollectShimOptions(args_, command);
  }

  CliArgs args_;
};

TEST_F(CollectShimOptionsTest, FlagsWinOverVariablesAndSwitchesFlipTheirDefault) {
  setenv("ALLOCPROF_DEPTH", "8", 1);
  setenv("ALLOCPROF_BUFFER", "1MiB", 1);
  auto got = Collect({"--depth", "16", "--no-follow", "-q"}, kRun);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ShimOptionValue(*got, Id::kDepth), "16");
  EXPECT_EQ(ShimOptionValue(*got, Id::kBuffer), "1MiB");
  EXPECT_EQ(ShimOptionValue(*got, Id::kFollow), "0");
  EXPECT_EQ(ShimOptionValue(*got, Id::kQuiet), "1");
  EXPECT_EQ(ShimOptionValue(*got, Id::kZstdLevel), "1") << "the default when neither is given";
}

TEST_F(CollectShimOptionsTest, ABadFlagOrInheritedVariableIsAnError) {
  auto flag = Collect({"--flush-ms", "-1"}, kRun);
  ASSERT_FALSE(flag.ok());
  EXPECT_EQ(flag.status().message(), "--flush-ms must be a number in 0..60000 (got '-1')");
  setenv("ALLOCPROF_ZSTD_LEVEL", "99", 1);
  auto inherited = Collect({}, kRun);
  ASSERT_FALSE(inherited.ok());
  EXPECT_EQ(inherited.status().message(),
            "ALLOCPROF_ZSTD_LEVEL (in the environment) must be a number in -50..19 (got '99')");
  EXPECT_TRUE(Collect({"--zstd-level", "3"}, kRun).ok()) << "a flag replaces the inherited variable";
}

TEST_F(CollectShimOptionsTest, AttachTakesOnlyItsOwnOptionsAndLaunchersSetTheirOwn) {
  setenv("ALLOCPROF_ZSTD_LEVEL", "99", 1);  // attach does not pass it on, so it does not check it
  setenv("ALLOCPROF_UNWIND", "fp", 1);
  setenv("ALLOCPROF_OUTPUT", "/elsewhere.trace", 1);
  setenv("ALLOCPROF_ROOT_PID", "abc", 1);
  auto got = Collect({"--depth", "3"}, kAttach);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(ShimOptionValue(*got, Id::kUnwind), "fp");
  EXPECT_EQ(ShimOptionValue(*got, Id::kDepth), "3");
  EXPECT_EQ(ShimOptionValue(*got, Id::kOutput), "") << "run and attach name the output themselves";
  EXPECT_EQ(Collect({"--zstd-level", "1"}, kAttach).status().message(), "unknown option '--zstd-level'");
}

// test counts: it offers --depth and -q, checks only those variables, and the mode is its own.
TEST_F(CollectShimOptionsTest, TestTakesOnlyItsOwnOptionsAndSetsTheMode) {
  setenv("ALLOCPROF_ZSTD_LEVEL", "99", 1);  // a tracing option: a counting program never reads it
  setenv("ALLOCPROF_MODE", "trace", 1);     // test sets count itself
  setenv("ALLOCPROF_QUIET", "1", 1);
  auto got = Collect({"--depth", "5"}, kTest);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(ShimOptionValue(*got, Id::kDepth), "5");
  EXPECT_EQ(ShimOptionValue(*got, Id::kQuiet), "1");
  EXPECT_EQ(ShimOptionValue(*got, Id::kMode), "trace") << "the default: not collected";
  EXPECT_EQ(Collect({"--sample", "1MiB"}, kTest).status().message(), "unknown option '--sample'");
  setenv("ALLOCPROF_DEPTH", "0", 1);
  EXPECT_EQ(Collect({}, kTest).status().message(),
            "ALLOCPROF_DEPTH (in the environment) must be a number in 1..1024 (got '0')");
  // run, too, never takes the mode from its environment: a counting parent does not stop its trace.
  unsetenv("ALLOCPROF_DEPTH");
  unsetenv("ALLOCPROF_ZSTD_LEVEL");
  setenv("ALLOCPROF_MODE", "count", 1);
  auto run = Collect({}, kRun);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(ShimOptionValue(*run, Id::kMode), "trace");
}

TEST(CheckOutputPath, TheShimsLimitOnTheAbsolutePath) {
  EXPECT_TRUE(CheckOutputPath("/tmp/" + std::string(4090, 't')).ok());
  absl::Status st = CheckOutputPath("/tmp/" + std::string(4091, 't'));
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(absl::StartsWith(st.message(), "the trace file's absolute path must be at most 4095 bytes: /tmp/ttt"))
      << st.message();
}

}  // namespace
}  // namespace allocprof::options
