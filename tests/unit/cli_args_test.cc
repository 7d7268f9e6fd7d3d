#include "util/cli_args.h"

#include <gtest/gtest.h>

namespace allocprof {
namespace {

absl::Status ParseWords(CliArgs& a, std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  return a.Parse(static_cast<int>(argv.size()), argv.data(), 2);
}

CliArgs Spec() {
  CliArgs a;
  a.Option("-o,--output", true, "file");
  a.Option("--force", false, "replace");
  a.Option("--fail-if", true, "rule");
  return a;
}

TEST(CliArgs, ParsesValuesSwitchesAndTheCommandAfterDoubleDash) {
  CliArgs a = Spec();
  ASSERT_TRUE(ParseWords(a, {"allocprof", "run", "-o", "t.trace", "--force", "--", "ls", "-l", "--force"}).ok());
  EXPECT_EQ(a.Get("--output"), "t.trace");
  EXPECT_TRUE(a.Has("--force"));
  EXPECT_EQ(a.rest(), (std::vector<std::string>{"ls", "-l", "--force"}));
}

TEST(CliArgs, RepeatableAndInlineValues) {
  CliArgs a = Spec();
  ASSERT_TRUE(
      ParseWords(a, {"allocprof", "diff", "--fail-if=gen2>1.5x", "--fail-if", "allocations>1.1x", "a", "b"}).ok());
  EXPECT_EQ(a.GetAll("--fail-if"), (std::vector<std::string>{"gen2>1.5x", "allocations>1.1x"}));
  EXPECT_EQ(a.positional(), (std::vector<std::string>{"a", "b"}));
}

TEST(CliArgs, ErrorsNameTheArgument) {
  CliArgs a = Spec();
  auto st = ParseWords(a, {"allocprof", "run", "--bogus"});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--bogus"), std::string::npos);
  CliArgs b = Spec();
  st = ParseWords(b, {"allocprof", "run", "-o"});
  EXPECT_NE(st.message().find("needs a value"), std::string::npos);
  CliArgs c = Spec();
  st = ParseWords(c, {"allocprof", "run", "--force=yes"});
  EXPECT_NE(st.message().find("takes no value"), std::string::npos);
}

}  // namespace
}  // namespace allocprof
