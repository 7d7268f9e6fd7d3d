// Capture control and analysis windows on real processes (tests/programs/phases.cc): marks,
// --start-at-mark, --from/--to, `allocprof ctl` start/stop/mark, a control signal, --stop-after,
// and toggling under load. Counts are exact: the program allocates nothing but its phases' blocks
// after main starts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

// `allocprof run [options] -- phases ARGS` with pipes to the program's stdin and stdout.
class Traced {
 public:
  Traced(const std::string& trace, const std::vector<std::string>& options, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BuildPath("allocprof"), "run", "-o", trace};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("--");
    argv.push_back(Program("phases"));
    argv.insert(argv.end(), args.begin(), args.end());
    int in[2], out[2];
    EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~Traced() {
    if (to_ >= 0) close(to_);
    if (pid_ > 0) Wait();
    close(from_);
  }
  // One line from the program (without the newline); "" at EOF.
  std::string ReadLine() {
    std::string line;
    char c;
    while (read(from_, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }
  void Send(const std::string& line) {
    ASSERT_EQ(write(to_, (line + "\n").data(), line.size() + 1), static_cast<ssize_t>(line.size() + 1));
  }
  void CloseInput() {
    close(to_);
    to_ = -1;
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

// "phase N PID" -> PID.
int PhasePid(const std::string& line, int phase) {
  std::vector<std::string> words = absl::StrSplit(line, ' ');
  int pid = 0;
  if (words.size() != 3 || words[0] != "phase" || words[1] != std::to_string(phase) ||
      !absl::SimpleAtoi(words[2], &pid)) {
    ADD_FAILURE() << "unexpected line from phases: '" << line << "'";
  }
  return pid;
}

RunResult Ctl(int pid, const std::vector<std::string>& words) {
  std::vector<std::string> argv = {BuildPath("allocprof"), "ctl", std::to_string(pid)};
  argv.insert(argv.end(), words.begin(), words.end());
  return RunProgram(argv);
}

// A number from the first `"key":` in a JSON report.
uint64_t JsonNumber(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\":";
  size_t at = json.find(needle);
  if (at == std::string::npos) {
    ADD_FAILURE() << key << " not in the report";
    return ~uint64_t{0};
  }
  at += needle.size();
  size_t end = json.find_first_of(",}", at);
  double v = 0;
  EXPECT_TRUE(absl::SimpleAtod(json.substr(at, end - at), &v)) << json.substr(at, 40);
  return static_cast<uint64_t>(v);
}

std::string AnalyzeJson(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BuildPath("allocprof"), "analyze", "--no-symbols", "--json", "-"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = RunProgram(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(Capture, MarksAreListedWithTheirTimes) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("phases")}).exit_code, 0);
  std::string json = AnalyzeJson({dir / "t.trace"});
  size_t warm = json.find("\"name\":\"warmup-done\""), steady = json.find("\"name\":\"steady-end\"");
  ASSERT_NE(warm, std::string::npos) << json;
  ASSERT_NE(steady, std::string::npos);
  EXPECT_LT(warm, steady) << "marks are listed in time order";
  EXPECT_NE(json.find("\"window\":{\"active\":false"), std::string::npos);
}

TEST(Capture, WindowBetweenMarksCountsExactlyWhatHappenedInside) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("phases")}).exit_code, 0);
  std::string json = AnalyzeJson({"--from", "warmup-done", "--to", "steady-end", dir / "t.trace"});
  EXPECT_EQ(JsonNumber(json, "allocations"), 1000u);
  EXPECT_EQ(JsonNumber(json, "bytes_allocated"), 128000u);
  EXPECT_EQ(JsonNumber(json, "frees"), 600u) << "frees of warmup blocks are inherited, not frees";
  EXPECT_EQ(JsonNumber(json, "inherited_frees"), 40u);
  EXPECT_EQ(JsonNumber(json, "inherited_bytes_freed"), 40u * 64);
  EXPECT_EQ(JsonNumber(json, "leaked_allocations"), 400u) << "live at the window's end";
  EXPECT_EQ(JsonNumber(json, "leaked_bytes"), 400u * 128);
  // The 100 warmup blocks, and whatever the C++ runtime keeps from before main.
  EXPECT_GE(JsonNumber(json, "live_allocations_at_start"), 100u);
  EXPECT_GE(JsonNumber(json, "live_bytes_at_start"), 6400u);
  EXPECT_GE(JsonNumber(json, "peak_live_bytes"), 6400u + 128000u) << "the carried-in heap counts toward the peak";
  EXPECT_NE(json.find("\"from\":\"mark \\\"warmup-done\\\"\",\"to\":\"mark \\\"steady-end\\\"\""), std::string::npos);

  // The same window in text says which window it is; diff puts it next to each file.
  RunResult text = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--from", "warmup-done", "--to",
                               "steady-end", dir / "t.trace"});
  EXPECT_NE(text.out.find("window: from mark \"warmup-done\" to mark \"steady-end\""), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("live at window end"), std::string::npos);
  RunResult diff = RunProgram(
      {BuildPath("allocprof"), "diff", "--no-symbols", "--from", "warmup-done", dir / "t.trace", dir / "t.trace"});
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_NE(diff.out.find("(window mark \"warmup-done\" to end"), std::string::npos) << diff.out;
}

