#include "read/record_decoder.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "record/record_encoder.h"

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
  c.payload = std::vector<uint8_t>(format::kColumnCount, 0);
  c.payload[0] = static_cast<uint8_t>(tags.size());
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

// The same through NextEvent (the analyzer's reader): the events only.
std::vector<Event> DecodeEvents(const Chunk& c, std::string* error, AllocationHistory* history) {
  RecordDecoder d(c, history);
  std::vector<Event> out;
  Record r;
  for (;;) {
    Event e{};
    RecordDecoder::Decoded got = d.NextEvent(&e, &r);
    if (got == RecordDecoder::Decoded::kEnd) break;
    if (got == RecordDecoder::Decoded::kEvent) out.push_back(e);
  }
  *error = d.error();
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
    e.FreeAge(EntryPoint::kFree, 2000, 2, format::SizeClass(40), format::Family::kMallocFamily, 0xa000);  // seq 0
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
    e.FreeAge(EntryPoint::kFree, 2000, 11, format::SizeClass(40), format::Family::kMallocFamily, 0xa000);
    e.Alloc(EntryPoint::kMalloc, 2100, 0xa000, 40, 2);  // hinted by the unresolvable free
  });
  later.header.alloc_seq = 10;
  auto rs = DecodeAll(later, nullptr, &history);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].addr, 0u);
  EXPECT_EQ(rs[1].addr, 0u);
}

// Issue 16: a lost chunk used to make every later free of an earlier block unresolvable, so the
// blocks stayed live (false leaks, a false peak) and the frees read as "never seen allocated".
TEST(RecordDecoder, AgesAcrossALostChunkResolveWhenTheyReachBeforeIt) {
  AllocationHistory history;
  Chunk first = MakeChunk([](auto& e) {
    e.Alloc(EntryPoint::kMalloc, 1000, 0xa000, 40, 1);  // seq 0
    e.Alloc(EntryPoint::kMalloc, 1000, 0xb000, 40, 1);  // seq 1
  });
  DecodeAll(first, nullptr, &history);
  // The chunk holding allocations 2..9 was lost: this one starts at 10.
  Chunk later = MakeChunk([](auto& e) {
    e.FreeAge(EntryPoint::kFree, 2000, 10, format::SizeClass(40), format::Family::kMallocFamily, 0xa000);  // seq 0
    e.FreeAge(EntryPoint::kFree, 2000, 5, format::SizeClass(40), format::Family::kMallocFamily, 0xc000);   // seq 5
  });
  later.header.alloc_seq = 10;
  auto rs = DecodeAll(later, nullptr, &history);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].addr, 0xa000u) << "allocated before the lost chunk";
  EXPECT_EQ(rs[1].addr, 0u) << "allocated in the lost chunk";
  // The next chunk starts where this one ended: the hole stays a hole.
  Chunk next = MakeChunk([](auto& e) {
    e.FreeAge(EntryPoint::kFree, 3000, 9, format::SizeClass(40), format::Family::kMallocFamily, 0xc000);  // seq 1
    e.FreeAge(EntryPoint::kFree, 3000, 4, format::SizeClass(40), format::Family::kMallocFamily, 0xd000);  // seq 6
  });
  next.header.alloc_seq = 10;
  rs = DecodeAll(next, nullptr, &history);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].addr, 0xb000u);
  EXPECT_EQ(rs[1].addr, 0u);
}

