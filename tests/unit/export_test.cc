// The export encoders on hand-built inputs: folded lines and their escaping, a pprof profile read
// back by a minimal protobuf reader, the gzip container, and the Chrome trace JSON's structure.
#include <gtest/gtest.h>
#include <zlib.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "export/export_chrome.h"
#include "export/export_folded.h"
#include "export/export_pprof.h"
#include "passes/heap_analysis.h"

namespace allocprof {
namespace {

using format::EntryPoint;

// Frames known by address, as a symbolizer would give them.
class FakeFrames : public FrameSource {
 public:
  explicit FakeFrames(bool symbolized = true) : FrameSource(kNoModules, false), symbolized_(symbolized) {}
  void Add(uint64_t address, const std::string& module, uint64_t offset, std::vector<SourceFrame> frames) {
    table_[address] = SymbolizedAddress{module, offset, std::move(frames)};
  }
  const SymbolizedAddress& Resolve(uint64_t address) override { return table_.at(address); }
  bool symbolized() const override { return symbolized_; }

 private:
  static inline const std::vector<ModuleInfo> kNoModules;
  bool symbolized_;
  std::map<uint64_t, SymbolizedAddress> table_;
};

// A program at load bias 0x10000 whose stacks (leaf first) are:
//   1: 0x10100 (Inner inlined into Outer), 0x10200 (main)
//   2: 0x10300 (nothing known), 0x10200 (main)
//   3: 0x10110 (Outer, another call site), 0x10200 (main) -- folds onto stack 1's path minus Inner
// and allocations without a stack (id 0) and with one the trace never defined (id 9).
struct Fixture {
  ProcessCatalog catalog;
  HeapAnalysis heap{AnalysisOptions{}, nullptr};
  FakeFrames frames;

