// Issue 18, replayed: signals to `allocprof run` and to the traced program.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "harness.h"
#include "launch/signal_relay.h"
#include "live_process.h"

namespace allocprof::testing {
namespace {

std::string Cli() { return BuildPath("allocprof"); }

// The program `allocprof run` (pid `run`) started.
pid_t ChildOf(pid_t run) {
  std::string children = ReadFile("/proc/" + std::to_string(run) + "/task/" + std::to_string(run) + "/children");
  pid_t child = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(children), &child)) return 0;
  return child;
}

bool Alive(pid_t pid) { return kill(pid, 0) == 0; }

bool DiedOf(int status, int sig) { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }

// Runs argv and returns its raw wait status.
int RawStatus(const std::vector<std::string>& argv) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

TEST(RunSignals, SigtermToRunReachesTheProgramAndRunEndsAsItDid) {
  TempDir dir;
  LiveProcess run({Cli(), "run", "-o", dir / "t.trace", "--", Program("signal_target"), "wait"});
  ASSERT_TRUE(run.WaitForStdout("ready\n")) << run.err();
  pid_t program = ChildOf(run.pid());
  ASSERT_GT(program, 0);
  ASSERT_EQ(kill(run.pid(), SIGTERM), 0);
  run.Wait();
  bool orphaned = Alive(program);
  if (orphaned) kill(program, SIGKILL);
  EXPECT_FALSE(orphaned) << "the program outlived allocprof run";
  EXPECT_TRUE(DiedOf(run.status(), SIGTERM)) << "status " << run.status();
  EXPECT_NE(run.err().find("was killed by signal 15 (SIGTERM)"), std::string::npos) << run.err();
}

TEST(RunSignals, ExitCodesAndDeathSignalsPassThrough) {
  TempDir dir;
  int status = RawStatus({Cli(), "run", "-o", dir / "a.trace", "--", "sh", "-c", "kill -TERM $$"});
  EXPECT_TRUE(DiedOf(status, SIGTERM)) << "status " << status;
  status = RawStatus({Cli(), "run", "-o", dir / "b.trace", "--", "sh", "-c", "kill -HUP $$"});
  EXPECT_TRUE(DiedOf(status, SIGHUP)) << "status " << status;
  status = RawStatus({Cli(), "run", "-o", dir / "c.trace", "--", "sh", "-c", "exit 7"});
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << "status " << status;
  // A core-dumping signal: run dies of it as well, but leaves no core file of its own.
  status = RawStatus({Cli(), "run", "-o", dir / "d.trace", "--", Program("signal_target"), "abort"});
  EXPECT_TRUE(DiedOf(status, SIGABRT)) << "status " << status;
  EXPECT_FALSE(WCOREDUMP(status));
}

// `allocprof run -q -o TRACE -- signal_target count-int [own-group]` on a new terminal; returns
// the terminal (master side) and run's pid.
pid_t RunOnTerminal(const std::string& trace, bool own_group, int* master) {
  pid_t run = forkpty(master, nullptr, nullptr, nullptr);
  if (run == 0) {
    std::string cli = Cli(), program = Program("signal_target");
    execl(cli.c_str(), cli.c_str(), "run", "-q", "-o", trace.c_str(), "--", program.c_str(), "count-int",
          own_group ? "own-group" : nullptr, static_cast<char*>(nullptr));
    _exit(127);
  }
  return run;
}

bool ReadUntil(int fd, const std::string& text, std::string* seen) {
  char buf[256];
  while (seen->find(text) == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    seen->append(buf, static_cast<size_t>(n));
  }
  return true;
}