TEST(RecordDecoder, FreeEntryPointsRepeatedPerFamilyAreWrittenAsPredictionsAndDecodeExactly) {
  // Allocations 0..5 of three families, freed by age with each family's usual and unusual releases.
  const EntryPoint allocs[] = {EntryPoint::kMalloc, EntryPoint::kNew, EntryPoint::kNewArray,
                               EntryPoint::kCalloc, EntryPoint::kNew, EntryPoint::kMalloc};
  const EntryPoint frees[] = {EntryPoint::kFree, EntryPoint::kDeleteSized, EntryPoint::kDeleteArray,
                              EntryPoint::kFree, EntryPoint::kDelete,      EntryPoint::kFree};
  Chunk c = MakeChunk([&](auto& e) {
    for (int i = 0; i < 6; ++i) e.Alloc(allocs[i], 1000, 0x1000 * (i + 1), 64, 1);
    for (int i = 0; i < 6; ++i) {
      e.FreeAge(frees[i], 2000, 6 - i, format::SizeClass(64), format::FamilyOf(allocs[i]), 0x1000 * (i + 1));
    }
  });
  std::string error;
  auto rs = DecodeAll(c, &error);
  ASSERT_EQ(rs.size(), 12u) << error;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(rs[6 + i].addr, 0x1000u * (i + 1)) << i;
    EXPECT_EQ(rs[6 + i].entry, frees[i]) << i;
  }
  // Tags of the frees: malloc's second and third free repeat kFree; new's second (kDelete after
  // kDeleteSized) does not.
  const uint8_t* tags = c.payload.data() + format::kColumnCount;  // one-byte section sizes
  auto code = [&](int i) { return tags[6 + i] & 0x3f; };
  EXPECT_EQ(code(0), static_cast<int>(EntryPoint::kFree));
  EXPECT_EQ(code(1), static_cast<int>(EntryPoint::kDeleteSized));
  EXPECT_EQ(code(2), static_cast<int>(EntryPoint::kDeleteArray));
  EXPECT_EQ(code(3), format::kPredictedFreeEntry);
  EXPECT_EQ(code(4), static_cast<int>(EntryPoint::kDelete));
  EXPECT_EQ(code(5), format::kPredictedFreeEntry);
}

TEST(RecordDecoder, APredictionWithNothingToPredictFromIsMalformed) {
  // An allocation, then a FREE_AGE of it whose code claims a prediction.
  Chunk bad = MakeChunk([](auto& e) {
    e.Alloc(EntryPoint::kMalloc, 1000, 0x1000, 64, 1);
    e.FreeAge(EntryPoint::kFree, 1000, 1, format::SizeClass(64), format::Family::kMallocFamily, 0x1000);
  });
  uint8_t* tags = bad.payload.data() + format::kColumnCount;
  ASSERT_EQ(tags[1], format::kFreeAgeTagBase | static_cast<int>(EntryPoint::kFree));
  tags[1] = format::kFreeAgeTagBase | format::kPredictedFreeEntry;
  std::string error;
  auto rs = DecodeAll(bad, &error);
  EXPECT_EQ(rs.size(), 1u);
  EXPECT_NE(error.find("record #2: predicted free entry point with nothing to predict from"), std::string::npos)
      << error;
}

TEST(RecordDecoder, HintsReachThirtyTwoFreesBack) {
  Chunk c = MakeChunk([](auto& e) {
    for (int i = 0; i < 40; ++i) e.Alloc(EntryPoint::kMalloc, 1000, 0x1000 + 0x40 * i, 40, 1);
    for (int i = 0; i < 40; ++i) {
      e.FreeAge(EntryPoint::kFree, 2000, 40, format::SizeClass(40), format::Family::kMallocFamily, 0x1000 + 0x40 * i);
      e.Alloc(EntryPoint::kMalloc, 2000, 0x9000 + 0x40 * i, 40, 1);  // fresh: keeps ages at 40
    }
    // The 30th newest free of the class (0x1000 + 0x40 * 10), then the newest, then the oldest held
    // (0x1000 + 0x40 * 7 and older were pushed out by newer frees).
    e.Alloc(EntryPoint::kMalloc, 3000, 0x1000 + 0x40 * 10, 40, 1);
    e.Alloc(EntryPoint::kMalloc, 3000, 0x1000 + 0x40 * 39, 40, 1);
    e.Alloc(EntryPoint::kMalloc, 3000, 0x1000 + 0x40 * 8, 40, 1);
  });
  std::string error;
  auto rs = DecodeAll(c, &error);
  ASSERT_EQ(rs.size(), 123u) << error;
  EXPECT_EQ(rs[120].addr, 0x1000u + 0x40 * 10);
  EXPECT_EQ(rs[121].addr, 0x1000u + 0x40 * 39);
  EXPECT_EQ(rs[122].addr, 0x1000u + 0x40 * 8);
  // One hint per allocation: the last three allocations are hinted.
  const uint8_t* p = c.payload.data();
  const uint8_t* end = p + c.payload.size();
  uint64_t sizes[format::kColumnCount];
  for (auto& n : sizes) ASSERT_TRUE(format::GetVarint(&p, end, &n));
  const uint8_t* hints = p + sizes[0] + sizes[1] + sizes[2] + sizes[3];
  ASSERT_EQ(sizes[4], 83u);
  EXPECT_EQ(hints[80], 30);
  EXPECT_EQ(hints[81], 1);
  EXPECT_EQ(hints[82], 30);  // two of the 32 were taken since
}

