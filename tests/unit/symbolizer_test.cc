// The symbolizer against this test binary's own modules (described the way the shim records them,
// without preloading anything), plus the edge cases a damaged or unusual trace can present.
#include "symbolize/symbolizer.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"

namespace allocprof {
namespace {

std::string BuildId(const struct dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const uint8_t* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const uint8_t* name = p + sizeof(ElfW(Nhdr));
      const uint8_t* desc = name + ((note->n_namesz + 3) & ~3u);
      const uint8_t* next = desc + ((note->n_descsz + 3) & ~3u);
      if (next > end) break;
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
        return std::string(reinterpret_cast<const char*>(desc), note->n_descsz);
      }
      p = next;
    }
  }
  return "";
}

// This process's modules, as the shim would record them.
std::vector<ModuleInfo> OwnModules() {
  std::vector<ModuleInfo> modules;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) {
        ModuleInfo m;
        m.load_bias = info->dlpi_addr;
        m.path = info->dlpi_name ? info->dlpi_name : "";
        if (m.path.empty()) {
          char exe[4096];
          ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
          m.path.assign(exe, n > 0 ? n : 0);
        }
        m.build_id = BuildId(info);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD) m.segments.push_back({ph.p_vaddr, ph.p_memsz, ph.p_flags});
        }
        static_cast<std::vector<ModuleInfo>*>(data)->push_back(std::move(m));
        return 0;
      },
      &modules);
  return modules;
}

ModuleInfo Fake(const std::string& path, uint64_t bias, uint64_t size) {
  ModuleInfo m;
  m.path = path;
  m.load_bias = bias;
  m.segments.push_back({0, size, 5});
  return m;
}

void* volatile g_sink;

// noipa: no cloning, no assumptions about the callee, so the call below stays a real call.
__attribute__((noinline, noipa)) uintptr_t ReturnAddress() {
  return reinterpret_cast<uintptr_t>(__builtin_return_address(0));
}

__attribute__((noinline, noipa)) uintptr_t CallSiteInThisFile(int* line) {
  uintptr_t ra = ReturnAddress();
  *line = __LINE__ - 1;                  // the call's line
  g_sink = reinterpret_cast<void*>(ra);  // work after the call: not a tail call
  return ra;
}

__attribute__((always_inline)) inline uintptr_t InnerInline(int* line) {
  uintptr_t ra = ReturnAddress();
  *line = __LINE__ - 1;  // the call's line
  g_sink = reinterpret_cast<void*>(ra);
  return ra;
}

__attribute__((always_inline)) inline uintptr_t OuterInline(int* inner, int* outer) {
  uintptr_t ra = InnerInline(inner);
  *outer = __LINE__ - 1;  // the call's line
  return ra;
}

__attribute__((noinline, noipa)) uintptr_t TwoInlinedLevels(int* inner, int* outer, int* real) {
  uintptr_t ra = OuterInline(inner, outer);
  *real = __LINE__ - 1;  // the call's line
  g_sink = reinterpret_cast<void*>(ra);
  return ra;
}

TEST(Symbolizer, ResolvesThisTestsOwnCallSite) {
  int line = 0;
  uintptr_t ra = CallSiteInThisFile(&line);
  std::vector<ModuleInfo> modules = OwnModules();
  Symbolizer s(modules);
  const SymbolizedAddress& a = s.Resolve(ra);
  EXPECT_EQ(a.module, modules[0].path);
  EXPECT_EQ(a.offset, ra - modules[0].load_bias);
  ASSERT_FALSE(a.frames.empty());
  EXPECT_TRUE(absl::StrContains(a.frames.back().function, "CallSiteInThisFile")) << a.frames.back().function;
  EXPECT_TRUE(absl::EndsWith(a.frames.back().file, "/symbolizer_test.cc")) << a.frames.back().file;
  EXPECT_EQ(a.frames.back().line, line);
  EXPECT_TRUE(s.warnings().empty()) << absl::StrJoin(s.warnings(), "\n");
}

