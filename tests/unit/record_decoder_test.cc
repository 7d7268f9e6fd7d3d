#include "record_decoder.h"

#include <gtest/gtest.h>

#include "record_encoder.h"

namespace allocprof {
namespace {

using format::EntryPoint;
using format::RecordTag;

Chunk MakeChunk(const std::function<void(shim::RecordEncoder&)>& fill, uint64_t base = 1000) {
  Chunk c;
  std::vector<uint8_t> columns(1 << 18);
  shim::RecordEncoder enc;
  enc.Init(columns.data(), columns.size(), 1 << 16);
  enc.Start(base, 0);
  fill(enc);
  c.payload.resize(enc.PayloadSize());
  enc.CopyPayload(c.payload.data());
  c.header.base_time_ns = base;
  return c;
}

// A payload whose only content is `tags` in the tag column.
Chunk RawTags(std::vector<uint8_t> tags) {
  Chunk c;
  c.payload = {static_cast<uint8_t>(tags.size()), 0, 0, 0, 0, 0, 0};
  c.payload.insert(c.payload.end(), tags.begin(), tags.end());
  return c;
}

std::vector<Record> DecodeAll(const Chunk& c, std::string* error = nullptr, AllocationHistory* history = nullptr) {
  AllocationHistory own;
  RecordDecoder d(c, history ? history : &own);
  std::vector<Record> out;
  Record r;
  while (d.Next(&r)) out.push_back(r);
  if (error) *error = d.error();
  return out;
}

TEST(RecordDecoder, RoundTripsEventsWithDeltas) {
  Chunk c = MakeChunk([](auto& e) {
    e.Alloc(EntryPoint::kNewArray, 1512, 0x7f0000001000, 4096, 7);
    e.Free(EntryPoint::kDeleteArray, 1608, 0x7f0000001000);
    e.Alloc(EntryPoint::kMalloc, 1608, 0x5500000010, 24, 8);  // address far below: negative delta
  });
  std::string error;
  auto rs = DecodeAll(c, &error);
  ASSERT_EQ(rs.size(), 3u) << error;
  EXPECT_EQ(rs[0].kind, RecordKind::kAlloc);
  EXPECT_EQ(rs[0].entry, EntryPoint::kNewArray);
  EXPECT_EQ(rs[0].time, 1512u);
  EXPECT_EQ(rs[0].addr, 0x7f0000001000u);
  EXPECT_EQ(rs[0].size, 4096u);
  EXPECT_EQ(rs[0].stack_id, 7u);
  EXPECT_EQ(rs[1].kind, RecordKind::kFree);
  EXPECT_EQ(rs[1].entry, EntryPoint::kDeleteArray);
  EXPECT_EQ(rs[1].time, 1608u);
  EXPECT_EQ(rs[2].addr, 0x5500000010u);
}

TEST(RecordDecoder, RoundTripsControlRecords) {
  uintptr_t frames[] = {0x401000, 0x400ff0, 0x7fff00001234};
  Chunk c = MakeChunk([&](auto& e) {
    e.StackDef(9, frames, 3);
    e.Tag(RecordTag::kThreadStart);
    e.Time(2000);
    e.Uint(4321);
    e.Tag(RecordTag::kThreadName);
    e.String("worker", 16);
    e.Tag(RecordTag::kModule);
    e.Time(2000);
    e.Uint(0x400000);
    e.String("/usr/bin/prog", 100);
    e.Bytes("\x01\x02\x03", 3);
    e.Uint(1);
    e.Uint(0x1000);
    e.Uint(0x2000);
    e.Uint(5);
    e.Tag(RecordTag::kQuiet);
    e.Time(2500);
    e.Uint(3);
    e.Tag(RecordTag::kEnd);
    e.Time(3000);
  });
  std::string error;
  auto rs = DecodeAll(c, &error);
  ASSERT_EQ(rs.size(), 6u) << error;
  EXPECT_EQ(rs[0].kind, RecordKind::kStackDef);
  EXPECT_EQ(rs[0].stack_id, 9u);
  EXPECT_EQ(rs[0].frames, (std::vector<uint64_t>{0x401000, 0x400ff0, 0x7fff00001234}));
  EXPECT_EQ(rs[1].value, 4321u);
  EXPECT_EQ(rs[2].text, "worker");
  EXPECT_EQ(rs[3].text, "/usr/bin/prog");
  EXPECT_EQ(rs[3].build_id, "\x01\x02\x03");
  ASSERT_EQ(rs[3].segments.size(), 1u);
  EXPECT_EQ(rs[3].segments[0].memsz, 0x2000u);
  EXPECT_EQ(rs[4].kind, RecordKind::kQuiet);
  EXPECT_EQ(rs[4].value, 3u);
  EXPECT_EQ(rs[5].kind, RecordKind::kEnd);
  EXPECT_EQ(rs[5].time, 3000u);
}

TEST(RecordDecoder, TimesAreQuantizedNeverLater) {
  Chunk c = MakeChunk([](auto& e) {
    e.Alloc(EntryPoint::kMalloc, 1000 + 15, 0x10, 8, 1);
    e.Alloc(EntryPoint::kMalloc, 1000 + 16, 0x20, 8, 1);
    e.Alloc(EntryPoint::kMalloc, 1000 + 47, 0x30, 8, 1);
  });
  auto rs = DecodeAll(c);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].time, 1000u);
  EXPECT_EQ(rs[1].time, 1016u);
  EXPECT_EQ(rs[2].time, 1032u);
}