TEST(RecordDecoder, ReadsVersion3PayloadsWithAgesInTheHintsColumn) {
  // Written by hand as a version 3 writer did: seven sections, the age after the hint in "refs".
  Chunk c;
  c.format_version = 3;
  c.header.base_time_ns = 1000;
  std::vector<uint8_t> tags = {format::kAllocTagBase | static_cast<uint8_t>(EntryPoint::kMalloc),
                               format::kFreeAgeTagBase | static_cast<uint8_t>(EntryPoint::kFree)};
  std::vector<uint8_t> times = {0, 2};
  std::vector<uint8_t> sizes = {40};
  std::vector<uint8_t> addresses;
  uint8_t buf[10];
  addresses.assign(buf, format::PutVarint(buf, format::ZigZag(0xa000)));
  std::vector<uint8_t> refs = {0, 1};  // hint 0 (address follows), then the free's age 1
  std::vector<uint8_t> stacks = {5};
  for (auto* col : {&tags, &times, &sizes, &addresses, &refs, &stacks})
    c.payload.push_back(static_cast<uint8_t>(col->size()));
  c.payload.push_back(0);  // control
  for (auto* col : {&tags, &times, &sizes, &addresses, &refs, &stacks})
    c.payload.insert(c.payload.end(), col->begin(), col->end());
  std::string error;
  auto rs = DecodeAll(c, &error);
  ASSERT_EQ(rs.size(), 2u) << error;
  EXPECT_EQ(rs[0].addr, 0xa000u);
  EXPECT_EQ(rs[0].stack_id, 5u);
  EXPECT_EQ(rs[1].kind, RecordKind::kFree);
  EXPECT_EQ(rs[1].entry, EntryPoint::kFree);
  EXPECT_EQ(rs[1].age, 1u);
  EXPECT_EQ(rs[1].addr, 0xa000u);
  EXPECT_EQ(rs[1].time, 1032u);
}

