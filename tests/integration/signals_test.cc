// Issue 18, replayed: signals to `allocprof run` and to the traced program.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
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
