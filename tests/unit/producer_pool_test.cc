// The demo producer's pool (examples/producer/array_pool.h): .NET ConfigurableArrayPool outcomes
// for small deterministic sequences, the hook calls each makes, and the read path's segment
// traffic (response_reader.h), which must not depend on how the stream is split into reads.
#include <gtest/gtest.h>
#include <string.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../examples/producer/array_pool.h"
#include "../../examples/producer/protocol.h"
#include "../../examples/producer/response_reader.h"

namespace producer {
namespace {

const char* RentName(allocprof_rent_outcome o) {
  static const char* kNames[] = {"hit", "fill", "exhausted", "oversize"};
  return kNames[o];
}
const char* ReturnName(allocprof_return_outcome o) {
  static const char* kNames[] = {"kept", "dropped-full", "dropped-oversize"};
  return kNames[o];
}

// Records every hook call as a line, e.g. "end 100 128 fill".
struct RecordingHooks {
  std::vector<std::string> calls;
  uint32_t Register(const char* name, uint64_t max_block, uint32_t slots) {
    calls.push_back("register " + std::string(name) + " " + std::to_string(max_block) + " " + std::to_string(slots));
    return 7;
  }
  void RentBegin(uint32_t pool, uint64_t requested) {
    calls.push_back("begin " + std::to_string(requested) + Pool(pool));
  }
  void RentEnd(uint32_t pool, uint64_t requested, uint64_t granted, allocprof_rent_outcome o) {
    calls.push_back("end " + std::to_string(requested) + " " + std::to_string(granted) + " " + RentName(o) +
                    Pool(pool));
  }
  void Return(uint32_t pool, uint64_t size, allocprof_return_outcome o) {
    calls.push_back("return " + std::to_string(size) + " " + ReturnName(o) + Pool(pool));
  }
  // The id Register returned is passed on to every call; say so only when it is not.
  static std::string Pool(uint32_t pool) { return pool == 7 ? "" : " pool=" + std::to_string(pool); }
};

using Pool = BasicArrayPool<RecordingHooks>;

// The calls since the last Take(), without the registration.
std::vector<std::string> Take(Pool& pool) {
  std::vector<std::string> out;
  for (auto& c : pool.hooks().calls)
    if (c.rfind("register", 0) != 0) out.push_back(c);
  pool.hooks().calls.clear();
  return out;
}

using Calls = std::vector<std::string>;

TEST(ProducerPool, BucketIndexFormula) {
  EXPECT_EQ(BucketIndex(1), 0);
  EXPECT_EQ(BucketIndex(16), 0);
  EXPECT_EQ(BucketIndex(17), 1);
  EXPECT_EQ(BucketIndex(32), 1);
  EXPECT_EQ(BucketIndex(33), 2);
  EXPECT_EQ(BucketIndex(100), 3);
  EXPECT_EQ(BucketIndex(128), 3);
  EXPECT_EQ(BucketIndex(65536), 12);
  EXPECT_EQ(BucketIndex(65537), 13);
  EXPECT_EQ(BucketIndex(1 << 20), 16);
  EXPECT_EQ(BucketIndex((1 << 20) + 1), 17);
  EXPECT_EQ(BucketIndex(4 << 20), 18);
  for (int i = 0; i < 26; ++i) {
    EXPECT_EQ(BucketIndex(BucketLength(i)), i);
    EXPECT_EQ(BucketIndex(BucketLength(i) + 1), i + 1);
  }
}

TEST(ProducerPool, BucketsRunUpToTheOneHoldingMaxAndRegisterOnce) {
  Pool mib({"producer", 1 << 20, 8});
  EXPECT_EQ(mib.bucket_count(), 17);
  EXPECT_EQ(mib.largest_bucket_length(), 1u << 20);
  EXPECT_EQ(mib.id(), 7u);
  EXPECT_EQ(mib.hooks().calls, Calls({"register producer 1048576 8"}));
  Pool odd({"odd", 1000, 2});  // as in .NET, the bucket holding max: 1024
  EXPECT_EQ(odd.largest_bucket_length(), 1024u);
  Pool tiny({"tiny", 1, 0});  // clamped to 16 bytes and 1 slot
  EXPECT_EQ(tiny.bucket_count(), 1);
  EXPECT_EQ(tiny.slots_per_bucket(), 1u);
}

TEST(ProducerPool, FillThenHitAfterReturn) {
  Pool pool({"p", 1024, 2});
  Take(pool);
  PooledArray a = pool.Rent(100);
  EXPECT_EQ(a.size, 128u);
  pool.Return(a);
  PooledArray b = pool.Rent(120);
  EXPECT_EQ(b.data, a.data);  // the same array back
  pool.Return(b);
  EXPECT_EQ(Take(pool), Calls({"begin 100", "end 100 128 fill", "return 128 kept", "begin 120", "end 120 128 hit",
                               "return 128 kept"}));
  ArrayPoolStats s = pool.stats();
  EXPECT_EQ(s.rents, 2u);
  EXPECT_EQ(s.fills(), 1u);
  EXPECT_EQ(s.hits(), 1u);
  EXPECT_EQ(s.fallthroughs(), 1u);
  EXPECT_EQ(s.fallthrough_bytes, 128u);
  EXPECT_EQ(s.kept(), 2u);
}

TEST(ProducerPool, FallsBackToTheNextBucketThenExhausted) {
  Pool pool({"p", 1024, 2});
  Take(pool);
  std::vector<PooledArray> held;
  for (int i = 0; i < 5; ++i) held.push_back(pool.Rent(100));
  EXPECT_EQ(Take(pool), Calls({"begin 100", "end 100 128 fill", "begin 100", "end 100 128 fill",  // bucket 3
                               "begin 100", "end 100 256 fill", "begin 100", "end 100 256 fill",  // bucket 4
                               "begin 100", "end 100 128 exhausted"}));  // a bucket-3 array, untracked
  EXPECT_EQ(pool.stats().from_neighbour, 2u);
  // Back in order: 128, 128 fill bucket 3's two slots, the 256s go to bucket 4, the last 128 finds
  // bucket 3 full.
  for (const auto& a : held) pool.Return(a);
  EXPECT_EQ(Take(pool), Calls({"return 128 kept", "return 128 kept", "return 256 kept", "return 256 kept",
                               "return 128 dropped-full"}));
  // A rent now hits the pooled arrays: 2 from bucket 3, then 2 from bucket 4.
  for (int i = 0; i < 4; ++i) held[i] = pool.Rent(100);
  EXPECT_EQ(Take(pool), Calls({"begin 100", "end 100 128 hit", "begin 100", "end 100 128 hit", "begin 100",
                               "end 100 256 hit", "begin 100", "end 100 256 hit"}));
  for (int i = 0; i < 4; ++i) pool.Return(held[i]);
}

TEST(ProducerPool, TheLargestBucketHasNoNeighbour) {
  Pool pool({"p", 64, 1});  // buckets 16, 32, 64
  Take(pool);
  PooledArray a = pool.Rent(64);
  PooledArray b = pool.Rent(50);
  EXPECT_EQ(b.size, 64u);
  pool.Return(a);
  pool.Return(b);
  EXPECT_EQ(Take(pool), Calls({"begin 64", "end 64 64 fill", "begin 50", "end 50 64 exhausted", "return 64 kept",
                               "return 64 dropped-full"}));
}

TEST(ProducerPool, OversizeIsExactAndNeverPooled) {
  Pool pool({"p", 1024, 4});
  Take(pool);
  PooledArray a = pool.Rent(1025);
  EXPECT_EQ(a.size, 1025u);
  pool.Return(a);
  PooledArray b = pool.Rent(1024);  // the largest bucket is still poolable
  pool.Return(b);
  EXPECT_EQ(Take(pool), Calls({"begin 1025", "end 1025 1025 oversize", "return 1025 dropped-oversize", "begin 1024",
                               "end 1024 1024 fill", "return 1024 kept"}));
  ArrayPoolStats s = pool.stats();
  EXPECT_EQ(s.oversize(), 1u);
  EXPECT_EQ(s.dropped_oversize(), 1u);
  EXPECT_EQ(s.fallthrough_bytes, 1025u + 1024u);
}

TEST(ProducerPool, DroppedFullWhenEverySlotHoldsAnArray) {
  Pool pool({"p", 1024, 1});
  Take(pool);
  PooledArray a = pool.Rent(16);
  PooledArray b = pool.Rent(16);  // bucket 1 (32 B), the neighbour
  PooledArray c = pool.Rent(16);  // both taken: exhausted
  pool.Return(a);
  pool.Return(c);
  pool.Return(b);
  EXPECT_EQ(Take(pool), Calls({"begin 16", "end 16 16 fill", "begin 16", "end 16 32 fill", "begin 16",
                               "end 16 16 exhausted", "return 16 kept", "return 16 dropped-full", "return 32 kept"}));
  EXPECT_EQ(pool.stats().dropped_full(), 1u);
}

// .NET's buckets are stacks: an exhausted (bucket-sized) array is kept while a slot is rented
// out, and a bucket none of whose slots is rented out drops what is returned to it.
TEST(ProducerPool, FreeSlotMeansASlotRentedOut) {
  Pool pool({"p", 1024, 1});
  Take(pool);
  PooledArray a = pool.Rent(100);  // bucket 3, fill
  PooledArray b = pool.Rent(100);  // bucket 4, fill
  PooledArray c = pool.Rent(100);  // exhausted, 128 B
  pool.Return(c);                  // bucket 3's slot is rented out (a): kept
  pool.Return(a);                  // now bucket 3 is full: dropped
  pool.Return(b);
  pool.Return({new uint8_t[512], 512});  // bucket 5 has no slot rented out: dropped though empty
  EXPECT_EQ(Take(pool), Calls({"begin 100", "end 100 128 fill", "begin 100", "end 100 256 fill", "begin 100",
                               "end 100 128 exhausted", "return 128 kept", "return 128 dropped-full", "return 256 kept",
                               "return 512 dropped-full"}));
  PooledArray f = pool.Rent(100);
  EXPECT_EQ(f.data, c.data);  // the exhausted array became the pooled one
  pool.Return(f);
}

TEST(ProducerPool, ZeroLengthRentCallsNoHooks) {
  Pool pool({"p", 1024, 1});
  Take(pool);
  PooledArray a = pool.Rent(0);
  EXPECT_EQ(a.data, nullptr);
  EXPECT_EQ(a.size, 0u);
  pool.Return(a);
  EXPECT_TRUE(Take(pool).empty());
  EXPECT_EQ(pool.stats().rents, 0u);
}

TEST(ProducerPool, ForeignArrayOfNoBucketSizeThrows) {
  Pool pool({"p", 1024, 1});
  uint8_t* raw = new uint8_t[100];
  EXPECT_THROW(pool.Return({raw, 100}), std::invalid_argument);
  delete[] raw;
}

TEST(ProducerPool, TheDefaultHooksAreCallableWithoutTheShim) {
  ArrayPool pool({"default", 1 << 20, 2});
  EXPECT_EQ(pool.id(), 0u);  // register returns 0 without the shim
  PooledArray a = pool.Rent(1000);
  pool.Return(a);
  EXPECT_EQ(pool.stats().fills(), 1u);
}

// A seeded random single-threaded sequence: the stats equal the hook calls, every begin is
// followed by its end, and the same sequence gives the same calls.
std::vector<std::string> RandomSequence(uint32_t seed, ArrayPoolStats* stats) {
  Pool pool({"p", 4096, 3});
  std::mt19937 rng(seed);
  std::vector<PooledArray> held;
  for (int i = 0; i < 2000; ++i) {
    if (held.empty() || rng() % 2) {
      held.push_back(pool.Rent(rng() % 6000));
    } else {
      const size_t k = rng() % held.size();
      pool.Return(held[k]);
      held.erase(held.begin() + static_cast<long>(k));
    }
  }
  for (const auto& a : held) pool.Return(a);
  *stats = pool.stats();
  return Take(pool);
}

TEST(ProducerPool, StatsMatchTheHookCallsAndAreDeterministic) {
  ArrayPoolStats s, again;
  const auto calls = RandomSequence(42, &s);
  EXPECT_EQ(RandomSequence(42, &again), calls);
  uint64_t begins = 0, outcomes[4] = {}, returns[3] = {};
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string& c = calls[i];
    if (c.rfind("begin ", 0) == 0) {
      ++begins;
      ASSERT_LT(i + 1, calls.size());
      const std::string requested = c.substr(6);
      ASSERT_EQ(calls[i + 1].rfind("end " + requested + " ", 0), 0u) << c << " then " << calls[i + 1];
    } else if (c.rfind("end ", 0) == 0) {
      for (int o = 0; o < 4; ++o) outcomes[o] += c.ends_with(std::string(" ") + RentName(allocprof_rent_outcome(o)));
    } else {
      for (int o = 0; o < 3; ++o) returns[o] += c.ends_with(std::string(" ") + ReturnName(allocprof_return_outcome(o)));
    }
  }
  EXPECT_EQ(begins, s.rents);
  for (int o = 0; o < 4; ++o) EXPECT_EQ(outcomes[o], s.rent_outcomes[o]) << RentName(allocprof_rent_outcome(o));
  for (int o = 0; o < 3; ++o) EXPECT_EQ(returns[o], s.return_outcomes[o]) << ReturnName(allocprof_return_outcome(o));
  EXPECT_EQ(s.returns, s.rents);  // every rented array came back
  EXPECT_GT(s.hits(), 0u);
  EXPECT_GT(s.exhausted(), 0u);
  EXPECT_GT(s.oversize(), 0u);
  EXPECT_GT(s.dropped_full(), 0u);
}

// Thread-safe hooks for the concurrent test: counts only.
struct CountingHooks {
  std::atomic<uint64_t> begins{0}, ends{0}, returns{0};
  CountingHooks() = default;
  CountingHooks(CountingHooks&&) {}
  uint32_t Register(const char*, uint64_t, uint32_t) { return 1; }
  void RentBegin(uint32_t, uint64_t) { ++begins; }
  void RentEnd(uint32_t, uint64_t, uint64_t, allocprof_rent_outcome) { ++ends; }
  void Return(uint32_t, uint64_t, allocprof_return_outcome) { ++returns; }
};

TEST(ProducerPool, ConcurrentRentsAndReturnsStayConsistent) {
  BasicArrayPool<CountingHooks> pool({"p", 1 << 16, 4});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      std::mt19937 rng(t);
      std::vector<PooledArray> held;
      for (int i = 0; i < 20000; ++i) {
        if (held.size() < 6 && (held.empty() || rng() % 2)) {
          PooledArray a = pool.Rent(1 + rng() % 70000);
          a.data[0] = static_cast<uint8_t>(t);  // the array is this thread's alone
          a.data[a.size - 1] = static_cast<uint8_t>(t);
          held.push_back(a);
        } else {
          PooledArray a = held.back();
          held.pop_back();
          ASSERT_EQ(a.data[0], t);
          ASSERT_EQ(a.data[a.size - 1], t);
          pool.Return(a);
        }
      }
      for (const auto& a : held) pool.Return(a);
    });
  }
  for (auto& t : threads) t.join();
  const ArrayPoolStats s = pool.stats();
  EXPECT_EQ(s.rents, pool.hooks().begins.load());
  EXPECT_EQ(s.rents, pool.hooks().ends.load());
  EXPECT_EQ(s.returns, pool.hooks().returns.load());
  EXPECT_EQ(s.rents, s.returns);
  EXPECT_EQ(s.hits() + s.fills() + s.exhausted() + s.oversize(), s.rents);
  EXPECT_EQ(s.kept() + s.dropped_full() + s.dropped_oversize(), s.returns);
  EXPECT_EQ(s.oversize(), s.dropped_oversize());
}

