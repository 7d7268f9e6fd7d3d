// The analyzer's output on the checked-in traces of tests/golden must match the recorded output
// exactly (re-record on purpose with tests/golden/regenerate.sh).
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>

#include "absl/strings/match.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

std::vector<std::string> GoldenTraces() {
  std::vector<std::string> names;
  if (DIR* d = opendir(SourcePath("tests/golden").c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (absl::EndsWith(n, ".trace")) names.push_back(n.substr(0, n.size() - 6));
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The generator string names the build; everything else must be identical.
std::string Normalize(std::string json) {
  return std::regex_replace(json, std::regex("\"generator\":\"[^\"]*\""), "\"generator\":\"\"");
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, AnalyzerOutputMatches) {
  const std::string& name = GetParam();
  TempDir dir;
  std::string golden = SourcePath("tests/golden");
  // Relative paths, as regenerate.sh uses them, so file names in the output match.
  char cwd[4096];
  ASSERT_TRUE(getcwd(cwd, sizeof(cwd)));
  ASSERT_EQ(chdir(golden.c_str()), 0);
  RunResult r =
      RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", dir / "out.json", name + ".trace"});
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ReadFile(golden + "/" + name + ".txt"));
  EXPECT_EQ(Normalize(ReadFile(dir / "out.json")), Normalize(ReadFile(golden + "/" + name + ".json")));
}

INSTANTIATE_TEST_SUITE_P(Traces, GoldenTest, ::testing::ValuesIn(GoldenTraces()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

TEST(Golden, TheSetIsPresent) { EXPECT_GE(GoldenTraces().size(), 6u); }

}  // namespace
}  // namespace allocprof::testing
