// Counts against valgrind's: each test program runs once under memcheck and once under allocprof,
// and the allocation, free and leaked-block counts must be equal, per process.
//
// How the two are compared:
// - valgrind runs with --run-libc-freeres=no and --run-cxx-freeres=no: by default it calls glibc's
//   and libstdc++'s exit-time release functions, which a normal run never does, so its frees and
//   blocks in use would differ from what any program sees without valgrind.
// - Allocations and frees: memcheck's "total heap usage: A allocs, F frees". A realloc that moves or
//   resizes a block is one allocation and one free in both; free(NULL) and a failed allocation are
//   neither.
// - Leaked blocks: valgrind sorts the blocks still allocated at exit into definitely, indirectly
//   and possibly lost, still reachable and suppressed; allocprof does not scan memory for pointers
//   and has one kind, "live at end" (the report's leaks, default suppressions included). The right
//   comparison is therefore all of valgrind's kinds together, its "in use at exit: B bytes in N
//   blocks", against allocprof's live blocks at the end of the trace and the report's
//   leaked_allocations (vg_leaks makes one block of each kind).
// - What valgrind cannot run is compared by difference: the program runs again under allocprof
//   with the case valgrind lacks (pvalloc, a throwing new that fails), and the difference must be
//   what the program did. A failing realloc, which valgrind counts as an allocation and a free
//   although nothing was allocated or freed, is compared the same way.
// - Processes: a forked child's heap is a copy of its parent's, and valgrind's child summary counts
//   the parent's allocations before the fork too; allocprof's child trace holds the child's own
//   events and frees of inherited blocks. The child's counts are the parent's trace up to the
//   child's start plus the child's trace. An exec'd image is compared with valgrind's summary of it
//   (--trace-children=yes); the image before the exec has no valgrind summary at all.
// valgrind comes with scripts/install-deps.sh; the suite takes about 30 s (valgrind is slow: the
// programs are small).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

struct Counts {
  uint64_t allocs = 0, frees = 0, leaked_blocks = 0;
  bool operator==(const Counts&) const = default;
  Counts operator+(const Counts& o) const {
    return {allocs + o.allocs, frees + o.frees, leaked_blocks + o.leaked_blocks};
  }
};

void PrintTo(const Counts& c, std::ostream* os) {
  *os << c.allocs << " allocs, " << c.frees << " frees, " << c.leaked_blocks << " blocks live at end";
}

uint64_t Number(const std::string& digits) {
  uint64_t n = 0;
  for (char c : digits) {
    if (c >= '0' && c <= '9') n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

bool HaveValgrind() { return RunProgram({"valgrind", "--version"}).exit_code == 0; }

// memcheck's summaries, by pid, in the order they were printed.
struct ValgrindRun {
  RunResult result;
  std::vector<uint64_t> pids;
  std::map<uint64_t, Counts> counts;
};

ValgrindRun Valgrind(const std::vector<std::string>& argv, const std::vector<std::string>& options = {}) {
  std::vector<std::string> command = {"valgrind", "--tool=memcheck", "--leak-check=full", "--run-libc-freeres=no",
                                      "--run-cxx-freeres=no"};
  command.insert(command.end(), options.begin(), options.end());
  command.insert(command.end(), argv.begin(), argv.end());
  ValgrindRun run;
  run.result = RunProgram(command);
  const std::string& err = run.result.err;
  std::regex in_use("==([0-9]+)== +in use at exit: [0-9,]+ bytes in ([0-9,]+) blocks");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), in_use); it != std::sregex_iterator(); ++it) {
    uint64_t pid = Number((*it)[1]);
    run.pids.push_back(pid);
    run.counts[pid].leaked_blocks = Number((*it)[2]);
  }
  std::regex usage("==([0-9]+)== +total heap usage: ([0-9,]+) allocs, ([0-9,]+) frees");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), usage); it != std::sregex_iterator(); ++it) {
    Counts& c = run.counts[Number((*it)[1])];
    c.allocs = Number((*it)[2]);
    c.frees = Number((*it)[3]);
  }
  return run;
}

// The one process valgrind summarized, which must have run to its end.
Counts ValgrindCounts(const std::vector<std::string>& argv, const std::vector<std::string>& options = {}) {
  ValgrindRun v = Valgrind(argv, options);
  EXPECT_EQ(v.result.exit_code, 0) << "under valgrind: " << v.result.err.substr(0, 3000);
  EXPECT_EQ(v.pids.size(), 1u) << v.result.err.substr(0, 3000);
  return v.pids.empty() ? Counts{} : v.counts[v.pids.back()];
}

Counts Of(const TraceSummary& s) { return Counts{s.allocs, s.frees, s.live_at_end}; }

// The program under allocprof: the counts of its one trace, checked against the report's totals.
struct AllocprofRun {
  RunResult result;
  Counts counts;
};

