// allocprof attach: the shim loaded into programs that are already running, through allocprof's
// own ptrace injector (no debugger needed). Each test skips (naming the reason) where this machine
// does not permit ptrace.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "harness.h"
#include "live_process.h"
#include "report/report.h"
#include "symbolize/symbolizer.h"
#include "util/exit_codes.h"

namespace allocprof::testing {
namespace {

// Attaches to `pid` (exit code kExitNotPermitted where ptrace is not permitted here).
RunResult RunAttach(pid_t pid, const std::string& trace) {
  return RunProgram({BuildPath("allocprof"), "attach", "-q", "-o", trace, std::to_string(pid)});
}

// The same without -q: stderr says which thread was used and where it was stopped.
RunResult RunAttachSaying(pid_t pid, const std::string& trace, const std::vector<std::string>& env = {}) {
  return RunProgram({BuildPath("allocprof"), "attach", "-o", trace, std::to_string(pid)}, env);
}

std::string StatusField(pid_t pid, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/" + std::to_string(pid) + "/status"), '\n')) {
    if (absl::ConsumePrefix(&line, key + ":")) return std::string(absl::StripAsciiWhitespace(line));
  }
  return "";
}

// Waits (up to 30 s) until thread `tid` of process `pid` (its main thread by default; -1: any
// thread) is blocked in one of `numbers` (/proc/PID/task/TID/syscall names a sleeping thread's call).
bool WaitUntilBlockedIn(pid_t pid, std::set<long> numbers, pid_t tid = 0) {
  std::string task = "/proc/" + std::to_string(pid) + "/task/";
  for (int i = 0; i < 30000; ++i) {
    std::vector<std::string> tids = {std::to_string(tid == 0 ? pid : tid)};
    if (tid < 0) {
      tids.clear();
      DIR* d = opendir(task.c_str());
      while (struct dirent* e = d ? readdir(d) : nullptr) {
        if (e->d_name[0] != '.') tids.emplace_back(e->d_name);
      }
      if (d) closedir(d);
    }
    for (const std::string& t : tids) {
      std::string text = ReadFile(task + t + "/syscall");
      long nr;
      if (absl::SimpleAtoi(text.substr(0, text.find(' ')), &nr) && numbers.count(nr)) return true;
    }
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, nullptr);
  }
  return false;
}

// Executable memory of the process that no file backs: the injector's code, if it left any.
std::vector<std::string> AnonymousCode(pid_t pid) {
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/" + std::to_string(pid) + "/maps"), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() >= 5 && f[1].size() == 4 && f[1][2] == 'x' && f[4] == "0" &&
        (f.size() == 5 || absl::StartsWith(f[5], "[anon:"))) {
      found.emplace_back(line);
    }
  }
  return found;
}

// The last page of the process's libc code mapping, read through /proc/PID/mem: where the injector
// puts its system-call gadget (when libc has room), so after an attach it must equal this process's.
std::string LibcLastCodePage(pid_t pid) {
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/" + std::to_string(pid) + "/maps"), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 6 || f[1] != "r-xp" || !absl::EndsWith(f[5], "/libc.so.6")) continue;
    uint64_t end;
    if (!absl::SimpleHexAtoi(f[0].substr(f[0].find('-') + 1), &end)) return "";
    std::string page(4096, '\0');
    int fd = open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY);
    ssize_t n = fd >= 0 ? pread(fd, page.data(), page.size(), static_cast<off_t>(end - 4096)) : -1;
    if (fd >= 0) close(fd);
    return n == 4096 ? page : "";
  }
  return "";
}

