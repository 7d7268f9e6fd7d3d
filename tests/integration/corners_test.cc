// Issue 17's corners on real programs: the leak suppressions a program embeds for LeakSanitizer,
// MiniDebugInfo in stripped modules, signal handlers' stacks, and exports resolved by time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

// The text report's "Leaks (live at end) by stack" section up to the next blank line.
std::string LeakSection(const std::string& report) {
  size_t at = report.find("Leaks (live at end) by stack");
  if (at == std::string::npos) return "";
  size_t end = report.find("\n\n", at);
  return report.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// lsan_embedded's __lsan_default_suppressions() says "leak:LeakQuietly": its 3 blocks of 777
// bytes are suppressed (as LeakSanitizer would), LeakLoudly's 1337 bytes stay a leak; the text is
// in the trace, so the analysis needs no flag.
TEST(Corners, ProgramsOwnLsanSuppressionsApply) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Program("lsan_embedded")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(dir / "t.trace");
  ASSERT_TRUE(s.read_ok) << s.error;
  EXPECT_TRUE(absl::StrContains(s.catalog.embedded_suppressions, "leak:LeakQuietly\n"))
      << s.catalog.embedded_suppressions;
  for (bool defaults : {true, false}) {
    std::vector<std::string> argv = {BuildPath("allocprof"), "analyze"};
    if (!defaults) argv.push_back("--no-default-suppressions");
    argv.push_back(dir / "t.trace");
    RunResult a = RunProgram(argv);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    std::string leaks = LeakSection(a.out);
    EXPECT_TRUE(absl::StrContains(leaks, "LeakLoudly")) << leaks;
    EXPECT_FALSE(absl::StrContains(leaks, "LeakQuietly")) << leaks;
    EXPECT_TRUE(absl::StrContains(a.out, "the program's __lsan_default_suppressions")) << a.out;
    if (!defaults) {
      EXPECT_TRUE(absl::StrContains(a.out, "suppressed: 3 blocks, 2331 bytes")) << a.out;
    }
  }
  RunResult d = RunProgram({BuildPath("allocprof"), "dump", dir / "t.trace"});
  EXPECT_TRUE(absl::StrContains(d.out, "suppressions \"# the program's own")) << d.out.substr(0, 2000);
}

// libminidebug.so is stripped and carries MiniDebugInfo (.gnu_debugdata: an xz-compressed ELF
// whose .symtab holds the local functions): the leak's row names the local function that
// allocated, from that section (libdwfl reads it; Debian's elfutils is built with lzma). The
// control is the same library stripped without the section, copied beside the program (its
// RPATH is $ORIGIN): there the frame can only be module+offset.
TEST(Corners, MiniDebugInfoNamesStrippedLocalFunctions) {
  TempDir dir;
  RunResult r = RunTraced(dir / "mini.trace", {Program("minidebug_main")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  RunResult a = RunProgram({BuildPath("allocprof"), "analyze", dir / "mini.trace"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  std::string leaks = LeakSection(a.out);
  EXPECT_TRUE(absl::StrContains(leaks, "in (anonymous namespace)::MinidebugHiddenAlloc(unsigned long)+0x")) << leaks;
  EXPECT_TRUE(absl::StrContains(leaks, "minidebug_entry+0x")) << leaks;

  ASSERT_EQ(RunProgram({"cp", Program("minidebug_main"), dir / "minidebug_main"}).exit_code, 0);
  ASSERT_EQ(RunProgram({"cp", Program("libminidebug_plain.so"), dir / "libminidebug.so"}).exit_code, 0);
  r = RunTraced(dir / "plain.trace", {dir / "minidebug_main"}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  a = RunProgram({BuildPath("allocprof"), "analyze", dir / "plain.trace"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  leaks = LeakSection(a.out);
  EXPECT_FALSE(absl::StrContains(leaks, "MinidebugHiddenAlloc")) << leaks;
  EXPECT_TRUE(absl::StrContains(leaks, "libminidebug.so+0x")) << leaks;
}

}  // namespace
}  // namespace allocprof::testing