int WaitStatus(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Ctrl-C at a terminal goes to the whole foreground process group: the program gets it from the
// terminal, run keeps waiting for it (and relays the SIGTERM that comes next). The program counts
// its SIGINTs and exits with the count on SIGTERM.
TEST(RunSignals, CtrlCReachesTheProgramAndRunWaitsForIt) {
  TempDir dir;
  int master = -1;
  pid_t run = RunOnTerminal(dir / "t.trace", false, &master);
  ASSERT_GE(run, 0);
  std::string seen;
  ASSERT_TRUE(ReadUntil(master, "ready", &seen)) << seen;
  ASSERT_EQ(write(master, "\x03", 1), 1);  // the terminal's VINTR: SIGINT to the foreground group
  ASSERT_TRUE(ReadUntil(master, "got 1", &seen)) << seen;
  ASSERT_EQ(kill(run, SIGTERM), 0);
  int status = WaitStatus(run);
  close(master);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "; terminal: " << seen;
  EXPECT_EQ(WEXITSTATUS(status), 1) << "SIGINTs the program received; terminal: " << seen;
}

// What the terminal sent went to the program already: run never relays it. Seen with a program
// that left the terminal's foreground group, so that only a relayed SIGINT could reach it. Once
// the terminal echoed "^C", the SIGINT is pending in run; run handles it before the SIGTERM sent
// after (lower-numbered first, and each handler blocks the other), so a relayed SIGINT would
// arrive before the SIGTERM.
TEST(RunSignals, WhatTheTerminalSentIsNotRelayedAgain) {
  TempDir dir;
  int master = -1;
  pid_t run = RunOnTerminal(dir / "t.trace", true, &master);
  ASSERT_GE(run, 0);
  std::string seen;
  ASSERT_TRUE(ReadUntil(master, "ready", &seen)) << seen;
  ASSERT_EQ(write(master, "\x03", 1), 1);
  ASSERT_TRUE(ReadUntil(master, "^C", &seen)) << seen;
  ASSERT_EQ(kill(run, SIGTERM), 0);
  int status = WaitStatus(run);
  close(master);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "; terminal: " << seen;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "SIGINTs relayed to the program; terminal: " << seen;
}

// ---- the traced program: the shim ends the trace on a fatal signal ----

// `allocprof run --flush-ms 0 -o TRACE -- signal_target ARGS...` until "ready"; then `sig` to the
// program itself. Nothing is flushed before the signal (no flush thread, buffers far from full):
// every event in the trace was written by the signal's flush.
struct Stopped {
  int status = 0;
  TraceSummary trace;
  std::string out, err;
};
Stopped StopWith(const TempDir& dir, const std::vector<std::string>& args, int sig) {
  std::vector<std::string> argv = {Cli(), "run",           "--flush-ms", "0",
                                   "-o",  dir / "t.trace", "--",         Program("signal_target")};
  argv.insert(argv.end(), args.begin(), args.end());
  LiveProcess run(argv);
  Stopped s;
  if (!run.WaitForStdout("ready\n")) {
    ADD_FAILURE() << "no ready: " << run.err();
    return s;
  }
  pid_t program = ChildOf(run.pid());
  EXPECT_GT(program, 0);
  if (program > 0) kill(program, sig);
  run.Wait();
  s.status = run.status();
  s.out = run.out();
  s.err = run.err();
  s.trace = Summarize(dir / "t.trace");
  return s;
}

TEST(ShimSignals, ATracedServerStoppedTheNormalWayEndsItsTrace) {
  // (Not SIGPIPE: the test ignores it, and so do the programs it starts.)
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGALRM, SIGUSR1}) {
    TempDir dir;
    Stopped s = StopWith(dir, {"wait"}, sig);
    EXPECT_TRUE(DiedOf(s.status, sig)) << sigabbrev_np(sig) << ": status " << s.status << " " << s.err;
    ASSERT_TRUE(s.trace.read_ok) << s.trace.error;
    EXPECT_TRUE(s.trace.catalog.ended_cleanly) << sigabbrev_np(sig) << ": no end record";
    EXPECT_FALSE(s.trace.Damaged()) << sigabbrev_np(sig);
    EXPECT_EQ(s.trace.AllocsOfSize(4242), 10u) << sigabbrev_np(sig) << ": the last buffer was lost";
  }
}

