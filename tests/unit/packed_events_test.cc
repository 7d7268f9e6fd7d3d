// The merger's compact form for waiting events: every field must survive packing exactly, whatever
// its value, read back in slices of any size; and ordinary heap events must take far fewer bytes
// than an Event, which is the point of packing them.
#include "read/packed_events.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace allocprof {
namespace {

using format::EntryPoint;

struct Rng {
  uint64_t s;
  uint64_t Next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return s >> 11;
  }
  // Values of every byte length, 0 and the extremes included.
  uint64_t Wide() {
    switch (Next() % 6) {
      case 0:
        return 0;
      case 1:
        return UINT64_MAX;
      case 2:
        return Next() & 0xff;
      default:
        return (Next() << 11 ^ Next()) >> (Next() % 64);
    }
  }
};

void ExpectSame(const Event& want, const Event& got, size_t i) {
  EXPECT_EQ(got.time, want.time) << i;
  EXPECT_EQ(got.addr, want.addr) << i;
  EXPECT_EQ(got.size, want.size) << i;
  EXPECT_EQ(got.stack_id, want.stack_id) << i;
  EXPECT_EQ(got.thread, want.thread) << i;
  EXPECT_EQ(got.entry, want.entry) << i;
  EXPECT_EQ(got.is_free, want.is_free) << i;
  EXPECT_EQ(got.kind, want.kind) << i;
  EXPECT_EQ(got.outcome, want.outcome) << i;
  EXPECT_EQ(got.pool, want.pool) << i;
  EXPECT_EQ(got.weight, want.weight) << i;
}

std::vector<Event> Unpack(const PackedEvents& packed, Rng& rng) {
  std::vector<Event> out(packed.count + 1);
  EventUnpacker unpacker;
  unpacker.Reset(packed);
  size_t done = 0;
  while (unpacker.remaining() > 0) {
    size_t want = 1 + rng.Next() % 300;
    size_t got = unpacker.Next(out.data() + done, want);
    EXPECT_EQ(got, std::min(want, packed.count - done));
    done += got;
  }
  EXPECT_EQ(unpacker.Next(out.data(), 5), 0u) << "nothing after the last event";
  out.resize(done);
  return out;
}

TEST(PackedEvents, EveryFieldRoundTripsWhateverItsValue) {
  Rng rng{7};
  std::vector<Event> events;
  uint64_t time = rng.Wide() >> 2;
  for (int i = 0; i < 5000; ++i) {
    time += rng.Next() % 4 == 0 ? 0 : rng.Wide() >> 20;  // sorted, with equal times
    if (i == 4999) time = UINT64_MAX;                    // an 8-byte delta
    Event e{time,
            rng.Wide(),
            rng.Wide(),
            static_cast<uint32_t>(rng.Wide()),
            3,
            static_cast<EntryPoint>(rng.Next() % static_cast<int>(EntryPoint::kCount)),
            rng.Next() % 2 == 0};
    if (rng.Next() % 5 == 0) {
      e.kind = static_cast<EventKind>(rng.Next() % 6);
      e.outcome = static_cast<uint8_t>(rng.Next());
      e.pool = static_cast<uint32_t>(rng.Wide());
    }
    if (rng.Next() % 7 == 0) e.weight = static_cast<uint32_t>(rng.Wide());
    if (rng.Next() % 11 == 0) e.thread = static_cast<uint32_t>(rng.Wide());
    if (rng.Next() % 13 == 0) e.entry = static_cast<EntryPoint>(64 + rng.Next() % 192);  // beyond 6 bits
    events.push_back(e);
  }
  EventPacker packer;
  PackedEvents packed;
  ASSERT_TRUE(packer.Pack(events.data(), events.size(), &packed));
  EXPECT_EQ(packed.count, events.size());
  EXPECT_EQ(packed.first_time, events.front().time);
  EXPECT_EQ(packed.last_time, events.back().time);
  std::vector<Event> back = Unpack(packed, rng);
  ASSERT_EQ(back.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) ExpectSame(events[i], back[i], i);
}

