// allocprof analyze end to end: real traces in, text and JSON out.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

TEST(Analyze, ForkTreeGetsOneSectionPerProcess) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("processes"), "fork"}).exit_code, 0);
  std::vector<std::string> argv = {BuildPath("allocprof"), "analyze", "--json", dir / "out.json"};
  for (const auto& f : dir.Files()) argv.push_back(dir / f);
  RunResult r = RunProgram(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("== " + (dir / "t.trace")), std::string::npos);
  size_t sections = 0;
  for (size_t at = 0; (at = r.out.find("\n== ", at)) != std::string::npos; ++at) ++sections;
  EXPECT_EQ(sections + (absl::StartsWith(r.out, "== ") ? 1 : 0), 2u) << r.out;
  std::string json = ReadFile(dir / "out.json");
  EXPECT_NE(json.find("\"schema_version\":1"), std::string::npos);
  size_t processes = 0;
  for (size_t at = 0; (at = json.find("\"ppid\":", at)) != std::string::npos; ++at) ++processes;
  EXPECT_EQ(processes, 5u) << "the root in \"process\" plus both in \"processes\" and in \"run\"";
}

TEST(Analyze, LeaksAndStacksAreSymbolized) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("exits"), "_exit", "25"}).exit_code, 3);
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--json", "-", dir / "t.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 25 blocks of 7777 bytes were never freed; the leak list names the function that made them.
  EXPECT_NE(r.out.find("\"leaked_bytes\":194425"), std::string::npos) << r.out.substr(0, 2000);
  EXPECT_NE(r.out.find("\"function\":\"main\",\"file\":\"" + SourcePath("tests/programs/exits.cc")), std::string::npos);
}

TEST(Analyze, BadInputExitsTwoNamingTheFile) {
  TempDir dir;
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", dir / "missing.trace"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir / "missing.trace"), std::string::npos);
  r = RunProgram({BuildPath("allocprof"), "analyze", "--windows", "zero", dir / "missing.trace"});
  EXPECT_EQ(r.exit_code, 64);
}

TEST(Analyze, TruncatedTraceIsAnalyzedUpToTheCutWithAWarning) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "20000"}).exit_code, 0);
  std::string bytes = ReadFile(dir / "t.trace");
  { std::ofstream(dir / "cut.trace", std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3); }
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", dir / "cut.trace"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trace truncated at offset"), std::string::npos);
  EXPECT_NE(r.out.find("no end record"), std::string::npos);
}

// The largest cache cpu0 lists in sysfs, read here independently of the shim's reader.
uint64_t HostLastLevelCache() {
  uint64_t best = 0;
  for (int index = 0; index < 8; ++index) {
    std::string text = ReadFile("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size");
    absl::string_view digits = absl::StripAsciiWhitespace(text);
    uint64_t shift = absl::ConsumeSuffix(&digits, "K") ? 10 : absl::ConsumeSuffix(&digits, "M") ? 20 : 0;
    uint64_t v = 0;
    if (absl::SimpleAtoi(digits, &v)) best = std::max(best, v << shift);
  }
  return best;
}

// Every other test pins the cache size (--llc) where a figure depends on it; this one checks the
// host-derived default: the shim records this machine's last-level cache and the model uses it.
TEST(Analyze, GenModelDefaultsToTheCacheSizeTheTraceRecorded) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "100"}).exit_code, 0);
  uint64_t host = HostLastLevelCache();
  TraceSummary s = Summarize(dir / "t.trace");
  EXPECT_EQ(s.catalog.process.llc_bytes, host);

  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--json", "-", dir / "t.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json params = nlohmann::json::parse(r.out)["gen"]["parameters"];
  if (host != 0) {
    EXPECT_EQ(params["llc_source"], "recorded with the trace");
    EXPECT_EQ(params["llc_bytes"].get<uint64_t>(), host);
    EXPECT_EQ(params["gen0_budget"].get<uint64_t>(),
              std::max<uint64_t>(host / 5 * 4 + host % 5 * 4 / 5, 256 << 10) / 8 * 5);
  }

  r = RunProgram({BuildPath("allocprof"), "analyze", "--llc", "8MiB", "--json", "-", dir / "t.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  params = nlohmann::json::parse(r.out)["gen"]["parameters"];
  EXPECT_EQ(params["llc_source"], "given with --llc");
  EXPECT_EQ(params["llc_bytes"].get<uint64_t>(), 8u << 20);
  EXPECT_EQ(params["gen0_budget"].get<uint64_t>(), (8u << 20) / 5 * 4 / 8 * 5);
}

}  // namespace
}  // namespace allocprof::testing

namespace allocprof::testing {
namespace {

TEST(Diff, ExitCodesAndVerdictOnRealTraces) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "before.trace", {Program("entry_points"), "malloc", "1000"}).exit_code, 0);
  ASSERT_EQ(RunTraced(dir / "after.trace", {Program("entry_points"), "malloc", "20000"}).exit_code, 0);
  std::string cli = BuildPath("allocprof");
  RunResult same = RunProgram({cli, "diff", dir / "before.trace", dir / "before.trace"});
  EXPECT_EQ(same.exit_code, 0) << same.out;
  EXPECT_NE(same.out.find("verdict: PASS"), std::string::npos);

  RunResult worse = RunProgram({cli, "diff", "--json", dir / "diff.json", dir / "before.trace", dir / "after.trace"});
  EXPECT_EQ(worse.exit_code, 1) << worse.out;
  EXPECT_NE(worse.out.find("verdict: FAIL — allocations"), std::string::npos) << worse.out;
  EXPECT_NE(ReadFile(dir / "diff.json").find("\"passed\":false"), std::string::npos);

  // A saved report on one side gives the same verdict as the trace.
  ASSERT_EQ(RunProgram({cli, "analyze", "--json", dir / "before.json", dir / "before.trace"}).exit_code, 0);
  RunResult mixed = RunProgram({cli, "diff", "--markdown", dir / "before.json", dir / "after.trace"});
  EXPECT_EQ(mixed.exit_code, 1);
  EXPECT_NE(mixed.out.find("| allocations |"), std::string::npos) << mixed.out;

  RunResult lenient =
      RunProgram({cli, "diff", "--fail-if", "allocations>100x", dir / "before.trace", dir / "after.trace"});
  EXPECT_EQ(lenient.exit_code, 0) << lenient.out;

  { std::ofstream(dir / "junk.json") << "{\"schema_version\": 1, \"totals\": [}"; }
  RunResult bad = RunProgram({cli, "diff", dir / "junk.json", dir / "after.trace"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(dir / "junk.json"), std::string::npos) << bad.err;
  EXPECT_EQ(RunProgram({cli, "diff", "--fail-if", "nonsense", dir / "a", dir / "b"}).exit_code, 64);
}

}  // namespace
}  // namespace allocprof::testing