TEST(ProducerProtocol, ADefaultRequestIsSlightlyLargerThanOneMiB) {
  const uint64_t n = MessagesPerBatch(1 << 20, 100);
  EXPECT_EQ(n, 10083u);  // ceil(1 MiB / 104-byte records)
  const uint64_t bytes = RequestBytes(n, 100);
  EXPECT_GT(bytes, 1u << 20);
  EXPECT_LT(bytes, (1u << 20) + 1024);
  EXPECT_EQ(BucketIndex(bytes), 17);  // oversize for a 1 MiB pool, the 2 MiB bucket of a 4 MiB one
}

// A response stream as the broker writes it.
std::vector<uint8_t> ResponseStream(int responses, uint32_t payload) {
  std::vector<uint8_t> s;
  for (int i = 0; i < responses; ++i) {
    const FrameHeader h{kResponseMagic, payload, static_cast<uint64_t>(i), 1, 0};
    const size_t at = s.size();
    s.resize(at + sizeof h + payload, static_cast<uint8_t>(i));
    memcpy(s.data() + at, &h, sizeof h);
  }
  return s;
}

struct ReadResult {
  std::vector<std::string> calls;
  ArrayPoolStats stats;
  size_t peak_segments = 0;
  uint64_t responses = 0;
  bool ok = false;
};

