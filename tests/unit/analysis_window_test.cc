// Analysis windows (--from / --to) on hand-written event streams with hand-computed answers.
#include "passes/analysis_window.h"

#include <gtest/gtest.h>

#include "passes/heap_analysis.h"

namespace allocprof {
namespace {

using format::EntryPoint;

class WindowedStream {
 public:
  explicit WindowedStream(const std::string& from, const std::string& to = "") {
    AnalysisOptions options;
    if (!from.empty()) {
      EXPECT_TRUE(ParseWindowBound(from, "--from", &options.window.from).ok());
    }
    if (!to.empty()) {
      EXPECT_TRUE(ParseWindowBound(to, "--to", &options.window.to).ok());
    }
    heap_ = std::make_unique<HeapAnalysis>(options, &catalog_);
  }
  WindowedStream& Alloc(uint64_t t, uint64_t addr, uint64_t size, uint32_t stack = 1) {
    heap_->Feed(Event{t, addr, size, stack, 0, EntryPoint::kMalloc, false});
    return *this;
  }
  WindowedStream& Free(uint64_t t, uint64_t addr) {
    heap_->Feed(Event{t, addr, 0, 0, 0, EntryPoint::kFree, true});
    return *this;
  }
  // As the reader delivers one: the catalog learns the mark before the event reaches the pass.
  WindowedStream& Mark(uint64_t t, const std::string& name) {
    catalog_.marks.push_back({t, name, 0});
    Event e{t, 0, 0, 0, 0, EntryPoint::kMalloc, false};
    e.kind = EventKind::kMark;
    e.pool = static_cast<uint32_t>(catalog_.marks.size() - 1);
    heap_->Feed(e);
    return *this;
  }
  HeapAnalysis& Done() {
    heap_->Finish();
    return *heap_;
  }

 private:
  ProcessCatalog catalog_;
  std::unique_ptr<HeapAnalysis> heap_;
};

TEST(WindowBound, ParsesTimesMarksAndForcedMarks) {
  WindowBound b;
  ASSERT_TRUE(ParseWindowBound("12.5s", "--from", &b).ok());
  EXPECT_EQ(b.kind, WindowBound::Kind::kTime);
  EXPECT_EQ(b.ns, 12500000000u);
  ASSERT_TRUE(ParseWindowBound("warmup-done", "--from", &b).ok());
  EXPECT_EQ(b.kind, WindowBound::Kind::kMark);
  EXPECT_EQ(b.mark, "warmup-done");
  ASSERT_TRUE(ParseWindowBound("mark:10s", "--to", &b).ok());
  EXPECT_EQ(b.kind, WindowBound::Kind::kMark);
  EXPECT_EQ(b.mark, "10s");
  EXPECT_EQ(b.Describe("end"), "mark \"10s\"");
  EXPECT_FALSE(ParseWindowBound("", "--from", &b).ok());
  EXPECT_FALSE(ParseWindowBound("mark:", "--from", &b).ok());
}

// Before the window: A (100) and B (50) allocated. Inside: A freed (inherited), C (10) and D (20)
// allocated, C freed. After: D freed and E allocated, neither counted.
TEST(AnalysisWindow, BetweenMarksCarriesTheHeapInAndReportsInheritedFreesApart) {
  WindowedStream s("go", "end");
  s.Alloc(10, 0xa, 100).Alloc(20, 0xb, 50).Mark(30, "go").Free(40, 0xa).Alloc(50, 0xc, 10, 2).Alloc(60, 0xd, 20, 3);
  s.Free(70, 0xc).Mark(80, "end").Free(90, 0xd).Alloc(100, 0xe, 1000);
  HeapAnalysis& h = s.Done();
  const HeapTotals& t = h.totals();
  EXPECT_EQ(t.allocations, 2u);
  EXPECT_EQ(t.bytes_allocated, 30u);
  EXPECT_EQ(t.frees, 1u);
  EXPECT_EQ(t.bytes_freed, 10u);
  EXPECT_EQ(t.inherited_frees, 1u);
  EXPECT_EQ(t.inherited_bytes_freed, 100u);
  EXPECT_EQ(t.window_live_at_start, 2u);
  EXPECT_EQ(t.window_live_bytes_at_start, 150u);
  EXPECT_EQ(t.peak_live_bytes, 150u) << "the carried-in heap was the largest live heap in the window";
  EXPECT_EQ(t.peak_time_ns, 30u);
  EXPECT_EQ(t.leaked_allocations, 1u) << "D, live at the window's end";
  EXPECT_EQ(t.leaked_bytes, 20u);
  EXPECT_EQ(t.calls_by_entry[static_cast<size_t>(EntryPoint::kFree)], 2u) << "free calls inside: A and C";
  EXPECT_EQ(h.origin_ns(), 30u);
  EXPECT_TRUE(h.window().opened());
  EXPECT_TRUE(h.window().closed());
  EXPECT_EQ(h.window().close_ns(), 80u);
  // Stacks see only allocations made inside the window.
  size_t stacks = 0;
  for (const auto& [id, st] : h.AllStacks()) {
    ++stacks;
    EXPECT_TRUE(id == 2 || id == 3) << id;
  }
  EXPECT_EQ(stacks, 2u);
}

TEST(AnalysisWindow, TheSameMarkOpensAndThenClosesIt) {
  WindowedStream s("lap", "lap");
  s.Alloc(1, 0xa, 8).Mark(2, "lap").Alloc(3, 0xb, 16).Mark(4, "lap").Alloc(5, 0xc, 32);
  EXPECT_EQ(s.Done().totals().allocations, 1u);
}

TEST(AnalysisWindow, ByTimeSinceTheStart) {
  // No process record: times count from the first event (t = 100).
  WindowedStream s("15ns", "40ns");
  s.Alloc(100, 0xa, 1).Alloc(110, 0xb, 2).Alloc(115, 0xc, 4).Free(120, 0xa).Alloc(139, 0xd, 8).Alloc(140, 0xe, 16);
  const HeapTotals& t = s.Done().totals();
  EXPECT_EQ(t.allocations, 2u) << "c at 115 and d at 139; e at 140 is past --to";
  EXPECT_EQ(t.bytes_allocated, 12u);
  EXPECT_EQ(t.inherited_frees, 1u);
  EXPECT_EQ(t.window_live_bytes_at_start, 3u);
}

TEST(AnalysisWindow, AMissingMarkLeavesTheWindowClosedAndEveryFigureZero) {
  WindowedStream s("never");
  s.Alloc(1, 0xa, 8).Mark(2, "other").Free(3, 0xa);
  HeapAnalysis& h = s.Done();
  EXPECT_FALSE(h.window().opened());
  EXPECT_EQ(h.totals().allocations, 0u);
  EXPECT_EQ(h.totals().frees, 0u);
}

}  // namespace
}  // namespace allocprof