TEST(PackedEvents, HeapEventsTakeAFractionOfAnEvent) {
  // A churn-like chunk: one thread, times a few hundred ns apart, heap addresses within 64 MiB,
  // sizes up to 64 KiB, a few hundred stacks; frees carry no stack.
  Rng rng{11};
  std::vector<Event> events;
  uint64_t time = 1'000'000'000;
  for (int i = 0; i < 20000; ++i) {
    time += 16 * (1 + rng.Next() % 40);
    bool is_free = rng.Next() % 2;
    uint64_t addr = 0x55d4c0000000 + (rng.Next() % (64 << 20) & ~uint64_t{15});
    events.push_back(Event{time, addr, is_free ? 0 : 16 + rng.Next() % 65536,
                           is_free ? 0u : static_cast<uint32_t>(1 + rng.Next() % 300), 2,
                           is_free ? EntryPoint::kFree : EntryPoint::kMalloc, is_free});
  }
  EventPacker packer;
  PackedEvents packed;
  ASSERT_TRUE(packer.Pack(events.data(), events.size(), &packed));
  double per_event = static_cast<double>(packed.bytes.size()) / static_cast<double>(events.size());
  EXPECT_LT(per_event, 12.0);
  EXPECT_LT(per_event * 4, static_cast<double>(sizeof(Event)));
  Rng slices{3};
  std::vector<Event> back = Unpack(packed, slices);
  ASSERT_EQ(back.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) ExpectSame(events[i], back[i], i);
}

TEST(PackedEvents, AWideValueWidensOnlyItsOwnBlock) {
  // Widths are chosen per block of kBlock events: one far address (8 bytes of XOR, twice: there and
  // back) and one long pause must not widen the other blocks' events.
  std::vector<Event> events;
  uint64_t time = 1'000'000;
  const size_t n = 20 * PackedEvents::kBlock;
  for (size_t i = 0; i < n; ++i) {
    time += i == 7 * PackedEvents::kBlock + 3 ? uint64_t{1} << 50 : 16;
    uint64_t addr = i == 12 * PackedEvents::kBlock + 5 ? 0xffff'ffff'ffff'fff0 : 0x1000 + (i % 16) * 16;
    events.push_back(Event{time, addr, 32, 1, 0, EntryPoint::kMalloc, false});
  }
  EventPacker packer;
  PackedEvents packed;
  ASSERT_TRUE(packer.Pack(events.data(), events.size(), &packed));
  // Ordinary events: entry byte, 1-byte time delta (>> 4), 1-byte address XOR, size and stack.
  size_t ordinary = 5 * n, wide = 2 * PackedEvents::kBlock * 14;
  EXPECT_LT(packed.bytes.size(), ordinary + wide);
  Rng slices{9};
  std::vector<Event> back = Unpack(packed, slices);
  ASSERT_EQ(back.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) ExpectSame(events[i], back[i], i);
}

TEST(PackedEvents, AReusedPackerAndBufferLeaveNothingOfTheLastBatch) {
  EventPacker packer;
  PackedEvents packed;
  std::vector<Event> big(3000, Event{5, 0xffff'ffff'ffff'fff0, UINT64_MAX, UINT32_MAX, 9, EntryPoint::kMalloc, false});
  for (size_t i = 0; i < big.size(); ++i) big[i].time += i;
  packer.Pack(big.data(), big.size(), &packed);
  std::vector<Event> small = {Event{100, 0x10, 8, 1, 4, EntryPoint::kCalloc, false},
                              Event{100, 0x10, 0, 0, 4, EntryPoint::kFree, true}};
  packer.Pack(small.data(), small.size(), &packed);
  EXPECT_EQ(packed.count, 2u);
  EXPECT_EQ(packed.thread, 4u);
  Rng rng{1};
  std::vector<Event> back = Unpack(packed, rng);
  ASSERT_EQ(back.size(), 2u);
  for (size_t i = 0; i < 2; ++i) ExpectSame(small[i], back[i], i);
  packer.Pack(nullptr, 0, &packed);
  EXPECT_TRUE(packed.empty());
  EXPECT_EQ(Unpack(packed, rng).size(), 0u);
}

TEST(PackedEvents, UnsortedEventsAreRefusedAndLeaveTheOutputAlone) {
  EventPacker packer;
  PackedEvents packed;
  std::vector<Event> sorted = {Event{100, 0x10, 8, 1, 4, EntryPoint::kMalloc, false},
                               Event{100, 0x10, 0, 0, 4, EntryPoint::kFree, true}};
  ASSERT_TRUE(packer.Pack(sorted.data(), sorted.size(), &packed));
  std::vector<Event> unsorted = {Event{100, 0x10, 8, 1, 4, EntryPoint::kMalloc, false},
                                 Event{200, 0x20, 8, 1, 4, EntryPoint::kMalloc, false},
                                 Event{150, 0x30, 8, 1, 4, EntryPoint::kMalloc, false}};
  EXPECT_FALSE(packer.Pack(unsorted.data(), unsorted.size(), &packed));
  EXPECT_EQ(packed.count, 2u);
  Rng rng{5};
  std::vector<Event> back = Unpack(packed, rng);
  ASSERT_EQ(back.size(), 2u);
  for (size_t i = 0; i < 2; ++i) ExpectSame(sorted[i], back[i], i);
}

}  // namespace
}  // namespace allocprof
