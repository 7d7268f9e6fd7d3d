// allocprof report end to end: real traces in, DIR with report.md, charts and their JSON out;
// exit codes; and the local part of docs/ci.md, run verbatim.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

// Removes a directory tree the test made inside a TempDir (which only removes plain files).
struct RemoveTree {
  std::string path;
  ~RemoveTree() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Every relative link in report.md names a file in its directory.
void ExpectLinksResolve(const std::string& dir) {
  std::string md = ReadFile(dir + "/report.md");
  std::regex link(R"(\]\(([^)\s]+)\))");
  size_t links = 0;
  for (auto it = std::sregex_iterator(md.begin(), md.end(), link); it != std::sregex_iterator(); ++it, ++links) {
    std::string target = (*it)[1];
    EXPECT_EQ(target.find('/'), std::string::npos) << target;
    EXPECT_TRUE(Exists(dir + "/" + target)) << target;
  }
  EXPECT_GE(links, 4u) << md;
}

bool IsPng(const std::string& path) { return ReadFile(path).rfind("\x89PNG\r\n\x1a\n", 0) == 0; }
bool IsSvg(const std::string& path) { return ReadFile(path).find("<svg") != std::string::npos; }

class ReportCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    before_ = *dir_ / "before.trace";
    after_ = *dir_ / "after.trace";
    ASSERT_EQ(RunTraced(before_, {Program("entry_points"), "malloc", "1000"}).exit_code, 0);
    ASSERT_EQ(RunTraced(after_, {Program("entry_points"), "malloc", "20000"}).exit_code, 0);
  }
  static void TearDownTestSuite() { delete dir_; }

  static RunResult Report(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BuildPath("allocprof"), "report"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv);
  }

  static TempDir* dir_;
  static std::string before_, after_;
};

TempDir* ReportCommand::dir_ = nullptr;
std::string ReportCommand::before_, ReportCommand::after_;

