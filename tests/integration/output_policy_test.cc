// Issue 18, replayed: what each command does with the user's files (README, "Output files").
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "harness.h"
#include "util/exit_codes.h"

namespace allocprof::testing {
namespace {

std::string Cli() { return BuildPath("allocprof"); }

bool IsCharDevice(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

// A copy of /dev/null, where the test may make one (mknod needs CAP_MKNOD, as root has); else a
// FIFO, which the same rule covers (not a regular file: written into or refused, never replaced).
struct NotAFile {
  std::string path;
  bool is_device = false;
  explicit NotAFile(const std::string& p) : path(p) {
    is_device = mknod(p.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
    if (!is_device) {
      EXPECT_EQ(mkfifo(p.c_str(), 0666), 0);
    }
  }
  bool Intact() const {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 && (is_device ? S_ISCHR(st.st_mode) : S_ISFIFO(st.st_mode));
  }
};

TEST(OutputPolicy, RunNeverReplacesADeviceEvenWithForce) {
  TempDir dir;
  NotAFile mynull(dir / "mynull");
  RunResult r = RunProgram({Cli(), "run", "--force", "-o", mynull.path, "--", "touch", dir / "ran"});
  EXPECT_EQ(r.exit_code, kExitCantCreate) << r.err;
  EXPECT_NE(r.err.find("a trace must be a regular file"), std::string::npos) << r.err;
  EXPECT_TRUE(mynull.Intact());
  EXPECT_NE(access((dir / "ran").c_str(), F_OK), 0) << "the program must not have run";
}

TEST(OutputPolicy, AnalyzeWritesIntoADeviceWithoutReplacingIt) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "3"}).exit_code, 0);
  RunResult r = RunProgram({Cli(), "analyze", "--json", "/dev/null", dir / "t.trace"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(IsCharDevice("/dev/null"));
  NotAFile mynull(dir / "mynull");
  if (mynull.is_device) {  // a FIFO would block without a reader: the unit tests cover FIFOs
    r = RunProgram({Cli(), "analyze", "--json", mynull.path, dir / "t.trace"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(mynull.Intact());
  }
}

TEST(OutputPolicy, RunChecksTheTraceCanBeCreatedBeforeTheProgramStarts) {
  TempDir dir;
  RunResult r = RunProgram({Cli(), "run", "-o", dir / "missing/dir/x.trace", "--", "touch", dir / "ran"});
  EXPECT_EQ(r.exit_code, kExitCantCreate) << r.err;
  EXPECT_NE(r.err.find("cannot create " + (dir / "missing/dir/x.trace") + ": directory " + (dir / "missing/dir") +
                       " does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_NE(access((dir / "ran").c_str(), F_OK), 0) << "the program must not have run";
  // A directory where no file can be created, for root as for anyone (EACCES, or EROFS where /sys
  // is mounted read-only): the same refusal with the system's reason.
  r = RunProgram({Cli(), "run", "-o", "/sys/allocprof-test.trace", "--", "touch", dir / "ran"});
  EXPECT_EQ(r.exit_code, kExitCantCreate) << r.err;
  EXPECT_NE(r.err.find("cannot create /sys/allocprof-test.trace: "), std::string::npos) << r.err;
  EXPECT_NE(access((dir / "ran").c_str(), F_OK), 0);
  // An existing directory is not something --force could fix.
  r = RunProgram({Cli(), "run", "-o", dir.path(), "--", "touch", dir / "ran"});
  EXPECT_EQ(r.exit_code, kExitCantCreate) << r.err;
  EXPECT_NE(r.err.find("is a directory; give a file name, e.g. -o " + (dir / "app.trace")), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--force"), std::string::npos) << r.err;
}

TEST(OutputPolicy, AnUntracedRunIsNotASuccess) {
  TempDir dir;
  // A library that is not the shim, preloaded in its place: the program runs, but nothing traces it.
  RunResult r = RunProgram({Cli(), "run", "-o", dir / "t.trace", "--", Program("entry_points"), "malloc", "1"},
                           {"ALLOCPROF_SHIM=" + Program("libplugin.so")});
  EXPECT_EQ(r.out, "ok malloc 1\n");
  EXPECT_EQ(r.exit_code, kExitCantCreate) << r.err;
  EXPECT_NE(r.err.find("no trace was written to " + (dir / "t.trace")), std::string::npos) << r.err;
  // A failing program keeps its own exit status.
  r = RunProgram({Cli(), "run", "-o", dir / "u.trace", "--", "sh", "-c", "exit 5"},
                 {"ALLOCPROF_SHIM=" + Program("libplugin.so")});
  EXPECT_EQ(r.exit_code, 5) << r.err;
}

TEST(OutputPolicy, AttachChecksTheTraceBeforeTouchingTheProcess) {
  TempDir dir;
  pid_t target = fork();
  if (target == 0) {
    execl("/bin/sleep", "sleep", "600", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(target, 0);
  RunResult r = RunProgram({Cli(), "attach", "-o", dir / "missing/x.trace", std::to_string(target)});
  kill(target, SIGKILL);
  waitpid(target, nullptr, 0);
  EXPECT_EQ(r.exit_code, kExitCantCreate) << r.err;
  EXPECT_NE(r.err.find("does not exist (the process was not attached)"), std::string::npos) << r.err;
}

TEST(OutputPolicy, ForceRemovesThePreviousRunsChildTraces) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("processes"), "fork"}).exit_code, 0);
  ASSERT_GE(dir.Files().size(), 2u) << "the forked child writes t.trace.PID";
  // Without the root trace, the old child traces still belong to that run: refused.
  unlink((dir / "t.trace").c_str());
  RunResult r = RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "1"});
  EXPECT_EQ(r.exit_code, kExitUsage) << r.err;
  EXPECT_NE(r.err.find("child-process trace"), std::string::npos) << r.err;
  r = RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "1"}, {"--force"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"t.trace"});
}

TEST(OutputPolicy, DerivedOutputsAreRegeneratedButNeverReplaceATrace) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "3"}).exit_code, 0);
  ASSERT_EQ(RunTraced(dir / "u.trace", {Program("entry_points"), "calloc", "3"}).exit_code, 0);
  std::string u = ReadFile(dir / "u.trace");
  struct Case {
    std::vector<std::string> argv;
    std::string output;
  };
  std::vector<Case> cases = {
      {{Cli(), "analyze", "--no-symbols", "--json", dir / "out", dir / "t.trace"}, dir / "out"},
      {{Cli(), "diff", "--no-symbols", "--json", dir / "out", dir / "t.trace", dir / "t.trace"}, dir / "out"},
      {{Cli(), "export", dir / "t.trace", "--no-symbols", "--format", "folded", "-o", dir / "out"}, dir / "out"},
  };
  for (const Case& c : cases) {
    { std::ofstream(c.output) << "previous output"; }
    RunResult r = RunProgram(c.argv);
    EXPECT_EQ(r.exit_code, 0) << c.argv[1] << ": " << r.err;
    EXPECT_NE(ReadFile(c.output), "previous output") << c.argv[1] << " regenerates its output";
    // The same command aimed at a trace (its input, or another one) is refused, the trace intact.
    for (const std::string& victim : {dir / "t.trace", dir / "u.trace"}) {
      std::vector<std::string> argv = c.argv;
      for (auto& a : argv) {
        if (a == c.output) a = victim;
      }
      std::string before = ReadFile(victim);
      r = RunProgram(argv);
      EXPECT_EQ(r.exit_code, kExitCantCreate) << c.argv[1] << " -> " << victim << ": " << r.err;
      EXPECT_EQ(ReadFile(victim), before);
    }
  }
  EXPECT_EQ(ReadFile(dir / "u.trace"), u);
}

}  // namespace
}  // namespace allocprof::testing
