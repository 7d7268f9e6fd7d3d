// Runs programs under the shim (really preloaded, through `allocprof run`) and checks their traces.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "harness.h"
#include "hooks/interposed.h"
#include "record/clock.h"
#include "util/exit_codes.h"

namespace allocprof::testing {
namespace {

using format::EntryPoint;

std::string Trace(const TempDir& dir) { return dir / "t.trace"; }

void ExpectClean(const TraceSummary& s) {
  EXPECT_TRUE(s.read_ok) << s.error;
  EXPECT_FALSE(s.Damaged());
  for (const auto& d : s.catalog.diagnostics) ADD_FAILURE() << d.message;
  EXPECT_EQ(s.frees_of_unknown, 0u);
  EXPECT_EQ(s.allocs_over_live, 0u);
  EXPECT_EQ(s.catalog.out_of_order_events, 0u);
  EXPECT_EQ(s.UndefinedStacks(), std::vector<uint32_t>{}) << "allocations name stacks the trace never defines";
}

// ---- entry points: exact counts ----

// The tables in allocprof/trace_format.h and hooks/interposed.h name every function the shim must
// define; attach patches exactly those, and the wrappers written by hand must not be forgotten.
TEST(Shim, DefinesEveryFunctionItsTablesName) {
  std::string command = "nm -D --defined-only '" + BuildPath("liballocprof.so") + "'";
  FILE* nm = popen(command.c_str(), "r");
  ASSERT_NE(nm, nullptr);
  std::set<std::string> defined;
  char line[512], type[8], name[400];
  while (fgets(line, sizeof(line), nm)) {
    if (sscanf(line, "%*s %7s %399s", type, name) == 2 && (type[0] == 'T' || type[0] == 'W')) defined.insert(name);
  }
  ASSERT_EQ(pclose(nm), 0);
  ASSERT_GT(defined.size(), 40u);
  for (const shim::InterposedFunction& f : shim::kPatchOrder.functions)
    EXPECT_TRUE(defined.count(f.symbol)) << f.symbol;
}

struct EntryCase {
  const char* key;
  std::map<EntryPoint, uint64_t> per_iteration;
};

std::ostream& operator<<(std::ostream& os, const EntryCase& c) { return os << c.key; }

class EntryPointTest : public ::testing::TestWithParam<EntryCase> {};

TEST_P(EntryPointTest, TraceHoldsExactlyTheCallsMade) {
  constexpr uint64_t kIterations = 200;
  const EntryCase& c = GetParam();
  TempDir dir;
  RunResult zero = RunTraced(dir / "zero.trace", {Program("entry_points"), c.key, "0"});
  RunResult many = RunTraced(dir / "many.trace", {Program("entry_points"), c.key, std::to_string(kIterations)});
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  ASSERT_EQ(many.exit_code, 0) << many.err;
  TraceSummary a = Summarize(dir / "zero.trace");
  TraceSummary b = Summarize(dir / "many.trace");
  ExpectClean(a);
  ExpectClean(b);
  for (int e = 0; e < static_cast<int>(EntryPoint::kCount); ++e) {
    auto entry = static_cast<EntryPoint>(e);
    uint64_t expected = c.per_iteration.count(entry) ? c.per_iteration.at(entry) * kIterations : 0;
    EXPECT_EQ(b.Entry(entry) - a.Entry(entry), expected) << format::kEntryPoints[e].name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllEntryPoints, EntryPointTest,
    ::testing::Values(
        EntryCase{"malloc", {{EntryPoint::kMalloc, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"calloc", {{EntryPoint::kCalloc, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"realloc", {{EntryPoint::kRealloc, 2}, {EntryPoint::kReallocFree, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"reallocarray", {{EntryPoint::kReallocarray, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"posix_memalign", {{EntryPoint::kPosixMemalign, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"aligned_alloc", {{EntryPoint::kAlignedAlloc, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"memalign", {{EntryPoint::kMemalign, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"valloc", {{EntryPoint::kValloc, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"pvalloc", {{EntryPoint::kPvalloc, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"free_sized", {{EntryPoint::kMalloc, 1}, {EntryPoint::kFreeSized, 1}}},
        EntryCase{"free_aligned_sized", {{EntryPoint::kAlignedAlloc, 1}, {EntryPoint::kFreeAlignedSized, 1}}},
        EntryCase{"malloc_usable_size", {{EntryPoint::kMalloc, 1}, {EntryPoint::kFree, 1}}},
        EntryCase{"new", {{EntryPoint::kNew, 1}, {EntryPoint::kDelete, 1}}},
        EntryCase{"new[]", {{EntryPoint::kNewArray, 1}, {EntryPoint::kDeleteArray, 1}}},
        EntryCase{"new_nothrow", {{EntryPoint::kNewNothrow, 1}, {EntryPoint::kDeleteNothrow, 1}}},
        EntryCase{"new[]_nothrow", {{EntryPoint::kNewArrayNothrow, 1}, {EntryPoint::kDeleteArrayNothrow, 1}}},
        EntryCase{"new_aligned", {{EntryPoint::kNewAligned, 1}, {EntryPoint::kDeleteAligned, 1}}},
        EntryCase{"new[]_aligned", {{EntryPoint::kNewArrayAligned, 1}, {EntryPoint::kDeleteArrayAligned, 1}}},
        EntryCase{"new_aligned_nothrow", {{EntryPoint::kNewAlignedNothrow, 1}, {EntryPoint::kDeleteAlignedNothrow, 1}}},
        EntryCase{"new[]_aligned_nothrow",
                  {{EntryPoint::kNewArrayAlignedNothrow, 1}, {EntryPoint::kDeleteArrayAlignedNothrow, 1}}},
        EntryCase{"delete_sized", {{EntryPoint::kNew, 1}, {EntryPoint::kDeleteSized, 1}}},
        EntryCase{"delete[]_sized", {{EntryPoint::kNewArray, 1}, {EntryPoint::kDeleteArraySized, 1}}},
        EntryCase{"delete_sized_aligned", {{EntryPoint::kNewAligned, 1}, {EntryPoint::kDeleteSizedAligned, 1}}},
        EntryCase{"delete[]_sized_aligned",
                  {{EntryPoint::kNewArrayAligned, 1}, {EntryPoint::kDeleteArraySizedAligned, 1}}}),
    [](const ::testing::TestParamInfo<EntryCase>& param_info) {
      std::string name = param_info.param.key;
      for (char& ch : name) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(Shim, FailingNothrowNewCallsTheNewHandlerAndReturnsNull) {
  TempDir dir;
  RunResult plain = RunProgram({Program("entry_points"), "nothrow_handler", "3"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  RunResult r = RunTraced(Trace(dir), {Program("entry_points"), "nothrow_handler", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, plain.out);
  TraceSummary s = Summarize(Trace(dir));
  ExpectClean(s);
  EXPECT_EQ(s.Entry(format::EntryPoint::kNewNothrow), 3u) << "each successful nothrow new, once";
}

TEST(Shim, FailingOperatorNewStillThrowsBadAlloc) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("entry_points"), "new_fail", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ExpectClean(Summarize(Trace(dir)));
}

// ---- threads ----

// Under both clocks (shim/record/clock.h): the calibrated TSC (forced, whatever the host's
// clocksource), read with rdtscp or lfence+rdtsc as the CPU allows, and clock_gettime. The shim
// says when a forced TSC could not serve; that must happen exactly when this CPU has no ordered
// TSC read.
TEST(Shim, CrossThreadFreesPairWithTheirOwnAllocations) {
  bool cpu_reads_tsc_in_order = shim::ChooseTscRead(shim::ReadCpuTscFacts()) != shim::TscRead::kNone;
  for (const char* clock : {"tsc", "vdso"}) {
    SCOPED_TRACE(clock);
    TempDir dir;
    RunResult r =
        RunProgram({BuildPath("allocprof"), "run", "-o", Trace(dir), "--", Program("xthread_free"), "4", "100000"},
                   {std::string("ALLOCPROF_TEST_CLOCK=") + clock});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    bool tsc_refused = r.err.find("ALLOCPROF_TEST_CLOCK=tsc:") != std::string::npos;
    EXPECT_EQ(tsc_refused, std::string(clock) == "tsc" && !cpu_reads_tsc_in_order) << r.err;
    TraceSummary s = Summarize(Trace(dir));
    ExpectClean(s);
    EXPECT_EQ(s.AllocsOfSize(48), 400000u);
    EXPECT_EQ(s.FreesOfSize(48), 400000u);
    EXPECT_GE(s.catalog.threads.size(), 9u);
  }
}

TEST(Shim, ThousandThreadsCreatedAndJoined) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("many_threads"), "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(Trace(dir));
  ExpectClean(s);
  EXPECT_EQ(s.AllocsOfSize(5555), 10000u);
  EXPECT_EQ(s.FreesOfSize(5555), 10000u);
  int workers = 0, ended = 0;
  for (const auto& [index, t] : s.catalog.threads) {
    workers += t.name == "worker";
    ended += t.ended;
  }
  EXPECT_EQ(workers, 1000);
  EXPECT_GE(ended, 1000);
}

// ---- processes ----

struct Traces {
  std::map<std::string, TraceSummary> by_file;
  const TraceSummary* WithSize(uint64_t size) const {
    for (const auto& [name, s] : by_file) {
      if (s.AllocsOfSize(size)) return &s;
    }
    return nullptr;
  }
};

Traces ReadAllTraces(const TempDir& dir) {
  Traces t;
  for (const auto& f : dir.Files()) t.by_file.emplace(f, Summarize(dir / f));
  return t;
}

// `processes MODE` traced: the parent's and the forked child's traces (the child's is the one with
// 2222-byte allocations), both clean.
void RunForkedProcesses(const TempDir& dir, const char* mode, Traces* t, const TraceSummary** parent,
                        const TraceSummary** child) {
  RunResult r = RunTraced(Trace(dir), {Program("processes"), mode});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  *t = ReadAllTraces(dir);
  ASSERT_EQ(t->by_file.size(), 2u);
  *parent = &t->by_file.at("t.trace");
  *child = t->WithSize(2222);
  ASSERT_NE(*child, nullptr);
  ExpectClean(**parent);
  ExpectClean(**child);
}

TEST(Shim, ForkedChildWritesItsOwnTrace) {
  TempDir dir;
  Traces t;
  const TraceSummary *p = nullptr, *child = nullptr;
  ASSERT_NO_FATAL_FAILURE(RunForkedProcesses(dir, "fork", &t, &p, &child));
  const TraceSummary& parent = *p;
  EXPECT_EQ(parent.AllocsOfSize(1111), 10u);
  EXPECT_EQ(parent.AllocsOfSize(3333), 30u);
  EXPECT_EQ(parent.AllocsOfSize(2222), 0u);
  EXPECT_EQ(child->AllocsOfSize(2222), 20u);
  EXPECT_EQ(child->AllocsOfSize(1111), 0u) << "the parent's buffered events must not be repeated";
  EXPECT_EQ(child->catalog.process.ppid, parent.catalog.process.pid);
  EXPECT_TRUE(parent.catalog.ended_cleanly);
  EXPECT_TRUE(child->catalog.ended_cleanly);
}

// The stack walker's memory of a call path keeps the stack id it was given; a forked child inherits
// it, but the id's definition is in the parent's trace, so the child must define it in its own.
TEST(Shim, ACallPathWalkedBeforeTheForkIsDefinedInTheChildsTrace) {
  TempDir dir;
  Traces t;
  const TraceSummary *parent = nullptr, *child = nullptr;
  ASSERT_NO_FATAL_FAILURE(RunForkedProcesses(dir, "fork-same-site", &t, &parent, &child));
  EXPECT_EQ(parent->AllocsOfSize(1111), 10u + 40u) << "every mode starts with 10";
  EXPECT_EQ(parent->AllocsOfSize(3333), 40u);
  EXPECT_EQ(child->AllocsOfSize(2222), 40u);
  EXPECT_EQ(child->allocs_without_stack, 0u);
  EXPECT_FALSE(child->stack_ids.empty());
}

TEST(Shim, ForkThenExecTracesEveryImage) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("processes"), "fork-exec"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "child done\n");
  Traces t = ReadAllTraces(dir);
  ASSERT_EQ(t.by_file.size(), 3u);
  EXPECT_EQ(t.by_file.at("t.trace").AllocsOfSize(3333), 30u);
  const TraceSummary* before_exec = t.WithSize(2222);
  const TraceSummary* after_exec = t.WithSize(4444);
  ASSERT_TRUE(before_exec && after_exec);
  EXPECT_EQ(before_exec->AllocsOfSize(2222), 20u);
  ASSERT_EQ(before_exec->catalog.execs.size(), 1u);
  EXPECT_EQ(after_exec->AllocsOfSize(4444), 40u);
  EXPECT_EQ(after_exec->catalog.process.pid, before_exec->catalog.process.pid);
  for (const auto& [name, s] : t.by_file) ExpectClean(s);
}

TEST(Shim, PosixSpawnedChildIsTraced) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("processes"), "spawn"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Traces t = ReadAllTraces(dir);
  ASSERT_EQ(t.by_file.size(), 2u);
  const TraceSummary* child = t.WithSize(4444);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->AllocsOfSize(4444), 40u);
  EXPECT_EQ(t.by_file.at("t.trace").AllocsOfSize(3333), 30u);
}

TEST(Shim, ExecInPlaceStartsASecondTrace) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("processes"), "exec"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Traces t = ReadAllTraces(dir);
  ASSERT_EQ(t.by_file.size(), 2u);
  EXPECT_EQ(t.by_file.at("t.trace").AllocsOfSize(1111), 10u);
  const TraceSummary* image2 = t.WithSize(4444);
  ASSERT_NE(image2, nullptr);
  EXPECT_EQ(image2->catalog.process.pid, t.by_file.at("t.trace").catalog.process.pid);
}

TEST(Shim, VforkChildsFailedExecLeavesTheParentTraced) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("processes"), "vfork-fail"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(Trace(dir));
  ExpectClean(s);
  EXPECT_EQ(s.AllocsOfSize(3333), 30u) << "the parent kept tracing after its vfork child's _exit";
  EXPECT_TRUE(s.catalog.execs.empty());
  EXPECT_TRUE(s.catalog.ended_cleanly);
}

TEST(Shim, ForkedChildStaysSingleThreaded) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("processes"), "fork-threads"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "child threads 1\n");
}

TEST(Shim, NoFollowLeavesExecdProgramsUntraced) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("processes"), "fork-exec"}, {"--no-follow"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Traces t = ReadAllTraces(dir);
  EXPECT_EQ(t.WithSize(4444), nullptr);
  EXPECT_NE(t.WithSize(2222), nullptr) << "the forked child (same image) is still traced";
}

// ---- libraries ----

TEST(Shim, DlopenedLibraryConstructorAllocationsAndModule) {
  TempDir dir;
  std::string lib = Program("libplugin.so");
  RunResult r = RunTraced(Trace(dir), {Program("dlopen_main"), lib});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(Trace(dir));
  ExpectClean(s);
  EXPECT_EQ(s.AllocsOfSize(12345), 7u);
  EXPECT_EQ(s.AllocsOfSize(6789), 1u);
  const ModuleInfo* plugin = nullptr;
  for (const auto& m : s.catalog.modules) {
    if (absl::EndsWith(m.path, "libplugin.so")) plugin = &m;
  }
  ASSERT_NE(plugin, nullptr) << "the dlopen'ed library is in the module map";
  EXPECT_FALSE(plugin->build_id.empty());
}

TEST(Shim, DeepBindIsReportedAndStillTraced) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("dlopen_main"), Program("libplugin.so"), "deepbind"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("RTLD_DEEPBIND"), std::string::npos) << r.err;
  TraceSummary s = Summarize(Trace(dir));
  ExpectClean(s);
  EXPECT_EQ(s.AllocsOfSize(12345), 7u);
  EXPECT_EQ(s.AllocsOfSize(6789), 1u);
  ASSERT_FALSE(s.catalog.shim_warnings.empty());
}

// ---- process end ----

TEST(Shim, UnderscoreExitFlushes) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("exits"), "_exit", "100"});
  EXPECT_EQ(r.exit_code, 3);
  TraceSummary s = Summarize(Trace(dir));
  ExpectClean(s);
  EXPECT_EQ(s.AllocsOfSize(7777), 100u);
  EXPECT_TRUE(s.catalog.ended_cleanly);
}

TEST(Shim, StaticConstructorsAndDestructorsAreRecorded) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("exits"), "static"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(Trace(dir));
  ExpectClean(s);
  EXPECT_EQ(s.AllocsOfSize(9991), 1u);
  EXPECT_EQ(s.FreesOfSize(9991), 1u);
  EXPECT_EQ(s.AllocsOfSize(9992), 1u) << "allocation in a static destructor, after main";
}

TEST(Shim, ErrnoIsPreserved) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("exits"), "errno"});
  EXPECT_EQ(r.exit_code, 0) << "exit code names the failed check: " << r.err;
}

TEST(Shim, SigkilledProgramLeavesAReadablePrefix) {
  TempDir dir;
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  pid_t runner = fork();
  if (runner == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(BuildPath("allocprof").c_str(), "allocprof", "run", "-q", "-o", Trace(dir).c_str(), "--",
          Program("exits").c_str(), "loop", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  int pid = 0;
  ASSERT_EQ(fscanf(f, "ready %d", &pid), 1);
  // The shim's flush and compression threads exist and block every signal, so they never take
  // the program's.
  std::set<std::string> helpers;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string comm = ReadFile(entry.path().string() + "/comm");
    if (comm != "allocprof-tick\n" && comm != "allocprof-zstd\n") continue;
    helpers.insert(comm);
    std::string status = ReadFile(entry.path().string() + "/status");
    size_t at = status.find("SigBlk:\t");
    ASSERT_NE(at, std::string::npos);
    uint64_t blocked = std::stoull(status.substr(at + 8, 16), nullptr, 16);
    // Everything a program handles is blocked (the kernel never lets SIGKILL/SIGSTOP be, and
    // glibc keeps its two internal signals).
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGWINCH, SIGPROF}) {
      EXPECT_TRUE(blocked & (uint64_t{1} << (sig - 1))) << "signal " << sig << " in " << status.substr(at, 26);
    }
  }
  EXPECT_EQ(helpers, (std::set<std::string>{"allocprof-tick\n", "allocprof-zstd\n"}));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(runner, &status, 0);
  fclose(f);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "run ends as the program did: " << status;
  TraceSummary s = Summarize(Trace(dir));
  EXPECT_TRUE(s.read_ok);
  for (const auto& d : s.catalog.diagnostics) {
    EXPECT_EQ(d.kind, Diagnostic::Kind::kTruncated) << "only the tail may be cut: " << d.message;
  }
  EXPECT_FALSE(s.catalog.ended_cleanly);
  EXPECT_GE(s.AllocsOfSize(8888), 50000u) << "everything flushed before the kill is readable";
  EXPECT_EQ(s.frees_of_unknown, 0u);
}

TEST(Shim, DiskFullStopsTracingButNotTheProgram) {
  TempDir dir;
  RunResult plain = RunProgram({Program("entry_points"), "malloc", "100000"});
  RunResult r =
      RunProgram({BuildPath("allocprof"), "run", "-o", Trace(dir), "--", Program("entry_points"), "malloc", "100000"},
                 {"ALLOCPROF_TEST_ENOSPC_AFTER=20000"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, plain.out);
  size_t messages = 0;
  for (size_t at = 0; (at = r.err.find("tracing stopped", at)) != std::string::npos; ++at) ++messages;
  EXPECT_EQ(messages, 1u) << r.err;
  EXPECT_NE(r.err.find("ENOSPC"), std::string::npos);
  TraceSummary s = Summarize(Trace(dir));
  EXPECT_TRUE(s.read_ok);
}

// A bad value in an ALLOCPROF_* variable (by-hand preload: nothing checked it before) is reported
// on stderr and in the trace, and the default is used; the program runs as it would untraced.
TEST(Shim, BadOptionValuesAreReportedAndTheDefaultsKept) {
  TempDir dir;
  RunResult plain = RunProgram({Program("entry_points"), "malloc", "10"});
  RunResult r =
      RunProgram({Program("entry_points"), "malloc", "10"},
                 {"LD_PRELOAD=" + BuildPath("liballocprof.so"), "ALLOCPROF_OUTPUT=" + Trace(dir),
                  "ALLOCPROF_ROOT_PID=abc", "ALLOCPROF_ZSTD_LEVEL=99", "ALLOCPROF_DEPTH=0", "ALLOCPROF_QUIET=1"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, plain.out);
  for (const char* message : {"ALLOCPROF_ROOT_PID must be a number in 1..2147483647 (got 'abc'); ignored",
                              "ALLOCPROF_ZSTD_LEVEL must be a number in -50..19 (got '99'); using the default, 1",
                              "ALLOCPROF_DEPTH must be a number in 1..1024 (got '0'); using the default, 64"}) {
    EXPECT_NE(r.err.find(std::string("allocprof: ") + message + "\n"), std::string::npos)
        << "even under ALLOCPROF_QUIET=1: " << r.err;
  }
  TraceSummary s = Summarize(Trace(dir));
  ExpectClean(s);
  EXPECT_EQ(s.catalog.process.max_depth, 64u);
  ASSERT_EQ(s.catalog.shim_warnings.size(), 3u);
  EXPECT_NE(s.catalog.shim_warnings[1].find("ALLOCPROF_ZSTD_LEVEL must be"), std::string::npos);
}

// ---- the run command ----

// run checks its flags and the variables its program would inherit with the shim's own parser,
// and refuses a bad one before anything starts.
TEST(Run, RefusesABadFlagOrInheritedVariableBeforeStarting) {
  TempDir dir;
  std::string marker = dir / "started";
  RunResult r = RunTraced(Trace(dir), {"touch", marker}, {"--flush-ms", "-1"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.err, "allocprof run: --flush-ms must be a number in 0..60000 (got '-1')\nsee 'allocprof run --help'\n");
  r = RunProgram({BuildPath("allocprof"), "run", "-o", Trace(dir), "--", "touch", marker}, {"ALLOCPROF_ZSTD_LEVEL=99"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.err,
            "allocprof run: ALLOCPROF_ZSTD_LEVEL (in the environment) must be a number in -50..19 (got '99')\nsee "
            "'allocprof run --help'\n");
  EXPECT_TRUE(dir.Files().empty()) << "neither the program nor the shim ran";
  // A flag replaces the variable; a good inherited variable reaches the shim.
  r = RunProgram({BuildPath("allocprof"), "run", "-q", "-o", Trace(dir), "--zstd-level", "3", "--", "touch", marker},
                 {"ALLOCPROF_ZSTD_LEVEL=99", "ALLOCPROF_DEPTH=5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Summarize(Trace(dir)).catalog.process.max_depth, 5u);
}

TEST(Run, RefusesAStaticallyLinkedProgram) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {Program("static_hello")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("statically linked"), std::string::npos) << r.err;
  EXPECT_TRUE(dir.Files().empty());
}

TEST(Run, NeverOverwritesWithoutForceNorFollowsOrReplacesSymlinks) {
  TempDir dir;
  { std::ofstream(dir / "t.trace") << "precious"; }
  RunResult r = RunTraced(Trace(dir), {Program("entry_points"), "malloc", "1"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(ReadFile(dir / "t.trace"), "precious");

  { std::ofstream(dir / "target") << "untouched"; }
  ASSERT_EQ(symlink((dir / "target").c_str(), (dir / "link.trace").c_str()), 0);
  r = RunTraced(dir / "link.trace", {Program("entry_points"), "malloc", "1"}, {"--force"});
  EXPECT_EQ(r.exit_code, kExitCantCreate) << r.err;
  EXPECT_NE(r.err.find("is a symlink"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "") << "the program must not run";
  EXPECT_EQ(ReadFile(dir / "target"), "untouched");
  struct stat st;
  ASSERT_EQ(lstat((dir / "link.trace").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  r = RunTraced(dir / "new.trace", {Program("entry_points"), "malloc", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(lstat((dir / "new.trace").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Run, HostileOutputPaths) {
  TempDir dir;
  // Spaces and a newline in the name: taken literally, never through a shell.
  std::string odd = dir / "a trace\nwith newline";
  RunResult r = RunTraced(odd, {Program("entry_points"), "malloc", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(odd);
  EXPECT_TRUE(s.read_ok) << s.error;
  EXPECT_EQ(s.Entry(EntryPoint::kMalloc) >= 10, true);
  // An unwritable directory: run refuses before the program starts; preloaded by hand, the shim
  // says why it cannot trace and the program still runs, unharmed.
  std::string locked = dir / "locked";
  ASSERT_EQ(mkdir(locked.c_str(), 0500), 0);
  if (geteuid() == 0) {
    // root writes anywhere: make the directory unusable another way (a file where the dir should be).
    rmdir(locked.c_str());
    { std::ofstream(locked) << "not a directory"; }
  }
  r = RunTraced(locked + "/t.trace", {Program("entry_points"), "malloc", "10"});
  EXPECT_EQ(r.exit_code, kExitCantCreate) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("cannot create " + locked + "/t.trace"), std::string::npos) << r.err;
  r = RunProgram({Program("entry_points"), "malloc", "10"},
                 {"LD_PRELOAD=" + BuildPath("liballocprof.so"), "ALLOCPROF_OUTPUT=" + locked + "/t.trace"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok malloc 10\n");
  EXPECT_NE(r.err.find("cannot create trace file"), std::string::npos) << r.err;
}

TEST(Run, ReturnsTheProgramsExitCode) {
  TempDir dir;
  RunResult r = RunTraced(Trace(dir), {"sh", "-c", "exit 7"});
  EXPECT_EQ(r.exit_code, 7);
  r = RunTraced(dir / "u.trace", {"no-such-command-allocprof"});
  EXPECT_EQ(r.exit_code, 127);
}

TEST(Dump, RejectsBadInputNamingFileAndOffset) {
  TempDir dir;
  { std::ofstream(dir / "junk") << "this is not a trace at all"; }
  RunResult r = RunProgram({BuildPath("allocprof"), "dump", dir / "junk"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir / "junk"), std::string::npos);
  EXPECT_NE(r.err.find("offset 0"), std::string::npos);

  ASSERT_EQ(RunTraced(Trace(dir), {Program("entry_points"), "malloc", "5000"}).exit_code, 0);
  std::string bytes = ReadFile(Trace(dir));
  { std::ofstream(dir / "cut.trace", std::ios::binary) << bytes.substr(0, bytes.size() - 10); }
  r = RunProgram({BuildPath("allocprof"), "dump", dir / "cut.trace"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("truncated at offset"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("alloc malloc"), std::string::npos) << "the prefix is still printed";
}

}  // namespace
}  // namespace allocprof::testing