TEST(RecordDecoder, FreeByAgeAndHintedAllocationsResolveAcrossChunks) {
  AllocationHistory history;
  Chunk first = MakeChunk([](auto& e) {
    e.Alloc(EntryPoint::kMalloc, 1000, 0xa000, 40, 1);   // seq 0, class of 40 B
    e.Alloc(EntryPoint::kMalloc, 1000, 0xb000, 500, 1);  // seq 1
  });
  ASSERT_EQ(DecodeAll(first, nullptr, &history).size(), 2u);
  Chunk second = MakeChunk([](auto& e) {
    e.FreeAge(EntryPoint::kFree, 2000, 2, format::SizeClass(40), 0xa000);  // frees seq 0
    e.Alloc(EntryPoint::kMalloc, 2100, 0xa000, 33, 2);  // same class: hinted, no address written
  });
  second.header.alloc_seq = 2;
  std::string error;
  auto rs = DecodeAll(second, &error, &history);
  ASSERT_EQ(rs.size(), 2u) << error;
  EXPECT_EQ(rs[0].kind, RecordKind::kFree);
  EXPECT_EQ(rs[0].addr, 0xa000u);
  EXPECT_EQ(rs[0].age, 2u);
  EXPECT_EQ(rs[1].addr, 0xa000u);
}

TEST(RecordDecoder, AgesBeforeALostChunkResolveToUnknownNotWrong) {
  AllocationHistory history;
  Chunk first = MakeChunk([](auto& e) { e.Alloc(EntryPoint::kMalloc, 1000, 0xa000, 40, 1); });
  DecodeAll(first, nullptr, &history);
  // The chunk holding allocations 1..9 was lost: this one starts at 10.
  Chunk later = MakeChunk([](auto& e) {
    e.FreeAge(EntryPoint::kFree, 2000, 11, format::SizeClass(40), 0xa000);
    e.Alloc(EntryPoint::kMalloc, 2100, 0xa000, 40, 2);  // hinted by the unresolvable free
  });
  later.header.alloc_seq = 10;
  auto rs = DecodeAll(later, nullptr, &history);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].addr, 0u);
  EXPECT_EQ(rs[1].addr, 0u);
}

TEST(RecordDecoder, TruncatedColumnNamesTheRecord) {
  Chunk c = MakeChunk([](auto& e) {
    e.Alloc(EntryPoint::kMalloc, 1500, 0x1000, 4096, 1);
    e.Alloc(EntryPoint::kMalloc, 1600, 0x2000, 100000, 1);
  });
  // Drop the last byte of the stacks column (table entry 5) and of the payload.
  ASSERT_EQ(c.payload[5], 2);
  c.payload[5] = 1;
  c.payload.erase(c.payload.begin() + static_cast<long>(c.payload.size()) - 1);
  c.offset = 777;
  std::string error;
  auto rs = DecodeAll(c, &error);
  EXPECT_EQ(rs.size(), 1u);
  EXPECT_NE(error.find("chunk at offset 777: record #2: truncated stacks column"), std::string::npos) << error;
}

TEST(RecordDecoder, RejectsHugeClaimedLengths) {
  Chunk c = MakeChunk([](auto& e) {
    e.Tag(RecordTag::kThreadName);
    e.Uint(uint64_t{1} << 40);  // a string "length" far beyond the payload
  });
  std::string error;
  EXPECT_TRUE(DecodeAll(c, &error).empty());
  EXPECT_NE(error.find("longer than the format allows"), std::string::npos) << error;

  Chunk deep = MakeChunk([](auto& e) {
    e.Tag(RecordTag::kStackDef);
    e.Uint(1);
    e.Uint(uint64_t{1} << 30);  // depth
  });
  EXPECT_TRUE(DecodeAll(deep, &error).empty());
  EXPECT_NE(error.find("deeper than the format allows"), std::string::npos) << error;
}

TEST(RecordDecoder, RejectsUnknownTagsAndEntryPoints) {
  Chunk c = RawTags({0xbe});
  std::string error;
  EXPECT_TRUE(DecodeAll(c, &error).empty());
  EXPECT_NE(error.find("unknown record tag 0xbe"), std::string::npos) << error;
  Chunk bad_entry = RawTags({0x3f});
  EXPECT_TRUE(DecodeAll(bad_entry, &error).empty());
  EXPECT_NE(error.find("unknown entry point"), std::string::npos) << error;
}

}  // namespace
}  // namespace allocprof
