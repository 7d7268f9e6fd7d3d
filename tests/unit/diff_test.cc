#include "report/diff.h"

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"

namespace allocprof {
namespace {

std::string Report(double allocations, double bytes, double gen2, const char* extra = "") {
  return absl::StrFormat(
      R"({"schema_version":1,"totals":{"allocations":%g,"bytes_allocated":%g,"peak_live_bytes":1000},)"
      R"("gen":{"gen2":%g},"stacks":{"top_by_bytes":[{"calls":10,"bytes":%g,"frames":[{"function":"Send","file":"a.cc","line":3,"module":"m","offset":1}]}]}%s})",
      allocations, bytes, gen2, bytes, extra);
}

DiffSide Side(const std::string& json) {
  auto side = DiffSideFromJson(json, "test");
  EXPECT_TRUE(side.ok()) << side.status();
  return *side;
}

TEST(Rules, Parse) {
  auto r = ParseRule("allocations>1.10x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->metric, "allocations");
  EXPECT_TRUE(r->ratio);
  EXPECT_DOUBLE_EQ(r->threshold, 1.10);
  r = ParseRule("pool:client:fallthrough>=0");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->metric, "pool:client:fallthrough");
  EXPECT_EQ(r->op, Rule::Op::kGreaterEqual);
  EXPECT_FALSE(r->ratio);
  EXPECT_FALSE(ParseRule("allocations").ok());
  EXPECT_FALSE(ParseRule(">2").ok());
  EXPECT_FALSE(ParseRule("gen2>lots").ok());
}

TEST(Diff, RatiosAndTheMotivatingVerdict) {
  DiffResult d = Compare(Side(Report(1000, 2.09e9, 5)), Side(Report(165000, 344.51e9, 505)), DefaultRules(), 10);
  EXPECT_FALSE(d.passed);
  std::string verdict = VerdictLine(d);
  EXPECT_NE(verdict.find("allocations 165.0x > 1.10x"), std::string::npos) << verdict;
  EXPECT_NE(verdict.find("gen2 101.0x > 1.50x (5 -> 505)"), std::string::npos) << verdict;
  EXPECT_EQ(verdict.find("peak_live_bytes"), std::string::npos) << "unchanged figures do not fail";
  ASSERT_EQ(d.grown.size(), 1u);
  EXPECT_EQ(d.grown[0].after.label, "Send");
}

TEST(Diff, PassesWhenRulesHold) {
  DiffResult d = Compare(Side(Report(1000, 1e6, 5)), Side(Report(1050, 1.05e6, 5)), DefaultRules(), 10);
  EXPECT_TRUE(d.passed) << VerdictLine(d);
  EXPECT_EQ(FormatRatio(1000, 1050), "1.05x");
  EXPECT_EQ(FormatRatio(0, 3), "new");
  EXPECT_EQ(FormatRatio(std::nullopt, 3), "new");
  EXPECT_EQ(FormatRatio(3, std::nullopt), "gone");
}

TEST(Diff, PerUnitFiguresWhenBothSidesCountWork) {
  // Twice the messages, twice the allocations: per message nothing changed.
  DiffResult d = Compare(Side(Report(1000, 1e6, 5, R"(,"counters":{"messages":100})")),
                         Side(Report(2000, 2e6, 5, R"(,"counters":{"messages":200})")), DefaultRules(), 10);
  EXPECT_TRUE(d.passed) << VerdictLine(d);
  EXPECT_EQ(d.outcomes[0].rule.metric, "allocations_per_messages");
}

TEST(Diff, AbsoluteRulesOnPools) {
  std::string pools =
      R"(,"pools":[{"name":"client","hit_rate":0.5,"fallthrough":{"oversize":7,"exhausted":3,"fill":1}}])";
  auto rule = ParseRule("pool:client:fallthrough>0");
  DiffResult d = Compare(Side(Report(1, 1, 1, pools.c_str())), Side(Report(1, 1, 1, pools.c_str())), {*rule}, 10);
  EXPECT_FALSE(d.passed);
  EXPECT_DOUBLE_EQ(d.outcomes[0].after, 11);
}

TEST(Diff, RejectsBadJsonClearly) {
  EXPECT_FALSE(DiffSideFromJson("{", "x.json").ok());
  EXPECT_FALSE(DiffSideFromJson(R"({"totals":{}})", "x.json").ok());
  auto st = DiffSideFromJson(R"({"schema_version":99})", "x.json").status();
  EXPECT_NE(st.message().find("schema_version 99 is not supported"), std::string::npos) << st;
  std::string deep(100000, '[');
  st = DiffSideFromJson(deep, "deep.json").status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("deep.json"), std::string::npos);
}

// Found by the diff JSON fuzzer: a frame field of the wrong type used to throw out of the reader.
TEST(Diff, FrameFieldsOfTheWrongTypeAreIgnored) {
  auto side = DiffSideFromJson(
      R"({"schema_version":1,"stacks":{"top_by_calls":[{"calls":3,"bytes":10,"frames":[
          {"function":7,"module":677818,"offset":"x","file":[],"line":-1}]}]}})",
      "odd.json");
  ASSERT_TRUE(side.ok()) << side.status();
  ASSERT_EQ(side->stacks.size(), 1u);
  EXPECT_EQ(side->stacks[0].calls, 3);
}

TEST(Diff, SampledSidesAreNamed) {
  auto side = DiffSideFromJson(
      R"({"schema_version":1,"sampling":{"interval_bytes":524288,"estimated":true,"samples":10,
          "allocations_rel_error":0.05,"bytes_rel_error":0.01}})",
      "s.json");
  ASSERT_TRUE(side.ok()) << side.status();
  EXPECT_EQ(side->sampling,
            "sampled trace (--sample 512.0 KiB): its figures are estimates, 1 sigma: allocations 5.00%, bytes 1.00%");
  auto full = DiffSideFromJson(R"({"schema_version":1})", "f.json");
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(full->sampling.empty());
  DiffResult d = Compare(*full, *side, {}, 10);
  std::string text = RenderDiffText(d);
  EXPECT_NE(text.find("after: sampled trace (--sample 512.0 KiB)"), std::string::npos) << text;
  EXPECT_EQ(text.find("before: sampled"), std::string::npos);
  EXPECT_NE(RenderDiffJson(d).find("\"sampling\":{\"before\":null,\"after\":\"sampled trace"), std::string::npos);
  EXPECT_NE(RenderDiffMarkdown(d).find("_after: sampled trace"), std::string::npos);
}

}  // namespace
}  // namespace allocprof