TEST(Capture, WindowFromAMarkToTheEndAndByTime) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("phases")}).exit_code, 0);
  std::string json = AnalyzeJson({"--from", "steady-end", dir / "t.trace"});
  EXPECT_EQ(JsonNumber(json, "allocations"), 10u);
  EXPECT_EQ(JsonNumber(json, "frees"), 10u);
  EXPECT_EQ(JsonNumber(json, "inherited_frees"), 400u + 60u);
  // From time 0 is the whole run.
  std::string whole = AnalyzeJson({dir / "t.trace"});
  std::string from_zero = AnalyzeJson({"--from", "0s", dir / "t.trace"});
  EXPECT_EQ(JsonNumber(from_zero, "allocations"), JsonNumber(whole, "allocations"));
  EXPECT_EQ(JsonNumber(from_zero, "inherited_frees"), 0u);
  // A window past the end of the run, and a missing mark, are errors that name what exists.
  RunResult late = RunProgram({BuildPath("allocprof"), "analyze", "--from", "3600s", dir / "t.trace"});
  EXPECT_EQ(late.exit_code, 2);
  RunResult missing = RunProgram({BuildPath("allocprof"), "analyze", "--from", "no-such-mark", dir / "t.trace"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("\"warmup-done\", \"steady-end\""), std::string::npos) << missing.err;
  RunResult reversed = RunProgram({BuildPath("allocprof"), "analyze", "--from", "2s", "--to", "1s", dir / "t.trace"});
  EXPECT_EQ(reversed.exit_code, 64);
  // export takes the same window: folded counts sum to the window's allocations.
  RunResult folded = RunProgram({BuildPath("allocprof"), "export", "--no-symbols", "--format", "folded", "-o", "-",
                                 "--from", "warmup-done", "--to", "steady-end", dir / "t.trace"});
  ASSERT_EQ(folded.exit_code, 0) << folded.err;
  uint64_t sum = 0;
  for (absl::string_view line : absl::StrSplit(folded.out, '\n', absl::SkipEmpty())) {
    uint64_t n = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &n)) << line;
    sum += n;
  }
  EXPECT_EQ(sum, 1000u);
}

TEST(Capture, StartAtMarkRecordsFromTheMarkOn) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("phases")}, {"--start-at-mark", "warmup-done"}).exit_code, 0);
  std::string json = AnalyzeJson({dir / "t.trace"});
  EXPECT_EQ(JsonNumber(json, "allocations"), 1010u);
  EXPECT_EQ(JsonNumber(json, "frees"), 1010u);
  EXPECT_EQ(JsonNumber(json, "leaked_allocations"), 0u) << "blocks recorded are freed in the trace too";
  EXPECT_EQ(JsonNumber(json, "frees_unrecorded"), 100u) << "the warmup blocks, allocated before the mark";
  EXPECT_EQ(JsonNumber(json, "frees_of_unknown"), 0u);
  EXPECT_NE(json.find("\"state\":\"recording\",\"reason\":\"start-at-mark\""), std::string::npos) << json;
  EXPECT_EQ(nlohmann::json::parse(json).at("warnings"), nlohmann::json::array()) << json.substr(json.size() - 300);
}

TEST(Capture, StartAfterALongDelayRecordsNothingAndStopAfterALongOneEverything) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "late.trace", {Program("phases")}, {"--start-after", "3600s"}).exit_code, 0);
  std::string late = AnalyzeJson({dir / "late.trace"});
  EXPECT_EQ(JsonNumber(late, "allocations"), 0u);
  EXPECT_EQ(JsonNumber(late, "frees"), 0u) << "nothing was recorded, so no free needs recording";
  ASSERT_EQ(RunTraced(dir / "full.trace", {Program("phases")}, {"--stop-after", "3600s"}).exit_code, 0);
  std::string full = AnalyzeJson({dir / "full.trace"});
  EXPECT_GE(JsonNumber(full, "allocations"), 1110u);
  EXPECT_EQ(JsonNumber(full, "frees_unrecorded"), 0u);
  RunResult bad = RunTraced(dir / "x.trace", {Program("phases")}, {"--start-after", "soon"});
  EXPECT_EQ(bad.exit_code, 64);
  EXPECT_NE(bad.err.find("--start-after must be a duration such as 10s or 500ms (got 'soon')"), std::string::npos)
      << bad.err;
}

