// allocprof run --sample against full traces of the same deterministic workloads: the estimates
// land within their own reported error of the exact figures, and sampled frees pair up.
#include <gtest/gtest.h>
#include <math.h>

#include <map>
#include <nlohmann/json.hpp>

#include "harness.h"
#include "report/report.h"

namespace allocprof::testing {
namespace {

ProcessReport AnalyzeOne(const std::string& trace) {
  AnalysisOptions options;
  options.symbolize = false;
  auto report = Analyze({trace}, options, false);
  EXPECT_TRUE(report.ok()) << report.status();
  if (!report.ok() || report->processes.empty()) return {};
  return report->processes.front();
}

// churn with one worker: the same sizes in the same order on every run (fixed --seed).
std::vector<std::string> Churn() {
  return {BuildPath("bench/churn"), "--threads", "1", "--allocs", "150000", "--window", "1024", "--seed", "7"};
}

// Tolerance: 4 reported standard errors (a false failure once in ~16,000 runs if the error is
// honest), and never more than a fixed share, so a wildly pessimistic error cannot hide a bias.
void ExpectWithin(const char* what, double estimate, double exact, double rel_error, double max_share) {
  double sigma = rel_error * estimate;
  EXPECT_GT(rel_error, 0.0) << what;
  EXPECT_LE(fabs(estimate - exact), 4 * sigma)
      << what << ": estimate " << estimate << ", exact " << exact << ", 1 sigma " << sigma;
  EXPECT_LE(fabs(estimate - exact), max_share * exact) << what;
}

TEST(Sampling, EstimatesOfChurnMatchItsFullTrace) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "full.trace", Churn(), {"--unwind", "fp"}).exit_code, 0);
  ProcessReport full = AnalyzeOne(dir / "full.trace");
  ASSERT_FALSE(full.sampling.sampled());
  ASSERT_GT(full.totals.allocations, 150000u);
  for (const char* seed : {"1", "2", "3"}) {
    SCOPED_TRACE(std::string("--sample-seed ") + seed);
    std::string trace = dir / (std::string("sampled") + seed + ".trace");
    ASSERT_EQ(RunTraced(trace, Churn(), {"--unwind", "fp", "--sample", "16KiB", "--sample-seed", seed}).exit_code, 0);
    ProcessReport s = AnalyzeOne(trace);
    ASSERT_TRUE(s.sampling.sampled());
    EXPECT_EQ(s.sampling.interval_bytes, 16384u);
    // Far fewer records: ~1 in 16 KiB allocated, plus every block of 16 KiB or more.
    EXPECT_LT(s.events, full.events / 4);
    ExpectWithin("allocations", static_cast<double>(s.totals.allocations), static_cast<double>(full.totals.allocations),
                 s.sampling.AllocationsRelError(), 0.15);
    ExpectWithin("bytes allocated", static_cast<double>(s.totals.bytes_allocated),
                 static_cast<double>(full.totals.bytes_allocated), s.sampling.BytesRelError(), 0.05);
    // Frees pair with their allocations: what was freed is estimated like what was allocated, and
    // nothing but the runtime's own few blocks stays live (a missed free would leak ~all bytes).
    EXPECT_EQ(s.totals.frees_of_unknown, 0u);
    EXPECT_LT(s.totals.leaked_bytes, full.totals.leaked_bytes + (256u << 10));
    EXPECT_LT(s.totals.leaked_bytes, s.totals.bytes_allocated / 1000);
  }
}

