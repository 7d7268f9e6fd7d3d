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
  EXPECT_NE(verdict.find("Gen2 collections 101.0x > 1.50x (5 -> 505)"), std::string::npos) << verdict;
  EXPECT_EQ(verdict.find("peak live heap"), std::string::npos) << "unchanged figures do not fail";
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

// A sampled report as analyze writes it: the peak, temporaries, the Gen model and a pool's bytes
// fallen through are null (not estimable from a sample).
std::string SampledReport(double allocations) {
  return absl::StrFormat(
      R"({"schema_version":1,"sampling":{"interval_bytes":65536,"estimated":true,"samples":10,)"
      R"("allocations_rel_error":0.05,"bytes_rel_error":0.01},"totals":{"allocations":%g,"bytes_allocated":5000,)"
      R"("peak_live_bytes":null,"temporary_allocations":null,"leaked_bytes":0},"gen":null,)"
      R"("pools":[{"name":"client","rents":4,"hit_rate":0.5,"fallthrough":{"oversize":2},"fallthrough_bytes":null}]})",
      allocations);
}

// Issue 16 item 4: a default rule whose figure a sampled side cannot give used to pass silently on a
// weighted sum; it is listed as not applied, in every output, and counted in "N of M rules applied".
TEST(Diff, SampledSidesListDefaultRulesTheyCannotApply) {
  DiffSide a = Side(SampledReport(1000)), b = Side(SampledReport(1050));
  for (const char* m : {"peak_live_bytes", "temporary_allocations", "gen2", "gen0", "collections_per_second",
                        "pool:client:fallthrough_bytes"}) {
    EXPECT_TRUE(UnavailableWhenSampling(a, m)) << m;
  }
  for (const char* m : {"allocations", "bytes_allocated", "leaked_bytes", "pool:client:fallthrough"}) {
    EXPECT_FALSE(UnavailableWhenSampling(a, m)) << m;
  }
  DiffResult d = Compare(a, b, DefaultRules(), 10);
  EXPECT_TRUE(d.passed);
  EXPECT_EQ(VerdictLine(d), "verdict: PASS (2 of 4 rules applied; 2 not applied: not available when sampling)");
  std::string text = RenderDiffText(d);
  EXPECT_NE(text.find("  not applied: peak_live_bytes>1.25x — peak live heap: not available when sampling "
                      "(before, after)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("not applied: gen2>1.50x — Gen2 collections: not available when sampling"), std::string::npos);
  EXPECT_NE(text.find("peak live heap                                  n/a              n/a        —"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("Gen2 collections     "), std::string::npos) << "no Gen rows: the model is null";
  std::string md = RenderDiffMarkdown(d);
  EXPECT_NE(md.find("- not applied: `peak_live_bytes>1.25x` — peak live heap: not available when sampling"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| peak live heap | n/a | n/a | — |"), std::string::npos) << md;
  std::string json = RenderDiffJson(d);
  EXPECT_NE(json.find(R"("rule":"peak_live_bytes>1.25x","metric":"peak_live_bytes","applied":false,)"
                      R"j("not_applied":"peak live heap: not available when sampling (before, after)")j"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("rule":"allocations>1.10x","metric":"allocations","applied":true,"not_applied":null)"),
            std::string::npos);
  // A full side against a sampled one: the sampled side alone makes the rule inapplicable.
  DiffSide full = Side(Report(1000, 5000, 5));
  EXPECT_FALSE(UnavailableWhenSampling(full, "peak_live_bytes"));
  DiffResult mixed = Compare(full, b, DefaultRules(), 10);
  EXPECT_EQ(mixed.outcomes[2].not_applied, "peak live heap: not available when sampling (after)");
  EXPECT_FALSE(mixed.outcomes[2].applicable);
  // Without the sampling object nothing is withheld (a full report's nulls are absent figures).
  EXPECT_FALSE(UnavailableWhenSampling(full, "gen2"));
}

// A sampled report with each estimate's 1 sigma beside it, as analyze writes it, a work-unit
// counter, and one stack.
std::string SampledReportWithSigma(double allocations, double sigma) {
  return absl::StrFormat(
      R"({"schema_version":1,"sampling":{"interval_bytes":65536,"estimated":true,"samples":400,)"
      R"("allocations_rel_error":0.05,"bytes_rel_error":0.01},"totals":{"allocations":%g,"allocations_sigma":%g,)"
      R"("bytes_allocated":5000,"bytes_allocated_sigma":50,"frees":900,"frees_sigma":40,"peak_live_bytes":null,)"
      R"("temporary_allocations":null,"leaked_bytes":0},"gen":null,"counters":{"messages":100},)"
      R"("stacks":{"top_by_bytes":[{"calls":10,"calls_sigma":3,"bytes":4000,"bytes_sigma":1000,)"
      R"("frames":[{"function":"Send","file":"a.cc","line":3,"module":"m","offset":1}]}]}})",
      allocations, sigma);
}

// A sampled report that recorded no large object: 0, with what that 0 may hide at 95% beside it.
std::string SampledReportWithNoLargeObjects(double upper_95) {
  return absl::StrFormat(
      R"({"schema_version":1,"sampling":{"interval_bytes":1048576,"estimated":true,"samples":400,)"
      R"("allocations_rel_error":0.05,"bytes_rel_error":0.01},"totals":{"allocations":1000,"allocations_sigma":50,)"
      R"("bytes_allocated":5000,"bytes_allocated_sigma":50,"large_objects":0,"large_objects_upper_95":%g,)"
      R"("large_objects_sigma":0},"gen":null})",
      upper_95);
}

// A sampled 0 with nothing recorded is no exact 0 (it may hide up to its 95% bound): a rule that
// turns on it says so, as a rule within 2 sigma does; the verdict stays what was recorded.
TEST(Diff, RulesThatTurnOnASampledZeroSaySo) {
  DiffSide sampled = Side(SampledReportWithNoLargeObjects(3));
  EXPECT_EQ(sampled.metrics.at("large_objects").upper_95, 3);
  EXPECT_EQ(sampled.metrics.at("allocations").upper_95, 0) << "not a 0";
  DiffSide full = Side(Report(1000, 3000, 5));
  DiffResult d = Compare(full, sampled, {*ParseRule("large_objects>0")}, 10);
  ASSERT_EQ(d.outcomes.size(), 1u);
  EXPECT_TRUE(d.outcomes[0].applicable);
  EXPECT_FALSE(d.outcomes[0].failed);
  EXPECT_EQ(d.outcomes[0].sampled_zero_side, "after");
  EXPECT_EQ(d.outcomes[0].sampled_zero_upper_95, 3);
  EXPECT_TRUE(d.passed);
  EXPECT_EQ(VerdictLine(d), "verdict: PASS (1 of 1 rule applied; 1 on a sampled 0 with none recorded)");
  std::string line =
      "large_objects>0: after's 0 has none recorded, and may hide up to 3 at 95% (passed on what was recorded; "
      "another sampling could fail it)";
  EXPECT_NE(RenderDiffText(d).find("  sampled 0: " + line + "\n"), std::string::npos) << RenderDiffText(d);
  EXPECT_NE(RenderDiffMarkdown(d).find("- sampled 0: " + line), std::string::npos) << RenderDiffMarkdown(d);
  std::string json = RenderDiffJson(d);
  EXPECT_NE(json.find(R"("sampled_zero_side":"after","sampled_zero_upper_95":3)"), std::string::npos) << json;

  // A bound that cannot change the verdict is not mentioned: large_objects >= 5 fails at 0 and at 3.
  DiffResult decided = Compare(full, sampled, {*ParseRule("large_objects>=5")}, 10);
  EXPECT_TRUE(decided.outcomes[0].sampled_zero_side.empty());
  EXPECT_EQ(RenderDiffText(decided).find("sampled 0"), std::string::npos);
  // As the before side of a ratio: 2 large objects after, before's 0 may hide up to 3 (2 / 3 < 1.5x).
  DiffSide two = Side(R"({"schema_version":1,"totals":{"allocations":1000,"large_objects":2}})");
  DiffResult ratio = Compare(sampled, two, {*ParseRule("large_objects>1.5x")}, 10);
  EXPECT_TRUE(ratio.outcomes[0].failed) << "0 -> 2 is an infinite ratio";
  EXPECT_EQ(ratio.outcomes[0].sampled_zero_side, "before");
  EXPECT_NE(VerdictLine(ratio).find("(on a sampled 0 with none recorded)"), std::string::npos) << VerdictLine(ratio);
  // An exact 0 (a full trace): nothing is said of sampled zeros.
  DiffSide none = Side(R"({"schema_version":1,"totals":{"allocations":1000,"large_objects":0}})");
  DiffResult exact = Compare(full, none, {*ParseRule("large_objects>0")}, 10);
  EXPECT_TRUE(exact.outcomes[0].applicable);
  for (const std::string& out : {RenderDiffText(exact), RenderDiffMarkdown(exact), RenderDiffJson(exact)})
    EXPECT_EQ(out.find("sampled"), std::string::npos) << out;
}

// Issue 16 item 4: a sampled side's figures are estimates: the diff shows each with its 1 sigma,
// and a rule whose threshold lies within 2 sigma of the measured figure says the sample cannot
// decide it (the verdict stays the estimate's: the default rules are unchanged).
TEST(Diff, SampledFiguresCarryTheirSigmaAndRulesSayWhenWithinNoise) {
  DiffSide full = Side(Report(1000, 3000, 5, R"(,"counters":{"messages":100})"));
  DiffSide sampled = Side(SampledReportWithSigma(1080, 50));
  EXPECT_EQ(sampled.metrics.at("allocations").sigma, 50);
  EXPECT_EQ(sampled.metrics.at("allocations_per_messages").sigma, 0.5) << "the units are exact";
  EXPECT_EQ(full.metrics.at("allocations").sigma, 0);
  DiffResult d = Compare(full, sampled, {*ParseRule("allocations>1.10x"), *ParseRule("frees>=1000")}, 10);
  // 1,080/1,000 = 1.08x, 1 sigma 0.05x: the 1.10x threshold is 0.4 sigma away.
  ASSERT_EQ(d.outcomes.size(), 2u);
  EXPECT_TRUE(d.outcomes[0].applicable);
  EXPECT_EQ(d.outcomes[0].rule.metric, "allocations_per_messages") << "both sides count messages";
  EXPECT_NEAR(d.outcomes[0].compared_sigma, 0.05, 1e-9);
  EXPECT_TRUE(d.outcomes[0].within_noise);
  EXPECT_FALSE(d.outcomes[0].failed);
  // frees 900 ± 40 against >= 1000: 2.5 sigma away, decided.
  EXPECT_NEAR(d.outcomes[1].compared_sigma, 40, 1e-9);
  EXPECT_FALSE(d.outcomes[1].within_noise);
  EXPECT_TRUE(d.passed);
  EXPECT_EQ(VerdictLine(d), "verdict: PASS (2 of 2 rules applied; 1 within 2 sigma of the threshold)");
  std::string text = RenderDiffText(d);
  EXPECT_NE(text.find("  within noise: allocations>1.10x: 1.08x ± 0.05x lies within 2 sigma of the threshold "
                      "(passed on the estimate; another sampling could fail it)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("1,000                  1,080 ± 50      1.08x\n"), std::string::npos) << text;
  EXPECT_NE(text.find("2.9 KiB              4.9 KiB ± 50 B      1.67x"), std::string::npos) << text;
  EXPECT_NE(text.find("10                  10.8 ± 0.5      1.08x"), std::string::npos) << text;
  EXPECT_NE(text.find("30 B                50 B ± 0.5 B      1.67x"), std::string::npos) << text;
  EXPECT_NE(text.find("2.9 KiB -> 3.9 KiB ± 1000 B (1.33x), within 2 sigma  Send"), std::string::npos) << text;
  std::string md = RenderDiffMarkdown(d);
  EXPECT_NE(md.find("| allocations | 1,000 | 1,080 ± 50 | 1.08x |"), std::string::npos) << md;
  EXPECT_NE(md.find("- within noise: allocations>1.10x: 1.08x ± 0.05x"), std::string::npos) << md;
  std::string json = RenderDiffJson(d);
  EXPECT_NE(json.find(R"("before":1000,"after":1080,"ratio":1.08,"before_sigma":0,"after_sigma":50)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("compared_sigma":0.05)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("within_noise":true)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("after_bytes_sigma":1000)"), std::string::npos) << json;
  // Far from the threshold: the verdict is decided, nothing is said of noise.
  DiffResult far = Compare(full, Side(SampledReportWithSigma(2000, 60)), {*ParseRule("allocations>1.10x")}, 10);
  EXPECT_FALSE(far.passed);
  EXPECT_FALSE(far.outcomes[0].within_noise);
  EXPECT_EQ(RenderDiffText(far).find("within noise"), std::string::npos);
  // A failure within noise says so in the verdict.
  DiffResult close = Compare(full, Side(SampledReportWithSigma(1120, 50)), {*ParseRule("allocations>1.10x")}, 10);
  EXPECT_FALSE(close.passed);
  EXPECT_NE(VerdictLine(close).find("(within 2 sigma of the threshold)"), std::string::npos) << VerdictLine(close);
  // Two full reports: no sigma anywhere, columns as before.
  DiffResult exact = Compare(full, Side(Report(1080, 3000, 5)), DefaultRules(), 10);
  for (const std::string& out : {RenderDiffText(exact), RenderDiffMarkdown(exact), RenderDiffJson(exact)}) {
    EXPECT_EQ(out.find("±"), std::string::npos) << out;
    EXPECT_EQ(out.find("sigma"), std::string::npos) << out;
  }
}

// Issue 16: a misspelled rule used to pass silently ("0 of 1 rules applied").
TEST(Rules, UnknownMetricsPoolsAndUnitsAreRefused) {
  auto misspelled = ParseRule("alocations>1.1x");
  ASSERT_TRUE(misspelled.ok());
  absl::Status st = CheckRule(*misspelled, nullptr, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no metric named 'alocations' (did you mean 'allocations'?)"), std::string::npos) << st;
  EXPECT_TRUE(CheckRule(*ParseRule("gen2>1.5x"), nullptr, nullptr).ok());
  // Pools are known once the inputs are read; the field is checked at once.
  EXPECT_TRUE(CheckRule(*ParseRule("pool:nosuch:fallthrough>0"), nullptr, nullptr).ok());
  EXPECT_FALSE(CheckRule(*ParseRule("pool:client:fallthroughs>0"), nullptr, nullptr).ok());
  std::string pools = R"(,"pools":[{"name":"client","hit_rate":0.5,"rents":4,"fallthrough":{"oversize":7}}])";
  DiffSide a = Side(Report(1, 1, 1, pools.c_str())), b = Side(Report(1, 1, 1));
  st = CheckRule(*ParseRule("pool:nosuch:fallthrough>0"), &a, &b);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no pool named 'nosuch' in either input"), std::string::npos) << st;
  EXPECT_TRUE(CheckRule(*ParseRule("pool:client:fallthrough>0"), &b, &a).ok()) << "a pool of either side";
  EXPECT_TRUE(CheckRule(*ParseRule("pool:client:fallthrough_exhausted>0"), &a, &b).ok()) << "a kind with no count";
  st = CheckRule(*ParseRule("allocations_per_message>1.1x"), &a, &b);
  EXPECT_NE(st.message().find("neither input counts the work unit"), std::string::npos) << st;
  std::string list = ListMetricsText(&a, &b);
  EXPECT_NE(list.find("pool:client:hit_rate"), std::string::npos) << list;
  EXPECT_NE(list.find("Pools in the inputs: client"), std::string::npos) << list;
  EXPECT_NE(list.find("peak_live_bytes"), std::string::npos) << list;
}

DiffSide Damaged(const std::string& json, const char* source) {
  DiffSide side = Side(json);
  side.source = source;
  return side;
}

// Issue 16: a damaged trace gave a false FAIL (peak 8.18x) and said nothing of the damage.
TEST(Diff, DamageWithholdsTheVerdict) {
  std::string clean = Report(1000, 1e6, 5, R"(,"process":{"ended_cleanly":true,"damage":[]})");
  std::string damaged =
      Report(900, 0.9e6, 5,
             R"(,"process":{"ended_cleanly":true,"damage":[{"kind":"corrupt","offset":354862,"bytes":24145,)"
             R"("message":"d.trace: corrupt data at offset 354862 (checksum mismatch); 24145 bytes skipped"}]})");
  DiffSide before = Damaged(clean, "a.trace"), after = Damaged(damaged, "d.trace");
  ASSERT_EQ(after.damage.size(), 1u);
  EXPECT_TRUE(before.damage.empty());
  DiffResult d = Compare(before, after, DefaultRules(), 10);
  EXPECT_TRUE(d.withheld);
  EXPECT_NE(VerdictLine(d).find("verdict: WITHHELD — after (d.trace) is damaged"), std::string::npos) << VerdictLine(d);
  std::string text = RenderDiffText(d);
  EXPECT_EQ(text.rfind("DAMAGED INPUT: after (d.trace)\n  ! d.trace: corrupt data at offset 354862", 0), 0u) << text;
  EXPECT_EQ(text.find("allocations"), std::string::npos) << "no figures without a verdict: " << text;
  std::string md = RenderDiffMarkdown(d);
  EXPECT_EQ(md.rfind("> ⚠️ **Damaged input: after (d.trace)**", 0), 0u) << md;
  EXPECT_NE(RenderDiffJson(d).find("\"passed\":null"), std::string::npos);
  // --allow-damaged: a verdict, and every figure of the damaged side marked.
  d = Compare(before, after, DefaultRules(), 10, true);
  EXPECT_FALSE(d.withheld);
  EXPECT_TRUE(d.passed) << VerdictLine(d);
  EXPECT_EQ(VerdictLine(d), "verdict: PASS on damaged input (after (d.trace)) (4 of 4 rules applied)");
  text = RenderDiffText(d);
  EXPECT_NE(text.find("900 !"), std::string::npos) << text;
  EXPECT_EQ(text.find("1,000 !"), std::string::npos) << text;
  // A saved report without the damage key still says when it has no end record.
  DiffSide killed = Side(Report(1, 1, 1, R"(,"process":{"ended_cleanly":false})"));
  ASSERT_EQ(killed.damage.size(), 1u);
  EXPECT_NE(killed.damage[0].find("no end record"), std::string::npos);
}

// Issue 16: verdict first, human names, bold only where it matters, no rows of zeros.
TEST(Diff, ReadsInTenSeconds) {
  auto report = [&](double allocations) {
    return absl::StrFormat(R"({"schema_version":1,"totals":{"allocations":%g,"bytes_allocated":1e6,)"
                           R"("peak_live_bytes":1000,"mismatched_frees":0},"gen":{"gen0":0,"gen1":0,"gen2":0}})",
                           allocations);
  };
  DiffResult d = Compare(Side(report(1000)), Side(report(1300)), DefaultRules(), 10);
  std::string md = RenderDiffMarkdown(d);
  EXPECT_EQ(md.rfind("❌ **verdict: FAIL — allocations 1.30x > 1.10x (1,000 -> 1,300)**", 0), 0u) << md;
  EXPECT_NE(md.find("| allocations | 1,000 | 1,300 | **1.30x** |"), std::string::npos) << md;
  EXPECT_NE(md.find("| bytes allocated | 976.6 KiB | 976.6 KiB | 1.00x |"), std::string::npos) << md;
  EXPECT_EQ(md.find("mismatched"), std::string::npos) << "zero on both sides: " << md;
  EXPECT_EQ(md.find("Gen0"), std::string::npos) << "the model never collected: " << md;
  EXPECT_EQ(md.find("Gen2 collections"), std::string::npos) << "named by a rule that held: " << md;
  std::string text = RenderDiffText(d);
  EXPECT_EQ(text.rfind("verdict: FAIL", 0), 0u) << text;
  EXPECT_NE(text.find("peak live heap"), std::string::npos) << text;
  EXPECT_EQ(text.find("peak_live_bytes"), std::string::npos) << text;
  // Gen rows are back when the model collected once; a ratio within 10% is not bold.
  DiffResult g = Compare(Side(Report(1000, 1e6, 1)), Side(Report(1050, 1e6, 1)), DefaultRules(), 10);
  md = RenderDiffMarkdown(g);
  EXPECT_NE(md.find("| Gen2 collections | 1 | 1 | 1.00x |"), std::string::npos) << md;
  EXPECT_NE(md.find("| allocations | 1,000 | 1,050 | 1.05x |"), std::string::npos) << md;
  EXPECT_EQ(VerdictLine(g), "verdict: PASS (4 of 4 rules applied)");
  EXPECT_EQ(VerdictLine(Compare(Side(Report(1, 1, 1)), Side(Report(1, 1, 1)), {*ParseRule("gen2>2")}, 10)),
            "verdict: PASS (1 of 1 rule applied)");
  EXPECT_EQ(MetricLabel("allocations_per_messages"), "allocations per message");
  EXPECT_EQ(MetricLabel("pool:client:fallthrough"), "pool client: fall-throughs");
}

}  // namespace
}  // namespace allocprof