TEST_F(ReportCommand, WritesReportChartsAndJsonIntoANewDirectory) {
  TempDir tmp;
  RemoveTree cleanup{tmp / "new"};
  std::string out = tmp / "new/report";  // parents are created too
  RunResult r = Report({"-o", out, after_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out + "/report.md\n");
  // collections.png/svg too when the pressure model collected (its Gen0 budget follows the traced
  // machine's cache size); nothing else.
  std::vector<std::string> names = Names(out);
  std::erase_if(names, [](const std::string& n) { return n == "collections.png" || n == "collections.svg"; });
  EXPECT_EQ(names, (std::vector<std::string>{"analysis.json", "flame-bytes.png", "flame-bytes.svg", "flame-calls.png",
                                             "flame-calls.svg", "report.html", "report.md", "size-classes.png",
                                             "size-classes.svg", "timeline.png", "timeline.svg"}));
  // The flame graph's finding names the program's function, and the page inlines everything.
  std::string md_flame = ReadFile(out + "/report.md");
  EXPECT_TRUE(std::regex_search(
      md_flame, std::regex(R"(!\[Flame graph: [0-9.]+% of bytes under (Step|main)[^\]]*\]\(flame-bytes\.png\))")))
      << md_flame;
  std::string page = ReadFile(out + "/report.html");
  EXPECT_EQ(page.find("<script src"), std::string::npos);
  EXPECT_NE(page.find("\"flame\":{"), std::string::npos);
  EXPECT_TRUE(IsPng(out + "/timeline.png") && IsPng(out + "/size-classes.png"));
  EXPECT_TRUE(IsSvg(out + "/timeline.svg") && IsSvg(out + "/size-classes.svg"));
  ExpectLinksResolve(out);
  std::string md = ReadFile(out + "/report.md");
  EXPECT_NE(md.find("**20,"), std::string::npos) << "the headline counts the 20,000 mallocs:\n" << md;
  EXPECT_NE(md.find("| # | function | file:line | bytes | calls |"), std::string::npos);
  // Symbolized and short: the function that called malloc, with its file and line.
  EXPECT_TRUE(std::regex_search(md, std::regex(R"(\| 1 \| `(Step|main)` \| `programs/entry_points\.cc:\d+` \|)")))
      << md;
  EXPECT_LE(md.size(), 60u * 1024);
  std::string json = ReadFile(out + "/analysis.json");
  EXPECT_NE(json.find("\"schema_version\":1"), std::string::npos);
  EXPECT_NE(json.find("\"top_n\":10"), std::string::npos);
}

TEST_F(ReportCommand, BaselineAddsComparisonAndVerdictWithoutChangingTheExitStatus) {
  TempDir out;  // an existing, empty directory
  RunResult r = Report({"--baseline", before_, "-o", out.path(), after_});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // the verdict fails, the report succeeds
  EXPECT_NE(r.err.find("verdict: FAIL — allocations"), std::string::npos) << r.err;
  for (const char* name :
       {"analysis.json", "baseline.json", "diff.json", "report.md", "report.html", "flame-diff.png", "comparison.png",
        "comparison.svg", "timeline-compare.png", "timeline-compare.svg", "timeline.png", "size-classes.png"}) {
    EXPECT_TRUE(Exists(out / name)) << name;
  }
  EXPECT_TRUE(IsPng(out / "comparison.png") && IsSvg(out / "timeline-compare.svg"));
  EXPECT_NE(ReadFile(out / "diff.json").find("\"passed\":false"), std::string::npos);
  std::string md = ReadFile(out / "report.md");
  EXPECT_NE(md.find("❌ **verdict: FAIL — allocations"), std::string::npos) << md;
  EXPECT_NE(md.find("| | baseline | this run | ratio |"), std::string::npos);
  EXPECT_NE(md.find("](comparison.png)"), std::string::npos);
  ExpectLinksResolve(out.path());

  // The same directory again without a baseline: the comparison's files go.
  r = Report({"-o", out.path(), after_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"baseline.json", "diff.json", "comparison.png", "timeline-compare.svg"}) {
    EXPECT_FALSE(Exists(out / name)) << name;
  }
  EXPECT_EQ(ReadFile(out / "report.md").find("verdict:"), std::string::npos);
}

TEST_F(ReportCommand, BaselineMayBeASavedJsonReport) {
  TempDir out;
  RunResult a = RunProgram({BuildPath("allocprof"), "analyze", "--json", out / "saved.json", before_});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  RunResult r = Report({"--baseline", out / "saved.json", "-o", out.path(), after_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(out / "baseline.json"), ReadFile(out / "saved.json"));
  EXPECT_NE(ReadFile(out / "report.md").find("verdict: FAIL"), std::string::npos);
}

TEST_F(ReportCommand, PathsReachPythonAsArgumentsNeverThroughAShell) {
  TempDir tmp;
  std::string odd = tmp / "a b;$(touch pwned)`touch pwned2`";
  RemoveTree cleanup{odd};
  std::string trace = tmp / "t;$(touch pwned3).trace";
  ASSERT_EQ(RunTraced(trace, {Program("entry_points"), "malloc", "10"}).exit_code, 0);
  RunResult r = Report({"-o", odd, trace});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Exists(odd + "/report.md"));
  for (const char* name : {"pwned", "pwned2", "pwned3"}) {
    EXPECT_FALSE(Exists(name)) << name;
    EXPECT_FALSE(Exists(tmp / name)) << name;
  }
}

TEST_F(ReportCommand, ExitCodes) {
  TempDir tmp;
  // Bad input: 2, and DIR is not created.
  RunResult r = Report({"-o", tmp / "out", tmp / "missing.trace"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(tmp / "missing.trace"), std::string::npos);
  EXPECT_FALSE(Exists(tmp / "out"));
  { std::ofstream(tmp / "text.trace") << "not a trace\n"; }
  EXPECT_EQ(Report({"-o", tmp / "out", tmp / "text.trace"}).exit_code, 2);
  EXPECT_EQ(Report({"--baseline", tmp / "text.trace", "-o", tmp / "out", after_}).exit_code, 2);
  EXPECT_FALSE(Exists(tmp / "out"));

  // Usage: 64.
  EXPECT_EQ(Report({after_}).exit_code, 64) << "no -o";
  EXPECT_EQ(Report({"-o", tmp / "out"}).exit_code, 64) << "no trace";
  EXPECT_EQ(Report({"-o", tmp / "out", before_, after_}).exit_code, 64) << "two traces";
  EXPECT_EQ(Report({"--top", "0", "-o", tmp / "out", after_}).exit_code, 64);
  EXPECT_EQ(Report({"--frobnicate", "-o", tmp / "out", after_}).exit_code, 64);
  { std::ofstream(tmp / "file") << "x"; }
  r = Report({"-o", tmp / "file", after_});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
  ASSERT_EQ(symlink(dir_->path().c_str(), (tmp / "link").c_str()), 0);
  r = Report({"-o", tmp / "link", after_});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("symlink"), std::string::npos) << r.err;
  EXPECT_FALSE(Exists(*dir_ / "report.md")) << "the symlink was followed";

  // The interpreter: 127 when it cannot be started, 70 when drawing fails.
  r = Report({"--python", tmp / "no-such-python", "-o", tmp.path(), after_});
  EXPECT_EQ(r.exit_code, 127) << r.err;
  EXPECT_NE(r.err.find("--python"), std::string::npos) << r.err;
  r = Report({"--python", "/bin/false", "-o", tmp.path(), after_});
  EXPECT_EQ(r.exit_code, 70) << r.err;
  EXPECT_TRUE(Exists(tmp / "analysis.json")) << "the JSON stays for a later attempt";

  r = Report({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("does not change the exit status"), std::string::npos);
}

// docs/ci.md's local part, verbatim: the block between its ci-local-part markers.
TEST_F(ReportCommand, CiDocLocalPartRuns) {
  std::string doc = ReadFile(SourcePath("docs/ci.md"));
  size_t begin = doc.find("<!-- ci-local-part: begin -->"), end = doc.find("<!-- ci-local-part: end -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  std::string block = doc.substr(begin, end - begin);
  size_t open = block.find("```sh\n"), close = block.rfind("```");
  ASSERT_NE(open, std::string::npos);
  ASSERT_GT(close, open);
  std::string script = block.substr(open + 6, close - open - 6);
  // The workflow in the same document runs the same commands.
  for (absl::string_view line : absl::StrSplit(script, '\n', absl::SkipWhitespace())) {
    size_t uses = 0;
    for (size_t at = 0; (at = doc.find(std::string(line), at)) != std::string::npos; ++at) ++uses;
    EXPECT_GE(uses, 2u) << "not in the workflow: " << line;
  }

  TempDir work;
  RemoveTree cleanup{work / "allocprof-report"};
  RunResult r = RunProgram(
      {"bash", "-euo", "pipefail", "-c", "cd \"$WORK\"\n" + script},
      {"WORK=" + work.path(), "ALLOCPROF=" + BuildPath("allocprof"),
       "BEFORE=" + Program("entry_points") + " malloc 1000", "AFTER=" + Program("entry_points") + " malloc 20000"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::EndsWith(r.out, "\nallocprof-report/report.md\n")) << r.out;  // after the programs' output
  std::string out = work / "allocprof-report";
  for (const char* name : {"report.md", "analysis.json", "baseline.json", "diff.json", "comparison.png",
                           "timeline-compare.png", "timeline.png", "size-classes.png"}) {
    EXPECT_TRUE(Exists(out + "/" + name)) << name;
  }
  ExpectLinksResolve(out);
  EXPECT_NE(ReadFile(out + "/report.md").find("verdict: FAIL — allocations"), std::string::npos);

  // The gate the document runs after posting the comment: diff's exit status is the verdict.
  r = RunProgram({BuildPath("allocprof"), "diff", out + "/baseline.json", out + "/analysis.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  r = RunProgram({BuildPath("allocprof"), "diff", out + "/baseline.json", out + "/baseline.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace allocprof::testing