TEST(Symbolizer, NestedInlinedFramesFollowTheCallers) {
  int inner = 0, outer = 0, real = 0;
  uintptr_t ra = TwoInlinedLevels(&inner, &outer, &real);
  Symbolizer s(OwnModules());
  const SymbolizedAddress& a = s.Resolve(ra);
  ASSERT_EQ(a.frames.size(), 3u) << FrameLabel(a);
  EXPECT_TRUE(absl::StrContains(a.frames[0].function, "InnerInline")) << a.frames[0].function;
  EXPECT_EQ(a.frames[0].line, inner);
  EXPECT_TRUE(a.frames[0].inlined);
  EXPECT_TRUE(absl::StrContains(a.frames[1].function, "OuterInline")) << a.frames[1].function;
  EXPECT_EQ(a.frames[1].line, outer);
  EXPECT_TRUE(a.frames[1].inlined);
  EXPECT_TRUE(absl::StrContains(a.frames[2].function, "TwoInlinedLevels")) << a.frames[2].function;
  EXPECT_EQ(a.frames[2].line, real);
  EXPECT_FALSE(a.frames[2].inlined);
  for (const SourceFrame& f : a.frames) EXPECT_TRUE(absl::EndsWith(f.file, "/symbolizer_test.cc")) << f.file;
}

TEST(Symbolizer, AddressOutsideEveryModuleKeepsTheRawAddress) {
  Symbolizer s({Fake("/nonexistent/libx.so", 0x10000, 0x1000)});
  for (uint64_t address : {uint64_t{0}, uint64_t{1}, uint64_t{0x10000}, uint64_t{0x11001}, UINT64_MAX}) {
    const SymbolizedAddress& a = s.Resolve(address);
    EXPECT_EQ(a.module, "");
    EXPECT_EQ(a.offset, address);
    EXPECT_TRUE(a.frames.empty());
  }
  EXPECT_EQ(FrameLabel(s.Resolve(0x20000)), "0x20000");
  EXPECT_TRUE(s.warnings().empty()) << "modules no frame touched are never opened";
}

TEST(Symbolizer, ReturnAddressIsLookedUpOneByteEarlier) {
  // A call that ends its function returns to the first byte of the next module's range.
  Symbolizer s({Fake("linux-vdso.so.1", 0x10000, 0x1000), Fake("[other]", 0x11000, 0x1000)});
  EXPECT_EQ(s.Resolve(0x11000).module, "linux-vdso.so.1");
  EXPECT_EQ(s.Resolve(0x11000).offset, 0x1000u);
  EXPECT_EQ(s.Resolve(0x11001).module, "[other]");
  EXPECT_EQ(s.Resolve(0x11001).offset, 0x1u);
}

TEST(Symbolizer, PseudoModulesGetModuleOffsetWithoutWarning) {
  Symbolizer s({Fake("linux-vdso.so.1", 0x7000, 0x2000), Fake("[vdso]", 0x9000, 0x1000)});
  EXPECT_EQ(FrameLabel(s.Resolve(0x7123)), "linux-vdso.so.1+0x123");
  EXPECT_EQ(FrameLabel(s.Resolve(0x9010)), "[vdso]+0x10");
  EXPECT_TRUE(s.warnings().empty());
}

TEST(Symbolizer, UnreadableModuleWarnsOnce) {
  std::string not_elf = std::string(ALLOCPROF_SOURCE_DIR) + "/tests/unit/symbolizer_test.cc";
  Symbolizer s({Fake(not_elf, 0x100000, 0x10000)});
  EXPECT_TRUE(s.Resolve(0x100010).frames.empty());
  EXPECT_TRUE(s.Resolve(0x100020).frames.empty());
  ASSERT_EQ(s.warnings().size(), 1u) << absl::StrJoin(s.warnings(), "\n");
  EXPECT_TRUE(absl::StrContains(s.warnings()[0], not_elf)) << s.warnings()[0];
  EXPECT_TRUE(absl::StrContains(s.warnings()[0], "falling back to module+offset")) << s.warnings()[0];
}

