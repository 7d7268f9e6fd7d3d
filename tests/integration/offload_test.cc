// Compression off the program's thread (issue 20): a full chunk is sealed and handed to the
// offload thread. A thread's chunks must still reach the file in order, and every path that ends
// a thread or a process must write a sealed chunk that waits. ALLOCPROF_TEST_OFFLOAD=hold keeps
// the offload thread from taking any chunk, so from a thread's first full buffer on one sealed
// chunk is always pending: each path below meets one, every time.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "harness.h"

namespace allocprof::testing {
namespace {

constexpr int kPairs = 100000;  // ~200,000 records: several full 128 KiB buffers per thread

RunResult RunOffload(const std::string& trace, const std::string& offload, const std::vector<std::string>& args,
                     const std::string& flush_ms = "200", const std::string& lock = "membarrier") {
  std::vector<std::string> argv = {BuildPath("allocprof"), "run", "-q", "-o", trace, "--flush-ms", flush_ms, "--",
                                   Program("offload")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, {"ALLOCPROF_TEST_OFFLOAD=" + offload, "ALLOCPROF_TEST_LOCK=" + lock});
}

std::string Field(const std::string& line, const std::string& name) {
  for (absl::string_view f : absl::StrSplit(line, ' ')) {
    if (absl::StartsWith(f, name + "=")) return std::string(f.substr(name.size() + 1));
  }
  return "";
}

// Each thread's chunks, as `allocprof dump` lists them in file order, continue one another: a
// chunk starts where the thread's previous one was covered until, and counts its allocations on
// from there (a chunk written out of order breaks both).
void ExpectChunksInOrder(const std::string& trace) {
  RunResult dump = RunProgram({BuildPath("allocprof"), "dump", trace});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  std::map<std::string, std::string> covered;
  std::map<std::string, uint64_t> seq;
  int chunks = 0;
  for (absl::string_view line : absl::StrSplit(dump.out, '\n')) {
    if (!absl::StartsWith(line, "chunk ")) continue;
    std::string l(line), thread = Field(l, "thread");
    if (thread == "process") continue;
    uint64_t alloc_seq = 0;
    ASSERT_TRUE(absl::SimpleAtoi(Field(l, "alloc_seq"), &alloc_seq)) << l;
    if (covered.contains(thread)) {
      EXPECT_EQ(Field(l, "base"), covered[thread]) << "thread " << thread << ": " << l;
      EXPECT_GE(alloc_seq, seq[thread]) << l;
    }
    covered[thread] = Field(l, "covered");
    seq[thread] = alloc_seq;
    ++chunks;
  }
  EXPECT_GE(chunks, 5) << dump.out.substr(0, 2000);
}

void ExpectExact(const TraceSummary& s, uint64_t size, uint64_t count) {
  EXPECT_EQ(s.AllocsOfSize(size), count) << "size " << size;
  EXPECT_EQ(s.FreesOfSize(size), count) << "size " << size;
}

void ExpectClean(const TraceSummary& s) {
  ASSERT_TRUE(s.read_ok) << s.error;
  for (const auto& d : s.catalog.diagnostics) {
    if (d.kind != Diagnostic::Kind::kNote) ADD_FAILURE() << d.message;
  }
  EXPECT_EQ(s.frees_of_unknown, 0u);
  EXPECT_EQ(s.allocs_over_live, 0u);
}

// The same program gives the same figures whether its chunks are compressed on its own threads
// (off), by the offload thread (on) or by its threads' next flushes (hold).
TEST(Offload, EveryModeRecordsTheSameEventsInOrder) {
  std::map<std::string, TraceSummary> by_mode;
  for (const std::string mode : {"off", "on", "hold"}) {
    TempDir dir;
    RunResult r = RunOffload(dir / "t.trace", mode, {"threads", std::to_string(kPairs)});
    ASSERT_EQ(r.exit_code, 0) << mode << ": " << r.err;
    TraceSummary s = Summarize(dir / "t.trace");
    SCOPED_TRACE(mode);
    ExpectClean(s);
    ExpectExact(s, 1111, 4 * kPairs);
    EXPECT_TRUE(s.catalog.ended_cleanly);
    ExpectChunksInOrder(dir / "t.trace");
    by_mode[mode] = std::move(s);
  }
  EXPECT_EQ(by_mode["on"].allocs_by_size, by_mode["off"].allocs_by_size);
  EXPECT_EQ(by_mode["hold"].allocs_by_size, by_mode["off"].allocs_by_size);
  EXPECT_EQ(by_mode["on"].by_entry, by_mode["off"].by_entry);
  EXPECT_EQ(by_mode["hold"].by_entry, by_mode["off"].by_entry);
}

// The ticker flushing every millisecond takes sealed chunks and partly filled ones from under
// the offload thread and the program's threads, from its own thread: whoever writes a chunk, each
// thread's chunks stay in order and complete.
TEST(Offload, ATickerFlushingEveryMillisecondKeepsEachThreadsOrder) {
  TempDir dir;
  RunResult r = RunOffload(dir / "t.trace", "on", {"threads", std::to_string(kPairs)}, "1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(dir / "t.trace");
  ExpectClean(s);
  ExpectExact(s, 1111, 4 * kPairs);
  ExpectChunksInOrder(dir / "t.trace");
}

// The ticker takes each thread's lock every millisecond while the threads take their own on every
// event: with the owner's plain-store side (membarrier) and with exchanges on both sides, no chunk
// is written while its owner fills it, and a forked child, which registers for membarrier afresh,
// records as its parent does.
TEST(Offload, BothKindsOfThreadLockKeepEveryRecordUnderAFlushEveryMillisecond) {
  for (const std::string lock : {"membarrier", "exchange"}) {
    SCOPED_TRACE(lock);
    TempDir dir;
    RunResult r = RunOffload(dir / "t.trace", "on", {"threads", std::to_string(kPairs)}, "1", lock);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    TraceSummary s = Summarize(dir / "t.trace");
    ExpectClean(s);
    ExpectExact(s, 1111, 4 * kPairs);
    ExpectChunksInOrder(dir / "t.trace");

    TempDir forked;
    r = RunOffload(forked / "t.trace", "on", {"fork", std::to_string(kPairs)}, "1", lock);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> files = forked.Files();
    ASSERT_EQ(files.size(), 2u);
    for (const std::string& file : files) {
      TraceSummary t = Summarize(forked / file);
      ExpectClean(t);
      EXPECT_EQ(t.AllocsOfSize(2222) + t.AllocsOfSize(1111), file == "t.trace" ? uint64_t{kPairs} : 100u) << file;
    }
  }
}

// A thread that ends leaves the registry the offload thread reads: its sealed chunk is written
// on its way out, before its last chunk.
TEST(Offload, AnEndingThreadWritesItsSealedChunk) {
  TempDir dir;
  RunResult r = RunOffload(dir / "t.trace", "hold", {"exit", std::to_string(kPairs)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(dir / "t.trace");
  ExpectClean(s);
  ExpectExact(s, 1111, kPairs);
  ExpectExact(s, 3333, 100);
  ExpectChunksInOrder(dir / "t.trace");
}

// A forked child drops the parent's sealed chunk (the parent writes it) with its other buffered
// events; the parent's trace still has every one of its allocations, in order.
TEST(Offload, AForkedChildLeavesTheParentsSealedChunkToTheParent) {
  TempDir dir;
  RunResult r = RunOffload(dir / "t.trace", "hold", {"fork", std::to_string(kPairs)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> files = dir.Files();
  ASSERT_EQ(files.size(), 2u);
  TraceSummary parent = Summarize(dir / "t.trace");
  ExpectClean(parent);
  ExpectExact(parent, 1111, kPairs);
  ExpectExact(parent, 3333, 100);
  EXPECT_EQ(parent.AllocsOfSize(2222), 0u);
  ExpectChunksInOrder(dir / "t.trace");
  std::string child_trace = dir / (files[0] == "t.trace" ? files[1] : files[0]);
  TraceSummary child = Summarize(child_trace);
  ExpectClean(child);
  ExpectExact(child, 2222, 100);
  EXPECT_EQ(child.AllocsOfSize(1111), 0u) << "the parent's chunk is not the child's";
}

// A fatal signal's flush writes the sealed chunk (uncompressed, as it writes everything) before
// the thread's last one.
TEST(Offload, AFatalSignalWritesTheSealedChunk) {
  TempDir dir;
  RunResult r = RunOffload(dir / "t.trace", "hold", {"signal", std::to_string(kPairs)});
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  TraceSummary s = Summarize(dir / "t.trace");
  ExpectClean(s);
  ExpectExact(s, 1111, kPairs);
  EXPECT_TRUE(s.catalog.ended_cleanly);
  ExpectChunksInOrder(dir / "t.trace");
}

}  // namespace
}  // namespace allocprof::testing