AllocprofRun Allocprof(const std::vector<std::string>& argv) {
  TempDir dir;
  AllocprofRun run;
  run.result = RunTraced(dir / "t.trace", argv, {"-q"});
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"t.trace"}) << "one process, one trace";
  TraceSummary s = Summarize(dir / "t.trace");
  EXPECT_FALSE(s.Damaged()) << s.error;
  EXPECT_TRUE(s.catalog.ended_cleanly);
  EXPECT_EQ(s.frees_of_unknown, 0u) << "frees of blocks the trace never saw allocated";
  EXPECT_EQ(s.allocs_over_live, 0u) << "an address allocated twice without a free between";
  run.counts = Of(s);
  // The report says the same (its leaks hold the suppressed runtime blocks too).
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--json", dir / "a.json", dir / "t.trace"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(ReadFile(dir / "a.json"), nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << r.err;
  if (!doc.is_discarded()) {
    EXPECT_EQ(doc["totals"]["allocations"], s.allocs);
    EXPECT_EQ(doc["totals"]["frees"], s.frees);
    EXPECT_EQ(doc["totals"]["leaked_allocations"], s.live_at_end);
  }
  return run;
}

std::string Vg(const std::string& name) { return Program("vg_" + name); }

// One case a program: what other profilers' test suites cover, each written for this suite.
class ValgrindCase : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(ValgrindCase, AllocationFreeAndLeakCountsAreValgrinds) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  std::vector<std::string> argv = GetParam();
  Counts v = ValgrindCounts(argv);
  EXPECT_GT(v.allocs, 0u);
  EXPECT_EQ(Allocprof(argv).counts, v);
}