TEST(Capture, CtlStartsStopsAndMarks) {
  TempDir dir;
  {
    Traced p(dir / "t.trace", {"--start-paused"}, {"--interactive"});
    int pid = PhasePid(p.ReadLine(), 1);
    std::string fifo = dir / ("allocprof." + std::to_string(pid) + ".ctl");
    struct stat st;
    ASSERT_EQ(stat(fifo.c_str(), &st), 0) << "the control FIFO sits next to the trace";
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    p.Send("go");
    ASSERT_EQ(PhasePid(p.ReadLine(), 2), pid);
    RunResult start = Ctl(pid, {"start"});
    EXPECT_EQ(start.exit_code, 0) << start.err;
    RunResult mark = Ctl(pid, {"mark", "from ctl"});
    EXPECT_EQ(mark.exit_code, 0) << mark.err;
    p.Send("go");
    ASSERT_EQ(PhasePid(p.ReadLine(), 3), pid);
    EXPECT_EQ(Ctl(pid, {"stop"}).exit_code, 0);
    EXPECT_EQ(Ctl(pid, {"pause"}).exit_code, 64);
    p.Send("go");
    EXPECT_EQ(p.ReadLine(), "done");
    EXPECT_EQ(p.Wait(), 0);
    EXPECT_NE(stat(fifo.c_str(), &st), 0) << "the FIFO is removed at exit";
  }
  std::string json = AnalyzeJson({dir / "t.trace"});
  // Recording covered exactly the steady phase.
  EXPECT_EQ(JsonNumber(json, "allocations"), 1000u);
  EXPECT_EQ(JsonNumber(json, "frees"), 1000u) << "600 in the phase, 400 later while paused";
  EXPECT_EQ(JsonNumber(json, "leaked_allocations"), 0u);
  EXPECT_EQ(JsonNumber(json, "frees_unrecorded"), 40u + 10u + 60u);
  EXPECT_NE(json.find("\"name\":\"from ctl\""), std::string::npos);
  EXPECT_NE(json.find("\"reason\":\"allocprof ctl stop\""), std::string::npos);
}

// A paused forked child records nothing, so no buffer flush starts its ticker: it must still get
// one, or ctl (and --stop-after, the control signal) never reaches it.
TEST(Capture, CtlReachesAForkedChildThatWasPausedThroughout) {
  TempDir dir;
  int child = 0;
  {
    Traced p(dir / "t.trace", {"--start-paused"}, {"--forked-child"});
    child = PhasePid(p.ReadLine(), 1);
    RunResult start = Ctl(child, {"start", "--timeout", "5"});
    EXPECT_EQ(start.exit_code, 0) << start.err;
    p.Send("go");
    EXPECT_EQ(p.ReadLine(), "done");
    EXPECT_EQ(p.Wait(), 0);
  }
  std::string json = AnalyzeJson({dir / ("t.trace." + std::to_string(child))});
  EXPECT_EQ(JsonNumber(json, "allocations"), 1000u) << "recorded from ctl start on";
  EXPECT_EQ(JsonNumber(json, "leaked_allocations"), 0u);
}

