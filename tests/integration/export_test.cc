// allocprof export end to end: real programs traced under the shim, exported, and read back by the
// tools the formats are for (gzip and protoc for pprof, a JSON parser for Chrome traces), with the
// figures checked against `allocprof analyze --json`.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "export/export_chrome.h"
#include "harness.h"
#include "util/exit_codes.h"

namespace allocprof::testing {
namespace {

std::string Cli() { return BuildPath("allocprof"); }

nlohmann::json Totals(const std::string& trace) {
  RunResult r = RunProgram({Cli(), "analyze", "--json", "-", trace});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out)["totals"];
}

// Sums the counts of folded lines, checking each line's shape on the way.
uint64_t FoldedSum(const std::string& folded, size_t* lines = nullptr) {
  uint64_t sum = 0;
  size_t n = 0;
  for (absl::string_view line : absl::StrSplit(folded, '\n', absl::SkipEmpty())) {
    ++n;
    size_t space = line.find(' ');
    EXPECT_NE(space, absl::string_view::npos) << line;
    EXPECT_EQ(space, line.rfind(' ')) << "one space, before the count: " << line;
    EXPECT_EQ(line.find(";;"), absl::string_view::npos) << "no empty frame: " << line;
    uint64_t count = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line.substr(space + 1), &count)) << line;
    EXPECT_GT(count, 0u) << line;
    sum += count;
  }
  if (lines) *lines = n;
  return sum;
}

TEST(ExportFolded, CountsSumToTheAnalyzersTotals) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "1000"}).exit_code, 0);
  nlohmann::json totals = Totals(dir / "t.trace");
  RunResult calls = RunProgram({Cli(), "export", dir / "t.trace", "--format", "folded", "-o", dir / "calls.folded"});
  ASSERT_EQ(calls.exit_code, 0) << calls.err;
  std::string folded = ReadFile(dir / "calls.folded");
  EXPECT_EQ(FoldedSum(folded), totals["allocations"].get<uint64_t>());
  // Root first: the program's own allocations end in main's callee, under main.
  EXPECT_NE(folded.find(";main;"), std::string::npos) << folded;
  EXPECT_NE(folded.find(" 1000\n"), std::string::npos) << "the 1000 malloc calls share one path: " << folded;

  RunResult bytes = RunProgram(
      {Cli(), "export", dir / "t.trace", "--format", "folded", "--weight", "bytes", "-o", dir / "bytes.folded"});
  ASSERT_EQ(bytes.exit_code, 0) << bytes.err;
  EXPECT_EQ(FoldedSum(ReadFile(dir / "bytes.folded")), totals["bytes_allocated"].get<uint64_t>());

  // Without symbols every frame is module+offset, and the totals do not change.
  RunResult raw = RunProgram({Cli(), "export", "--no-symbols", "--format=folded", "-o", "-", dir / "t.trace"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(FoldedSum(raw.out), totals["allocations"].get<uint64_t>());
  EXPECT_NE(raw.out.find("entry_points+0x"), std::string::npos) << raw.out;
  EXPECT_EQ(raw.out.find("main"), std::string::npos) << raw.out;
}

TEST(ExportFolded, InlinedFramesAreFramesOfTheirOwn) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("inlined")}).exit_code, 0);
  RunResult r = RunProgram({Cli(), "export", dir / "t.trace", "--format", "folded", "-o", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> frames = absl::StrSplit(line.substr(0, line.rfind(' ')), ';');
    for (size_t i = 0; i + 1 < frames.size(); ++i) {
      if (absl::StartsWith(frames[i], "AllocateThroughInline") && absl::StrContains(frames[i + 1], "InlinedAllocate")) {
        found = true;
      }
    }
  }
  EXPECT_TRUE(found) << r.out;
}

// protoc's text rendering of an exported profile.
std::string DecodePprof(const std::string& gz) {
  RunResult raw = RunProgram({"gzip", "-dc", gz});
  EXPECT_EQ(raw.exit_code, 0) << raw.err;
  RunResult text = RunProgram({"protoc", "--proto_path=" + SourcePath("tests/data"),
                               "--decode=perftools.profiles.Profile", SourcePath("tests/data/profile.proto")},
                              {}, raw.out);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  return text.out;
}

struct DecodedProfile {
  std::vector<std::string> strings;
  std::vector<std::pair<int64_t, int64_t>> sample_types;  // string indexes
  std::vector<std::vector<int64_t>> samples;              // values
  size_t locations = 0, locations_with_inlined = 0, lines = 0, mappings = 0;
  int64_t default_sample_type = 0, period = 0, duration = 0;
};

