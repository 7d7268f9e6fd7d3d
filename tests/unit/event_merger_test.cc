#include "read/event_merger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "read/process_trace.h"
#include "report/report.h"
#include "trace_builder.h"

namespace allocprof {
namespace {

using format::EntryPoint;
using testing::TraceBuilder;

class Collect : public EventSink {
 public:
  void OnEvent(const Event& e) override { events.push_back(e); }
  std::vector<Event> events;
};

TEST(EventMerger, HoldsEventsUntilEveryLiveThreadCoversThem) {
  Collect sink;
  EventMerger m(&sink);
  m.ThreadStarted(0, 0);
  m.ThreadStarted(1, 0);
  m.Add(Event{100, 0xa, 8, 1, 0, EntryPoint::kMalloc, false});
  m.Covered(0, 150);
  m.Release();
  EXPECT_TRUE(sink.events.empty()) << "thread 1 may still write events older than 100";
  m.Add(Event{90, 0xb, 8, 1, 1, EntryPoint::kMalloc, false});
  m.Covered(1, 120);
  m.Release();
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[0].time, 90u);
  EXPECT_EQ(sink.events[1].time, 100u);
}

TEST(EventMerger, FreesGoFirstAtEqualTimes) {
  Collect sink;
  EventMerger m(&sink);
  m.Add(Event{100, 0xa, 8, 1, 1, EntryPoint::kMalloc, false});
  m.Add(Event{100, 0xa, 0, 0, 0, EntryPoint::kFree, true});
  m.Finish();
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_TRUE(sink.events[0].is_free);
  EXPECT_EQ(m.out_of_order(), 0u);
}

// Counts which events came in runs marked heap-only.
class RunKinds : public EventSink {
 public:
  void OnEvent(const Event& e) override { ++general; }
  void OnEvents(const Event* events, size_t n) override {
    for (size_t i = 0; i < n; ++i) ++general, others += events[i].kind != EventKind::kHeap;
  }
  void OnHeapEvents(const Event* events, size_t n) override {
    for (size_t i = 0; i < n; ++i) ++heap_only, others_in_heap_runs += events[i].kind != EventKind::kHeap;
  }
  size_t general = 0, heap_only = 0, others = 0, others_in_heap_runs = 0;
};

TEST(EventMerger, RunsOfHeapEventsOnlyAreMarkedSo) {
  RunKinds sink;
  EventMerger m(&sink);
  std::vector<Event> a, b;
  for (uint64_t t = 0; t < 4000; ++t) {
    Event e{t * 2, 0x1000 + t, 8, 1, 0, EntryPoint::kMalloc, false};
    if (t == 1500) {
      e.kind = EventKind::kRentBegin;
      e.pool = 1;
    }
    a.push_back(e);
    b.push_back(Event{t * 2 + 1, 0x90000 + t, 16, 2, 1, EntryPoint::kMalloc, false});
  }
  m.AddBatch(m.QueueIndex(0), std::move(a));
  m.AddBatch(m.QueueIndex(1), std::move(b));
  m.Finish();
  EXPECT_EQ(sink.general + sink.heap_only, 8000u);
  EXPECT_EQ(sink.others, 1u);
  EXPECT_EQ(sink.others_in_heap_runs, 0u);
  EXPECT_GT(sink.heap_only, 6000u) << "only the runs near the rent need the general path";
}

TEST(EventMerger, EndedThreadsNoLongerHoldTheWatermark) {
  Collect sink;
  EventMerger m(&sink);
  m.ThreadStarted(0, 0);
  m.ThreadStarted(1, 0);
  m.Add(Event{50, 0xa, 8, 1, 0, EntryPoint::kMalloc, false});
  m.Covered(0, 60);
  m.ThreadEnded(1);
  m.Release();
  EXPECT_EQ(sink.events.size(), 1u);
}

// The merger emits runs straight from its batches; check it against the naive definition (always
// take the queue whose head is smallest by time, then frees first, then queue index) on batches of
// random lengths with many equal times, released piecemeal. Few threads are merged by scanning
// their heads, many through a heap (and by scanning once enough of them ran dry): both are covered.
class EventMergerThreads : public ::testing::TestWithParam<uint32_t> {};

INSTANTIATE_TEST_SUITE_P(Counts, EventMergerThreads, ::testing::Values(2u, 4u, 7u));

// Batches up to 200 events long fit one unpacked slice; up to 2000 they span several.
void MatchesNaiveMerge(uint32_t kThreads, size_t max_batch) {
  uint64_t seed = 12345 + kThreads;
  auto next = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  std::vector<std::vector<Event>> streams(kThreads);
  for (uint32_t t = 0; t < kThreads; ++t) {
    uint64_t time = 0;
    for (int i = 0; i < 3000; ++i) {
      time += next() % 3;  // many equal times, within and across threads
      bool is_free = next() % 2;
      streams[t].push_back(Event{time, 0x1000 + t * 0x100000 + static_cast<uint64_t>(i) * 16, 8, 1, t,
                                 is_free ? EntryPoint::kFree : EntryPoint::kMalloc, is_free});
    }
  }
  std::vector<Event> want;
  std::vector<size_t> pos(kThreads, 0);
  for (;;) {
    int best = -1;
    for (uint32_t t = 0; t < kThreads; ++t) {
      if (pos[t] == streams[t].size()) continue;
      const Event& e = streams[t][pos[t]];
      if (best < 0) {
        best = static_cast<int>(t);
        continue;
      }
      const Event& b = streams[best][pos[best]];
      if (e.time < b.time || (e.time == b.time && e.is_free && !b.is_free)) best = static_cast<int>(t);
    }
    if (best < 0) break;
    want.push_back(streams[best][pos[best]++]);
  }

  Collect sink;
  EventMerger m(&sink);
  for (uint32_t t = 0; t < kThreads; ++t) m.ThreadStarted(t, 0);
  std::fill(pos.begin(), pos.end(), 0);
  for (bool added = true; added;) {
    added = false;
    for (uint32_t t = 0; t < kThreads; ++t) {
      size_t n = std::min<size_t>(1 + next() % max_batch, streams[t].size() - pos[t]);
      if (n == 0) continue;
      std::vector<Event> batch(streams[t].begin() + static_cast<long>(pos[t]),
                               streams[t].begin() + static_cast<long>(pos[t] + n));
      pos[t] += n;
      m.Covered(t, batch.back().time);  // the next batch starts no earlier than this one ended
      m.AddBatch(m.QueueIndex(t), std::move(batch));
      m.Release();
      added = true;
    }
  }
  m.Finish();
  ASSERT_EQ(sink.events.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(sink.events[i].time, want[i].time) << i;
    ASSERT_EQ(sink.events[i].addr, want[i].addr) << i;
  }
  EXPECT_EQ(m.out_of_order(), 0u);
  EXPECT_EQ(m.pending(), 0u);
  EXPECT_EQ(m.pending_bytes(), 0u);
}

TEST_P(EventMergerThreads, MatchesNaiveMergeOnRandomBatchesWithTies) {
  MatchesNaiveMerge(GetParam(), 200);
  MatchesNaiveMerge(GetParam(), 2000);
}

// Waiting events are held packed: far below sizeof(Event) each for ordinary heap events.
TEST(EventMerger, HoldsWaitingEventsPacked) {
  Collect sink;
  EventMerger m(&sink);
  m.ThreadStarted(0, 0);
  m.ThreadStarted(1, 0);  // idle: holds everything back
  std::vector<Event> batch;
  for (uint64_t i = 0; i < 10000; ++i) {
    batch.push_back(Event{1000 + 48 * i, 0x7f0000001000 + (i * 7919 % 4096) * 64, i % 2 ? 0 : 24 + i % 512,
                          i % 2 ? 0u : static_cast<uint32_t>(i % 50), 0,
                          i % 2 ? EntryPoint::kFree : EntryPoint::kMalloc, i % 2 == 1});
  }
  m.AddBatch(m.QueueIndex(0), std::vector<Event>(batch));
  m.Covered(0, UINT64_MAX);
  m.Release();
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(m.pending(), batch.size());
  EXPECT_GT(m.pending_bytes(), 0u);
  EXPECT_LT(m.pending_bytes(), 12 * batch.size());
  m.Covered(1, 1000 + 48 * 5000);
  m.Release();
  EXPECT_EQ(sink.events.size(), 5000u);
  m.Finish();
  ASSERT_EQ(sink.events.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    ASSERT_EQ(sink.events[i].addr, batch[i].addr) << i;
    ASSERT_EQ(sink.events[i].size, batch[i].size) << i;
    ASSERT_EQ(sink.events[i].stack_id, batch[i].stack_id) << i;
  }
  EXPECT_EQ(m.pending_bytes(), 0u);
}

// Late events (written after their thread's exit) interleave with a queue that is partly released
// and partly still packed: they are merged in by time, the held ones keeping their order at equal
// times, and the one older than what was already released is counted out of order.
TEST(EventMerger, LateEventsMergeIntoAPartlyReleasedQueue) {
  Collect sink;
  EventMerger m(&sink);
  m.ThreadStarted(0, 0);
  m.ThreadStarted(1, 0);
  std::vector<Event> held;
  for (uint64_t t = 10; t <= 3000; t += 10) held.push_back(Event{t, t, 8, 1, 0, EntryPoint::kMalloc, false});
  m.AddBatch(m.QueueIndex(0), std::move(held));
  m.Covered(0, 5000);
  m.Covered(1, 505);
  m.Release();
  ASSERT_EQ(sink.events.size(), 50u);  // 10..500
  std::vector<Event> late = {
      Event{2995, 1, 8, 1, 0, EntryPoint::kMalloc, false}, Event{15, 2, 8, 1, 0, EntryPoint::kMalloc, false},
      Event{600, 3, 8, 1, 0, EntryPoint::kMalloc, false}, Event{507, 4, 8, 1, 0, EntryPoint::kMalloc, false}};
  m.AddBatch(m.QueueIndex(0), std::move(late));
  m.Finish();
  std::vector<std::pair<uint64_t, uint64_t>> want;  // (time, addr)
  for (uint64_t t = 10; t <= 500; t += 10) want.push_back({t, t});
  want.push_back({15, 2});
  want.push_back({507, 4});
  for (uint64_t t = 510; t <= 3000; t += 10) {
    want.push_back({t, t});
    if (t == 600) want.push_back({600, 3});
    if (t == 2990) want.push_back({2995, 1});
  }
  ASSERT_EQ(sink.events.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(sink.events[i].time, want[i].first) << i;
    ASSERT_EQ(sink.events[i].addr, want[i].second) << i;
  }
  EXPECT_EQ(m.out_of_order(), 1u);
  EXPECT_EQ(m.pending(), 0u);
}

// The same with two busy threads, whose queues merge head to head: the late events older than what
// was released come first and each counts out of order; the rest interleave by time.
TEST(EventMerger, LateEventsBeforeTwoInterleavedQueuesCountOutOfOrder) {
  Collect sink;
  EventMerger m(&sink);
  m.ThreadStarted(0, 0);
  m.ThreadStarted(1, 0);
  std::vector<Event> odd, even;
  for (uint64_t t = 10; t <= 3000; t += 20) odd.push_back(Event{t, t, 8, 1, 0, EntryPoint::kMalloc, false});
  for (uint64_t t = 20; t <= 3000; t += 20) even.push_back(Event{t, t, 8, 1, 1, EntryPoint::kMalloc, false});
  m.AddBatch(m.QueueIndex(0), std::move(odd));
  m.AddBatch(m.QueueIndex(1), std::move(even));
  m.Covered(0, 505);
  m.Covered(1, 505);
  m.Release();
  ASSERT_EQ(sink.events.size(), 50u);  // 10..500
  std::vector<Event> late = {Event{25, 2, 8, 1, 0, EntryPoint::kMalloc, false},
                             Event{15, 1, 8, 1, 0, EntryPoint::kMalloc, false},
                             Event{600, 3, 8, 1, 0, EntryPoint::kMalloc, false}};
  m.AddBatch(m.QueueIndex(0), std::move(late));
  m.Finish();
  std::vector<std::pair<uint64_t, uint64_t>> want;  // (time, addr)
  for (uint64_t t = 10; t <= 500; t += 10) want.push_back({t, t});
  want.push_back({15, 1});
  want.push_back({25, 2});
  for (uint64_t t = 510; t <= 3000; t += 10) {
    want.push_back({t, t});
    if (t == 590) want.push_back({600, 3});  // before thread 1's event at 600: queue 0 wins ties
  }
  ASSERT_EQ(sink.events.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(sink.events[i].time, want[i].first) << i;
    ASSERT_EQ(sink.events[i].addr, want[i].second) << i;
  }
  EXPECT_EQ(m.out_of_order(), 2u);
  EXPECT_EQ(m.pending(), 0u);
}

// Two threads reuse one address: thread 1 frees it at t=320 (its chunk written late), thread 0
// allocates it again at t=480 (written first). The reader must pair alloc(160) with free(320).
// Times are multiples of the format's 16 ns quantum.
TEST(ProcessTrace, PairsAddressReuseAcrossThreadsWrittenOutOfOrder) {
  TraceBuilder b;
  b.Process(1);
  for (uint32_t thread : {0u, 1u}) {
    b.Chunk(thread, 0, 16, [&](auto& e) {
      e.Tag(format::RecordTag::kThreadStart);
      e.Time(16);
      e.Uint(100 + thread);
    });
  }
  b.Chunk(0, 0, 640, [](auto& e) {
    e.Alloc(EntryPoint::kMalloc, 160, 0xbeef0, 64, 1);
    e.Alloc(EntryPoint::kMalloc, 480, 0xbeef0, 64, 1);
  });
  b.Chunk(1, 0, 720, [](auto& e) { e.Free(EntryPoint::kFree, 320, 0xbeef0); });
  std::string path = b.WriteTemp();
  Collect sink;
  ProcessCatalog catalog;
  ASSERT_TRUE(ReadProcessTrace(path, &sink, &catalog).ok());
  unlink(path.c_str());
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0].time, 160u);
  EXPECT_TRUE(sink.events[1].is_free);
  EXPECT_EQ(sink.events[1].thread, 1u);
  EXPECT_EQ(sink.events[2].time, 480u);
  EXPECT_EQ(catalog.out_of_order_events, 0u);
  EXPECT_EQ(catalog.threads.size(), 2u);
  EXPECT_EQ(catalog.threads[1].tid, 101u);
  EXPECT_TRUE(catalog.diagnostics.empty());
}