// Feeds `stream` to a reader in reads of 1..max_read bytes (0: whole segments), as the pump does.
ReadResult Read(const std::vector<uint8_t>& stream, uint32_t payload, size_t pool_max, uint32_t slots, uint32_t window,
                size_t max_read, uint32_t seed) {
  Pool pool({"producer", pool_max, slots});
  ReadResult r;
  {
    ResponseReader<Pool> reader(pool, 64 * 1024, window, payload);
    std::mt19937 rng(seed);
    size_t at = 0;
    uint64_t completed = 0;
    bool ok = true;
    while (ok && at < stream.size()) {
      std::span<uint8_t> into = reader.Writable();
      size_t n = std::min(into.size(), stream.size() - at);
      if (max_read) n = std::min<size_t>(n, 1 + rng() % max_read);
      memcpy(into.data(), stream.data() + at, n);
      at += n;
      ok = reader.Commit(n, &completed);
    }
    // The pump stops at a malformed response; the reader's destructor returns the segments.
    r.ok = ok && reader.Finish();
    EXPECT_EQ(completed, reader.responses());
    r.peak_segments = reader.peak_segments();
    r.responses = reader.responses();
  }
  r.calls = Take(pool);
  r.stats = pool.stats();
  return r;
}

TEST(ProducerReadPath, SegmentTrafficDoesNotDependOnHowTheStreamIsRead) {
  const uint32_t payload = 256 * 1024;
  const auto stream = ResponseStream(20, payload);
  const ReadResult whole = Read(stream, payload, 1 << 20, 8, 8, 0, 0);
  ASSERT_TRUE(whole.ok);
  EXPECT_EQ(whole.responses, 20u);
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    const ReadResult chunked = Read(stream, payload, 1 << 20, 8, 8, seed == 1 ? 7 : 40000, seed);
    ASSERT_TRUE(chunked.ok);
    EXPECT_EQ(chunked.calls, whole.calls) << "seed " << seed;
  }
}

