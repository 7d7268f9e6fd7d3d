// Modules in time (a library unloaded and another mapped at its addresses), stack row labels and
// leak suppressions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "read/catalog.h"
#include "report/frames.h"

namespace allocprof {
namespace {

ModuleInfo Module(const std::string& path, uint64_t bias, uint64_t time, uint64_t unload_time) {
  ModuleInfo m;
  m.time = time;
  m.load_bias = bias;
  m.path = path;
  m.segments.push_back(Segment{0x1000, 0x2000, 5});
  m.unload_time = unload_time;
  return m;
}

TEST(ModulesInTime, AnAddressBelongsToTheModuleMappedThen) {
  // A mapped at 100, unloaded at 200; B recorded at 250 at the same bias; C elsewhere all along.
  std::vector<ModuleInfo> modules = {Module("/a.so", 0x7000000, 100, 200), Module("/c.so", 0x9000000, 50, 0),
                                     Module("/b.so", 0x7000000, 250, 0)};
  uint64_t pc = 0x7000000 + 0x1800;
  EXPECT_EQ(ModuleIndexAt(modules, pc, 150), 0);
  EXPECT_EQ(ModuleIndexAt(modules, pc, 199), 0);
  EXPECT_EQ(ModuleIndexAt(modules, pc, 300), 2);
  // Between the unload and B's record: B was mapped by then, recorded when first needed.
  EXPECT_EQ(ModuleIndexAt(modules, pc, 220), 2);
  // Before anything was recorded there: the first recorded after.
  EXPECT_EQ(ModuleIndexAt(modules, pc, 10), 0);
  EXPECT_EQ(ModuleIndexAt(modules, 0x9000000 + 0x1000, 10), 1);
  EXPECT_EQ(ModuleIndexAt(modules, 0x7000000, 150), -1) << "below the segment";
  EXPECT_EQ(ModuleIndexAt(modules, 0x7000000 + 0x3000, 150), -1) << "past the segment";
}

ReportFrame Function(const std::string& name) {
  ReportFrame f;
  f.function = name;
  f.file = "/src/x.cc";
  f.line = 3;
  return f;
}

TEST(StackLabel, FirstFrameOutsideTheAllocatorAndItsWrappers) {
  std::vector<ReportFrame> frames = {
      Function("operator new(unsigned long)"),
      Function("std::__new_allocator<int>::allocate(unsigned long, void const*)"),
      Function("std::allocator_traits<std::allocator<int> >::allocate()"),
      Function("std::_Vector_base<int, std::allocator<int> >::_M_allocate(unsigned long)"),
      Function("Parse(char const*)"),
      Function("main")};
  EXPECT_EQ(StackLabel(frames, {}), "Parse(char const*) (x.cc:3)");
  EXPECT_EQ(StackLabel({Function("xmalloc"), Function("xstrdup"), Function("read_line")}, {}), "read_line (x.cc:3)");
  EXPECT_EQ(StackLabel({Function("_IO_file_doallocate"), Function("_IO_doallocbuf"), Function("puts")}, {}),
            "puts (x.cc:3)")
      << "puts is the program's call";
  // Configurable: the program's own helpers.
  std::vector<ReportFrame> own = {Function("my_alloc"), Function("Pool::Grow()"), Function("Serve")};
  EXPECT_EQ(StackLabel(own, {}), "my_alloc (x.cc:3)");
  EXPECT_EQ(StackLabel(own, {"my_alloc", "Pool::*"}), "Serve (x.cc:3)");
  // A name is matched whole: malloc_trim and freeaddrinfo are not malloc and free.
  EXPECT_FALSE(IsAllocatorFrame(Function("malloc_trim"), {}));
  EXPECT_FALSE(IsAllocatorFrame(Function("freeaddrinfo"), {}));
  EXPECT_TRUE(IsAllocatorFrame(Function("malloc"), {}));
  // Every frame the allocator's: the leaf labels it. A stripped frame is never skipped.
  EXPECT_EQ(StackLabel({Function("malloc")}, {}), "malloc (x.cc:3)");
  ReportFrame stripped;
  stripped.module = "/usr/lib/libsqlite3.so.0";
  stripped.offset = 0xa7504;
  EXPECT_EQ(StackLabel({stripped, Function("main")}, {}), "libsqlite3.so.0+0xa7504");
  ReportFrame symbol = Function("sqlite3_step");
  symbol.file.clear();
  symbol.symbol_offset = 0x1c4;
  EXPECT_EQ(FrameText(symbol), "sqlite3_step+0x1c4");
}

// Frames of a stripped module as the symbol table names them: `name` at offset, or no name.
ReportFrame InModule(const std::string& module, uint64_t offset, const std::string& name = "", int64_t into = -1) {
  ReportFrame f;
  f.module = module;
  f.offset = offset;
  f.function = name;
  f.symbol_offset = into;
  return f;
}

TEST(StackLabel, AStrippedModulesStaticFunctionIsLabelledByItsNamedCaller) {
  const std::string sqlite = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0";
  const std::string libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  // malloc <- a static helper of sqlite3Malloc <- sqlite3Malloc <- a static caller <- sqlite3VdbeMemGrow.
  std::vector<ReportFrame> frames = {InModule(libc, 0x9a0f0, "malloc", 0),
                                     InModule(sqlite, 0xa7504),
                                     InModule(sqlite, 0xa75f0, "sqlite3Malloc", 0x70),
                                     InModule(sqlite, 0xa70f1),
                                     InModule(sqlite, 0xa7239, "sqlite3VdbeMemGrow", 0x39),
                                     InModule(sqlite, 0xa7411, "sqlite3_step", 0x13f)};
  EXPECT_EQ(LabelFrame(frames, {}), 4u);
  EXPECT_EQ(StackLabel(frames, {}), "sqlite3VdbeMemGrow+0x39");
  // Without a named caller in the same module, the nameless frame itself: nothing else says more.
  std::vector<ReportFrame> sort = {InModule("/usr/bin/sort", 0x6e8d), InModule("/usr/bin/sort", 0x599f),
                                   InModule(libc, 0x271ca, "__libc_start_call_main", 0x7a)};
  EXPECT_EQ(StackLabel(sort, {}), "sort+0x6e8d");
  // An interpreter's static functions under its exported loop: the loop's call site.
  std::vector<ReportFrame> python = {InModule("/usr/bin/python3.11", 0x510a2c),
                                     InModule("/usr/bin/python3.11", 0x56b05a),
                                     InModule("/usr/bin/python3.11", 0x5a0000, "_PyEval_EvalFrameDefault", 0x351c)};
  EXPECT_EQ(StackLabel(python, {}), "_PyEval_EvalFrameDefault+0x351c");
  // A wrapper named by the user ends the search as the built-in ones do.
  EXPECT_EQ(StackLabel(frames, {"sqlite3VdbeMemGrow"}), "sqlite3_step+0x13f");
}

TEST(Suppressions, LeakSanitizerPatterns) {
  EXPECT_TRUE(SuppressionMatches("sqlite3", "sqlite3MallocZero"));
  EXPECT_TRUE(SuppressionMatches("libsqlite3.so", "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"));
  EXPECT_TRUE(SuppressionMatches("Parse*Header", "HttpParser::ParseRequestHeader(char const*)"));
  EXPECT_FALSE(SuppressionMatches("Parse*Header", "HeaderParse"));
  EXPECT_TRUE(SuppressionMatches("^Init", "InitTables"));
  EXPECT_FALSE(SuppressionMatches("^Init", "ReInit"));
  EXPECT_TRUE(SuppressionMatches("Init$", "ReInit"));
  EXPECT_FALSE(SuppressionMatches("Init$", "InitTables"));
  EXPECT_FALSE(SuppressionMatches("zlib", ""));
}

TEST(Suppressions, RuntimeOneTimeAllocationsOnlyBelowTheLabel) {
  ReportFrame stdio = Function("_IO_file_doallocate");
  std::vector<ReportFrame> buffer = {stdio, Function("_IO_doallocbuf"), Function("puts"), Function("main")};
  EXPECT_TRUE(Suppressed(buffer, {}, true, {}));
  EXPECT_FALSE(Suppressed(buffer, {}, false, {})) << "--no-default-suppressions";
  // A program's own leak made in a library constructor run by the loader is the program's.
  std::vector<ReportFrame> ctor = {Function("PluginInit"), Function("call_init"), Function("_dl_init"),
                                   Function("dl_open_worker"), Function("main")};
  EXPECT_FALSE(Suppressed(ctor, {}, true, {}));
  EXPECT_TRUE(Suppressed(ctor, {}, true, {"PluginInit"}));
  EXPECT_TRUE(Suppressed(ctor, {}, false, {"x.cc"})) << "files match too";
  EXPECT_TRUE(Suppressed({Function("_dl_allocate_tls"), Function("pthread_create@@GLIBC_2.34")}, {}, true, {}));
}

// libstdc++ without debug symbols: its emergency exception pool is allocated by an unnamed frame
// of libstdc++'s static initializer, which the loader calls. A runtime module's initializer is
// suppressed; a program's library's initializer, or an unnamed libstdc++ frame the program called,
// is not.
TEST(Suppressions, StrippedRuntimeInitializersCalledByTheLoader) {
  auto unnamed = [](const std::string& module, uint64_t offset) {
    ReportFrame f;
    f.module = module;
    f.offset = offset;
    return f;
  };
  const std::string libstdcxx = "/lib/x86_64-linux-gnu/libstdc++.so.6", loader = "/lib64/ld-linux-x86-64.so.2";
  std::vector<ReportFrame> pool = {unnamed(libstdcxx, 0xa57ba), Function("call_init"), Function("_dl_init"),
                                   unnamed(loader, 0x1aba0)};
  EXPECT_TRUE(Suppressed(pool, {}, true, {}));
  EXPECT_FALSE(Suppressed(pool, {}, false, {})) << "--no-default-suppressions";
  EXPECT_TRUE(
      Suppressed({unnamed(libstdcxx, 0xa57ba), unnamed(libstdcxx, 0x1234), unnamed(loader, 0x1aba0)}, {}, true, {}))
      << "the loader without symbols either";
  EXPECT_FALSE(Suppressed({unnamed("/opt/app/libplugin.so", 0x1000), Function("call_init"), Function("_dl_init")}, {},
                          true, {}));
  EXPECT_FALSE(Suppressed({unnamed(libstdcxx, 0xb0000), Function("main")}, {}, true, {}));
  EXPECT_FALSE(Suppressed({unnamed(libstdcxx, 0xb0000)}, {}, true, {}));
}

}  // namespace
}  // namespace allocprof
