// pool_tests: allocation budgets for the demo producer's pool, as a project would write them.
//
// The review of the motivating change asked for "a test verifying allocation counts in the
// producer path" and for one "verifying that a 1 MB buffer is actually returned to and reused from
// the pool". These are those tests: each warms the pool up the way the running producer does, then
// holds one steady-state step to a budget (allocprof/gtest.h). Run them under allocprof:
//
//   build/allocprof test -- build/examples/pool_tests                                # 1 MiB / 8: fails
//   build/allocprof test -- build/examples/pool_tests --pool-max 4MiB --pool-slots 32  # passes
//
// With the producer's default pool (1 MiB arrays, 8 slots a bucket) a produce request of a 1 MiB
// batch (1,048,656 bytes with its header and record lengths) is larger than the largest bucket:
// every one falls through the pool (oversize) and is allocated and freed again, and a window of
// eight 256 KiB responses (33 segments of 64 KiB) overflows the segments' bucket and its
// neighbour. The failure message shows the stack of each such allocation. Without allocprof the
// budget checks skip (GTEST_SKIP) and say why.
//
// Options (after GoogleTest's own): --pool-max B (default 1MiB), --pool-slots N (default 8),
// --batch-size B (default 1MiB), --message-size B (default 100), sizes with KiB/MiB suffixes.
#include <gtest/gtest.h>
#include <stdio.h>
#include <string.h>

#include <cstdint>
#include <string>
#include <vector>

#include "allocprof/gtest.h"
#include "allocprof/units.h"
#include "array_pool.h"
#include "protocol.h"
#include "request_writer.h"
#include "response_reader.h"

namespace producer {
namespace {

struct Config {
  uint64_t pool_max = 1 << 20;
  uint64_t pool_slots = 8;
  uint64_t batch_size = 1 << 20;
  uint64_t message_size = 100;
};
Config g_config;

constexpr const char* kPoolName = "producer";  // as producer.cc names its pool
constexpr size_t kSegmentSize = 64 * 1024;     // producer.cc's read segments
constexpr uint32_t kWindow = 8;                // --inflight
constexpr uint64_t kResponsePayload = 256 * 1024;

ArrayPoolConfig PoolConfig() {
  return {kPoolName, static_cast<size_t>(g_config.pool_max), static_cast<uint32_t>(g_config.pool_slots)};
}

class ProducerPath : public ::testing::Test {
 protected:
  ArrayPool pool_{PoolConfig()};
  std::vector<uint8_t> message_ = std::vector<uint8_t>(g_config.message_size, 'm');
  uint64_t per_batch_ = MessagesPerBatch(g_config.batch_size, g_config.message_size);
  uint64_t batch_ = 0;

  // The writer's step: a full batch serialized into a pooled request, sent, returned.
  void ProduceOneBatch() {
    PooledArray request = SerializeBatch(pool_, batch_, batch_ * per_batch_, per_batch_, message_);
    pool_.Return(request);
    ++batch_;
  }
};

// Once the pool is warm, producing a batch allocates nothing: the request comes from the pool.
TEST_F(ProducerPath, SteadyStateBatchMakesNoAllocation) {
  ProduceOneBatch();  // the first request fills its slot
  EXPECT_NO_ALLOCATIONS(ProduceOneBatch());
}

// The same step seen from the pool: a produce request is a hit, never a fall-through.
TEST_F(ProducerPath, ProduceRequestIsServedByThePool) {
  ProduceOneBatch();
  EXPECT_POOL_FALLTHROUGHS_EQ(ProduceOneBatch(), kPoolName, 0);
}

// A 1 MiB buffer is returned to the pool and the next 1 MiB rent gets that very buffer back.
TEST(Pool, OneMiBBufferIsReturnedAndReused) {
  ArrayPool pool(PoolConfig());
  PooledArray first = pool.Rent(1 << 20);
  uint8_t* address = first.data;
  pool.Return(first);
  PooledArray again;
  allocprof::AllocationScope scope;
  if (!scope.available()) GTEST_SKIP() << scope.unavailable_reason();
  EXPECT_NO_ALLOCATIONS(again = pool.Rent(1 << 20));
  scope.Stop();
  EXPECT_EQ(again.data, address);
  EXPECT_EQ(scope.hits(kPoolName), 1u);
  EXPECT_EQ(scope.fallthroughs(kPoolName), 0u);
  pool.Return(again);
}

// The read path: a window of responses is read into pooled segments that live until the window
// is consumed. After the first window has filled the pool, the next is served without a
// fall-through. (The reader's own deque may allocate: this budget is about the pool.)
TEST(ReadPath, ResponseWindowIsServedByThePool) {
  ArrayPool pool(PoolConfig());
  ResponseReader<ArrayPool> reader(pool, kSegmentSize, kWindow, kResponsePayload);
  std::vector<uint8_t> response(sizeof(FrameHeader) + kResponsePayload);
  uint64_t id = 0;
  auto read_window = [&] {
    for (uint32_t i = 0; i < kWindow; ++i, ++id) {
      const FrameHeader h{kResponseMagic, static_cast<uint32_t>(kResponsePayload), id, 1, 0};
      memcpy(response.data(), &h, sizeof h);
      memset(response.data() + sizeof h, static_cast<uint8_t>(id), kResponsePayload);
      for (size_t off = 0; off < response.size();) {
        std::span<uint8_t> into = reader.Writable();
        size_t n = std::min(into.size(), response.size() - off);
        memcpy(into.data(), response.data() + off, n);
        off += n;
        uint64_t completed = 0;
        ASSERT_TRUE(reader.Commit(n, &completed)) << reader.error();
      }
    }
  };
  read_window();
  EXPECT_POOL_FALLTHROUGHS_EQ(read_window(), kPoolName, 0);
  EXPECT_TRUE(reader.Finish()) << reader.error();
}

bool ParseFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    uint64_t* target = flag == "--pool-max"       ? &g_config.pool_max
                       : flag == "--pool-slots"   ? &g_config.pool_slots
                       : flag == "--batch-size"   ? &g_config.batch_size
                       : flag == "--message-size" ? &g_config.message_size
                                                  : nullptr;
    if (!target || i + 1 == argc) {
      fprintf(stderr, "pool_tests: unknown option or missing value: %s\n", argv[i]);
      return false;
    }
    const char* value = argv[++i];
    int64_t count = 0;
    bool ok = flag == "--pool-slots"
                  ? allocprof::units::ParseInteger(value, &count) && count >= 1 && (*target = count, true)
                  : allocprof::units::ParseByteSize(value, target) && *target >= 1;
    if (!ok) {
      fprintf(stderr, "pool_tests: bad value for %s: %s\n", flag.c_str(), value);
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace producer

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (!producer::ParseFlags(argc, argv)) return 64;
  const producer::Config& c = producer::g_config;
  printf("pool_tests: pool \"%s\" of %llu-byte arrays at most, %llu slots a bucket; requests of %llu bytes\n",
         producer::kPoolName, static_cast<unsigned long long>(c.pool_max),
         static_cast<unsigned long long>(c.pool_slots),
         static_cast<unsigned long long>(
             producer::RequestBytes(producer::MessagesPerBatch(c.batch_size, c.message_size), c.message_size)));
  return RUN_ALL_TESTS();
}
