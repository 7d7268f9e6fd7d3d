// A process tree as one run: analyze, report, diff and export given the root trace find its child
// traces, list the processes, report the one that allocated most (or --process), and count frees
// of blocks a forked child inherited as inherited, not as anomalies.
#include "read/run_tree.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

using json = nlohmann::json;

// processes fork-inherit: the parent (pid in t.trace) allocates 12 + 30, the forked child 200.
struct ForkRun {
  TempDir dir;
  std::string root, child;
  uint64_t child_pid = 0;
  ForkRun() {
    root = dir / "t.trace";
    RunResult r = RunTraced(root, {Program("processes"), "fork-inherit"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const auto& f : dir.Files()) {
      if (absl::StartsWith(f, "t.trace.") && absl::SimpleAtoi(f.substr(8), &child_pid)) child = dir / f;
    }
    EXPECT_FALSE(child.empty()) << "the forked child's trace";
  }
};

TEST(RunTree, AnalyzeOfTheRootListsTheProcessesAndReportsTheOneThatAllocatedMost) {
  ForkRun run;
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", run.dir / "a.json", run.root});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Processes: 2 traces in this run, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(absl::StrCat("most allocations: pid ", run.child_pid, " processes (t.trace.", run.child_pid,
                                    "), 200 (")),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("== " + run.child), std::string::npos) << "the child is reported";
  EXPECT_EQ(r.out.find("== " + run.root + " "), std::string::npos) << "and only the child";
  json doc = json::parse(ReadFile(run.dir / "a.json"));
  ASSERT_EQ(doc["run"]["processes"].size(), 2u);
  EXPECT_EQ(doc["run"]["processes"][0]["file"], run.root);
  EXPECT_EQ(doc["run"]["reported"], 1);
  EXPECT_EQ(doc["run"]["most_allocating"], 1);
  EXPECT_EQ(doc["process"]["pid"], run.child_pid);
  EXPECT_EQ(doc["totals"]["allocations"], 200u);
}

TEST(RunTree, FreesOfBlocksInheritedAtForkAreCountedAsInheritedNotAsAnomalies) {
  ForkRun run;
  RunResult r = RunProgram(
      {BuildPath("allocprof"), "analyze", "--no-symbols", "--all-processes", "--json", run.dir / "a.json", run.root});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("never saw allocated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inherited at fork               12   freed, allocated by the parent before the fork"),
            std::string::npos)
      << r.out;
  json doc = json::parse(ReadFile(run.dir / "a.json"));
  ASSERT_EQ(doc["processes"].size(), 2u) << "--all-processes";
  EXPECT_EQ(doc["totals"]["frees_inherited_at_fork"], 12u);
  EXPECT_EQ(doc["totals"]["frees_of_unknown"], 0u);
  EXPECT_EQ(doc["totals"]["frees"], 212u);
  EXPECT_TRUE(doc["warnings"].empty()) << doc["warnings"].dump();
  EXPECT_FALSE(doc["run"]["processes"][0]["forked"]);
  EXPECT_TRUE(doc["run"]["processes"][1]["forked"]);
}

TEST(RunTree, ProcessPicksOneByPidOrNameAndAnUnknownOneIsACommandLineError) {
  ForkRun run;
  std::string root_pid;
  for (const char* pick : {"parent-pid", "t.trace"}) {
    json doc;
    std::string selector = pick;
    if (selector == "parent-pid") {
      RunResult all = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", "-", run.root});
      ASSERT_EQ(all.exit_code, 0) << all.err;
      selector = json::parse(all.out)["run"]["processes"][0]["pid"].dump();
    }
    RunResult r =
        RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--process", selector, "--json", "-", run.root});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    doc = json::parse(r.out);
    EXPECT_GE(doc["totals"]["allocations"].get<uint64_t>(), 42u) << selector << ": the parent's 12 + 30 (+ libc's)";
    EXPECT_LT(doc["totals"]["allocations"].get<uint64_t>(), 100u) << selector;
    EXPECT_EQ(doc["run"]["reported_because"], "--process " + selector);
  }
  RunResult bad = RunProgram({BuildPath("allocprof"), "analyze", "--process", "nosuch", run.root});
  EXPECT_EQ(bad.exit_code, 64);
  EXPECT_NE(bad.err.find("--process nosuch: no process of this run is named nosuch; its processes: pid "),
            std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find(absl::StrCat("pid ", run.child_pid, " processes (t.trace.", run.child_pid, ")")),
            std::string::npos)
      << bad.err;
}