void ExpectLeftAsItWas(pid_t pid) {
  EXPECT_EQ(StatusField(pid, "TracerPid"), "0");
  EXPECT_TRUE(AnonymousCode(pid).empty()) << AnonymousCode(pid)[0];
  std::string page = LibcLastCodePage(pid);
  EXPECT_FALSE(page.empty());
  EXPECT_TRUE(page == LibcLastCodePage(getpid())) << "the gadget's bytes were put back";
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

// alloc_loop attached mid-run and told to stop: rounds of 16 blocks, at least two after the line;
// the round under way at the attach may free up to 16 blocks made before it.
void ExpectAllocLoopRecordedFromTheAttach(const std::string& trace) {
  AnalysisReport report = AnalyzeOne(trace);
  ASSERT_EQ(report.processes.size(), 1u);
  const ProcessReport& p = report.processes[0];
  EXPECT_GE(Calls(p, "malloc"), 32u);
  EXPECT_LE(p.totals.frees_of_pre_attach, 16u);
  EXPECT_EQ(p.totals.leaked_allocations, 0u);
  ExpectNoFreeWarnings(p);
  printf("[   INFO   ] %lu malloc calls recorded after the attach\n", static_cast<unsigned long>(Calls(p, "malloc")));
}

// The steps most tests share: start a program that prints "ready", attach to it, read its trace.
// A step that fails records a fatal failure (or skips the test where ptrace is not permitted);
// the test returns when Stopped().
class Attach : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& argv) {
    target_.emplace(argv);
    ASSERT_TRUE(target_->WaitForStdout("ready\n")) << target_->err();
  }
  // With `saying`, stderr tells which thread was used and where it was stopped.
  void AttachToTarget(bool saying = false) {
    attach_ = saying ? RunAttachSaying(target_->pid(), dir_ / "t.trace") : RunAttach(target_->pid(), dir_ / "t.trace");
    if (attach_.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << attach_.err;
    ASSERT_EQ(attach_.exit_code, 0) << attach_.err;
  }
  void StartAndAttach(const std::vector<std::string>& argv, bool saying = false) {
    Start(argv);
    if (!Stopped()) AttachToTarget(saying);
  }
  // The trace `name`, read back whole and ended by its end record.
  void ReadTrace(TraceSummary* s, const std::string& name = "t.trace") {
    *s = Summarize(dir_ / name);
    ASSERT_TRUE(s->read_ok) << s->error;
    ASSERT_TRUE(s->catalog.ended_cleanly);
  }
  bool Stopped() const { return IsSkipped() || HasFatalFailure(); }
  LiveProcess& target() { return *target_; }

  TempDir dir_;
  std::optional<LiveProcess> target_;
  RunResult attach_;
};