INSTANTIATE_TEST_SUITE_P(
    Programs, ValgrindCase,
    ::testing::Values(std::vector<std::string>{Vg("realloc")}, std::vector<std::string>{Vg("aligned")},
                      std::vector<std::string>{Vg("new_delete")}, std::vector<std::string>{Vg("libc_strings")},
                      std::vector<std::string>{Vg("containers")}, std::vector<std::string>{Vg("exceptions")},
                      std::vector<std::string>{Vg("threads")}, std::vector<std::string>{Vg("xthread")},
                      std::vector<std::string>{Vg("atexit")}, std::vector<std::string>{Vg("leaks")},
                      std::vector<std::string>{Vg("zero")}, std::vector<std::string>{Vg("huge")},
                      std::vector<std::string>{Vg("usable_size")}, std::vector<std::string>{Vg("tls")},
                      std::vector<std::string>{Vg("libc_misc")}, std::vector<std::string>{Vg("streams")},
                      std::vector<std::string>{Vg("free_null")}, std::vector<std::string>{Vg("large")},
                      std::vector<std::string>{Vg("quick_exit")}, std::vector<std::string>{Vg("main_thread_exit")},
                      std::vector<std::string>{Program("entry_points"), "new[]_aligned_nothrow", "20"},
                      std::vector<std::string>{Program("entry_points"), "mismatch", "20"}),
    [](const ::testing::TestParamInfo<std::vector<std::string>>& case_info) {
      std::string name = case_info.param[0].substr(case_info.param[0].rfind('/') + 1);
      for (size_t i = 1; i < case_info.param.size(); ++i) name += "_" + case_info.param[i];
      for (char& c : name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// Of valgrind's blocks in use at exit, the report lists as leaks exactly the program's own:
// vg_containers leaks a vector and its buffer; the third block is libstdc++'s emergency exception
// pool, allocated by its static initializer (an unnamed frame: Debian's libstdc++ is stripped),
// which the default suppressions count apart.
TEST(Valgrind, LeakListHoldsTheProgramsLeaksAndNotTheRuntimes) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  Counts v = ValgrindCounts({Vg("containers")});
  EXPECT_EQ(v.leaked_blocks, 3u);
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Vg("containers")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunProgram({BuildPath("allocprof"), "analyze", "--json", dir / "a.json", dir / "t.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(ReadFile(dir / "a.json"));
  uint64_t listed = 0;
  for (const nlohmann::json& leak : doc["stacks"]["leaks"]) listed += leak["leaked_allocations"].get<uint64_t>();
  EXPECT_EQ(listed, 2u) << doc["stacks"]["leaks"].dump();
  EXPECT_EQ(doc["stacks"]["suppressed_leaks"]["blocks"], 1u);
  EXPECT_EQ(doc["totals"]["leaked_allocations"], v.leaked_blocks);
}

// What valgrind cannot run, or counts although nothing happened: the same program with and
// without the case, under allocprof, differs by exactly what the case did.
TEST(Valgrind, PvallocIsCountedAsItsAllocations) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  Counts v = ValgrindCounts({Vg("aligned")});
  Counts with = Allocprof({Vg("aligned"), "pvalloc"}).counts;
  EXPECT_EQ(with, (v + Counts{11, 10, 1})) << "10 pvalloc/free pairs and one leaked pvalloc";
}

TEST(Valgrind, FailedAllocationsAreNotAllocations) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  Counts v = ValgrindCounts({Vg("huge")});
  // 5 throwing new[] that fail: each throws a bad_alloc (__cxa_allocate_exception: an allocation
  // and, once caught, a free); the failed new[] itself is not an allocation.
  EXPECT_EQ(Allocprof({Vg("huge"), "throw"}).counts, (v + Counts{5, 5, 0}));
  // 5 failing reallocs: valgrind counts 5 allocations and 5 frees; nothing was allocated or freed.
  Counts v_realloc = ValgrindCounts({Vg("huge"), "realloc"});
  EXPECT_EQ(v_realloc, (v + Counts{1 + 5, 1 + 5, 0})) << "the realloc'd block, and valgrind's 5 of each";
  EXPECT_EQ(Allocprof({Vg("huge"), "realloc"}).counts, (v + Counts{1, 1, 0})) << "the realloc'd block only";
}

// A process tree: the parent compared with valgrind's parent, the child with valgrind's child.
TEST(Valgrind, ForkedChildAndParentAreValgrindsProcesses) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  ValgrindRun v = Valgrind({Vg("fork")});
  ASSERT_EQ(v.result.exit_code, 0) << v.result.err;
  ASSERT_EQ(v.pids.size(), 2u) << v.result.err;  // the child exits (and is summarized) first
  Counts v_child = v.counts[v.pids[0]], v_parent = v.counts[v.pids[1]];

  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Vg("fork")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> files = dir.Files();
  ASSERT_EQ(files.size(), 2u);
  TraceSummary parent = Summarize(dir / "t.trace");
  TraceSummary child = Summarize(dir / files[1]);
  ASSERT_FALSE(parent.Damaged()) << parent.error;
  ASSERT_FALSE(child.Damaged()) << child.error;
  ASSERT_TRUE(child.catalog.process.forked());
  EXPECT_EQ(Of(parent), v_parent);

  // The child as valgrind sees it: the parent's events until the child started (the parent waits
  // for the child before it allocates again), then the child's own.
  struct Replay : EventSink {
    uint64_t until = 0;
    Counts counts;
    absl::flat_hash_map<uint64_t, bool> live;
    void OnEvent(const Event& e) override {
      if (e.kind != EventKind::kHeap || e.time >= until) return;
      if (e.is_free) {
        ++counts.frees;
        live.erase(e.addr);
      } else {
        ++counts.allocs;
        live[e.addr] = true;
      }
    }
  } replay;
  replay.until = child.catalog.process.start_monotonic_ns;
  ProcessCatalog catalog;
  ASSERT_TRUE(ReadProcessTrace(dir / "t.trace", &replay, &catalog).ok());
  EXPECT_EQ(replay.counts, (Counts{10, 6, 0})) << "the parent's 10 blocks before the fork, 6 freed";
  replay.until = UINT64_MAX;
  ASSERT_TRUE(ReadProcessTrace(dir / files[1], &replay, &catalog).ok());
  replay.counts.leaked_blocks = replay.live.size();
  EXPECT_EQ(replay.counts, v_child);
  EXPECT_EQ(child.frees_of_unknown, 3u) << "the 3 inherited blocks the child frees";
}

TEST(Valgrind, ExecdImageIsValgrindsProcess) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  Counts v = ValgrindCounts({Vg("exec")}, {"--trace-children=yes"});
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Vg("exec")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> files = dir.Files();
  ASSERT_EQ(files.size(), 2u);
  TraceSummary before = Summarize(dir / "t.trace");
  TraceSummary image = Summarize(dir / files[1]);
  ASSERT_FALSE(image.Damaged()) << image.error;
  EXPECT_EQ(Of(image), v);
  EXPECT_EQ(image.AllocsOfSize(4444), 40u);
  // Before the exec, against the program: 10 blocks of 1111 bytes, 7 freed.
  EXPECT_EQ(before.AllocsOfSize(1111), 10u);
  EXPECT_EQ(before.FreesOfSize(1111), 7u);
}

