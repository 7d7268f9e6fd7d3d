#include "record_decoder.h"

#include <gtest/gtest.h>

#include "record_encoder.h"

namespace allocprof {
namespace {

using format::EntryPoint;
using format::RecordTag;

Chunk MakeChunk(const std::function<void(shim::RecordEncoder&)>& fill, uint64_t base = 1000) {
  Chunk c;
  c.payload.resize(1 << 16);
  shim::RecordEncoder enc{c.payload.data(), base, 0, 0};
  fill(enc);
  c.payload.resize(static_cast<size_t>(enc.cursor - c.payload.data()));
  c.header.base_time_ns = base;
  return c;
}

std::vector<Record> DecodeAll(const Chunk& c, std::string* error = nullptr) {
  RecordDecoder d(c);
  std::vector<Record> out;
  Record r;
  while (d.Next(&r)) out.push_back(r);
  if (error) *error = d.error();
  return out;
}

TEST(RecordDecoder, RoundTripsEventsWithDeltas) {
  Chunk c = MakeChunk([](auto& e) {
    e.Alloc(EntryPoint::kNewArray, 1500, 0x7f0000001000, 4096, 7);
    e.Free(EntryPoint::kDeleteArray, 1600, 0x7f0000001000);
    e.Alloc(EntryPoint::kMalloc, 1600, 0x5500000010, 24, 8);  // address far below: negative delta
  });
  std::string error;
  auto rs = DecodeAll(c, &error);
  ASSERT_EQ(rs.size(), 3u) << error;
  EXPECT_EQ(rs[0].kind, RecordKind::kAlloc);
  EXPECT_EQ(rs[0].entry, EntryPoint::kNewArray);
  EXPECT_EQ(rs[0].time, 1500u);
  EXPECT_EQ(rs[0].addr, 0x7f0000001000u);
  EXPECT_EQ(rs[0].size, 4096u);
  EXPECT_EQ(rs[0].stack_id, 7u);
  EXPECT_EQ(rs[1].kind, RecordKind::kFree);
  EXPECT_EQ(rs[1].entry, EntryPoint::kDeleteArray);
  EXPECT_EQ(rs[1].time, 1600u);
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

TEST(RecordDecoder, TruncatedRecordNamesItsPosition) {
  Chunk c = MakeChunk([](auto& e) {
    e.Alloc(EntryPoint::kMalloc, 1500, 0x1000, 4096, 1);
    e.Alloc(EntryPoint::kMalloc, 1600, 0x2000, 100000, 1);
  });
  c.payload.resize(c.payload.size() - 2);
  c.offset = 777;
  std::string error;
  auto rs = DecodeAll(c, &error);
  EXPECT_EQ(rs.size(), 1u);
  EXPECT_NE(error.find("chunk at offset 777: record #2"), std::string::npos) << error;
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
  Chunk c = MakeChunk([](auto& e) { *e.cursor++ = 0xfe; });
  std::string error;
  EXPECT_TRUE(DecodeAll(c, &error).empty());
  EXPECT_NE(error.find("unknown record tag 0xfe"), std::string::npos) << error;
  Chunk bad_entry = MakeChunk([](auto& e) { *e.cursor++ = 0x3f; });
  EXPECT_TRUE(DecodeAll(bad_entry, &error).empty());
  EXPECT_NE(error.find("unknown entry point"), std::string::npos) << error;
}

}  // namespace
}  // namespace allocprof