// Many chunks of allocations and frees that reuse addresses the way allocators do (the newest freed
// block of a size class first, sometimes an older one), freed by age and by address with every
// family's release entry points: the reader must get back every address and entry point.
TEST(RecordDecoder, RandomReuseRoundTripsExactlyAcrossChunks) {
  struct Op {
    bool is_free;
    EntryPoint entry;
    uint64_t addr, size;
    uint32_t stack;
  };
  uint64_t x = 7;
  auto next = [&] { return x = x * 6364136223846793005ull + 1442695040888963407ull, x >> 33; };
  const EntryPoint alloc_entries[] = {EntryPoint::kMalloc, EntryPoint::kCalloc, EntryPoint::kNew,
                                      EntryPoint::kNewArray};
  auto releases = [](EntryPoint a, uint64_t r) {
    switch (format::FamilyOf(a)) {
      case format::Family::kNewFamily:
        return r % 4 ? EntryPoint::kDeleteSized : EntryPoint::kDelete;
      case format::Family::kNewArrayFamily:
        return r % 8 ? EntryPoint::kDeleteArray : EntryPoint::kFree;  // mismatch
      default:
        return EntryPoint::kFree;
    }
  };
  struct Live {
    uint64_t addr, size;
    EntryPoint entry;
    uint32_t seq;
  };
  std::vector<Live> live;
  std::vector<std::vector<uint64_t>> freed(format::kSizeClassCount);  // per size class
  uint64_t fresh = 0x10000;
  uint32_t seq = 0;
  AllocationHistory history, event_history;
  for (int chunk = 0; chunk < 8; ++chunk) {
    std::vector<Op> ops;
    Chunk c = MakeChunk([&](shim::RecordEncoder& e) {
      e.Start(1000, seq);
      for (int i = 0; i < 3000; ++i) {
        if (live.empty() || next() % 100 < 52) {
          uint64_t size = next() % 10 ? 16 + next() % 1000 : 4096 + next() % 60000;
          uint32_t cls = format::SizeClass(size);
          auto& list = freed[cls];
          uint64_t addr;
          if (!list.empty()) {
            size_t k = next() % 4 ? list.size() - 1 : next() % list.size();  // mostly the newest
            addr = list[k];
            list.erase(list.begin() + static_cast<long>(k));
          } else {
            addr = fresh;
            fresh += (size + 31) & ~uint64_t{15};
          }
          EntryPoint entry = alloc_entries[next() % 4];
          uint32_t stack = next() % 3 ? static_cast<uint32_t>(entry) : static_cast<uint32_t>(next() % 6);  // 0: none
          e.Alloc(entry, 1000, addr, size, stack);
          live.push_back({addr, size, entry, seq++});
          ops.push_back({false, entry, addr, size, stack});
        } else {
          size_t k = next() % live.size();
          Live b = live[k];
          live[k] = live.back();
          live.pop_back();
          EntryPoint entry = releases(b.entry, next());
          uint32_t age = seq - b.seq;
          uint32_t cls = format::SizeClass(b.size);
          if (age <= format::kMaxAge && next() % 16) {
            e.FreeAge(entry, 1000, age, cls, format::FamilyOf(b.entry), b.addr);
          } else {
            e.Free(entry, 1000, b.addr);
          }
          freed[cls].push_back(b.addr);
          ops.push_back({true, entry, b.addr, 0, 0});
        }
      }
    });
    c.header.alloc_seq =
        seq - static_cast<uint32_t>(std::count_if(ops.begin(), ops.end(), [](const Op& o) { return !o.is_free; }));
    std::string error;
    auto rs = DecodeAll(c, &error, &history);
    ASSERT_EQ(rs.size(), ops.size()) << error;
    for (size_t i = 0; i < ops.size(); ++i) {
      ASSERT_EQ(rs[i].kind == RecordKind::kFree, ops[i].is_free) << "chunk " << chunk << " record " << i;
      ASSERT_EQ(rs[i].addr, ops[i].addr) << "chunk " << chunk << " record " << i;
      ASSERT_EQ(rs[i].entry, ops[i].entry) << "chunk " << chunk << " record " << i;
      ASSERT_EQ(rs[i].stack_id, ops[i].stack) << "chunk " << chunk << " record " << i;
    }
    auto es = DecodeEvents(c, &error, &event_history);
    ASSERT_EQ(es.size(), ops.size()) << error;
    for (size_t i = 0; i < ops.size(); ++i) {
      ASSERT_EQ(es[i].is_free, ops[i].is_free) << "chunk " << chunk << " event " << i;
      ASSERT_EQ(es[i].addr, ops[i].addr) << "chunk " << chunk << " event " << i;
      ASSERT_EQ(es[i].entry, ops[i].entry) << "chunk " << chunk << " event " << i;
      ASSERT_EQ(es[i].stack_id, ops[i].stack) << "chunk " << chunk << " event " << i;
      ASSERT_EQ(es[i].size, ops[i].size) << "chunk " << chunk << " event " << i;
      ASSERT_EQ(es[i].time, rs[i].time) << "chunk " << chunk << " event " << i;
    }
  }
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
  AllocationHistory history;
  EXPECT_EQ(DecodeEvents(c, &error, &history).size(), 1u);
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
