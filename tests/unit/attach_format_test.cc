// The process record's optional flags (attached traces) and how the heap pass counts the frees of
// blocks allocated before an attach.
#include <gtest/gtest.h>

#include "passes/heap_analysis.h"
#include "read/record_decoder.h"
#include "record/record_encoder.h"

namespace allocprof {
namespace {

using format::EntryPoint;
using format::RecordTag;

Chunk ProcessChunk(bool with_flags, uint64_t flags, bool another_record_follows = false) {
  Chunk c;
  std::vector<uint8_t> columns(1 << 16);
  shim::RecordEncoder enc;
  enc.Init(columns.data(), columns.size(), 1 << 12);
  enc.Start(1000, 0);
  enc.Tag(RecordTag::kProcess);
  for (uint64_t v : {42, 1, 0, 1000, 0, 4096, 1 << 25, 2, 64}) enc.Uint(v);
  enc.String("/bin/test", 100);
  enc.String("test", 100);
  enc.String("unit", 100);
  if (with_flags) enc.Uint(flags);
  if (another_record_follows) {
    enc.Tag(RecordTag::kThreadName);
    enc.String("main", 16);
  }
  c.payload.resize(enc.PayloadSize());
  enc.CopyPayload(c.payload.data());
  c.header.base_time_ns = 1000;
  return c;
}

std::vector<Record> DecodeAll(const Chunk& c, std::string* error) {
  AllocationHistory history;
  RecordDecoder d(c, &history);
  std::vector<Record> out;
  Record r;
  while (d.Next(&r)) out.push_back(r);
  *error = d.error();
  return out;
}

TEST(AttachFormat, ProcessRecordWithoutFlagsIsNotAttached) {
  std::string error;
  auto rs = DecodeAll(ProcessChunk(false, 0), &error);
  ASSERT_EQ(rs.size(), 1u) << error;
  EXPECT_EQ(rs[0].process.flags, 0u);
  EXPECT_FALSE(rs[0].process.attached());
  EXPECT_EQ(rs[0].process.shim_version, "unit");
}

TEST(AttachFormat, TrailingFlagsMarkAnAttachedProcess) {
  std::string error;
  auto rs = DecodeAll(ProcessChunk(true, format::kProcessAttached), &error);
  ASSERT_EQ(rs.size(), 1u) << error;
  EXPECT_TRUE(rs[0].process.attached());
  rs = DecodeAll(ProcessChunk(true, 0), &error);
  ASSERT_EQ(rs.size(), 1u) << error;
  EXPECT_FALSE(rs[0].process.attached());
}

// Flags are read only when the process record ends its chunk: a following record's control fields
// are never taken for them.
TEST(AttachFormat, FlagsAreNotReadFromAFollowingRecord) {
  std::string error;
  auto rs = DecodeAll(ProcessChunk(false, 0, true), &error);
  ASSERT_EQ(rs.size(), 2u) << error;
  EXPECT_EQ(rs[0].process.flags, 0u);
  EXPECT_EQ(rs[1].kind, RecordKind::kThreadName);
  EXPECT_EQ(rs[1].text, "main");
}

HeapTotals Replay(bool attached) {
  ProcessCatalog catalog;
  catalog.has_process = true;
  catalog.process.flags = attached ? format::kProcessAttached : 0;
  HeapAnalysis heap(AnalysisOptions{}, &catalog);
  // 0xa is allocated in the trace; 0xb and 0xc never are (allocated before the attach).
  heap.Feed(Event{10, 0xa, 100, 1, 0, EntryPoint::kMalloc, false});
  heap.Feed(Event{20, 0xb, 0, 0, 0, EntryPoint::kFree, true});
  heap.Feed(Event{30, 0xc, 0, 0, 0, EntryPoint::kReallocFree, true});
  heap.Feed(Event{30, 0xd, 500, 1, 0, EntryPoint::kRealloc, false});
  heap.Feed(Event{40, 0xa, 0, 0, 0, EntryPoint::kFree, true});
  heap.Finish();
  return heap.totals();
}

TEST(AttachFormat, FreesOfUnseenBlocksArePreAttachOnlyInAttachedTraces) {
  HeapTotals attached = Replay(true);
  EXPECT_EQ(attached.frees, 3u);
  EXPECT_EQ(attached.frees_of_pre_attach, 2u) << "a free and a realloc of blocks from before the attach";
  EXPECT_EQ(attached.frees_of_unknown, 0u);
  EXPECT_EQ(attached.allocations, 2u);
  EXPECT_EQ(attached.bytes_freed, 100u);
  EXPECT_EQ(attached.leaked_bytes, 500u);

  HeapTotals preloaded = Replay(false);
  EXPECT_EQ(preloaded.frees_of_pre_attach, 0u);
  EXPECT_EQ(preloaded.frees_of_unknown, 2u) << "a complete trace cannot free what it never allocated";
}

}  // namespace
}  // namespace allocprof