// What sampling cannot estimate is withheld, never shown as a made-up figure: temporaries (the
// thread's next allocation is not recorded) are "not available when sampling" in the text and null
// in the JSON; short-lived ones are an estimate with their 1 sigma.
TEST(Sampling, TemporariesAreWithheldShortLivedComeWithTheirError) {
  TempDir dir;
  ASSERT_EQ(
      RunTraced(dir / "s.trace", Churn(), {"--unwind", "none", "--sample", "64KiB", "--sample-seed", "4"}).exit_code,
      0);
  RunResult text = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", dir / "s.trace"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("  temporary          not available when sampling"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" (1 sigma), "), std::string::npos) << text.out;
  RunResult json = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", "-", dir / "s.trace"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"temporary_allocations\":null,\"short_lived_allocations\":"), std::string::npos);
  EXPECT_NE(json.out.find("\"short_lived_allocations_error\":"), std::string::npos);
  EXPECT_EQ(json.out.find("\"temporary_allocations\":0"), std::string::npos) << "per stack too";
}

nlohmann::json AnalyzeJson(const std::string& trace) {
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--top", "5", "--json", "-", trace});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// A stack's identity across runs: its frames as module+offset.
std::string FramesKey(const nlohmann::json& stack) {
  std::string key;
  for (const auto& f : stack["frames"]) key += f.value("module", "") + "+" + std::to_string(f.value("offset", 0)) + ";";
  return key;
}

// Issue 16 item 4: per-stack calls and bytes of a sampled trace are estimates with their 1 sigma,
// within 4 sigma of the full trace's figures for the same stack, on several seeds; what cannot be
// estimated (the peak, the per-stack peak, the Gen model) is null, not a made-up number.
TEST(Sampling, PerStackEstimatesMatchTheFullTraceAndThePeakIsWithheld) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "full.trace", Churn(), {"--unwind", "fp"}).exit_code, 0);
  nlohmann::json full = AnalyzeJson(dir / "full.trace");
  std::map<std::string, std::pair<double, double>> exact;  // frames -> calls, bytes
  for (const auto& st : full["stacks"]["top_by_bytes"]) exact[FramesKey(st)] = {st["calls"], st["bytes"]};
  ASSERT_FALSE(exact.empty());
  for (const char* seed : {"1", "2", "3"}) {
    SCOPED_TRACE(std::string("--sample-seed ") + seed);
    std::string trace = dir / (std::string("s") + seed + ".trace");
    ASSERT_EQ(RunTraced(trace, Churn(), {"--unwind", "fp", "--sample", "16KiB", "--sample-seed", seed}).exit_code, 0);
    nlohmann::json s = AnalyzeJson(trace);
    EXPECT_TRUE(s["totals"]["peak_live_bytes"].is_null()) << s.dump().substr(0, 400);
    EXPECT_TRUE(s["totals"]["peak_time_s"].is_null());
    EXPECT_TRUE(s["gen"].is_null());
    EXPECT_TRUE(s["stacks"]["top_by_peak"].is_null());
    EXPECT_TRUE(s["totals"]["leaked_bytes_sigma"].is_number());
    // The timeline: each window's estimates with their sigma, no extremes, no pattern in an estimate.
    EXPECT_TRUE(s["sawtooth"].is_null());
    ASSERT_FALSE(s["timeline"].empty());
    double allocations = 0, allocations_variance = 0;
    for (const auto& w : s["timeline"]) {
      EXPECT_TRUE(w["live_min"].is_null() && w["live_max"].is_null()) << w.dump();
      EXPECT_TRUE(w["live_end_sigma"].is_number() && w["frees_sigma"].is_number()) << w.dump();
      allocations += w["allocations"].get<double>();
      allocations_variance += pow(w["allocations_sigma"].get<double>(), 2);
    }
    // The windows split the total's estimate: their counts and variances add up to it.
    EXPECT_NEAR(allocations, s["totals"]["allocations"].get<double>(), 0.5);
    EXPECT_NEAR(sqrt(allocations_variance), s["totals"]["allocations_sigma"].get<double>(),
                0.05 * s["totals"]["allocations_sigma"].get<double>() + 1);
    size_t compared = 0;
    for (const auto& st : s["stacks"]["top_by_bytes"]) {
      EXPECT_TRUE(st["peak_bytes"].is_null());
      auto it = exact.find(FramesKey(st));
      if (it == exact.end()) continue;
      ++compared;
      double calls = st["calls"], bytes = st["bytes"], calls_sigma = st["calls_sigma"], bytes_sigma = st["bytes_sigma"];
      // Rounding adds at most 1/4 to each weight's variance: a floor of a few counts.
      EXPECT_LE(fabs(calls - it->second.first), 4 * calls_sigma + 4) << "calls of " << st["label"];
      EXPECT_LE(fabs(bytes - it->second.second), 4 * bytes_sigma + 4096) << "bytes of " << st["label"];
    }
    EXPECT_GE(compared, 1u);
  }
  RunResult text = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", dir / "s1.trace"});
  EXPECT_NE(text.out.find("  peak live          not available when sampling"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Top stacks by contribution to the peak: not available when sampling"), std::string::npos);
  EXPECT_NE(text.out.find(" calls, "), std::string::npos);
  EXPECT_NE(text.out.find(" ± "), std::string::npos);
  EXPECT_NE(text.out.find("live min and max not available when sampling"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Live heap: periodic pattern not available when sampling"), std::string::npos);
  EXPECT_NE(text.out.find("Gen-style pressure (what a .NET-style generational collector would have done)\n"
                          "  not available when sampling"),
            std::string::npos)
      << text.out;

  RunResult chrome = RunProgram({BuildPath("allocprof"), "export", "--no-symbols", dir / "s1.trace", "--format",
                                 "chrome", "-o", dir / "s1.json"});
  EXPECT_EQ(chrome.exit_code, 0) << chrome.err;
  EXPECT_NE(chrome.err.find("Gen collections are not available when sampling"), std::string::npos) << chrome.err;
  EXPECT_EQ(ReadFile(dir / "s1.json").find("\"cat\":\"gen_model\""), std::string::npos);

  // diff: the default rules on those figures are listed as not applied; a rule the user writes on
  // one is refused (exit 64), never passed silently.
  RunResult diff = RunProgram({BuildPath("allocprof"), "diff", "--no-symbols", dir / "s1.trace", dir / "s2.trace"});
  EXPECT_NE(diff.exit_code, 64) << diff.err;
  EXPECT_NE(diff.out.find("(2 of 4 rules applied; 2 not applied: not available when sampling)"), std::string::npos)
      << diff.out;
  EXPECT_NE(diff.out.find("  not applied: peak_live_bytes>1.25x — peak live heap: not available when sampling"),
            std::string::npos);
  for (const char* rule : {"peak_live_bytes>1.25x", "gen2>1.5x", "temporary_allocations>1.1x"}) {
    RunResult refused = RunProgram(
        {BuildPath("allocprof"), "diff", "--no-symbols", "--fail-if", rule, dir / "full.trace", dir / "s2.trace"});
    EXPECT_EQ(refused.exit_code, 64) << rule;
    EXPECT_NE(refused.err.find("is not available when sampling (AFTER"), std::string::npos) << refused.err;
  }
}

TEST(Sampling, RecordedFreesAreExactlyThoseOfRecordedAllocations) {
  TempDir dir;
  ASSERT_EQ(
      RunTraced(dir / "s.trace", Churn(), {"--unwind", "none", "--sample", "64KiB", "--sample-seed", "5"}).exit_code,
      0);
  TraceSummary t = Summarize(dir / "s.trace");
  ASSERT_TRUE(t.read_ok) << t.error;
  ASSERT_TRUE(t.catalog.sampling.sampled());
  EXPECT_GT(t.allocs, 1000u);
  EXPECT_EQ(t.frees_of_unknown, 0u) << "every recorded free names a recorded, live allocation";
  EXPECT_EQ(t.allocs_over_live, 0u) << "no recorded allocation lost its free";
  EXPECT_LE(t.live_at_end, 3u) << "churn frees everything but the runtime's own few blocks";
  // Blocks of 1-4 MiB (>= the interval) are all recorded: as many as in a full trace.
  uint64_t large = 0;
  for (const auto& [size, n] : t.allocs_by_size) large += size >= (64u << 10) ? n : 0;
  ASSERT_EQ(RunTraced(dir / "f.trace", Churn(), {"--unwind", "none"}).exit_code, 0);
  TraceSummary f = Summarize(dir / "f.trace");
  uint64_t full_large = 0;
  for (const auto& [size, n] : f.allocs_by_size) full_large += size >= (64u << 10) ? n : 0;
  EXPECT_EQ(large, full_large);
}

// realloc chains (vg_realloc: 16 B .. 64 KiB, shrinks, realloc(NULL, n), realloc(p, 0)): a sampled
// block's realloc records its free, an unsampled one's passes by, and every block of the interval
// or more is recorded, as in the full trace.
TEST(Sampling, ReallocChainsKeepEveryRecordedBlocksFree) {
  TempDir dir;
  std::vector<std::string> program = {Program("vg_realloc")};
  ASSERT_EQ(
      RunTraced(dir / "s.trace", program, {"--unwind", "none", "--sample", "8KiB", "--sample-seed", "3"}).exit_code, 0);
  TraceSummary t = Summarize(dir / "s.trace");
  ASSERT_TRUE(t.read_ok) << t.error;
  EXPECT_EQ(t.frees_of_unknown, 0u) << "every recorded free names a recorded, live allocation";
  EXPECT_EQ(t.allocs_over_live, 0u) << "no recorded allocation lost its free";
  ASSERT_EQ(RunTraced(dir / "f.trace", program, {"--unwind", "none"}).exit_code, 0);
  TraceSummary f = Summarize(dir / "f.trace");
  ASSERT_TRUE(f.read_ok) << f.error;
  auto large = [](const TraceSummary& s) {
    uint64_t n = 0;
    for (const auto& [size, count] : s.allocs_by_size) n += size >= (8u << 10) ? count : 0;
    return n;
  };
  EXPECT_GE(large(f), 20u * 4) << "8 KiB .. 64 KiB in every chain";
  EXPECT_EQ(large(t), large(f));
  EXPECT_LT(t.allocs, f.allocs) << "the smaller blocks are sampled";
  EXPECT_LE(t.live_at_end, f.live_at_end) << "a sampled block left live is a free lost";
}

// Blocks allocated in one thread are freed in another and their addresses reused at once by a
// third: the set of sampled addresses must hand every recorded free to the right allocation.
TEST(Sampling, CrossThreadFreesPairUpUnderAddressReuse) {
  TempDir dir;
  std::vector<std::string> program = {Program("xthread_free"), "4", "50000"};
  ASSERT_EQ(
      RunTraced(dir / "s.trace", program, {"--unwind", "none", "--sample", "1KiB", "--sample-seed", "11"}).exit_code,
      0);
  TraceSummary t = Summarize(dir / "s.trace");
  ASSERT_TRUE(t.read_ok) << t.error;
  EXPECT_GT(t.allocs, 3000u) << "48-byte blocks at 1 KiB: p ~ 4.6% of 200,000";
  EXPECT_EQ(t.frees_of_unknown, 0u);
  EXPECT_EQ(t.allocs_over_live, 0u);
  EXPECT_LE(t.live_at_end, 3u);
  AnalysisOptions options;
  options.symbolize = false;
  auto report = Analyze({dir / "s.trace"}, options, false);
  ASSERT_TRUE(report.ok()) << report.status();
  const ProcessReport& r = report->processes.front();
  // The program's other allocations (its queues' growth, 4,000-6,000 of them) depend on how the
  // threads interleave; its 200,000 blocks of 48 bytes do not: compare their size class.
  uint64_t class_48 = 0;
  nlohmann::json json = nlohmann::json::parse(RenderJson(*report));
  for (const auto& c : json["size_classes"]) {
    if (c["min_bytes"].get<uint64_t>() <= 48 && 48 <= c["max_bytes"].get<uint64_t>()) class_48 = c["calls"];
  }
  ExpectWithin("allocations of 32-63 bytes", static_cast<double>(class_48), 200000, r.sampling.AllocationsRelError(),
               0.1);
}

TEST(Sampling, SameSeedSamplesTheSameAllocations) {
  TempDir dir;
  std::vector<std::string> options = {"--unwind", "none", "--sample", "32KiB", "--sample-seed", "9"};
  ASSERT_EQ(RunTraced(dir / "a.trace", Churn(), options).exit_code, 0);
  ASSERT_EQ(RunTraced(dir / "b.trace", Churn(), options).exit_code, 0);
  TraceSummary a = Summarize(dir / "a.trace"), b = Summarize(dir / "b.trace");
  EXPECT_EQ(a.allocs, b.allocs);
  EXPECT_EQ(a.allocs_by_size, b.allocs_by_size);
}

TEST(Sampling, DeliberateLeakIsFoundAndEstimated) {
  TempDir dir;
  // 400 blocks of 7777 bytes never freed: each recorded with p = 1 - exp(-7777 / 65536) ~ 0.11.
  const double n = 400, size = 7777, p = 1 - exp(-size / 65536);
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("exits"), "_exit", "400"}, {"--sample", "64KiB", "--sample-seed", "3"})
                .exit_code,
            3);
  ProcessReport r = AnalyzeOne(dir / "t.trace");
  ASSERT_TRUE(r.sampling.sampled());
  double exact = n * size;
  double sigma = size * sqrt(n * (1 - p) / p);  // binomial count of samples, each weighing ~1/p
  EXPECT_GT(r.totals.leaked_bytes, 0u);
  EXPECT_LE(fabs(static_cast<double>(r.totals.leaked_bytes) - exact), 4 * sigma + (8 << 10))
      << "leaked " << r.totals.leaked_bytes << ", exact " << exact << ", 1 sigma " << sigma;
}

