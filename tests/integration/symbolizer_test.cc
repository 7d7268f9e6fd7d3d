// The offline symbolizer on real traces: exact lines and inlined frames in a test program built
// with debug info, stripped distribution binaries (kcat, librdkafka) resolving to module+offset or
// their dynamic symbols, and modules that changed or vanished since the run.
#include "symbolize/symbolizer.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "harness.h"
#include "report/frames.h"

namespace allocprof::testing {
namespace {

// Remembers the stack of the first allocation of each size.
class StackBySize : public EventSink {
 public:
  void OnEvent(const Event& e) override {
    if (!e.is_free) stacks_.try_emplace(e.size, e.stack_id);
  }
  uint32_t Of(uint64_t size) const {
    auto it = stacks_.find(size);
    return it == stacks_.end() ? 0 : it->second;
  }

 private:
  absl::flat_hash_map<uint64_t, uint32_t> stacks_;
};

// The number of the line of tests/programs/inlined.cc that ends in "// line: NAME".
int MarkedLine(const std::string& name) {
  std::string text = ReadFile(SourcePath("tests/programs/inlined.cc"));
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (absl::EndsWith(line, absl::StrCat("// line: ", name))) return number;
  }
  ADD_FAILURE() << "no line marked " << name;
  return -1;
}

struct InlinedTrace {
  ProcessCatalog catalog;
  std::vector<uint64_t> direct;   // stack of malloc(4343)
  std::vector<uint64_t> through;  // stack of malloc(4242)
  const ModuleInfo* program = nullptr;
};

void TraceInlined(const TempDir& dir, InlinedTrace* t) {
  RunResult r = RunTraced(dir / "t.trace", {Program("inlined")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  StackBySize sink;
  ASSERT_TRUE(ReadProcessTrace(dir / "t.trace", &sink, &t->catalog).ok());
  for (auto [size, out] : {std::pair{4343, &t->direct}, std::pair{4242, &t->through}}) {
    auto it = t->catalog.stacks.find(sink.Of(size));
    ASSERT_NE(it, t->catalog.stacks.end()) << "no stack for the allocation of " << size;
    ASSERT_GE(it->second.size(), 2u);
    *out = it->second;
  }
  for (const ModuleInfo& m : t->catalog.modules) {
    if (absl::EndsWith(m.path, "/programs/inlined")) t->program = &m;
  }
  ASSERT_NE(t->program, nullptr);
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

TEST(Symbolizer, DirectCallResolvesToFunctionFileAndLine) {
  TempDir dir;
  InlinedTrace t;
  ASSERT_NO_FATAL_FAILURE(TraceInlined(dir, &t));
  Symbolizer s(t.catalog.modules);

  const SymbolizedAddress& leaf = s.Resolve(t.direct[0]);
  EXPECT_EQ(leaf.module, t.program->path);
  EXPECT_EQ(leaf.offset, t.direct[0] - t.program->load_bias);
  ASSERT_EQ(leaf.frames.size(), 1u);
  EXPECT_TRUE(absl::StrContains(leaf.frames[0].function, "DirectAllocation")) << leaf.frames[0].function;
  EXPECT_TRUE(absl::EndsWith(leaf.frames[0].file, "/inlined.cc")) << leaf.frames[0].file;
  EXPECT_EQ(leaf.frames[0].line, MarkedLine("direct-malloc"));
  EXPECT_FALSE(leaf.frames[0].inlined);
  EXPECT_EQ(FrameLabel(leaf), absl::StrCat("DirectAllocation() (inlined.cc:", MarkedLine("direct-malloc"), ")"));

  const SymbolizedAddress& caller = s.Resolve(t.direct[1]);
  ASSERT_EQ(caller.frames.size(), 1u);
  EXPECT_EQ(caller.frames[0].function, "main");
  EXPECT_EQ(caller.frames[0].line, MarkedLine("main-calls-direct"));

  EXPECT_EQ(&s.Resolve(t.direct[0]), &leaf) << "each address is resolved once";
  EXPECT_TRUE(s.warnings().empty()) << absl::StrJoin(s.warnings(), "\n");
}

TEST(Symbolizer, InlinedCalleeIsItsOwnFrameBeforeTheRealFunction) {
  TempDir dir;
  InlinedTrace t;
  ASSERT_NO_FATAL_FAILURE(TraceInlined(dir, &t));
  Symbolizer s(t.catalog.modules);

  const SymbolizedAddress& leaf = s.Resolve(t.through[0]);
  ASSERT_EQ(leaf.frames.size(), 2u);
  const SourceFrame& inlined = leaf.frames[0];
  EXPECT_TRUE(inlined.inlined);
  EXPECT_TRUE(absl::StrContains(inlined.function, "InlinedAllocate")) << inlined.function;
  EXPECT_TRUE(absl::EndsWith(inlined.file, "/inlined.cc")) << inlined.file;
  EXPECT_EQ(inlined.line, MarkedLine("inlined-malloc"));
  const SourceFrame& real = leaf.frames[1];
  EXPECT_FALSE(real.inlined);
  EXPECT_TRUE(absl::StrContains(real.function, "AllocateThroughInline")) << real.function;
  EXPECT_TRUE(absl::EndsWith(real.file, "/inlined.cc")) << real.file;
  EXPECT_EQ(real.line, MarkedLine("inline-call-site"));

  bool found_main = false;
  for (size_t i = 1; i < t.through.size() && !found_main; ++i) {
    const SymbolizedAddress& a = s.Resolve(t.through[i]);
    if (!a.frames.empty() && a.frames.back().function == "main") {
      found_main = true;
      EXPECT_EQ(a.frames.back().line, MarkedLine("main-calls-inline"));
    }
  }
  EXPECT_TRUE(found_main);
  EXPECT_TRUE(s.warnings().empty()) << absl::StrJoin(s.warnings(), "\n");
}

TEST(Symbolizer, RebuiltModuleFallsBackToModuleOffsetWithOneWarning) {
  TempDir dir;
  InlinedTrace t;
  ASSERT_NO_FATAL_FAILURE(TraceInlined(dir, &t));
  ModuleInfo rebuilt = *t.program;
  ASSERT_FALSE(rebuilt.build_id.empty());
  rebuilt.build_id[0] ^= 1;
  Symbolizer s({rebuilt});

  for (uint64_t address : {t.direct[0], t.direct[1], t.through[0]}) {
    const SymbolizedAddress& a = s.Resolve(address);
    EXPECT_EQ(a.module, rebuilt.path);
    EXPECT_EQ(a.offset, address - rebuilt.load_bias);
    EXPECT_TRUE(a.frames.empty());
  }
  EXPECT_EQ(FrameLabel(s.Resolve(t.direct[0])), absl::StrFormat("inlined+0x%x", t.direct[0] - rebuilt.load_bias));
  ASSERT_EQ(s.warnings().size(), 1u) << absl::StrJoin(s.warnings(), "\n");
  EXPECT_TRUE(absl::StrContains(s.warnings()[0], rebuilt.path)) << s.warnings()[0];
  EXPECT_TRUE(absl::StrContains(s.warnings()[0], "changed since the run; falling back to module+offset"))
      << s.warnings()[0];
}

TEST(Symbolizer, MissingModuleFallsBackToModuleOffsetWithOneWarning) {
  TempDir dir;
  InlinedTrace t;
  ASSERT_NO_FATAL_FAILURE(TraceInlined(dir, &t));
  ModuleInfo gone = *t.program;
  gone.path = dir / "deleted-since-the-run";
  std::vector<ModuleInfo> modules = t.catalog.modules;
  for (ModuleInfo& m : modules) {
    if (m.path == t.program->path) m = gone;
  }
  Symbolizer s(modules);

  const SymbolizedAddress& a = s.Resolve(t.direct[0]);
  EXPECT_EQ(a.module, gone.path);
  EXPECT_EQ(a.offset, t.direct[0] - gone.load_bias);
  EXPECT_TRUE(a.frames.empty());
  for (uint64_t address : t.direct) s.Resolve(address);
  ASSERT_EQ(s.warnings().size(), 1u) << absl::StrJoin(s.warnings(), "\n");
  EXPECT_TRUE(absl::StrContains(s.warnings()[0], gone.path)) << s.warnings()[0];
  EXPECT_TRUE(absl::StrContains(s.warnings()[0], "missing")) << s.warnings()[0];
  EXPECT_TRUE(absl::StrContains(s.warnings()[0], "falling back to module+offset")) << s.warnings()[0];
}

std::string Messages(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) absl::StrAppend(&s, "message-", i, "-payload-payload-payload\n");
  return s;
}

class IgnoreEvents : public EventSink {
 public:
  void OnEvent(const Event&) override {}
};

// Debian ships kcat and librdkafka stripped: their frames get module+offset (or a .dynsym name),
// never a source line the symbolizer cannot back with debug info.
TEST(Symbolizer, StrippedKcatAndLibrdkafka) {
  TempDir dir;
  RunResult r =
      RunTraced(dir / "t.trace",
                {"kcat", "-P", "-b", "localhost:9092", "-t", "t", "-X", "test.mock.num.brokers=1", "-X", "log_level=4"},
                {"-q"}, Messages(1000));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ProcessCatalog catalog;
  IgnoreEvents sink;
  ASSERT_TRUE(ReadProcessTrace(dir / "t.trace", &sink, &catalog).ok());
  absl::flat_hash_set<uint64_t> unique;
  for (const auto& [id, frames] : catalog.stacks) unique.insert(frames.begin(), frames.end());
  ASSERT_GT(unique.size(), 100u);

  Symbolizer s(catalog.modules);
  auto start = std::chrono::steady_clock::now();
  for (uint64_t address : unique) s.Resolve(address);
  std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  printf("[   INFO   ] symbolized %zu unique addresses from %zu stacks and %zu modules in %.1f ms\n", unique.size(),
         catalog.stacks.size(), catalog.modules.size(), elapsed.count());

  int kcat = 0, rdkafka = 0, outside = 0;
  for (uint64_t address : unique) {
    const SymbolizedAddress& a = s.Resolve(address);
    std::string base = a.module.substr(a.module.rfind('/') + 1);
    if (a.module.empty()) ++outside;
    EXPECT_FALSE(FrameLabel(a).empty());
    // Only these two: glibc's detached debug info (libc6-dbg) may be installed, and it rightly
    // names sources relative to a build tree that is not on this machine.
    if (base != "kcat" && !absl::StartsWith(base, "librdkafka")) continue;
    ++(base == "kcat" ? kcat : rdkafka);
    EXPECT_TRUE(absl::StartsWith(a.module, "/")) << a.module;
    EXPECT_NE(a.offset, 0u);
    for (const SourceFrame& f : a.frames) {
      EXPECT_TRUE(f.file.empty() || Exists(f.file)) << FrameLabel(a) << " names a source file that does not exist";
    }
  }
  EXPECT_GT(kcat, 0);
  EXPECT_GT(rdkafka, 0);
  EXPECT_EQ(outside, 0) << "every recorded frame lies in a recorded module";
  EXPECT_TRUE(s.warnings().empty()) << absl::StrJoin(s.warnings(), "\n");
}

// Debian's libsqlite3 is stripped but exports most of its functions: every top row that is
// sqlite's own is labelled by a function a reader can look up (sqlite3VdbeMemGrow+0x39), past
// sqlite's allocator front ends and the nameless static helpers between them, not by
// libsqlite3.so.0+0xa7504 (the static function under sqlite3Malloc, once the label of all ten).
TEST(Symbolizer, StrippedSqliteRowsAreLabelledByNamedFunctions) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace",
                          {"sqlite3", ":memory:",
                           "create table t(a text); with recursive c(x) as (select 1 union all select x + 1 from c "
                           "where x < 5000) insert into t select 'v' || x from c; select count(*) from t;"},
                          {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  RunResult report = RunProgram({BuildPath("allocprof"), "analyze", "--json", dir / "a.json", dir / "t.trace"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  nlohmann::json doc = nlohmann::json::parse(ReadFile(dir / "a.json"));
  absl::flat_hash_set<std::string> labels;
  int sqlite_rows = 0;
  for (const char* table : {"top_by_calls", "top_by_bytes"}) {
    for (const nlohmann::json& row : doc["stacks"][table]) {
      bool in_sqlite = false;
      for (const nlohmann::json& f : row["frames"]) {
        in_sqlite |= absl::StrContains(f["module"].get<std::string>(), "libsqlite3");
      }
      if (!in_sqlite) continue;
      ++sqlite_rows;
      std::string label = row["label"];
      labels.insert(label);
      EXPECT_FALSE(absl::StartsWith(label, "libsqlite3")) << row.dump();
      EXPECT_FALSE(absl::StartsWith(label, "sqlite3Malloc")) << "an allocator front end: " << row.dump();
    }
  }
  EXPECT_GE(sqlite_rows, 10);
  EXPECT_GE(labels.size(), 4u) << "the rows tell their call sites apart";
}

// dlopen("./libreload_a.so") leaks, dlclose; then libreload_b.so (same layout, usually mapped at
// A's addresses) leaks through the same call site, dlclose. Each leak's stack names its own
// library and function, both modules are recorded absolute and unloaded, and the two stacks are
// distinct ids even when every return address is the same.
TEST(Symbolizer, ReloadedLibraryStacksNameTheLibraryMappedThen) {
  TempDir dir;
  std::string programs = Program("libreload_a.so");
  programs.resize(programs.rfind('/'));
  RunResult r = RunReloadMain(dir / "t.trace");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool same_base = absl::StrContains(r.out, "same-base 1");
  StackBySize sink;
  ProcessCatalog catalog;
  ASSERT_TRUE(ReadProcessTrace(dir / "t.trace", &sink, &catalog).ok());
  EXPECT_TRUE(catalog.has_unloads);
  for (const char* name : {"libreload_a.so", "libreload_b.so"}) {
    const ModuleInfo* module = nullptr;
    for (const ModuleInfo& m : catalog.modules) {
      if (absl::EndsWith(m.path, name)) module = &m;
    }
    ASSERT_NE(module, nullptr) << name;
    EXPECT_EQ(module->path, programs + "/" + name) << "recorded as the loader mapped it, not ./" << name;
    EXPECT_NE(module->unload_time, 0u) << name << " was unloaded";
  }
  uint32_t a = sink.Of(1111), b = sink.Of(2222);
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  EXPECT_NE(a, b);
  if (same_base) {
    EXPECT_EQ(catalog.stacks[a], catalog.stacks[b]) << "same addresses, told apart by time";
  }
  for (bool symbolize : {true, false}) {
    StackFrames frames(catalog, symbolize);
    for (auto [stack, lib, function] :
         {std::tuple{a, "libreload_a.so", "reload_a_keep"}, std::tuple{b, "libreload_b.so", "reload_b_keep"}}) {
      std::vector<ReportFrame> f = frames.Frames(stack);
      const ReportFrame* in_lib = nullptr;
      for (const ReportFrame& frame : f) {
        if (absl::StrContains(frame.module, "libreload_")) {
          in_lib = &frame;
          break;
        }
      }
      ASSERT_NE(in_lib, nullptr) << lib;
      EXPECT_TRUE(absl::EndsWith(in_lib->module, lib)) << in_lib->module << " for " << lib;
      if (symbolize) {
        EXPECT_EQ(in_lib->function, function);
      }
    }
    EXPECT_TRUE(frames.warnings().empty()) << absl::StrJoin(frames.warnings(), "\n");
  }
}

}  // namespace
}  // namespace allocprof::testing