TEST(RunTree, ExportAndDiffOfTheRootUseTheProcessThatAllocatedMost) {
  ForkRun run;
  RunResult r = RunProgram({BuildPath("allocprof"), "export", "--no-symbols", run.root, "--format", "folded",
                            "--weight", "calls", "-o", run.dir / "t.folded"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(absl::StrCat("2 traces in this run; exporting pid ", run.child_pid)), std::string::npos)
      << r.err;
  uint64_t calls = 0;
  std::ifstream folded(run.dir / "t.folded");
  for (std::string line; std::getline(folded, line);) {
    uint64_t n = 0;
    if (absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &n)) calls += n;
  }
  EXPECT_EQ(calls, 200u) << "the child's allocations";

  RunResult d = RunProgram({BuildPath("allocprof"), "diff", "--no-symbols", run.root, run.root});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_NE(d.out.find(absl::StrCat(run.root, ": pid ", run.child_pid, " processes (", run.child,
                                    ") of 2 processes, allocated most")),
            std::string::npos)
      << d.out;
  EXPECT_NE(d.out.find("the same command as the other side (processes)"), std::string::npos) << d.out;
}

// Sampled mode (issue 16 item 4): a rule on a figure sampling cannot estimate is refused, not
// silently skipped.
TEST(SampledDiff, ARuleOnTemporariesOfASampledSideIsRefused) {
  TempDir dir;
  std::ofstream(dir / "full.json") << R"({"schema_version":1,"totals":{"allocations":100,"temporary_allocations":3}})";
  std::ofstream(dir / "sampled.json")
      << R"({"schema_version":1,"sampling":{"interval_bytes":65536,"estimated":true,"samples":10,)"
         R"("allocations_rel_error":0.1,"bytes_rel_error":0.01},)"
         R"("totals":{"allocations":100,"temporary_allocations":null}})";
  RunResult r = RunProgram({BuildPath("allocprof"), "diff", "--fail-if", "temporary_allocations>1.1x",
                            dir / "full.json", dir / "sampled.json"});
  EXPECT_EQ(r.exit_code, 64) << r.out;
  EXPECT_NE(r.err.find("rule 'temporary_allocations>1.1x': temporary_allocations is not available when sampling "
                       "(AFTER: sampled trace (--sample 64.0 KiB)"),
            std::string::npos)
      << r.err;
  r = RunProgram(
      {BuildPath("allocprof"), "diff", "--fail-if", "allocations>1.1x", dir / "full.json", dir / "sampled.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = RunProgram({BuildPath("allocprof"), "diff", "--fail-if", "temporary_allocations>1.1x", dir / "full.json",
                  dir / "full.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(RunTree, ChildTracesAreTheRootsNameWithAPidAndAnImageNumber) {
  TempDir dir;
  for (const char* name : {"r.trace", "r.trace.12", "r.trace.12.2", "r.trace.9", "r.trace.json", "r.trace.12.txt",
                           "r.trace.12.1", "r.trace.x12", "r.trace.12.2.3", "other.trace.5"}) {
    std::ofstream(dir / name) << "x";
  }
  std::vector<std::string> found = FindChildTraces(dir / "r.trace");
  EXPECT_EQ(found, (std::vector<std::string>{dir / "r.trace.9", dir / "r.trace.12", dir / "r.trace.12.2"}));
  EXPECT_EQ(FindChildTraces(dir / "other.trace"), std::vector<std::string>{dir / "other.trace.5"});
  EXPECT_TRUE(FindChildTraces(dir / "none.trace").empty());
}

TEST(RunTree, ProcessNamesMatchTheCommandOrTheExeWithAVersion) {
  ProcessInfo p;
  p.exe = "/usr/bin/python3.11";
  p.command_line = std::string("/usr/bin/python3\0-c\0pass", 24);
  EXPECT_EQ(CommandName(p), "python3");
  EXPECT_TRUE(ProcessNameMatches(p, "python3"));
  EXPECT_TRUE(ProcessNameMatches(p, "python3.11"));
  EXPECT_TRUE(ProcessNameMatches(p, "python"));
  EXPECT_FALSE(ProcessNameMatches(p, "pyth"));
  EXPECT_FALSE(ProcessNameMatches(p, "bash"));
}

}  // namespace
}  // namespace allocprof::testing