// Issue 16 item 4: every other figure of a sampled report — frees, bytes freed, large objects,
// calls and bytes by entry point and by size class — is an estimate with its 1 sigma (`*_sigma`),
// within 4 sigma of the full trace's on several seeds; a full report carries no sigma at all.
TEST(Sampling, FreesLargeObjectsEntryPointsAndSizeClassesComeWithTheirSigma) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "full.trace", Churn(), {"--unwind", "none"}).exit_code, 0);
  // Large objects from 8 KiB: below the 16 KiB interval, so they are sampled too.
  auto analyze = [&](const std::string& trace, const char* format) {
    return RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--top", "3", "--loh-threshold", "8192",
                       format, "-", trace});
  };
  RunResult full_run = analyze(dir / "full.trace", "--json");
  ASSERT_EQ(full_run.exit_code, 0) << full_run.err;
  nlohmann::json full = nlohmann::json::parse(full_run.out);
  EXPECT_EQ(full_run.out.find("_sigma"), std::string::npos) << "a full report has no sigma";
  RunResult full_text = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", dir / "full.trace"});
  EXPECT_EQ(full_text.out.find("±"), std::string::npos) << full_text.out;
  // |estimate - exact| within 4 sigma, plus a little for the runtime's own blocks, which differ
  // from run to run.
  auto expect_within = [](const std::string& what, const nlohmann::json& est, const nlohmann::json& sigma,
                          const nlohmann::json& exact, double slack) {
    ASSERT_TRUE(est.is_number() && sigma.is_number() && exact.is_number()) << what;
    EXPECT_GT(sigma.get<double>(), 0) << what << ": an estimate must carry its error";
    EXPECT_LE(fabs(est.get<double>() - exact.get<double>()), 4 * sigma.get<double>() + slack)
        << what << ": estimate " << est << ", exact " << exact << ", 1 sigma " << sigma;
  };
  for (const char* seed : {"1", "2", "3"}) {
    SCOPED_TRACE(std::string("--sample-seed ") + seed);
    std::string trace = dir / (std::string("s") + seed + ".trace");
    ASSERT_EQ(RunTraced(trace, Churn(), {"--unwind", "none", "--sample", "16KiB", "--sample-seed", seed}).exit_code, 0);
    RunResult run = analyze(trace, "--json");
    ASSERT_EQ(run.exit_code, 0) << run.err;
    nlohmann::json s = nlohmann::json::parse(run.out);
    const auto &t = s["totals"], &ft = full["totals"];
    for (const char* key : {"frees", "large_objects"})
      expect_within(key, t[key], t[std::string(key) + "_sigma"], ft[key], 50);
    for (const char* key : {"bytes_freed", "large_object_bytes"})
      expect_within(key, t[key], t[std::string(key) + "_sigma"], ft[key], 256 << 10);
    size_t entries = 0;
    for (const auto& [name, exact] : full["by_entry_point"].items()) {
      if (exact["calls"].get<double>() < 1000) continue;  // the runtime's few calls
      ASSERT_TRUE(s["by_entry_point"].contains(name)) << name;
      const auto& e = s["by_entry_point"][name];
      expect_within(name + " calls", e["calls"], e["calls_sigma"], exact["calls"], 50);
      if (exact["bytes"].get<double>() > 0)
        expect_within(name + " bytes", e["bytes"], e["bytes_sigma"], exact["bytes"], 256 << 10);
      ++entries;
    }
    EXPECT_GE(entries, 4u) << "malloc, calloc, new[] and their frees";
    size_t classes = 0;
    for (const auto& exact : full["size_classes"]) {
      // Classes below the interval, with enough blocks to be sampled every time.
      if (exact["calls"].get<double>() < 3000 || exact["max_bytes"].get<uint64_t>() >= 16384) continue;
      for (const auto& c : s["size_classes"]) {
        if (c["min_bytes"] != exact["min_bytes"]) continue;
        std::string what = "size class " + exact["min_bytes"].dump();
        expect_within(what + " calls", c["calls"], c["calls_sigma"], exact["calls"], 50);
        expect_within(what + " bytes", c["bytes"], c["bytes_sigma"], exact["bytes"], 64 << 10);
        ++classes;
      }
    }
    EXPECT_GE(classes, 4u);
  }
  // The text shows each with its sigma; the diff shows the sampled side's.
  RunResult text =
      RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--loh-threshold", "8192", dir / "s1.trace"});
  for (const char* line : {"\n  frees  ", "\n  bytes freed  ", "\n  large objects  ", "\n  malloc  ", "\n  calloc  "}) {
    size_t at = text.out.find(line);
    ASSERT_NE(at, std::string::npos) << line << "\n" << text.out;
    std::string row = text.out.substr(at + 1, text.out.find('\n', at + 1) - at - 1);
    EXPECT_NE(row.find(" ± "), std::string::npos) << row;
  }
  EXPECT_NE(text.out.find("shares are ratios of estimates"), std::string::npos);
  // Churn frees every block through its own family: a sampled run records no mismatched free, and
  // says what that 0 may hide (16 KiB x ln 20); a full trace's 0 is exact and says nothing.
  size_t mismatched = text.out.find("\n  mismatched frees  ");
  ASSERT_NE(mismatched, std::string::npos) << text.out;
  EXPECT_EQ(text.out.substr(mismatched + 1, text.out.find('\n', mismatched + 1) - mismatched - 1),
            "  mismatched frees                 0; none recorded: under 47.9 KiB of blocks at 95%");
  EXPECT_EQ(full_text.out.find("none recorded"), std::string::npos) << full_text.out;
  RunResult s1 = analyze(dir / "s1.trace", "--json");
  ASSERT_EQ(s1.exit_code, 0) << s1.err;
  nlohmann::json s1_totals = nlohmann::json::parse(s1.out)["totals"];
  EXPECT_NEAR(s1_totals["mismatched_frees_bytes_upper_95"].get<double>(), 16384 * log(20.0), 0.01);
  RunResult diff = RunProgram({BuildPath("allocprof"), "diff", "--no-symbols", dir / "full.trace", dir / "s1.trace"});
  size_t row = diff.out.find("\nallocations ");
  ASSERT_NE(row, std::string::npos) << diff.out;
  EXPECT_NE(diff.out.substr(row, diff.out.find('\n', row + 1) - row).find(" ± "), std::string::npos) << diff.out;
}