TEST(ProcessTrace, QuietRecordsLetAnIdleThreadsWatermarkAdvance) {
  // Thread 1 is idle after its start; only the ticker's kQuiet record lets thread 0's event out
  // before the end of the file. The sink records how many chunks had been read when it saw it.
  TraceBuilder b;
  b.Process(1);
  for (uint32_t thread : {0u, 1u}) {
    b.Chunk(thread, 5, 5, [&](auto& e) {
      e.Tag(format::RecordTag::kThreadStart);
      e.Time(5);
      e.Uint(100 + thread);
    });
  }
  b.Chunk(0, 5, 100, [](auto& e) { e.Alloc(EntryPoint::kMalloc, 50, 0x10, 8, 1); });
  b.Chunk(format::kProcessThread, 60, 0, [](auto& e) {
    e.Tag(format::RecordTag::kQuiet);
    e.Time(60);
    e.Uint(1);
  });
  b.Chunk(0, 100, 200, [](auto& e) { e.Alloc(EntryPoint::kMalloc, 150, 0x20, 8, 1); });
  std::string path = b.WriteTemp();
  auto file = TraceFile::Open(path);
  ASSERT_TRUE(file.ok());
  Collect sink;
  EventMerger merger(&sink);
  merger.ThreadStarted(0, 5);
  merger.ThreadStarted(1, 5);
  merger.Add(Event{50, 0x10, 8, 1, 0, EntryPoint::kMalloc, false});
  merger.Covered(0, 100);
  merger.Release();
  EXPECT_TRUE(sink.events.empty()) << "thread 1 has promised nothing yet";
  merger.Covered(1, 60);  // what the quiet record says
  merger.Release();
  EXPECT_EQ(sink.events.size(), 1u);
  // The same through the reader: the first event must come out while the quiet record's chunk is
  // handled, not when the end of the file releases everything.
  struct ChunksAtEmission : EventSink {
    const ProcessCatalog* catalog = nullptr;
    std::vector<uint64_t> chunks;
    void OnEvent(const Event&) override { chunks.push_back(catalog->chunks); }
  };
  ProcessCatalog catalog;
  ChunksAtEmission all;
  all.catalog = &catalog;
  ASSERT_TRUE(ReadProcessTrace(path, &all, &catalog).ok());
  ASSERT_EQ(all.chunks.size(), 2u);
  EXPECT_LT(all.chunks[0], catalog.chunks) << "released before the last chunk was read";
  EXPECT_EQ(all.chunks[1], catalog.chunks);
  unlink(path.c_str());
}

