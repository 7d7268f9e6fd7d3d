#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <utility>
#include <vector>

#include "allocprof/trace_format.h"

namespace allocprof::format {
namespace {

TEST(Varint, RoundTripsBoundaries) {
  for (uint64_t v :
       std::initializer_list<uint64_t>{0, 1, 127, 128, 16383, 16384, (1ull << 32) - 1, 1ull << 32, UINT64_MAX}) {
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

// Every trace written since format 2 carries these codes in its tags: the table may only grow at
// the end.
TEST(EntryPoints, OrderIsTheOnDiskEncoding) {
  const char* kWritten[] = {"malloc",
                            "calloc",
                            "realloc",
                            "reallocarray",
                            "posix_memalign",
                            "aligned_alloc",
                            "memalign",
                            "valloc",
                            "pvalloc",
                            "operator new",
                            "operator new[]",
                            "operator new(nothrow)",
                            "operator new[](nothrow)",
                            "operator new(align)",
                            "operator new[](align)",
                            "operator new(align,nothrow)",
                            "operator new[](align,nothrow)",
                            "free",
                            "free_sized",
                            "free_aligned_sized",
                            "realloc(free)",
                            "operator delete",
                            "operator delete[]",
                            "operator delete(sized)",
                            "operator delete[](sized)",
                            "operator delete(nothrow)",
                            "operator delete[](nothrow)",
                            "operator delete(align)",
                            "operator delete[](align)",
                            "operator delete(sized,align)",
                            "operator delete[](sized,align)",
                            "operator delete(align,nothrow)",
                            "operator delete[](align,nothrow)"};
  ASSERT_GE(static_cast<size_t>(EntryPoint::kCount), std::size(kWritten));
  for (size_t i = 0; i < std::size(kWritten); ++i) EXPECT_STREQ(kEntryPoints[i].name, kWritten[i]) << "code " << i;
}

// Decoders keep their history on the stack: Reset() must make any prior bytes harmless.
TEST(HintHistory, ResetHistoryOverGarbageBehavesAsNew) {
  HintHistory h;
  memset(&h, 0xab, sizeof(h));
  h.Reset();
  const uint32_t cls = SizeClass(40);
  // A push touches its own class only (a head left over from the garbage would write elsewhere).
  HintHistory before = h;
  h.Push(cls, 0x777770);
  memcpy(before.addr[cls], h.addr[cls], sizeof(h.addr[cls]));
  before.head[cls] = h.head[cls];
  before.count[cls] = h.count[cls];
  EXPECT_EQ(memcmp(&before, &h, sizeof(h)), 0);
  EXPECT_EQ(h.Take(cls, 1), 0x777770u);
  for (uint64_t a = 1; a <= kHintDepth + 3; ++a) h.Push(cls, a * 16);  // the oldest three drop out
  EXPECT_EQ(h.count[cls], kHintDepth);
  EXPECT_EQ(h.Find(cls, (kHintDepth + 3) * 16), 1u);
  EXPECT_EQ(h.Find(cls, 4 * 16), kHintDepth);
  EXPECT_EQ(h.Find(cls, 3 * 16), 0u);
  EXPECT_EQ(h.Take(cls, 2), (kHintDepth + 2) * 16);
  EXPECT_EQ(h.Find(cls, (kHintDepth + 3) * 16), 1u);  // newer entries keep their position
  EXPECT_EQ(h.Find(cls, (kHintDepth + 1) * 16), 2u);  // older ones move up
  EXPECT_EQ(h.Find(cls, 4 * 16), kHintDepth - 1);
  EXPECT_EQ(h.Find(SizeClass(1000), 16), 0u);
}

TEST(FreeEntryPredictor, PredictsTheFamilysPreviousReleaseOnly) {
  FreeEntryPredictor writer, reader;
  writer.Reset();
  reader.Reset();
  const std::pair<Family, EntryPoint> frees[] = {
      {Family::kNewFamily, EntryPoint::kDeleteSized}, {Family::kNewFamily, EntryPoint::kDeleteSized},
      {Family::kMallocFamily, EntryPoint::kFree},     {Family::kNewFamily, EntryPoint::kDelete},
      {Family::kNewFamily, EntryPoint::kDelete},      {Family::kMallocFamily, EntryPoint::kFree}};
  const uint8_t expected_codes[] = {
      static_cast<uint8_t>(EntryPoint::kDeleteSized), kPredictedFreeEntry, static_cast<uint8_t>(EntryPoint::kFree),
      static_cast<uint8_t>(EntryPoint::kDelete),      kPredictedFreeEntry, kPredictedFreeEntry};
  for (size_t i = 0; i < 6; ++i) {
    uint8_t code = writer.Encode(frees[i].first, frees[i].second);
    EXPECT_EQ(code, expected_codes[i]) << i;
    EXPECT_EQ(reader.Decode(frees[i].first, code), static_cast<uint8_t>(frees[i].second)) << i;
  }
  reader.Reset();
  EXPECT_EQ(reader.Decode(Family::kMallocFamily, kPredictedFreeEntry), FreeEntryPredictor::kUnknownEntry);
}

}  // namespace
}  // namespace allocprof::format