// Reads protoc's text format line by line: top-level messages open at column 0.
DecodedProfile Parse(const std::string& text) {
  DecodedProfile p;
  std::string block;
  size_t lines_in_location = 0;
  auto value = [](absl::string_view line) {
    int64_t v = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line.substr(line.find(':') + 1), &v)) << line;
    return v;
  };
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) continue;
    if (absl::EndsWith(line, " {") && line[0] != ' ') {
      block = std::string(line.substr(0, line.size() - 2));
      if (block == "sample") p.samples.emplace_back();
      if (block == "sample_type") p.sample_types.emplace_back();
      if (block == "location") {
        ++p.locations;
        lines_in_location = 0;
      }
      if (block == "mapping") ++p.mappings;
      continue;
    }
    if (line == "}") {
      if (block == "location" && lines_in_location > 1) ++p.locations_with_inlined;
      block.clear();
      continue;
    }
    absl::string_view field = absl::StripLeadingAsciiWhitespace(line);
    if (block == "sample" && absl::StartsWith(field, "value:")) p.samples.back().push_back(value(field));
    if (block == "sample_type" && absl::StartsWith(field, "type:")) p.sample_types.back().first = value(field);
    if (block == "sample_type" && absl::StartsWith(field, "unit:")) p.sample_types.back().second = value(field);
    if (block == "location" && field == "line {") {
      ++lines_in_location;
      ++p.lines;
    }
    if (block.empty() && absl::StartsWith(field, "string_table:")) {
      std::string s(field.substr(field.find('"') + 1));
      s.pop_back();
      p.strings.push_back(s);
    }
    if (block.empty() && absl::StartsWith(field, "default_sample_type:")) p.default_sample_type = value(field);
    if (block.empty() && absl::StartsWith(field, "period:")) p.period = value(field);
    if (block.empty() && absl::StartsWith(field, "duration_nanos:")) p.duration = value(field);
  }
  return p;
}

