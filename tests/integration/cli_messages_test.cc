// Issue 18, replayed: what the CLI says when something is wrong, and what it prints for odd input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "harness.h"
#include "util/exit_codes.h"

namespace allocprof::testing {
namespace {

std::string Cli() { return BuildPath("allocprof"); }

std::vector<std::string> Lines(const std::string& text) { return absl::StrSplit(text, '\n', absl::SkipEmpty()); }

TEST(CliMessages, AUsageErrorIsOneLineAndWhereToLook) {
  TempDir dir;
  struct Case {
    std::vector<std::string> argv;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"analyze", "--bogus", "t.trace"}, "allocprof analyze: unknown option '--bogus'"},
      {{"analyze"}, "allocprof analyze: no trace given"},
      {{"diff", "a"}, "allocprof diff: give two inputs, BEFORE and AFTER (got 1)"},
      {{"export", "t.trace", "--format", "svg", "-o", "x"}, "allocprof export: --format: cannot use 'svg'"},
      {{"report", "t.trace"}, "allocprof report: -o DIR is required"},
      {{"dump"}, "allocprof dump: give one TRACE (got 0)"},
      {{"ctl", "12"}, "allocprof ctl: give a PID and a command"},
      {{"attach", "12x"}, "allocprof attach: '12x' is not a process id"},
      {{"run", "--depth", "0", "--", "true"}, "allocprof run: --depth must be a number in 1..1024 (got '0')"},
      {{"run"}, "allocprof run: no command given"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {Cli()};
    argv.insert(argv.end(), c.argv.begin(), c.argv.end());
    RunResult r = RunProgram(argv);
    EXPECT_EQ(r.exit_code, kExitUsage) << c.argv[0] << ": " << r.err;
    std::vector<std::string> lines = Lines(r.err);
    ASSERT_EQ(lines.size(), 2u) << r.err;
    EXPECT_EQ(lines[0].rfind(c.says, 0), 0u) << lines[0];
    EXPECT_EQ(lines[1], "see 'allocprof " + c.argv[0] + " --help'");
  }
  RunResult r = RunProgram({Cli(), "frobnicate"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(Lines(r.err).size(), 2u) << r.err;
}

TEST(CliMessages, AFlagAfterTheProgramNameGetsTheDoubleDashHint) {
  RunResult r = RunProgram({Cli(), "run", "-o", "x.trace", "ls", "-l"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(Lines(r.err)[0], "allocprof run: put the command after '--': allocprof run -o x.trace -- ls -l") << r.err;
  // Without a flag after it too, with the words quoted as a shell needs them.
  r = RunProgram({Cli(), "run", "--unwind", "fp", "sh", "-c", "echo 'hi there'"});
  EXPECT_EQ(Lines(r.err)[0],
            "allocprof run: put the command after '--': allocprof run --unwind fp -- sh -c 'echo '\\''hi there'\\'''")
      << r.err;
  EXPECT_NE(access("x.trace", F_OK), 0) << "nothing ran";
}

TEST(CliMessages, AHeaderOnlyTraceIsAnErrorNotAReportOfZeros) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "3"}).exit_code, 0);
  { std::ofstream(dir / "h.trace", std::ios::binary) << ReadFile(dir / "t.trace").substr(0, 16); }
  for (const char* command : {"analyze", "dump", "export"}) {
    std::vector<std::string> argv = {Cli(), command, dir / "h.trace"};
    if (std::string(command) == "export") argv.insert(argv.end(), {"--format", "folded", "-o", "-"});
    RunResult r = RunProgram(argv);
    EXPECT_EQ(r.exit_code, kExitBadInput) << command << ": " << r.out;
    EXPECT_NE(r.err.find(dir / "h.trace" + ": empty trace: the program wrote no data"), std::string::npos)
        << command << ": " << r.err;
  }
}

TEST(CliMessages, OneIsSingular) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "realloc", "1"}).exit_code, 0);
  RunResult r = RunProgram({Cli(), "analyze", "--no-symbols", dir / "t.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* wrong : {" 1 calls", " 1 allocations", " 1 threads"}) {
    EXPECT_EQ(r.out.find(wrong), std::string::npos) << wrong << " in:\n" << r.out;
  }
  EXPECT_NE(r.out.find(" 1 thread,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 1 call"), std::string::npos) << r.out;
}

TEST(CliMessages, JsonStaysValidUtf8WhateverTheProgramsBytes) {
  TempDir dir;
  // A command line with a surrogate, an overlong form and a stray byte: the trace keeps them, the
  // JSON (which reports/ and CI parse strictly) must not.
  std::string odd = "\xed\xa0\x80-\xc0\xaf-\xff";
  ASSERT_EQ(RunTraced(dir / "t.trace", {"sh", "-c", "exit 0", odd}).exit_code, 0);
  RunResult r = RunProgram({Cli(), "analyze", "--no-symbols", "--json", "-", dir / "t.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(r.out));
  std::string command = j["process"]["command_line"];
  EXPECT_NE(command.find("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd"),
            std::string::npos)
      << command;
}

}  // namespace
}  // namespace allocprof::testing