// Mismatched frees of a sampled trace: the count and each stack's are estimates with their sigma.
TEST(Sampling, MismatchedFreesComeWithTheirSigma) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "s.trace", {Program("entry_points"), "mismatch", "20000"}, {"--sample", "4KiB"}).exit_code,
            0);
  nlohmann::json j = AnalyzeJson(dir / "s.trace");
  const auto& m = j["mismatched_frees"];
  ASSERT_TRUE(m["count_sigma"].is_number()) << m.dump();
  double count = m["count"].get<double>(), sigma = m["count_sigma"].get<double>();
  EXPECT_GT(sigma, 0);
  EXPECT_LE(fabs(count - 20000), 4 * sigma) << count << " ± " << sigma;
  EXPECT_EQ(j["totals"]["mismatched_frees_sigma"], m["count_sigma"]);
  ASSERT_FALSE(m["stacks"].empty());
  EXPECT_GT(m["stacks"][0]["count_sigma"].get<double>(), 0);
  RunResult text = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", dir / "s.trace"});
  size_t at = text.out.find("\nMismatched frees (");
  ASSERT_NE(at, std::string::npos) << text.out;
  EXPECT_NE(text.out.substr(at, 40).find(" ± "), std::string::npos) << text.out.substr(at, 200);
}

// A sampled run of several processes: each process's allocations and bytes in the run's list are
// estimates with their sigma; a full run's list has none.
TEST(Sampling, ProcessesOfASampledRunComeWithTheirSigma) {
  TempDir dir;
  std::string churn = BuildPath("bench/churn");
  std::string script = churn + " --threads 1 --allocs 20000 --seed 1 >/dev/null; " + churn +
                       " --threads 1 --allocs 40000 --seed 2 >/dev/null";
  ASSERT_EQ(RunTraced(dir / "s.trace", {"/bin/sh", "-c", script}, {"--sample", "8KiB"}).exit_code, 0);
  ASSERT_EQ(RunTraced(dir / "f.trace", {"/bin/sh", "-c", script}).exit_code, 0);
  nlohmann::json s = AnalyzeJson(dir / "s.trace"), f = AnalyzeJson(dir / "f.trace");
  ASSERT_TRUE(s.contains("run") && f.contains("run")) << s.dump().substr(0, 300);
  ASSERT_EQ(s["run"]["processes"].size(), 3u) << s["run"].dump();
  ASSERT_EQ(f["run"]["processes"].size(), 3u) << f["run"].dump();
  for (size_t i = 0; i < 3; ++i) {
    const auto &sp = s["run"]["processes"][i], &fp = f["run"]["processes"][i];
    EXPECT_FALSE(fp.contains("allocations_sigma")) << fp.dump();
    ASSERT_TRUE(sp["allocations_sigma"].is_number()) << sp.dump();
    if (sp["command"] != "churn") continue;
    double sigma = sp["allocations_sigma"].get<double>();
    EXPECT_GT(sigma, 0);
    EXPECT_LE(fabs(sp["allocations"].get<double>() - fp["allocations"].get<double>()), 4 * sigma + 50) << sp.dump();
    EXPECT_GT(sp["bytes_allocated_sigma"].get<double>(), 0);
  }
  RunResult text = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", dir / "s.trace"});
  EXPECT_NE(text.out.find(" allocations (estimates) in all\n"), std::string::npos) << text.out.substr(0, 800);
  RunResult full = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", dir / "f.trace"});
  EXPECT_EQ(full.out.find("±"), std::string::npos) << full.out.substr(0, 800);
}