// attach_target (tests/programs/attach_target.cc) allocates 65 blocks, waits while we attach, frees
// them (5 through realloc), makes 1,855 allocations of its own and one through a plugin it dlopens
// after the attach, frees them all, and exits. The plugin's constructor allocates 7 blocks inside
// dlopen, before the new object is patched; its destructor frees them.
TEST_F(Attach, CountsExactlyFromTheAttachAndCountsPreAttachFreesApart) {
  StartAndAttach({Program("attach_target"), "libplugin.so"});  // found through its RUNPATH
  if (Stopped()) return;
  LiveProcess& target = this->target();
  ASSERT_TRUE(target.Write("go\n"));
  ASSERT_EQ(target.Wait(), 0) << target.err();
  EXPECT_EQ(target.out(), "ready\ndone\n");
  EXPECT_EQ(target.err(), "") << "the shim says nothing on the program's stderr";

  TraceSummary s;
  ReadTrace(&s);
  if (Stopped()) return;
  EXPECT_FALSE(s.Damaged());
  EXPECT_TRUE(s.catalog.ended_cleanly);
  EXPECT_TRUE(s.catalog.process.attached());
  EXPECT_EQ(s.allocs_over_live, 0u) << "no free after the attach was missed";
  EXPECT_EQ(s.allocs_without_stack, 0u);

  AnalysisReport report = AnalyzeOne(dir_ / "t.trace");
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

  RunResult text = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", dir_ / "t.trace"});
  EXPECT_NE(text.out.find("pre-attach frees                72   freed, allocated before attach"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("attached to the running process"), std::string::npos);
  RunResult dump = RunProgram({BuildPath("allocprof"), "dump", dir_ / "t.trace"});
  EXPECT_NE(dump.out.find(" attached\n"), std::string::npos);
}

// The same program started under `allocprof run` instead: nothing is pre-attach, every free pairs.
TEST_F(Attach, PreloadedTraceOfTheSameProgramHasNoPreAttachFrees) {
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

// Four threads allocating and freeing without pause while the shim is injected and the GOTs are rewritten
// under them: the program is unharmed, and since every release function is redirected before any
// allocating one, no block is seen allocated but missed freed.
TEST_F(Attach, ThreadsAllocatingDuringTheAttach) {
  StartAndAttach({Program("attach_threads")});
  if (Stopped()) return;
  LiveProcess& target = this->target();
  ASSERT_TRUE(target.Write("go\n"));
  ASSERT_EQ(target.Wait(), 0) << target.err();
  EXPECT_TRUE(absl::StartsWith(target.out(), "ready\ndone ")) << target.out();

  TraceSummary s;
  ReadTrace(&s);
  if (Stopped()) return;
  EXPECT_FALSE(s.Damaged());
  EXPECT_TRUE(s.catalog.ended_cleanly);
  EXPECT_EQ(s.allocs_over_live, 0u) << "no free missed";
  EXPECT_EQ(s.live_at_end, 0u) << "no block seen allocated and not freed";
  // Between the two patch passes the threads free blocks they allocated unseen: pre-attach frees.
  printf("[   INFO   ] threads during the attach: %lu allocations, %lu frees of blocks allocated unseen\n",
         static_cast<unsigned long>(s.allocs), static_cast<unsigned long>(s.frees_of_unknown));
  EXPECT_GE(s.allocs, 1000u);
  EXPECT_GE(s.catalog.threads.size(), 4u);
  AnalysisReport report = AnalyzeOne(dir_ / "t.trace");
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
TEST_F(Attach, ForkedChildrenOfAnAttachedShellWriteAttachedTraces) {
  TempDir dir;
  LiveProcess shell({"bash", "-c", "echo ready; read line; for i in 1 2 3; do /bin/true; done; echo done $line"});
  ASSERT_TRUE(shell.WaitForStdout("ready\n"));
  RunResult attach = RunAttach(shell.pid(), dir / "t.trace");
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

// ---------------------------------------------------------------------------------------------
// What the injector must preserve, and where it must refuse.

// A thread that keeps values live in every vector register this CPU has (xmm, ymm, and zmm + k0-7
// with AVX-512), MXCSR, the x87 control word and st(0), the callee-saved registers and the
// direction flag, in a loop without calls, is the thread the injector stops and runs dlopen on:
// afterwards every one of them still holds its value (the program checks each iteration).
TEST_F(Attach, EveryRegisterOfTheThreadUsedSurvivesTheAttach) {
  StartAndAttach({Program("attach_registers")}, true);
  if (Stopped()) return;
  LiveProcess& target = this->target();
  EXPECT_NE(attach_.err.find("through thread " + std::to_string(target.pid())), std::string::npos) << attach_.err;
  ExpectLeftAsItWas(target.pid());
  ASSERT_TRUE(target.Write("x"));
  EXPECT_EQ(target.Wait(), 0) << target.out();
  std::string out = target.out();
  EXPECT_NE(out.find("registers intact after "), std::string::npos) << out;
  printf("[   INFO   ] %s", out.substr(0, out.find('\n') + 1).c_str());
  TraceSummary s;
  ReadTrace(&s);
  if (Stopped()) return;
}

// A thread blocked in read(2) on a pipe when the injector stops it resumes the read (the kernel's
// -ERESTARTSYS, applied by the injector): the data written after the attach arrives, no EINTR.
TEST_F(Attach, ReadBlockedDuringTheAttachReturnsTheDataWrittenAfterIt) {
  Start({Program("attach_blocked"), "read"});
  if (Stopped()) return;
  LiveProcess& target = this->target();
  ASSERT_TRUE(WaitUntilBlockedIn(target.pid(), {SYS_read}));
  AttachToTarget(true);
  if (Stopped()) return;
  EXPECT_NE(attach_.err.find("blocked in system call 0)"), std::string::npos) << attach_.err;
  ExpectLeftAsItWas(target.pid());
  ASSERT_TRUE(target.Write("hello\n"));
  EXPECT_EQ(target.Wait(), 0);
  EXPECT_EQ(target.out(), "ready\nread 6: hello\n");
  TraceSummary s;
  ReadTrace(&s);
  if (Stopped()) return;
  EXPECT_EQ(s.AllocsOfSize(105), 1u) << "the program's allocations after the read are recorded";
}

// A thread in nanosleep when the injector stops it sleeps on through restart_syscall (the kernel's
// -ERESTART_RESTARTBLOCK): nanosleep returns 0, after the full time, not EINTR.
TEST_F(Attach, NanosleepDuringTheAttachReturnsZeroAfterItsFullTime) {
  Start({Program("attach_blocked"), "nanosleep", "2000"});
  if (Stopped()) return;
  LiveProcess& target = this->target();
  ASSERT_TRUE(WaitUntilBlockedIn(target.pid(), {SYS_nanosleep, SYS_clock_nanosleep}));
  AttachToTarget(true);
  if (Stopped()) return;
  EXPECT_TRUE(absl::StrContains(attach_.err, absl::StrCat("blocked in system call ", SYS_clock_nanosleep, ")")) ||
              absl::StrContains(attach_.err, absl::StrCat("blocked in system call ", SYS_nanosleep, ")")))
      << attach_.err;
  ASSERT_TRUE(target.WaitForStdout("nanosleep "));
  ASSERT_TRUE(target.Write("\n"));
  EXPECT_EQ(target.Wait(), 0);
  EXPECT_EQ(target.out(), "ready\nnanosleep 0, slept the full time\n");
}

// The kernel ends epoll_wait with EINTR when the thread is stopped (as by gdb or strace): the
// injector makes such a call again, for the thread it uses and for the others it stops, so the
// program never sees an EINTR the attach caused.
TEST_F(Attach, EpollWaitDuringTheAttachDoesNotFailWithEintr) {
  TempDir dir;
  LiveProcess alone({Program("attach_blocked"), "epoll-alone"});
  ASSERT_TRUE(alone.WaitForStdout("ready\n")) << alone.err();
  ASSERT_TRUE(WaitUntilBlockedIn(alone.pid(), {SYS_epoll_wait, SYS_epoll_pwait}));
  RunResult attach = RunAttachSaying(alone.pid(), dir / "t.trace");
  if (attach.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << attach.err;
  ASSERT_EQ(attach.exit_code, 0) << attach.err;
  EXPECT_NE(attach.err.find("blocked in system call"), std::string::npos) << attach.err;
  ASSERT_TRUE(alone.Write("go\n"));
  EXPECT_EQ(alone.Wait(), 0);
  EXPECT_EQ(alone.out(), "ready\nepoll_wait 1\nread 3: go\n");

  // A second thread in epoll_wait, stopped and let go while the main thread does the attach.
  LiveProcess beside({Program("attach_blocked"), "epoll"});
  ASSERT_TRUE(beside.WaitForStdout("ready\n")) << beside.err();
  ASSERT_TRUE(WaitUntilBlockedIn(beside.pid(), {SYS_read}));
  ASSERT_TRUE(WaitUntilBlockedIn(beside.pid(), {SYS_epoll_wait, SYS_epoll_pwait}, -1));
  attach = RunAttachSaying(beside.pid(), dir / "t2.trace");
  ASSERT_EQ(attach.exit_code, 0) << attach.err;
  EXPECT_NE(attach.err.find("through thread " + std::to_string(beside.pid())), std::string::npos) << attach.err;
  ASSERT_TRUE(beside.Write("go\n"));
  EXPECT_EQ(beside.Wait(), 0);
  EXPECT_EQ(beside.out(), "ready\nread 3: go\nepoll_wait 1\n");
}

// SIGALRM every millisecond, its handler making a system call, while the injector works: signals
// that arrive while the thread runs the gadget are delivered (the handler runs there and returns),
// the ones that arrive while the stub runs wait for it (it blocks them) and are delivered after.
TEST_F(Attach, SignalsArrivingThroughoutTheAttachAreDelivered) {
  StartAndAttach({Program("attach_blocked"), "signals"});
  if (Stopped()) return;
  LiveProcess& target = this->target();
  ExpectLeftAsItWas(target.pid());
  ASSERT_TRUE(target.Write("go\n"));
  EXPECT_EQ(target.Wait(), 0);
  EXPECT_EQ(target.out(), "ready\nread 3: go\nsignals handled: yes\n");
  TraceSummary s;
  ReadTrace(&s);
  if (Stopped()) return;
}

// Another thread holds the loader's lock (it sits in a dl_iterate_phdr callback until it reads a
// line), so the injected dlopen waits: after --timeout, allocprof lets go of the process and says
// so. The stub is still running in it; once the lock is free it finishes the attach by itself.
TEST_F(Attach, TimedOutAttachLetsGoAndTheStubFinishesOnceTheLockIsFree) {
  TempDir dir;
  LiveProcess target({Program("attach_blocked"), "loader-lock"});
  ASSERT_TRUE(target.WaitForStdout("ready\n")) << target.err();
  RunResult attach = RunProgram(
      {BuildPath("allocprof"), "attach", "--timeout", "1", "-o", dir / "t.trace", std::to_string(target.pid())});
  if (attach.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << attach.err;
  EXPECT_EQ(attach.exit_code, 2) << attach.err;
  EXPECT_NE(attach.err.find("the calls did not return within 1 s; allocprof let go of"), std::string::npos)
      << attach.err;
  EXPECT_EQ(StatusField(target.pid(), "TracerPid"), "0");
  ASSERT_TRUE(target.Write("go\n"));
  EXPECT_EQ(target.Wait(), 0);
  EXPECT_EQ(target.out(), "ready\nread 3: go\n");
  TraceSummary s = Summarize(dir / "t.trace");
  ASSERT_TRUE(s.read_ok) << s.error;
  EXPECT_TRUE(s.catalog.ended_cleanly);
  EXPECT_TRUE(s.catalog.process.attached());
  EXPECT_EQ(s.AllocsOfSize(105), 1u) << "the program's allocations after the read are recorded";
}

// A program that allocates in a loop, attached mid-run: its allocations are recorded from the
// attach on, and it prints exactly what it prints untraced.
TEST_F(Attach, ProgramAllocatingInALoopIsRecordedFromTheAttachWithItsOutputUnchanged) {
  RunResult plain = RunProgram({Program("alloc_loop")}, {}, "stop\n");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(plain.out, "ready\nread: stop\nevery round correct\n");

  StartAndAttach({Program("alloc_loop")}, true);
  if (Stopped()) return;
  LiveProcess& target = this->target();
  printf("[   INFO   ] %s", attach_.err.c_str());
  ExpectLeftAsItWas(target.pid());
  ASSERT_TRUE(target.Write("stop\n"));
  EXPECT_EQ(target.Wait(), 0);
  EXPECT_EQ(target.out(), plain.out);
  EXPECT_EQ(target.err(), "");

  TraceSummary s;
  ReadTrace(&s);
  if (Stopped()) return;
  EXPECT_TRUE(s.catalog.process.attached());
  ExpectAllocLoopRecordedFromTheAttach(dir_ / "t.trace");
}

// A non-PIE executable that takes malloc's address in its code (Debian's python3.11 does) exports
// its PLT entry as malloc's one address, and the global scope finds that first. The entry jumps
// through the executable's GOT, which the attach redirects to the shim: taken for the real malloc,
// it sent the shim's malloc back to itself until the stack overflowed. alloc_loop_nopie is such a
// program (tests/programs/alloc_loop.cc).
TEST_F(Attach, NonPieExecutableWhoseMallocIsItsPltEntryKeepsRunning) {
  StartAndAttach({Program("alloc_loop_nopie")});
  if (Stopped()) return;
  LiveProcess& target = this->target();
  ASSERT_TRUE(target.Write("stop\n"));
  EXPECT_EQ(target.Wait(), 0) << target.err();
  EXPECT_EQ(target.out(), "ready\nread: stop\nevery round correct\n");
  TraceSummary s;
  ReadTrace(&s);
  if (Stopped()) return;
  ExpectAllocLoopRecordedFromTheAttach(dir_ / "t.trace");
}

// A process whose policy refuses executable memory (seccomp here, SELinux's execmem elsewhere)
// cannot run the stub: the attach fails saying so, and the region it had mapped is unmapped again.
TEST_F(Attach, RefusedExecutableMemoryFailsAndLeavesTheMapsAsTheyWere) {
  TempDir dir;
  LiveProcess target({Program("attach_blocked"), "no-exec-memory"});
  ASSERT_TRUE(target.WaitForStdout("ready\n")) << target.err();
  ASSERT_TRUE(WaitUntilBlockedIn(target.pid(), {SYS_read}));
  std::string maps = "/proc/" + std::to_string(target.pid()) + "/maps";
  std::string before = ReadFile(maps);
  RunResult attach = RunAttach(target.pid(), dir / "t.trace");
  if (attach.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << attach.err;
  EXPECT_EQ(attach.exit_code, 2) << attach.err;
  EXPECT_NE(attach.err.find("mprotect in the process failed: Permission denied"), std::string::npos) << attach.err;
  EXPECT_EQ(ReadFile(maps), before);
  ExpectLeftAsItWas(target.pid());
  ASSERT_TRUE(target.Write("go\n"));
  EXPECT_EQ(target.Wait(), 0);
  EXPECT_EQ(target.out(), "ready\nread 3: go\n");
  EXPECT_TRUE(dir.Files().empty());
}

// A second attach is refused before the process is touched; the first one keeps recording.
TEST_F(Attach, SecondAttachIsRefusedAndTheFirstKeepsRecording) {
  StartAndAttach({Program("alloc_loop"), "--reader-thread"});
  if (Stopped()) return;
  LiveProcess& target = this->target();
  RunResult second = RunAttach(target.pid(), dir_ / "t2.trace");
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_NE(second.err.find("already has liballocprof.so loaded"), std::string::npos) << second.err;
  ASSERT_TRUE(target.Write("stop\n"));
  EXPECT_EQ(target.Wait(), 0);
  EXPECT_EQ(target.out(), "ready\nread: stop\nevery round correct\n");
  EXPECT_EQ(dir_.Files(), std::vector<std::string>{"t.trace"});
  TraceSummary s;
  ReadTrace(&s);
  if (Stopped()) return;
  // At least the two full rounds of 16 the program makes after reading the line, after both attaches.
  EXPECT_GE(s.Entry(format::EntryPoint::kMalloc), 32u);
  EXPECT_EQ(s.allocs_over_live, 0u);
}

// allocprof killed at each step of the injection (ALLOCPROF_TEST_INJECT_DIE_AT) leaves a process
// that runs on and prints exactly what it prints untraced: every intermediate state resumes by
// itself. Killed once the stub runs, the stub completes the attach alone and the trace is whole.
// Two targets: a thread blocked in read(2) beside one allocating (the same steps every run), and a
// lone thread allocating (stopped inside malloc, so the injector lets it run and stops it again).
TEST_F(Attach, KilledAtAnyStepTheInjectorLeavesTheProcessRunningUnchanged) {
  const std::string expected = "ready\nread: stop\nevery round correct\n";
  for (const std::vector<std::string>& argv : {std::vector<std::string>{Program("alloc_loop"), "--reader-thread"},
                                               std::vector<std::string>{Program("alloc_loop")}}) {
    std::set<std::string> steps;
    int step = 1;
    for (;; ++step) {
      ASSERT_LT(step, 200) << "the injector never finished";
      TempDir dir;
      LiveProcess target(argv);
      ASSERT_TRUE(target.WaitForStdout("ready\n")) << target.err();
      RunResult r =
          RunProgram({BuildPath("allocprof"), "attach", "-q", "-o", dir / "t.trace", std::to_string(target.pid())},
                     {absl::StrCat("ALLOCPROF_TEST_INJECT_DIE_AT=", step)});
      if (r.exit_code == kExitNotPermitted) GTEST_SKIP() << "ptrace is not permitted here: " << r.err;
      if (r.exit_code == 0) break;  // past its last step
      ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
      std::string name = r.err.substr(r.err.find('(') + 1);
      name = name.substr(0, name.rfind(')'));
      steps.insert(name);
      EXPECT_EQ(StatusField(target.pid(), "TracerPid"), "0") << name;
      ASSERT_TRUE(target.Write("stop\n"));
      EXPECT_EQ(target.Wait(), 0) << "killed at step " << step << " (" << name << ")";
      EXPECT_EQ(target.out(), expected) << "killed at step " << step << " (" << name << ")";
      EXPECT_EQ(target.err(), "") << name;
      if (!dir.Files().empty()) {
        TraceSummary s = Summarize(dir / "t.trace");
        EXPECT_TRUE(s.read_ok && s.catalog.ended_cleanly) << name << ": " << s.error;
      }
    }
    printf("[   INFO   ] %s: killed at each of %d steps\n", argv.back().c_str(), step - 1);
    EXPECT_GE(step - 1, 25);
    for (const char* must :
         {"every thread stopped", "mmap: at the system call", "mmap: system call returned", "stub written",
          "thread sent to the stub", "stub: inside dlopen", "stub: inside the start function",
          "registers restored after the stub", "munmap: at the system call", "cave restored"}) {
      EXPECT_TRUE(steps.count(must)) << "never killed at '" << must << "'";
    }
  }
}

// A 32-bit program: a few bytes of i386 code (write "ready\n", then pause() forever) in a minimal
// ELF, so that no multilib compiler is needed.
std::string TinyI386Program() {
  const uint32_t base = 0x08048000, code = base + 52 + 32;
  auto le32 = [](std::string* s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
  };
  auto le16 = [](std::string* s, uint16_t v) {
    s->push_back(static_cast<char>(v));
    s->push_back(static_cast<char>(v >> 8));
  };
  std::string text;
  auto bytes = [&](std::initializer_list<int> b) {
    for (int c : b) text.push_back(static_cast<char>(c));
  };
  bytes({0xb8, 4, 0, 0, 0});  // mov eax, 4 (write)
  bytes({0xbb, 1, 0, 0, 0});  // mov ebx, 1
  bytes({0xb9});              // mov ecx, message
  le32(&text, code + 31);
  bytes({0xba, 6, 0, 0, 0});   // mov edx, 6
  bytes({0xcd, 0x80});         // int 0x80
  bytes({0xb8, 29, 0, 0, 0});  // loop: mov eax, 29 (pause)
  bytes({0xcd, 0x80});         // int 0x80
  bytes({0xeb, 0xf7});         // jmp loop
  text += "ready\n";
  std::string elf =
      "\x7f"
      "ELF";
  elf += std::string("\x01\x01\x01", 3) + std::string(9, '\0');  // 32-bit, little-endian, SysV
  le16(&elf, 2);                                                 // ET_EXEC
  le16(&elf, 3);                                                 // EM_386
  le32(&elf, 1);
  le32(&elf, code);  // entry
  le32(&elf, 52);    // program headers
  le32(&elf, 0);
  le32(&elf, 0);
  le16(&elf, 52);
  le16(&elf, 32);
  le16(&elf, 1);
  le16(&elf, 0);
  le16(&elf, 0);
  le16(&elf, 0);
  uint32_t size = 52 + 32 + static_cast<uint32_t>(text.size());
  for (uint32_t v : {1u /* PT_LOAD */, 0u, base, base, size, size, 5u /* R+X */, 0x1000u}) le32(&elf, v);
  return elf + text;
}

TEST_F(Attach, RefusesOtherArchitecturesAndAPtraceDenyingPolicyWithExit4) {
  TempDir dir;
  std::string i386 = dir / "i386_pause";
  { std::ofstream(i386, std::ios::binary) << TinyI386Program(); }
  ASSERT_EQ(chmod(i386.c_str(), 0755), 0);
  {
    LiveProcess program({i386});
    if (program.WaitForStdout("ready\n")) {
      RunResult r = RunAttach(program.pid(), dir / "t.trace");
      EXPECT_EQ(r.exit_code, kExitNotPermitted) << r.err;
      EXPECT_NE(r.err.find("is a 32-bit i386 program"), std::string::npos) << r.err;
      EXPECT_EQ(StatusField(program.pid(), "State").substr(0, 1), "S") << "still running (in pause)";
    } else {
      printf("[   INFO   ] this kernel does not run 32-bit programs; that part is skipped\n");
    }
  }
  // ptrace denied by a seccomp policy on allocprof, as a container's may: exit 4, process untouched.
  LiveProcess target({Program("attach_blocked"), "read"});
  ASSERT_TRUE(target.WaitForStdout("ready\n")) << target.err();
  RunResult r = RunProgram(
      {Program("deny_ptrace"), BuildPath("allocprof"), "attach", "-o", dir / "t.trace", std::to_string(target.pid())});
  EXPECT_EQ(r.exit_code, kExitNotPermitted) << r.err;
  EXPECT_NE(r.err.find("ptrace is not permitted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("PTRACE_SEIZE"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile("/proc/" + std::to_string(target.pid()) + "/maps").find("liballocprof"), std::string::npos);
  ASSERT_TRUE(target.Write("x\n"));
  EXPECT_EQ(target.Wait(), 0);
  EXPECT_EQ(target.out(), "ready\nread 2: x\n");
  EXPECT_TRUE(dir.Files() == std::vector<std::string>{"i386_pause"});
}

std::string Messages(int first, int count) {
  std::string s;
  for (int i = first; i < first + count; ++i) absl::StrAppend(&s, "message-", i, "-payload-payload-payload\n");
  return s;
}

// kcat producing to librdkafka's in-process mock cluster, attached mid-run, delivers all 5,000
// messages exactly as it does untraced (one partition, so the delivery reports come in order), and
// the trace shows librdkafka's allocations.
TEST_F(Attach, KcatProducerMidRunDeliversUnchanged) {
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
  RunResult attach = RunAttach(producer.pid(), dir / "t.trace");
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
TEST_F(Attach, ShimDlopenedWithoutAttachStaysDormant) {
  TempDir dir;
  // Paths are arguments of the script, never part of its text: TMPDIR may hold a space.
  RunResult r = RunProgram({"bash", "-c", "cd \"$1\" && exec \"$2\" \"$3\"", "bash", dir.path(), Program("dlopen_main"),
                            BuildPath("liballocprof.so")});
  EXPECT_EQ(r.exit_code, 1) << "loaded, but it has no plugin_allocate: " << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(dir.Files().empty()) << "no trace written in the working directory";
}

TEST_F(Attach, ExplainsWhatCannotBeAttached) {
  TempDir dir;
  // No such process: pid_max is at most 2^22.
  RunResult r = RunProgram({BuildPath("allocprof"), "attach", "-o", dir / "t.trace", "99999999"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no such process: 99999999"), std::string::npos) << r.err;

  LiveProcess statically({Program("static_hello"), "wait"});
  ASSERT_TRUE(statically.WaitForStdout("ready\n"));
  r = RunProgram({BuildPath("allocprof"), "attach", "-o", dir / "t1.trace", std::to_string(statically.pid())});
  EXPECT_EQ(r.exit_code, kExitNotPermitted);
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

  // A newline in -o is refused before --force may remove the existing file.
  std::string newline_path = dir / "a\nb.trace";
  { std::ofstream(newline_path) << "old"; }
  r = RunProgram({BuildPath("allocprof"), "attach", "--force", "-o", newline_path, std::to_string(getpid())});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("must not contain a newline"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(newline_path), "old") << "the refused --force must leave the file alone";

  // Another user's process: this one, seen by an unprivileged user (nobody).
  if (geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0) {
    r = RunProgram({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BuildPath("allocprof"),
                    "attach", "-o", "/tmp/never-written.trace", std::to_string(getpid())});
    EXPECT_EQ(r.exit_code, kExitNotPermitted) << r.err;
    EXPECT_NE(r.err.find("ptrace is not permitted"), std::string::npos) << r.err;
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