// Signal handlers that allocate while their thread allocates, a handler on every thread: the number
// of handler calls differs from run to run (valgrind delivers signals only between its blocks of
// translated code), so each run is compared with its own tally, and what is not the handlers' with
// valgrind's count.
TEST(Valgrind, SignalHandlerAllocationsAgainstTheProgramsTally) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  std::vector<std::string> argv = {Program("signal_alloc"), "3", "4000"};
  ValgrindRun v = Valgrind(argv);
  ASSERT_EQ(v.result.exit_code, 0) << v.result.err;
  ASSERT_EQ(v.pids.size(), 1u);
  SignalAllocTally v_tally = ParseSignalAllocTally(v.result.out);
  ASSERT_EQ(v_tally.loop, 3u * (4000 + 10));
  // A handler call: malloc, then realloc (an allocation and a free), then free: 2 and 2.
  Counts v_base = v.counts[v.pids[0]];
  v_base.allocs -= v_tally.handler;
  v_base.frees -= v_tally.handler;

  AllocprofRun a = Allocprof(argv);
  SignalAllocTally a_tally = ParseSignalAllocTally(a.result.out);
  EXPECT_EQ(a_tally.loop, v_tally.loop);
  printf("[   INFO   ] handler allocations: %lu under valgrind, %lu under allocprof\n",
         static_cast<unsigned long>(v_tally.handler), static_cast<unsigned long>(a_tally.handler));
  EXPECT_EQ(a.counts, (v_base + Counts{a_tally.handler, a_tally.handler, 0}));
}

// dlopen, leak, dlclose of two libraries of the same layout (usually mapped at the same base):
// valgrind's counts, and each leak's row in the report names its own library and function.
TEST(Valgrind, ReloadedLibrariesLeaksNameTheirLibraryAndFunction) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  std::string programs = Program("libreload_a.so");
  programs.resize(programs.rfind('/'));
  std::vector<std::string> argv = {Program("reload_main"), programs, "./libreload_a.so",
                                   "reload_a_keep",        "1111",   "./libreload_b.so",
                                   "reload_b_keep",        "2222"};
  Counts v = ValgrindCounts(argv);
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", argv, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(dir / "t.trace");
  EXPECT_EQ(Of(s), v);
  RunResult report = RunProgram({BuildPath("allocprof"), "analyze", "--json", dir / "a.json", dir / "t.trace"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  nlohmann::json doc = nlohmann::json::parse(ReadFile(dir / "a.json"));
  for (auto [bytes, function, library] :
       {std::tuple{1111, "reload_a_keep", "/libreload_a.so"}, std::tuple{2222, "reload_b_keep", "/libreload_b.so"}}) {
    const nlohmann::json* row = nullptr;
    for (const nlohmann::json& leak : doc["stacks"]["leaks"]) {
      if (leak["leaked_bytes"] == bytes) row = &leak;
    }
    ASSERT_NE(row, nullptr) << "the leak of " << bytes << " bytes: " << doc["stacks"]["leaks"].dump();
    EXPECT_TRUE(absl::StartsWith((*row)["label"].get<std::string>(), function)) << row->dump();
    const nlohmann::json& leaf = (*row)["frames"][0];
    EXPECT_EQ(leaf["function"], function) << row->dump();
    EXPECT_TRUE(absl::EndsWith(leaf["module"].get<std::string>(), library)) << row->dump();
  }
  EXPECT_EQ(report.out.find("module missing"), std::string::npos) << report.out;
}

// A program that dlopens the libraries the shim itself could need (libm, libzstd) must find them
// unloaded, as without the shim, so that the loader's allocations for them (about 6 blocks each,
// freed at dlclose) happen and are counted: the shim has its own logarithm and a private copy of
// zstd. The program says whether each library was loaded before its dlopen; linked with neither.
// Runs argv under valgrind, under allocprof and alone: the counts must be valgrind's and the
// output under the shim the program's own. Returns that output.
std::string ExpectValgrindCountsAndOwnOutput(const std::vector<std::string>& argv) {
  Counts v = ValgrindCounts(argv);
  AllocprofRun a = Allocprof(argv);
  EXPECT_EQ(a.counts, v);
  RunResult alone = RunProgram(argv);
  EXPECT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_EQ(a.result.out, alone.out) << "under the shim as without it";
  return alone.out;
}

TEST(Valgrind, LibrariesTheShimCouldNeedAreLoadedByTheProgramsDlopen) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  std::string out = ExpectValgrindCountsAndOwnOutput({Program("dlopen_deps")});
  EXPECT_NE(out.find("libm.so.6: loaded before dlopen no, cos 1, loaded after dlclose no"), std::string::npos) << out;
  EXPECT_NE(out.find("libzstd.so.1: loaded before dlopen no"), std::string::npos) << out;
}

// A program linked with its own libzstd: its ZSTD_* calls reach libzstd.so.1 (the shim exports
// none of its copy's), and their allocations (zstd's contexts, from malloc) are counted as valgrind
// counts them; the shim's own contexts use mmap and are not the program's.
TEST(Valgrind, ProgramsOwnZstdIsItsOwnUnderTheShim) {
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed";
  std::string out = ExpectValgrindCountsAndOwnOutput({Program("zstd_user")});
  EXPECT_NE(out.find("ZSTD_compress in libzstd.so.1\nround trip ok"), std::string::npos) << out;
}

}  // namespace
}  // namespace allocprof::testing
