// bench/synth_trace writes traces for the analyzer's scale benchmark; they must be valid traces that
// analyze to exactly the totals the synthesizer computed while generating them.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "harness.h"

namespace allocprof::testing {
namespace {

std::map<std::string, uint64_t> ParseTotals(const std::string& text) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(text);
  std::string key;
  uint64_t value;
  while (in >> key >> value) out[key] = value;
  return out;
}

TEST(SynthTrace, MillionEventsAnalyzeToTheSynthesizedTotals) {
  TempDir dir;
  RunResult s = RunProgram({BuildPath("bench/synth_trace"), "-o", dir / "s.trace", "--events", "1M", "--threads", "3",
                            "--window", "5000", "--seed", "7"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  std::map<std::string, uint64_t> want = ParseTotals(s.out);
  ASSERT_EQ(want["events"], 1000000u) << s.out;
  // Window 5000: some random frees reach past FREE_AGE's 16384 allocations (explicit addresses).
  ASSERT_GT(want["frees"], 400000u);

  TraceSummary summary = Summarize(dir / "s.trace");
  ASSERT_TRUE(summary.read_ok) << summary.error;
  EXPECT_FALSE(summary.Damaged());
  EXPECT_EQ(summary.catalog.events, 1000000u);
  EXPECT_EQ(summary.catalog.out_of_order_events, 0u);
  EXPECT_EQ(summary.frees_of_unknown, 0u);
  EXPECT_EQ(summary.allocs_over_live, 0u);
  EXPECT_EQ(summary.catalog.threads.size(), 3u);

  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", "-", dir / "s.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key : {"allocations", "frees", "bytes_allocated", "bytes_freed", "peak_live_bytes",
                          "leaked_allocations", "leaked_bytes", "events"}) {
    std::string field = "\"" + std::string(key) + "\":" + std::to_string(want[key]);
    bool found = r.out.find(field + ",") != std::string::npos || r.out.find(field + "}") != std::string::npos;
    EXPECT_TRUE(found) << "expected " << field << " in " << r.out.substr(0, 1200);
  }
  EXPECT_NE(r.out.find("\"frees_of_unknown\":0,"), std::string::npos);
  EXPECT_NE(r.out.find("\"ended_cleanly\":true"), std::string::npos);
}

TEST(SynthTrace, BadArgumentsAreRefusedNamingTheProblem) {
  TempDir dir;
  RunResult r = RunProgram({BuildPath("bench/synth_trace"), "-o", dir / "s.trace", "--events", "ten"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--events: not a number: ten"), std::string::npos) << r.err;
  r = RunProgram({BuildPath("bench/synth_trace"), "--events", "10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-o PATH is required"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace allocprof::testing
