#include "allocprof/trace_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace allocprof::format {
namespace {

TEST(Varint, RoundTripsBoundaries) {
  for (uint64_t v : std::initializer_list<uint64_t>{0, 1, 127, 128, 16383, 16384, (1ull << 32) - 1, 1ull << 32, UINT64_MAX}) {
    uint8_t buf[10];
    uint8_t* end = PutVarint(buf, v);
    const uint8_t* p = buf;
    uint64_t out = 0;
    ASSERT_TRUE(GetVarint(&p, end, &out)) << v;
    EXPECT_EQ(out, v);
    EXPECT_EQ(p, end);
  }
}

TEST(Varint, UsesOneByteBelow128) {
  uint8_t buf[10];
  EXPECT_EQ(PutVarint(buf, 127) - buf, 1);
  EXPECT_EQ(PutVarint(buf, 128) - buf, 2);
  EXPECT_EQ(PutVarint(buf, UINT64_MAX) - buf, 10);
}

TEST(Varint, RejectsTruncatedAndOverlongInput) {
  uint8_t truncated[] = {0x80, 0x80};
  const uint8_t* p = truncated;
  uint64_t v;
  EXPECT_FALSE(GetVarint(&p, truncated + sizeof(truncated), &v));
  std::vector<uint8_t> overlong(11, 0x80);
  overlong.back() = 0x01;
  p = overlong.data();
  EXPECT_FALSE(GetVarint(&p, overlong.data() + overlong.size(), &v));
}

TEST(ZigZag, SmallMagnitudesStaySmall) {
  EXPECT_EQ(ZigZag(0), 0u);
  EXPECT_EQ(ZigZag(-1), 1u);
  EXPECT_EQ(ZigZag(1), 2u);
  for (int64_t v : {INT64_MIN, int64_t{-123456789}, int64_t{0}, int64_t{987654321}, INT64_MAX}) {
    EXPECT_EQ(UnZigZag(ZigZag(v)), v);
  }
}

TEST(Checksum, DetectsAnyFlippedByte) {
  ChunkHeader h{};
  h.magic = kChunkMagic;
  h.stored_size = 64;
  std::vector<uint8_t> payload(64);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7);
  uint32_t good = ChunkChecksum(h, payload.data(), payload.size());
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] ^= 0x10;
    EXPECT_NE(ChunkChecksum(h, payload.data(), payload.size()), good) << "byte " << i;
    payload[i] ^= 0x10;
  }
  h.thread = 1;
  EXPECT_NE(ChunkChecksum(h, payload.data(), payload.size()), good) << "header fields are covered";
}

// Found by the fuzzer: an empty payload has no buffer at all.
TEST(Checksum, EmptyPayloadWithoutBuffer) {
  ChunkHeader h{};
  EXPECT_EQ(ChunkChecksum(h, nullptr, 0), ChunkChecksum(h, "", 0));
}

TEST(EntryPoints, TableMatchesEnum) {
  EXPECT_STREQ(kEntryPoints[static_cast<int>(EntryPoint::kMalloc)].name, "malloc");
  EXPECT_STREQ(kEntryPoints[static_cast<int>(EntryPoint::kDeleteArrayAlignedNothrow)].name,
               "operator delete[](align,nothrow)");
  EXPECT_EQ(kEntryPoints[static_cast<int>(EntryPoint::kNewArray)].family, Family::kNewArrayFamily);
  EXPECT_EQ(kEntryPoints[static_cast<int>(EntryPoint::kReallocFree)].kind, EntryKind::kRelease);
  EXPECT_EQ(sizeof(kEntryPoints) / sizeof(kEntryPoints[0]), static_cast<size_t>(EntryPoint::kCount));
}

}  // namespace
}  // namespace allocprof::format