TEST(ShimSignals, EveryThreadsBufferIsFlushed) {
  TempDir dir;
  // Four threads blocked elsewhere (not in the shim), each with 300 allocations in its buffer.
  Stopped s = StopWith(dir, {"threads", "4", "300"}, SIGTERM);
  EXPECT_TRUE(DiedOf(s.status, SIGTERM)) << "status " << s.status << " " << s.err;
  ASSERT_TRUE(s.trace.read_ok) << s.trace.error;
  EXPECT_TRUE(s.trace.catalog.ended_cleanly);
  for (uint64_t size : {1000, 1001, 1002, 1003}) EXPECT_EQ(s.trace.AllocsOfSize(size), 300u) << size;
}

TEST(ShimSignals, SignalsThatLandInsideTheShimStillEndTheTrace) {
  // Four threads allocating without pause: the signal finds threads inside the shim, halfway
  // through a record; it is held back there and taken where it can be, the trace stays whole.
  for (int round = 0; round < 4; ++round) {
    TempDir dir;
    Stopped s = StopWith(dir, {"churn", "4"}, round % 2 ? SIGINT : SIGTERM);
    EXPECT_TRUE(DiedOf(s.status, round % 2 ? SIGINT : SIGTERM)) << "status " << s.status << " " << s.err;
    ASSERT_TRUE(s.trace.read_ok) << s.trace.error;
    EXPECT_TRUE(s.trace.catalog.ended_cleanly) << "round " << round;
    EXPECT_FALSE(s.trace.Damaged()) << "round " << round;
    EXPECT_EQ(s.trace.frees_of_unknown, 0u);
    EXPECT_GT(s.trace.allocs, 4000u);
  }
}

TEST(ShimSignals, CrashesEndTheTraceAndKeepTheirSignal) {
  struct Case {
    const char* mode;
    int sig;
  };
  for (const Case& c : {Case{"segv", SIGSEGV}, Case{"abort", SIGABRT}, Case{"double-free", SIGABRT}}) {
    TempDir dir;
    RunResult r = RunTraced(dir / "t.trace", {Program("signal_target"), c.mode}, {"--flush-ms", "0"});
    EXPECT_EQ(r.exit_code, 128 + c.sig) << c.mode << ": " << r.err;
    TraceSummary t = Summarize(dir / "t.trace");
    ASSERT_TRUE(t.read_ok) << t.error;
    EXPECT_TRUE(t.catalog.ended_cleanly) << c.mode << ": no end record";
    EXPECT_EQ(t.AllocsOfSize(555), 100u) << c.mode;
  }
  int status = RawStatus({Cli(), "run", "-o", TempDir() / "t.trace", "--", Program("signal_target"), "segv"});
  EXPECT_TRUE(DiedOf(status, SIGSEGV)) << "status " << status;
}

// Issue 17: signal handlers that allocate while their thread is inside the shim. signal_alloc's
// handlers (one on every thread, driven by each thread's own CPU-time timer) malloc 2047 bytes,
// realloc them to 3001 and free them, while their threads allocate without pause, much of the
// time inside the shim. Every event is in the trace, against the program's own tally.
TEST(ShimSignals, AllocationsOfHandlersThatInterruptTheShimAreRecorded) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Program("signal_alloc"), "4", "60000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SignalAllocTally tally = ParseSignalAllocTally(r.out);
  ASSERT_GT(tally.handler, 0u) << r.out;
  printf("[   INFO   ] %s", r.out.c_str());
  TraceSummary t = Summarize(dir / "t.trace");
  ASSERT_TRUE(t.read_ok) << t.error;
  EXPECT_FALSE(t.Damaged());
  EXPECT_TRUE(t.catalog.ended_cleanly);
  // Two allocations a handler call: malloc(2047), then realloc's 3001 (its free half frees 2047).
  EXPECT_EQ(t.AllocsOfSize(2047), tally.handler / 2);
  EXPECT_EQ(t.AllocsOfSize(3001), tally.handler / 2);
  EXPECT_EQ(t.FreesOfSize(2047), tally.handler / 2);
  EXPECT_EQ(t.FreesOfSize(3001), tally.handler / 2);
  uint64_t loop = 0;
  for (uint64_t size : {25, 41, 73, 137, 201}) {
    loop += t.AllocsOfSize(size);
    EXPECT_EQ(t.FreesOfSize(size), t.AllocsOfSize(size)) << size;
  }
  EXPECT_EQ(loop, tally.loop);
  EXPECT_EQ(t.frees_of_unknown, 0u);
  EXPECT_EQ(t.allocs_over_live, 0u);
}

