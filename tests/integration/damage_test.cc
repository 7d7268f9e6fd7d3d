// Damaged traces (issue 16): lost bytes never make leaks, "never saw allocated" anomalies or a diff
// verdict; the damage is said first, with where and how much.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "harness.h"
#include "read/trace_file.h"

namespace allocprof::testing {
namespace {

struct ChunkAt {
  uint64_t offset, end;
  bool process;  // the process's own chunk (process record, modules, stacks), not a thread's
  uint32_t thread;
};

std::vector<ChunkAt> Chunks(const std::string& path) {
  std::vector<ChunkAt> out;
  auto file = TraceFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return out;
  Chunk c;
  while ((*file)->Next(&c)) {
    out.push_back({c.offset, c.offset + c.header.header_size + c.header.stored_size,
                   c.header.thread == format::kProcessThread, c.header.thread});
  }
  return out;
}

nlohmann::json Analyze(const std::string& trace) {
  RunResult r = RunProgram({BuildPath("allocprof"), "analyze", "--no-symbols", "--json", "-", trace});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << trace << ": " << e.what();
    return nlohmann::json::object();
  }
}

std::string Damage(const std::string& clean, const std::string& out, uint64_t at, uint64_t n) {
  std::filesystem::copy_file(clean, out, std::filesystem::copy_options::overwrite_existing);
  std::fstream f(out, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  std::string junk(n, '\xa5');
  f.write(junk.data(), static_cast<std::streamsize>(n));
  return out;
}

class DamagedTrace : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    clean_ = *dir_ / "clean.trace";
    // Blocks freed by other threads, many small uncompressed chunks: any lost chunk loses frees.
    RunResult r = RunTraced(clean_, {Program("xthread_free"), "3", "20000"},
                            {"--buffer", "16KiB", "--zstd-level", "0", "--flush-ms", "0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
  static std::string clean_;
};
TempDir* DamagedTrace::dir_ = nullptr;
std::string DamagedTrace::clean_;

// Lost bytes never add leaks, temporaries or peak: a lost free must not keep a block live, and a
// lost allocation must not make the free of an older block look like the thread's next one.
TEST_F(DamagedTrace, NoFalseLeaksOrAnomaliesWhereverBytesAreLost) {
  nlohmann::json clean = Analyze(clean_);
  uint64_t clean_leaks = clean["totals"]["leaked_bytes"];
  uint64_t clean_leaked = clean["totals"]["leaked_allocations"];
  uint64_t clean_temporary = clean["totals"]["temporary_allocations"];
  uint64_t clean_peak = clean["totals"]["peak_live_bytes"];
  ASSERT_EQ(clean["totals"]["frees_of_unknown"], 0);
  ASSERT_TRUE(clean["process"]["damage"].empty());
  std::vector<ChunkAt> chunks = Chunks(clean_);
  ASSERT_GE(chunks.size(), 20u);
  // Each kind of chunk (the process's, a thread's) at the start, the middle and the end.
  std::vector<size_t> picks;
  for (bool process : {true, false}) {
    std::vector<size_t> of_kind;
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (chunks[i].process == process) of_kind.push_back(i);
    }
    ASSERT_FALSE(of_kind.empty()) << (process ? "process" : "thread") << " chunks";
    for (size_t k : {size_t{0}, of_kind.size() / 4, of_kind.size() / 2, of_kind.size() * 3 / 4, of_kind.size() - 1}) {
      picks.push_back(of_kind[k]);
    }
  }
  // And each thread's first chunk (its start record): the merger cannot wait for a thread it does
  // not know of, so that thread's events arrive after the frees of its blocks by other threads.
  std::set<uint32_t> threads_seen;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (!chunks[i].process && threads_seen.insert(chunks[i].thread).second) picks.push_back(i);
  }
  ASSERT_GE(threads_seen.size(), 7u) << "main, 3 consumers, 3 producers";
  std::string damaged = *dir_ / "damaged.trace";
  for (size_t i : picks) {
    const ChunkAt& c = chunks[i];
    uint64_t middle = c.offset + (c.end - c.offset) / 2;
    SCOPED_TRACE(::testing::Message() << "chunk " << i << " (" << (c.process ? "process" : "thread") << ") at "
                                      << c.offset);
    nlohmann::json d = Analyze(Damage(clean_, damaged, middle, std::min<uint64_t>(64, c.end - middle)));
    EXPECT_FALSE(d["process"]["damage"].empty());
    EXPECT_LE(d["totals"]["leaked_bytes"].get<uint64_t>(), clean_leaks);
    EXPECT_LE(d["totals"]["leaked_allocations"].get<uint64_t>(), clean_leaked);
    EXPECT_LE(d["totals"]["temporary_allocations"].get<uint64_t>(), clean_temporary);
    EXPECT_LE(d["totals"]["peak_live_bytes"].get<uint64_t>(), clean_peak);
    EXPECT_EQ(d["totals"]["frees_of_unknown"], 0) << "frees of blocks allocated in the lost bytes";
  }
  // Cut off at a quarter, half and three quarters.
  uint64_t size = std::filesystem::file_size(clean_);
  for (uint64_t keep : {size / 4, size / 2, size * 3 / 4}) {
    SCOPED_TRACE(::testing::Message() << "truncated to " << keep);
    std::filesystem::copy_file(clean_, damaged, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(damaged, keep);
    nlohmann::json d = Analyze(damaged);
    EXPECT_FALSE(d["process"]["damage"].empty());
    EXPECT_LE(d["totals"]["leaked_bytes"].get<uint64_t>(), clean_leaks);
    EXPECT_LE(d["totals"]["leaked_allocations"].get<uint64_t>(), clean_leaked);
    EXPECT_LE(d["totals"]["temporary_allocations"].get<uint64_t>(), clean_temporary);
    EXPECT_LE(d["totals"]["peak_live_bytes"].get<uint64_t>(), clean_peak);
    EXPECT_EQ(d["totals"]["frees_of_unknown"], 0);
  }
}

TEST_F(DamagedTrace, DiffWithholdsTheVerdictAndSaysWhere) {
  std::vector<ChunkAt> chunks = Chunks(clean_);
  ASSERT_FALSE(chunks.empty());
  const ChunkAt& c = chunks[chunks.size() / 2];
  std::string damaged = Damage(clean_, *dir_ / "diff-damaged.trace", c.offset + 8, 2000);
  std::string cli = BuildPath("allocprof");
  RunResult r = RunProgram({cli, "diff", "--no-symbols", clean_, damaged});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("DAMAGED INPUT: after (" + damaged + ")\n  ! " + damaged + ": corrupt data at offset " +
                            std::to_string(c.offset),
                        0),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("verdict: WITHHELD"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("no verdict: after (" + damaged + ") is damaged"), std::string::npos) << r.err;
  RunResult md = RunProgram({cli, "diff", "--no-symbols", "--markdown", damaged, clean_});
  EXPECT_EQ(md.exit_code, 2);
  EXPECT_EQ(md.out.rfind("> ⚠️ **Damaged input: before (", 0), 0u) << md.out;
  RunResult allowed = RunProgram({cli, "diff", "--no-symbols", "--allow-damaged", clean_, damaged});
  EXPECT_NE(allowed.exit_code, 2) << allowed.out << allowed.err;
  EXPECT_NE(allowed.out.find("on damaged input (after ("), std::string::npos) << allowed.out;
  EXPECT_NE(allowed.out.find(" !"), std::string::npos) << "the damaged side's figures are marked: " << allowed.out;
  // The text report opens with the damage, before any figure.
  RunResult text = RunProgram({cli, "analyze", "--no-symbols", damaged});
  EXPECT_EQ(text.out.rfind("DAMAGED TRACE:", 0), 0u) << text.out.substr(0, 400);
}

// Issue 16: a misspelled rule, or a pool neither input has, used to pass silently.
TEST_F(DamagedTrace, RulesNamingNothingAreRefused) {
  std::string cli = BuildPath("allocprof");
  RunResult typo = RunProgram({cli, "diff", "--fail-if", "alocations>1.1x", clean_, clean_});
  EXPECT_EQ(typo.exit_code, 64);
  EXPECT_NE(typo.err.find("no metric named 'alocations' (did you mean 'allocations'?)"), std::string::npos) << typo.err;
  EXPECT_NE(typo.err.find("peak_live_bytes"), std::string::npos) << "the valid names are listed: " << typo.err;
  RunResult pool = RunProgram({cli, "diff", "--no-symbols", "--fail-if", "pool:nosuch:fallthrough>0", clean_, clean_});
  EXPECT_EQ(pool.exit_code, 64);
  EXPECT_NE(pool.err.find("no pool named 'nosuch' in either input"), std::string::npos) << pool.err;
  EXPECT_NE(pool.err.find("Pools in the inputs: none"), std::string::npos) << pool.err;
  RunResult list = RunProgram({cli, "diff", "--list-metrics"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("  allocations_per_second"), std::string::npos) << list.out;
}

}  // namespace
}  // namespace allocprof::testing