// A process killed (no end record) 1 s after its last allocation, which it made 1 ms after its
// start: the flush thread's quiet records say it was alive until then, so it lasted ~1 s, not 1 ms.
TEST(ProcessTrace, AKilledProcessLastsUntilItsLastRecordNotItsLastAllocation) {
  constexpr uint64_t kStart = 1000000, kAlloc = 2000000, kLastQuiet = 1000000000;
  TraceBuilder b;
  b.Process(kStart);
  b.Chunk(0, kStart, kAlloc, [&](auto& e) {
    e.Tag(format::RecordTag::kThreadStart);
    e.Time(kStart);
    e.Uint(100);
    e.Alloc(EntryPoint::kMalloc, kAlloc, 0x10, 8, 1);
  });
  for (uint64_t t = 200000000; t <= kLastQuiet; t += 200000000) {
    b.Chunk(format::kProcessThread, t, 0, [&](auto& e) {
      e.Tag(format::RecordTag::kQuiet);
      e.Time(t);
      e.Uint(0);
    });
  }
  std::string path = b.WriteTemp();
  Collect sink;
  ProcessCatalog catalog;
  ASSERT_TRUE(ReadProcessTrace(path, &sink, &catalog).ok());
  EXPECT_FALSE(catalog.ended_cleanly);
  EXPECT_EQ(catalog.last_time, kLastQuiet);
  AnalysisOptions options;
  options.symbolize = false;
  auto report = Analyze({path}, options, false);
  unlink(path.c_str());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_NEAR(report->processes[0].duration_s, (kLastQuiet - kStart) / 1e9, 0.0001);
}

}  // namespace
}  // namespace allocprof