TEST(Sampling, ReportsSayTheFiguresAreEstimates) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "s.trace", {Program("entry_points"), "malloc", "20000"}, {"--sample", "4KiB"}).exit_code,
            0);
  RunResult r =
      RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", dir / "s.json", dir / "s.trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("SAMPLED trace (--sample 4.0 KiB): every count and byte figure below is an estimate"),
            std::string::npos)
      << r.out.substr(0, 600);
  EXPECT_NE(r.out.find("expected error (1 sigma): allocations "), std::string::npos);
  std::string json = ReadFile(dir / "s.json");
  EXPECT_NE(json.find("\"sampling\":{\"interval_bytes\":4096,\"estimated\":true,\"samples\":"), std::string::npos);
  EXPECT_NE(json.find("\"allocations_rel_error\":"), std::string::npos);
  // 20,000 blocks of 1000 B at 4 KiB: p ~ 0.22, so ~4,400 samples and a few percent of error.
  RunResult full = RunProgram(
      {BuildPath("allocprof"), "run", "-q", "-o", dir / "f.trace", "--", Program("entry_points"), "malloc", "20000"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  RunResult diff = RunProgram({BuildPath("allocprof"), "diff", "--no-symbols", dir / "f.trace", dir / "s.trace"});
  EXPECT_NE(diff.out.find("after: sampled trace"), std::string::npos) << diff.out.substr(0, 800);
  // A full trace's report says nothing about sampling.
  RunResult plain = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", "-", dir / "f.trace"});
  EXPECT_EQ(plain.out.find("\"sampling\""), std::string::npos);
  EXPECT_EQ(plain.out.find("SAMPLED"), std::string::npos);
}

// Every event recorded (1 B: every size is at or above the interval) and none recorded (1 GiB):
// both paths leave the program's errno alone, and the program runs normally.
TEST(Sampling, ErrnoIsPreservedWhetherSampledOrNot) {
  TempDir dir;
  for (const char* interval : {"1", "1GiB"}) {
    RunResult r = RunTraced(dir / "t.trace", {Program("exits"), "errno"}, {"--force", "--sample", interval});
    EXPECT_EQ(r.exit_code, 0) << "--sample " << interval << ": exit code names the failed check: " << r.err;
  }
  // At 1 B every allocation is recorded with weight 1: the sampled trace is a full one.
  ASSERT_EQ(RunTraced(dir / "all.trace", {Program("entry_points"), "realloc", "300"}, {"--sample", "1"}).exit_code, 0);
  ASSERT_EQ(RunTraced(dir / "full.trace", {Program("entry_points"), "realloc", "300"}).exit_code, 0);
  TraceSummary all = Summarize(dir / "all.trace"), full = Summarize(dir / "full.trace");
  EXPECT_EQ(all.allocs, full.allocs);
  EXPECT_EQ(all.frees, full.frees);
  EXPECT_EQ(all.Entry(format::EntryPoint::kReallocFree), full.Entry(format::EntryPoint::kReallocFree));
  ProcessReport r = AnalyzeOne(dir / "all.trace");
  EXPECT_EQ(r.totals.allocations, full.allocs);
  EXPECT_EQ(r.sampling.AllocationsRelError(), 0.0);
}

TEST(Sampling, BadSampleOptionIsAUsageError) {
  TempDir dir;
  for (const char* bad : {"-1", "2GiB", "lots"}) {
    RunResult r = RunProgram({BuildPath("allocprof"), "run", "-o", dir / "t.trace", "--sample", bad, "--", "true"});
    EXPECT_EQ(r.exit_code, 64) << bad;
    EXPECT_NE(r.err.find("--sample must be a size in 0..1GiB"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace allocprof::testing
