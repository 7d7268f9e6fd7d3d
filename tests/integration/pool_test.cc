// The pool hooks end to end: a scripted pool under the shim, its figures read back exactly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness.h"

namespace allocprof::testing {
namespace {

// The pool pass sees only what lies inside an analysis window: a window that closes before the
// program's first rent holds none of its pool's activity (the pool is still listed: it registered).
TEST(Pools, AnalysisWindowLimitsThePoolFigures) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("pool_user"), "5"}).exit_code, 0);
  RunResult whole = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", "-", dir / "t.trace"});
  RunResult early =
      RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--to", "1ns", "--json", "-", dir / "t.trace"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  ASSERT_EQ(early.exit_code, 0) << early.err;
  auto all = nlohmann::json::parse(whole.out), none = nlohmann::json::parse(early.out);
  ASSERT_EQ(all["pools"].size(), 1u);
  EXPECT_EQ(all["pools"][0]["rents"], 20);
  uint64_t rents = 0;
  for (const auto& p : none["pools"]) rents += p["rents"].get<uint64_t>();
  EXPECT_EQ(rents, 0u);
}

TEST(Pools, ScriptedPoolFiguresAreExact) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("pool_user"), "5"}).exit_code, 0);
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--json", "-", dir / "t.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["pools"].size(), 1u);
  const auto& p = doc["pools"][0];
  EXPECT_EQ(p["name"], "scripted");
  EXPECT_EQ(p["max_block"], 1024);
  EXPECT_EQ(p["slots_per_bucket"], 2);
  EXPECT_EQ(p["rents"], 20);
  EXPECT_EQ(p["hits"], 5);
  EXPECT_DOUBLE_EQ(p["hit_rate"].get<double>(), 0.25);
  EXPECT_EQ(p["fallthrough"]["fill"], 5);
  EXPECT_EQ(p["fallthrough"]["oversize"], 5);
  EXPECT_EQ(p["fallthrough"]["exhausted"], 5);
  EXPECT_EQ(p["fallthrough_bytes"], 5 * (128 + 5000 + 256));
  EXPECT_EQ(p["dropped"]["full"], 5);
  EXPECT_EQ(p["dropped"]["oversize"], 5);
  EXPECT_EQ(doc["counters"]["messages"], 50);
  ASSERT_EQ(doc["marks"].size(), 2u);
  EXPECT_EQ(doc["marks"][0]["name"], "warmup-done");
  EXPECT_EQ(doc["marks"][1]["name"], "steady-state-done");
  EXPECT_LE(doc["marks"][0]["time_s"].get<double>(), doc["marks"][1]["time_s"].get<double>());
  EXPECT_GT(doc["per_unit"]["messages"]["allocations"].get<double>(), 0);
  // The fall-through stacks are the rents' stacks: main of pool_user.
  ASSERT_FALSE(p["top_fallthrough_stacks"].empty());
  bool main_found = false;
  for (const auto& f : p["top_fallthrough_stacks"][0]["frames"]) main_found |= f["function"] == "main";
  EXPECT_TRUE(main_found);
  // Advisor: every request fits 8 KiB with one array out at a time per bucket.
  EXPECT_EQ(p["advisor"]["max_block"], 8192);
  EXPECT_DOUBLE_EQ(p["advisor"]["hit_rate"].get<double>(), 1.0);
  EXPECT_EQ(p["advisor"]["retained_bytes_worst_case"], 128 + 256 + 8192);
}

TEST(Pools, HooksCostNothingWithoutTheShim) {
  // Without the shim the weak hooks are null: the program runs and reports pool id 0.
  RunResult r = RunProgram({Program("pool_user"), "3"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "pool rounds 3 (pool id 0)\n");
}

}  // namespace
}  // namespace allocprof::testing

namespace allocprof::testing {
namespace {

nlohmann::json PoolOf(const std::string& trace) {
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--json", "-", trace});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

// The demo producer's pool (deterministic for a configuration): the regression and the fix.
TEST(Pools, ProducerReproducesTheRegressionExactly) {
  TempDir dir;
  std::string producer = BuildPath("examples/producer");
  ASSERT_EQ(RunTraced(dir / "small.trace", {producer, "--pool-max", "1MiB", "--pool-slots", "8"}).exit_code, 0);
  ASSERT_EQ(RunTraced(dir / "large.trace", {producer, "--pool-max", "4MiB", "--pool-slots", "32"}).exit_code, 0);
  auto small = PoolOf(dir / "small.trace");
  const auto& p = small["pools"][0];
  EXPECT_EQ(p["rents"], 101);
  EXPECT_EQ(p["hits"], 32);
  EXPECT_EQ(p["fallthrough"]["oversize"], 19) << "every full produce request is larger than the pool";
  EXPECT_EQ(p["fallthrough"]["exhausted"], 33) << "read segments overflow their bucket";
  EXPECT_EQ(p["fallthrough"]["fill"], 17);
  EXPECT_EQ(p["dropped"]["full"], 33);
  EXPECT_EQ(p["dropped"]["oversize"], 19);
  EXPECT_EQ(small["counters"]["messages"], 200000);
  EXPECT_GE(p["advisor"]["max_block"].get<uint64_t>(), 2u << 20) << "the advisor asks for the 2 MiB bucket";

  auto large = PoolOf(dir / "large.trace");
  const auto& q = large["pools"][0];
  EXPECT_EQ(q["fallthrough"]["oversize"], 0);
  EXPECT_EQ(q["fallthrough"]["exhausted"], 0);
  EXPECT_EQ(q["fallthrough"]["fill"], 35) << "only the initial fills fall through";
  EXPECT_EQ(q["dropped"]["full"], 0);

  RunResult diff = RunProgram({BuildPath("allocprof"), "diff", "--fail-if", "pool:producer:fallthrough_oversize>0",
                               dir / "large.trace", dir / "small.trace"});
  EXPECT_EQ(diff.exit_code, 1) << diff.out;
  EXPECT_NE(diff.out.find("pool producer: fall-throughs (oversize) = 19 > 0"), std::string::npos) << diff.out;
}

}  // namespace
}  // namespace allocprof::testing

namespace allocprof::testing {
namespace {

// std::pmr pool resources become pools without any source change (see shim/hooks/pmr_hooks.cc).
TEST(Pools, PmrPoolResourcesAreProfiledWithoutSourceChanges) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("pmr_user"), "100"}).exit_code, 0);
  auto doc = PoolOf(dir / "t.trace");
  ASSERT_EQ(doc["pools"].size(), 2u);
  for (const auto& p : doc["pools"]) {
    EXPECT_EQ(p["rents"], 200) << p["name"];
    EXPECT_EQ(p["hits"], 99) << "the first 64-byte block fills the pool, the others are served from it";
    EXPECT_EQ(p["fallthrough"]["fill"], 1);
    EXPECT_EQ(p["fallthrough"]["oversize"], 100) << "5000 B is above largest_required_pool_block";
    EXPECT_EQ(p["dropped"]["oversize"], 100);
  }
  EXPECT_EQ(doc["pools"][0]["name"], "std::pmr::synchronized_pool_resource");
  EXPECT_EQ(doc["pools"][1]["name"], "std::pmr::unsynchronized_pool_resource");
}

}  // namespace
}  // namespace allocprof::testing