  Fixture() {
    ModuleInfo m;
    m.path = "/opt/app/bin/prog";
    m.load_bias = 0x10000;
    m.build_id = std::string("\x12\xab\x00\xff", 4);
    m.segments = {Segment{0, 0x800, 4}, Segment{0x100, 0x1000, 5}};
    catalog.modules.push_back(m);
    catalog.process.exe = m.path;
    catalog.stacks[1] = {0x10100, 0x10200};
    catalog.stacks[2] = {0x10300, 0x10200};
    catalog.stacks[3] = {0x10110, 0x10200};
    frames.Add(0x10100, m.path, 0x100,
               {SourceFrame{"Inner", "/src/a.h", 7, true}, SourceFrame{"Outer(int)", "/src/a.cc", 20, false}});
    frames.Add(0x10110, m.path, 0x110, {SourceFrame{"Outer(int)", "/src/a.cc", 21, false}});
    frames.Add(0x10200, m.path, 0x200, {SourceFrame{"main", "/src/main.cc", 3, false}});
    frames.Add(0x10300, m.path, 0x300, {});

    uint64_t t = 1000;
    auto alloc = [&](uint64_t addr, uint64_t size, uint32_t stack) {
      heap.Feed(Event{t++, addr, size, stack, 0, EntryPoint::kMalloc, false});
    };
    auto free_ = [&](uint64_t addr) { heap.Feed(Event{t++, addr, 0, 0, 0, EntryPoint::kFree, true}); };
    alloc(0xa0, 100, 1);
    alloc(0xa1, 200, 1);
    free_(0xa0);
    alloc(0xb0, 50, 2);
    alloc(0xc0, 0, 3);  // malloc(0): a call, no bytes
    alloc(0xd0, 7, 0);
    alloc(0xe0, 9, 9);
    heap.Finish();
  }
};

TEST(ExportFolded, SanitizesSeparatorsAndWhitespace) {
  EXPECT_EQ(SanitizeFoldedFrame("std::map<int, int>::operator[](int const&)"),
            "std::map<int,_int>::operator[](int_const&)");
  EXPECT_EQ(SanitizeFoldedFrame("a;b"), "a:b");
  EXPECT_EQ(SanitizeFoldedFrame("x \n\t y"), "x_y");
  EXPECT_EQ(SanitizeFoldedFrame("tab\there\r"), "tab_here_");
  EXPECT_EQ(SanitizeFoldedFrame(""), "??");
}

TEST(ExportFolded, FramesOutermostFirstWithInlinedOnesAndModuleOffsetFallback) {
  std::vector<std::string> names;
  AppendFoldedFrames(SymbolizedAddress{"/x/libz.so.1", 0x1f, {}}, &names);
  AppendFoldedFrames(SymbolizedAddress{"", 0x7fff0010, {}}, &names);
  AppendFoldedFrames(SymbolizedAddress{"/x/p", 4, {SourceFrame{"In", "", 0, true}, SourceFrame{"Out", "", 0, false}}},
                     &names);
  AppendFoldedFrames(SymbolizedAddress{"/x/p", 8, {SourceFrame{"", "f.cc", 2, false}}}, &names);
  EXPECT_EQ(names, (std::vector<std::string>{"libz.so.1+0x1f", "0x7fff0010", "Out", "In", "p+0x8"}));
}

TEST(ExportFolded, LinesRootFirstMergedSortedAndSummingToTheTotals) {
  Fixture f;
  std::string calls = RenderFolded(f.catalog, f.heap.AllStacks(), f.frames, FoldedWeight::kCalls);
  EXPECT_EQ(calls,
            "[lost-stack] 1\n"
            "[no-stack] 1\n"
            "main;Outer(int) 1\n"
            "main;Outer(int);Inner 2\n"
            "main;prog+0x300 1\n");
  std::string bytes = RenderFolded(f.catalog, f.heap.AllStacks(), f.frames, FoldedWeight::kBytes);
  EXPECT_EQ(bytes,
            "[lost-stack] 9\n"
            "[no-stack] 7\n"
            "main;Outer(int);Inner 300\n"
            "main;prog+0x300 50\n")
      << "the malloc(0) path weighs nothing in bytes and is left out";

  auto sum = [](const std::string& folded) {
    uint64_t total = 0;
    size_t start = 0;
    while (start < folded.size()) {
      size_t nl = folded.find('\n', start);
      std::string line = folded.substr(start, nl - start);
      EXPECT_EQ(line.find(' '), line.rfind(' ')) << "one space per line: " << line;
      total += std::stoull(line.substr(line.rfind(' ') + 1));
      start = nl + 1;
    }
    return total;
  };
  EXPECT_EQ(sum(calls), f.heap.totals().allocations);
  EXPECT_EQ(sum(bytes), f.heap.totals().bytes_allocated);
}

TEST(ExportFolded, RawFramesFromTheModuleMapWithoutSymbols) {
  ModuleInfo m;
  m.path = "/lib/libfoo.so";
  m.load_bias = 0x7f0000000000;
  m.segments = {Segment{0, 0x1000, 4}, Segment{0x1000, 0x2000, 5}};
  std::vector<ModuleInfo> modules = {m};
  FrameSource raw(modules, /*symbolize=*/false);
  EXPECT_FALSE(raw.symbolized());
  EXPECT_EQ(ModuleOffsetName(raw.Resolve(0x7f0000001234)), "libfoo.so+0x1234");
  EXPECT_EQ(ModuleOffsetName(raw.Resolve(0x7f0000000010)), "0x7f0000000010") << "not an executable segment";
  EXPECT_EQ(ModuleOffsetName(raw.Resolve(0x42)), "0x42");
}

// --- A minimal protobuf reader, independent of the writer under test.

struct Field {
  int number = 0;
  int wire = 0;
  uint64_t varint = 0;
  std::string bytes;
};

uint64_t ReadVarint(std::string_view data, size_t* at) {
  uint64_t v = 0;
  for (int shift = 0; *at < data.size() && shift < 64; shift += 7) {
    auto b = static_cast<unsigned char>(data[(*at)++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  ADD_FAILURE() << "truncated varint";
  return v;
}

std::vector<Field> ReadMessage(std::string_view data) {
  std::vector<Field> out;
  size_t at = 0;
  while (at < data.size()) {
    uint64_t key = ReadVarint(data, &at);
    Field f;
    f.number = static_cast<int>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.wire == 0) {
      f.varint = ReadVarint(data, &at);
    } else if (f.wire == 2) {
      uint64_t n = ReadVarint(data, &at);
      if (at + n > data.size()) {
        ADD_FAILURE() << "length beyond the message";
        return out;
      }
      f.bytes = std::string(data.substr(at, n));
      at += n;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire;
      return out;
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<uint64_t> Packed(const std::string& bytes) {
  std::vector<uint64_t> out;
  size_t at = 0;
  while (at < bytes.size()) out.push_back(ReadVarint(bytes, &at));
  return out;
}

// The message's fields, by number.
std::multimap<int, Field> ByNumber(std::string_view data) {
  std::multimap<int, Field> out;
  for (auto& f : ReadMessage(data)) out.emplace(f.number, f);
  return out;
}

uint64_t Scalar(const std::multimap<int, Field>& m, int number) {
  auto it = m.find(number);
  return it == m.end() ? 0 : it->second.varint;
}

std::vector<std::multimap<int, Field>> Repeated(const std::multimap<int, Field>& m, int number) {
  std::vector<std::multimap<int, Field>> out;
  auto [lo, hi] = m.equal_range(number);
  for (auto it = lo; it != hi; ++it) out.push_back(ByNumber(it->second.bytes));
  return out;
}

TEST(ExportPprof, ProfileReadsBackWithEveryConvention) {
  Fixture f;
  PprofOptions options;
  options.default_sample_type = "alloc_space";
  options.time_nanos = 1700000000000000000;
  options.duration_nanos = 12345;
  options.comments = {"allocprof test"};
  std::string proto = EncodePprof(f.catalog, f.heap.AllStacks(), f.frames, options);
  auto profile = ByNumber(proto);

  std::vector<std::string> strings;
  auto [lo, hi] = profile.equal_range(6);
  for (auto it = lo; it != hi; ++it) strings.push_back(it->second.bytes);
  ASSERT_FALSE(strings.empty());
  EXPECT_EQ(strings[0], "");
  auto str = [&](uint64_t i) { return i < strings.size() ? strings[i] : std::string("<bad index>"); };

  std::vector<std::string> types;
  for (const auto& vt : Repeated(profile, 1)) types.push_back(str(Scalar(vt, 1)) + "/" + str(Scalar(vt, 2)));
  EXPECT_EQ(types, (std::vector<std::string>{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                                             "inuse_space/bytes"}));
  EXPECT_EQ(str(Scalar(profile, 14)), "alloc_space");
  EXPECT_EQ(Scalar(profile, 9), 1700000000000000000u);
  EXPECT_EQ(Scalar(profile, 10), 12345u);
  EXPECT_EQ(Scalar(profile, 12), 1u);
  auto period_type = Repeated(profile, 11);
  ASSERT_EQ(period_type.size(), 1u);
  EXPECT_EQ(str(Scalar(period_type[0], 1)), "alloc_objects");
  std::vector<uint64_t> comments = Packed(profile.find(13)->second.bytes);
  ASSERT_EQ(comments.size(), 1u);
  EXPECT_EQ(str(comments[0]), "allocprof test");

  // Functions, deduplicated by (name, file).
  std::map<uint64_t, std::string> function_names;
  for (const auto& fn : Repeated(profile, 5)) {
    uint64_t id = Scalar(fn, 1);
    EXPECT_NE(id, 0u);
    EXPECT_TRUE(function_names.emplace(id, str(Scalar(fn, 2))).second) << "duplicate function id";
  }
  std::multiset<std::string> names;
  for (const auto& [id, name] : function_names) names.insert(name);
  EXPECT_EQ(names,
            (std::multiset<std::string>{"Inner", "Outer(int)", "main", "prog+0x300", "[no-stack]", "[lost-stack]"}));

  // Mapping: the module's segments, file offset 0, build-id in hex.
  auto mappings = Repeated(profile, 3);
  ASSERT_EQ(mappings.size(), 1u);
  EXPECT_EQ(Scalar(mappings[0], 1), 1u);
  EXPECT_EQ(Scalar(mappings[0], 2), 0x10000u);
  EXPECT_EQ(Scalar(mappings[0], 3), 0x11100u);
  EXPECT_EQ(Scalar(mappings[0], 4), 0u);
  EXPECT_EQ(str(Scalar(mappings[0], 5)), "/opt/app/bin/prog");
  EXPECT_EQ(str(Scalar(mappings[0], 6)), "12ab00ff");
  EXPECT_EQ(Scalar(mappings[0], 7), 1u) << "has_functions";

  // Locations: one per distinct address, at return address - 1, lines innermost first.
  struct Loc {
    uint64_t mapping, address;
    std::vector<std::string> functions;
  };
  std::map<uint64_t, Loc> locations;
  for (const auto& l : Repeated(profile, 4)) {
    Loc loc{Scalar(l, 2), Scalar(l, 3), {}};
    for (const auto& line : Repeated(l, 4)) loc.functions.push_back(function_names[Scalar(line, 1)]);
    EXPECT_TRUE(locations.emplace(Scalar(l, 1), loc).second) << "duplicate location id";
  }
  EXPECT_EQ(locations.size(), 4u + 2u) << "4 addresses and the two pseudo-frames";
  std::map<uint64_t, std::vector<std::string>> by_address;
  for (const auto& [id, loc] : locations) {
    if (loc.address) {
      EXPECT_EQ(loc.mapping, 1u);
      by_address[loc.address] = loc.functions;
    }
  }
  EXPECT_EQ(by_address[0x100ff], (std::vector<std::string>{"Inner", "Outer(int)"}));
  EXPECT_EQ(by_address[0x1010f], (std::vector<std::string>{"Outer(int)"}));
  EXPECT_EQ(by_address[0x101ff], (std::vector<std::string>{"main"}));
  EXPECT_EQ(by_address[0x102ff], (std::vector<std::string>{"prog+0x300"}));

  // Samples: one per stack, leaf first, with the four values.
  auto samples = Repeated(profile, 2);
  ASSERT_EQ(samples.size(), 5u);
  uint64_t sums[4] = {0, 0, 0, 0};
  bool saw_stack_one = false;
  for (const auto& s : samples) {
    std::vector<uint64_t> ids = Packed(s.find(1)->second.bytes);
    std::vector<uint64_t> values = Packed(s.find(2)->second.bytes);
    ASSERT_EQ(values.size(), 4u);
    for (int i = 0; i < 4; ++i) sums[i] += values[i];
    ASSERT_FALSE(ids.empty());
    for (uint64_t id : ids) EXPECT_TRUE(locations.count(id)) << "sample names an unknown location " << id;
    if (locations[ids[0]].address == 0x100ff) {
      saw_stack_one = true;
      ASSERT_EQ(ids.size(), 2u);
      EXPECT_EQ(locations[ids[1]].address, 0x101ffu) << "leaf first";
      EXPECT_EQ(values, (std::vector<uint64_t>{2, 300, 1, 200}));
    }
  }
  EXPECT_TRUE(saw_stack_one);
  const HeapTotals& t = f.heap.totals();
  EXPECT_EQ(sums[0], t.allocations);
  EXPECT_EQ(sums[1], t.bytes_allocated);
  EXPECT_EQ(sums[2], t.leaked_allocations);
  EXPECT_EQ(sums[3], t.leaked_bytes);
}

TEST(ExportPprof, WithoutSymbolsLocationsHaveNoLines) {
  Fixture f;
  FakeFrames raw(/*symbolized=*/false);
  std::string proto = EncodePprof(f.catalog, f.heap.AllStacks(), raw, PprofOptions{});
  auto profile = ByNumber(proto);
  for (const auto& l : Repeated(profile, 4)) {
    if (Scalar(l, 3) != 0) {
      EXPECT_EQ(l.count(4), 0u) << "address " << Scalar(l, 3) << " has lines";
    }
  }
  auto mappings = Repeated(profile, 3);
  ASSERT_EQ(mappings.size(), 1u);
  EXPECT_EQ(Scalar(mappings[0], 7), 0u) << "has_functions stays false so pprof symbolizes";
}

TEST(ExportPprof, Crc32MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
}

// Reads a gzip member of stored blocks back (what GzipStored writes).
std::string Gunstore(const std::string& gz) {
  EXPECT_GE(gz.size(), 18u);
  EXPECT_EQ(gz.substr(0, 4), std::string("\x1f\x8b\x08\x00", 4));
  std::string out;
  size_t at = 10;
  for (;;) {
    auto header = static_cast<unsigned char>(gz[at]);
    EXPECT_EQ(header >> 1, 0) << "stored block";
    size_t len = static_cast<unsigned char>(gz[at + 1]) | static_cast<unsigned char>(gz[at + 2]) << 8;
    size_t nlen = static_cast<unsigned char>(gz[at + 3]) | static_cast<unsigned char>(gz[at + 4]) << 8;
    EXPECT_EQ(len ^ nlen, 0xffffu);
    out += gz.substr(at + 5, len);
    at += 5 + len;
    if (header & 1) break;
  }
  auto le32 = [&](size_t p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(gz[p + i]);
    return v;
  };
  EXPECT_EQ(le32(at), Crc32(out));
  EXPECT_EQ(le32(at + 4), static_cast<uint32_t>(out.size()));
  EXPECT_EQ(at + 8, gz.size());
  return out;
}

TEST(ExportPprof, GzipContainerOfStoredBlocks) {
  EXPECT_EQ(Gunstore(GzipStored("")), "");
  EXPECT_EQ(Gunstore(GzipStored("hello")), "hello");
  std::string big(200000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 300);
  EXPECT_EQ(Gunstore(GzipStored(big)), big) << "several 65535-byte blocks";
  std::string exact(65535, 'x');
  EXPECT_EQ(Gunstore(GzipStored(exact)), exact);
}

TEST(Gzip, CompressesAndRoundTripsThroughZlib) {
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "sample;frame;frame " + std::to_string(i % 7) + "\n";
  std::string gz = Gzip(text);
  EXPECT_LT(gz.size(), text.size() / 5);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string back(text.size() + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(gz.data());
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(back.data());
  z.avail_out = static_cast<uInt>(back.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  back.resize(z.total_out);
  inflateEnd(&z);
  EXPECT_EQ(back, text);
}

TEST(ExportChrome, TraceEventsWithCountersInstantsAndMetadata) {
  ChromeTraceInput in;
  in.pid = 4242;
  in.process_name = "prog (pid 4242)";
  in.thread_name = "main";
  in.generator = "allocprof test";
  in.trace_path = "t.trace";
  auto window = [](uint64_t start, uint64_t end, int64_t live_max, int64_t live_end, uint64_t allocs, uint64_t bytes) {
    TimeWindow w;
    w.start_ns = start;
    w.end_ns = end;
    w.live_max = live_max;
    w.live_end = live_end;
    w.allocations = allocs;
    w.bytes_allocated = bytes;
    w.touched = true;
    return w;
  };
  in.windows = {window(0, 1000000, 500, 400, 10, 600), window(1000000, 2000000, 500, 500, 10, 600),
                window(2000000, 3000000, 900, 100, 0, 0)};
  in.end_ns = 2500000;
  in.gen_model = true;
  in.collections = {ChromeCollection{1500000, 1, 0, false, 800, 300, 100},
                    ChromeCollection{2200000, 2, 1, true, 900, 100, 0}};
  nlohmann::json j = nlohmann::json::parse(RenderChromeTrace(in));
  ASSERT_TRUE(j["traceEvents"].is_array());
  const auto& events = j["traceEvents"];
  EXPECT_EQ(events[0]["ph"], "M");
  EXPECT_EQ(events[0]["name"], "process_name");
  EXPECT_EQ(events[0]["args"]["name"], "prog (pid 4242)");
  EXPECT_EQ(events[1]["name"], "thread_name");

  std::map<std::string, std::vector<std::pair<double, double>>> counters;  // name -> (ts, value)
  std::vector<nlohmann::json> instants;
  double last_ts = -1;
  for (const auto& e : events) {
    EXPECT_EQ(e["pid"], 4242);
    if (e["ph"] == "M") continue;
    double ts = e["ts"].get<double>();
    EXPECT_GE(ts, last_ts) << "timestamps in order";
    last_ts = ts;
    if (e["ph"] == "C") {
      ASSERT_EQ(e["args"].size(), 1u);
      counters[e["name"].get<std::string>()].push_back({ts, e["args"].begin()->get<double>()});
    } else {
      EXPECT_EQ(e["ph"], "i");
      EXPECT_EQ(e["s"], "p");
      instants.push_back(e);
    }
  }
  // Live bytes: the window maxima, the repeated 500 left out, the end level last (microseconds).
  EXPECT_EQ(counters["live"], (std::vector<std::pair<double, double>>{{0, 500}, {2000, 900}, {2500, 100}}));
  EXPECT_EQ(counters["allocation rate"], (std::vector<std::pair<double, double>>{{0, 10000}, {2000, 0}, {2500, 0}}));
  EXPECT_EQ(counters["allocation rate (bytes)"],
            (std::vector<std::pair<double, double>>{{0, 600000}, {2000, 0}, {2500, 0}}));
  ASSERT_EQ(instants.size(), 2u);
  EXPECT_EQ(instants[0]["name"], "Gen0 collection");
  EXPECT_EQ(instants[0]["ts"], 1500);
  EXPECT_EQ(instants[0]["args"]["heap_before"], 800);
  EXPECT_EQ(instants[1]["name"], "Gen1 collection");
  EXPECT_EQ(instants[1]["args"]["trigger"], "loh budget");
  EXPECT_EQ(j["otherData"]["collections"], 2);
  EXPECT_EQ(j["otherData"]["gen_model"], true);
}

TEST(ExportChrome, EmptyTraceIsStillATrace) {
  ChromeTraceInput in;
  nlohmann::json j = nlohmann::json::parse(RenderChromeTrace(in));
  EXPECT_EQ(j["traceEvents"].size(), 2u) << "the two metadata events";
}

TEST(ExportChrome, GenCollectionsPassReportsTheModelsCollections) {
  // No process record: the model's defaults (Gen0 budget 160 KiB) and the first event as origin.
  GenCollectionsPass pass(nullptr, GenParameters{});
  for (uint64_t i = 0; i < 10; ++i) {
    pass.OnEvent(Event{5000 + i * 1000, 0x1000 + i * 64, 20000, 1, 0, EntryPoint::kMalloc, false});
  }
  std::vector<ChromeCollection> c = pass.Finish(5000, 20000);
  ASSERT_EQ(c.size(), 1u) << "9 x 20000 bytes reach the 163840-byte budget";
  EXPECT_EQ(c[0].time_ns, 8000u) << "at the ninth allocation, relative to the origin";
  EXPECT_EQ(c[0].generation, 0);
  EXPECT_EQ(c[0].index, 1u);
}

}  // namespace
}  // namespace allocprof