TEST(ShimSignals, TheProgramsOwnHandlerRunsAsIfTheShimWereNotThere) {
  TempDir dir;
  Stopped s = StopWith(dir, {"own-handler", "TERM"}, SIGTERM);
  EXPECT_NE(s.out.find("before: default\n"), std::string::npos) << "the program must see SIG_DFL: " << s.out;
  EXPECT_NE(s.out.find("handled\n"), std::string::npos) << s.out;
  EXPECT_TRUE(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 3) << "status " << s.status;
  EXPECT_TRUE(s.trace.catalog.ended_cleanly) << "its _exit ends the trace as usual";
  EXPECT_EQ(s.trace.AllocsOfSize(4242), 10u);
}

TEST(ShimSignals, RestoringTheDefaultBringsTheFlushBack) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Program("signal_target"), "reset-and-raise", "TERM"}, {"--flush-ms", "0"});
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  EXPECT_EQ(r.out, "reset\nnow: default\n");
  TraceSummary t = Summarize(dir / "t.trace");
  EXPECT_TRUE(t.catalog.ended_cleanly);
  EXPECT_EQ(t.AllocsOfSize(4242), 10u);
}

TEST(ShimSignals, ASignalIgnoredAtStartStaysIgnored) {
  TempDir dir;
  // Ignored here while the programs start, as nohup does: they inherit it.
  struct sigaction ignore, saved;
  memset(&ignore, 0, sizeof(ignore));
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGHUP, &ignore, &saved);
  LiveProcess run({Cli(), "run", "-q", "-o", dir / "t.trace", "--", Program("signal_target"), "own-handler", "HUP"});
  // reset-and-raise installs a handler, then SIG_DFL, then raises: SIG_DFL now means the flush.
  int status =
      RawStatus({Cli(), "run", "-o", dir / "u.trace", "--", Program("signal_target"), "reset-and-raise", "HUP"});
  sigaction(SIGHUP, &saved, nullptr);
  ASSERT_TRUE(run.WaitForStdout("ready\n")) << run.err();
  EXPECT_NE(run.out().find("before: ignored\n"), std::string::npos) << run.out();
  kill(ChildOf(run.pid()), SIGTERM);
  run.Wait();
  EXPECT_TRUE(DiedOf(run.status(), SIGTERM)) << "status " << run.status();
  EXPECT_TRUE(DiedOf(status, SIGHUP)) << "status " << status;
  EXPECT_TRUE(Summarize(dir / "u.trace").catalog.ended_cleanly);
}

TEST(RunSignals, WhatIsRelayed) {
  const pid_t child = 200, group = 100, parent = 50, stranger = 300, stranger_group = 300;
  EXPECT_TRUE(ShouldRelay(SI_USER, stranger, stranger_group, child, group, parent)) << "kill RUNPID";
  EXPECT_TRUE(ShouldRelay(SI_QUEUE, stranger, stranger_group, child, group, parent));
  EXPECT_TRUE(ShouldRelay(SI_USER, parent, group, child, group, parent)) << "a script without job control";
  EXPECT_TRUE(ShouldRelay(SI_USER, stranger, -1, child, group, parent)) << "a sender that is gone";
  EXPECT_FALSE(ShouldRelay(SI_KERNEL, 0, -1, child, group, parent)) << "the terminal: the program got it";
  EXPECT_FALSE(ShouldRelay(SI_USER, child, group, child, group, parent)) << "from the program itself";
  EXPECT_FALSE(ShouldRelay(SI_USER, 400, group, child, group, parent)) << "kill(0, ...) within the group";
}

}  // namespace
}  // namespace allocprof::testing