TEST(Capture, CtlExplainsAProcessWithoutAChannel) {
  RunResult none = Ctl(getpid(), {"start"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("has no allocprof control channel"), std::string::npos) << none.err;
  RunResult gone = Ctl(999999999, {"start"});
  EXPECT_EQ(gone.exit_code, 2);
}

TEST(Capture, ControlSignalTogglesRecording) {
  TempDir dir;
  {
    Traced p(dir / "t.trace", {"--start-paused", "--control-signal", "SIGUSR2"}, {"--interactive"});
    int pid = PhasePid(p.ReadLine(), 1);
    p.Send("go");
    ASSERT_EQ(PhasePid(p.ReadLine(), 2), pid);
    // The program blocks in read(): the signal's handler runs before the line arrives.
    ASSERT_EQ(kill(pid, SIGUSR2), 0);
    p.Send("go");
    ASSERT_EQ(PhasePid(p.ReadLine(), 3), pid);
    ASSERT_EQ(kill(pid, SIGUSR2), 0);
    p.Send("go");
    EXPECT_EQ(p.ReadLine(), "done");
    EXPECT_EQ(p.Wait(), 0) << "the program survives the signal it lent us";
  }
  std::string json = AnalyzeJson({dir / "t.trace"});
  EXPECT_EQ(JsonNumber(json, "allocations"), 1000u);
  EXPECT_EQ(JsonNumber(json, "leaked_allocations"), 0u);
  EXPECT_NE(json.find("\"reason\":\"control signal\""), std::string::npos);
}

TEST(Capture, StopAfterEndsCaptureForGood) {
  TempDir dir;
  {
    Traced p(dir / "t.trace", {"--stop-after", "1ns", "--control"}, {"--interactive"});
    int pid = PhasePid(p.ReadLine(), 1);
    // The ticker ends capture at its first turn; until then `start` is accepted (already recording).
    RunResult r;
    for (int attempt = 0; attempt < 1000; ++attempt) {
      r = Ctl(pid, {"start"});
      if (r.exit_code != 0) break;
    }
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("capture has ended"), std::string::npos) << r.err;
    for (int phase = 2; phase <= 3; ++phase) {
      p.Send("go");
      ASSERT_EQ(PhasePid(p.ReadLine(), phase), pid);
    }
    p.Send("go");
    EXPECT_EQ(p.ReadLine(), "done");
  }
  TraceSummary s = Summarize(dir / "t.trace");
  ASSERT_TRUE(s.read_ok) << s.error;
  EXPECT_EQ(s.AllocsOfSize(64) + s.AllocsOfSize(128) + s.AllocsOfSize(256), 0u) << "nothing after the end";
  EXPECT_TRUE(s.catalog.ended_cleanly) << "the trace still ends cleanly at exit";
  ASSERT_FALSE(s.catalog.captures.empty());
  EXPECT_EQ(s.catalog.captures.back().state, format::CaptureState::kEnded);
}

TEST(Capture, TogglingUnderLoadLosesNoEventAndHalvesNone) {
  TempDir dir;
  constexpr int kToggles = 8;
  {
    Traced p(dir / "t.trace", {"--start-paused"}, {"--churn", "3"});
    // The first line also tells us the program is running: its pid comes from the FIFO's name.
    p.Send("x");
    ASSERT_EQ(p.ReadLine(), "ok");
    std::vector<std::string> files = dir.Files();
    int pid = 0;
    for (const auto& f : files) {
      if (absl::EndsWith(f, ".ctl")) {
        ASSERT_TRUE(absl::SimpleAtoi(f.substr(10, f.size() - 14), &pid)) << f;
      }
    }
    ASSERT_GT(pid, 0);
    for (int i = 0; i < kToggles; ++i) {
      ASSERT_EQ(Ctl(pid, {"start"}).exit_code, 0);
      p.Send("x");  // every thread runs another 1000 rounds while recording
      ASSERT_EQ(p.ReadLine(), "ok");
      ASSERT_EQ(Ctl(pid, {"stop"}).exit_code, 0);
      p.Send("x");
      ASSERT_EQ(p.ReadLine(), "ok");
    }
    p.CloseInput();
    EXPECT_EQ(p.Wait(), 0);
  }
  std::string json = AnalyzeJson({dir / "t.trace"});
  // Every recorded block's free is recorded: a half-recorded realloc or a lost free would leave
  // a leak or an unknown free behind.
  EXPECT_EQ(JsonNumber(json, "leaked_allocations"), 0u);
  EXPECT_EQ(JsonNumber(json, "frees_of_unknown"), 0u);
  EXPECT_EQ(JsonNumber(json, "mismatched_frees"), 0u);
  EXPECT_GE(JsonNumber(json, "allocations"), 2u * 3 * 1000 * kToggles) << "malloc + realloc per round";
  EXPECT_EQ(JsonNumber(json, "frees"), JsonNumber(json, "allocations"));
  EXPECT_EQ(nlohmann::json::parse(json).at("warnings"), nlohmann::json::array()) << json.substr(json.size() - 400);
  size_t changes = 0;
  std::string root = json.substr(0, json.find("\"processes\":"));
  for (size_t at = 0; (at = root.find("\"reason\":\"allocprof ctl", at)) != std::string::npos; ++at) ++changes;
  EXPECT_EQ(changes, 2u * kToggles);
}

}  // namespace
}  // namespace allocprof::testing
