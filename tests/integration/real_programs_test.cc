// Real, unmodified programs give the same output and exit code with and without the shim, and
// their traces read back clean.
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

struct Comparison {
  RunResult plain;
  RunResult traced;
  TraceSummary trace;
};

Comparison Compare(const TempDir& dir, const std::vector<std::string>& argv, const std::string& input = "") {
  Comparison c;
  c.plain = RunProgram(argv, {}, input);
  c.traced = RunTraced(dir / "t.trace", argv, {"-q"}, input);
  c.trace = Summarize(dir / "t.trace");
  return c;
}

void ExpectSameBehaviourAndCleanTrace(const Comparison& c, uint64_t min_allocs) {
  EXPECT_EQ(c.traced.exit_code, c.plain.exit_code) << c.traced.err;
  EXPECT_EQ(c.traced.out, c.plain.out);
  EXPECT_EQ(c.traced.err, c.plain.err);
  EXPECT_TRUE(c.trace.read_ok) << c.trace.error;
  for (const auto& d : c.trace.catalog.diagnostics) ADD_FAILURE() << d.message;
  EXPECT_TRUE(c.trace.catalog.ended_cleanly);
  EXPECT_GE(c.trace.allocs, min_allocs);
  EXPECT_EQ(c.trace.frees_of_unknown, 0u) << "every free pairs with a recorded allocation";
  EXPECT_EQ(c.trace.allocs_over_live, 0u);
  EXPECT_EQ(c.trace.catalog.out_of_order_events, 0u);
  EXPECT_LT(c.trace.allocs_without_stack, c.trace.allocs / 100 + 1) << "stacks are captured";
}

TEST(RealPrograms, Python) {
  TempDir dir;
  const char* script =
      "import json, threading, subprocess\n"
      "data = [{'k': i, 'v': str(i) * 3} for i in range(20000)]\n"
      "out = []\n"
      "def work(n):\n"
      "    out.append(len(json.dumps(data[n::4])))\n"
      "ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]\n"
      "[t.start() for t in ts]; [t.join() for t in ts]\n"
      "print(sorted(out), subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout.strip())\n";
  Comparison c = Compare(dir, {"/usr/bin/python3", "-c", script});
  // Small objects come from pymalloc's own arenas; malloc sees the large ones and the interpreter's.
  ExpectSameBehaviourAndCleanTrace(c, 1000);
}

TEST(RealPrograms, GitLogOnThisRepository) {
  TempDir dir;
  Comparison c = Compare(dir, {"git", "-C", SourcePath(""), "log", "--stat", "-n", "20"});
  ASSERT_EQ(c.plain.exit_code, 0) << c.plain.err;
  ExpectSameBehaviourAndCleanTrace(c, 100);
}

TEST(RealPrograms, Sqlite) {
  TempDir dir;
  std::string script =
      "create table t(id integer primary key, name text, v real);\n"
      "with recursive n(i) as (select 1 union all select i + 1 from n where i < 20000)\n"
      "  insert into t select i, 'name' || i, i * 0.5 from n;\n"
      "create index t_name on t(name);\n"
      "select count(*), sum(v), max(name) from t;\n"
      "select name from t where id % 5000 = 0 order by name;\n";
  Comparison c = Compare(dir, {"sqlite3", ":memory:"}, script);
  ASSERT_EQ(c.plain.exit_code, 0) << c.plain.err;
  EXPECT_NE(c.plain.out.find("20000|"), std::string::npos) << c.plain.out;
  ExpectSameBehaviourAndCleanTrace(c, 300);
}

std::string Messages(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) absl::StrAppend(&s, "message-", i, "-payload-payload-payload\n");
  return s;
}

TEST(RealPrograms, KcatIdempotentToMockCluster) {
  TempDir dir;
  Comparison c = Compare(dir,
                         {"kcat", "-P", "-b", "localhost:9092", "-t", "t", "-X", "test.mock.num.brokers=1", "-X",
                          "log_level=4", "-X", "enable.idempotence=true", "-X", "acks=all"},
                         Messages(100000));
  ASSERT_EQ(c.plain.exit_code, 0) << c.plain.err;
  ExpectSameBehaviourAndCleanTrace(c, 10000);
  EXPECT_GE(c.trace.catalog.threads.size(), 3u) << "librdkafka's threads are traced";
}

TEST(RealPrograms, KcatPlainToMockCluster) {
  TempDir dir;
  Comparison c = Compare(
      dir, {"kcat", "-P", "-b", "localhost:9092", "-t", "t", "-X", "test.mock.num.brokers=1", "-X", "log_level=4"},
      Messages(100000));
  ASSERT_EQ(c.plain.exit_code, 0) << c.plain.err;
  ExpectSameBehaviourAndCleanTrace(c, 10000);
}

TEST(RealPrograms, ShellPipelineWithManyForks) {
  TempDir dir;
  Comparison c = Compare(dir, {"bash", "-c", "for i in $(seq 1 20); do echo $i; done | sort -n | tail -3 | wc -l"});
  ExpectSameBehaviourAndCleanTrace(c, 10);
  EXPECT_GE(dir.Files().size(), 10u) << "every forked/exec'd process wrote its own trace";
  // Every trace of the tree ends cleanly: with an end record, or with the exec that replaced it.
  for (const auto& f : dir.Files()) {
    TraceSummary s = Summarize(dir / f);
    EXPECT_TRUE(s.catalog.ended_cleanly) << f;
  }
}

}  // namespace
}  // namespace allocprof::testing