TEST(ExportPprof, ProtocDecodesItAndTheValuesSumToTheAnalyzersTotals) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "1000"}).exit_code, 0);
  nlohmann::json totals = Totals(dir / "t.trace");
  RunResult r = RunProgram({Cli(), "export", dir / "t.trace", "--format", "pprof", "-o", dir / "t.pb.gz"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(RunProgram({"gzip", "-t", dir / "t.pb.gz"}).exit_code, 0);
  DecodedProfile p = Parse(DecodePprof(dir / "t.pb.gz"));
  ASSERT_FALSE(p.strings.empty());
  EXPECT_EQ(p.strings[0], "");
  std::vector<std::string> types;
  for (const auto& [type, unit] : p.sample_types) types.push_back(p.strings.at(type) + "/" + p.strings.at(unit));
  EXPECT_EQ(types, (std::vector<std::string>{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                                             "inuse_space/bytes"}));
  EXPECT_EQ(p.strings.at(p.default_sample_type), "alloc_objects");
  EXPECT_EQ(p.period, 1);
  EXPECT_GT(p.duration, 0);
  EXPECT_GE(p.mappings, 2u) << "the program and libc at least";
  EXPECT_GT(p.lines, 0u) << "symbolized";

  uint64_t sums[4] = {0, 0, 0, 0};
  for (const auto& s : p.samples) {
    ASSERT_EQ(s.size(), 4u);
    for (int i = 0; i < 4; ++i) sums[i] += static_cast<uint64_t>(s[i]);
  }
  EXPECT_GE(p.samples.size(), 2u);
  EXPECT_EQ(sums[0], totals["allocations"].get<uint64_t>());
  EXPECT_EQ(sums[1], totals["bytes_allocated"].get<uint64_t>());
  EXPECT_EQ(sums[2], totals["leaked_allocations"].get<uint64_t>());
  EXPECT_EQ(sums[3], totals["leaked_bytes"].get<uint64_t>());

  // --weight bytes makes alloc_space the default; --no-symbols leaves the lines to pprof.
  r = RunProgram({Cli(), "export", dir / "t.trace", "--format", "pprof", "--weight", "bytes", "--no-symbols", "-o",
                  dir / "raw.pb.gz"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  DecodedProfile raw = Parse(DecodePprof(dir / "raw.pb.gz"));
  EXPECT_EQ(raw.strings.at(raw.default_sample_type), "alloc_space");
  EXPECT_EQ(raw.lines, 0u);
  EXPECT_EQ(raw.samples.size(), p.samples.size());
}

TEST(ExportPprof, InlinedFramesAreLinesOfOneLocation) {
  TempDir dir;
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("inlined")}).exit_code, 0);
  RunResult r = RunProgram({Cli(), "export", dir / "t.trace", "--format", "pprof", "-o", dir / "t.pb.gz"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = DecodePprof(dir / "t.pb.gz");
  DecodedProfile p = Parse(text);
  EXPECT_GE(p.locations_with_inlined, 1u) << text;
  EXPECT_NE(std::find(p.strings.begin(), p.strings.end(), "AllocateThroughInline()"), p.strings.end());
}

TEST(ExportChrome, TracksParseWithMonotonicTimestampsAndCollections) {
  TempDir dir;
  // 100 MB through malloc; the cache size is pinned (the trace records the host's, 260 MiB on some
  // machines, which would leave a Gen0 budget larger than the run): 8 MiB gives a 5 MiB budget.
  ASSERT_EQ(RunTraced(dir / "t.trace", {Program("entry_points"), "malloc", "100000"}).exit_code, 0);
  nlohmann::json totals = Totals(dir / "t.trace");
  RunResult r =
      RunProgram({Cli(), "export", dir / "t.trace", "--format", "chrome", "--llc", "8MiB", "-o", dir / "t.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(ReadFile(dir / "t.json"));
  ASSERT_TRUE(j["traceEvents"].is_array());
  bool process_name = false, thread_name = false;
  size_t live = 0, rate = 0, collections = 0, samples = 0;
  double last_ts = 0, max_live = 0;
  uint64_t sampled_calls = 0;
  bool program_frame = false;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "M") {
      process_name |=
          e["name"] == "process_name" && absl::StrContains(e["args"]["name"].get<std::string>(), "entry_points");
      thread_name |= e["name"] == "thread_name";
      continue;
    }
    double ts = e["ts"].get<double>();
    EXPECT_GE(ts, last_ts);
    last_ts = ts;
    if (e["ph"] == "C" && e["name"] == "live") {
      ++live;
      max_live = std::max(max_live, e["args"]["bytes"].get<double>());
    }
    if (e["ph"] == "C" && e["name"] == "allocation rate") ++rate;
    if (e["ph"] == "i" && e["cat"] == "allocations") {
      // A stack sample: its frames as args (leaf first) and as "sf" into stackFrames, the same chain.
      ++samples;
      sampled_calls += e["args"]["calls"].get<uint64_t>();
      std::vector<std::string> chain;
      for (std::string id = e["sf"]; !id.empty();) {
        ASSERT_TRUE(j["stackFrames"].contains(id)) << id;
        const auto& f = j["stackFrames"][id];
        chain.push_back(f["name"]);
        id = f.contains("parent") ? f["parent"].get<std::string>() : "";
      }
      EXPECT_EQ(chain, e["args"]["stack"].get<std::vector<std::string>>());
      for (const auto& name : chain) program_frame |= absl::StartsWith(name, "Step") || name == "main";
    } else if (e["ph"] == "i") {
      EXPECT_TRUE(absl::StartsWith(e["name"].get<std::string>(), "Gen")) << e;
      ++collections;
    }
  }
  EXPECT_TRUE(process_name);
  EXPECT_TRUE(thread_name);
  EXPECT_GE(live, 2u);
  EXPECT_GE(rate, 2u);
  EXPECT_EQ(max_live, totals["peak_live_bytes"].get<double>());
  EXPECT_LE(last_ts, totals["duration_s"].get<double>() * 1e6 + 1);
  EXPECT_GE(collections, 10u) << "100 MB through a 5 MiB Gen0 budget";
  EXPECT_EQ(j["otherData"]["collections"].get<size_t>(), collections);
  // Where the allocations come from: the program's own functions, at most the run's allocations.
  EXPECT_GE(samples, 10u);
  EXPECT_EQ(j["otherData"]["stack_samples"].get<size_t>(), samples);
  EXPECT_TRUE(program_frame);
  EXPECT_LE(sampled_calls, totals["allocations"].get<uint64_t>());
  EXPECT_GE(sampled_calls, totals["allocations"].get<uint64_t>() * 9 / 10) << "the loop's one stack leads every window";
}

TEST(ExportCommand, BadInputAndUsageExitCodes) {
  TempDir dir;
  RunResult r = RunProgram({Cli(), "export", dir / "missing.trace", "--format", "folded", "-o", dir / "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir / "missing.trace"), std::string::npos) << r.err;
  { std::ofstream(dir / "junk.trace") << "not a trace at all, just text\n"; }
  r = RunProgram({Cli(), "export", dir / "junk.trace", "--format", "pprof", "-o", dir / "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir / "junk.trace"), std::string::npos) << r.err;

  std::string golden = SourcePath("tests/golden/threads.trace");
  EXPECT_EQ(RunProgram({Cli(), "export", golden, "-o", dir / "x"}).exit_code, 64) << "no --format";
  EXPECT_EQ(RunProgram({Cli(), "export", golden, "--format", "svg", "-o", dir / "x"}).exit_code, 64);
  EXPECT_EQ(RunProgram({Cli(), "export", golden, "--format", "folded"}).exit_code, 64) << "no -o";
  EXPECT_EQ(RunProgram({Cli(), "export", golden, "--format", "folded", "--weight", "pages", "-o", dir / "x"}).exit_code,
            64);
  EXPECT_EQ(RunProgram({Cli(), "export", golden, "--format", "chrome", "--weight", "bytes", "-o", dir / "x"}).exit_code,
            64);
  EXPECT_EQ(RunProgram({Cli(), "export", golden, golden, "--format", "folded", "-o", dir / "x"}).exit_code, 64);
  EXPECT_EQ(RunProgram({Cli(), "export", "--bogus", golden}).exit_code, 64);
  r = RunProgram({Cli(), "export", golden, "--format", "folded", "--from", "2s", "--to", "1s", "-o", dir / "x"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("--to 1s must come after --from 2s"), std::string::npos) << r.err;
  EXPECT_EQ(RunProgram({Cli(), "export", "--help"}).exit_code, 0);
}

TEST(ExportCommand, NeverWritesThroughASymlinkNorOverTheTrace) {
  TempDir dir;
  std::string golden = SourcePath("tests/golden/threads.trace");
  { std::ofstream(dir / "victim") << "keep me\n"; }
  ASSERT_EQ(symlink((dir / "victim").c_str(), (dir / "link").c_str()), 0);
  RunResult r = RunProgram({Cli(), "export", golden, "--no-symbols", "--format", "folded", "-o", dir / "link"});
  EXPECT_EQ(r.exit_code, kExitCantCreate);
  EXPECT_NE(r.err.find(dir / "link"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(dir / "victim"), "keep me\n");

  // An existing regular file is replaced, with mode 0644 when created.
  r = RunProgram({Cli(), "export", golden, "--no-symbols", "--format", "folded", "-o", dir / "victim"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(FoldedSum(ReadFile(dir / "victim")), 0u);
  r = RunProgram({Cli(), "export", golden, "--format", "chrome", "-o", dir / "new.json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat((dir / "new.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0111, 0u);
  EXPECT_NE(st.st_mode & 0400, 0u);

  // The trace itself is not an output.
  std::string copy = ReadFile(golden);
  { std::ofstream(dir / "t.trace", std::ios::binary) << copy; }
  r = RunProgram({Cli(), "export", dir / "t.trace", "--format", "folded", "-o", dir / "t.trace"});
  EXPECT_EQ(r.exit_code, kExitCantCreate);
  EXPECT_EQ(ReadFile(dir / "t.trace"), copy);
}

TEST(ExportCommand, GoldenTraceExportsAreReproducibleWithoutSymbols) {
  TempDir dir;
  std::string golden = SourcePath("tests/golden/realloc.trace");
  for (const char* format : {"folded", "pprof", "chrome"}) {
    RunResult a = RunProgram({Cli(), "export", golden, "--no-symbols", "--format", format, "-o", "-"});
    RunResult b = RunProgram({Cli(), "export", golden, "--no-symbols", "--format", format, "-o", "-"});
    ASSERT_EQ(a.exit_code, 0) << format << ": " << a.err;
    EXPECT_FALSE(a.out.empty()) << format;
    EXPECT_EQ(a.out, b.out) << format;
  }
  // The golden report's totals: 102 allocations of 326800 bytes.
  RunResult folded = RunProgram({Cli(), "export", golden, "--no-symbols", "--format", "folded", "-o", "-"});
  EXPECT_EQ(FoldedSum(folded.out), 102u);
  RunResult bytes =
      RunProgram({Cli(), "export", golden, "--no-symbols", "--format", "folded", "--weight", "bytes", "-o", "-"});
  EXPECT_EQ(FoldedSum(bytes.out), 326800u);
}

}  // namespace
}  // namespace allocprof::testing
