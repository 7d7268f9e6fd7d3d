// The flame graph's data: calls and bytes per stack and window (StackWindows, through the
// coarsening of its fine windows), and the call tree built from stacks (BuildFlameTree): merging
// by function, pseudo-frames, self values that add up to the totals, cells per node and window.
#include "report/flame.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "passes/stack_windows.h"
#include "report/report.h"

namespace allocprof {
namespace {

std::vector<TimeWindow> EqualWindows(uint64_t width, size_t n) {
  std::vector<TimeWindow> w(n);
  for (size_t i = 0; i < n; ++i) {
    w[i].start_ns = i * width;
    w[i].end_ns = (i + 1) * width;
  }
  return w;
}

TEST(StackWindows, CountsPerStackAndWindow) {
  StackWindows sw;
  const uint64_t origin = 1'000'000;
  sw.Add(origin + 0, 1, 1, 100);
  sw.Add(origin + 5'000, 1, 1, 100);    // window 0 of 10 µs windows
  sw.Add(origin + 15'000, 2, 2, 64);    // window 1
  sw.Add(origin + 95'000, 1, 1, 1000);  // window 9
  auto cells = sw.Cells(origin, EqualWindows(10'000, 10));
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[0].stack_id, 1u);
  EXPECT_EQ(cells[0].window, 0u);
  EXPECT_EQ(cells[0].calls, 2u);
  EXPECT_EQ(cells[0].bytes, 200u);
  EXPECT_EQ(cells[1].stack_id, 1u);
  EXPECT_EQ(cells[1].window, 9u);
  EXPECT_EQ(cells[2].stack_id, 2u);
  EXPECT_EQ(cells[2].window, 1u);
  EXPECT_EQ(cells[2].calls, 2u);
}

TEST(StackWindows, CoarsensAndKeepsEveryCount) {
  // A long run: the fine width doubles many times; the totals per stack never change, and each
  // window of the output holds what fell into it to within one fine window.
  StackWindows sw;
  const uint64_t second = 1'000'000'000;
  uint64_t calls[2] = {0, 0};
  for (uint64_t t = 0; t < 10 * second; t += second / 1000) {  // 1 kHz for 10 s, two stacks
    uint32_t stack = (t / second) % 2 ? 7 : 3;
    sw.Add(t, stack, 1, 8);
    ++calls[stack == 7];
  }
  EXPECT_LE(10 * second / sw.fine_width_ns(), StackWindows::kMaxFine);
  auto cells = sw.Cells(0, EqualWindows(second, 10));
  uint64_t got[2] = {0, 0};
  std::map<uint32_t, uint64_t> per_window;
  for (const auto& c : cells) {
    got[c.stack_id == 7] += c.calls;
    per_window[c.window] += c.calls;
    EXPECT_EQ(c.bytes, c.calls * 8);
  }
  EXPECT_EQ(got[0], calls[0]);
  EXPECT_EQ(got[1], calls[1]);
  ASSERT_EQ(per_window.size(), 10u);
  for (const auto& [w, n] : per_window)
    EXPECT_NEAR(static_cast<double>(n), 1000.0, 2 * 10000.0 / StackWindows::kMinFine);
  // Stack 3 allocates in even seconds only: an odd window holds at most one fine window of it.
  const uint64_t per_fine = sw.fine_width_ns() / (second / 1000) + 1;
  for (const auto& c : cells) {
    if (c.stack_id == 3 && c.window % 2 == 1) {
      EXPECT_LE(c.calls, per_fine);
    }
  }
}

TEST(StackWindows, IgnoresFreesAndPoolEvents) {
  StackWindows sw;
  Event alloc{};
  alloc.time = 10;
  alloc.size = 32;
  alloc.stack_id = 4;
  alloc.weight = 3;  // a sampled allocation standing for three
  sw.OnEvent(alloc);
  Event free_event = alloc;
  free_event.is_free = true;
  sw.OnEvent(free_event);
  Event rent = alloc;
  rent.kind = EventKind::kRentBegin;
  sw.OnEvent(rent);
  auto cells = sw.Cells(0, EqualWindows(1000, 1));
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0].calls, 3u);
  EXPECT_EQ(cells[0].bytes, 96u);
}

// Addresses 0x10..0x40 resolve to: main, Outer (with Inner inlined), Worker, and nothing known.
std::vector<ReportFrame> Resolve(uint64_t a) {
  switch (a) {
    case 0x10:
      return {ReportFrame{"main", "/src/main.cc", 5, "/bin/app", 0x10, false}};
    case 0x20:
      return {ReportFrame{"Inner", "/src/a.h", 7, "/bin/app", 0x20, true},
              ReportFrame{"Outer(int)", "/src/a.cc", 20, "/bin/app", 0x20, false}};
    case 0x21:  // another line of Outer: merges with 0x20's Outer
      return {ReportFrame{"Outer(int)", "/src/a.cc", 22, "/bin/app", 0x21, false}};
    case 0x30:
      return {ReportFrame{"Worker", "/src/w.cc", 9, "/bin/app", 0x30, false}};
    default:
      return {ReportFrame{"", "", 0, "/usr/lib/libx.so", a, false}};
  }
}

TEST(FlameTree, MergesStacksByFunctionRootFirst) {
  ProcessCatalog catalog;
  catalog.stacks[1] = {0x20, 0x10};        // main > Outer > Inner
  catalog.stacks[2] = {0x21, 0x10};        // main > Outer (another line)
  catalog.stacks[3] = {0x30, 0x10};        // main > Worker
  catalog.stacks[4] = {0x99, 0x30, 0x10};  // main > Worker > libx.so+0x99
  StackStats s1{.calls = 10, .bytes = 1000, .live_count = 1, .live_bytes = 100, .peak_bytes = 300};
  StackStats s2{.calls = 1, .bytes = 50};
  StackStats s3{.calls = 5, .bytes = 5000};
  StackStats s4{.calls = 2, .bytes = 20};
  StackStats none{.calls = 3, .bytes = 30};  // stack 0: nothing captured
  StackStats lost{.calls = 1, .bytes = 1};   // stack 9: never defined
  std::vector<std::pair<uint32_t, const StackStats*>> stacks = {{1, &s1}, {2, &s2},   {3, &s3},
                                                                {4, &s4}, {0, &none}, {9, &lost}};
  std::vector<StackWindowCell> cells = {{1, 0, 4, 400}, {1, 1, 6, 600}, {3, 1, 5, 5000}, {2, 1, 1, 50}};
  FlameTree t = BuildFlameTree(catalog, stacks, cells, 2, Resolve);
  ASSERT_TRUE(t.present);
  EXPECT_EQ(t.stacks, 6u);
  EXPECT_EQ(t.windows, 2u);
  // Paths by name, and the self values at each.
  std::map<std::string, size_t> by_path;
  std::vector<std::string> path(t.parent.size());
  for (size_t i = 0; i < t.parent.size(); ++i) {
    ASSERT_LT(t.parent[i], static_cast<int32_t>(i));
    std::string name = t.sites[t.site[i]].name;
    path[i] = t.parent[i] < 0 ? name : path[t.parent[i]] + ";" + name;
    by_path[path[i]] = i;
  }
  std::vector<std::string> expected = {
      "main",       "main;Worker", "main;Worker;libx.so+0x99", "main;Outer(int)", "main;Outer(int);Inner",
      "[no-stack]", "[lost-stack]"};
  for (const auto& p : expected) EXPECT_TRUE(by_path.count(p)) << p;
  EXPECT_EQ(by_path.size(), expected.size());
  size_t outer = by_path["main;Outer(int)"], inner = by_path["main;Outer(int);Inner"];
  EXPECT_EQ(t.calls[inner], 10u);
  EXPECT_EQ(t.calls[outer], 1u);  // stack 2 ends at Outer
  EXPECT_EQ(t.leaked_bytes[inner], 100u);
  EXPECT_EQ(t.peak_bytes[inner], 300u);
  EXPECT_EQ(t.calls[by_path["main"]], 0u);
  // The heaviest stack through Outer (stack 1, line 20) gives the node its call site.
  EXPECT_EQ(t.sites[t.site[outer]].line, 20);
  EXPECT_TRUE(t.sites[t.site[inner]].inlined);
  uint64_t calls = 0, bytes = 0;
  for (size_t i = 0; i < t.calls.size(); ++i) {
    calls += t.calls[i];
    bytes += t.bytes[i];
  }
  EXPECT_EQ(calls, 22u);
  EXPECT_EQ(bytes, 6101u);
  // Cells land on the stack's leaf node, sorted by node then window.
  ASSERT_EQ(t.cells.size(), 4u);
  for (size_t i = 1; i < t.cells.size(); ++i) {
    EXPECT_TRUE(t.cells[i - 1].node < t.cells[i].node ||
                (t.cells[i - 1].node == t.cells[i].node && t.cells[i - 1].window < t.cells[i].window));
  }
  uint64_t inner_calls = 0;
  for (const auto& c : t.cells) {
    if (c.node == inner) inner_calls += c.calls;
  }
  EXPECT_EQ(inner_calls, 10u);
}

TEST(FlameTree, JsonIsColumnar) {
  ProcessCatalog catalog;
  catalog.stacks[1] = {0x30, 0x10};
  StackStats s{.calls = 2, .bytes = 64};
  FlameTree t = BuildFlameTree(catalog, {{1, &s}}, {{1, 0, 2, 64}}, 1, Resolve);
  JsonWriter j;
  j.BeginObject();
  WriteFlameJson(j, t);
  j.EndObject();
  auto doc = nlohmann::json::parse(j.str());
  EXPECT_EQ(doc["nodes"]["parent"], nlohmann::json::parse("[-1, 0]"));
  EXPECT_EQ(doc["sites"]["name"][doc["nodes"]["site"][1].get<int>()], "Worker");
  EXPECT_EQ(doc["sites"]["file"][doc["nodes"]["site"][1].get<int>()], "/src/w.cc");
  EXPECT_EQ(doc["nodes"]["calls"], nlohmann::json::parse("[0, 2]"));
  EXPECT_EQ(doc["by_window"]["node"], nlohmann::json::parse("[1]"));
  EXPECT_EQ(doc["by_window"]["bytes"], nlohmann::json::parse("[64]"));
}

}  // namespace
}  // namespace allocprof