TEST(ProducerReadPath, AWindowOfSegmentsOverflowsEightSlotsButNotThirtyTwo) {
  const uint32_t payload = 256 * 1024;
  const auto stream = ResponseStream(20, payload);  // 5243360 bytes: 81 segments of 64 KiB
  // 1 MiB / 8: a window of 8 responses spans 33 segments; 8 come from the 64 KiB bucket, 8 from
  // the 128 KiB neighbour, the rest are exhausted and dropped when returned.
  const ReadResult small = Read(stream, payload, 1 << 20, 8, 8, 0, 0);
  EXPECT_EQ(small.peak_segments, 33u);
  EXPECT_EQ(small.stats.rents, 81u);
  EXPECT_EQ(small.stats.fills(), 16u);
  EXPECT_EQ(small.stats.hits(), 32u);
  EXPECT_EQ(small.stats.exhausted(), 33u);
  EXPECT_EQ(small.stats.from_neighbour, 24u);
  EXPECT_EQ(small.stats.returns, 81u);
  EXPECT_EQ(small.stats.dropped_full(), 33u);
  EXPECT_EQ(small.stats.kept(), 48u);
  // 4 MiB / 32: 32 slots and one neighbour fill hold the window; every later rent is a hit.
  const ReadResult large = Read(stream, payload, 4 << 20, 32, 8, 0, 0);
  EXPECT_EQ(large.stats.rents, 81u);
  EXPECT_EQ(large.stats.fills(), 33u);
  EXPECT_EQ(large.stats.hits(), 48u);
  EXPECT_EQ(large.stats.exhausted(), 0u);
  EXPECT_EQ(large.stats.dropped_full(), 0u);
  // A window of one response needs only 5 segments at a time.
  const ReadResult one = Read(stream, payload, 1 << 20, 8, 1, 0, 0);
  EXPECT_LE(one.peak_segments, 6u);
  EXPECT_EQ(one.stats.exhausted(), 0u);
}

TEST(ProducerReadPath, RejectsMalformedAndCutOffResponses) {
  const uint32_t payload = 1000;
  auto stream = ResponseStream(3, payload);
  stream[sizeof(FrameHeader) + payload] ^= 0xff;  // the second response's magic
  EXPECT_FALSE(Read(stream, payload, 1 << 20, 8, 8, 0, 0).ok);
  auto cut = ResponseStream(3, payload);
  cut.resize(cut.size() - 1);
  const ReadResult r = Read(cut, payload, 1 << 20, 8, 8, 0, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.responses, 2u);
  EXPECT_EQ(r.stats.rents, r.stats.returns);  // every segment went back anyway
}

}  // namespace
}  // namespace producer
