// allocprof attach: the shim loaded into programs that are already running, through gdb. Each
// test skips (naming the reason) where this machine does not permit ptrace.
#include <errno.h>
#include <gtest/gtest.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "harness.h"
#include "live_process.h"
#include "report/report.h"
#include "symbolize/symbolizer.h"
#include "util/exit_codes.h"

namespace allocprof::testing {
namespace {

// Attaches to `pid` (exit code kExitNotPermitted where ptrace is not permitted here).
RunResult Attach(pid_t pid, const std::string& trace) {
  return RunProgram({BuildPath("allocprof"), "attach", "-q", "-o", trace, std::to_string(pid)});
}

AnalysisReport AnalyzeOne(const std::string& trace) {
  AnalysisOptions options;
  options.symbolize = false;
  auto report = Analyze({trace}, options, false);
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : AnalysisReport{};
}

uint64_t Calls(const ProcessReport& p, const std::string& entry) {
  for (const auto& [name, cb] : p.by_entry) {
    if (name == entry) return cb.first;
  }
  return 0;
}

void ExpectNoFreeWarnings(const ProcessReport& p) {
  for (const auto& w : p.warnings) {
    EXPECT_FALSE(absl::StrContains(w, "never saw allocated")) << w;
  }
  EXPECT_EQ(p.totals.frees_of_unknown, 0u);
  EXPECT_EQ(p.totals.mismatched_frees, 0u);
}

// attach_target (tests/programs/attach_target.cc) allocates 65 blocks, waits while we attach, frees
// them (5 through realloc), makes 1,855 allocations of its own and one through a plugin it dlopens
// after the attach, frees them all, and exits. The plugin's constructor allocates 7 blocks inside
// dlopen, before the new object is patched; its destructor frees them.
TEST(Attach, CountsExactlyFromTheAttachAndCountsPreAttachFreesApart) {
  TempDir dir;
  LiveProcess target({Program("attach_target"), "libplugin.so"});  // found through its RUNPATH
  ASSERT_TRUE(target.WaitForStdout("ready\n")) << target.err();
  RunResult attach = Attach(target.pid(), dir / "t.trace");
  if (attach.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << attach.err;
  ASSERT_EQ(attach.exit_code, 0) << attach.err;
  ASSERT_TRUE(target.Write("go\n"));
  ASSERT_EQ(target.Wait(), 0) << target.err();
  EXPECT_EQ(target.out(), "ready\ndone\n");
  EXPECT_EQ(target.err(), "") << "the shim says nothing on the program's stderr";

  TraceSummary s = Summarize(dir / "t.trace");
  ASSERT_TRUE(s.read_ok) << s.error;
  EXPECT_FALSE(s.Damaged());
  EXPECT_TRUE(s.catalog.ended_cleanly);
  EXPECT_TRUE(s.catalog.process.attached());
  EXPECT_EQ(s.allocs_over_live, 0u) << "no free after the attach was missed";
  EXPECT_EQ(s.allocs_without_stack, 0u);

  AnalysisReport report = AnalyzeOne(dir / "t.trace");
  ASSERT_EQ(report.processes.size(), 1u);
  const ProcessReport& p = report.processes[0];
  EXPECT_EQ(p.totals.allocations, 1856u);
  EXPECT_EQ(p.totals.frees, 1856u + 72u);
  EXPECT_EQ(p.totals.frees_of_pre_attach, 72u) << "40 free + 20 delete[] + 5 realloc + 7 freed by the plugin";
  EXPECT_EQ(p.totals.leaked_allocations, 0u);
  ExpectNoFreeWarnings(p);
  EXPECT_EQ(Calls(p, "malloc"), 1001u);
  EXPECT_EQ(Calls(p, "calloc"), 100u);
  EXPECT_EQ(Calls(p, "realloc"), 5u);
  EXPECT_EQ(Calls(p, "realloc(free)"), 5u);
  EXPECT_EQ(Calls(p, "posix_memalign"), 50u);
  EXPECT_EQ(Calls(p, "operator new"), 200u);
  EXPECT_EQ(Calls(p, "operator new[]"), 500u);
  EXPECT_EQ(Calls(p, "operator delete[]"), 520u);

  RunResult text = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", dir / "t.trace"});
  EXPECT_NE(text.out.find("pre-attach frees                72   freed, allocated before attach"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("attached to the running process"), std::string::npos);
  RunResult dump = RunProgram({BuildPath("allocprof"), "dump", dir / "t.trace"});
  EXPECT_NE(dump.out.find(" attached\n"), std::string::npos);
}

// The same program started under `allocprof run` instead: nothing is pre-attach, every free pairs.
TEST(Attach, PreloadedTraceOfTheSameProgramHasNoPreAttachFrees) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Program("attach_target")}, {"-q"}, "go\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  AnalysisReport report = AnalyzeOne(dir / "t.trace");
  ASSERT_EQ(report.processes.size(), 1u);
  const ProcessReport& p = report.processes[0];
  EXPECT_FALSE(p.process.attached());
  EXPECT_EQ(p.totals.frees_of_pre_attach, 0u);
  EXPECT_EQ(p.totals.frees_of_unknown, 0u);
  EXPECT_EQ(p.totals.frees, 1855u + 65u) << "the same frees, all of known blocks";
  // The C++ runtime's start-up allocations are seen too (libstdc++'s exception pool, kept).
  EXPECT_EQ(p.totals.allocations, p.totals.frees + p.totals.leaked_allocations);
}

// Four threads allocating and freeing without pause while gdb injects and the GOTs are rewritten
// under them: the program is unharmed, and since every release function is redirected before any
// allocating one, no block is seen allocated but missed freed.
TEST(Attach, ThreadsAllocatingDuringTheAttach) {
  TempDir dir;
  LiveProcess target({Program("attach_threads")});
  ASSERT_TRUE(target.WaitForStdout("ready\n")) << target.err();
  RunResult attach = Attach(target.pid(), dir / "t.trace");
  if (attach.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << attach.err;
  ASSERT_EQ(attach.exit_code, 0) << attach.err;
  ASSERT_TRUE(target.Write("go\n"));
  ASSERT_EQ(target.Wait(), 0) << target.err();
  EXPECT_TRUE(absl::StartsWith(target.out(), "ready\ndone ")) << target.out();

  TraceSummary s = Summarize(dir / "t.trace");
  ASSERT_TRUE(s.read_ok) << s.error;
  EXPECT_FALSE(s.Damaged());
  EXPECT_TRUE(s.catalog.ended_cleanly);
  EXPECT_EQ(s.allocs_over_live, 0u) << "no free missed";
  EXPECT_EQ(s.live_at_end, 0u) << "no block seen allocated and not freed";
  // Between the two patch passes the threads free blocks they allocated unseen: pre-attach frees.
  printf("[   INFO   ] threads during the attach: %lu allocations, %lu frees of blocks allocated unseen\n",
         static_cast<unsigned long>(s.allocs), static_cast<unsigned long>(s.frees_of_unknown));
  EXPECT_GE(s.allocs, 1000u);
  EXPECT_GE(s.catalog.threads.size(), 4u);
  AnalysisReport report = AnalyzeOne(dir / "t.trace");
  ASSERT_EQ(report.processes.size(), 1u);
  const ProcessReport& p = report.processes[0];
  for (const auto& w : p.warnings) EXPECT_FALSE(absl::StrContains(w, "never saw allocated")) << w;
  EXPECT_EQ(p.totals.frees_of_unknown, 0u);
  // A thread preempted inside an operator new[] that was not redirected yet can reach malloc after
  // malloc was: its block is recorded as a malloc and its delete[] as a mismatched free (README,
  // attach limits). Seen at most once per run on this 2-core machine under load.
  EXPECT_LE(p.totals.mismatched_frees, 4u);
}

// A shell attached while it waits forks children after the attach: each writes its own trace
// (FILE.PID), flagged as attached too (it inherited the parent's unknown blocks), ending with the
// exec of a program that is not traced (the shim was never in LD_PRELOAD).
TEST(Attach, ForkedChildrenOfAnAttachedShellWriteAttachedTraces) {
  TempDir dir;
  LiveProcess shell({"bash", "-c", "echo ready; read line; for i in 1 2 3; do /bin/true; done; echo done $line"});
  ASSERT_TRUE(shell.WaitForStdout("ready\n"));
  RunResult attach = Attach(shell.pid(), dir / "t.trace");
  if (attach.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << attach.err;
  ASSERT_EQ(attach.exit_code, 0) << attach.err;
  ASSERT_TRUE(shell.Write("go\n"));
  ASSERT_EQ(shell.Wait(), 0) << shell.err();
  EXPECT_EQ(shell.out(), "ready\ndone go\n");
  EXPECT_EQ(shell.err(), "");
  std::vector<std::string> files = dir.Files();
  ASSERT_EQ(files.size(), 4u) << "the shell's trace and one per forked child";
  for (const std::string& f : files) {
    TraceSummary s = Summarize(dir / f);
    ASSERT_TRUE(s.read_ok) << f << ": " << s.error;
    EXPECT_FALSE(s.Damaged()) << f;
    EXPECT_TRUE(s.catalog.process.attached()) << f;
    EXPECT_TRUE(s.catalog.ended_cleanly) << f;
    EXPECT_EQ(s.allocs_over_live, 0u) << f;
    if (f != "t.trace") {
      EXPECT_EQ(s.catalog.execs.size(), 1u) << f;
      EXPECT_EQ(s.catalog.process.ppid, static_cast<uint64_t>(shell.pid())) << f;
    }
  }
  EXPECT_GT(Summarize(dir / "t.trace").allocs, 0u) << "bash allocates while it runs its loop";
}

std::string Messages(int first, int count) {
  std::string s;
  for (int i = first; i < first + count; ++i) absl::StrAppend(&s, "message-", i, "-payload-payload-payload\n");
  return s;
}

// kcat producing to librdkafka's in-process mock cluster, attached mid-run, delivers all 5,000
// messages exactly as it does untraced (one partition, so the delivery reports come in order), and
// the trace shows librdkafka's allocations.
TEST(Attach, KcatProducerMidRunDeliversUnchanged) {
  TempDir dir;
  const std::vector<std::string> kcat = {
      "kcat", "-P",          "-p", "0", "-b", "localhost:9092", "-t", "t", "-X", "test.mock.num.brokers=1",
      "-X",   "log_level=4", "-v", "-v"};
  RunResult plain = RunProgram(kcat, {}, Messages(0, 5000));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_NE(plain.err.find("(offset 4999)"), std::string::npos) << plain.err.substr(0, 2000);

  // kcat reports deliveries only between reads of its input, so the sync point is its start-up
  // message: it has connected and reads stdin. It is attached while it works on the first 2,000.
  LiveProcess producer(kcat);
  ASSERT_TRUE(producer.WaitForStderr("% Setting producer input buffer")) << producer.err();
  ASSERT_TRUE(producer.Write(Messages(0, 2000)));
  RunResult attach = Attach(producer.pid(), dir / "t.trace");
  if (attach.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << attach.err;
  ASSERT_EQ(attach.exit_code, 0) << attach.err;
  ASSERT_TRUE(producer.Write(Messages(2000, 3000)));
  ASSERT_EQ(producer.Wait(), 0) << producer.err();
  EXPECT_EQ(producer.err(), plain.err);
  EXPECT_EQ(producer.out(), plain.out);

  TraceSummary s = Summarize(dir / "t.trace");
  ASSERT_TRUE(s.read_ok) << s.error;
  EXPECT_FALSE(s.Damaged());
  EXPECT_TRUE(s.catalog.ended_cleanly);
  EXPECT_TRUE(s.catalog.process.attached());
  EXPECT_GE(s.allocs, 3000u) << "each message produced after the attach allocates";
  EXPECT_GE(s.catalog.threads.size(), 3u) << "librdkafka's threads, started before the attach, are traced";
  AnalysisReport report = AnalyzeOne(dir / "t.trace");
  ASSERT_EQ(report.processes.size(), 1u);
  ExpectNoFreeWarnings(report.processes[0]);
  printf(
      "[   INFO   ] kcat attached mid-run: %lu allocations, %lu frees of pre-attach blocks, %lu re-allocated "
      "while live\n",
      static_cast<unsigned long>(s.allocs), static_cast<unsigned long>(report.processes[0].totals.frees_of_pre_attach),
      static_cast<unsigned long>(s.allocs_over_live));

  Symbolizer symbolizer(s.catalog.modules);
  int rdkafka_frames = 0;
  for (const auto& [id, frames] : s.catalog.stacks) {
    for (uint64_t address : frames) {
      const std::string& module = symbolizer.Resolve(address).module;
      if (absl::StrContains(module.substr(module.rfind('/') + 1), "librdkafka")) ++rdkafka_frames;
    }
  }
  EXPECT_GT(rdkafka_frames, 0) << "allocations are attributed to librdkafka's code";
}

// A program that dlopens the shim itself (not through allocprof attach) finds it dormant: it
// neither writes a trace nor redirects anything.
TEST(Attach, ShimDlopenedWithoutAttachStaysDormant) {
  TempDir dir;
  // Paths are arguments of the script, never part of its text: TMPDIR may hold a space.
  RunResult r = RunProgram({"bash", "-c", "cd \"$1\" && exec \"$2\" \"$3\"", "bash", dir.path(), Program("dlopen_main"),
                            BuildPath("liballocprof.so")});
  EXPECT_EQ(r.exit_code, 1) << "loaded, but it has no plugin_allocate: " << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(dir.Files().empty()) << "no trace written in the working directory";
}

TEST(Attach, ExplainsWhatCannotBeAttached) {
  TempDir dir;
  // No such process: pid_max is at most 2^22.
  RunResult r = RunProgram({BuildPath("allocprof"), "attach", "-o", dir / "t.trace", "99999999"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no such process: 99999999"), std::string::npos) << r.err;

  LiveProcess statically({Program("static_hello"), "wait"});
  ASSERT_TRUE(statically.WaitForStdout("ready\n"));
  r = RunProgram({BuildPath("allocprof"), "attach", "-o", dir / "t1.trace", std::to_string(statically.pid())});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is statically linked"), std::string::npos) << r.err;
  statically.Write("\n");
  EXPECT_EQ(statically.Wait(), 0);

  LiveProcess preloaded({BuildPath("allocprof"), "run", "-q", "-o", dir / "run.trace", "--", Program("attach_target")});
  ASSERT_TRUE(preloaded.WaitForStdout("ready\n"));
  // The traced program is allocprof run's child.
  std::string children =
      ReadFile("/proc/" + std::to_string(preloaded.pid()) + "/task/" + std::to_string(preloaded.pid()) + "/children");
  pid_t child = std::stoi(children);
  r = RunProgram({BuildPath("allocprof"), "attach", "-o", dir / "t2.trace", std::to_string(child)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("already has liballocprof.so loaded"), std::string::npos) << r.err;
  preloaded.Write("go\n");
  EXPECT_EQ(preloaded.Wait(), 0);

  // A process with a tracer already (we become its tracer, as a debugger would).
  LiveProcess traced({Program("attach_target")});
  ASSERT_TRUE(traced.WaitForStdout("ready\n"));
  ASSERT_EQ(ptrace(PTRACE_SEIZE, traced.pid(), nullptr, nullptr), 0) << strerror(errno);
  r = RunProgram({BuildPath("allocprof"), "attach", "-o", dir / "t5.trace", std::to_string(traced.pid())});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is already being traced by pid " + std::to_string(getpid())), std::string::npos) << r.err;
  traced.Kill();

  r = RunProgram({BuildPath("allocprof"), "attach", "--gdb", "/nonexistent/gdb", "-o", dir / "t3.trace",
                  std::to_string(getpid())});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("gdb not found at '/nonexistent/gdb'"), std::string::npos) << r.err;

  // A newline in -o is refused before --force may remove the existing file.
  std::string newline_path = dir / "a\nb.trace";
  { std::ofstream(newline_path) << "old"; }
  r = RunProgram({BuildPath("allocprof"), "attach", "--gdb", "/bin/true", "--force", "-o", newline_path,
                  std::to_string(getpid())});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("must not contain a newline"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(newline_path), "old") << "the refused --force must leave the file alone";

  // Another user's process: this one, seen by an unprivileged user (nobody).
  if (geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0) {
    r = RunProgram({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BuildPath("allocprof"),
                    "attach", "-o", "/tmp/never-written.trace", std::to_string(getpid())});
    EXPECT_EQ(r.exit_code, kExitNotPermitted) << r.err;
    EXPECT_NE(r.err.find("belongs to another user"), std::string::npos) << r.err;
  }

  // Option values are checked by the table the shim reads, flags and inherited variables alike.
  r = RunProgram(
      {BuildPath("allocprof"), "attach", "--flush-ms", "-1", "-o", dir / "t6.trace", std::to_string(getpid())});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.err,
            "allocprof attach: --flush-ms must be a number in 0..60000 (got '-1')\nsee 'allocprof attach --help'\n");
  r = RunProgram({BuildPath("allocprof"), "attach", "-o", dir / "t6.trace", std::to_string(getpid())},
                 {"ALLOCPROF_DEPTH=2000"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.err,
            "allocprof attach: ALLOCPROF_DEPTH (in the environment) must be a number in 1..1024 (got '2000')\nsee "
            "'allocprof attach --help'\n");

  r = RunProgram({BuildPath("allocprof"), "attach", "-o", dir / "t4.trace", "twelve"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("'twelve' is not a process id"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace allocprof::testing