TEST(Symbolizer, PreparedAnswersAreResolvesAndWarningsWaitForTheirFirstUse) {
  int line = 0;
  uintptr_t ra = CallSiteInThisFile(&line);
  std::string not_elf = std::string(ALLOCPROF_SOURCE_DIR) + "/tests/unit/symbolizer_test.cc";
  std::vector<ModuleInfo> modules = OwnModules();
  modules.push_back(Fake(not_elf, 0x100000, 0x10000));
  modules.push_back(Fake("/nonexistent/libgone.so", 0x200000, 0x10000));
  Symbolizer plain(modules);
  Symbolizer prepared(modules);
  // Prepared in another order than the resolves below: the warnings still come in resolve order.
  for (uint64_t a : {uint64_t{0x200010}, uint64_t{ra}, uint64_t{0x100010}}) prepared.Prepare(a);
  EXPECT_TRUE(prepared.warnings().empty()) << absl::StrJoin(prepared.warnings(), "\n");
  for (uint64_t a : {uint64_t{0x100010}, uint64_t{ra}, uint64_t{0x200010}, uint64_t{0x200020}}) {
    const SymbolizedAddress& x = plain.Resolve(a);
    const SymbolizedAddress& y = prepared.Resolve(a);
    EXPECT_EQ(FrameLabel(x), FrameLabel(y));
    EXPECT_EQ(x.module, y.module);
    EXPECT_EQ(x.offset, y.offset);
    ASSERT_EQ(x.frames.size(), y.frames.size());
    for (size_t i = 0; i < x.frames.size(); ++i) {
      EXPECT_EQ(x.frames[i].function, y.frames[i].function);
      EXPECT_EQ(x.frames[i].line, y.frames[i].line);
    }
    EXPECT_EQ(plain.warnings(), prepared.warnings()) << "after resolving " << a;
  }
  ASSERT_EQ(prepared.warnings().size(), 2u) << absl::StrJoin(prepared.warnings(), "\n");
  EXPECT_TRUE(absl::StrContains(prepared.warnings()[0], not_elf)) << prepared.warnings()[0];
  EXPECT_TRUE(absl::StrContains(prepared.warnings()[1], "libgone.so")) << prepared.warnings()[1];
  EXPECT_TRUE(absl::StrContains(FrameLabel(prepared.Resolve(ra)), "CallSiteInThisFile"));
}

TEST(Symbolizer, LaterModuleOwnsAddressesItShares) {
  // dlclose then dlopen of another library at the same place: the trace lists both.
  ModuleInfo first = Fake("[first]", 0x100000, 0x4000);
  ModuleInfo second = Fake("[second]", 0x102000, 0x4000);
  Symbolizer s({first, second, first});  // a repeated record changes nothing
  EXPECT_EQ(s.Resolve(0x101001).module, "[first]");
  EXPECT_EQ(s.Resolve(0x103001).module, "[second]");
  EXPECT_EQ(s.Resolve(0x105001).module, "[second]");
  EXPECT_EQ(s.Resolve(0x106001).module, "");
}

TEST(Symbolizer, OddSegmentsDoNotCrash) {
  ModuleInfo wraps = Fake("[wraps]", UINT64_MAX - 0x10, 0x100);
  ModuleInfo empty = Fake("[empty]", 0x5000, 0);
  ModuleInfo none;
  none.path = "/no/segments.so";
  Symbolizer s({wraps, empty, none});
  EXPECT_EQ(s.Resolve(UINT64_MAX).module, "[wraps]");
  EXPECT_EQ(s.Resolve(0x5001).module, "");
}

TEST(FrameLabel, ShortForms) {
  SymbolizedAddress a;
  a.module = "/usr/lib/libfoo.so.1";
  a.offset = 0x1a2b;
  EXPECT_EQ(FrameLabel(a), "libfoo.so.1+0x1a2b");
  a.frames.push_back({"foo::Bar(int)", "", 0, false});
  EXPECT_EQ(FrameLabel(a), "foo::Bar(int) (libfoo.so.1+0x1a2b)");
  a.frames.front() = {"Inner()", "/src/inner.h", 12, true};
  a.frames.push_back({"Outer()", "/src/outer.cc", 34, false});
  EXPECT_EQ(FrameLabel(a), "Inner() (inner.h:12)");
}

}  // namespace
}  // namespace allocprof
