// Issue 17's corners on real programs: the leak suppressions a program embeds for LeakSanitizer,
// MiniDebugInfo in stripped modules, signal handlers' stacks, and exports resolved by time.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>

#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "harness.h"
#include "report/frames.h"
#include "symbolize/symbolizer.h"

namespace allocprof::testing {
namespace {

// The stack ids of the allocations of each size.
class StacksBySize : public EventSink {
 public:
  void OnEvent(const Event& e) override {
    if (!e.is_free) stacks_[e.size].insert(e.stack_id);
  }
  std::set<uint32_t> Of(uint64_t size) const {
    auto it = stacks_.find(size);
    return it == stacks_.end() ? std::set<uint32_t>() : it->second;
  }

 private:
  absl::flat_hash_map<uint64_t, std::set<uint32_t>> stacks_;
};

// The offset in libc of the code every signal handler returns to (__restore_rt, the sa_restorer
// glibc's sigaction installs), as this test process's libc has it: the same file the programs map.
uint64_t RestorerOffsetInLibc() {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_IGN;
  sigaction(SIGURG, &sa, &old);
  struct sigaction now;
  sigaction(SIGURG, &old, &now);
  Dl_info info;
  auto restorer = reinterpret_cast<uintptr_t>(now.sa_restorer);
  if (!restorer || !dladdr(reinterpret_cast<void*>(restorer), &info)) return 0;
  return restorer - reinterpret_cast<uintptr_t>(info.dli_fbase);
}

// Checks that each of `stacks` starts at `handler` (symbolized) and holds no frame of the shim
// (its signal trampoline) nor libc's signal return code.
void ExpectHandlerStacks(const ProcessCatalog& catalog, const std::set<uint32_t>& stacks, const std::string& handler) {
  uint64_t restorer = RestorerOffsetInLibc();
  ASSERT_NE(restorer, 0u);
  StackFrames frames(catalog, true);
  for (uint32_t id : stacks) {
    std::vector<ReportFrame> f = frames.Frames(id);
    ASSERT_FALSE(f.empty()) << "stack " << id;
    EXPECT_EQ(f.front().function, handler) << "stack " << id;
    auto it = catalog.stacks.find(id);
    ASSERT_NE(it, catalog.stacks.end());
    for (uint64_t address : it->second) {
      for (const ModuleInfo& m : catalog.modules) {
        for (const Segment& s : m.segments) {
          if (address - m.load_bias - s.vaddr >= s.memsz) continue;
          EXPECT_FALSE(absl::StrContains(m.path, "liballocprof")) << "stack " << id << ": a shim frame";
          EXPECT_FALSE(absl::StrContains(m.path, "libc.so") && address - m.load_bias == restorer)
              << "stack " << id << ": the signal return trampoline __restore_rt";
        }
      }
    }
  }
}

// The text report's "Leaks (live at end) by stack" section up to the next blank line.
std::string LeakSection(const std::string& report) {
  size_t at = report.find("Leaks (live at end) by stack");
  if (at == std::string::npos) return "";
  size_t end = report.find("\n\n", at);
  return report.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// lsan_embedded's __lsan_default_suppressions() says "leak:LeakQuietly": its 3 blocks of 777
// bytes are suppressed (as LeakSanitizer would), LeakLoudly's 1337 bytes stay a leak; the text is
// in the trace, so the analysis needs no flag.
TEST(Corners, ProgramsOwnLsanSuppressionsApply) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Program("lsan_embedded")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(dir / "t.trace");
  ASSERT_TRUE(s.read_ok) << s.error;
  EXPECT_EQ(s.frees_of_unknown, 0u) << "the lookup's own blocks (a failed dlsym's error) stay the shim's";
  EXPECT_TRUE(absl::StrContains(s.catalog.embedded_suppressions, "leak:LeakQuietly\n"))
      << s.catalog.embedded_suppressions;
  for (bool defaults : {true, false}) {
    std::vector<std::string> argv = {BuildPath("allocprof"), "analyze"};
    if (!defaults) argv.push_back("--no-default-suppressions");
    argv.push_back(dir / "t.trace");
    RunResult a = RunProgram(argv);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    std::string leaks = LeakSection(a.out);
    EXPECT_TRUE(absl::StrContains(leaks, "LeakLoudly")) << leaks;
    EXPECT_FALSE(absl::StrContains(leaks, "LeakQuietly")) << leaks;
    EXPECT_TRUE(absl::StrContains(a.out, "the program's __lsan_default_suppressions")) << a.out;
    if (!defaults) {
      EXPECT_TRUE(absl::StrContains(a.out, "suppressed: 3 blocks, 2331 bytes")) << a.out;
    }
  }
  RunResult d = RunProgram({BuildPath("allocprof"), "dump", dir / "t.trace"});
  EXPECT_TRUE(absl::StrContains(d.out, "suppressions \"# the program's own")) << d.out.substr(0, 2000);
}

// libminidebug.so is stripped and carries MiniDebugInfo (.gnu_debugdata: an xz-compressed ELF
// whose .symtab holds the local functions): the leak's row names the local function that
// allocated, from that section (libdwfl reads it; Debian's elfutils is built with lzma). The
// control is the same library stripped without the section, copied beside the program (its
// RPATH is $ORIGIN): there the frame can only be module+offset.
TEST(Corners, MiniDebugInfoNamesStrippedLocalFunctions) {
  TempDir dir;
  RunResult r = RunTraced(dir / "mini.trace", {Program("minidebug_main")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  RunResult a = RunProgram({BuildPath("allocprof"), "analyze", dir / "mini.trace"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  std::string leaks = LeakSection(a.out);
  EXPECT_TRUE(absl::StrContains(leaks, "in (anonymous namespace)::MinidebugHiddenAlloc(unsigned long)+0x")) << leaks;
  EXPECT_TRUE(absl::StrContains(leaks, "minidebug_entry+0x")) << leaks;

  ASSERT_EQ(RunProgram({"cp", Program("minidebug_main"), dir / "minidebug_main"}).exit_code, 0);
  ASSERT_EQ(RunProgram({"cp", Program("libminidebug_plain.so"), dir / "libminidebug.so"}).exit_code, 0);
  r = RunTraced(dir / "plain.trace", {dir / "minidebug_main"}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  a = RunProgram({BuildPath("allocprof"), "analyze", dir / "plain.trace"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  leaks = LeakSection(a.out);
  EXPECT_FALSE(absl::StrContains(leaks, "MinidebugHiddenAlloc")) << leaks;
  EXPECT_TRUE(absl::StrContains(leaks, "libminidebug.so+0x")) << leaks;
}

// signal_stack's SIGUSR1 handler allocates 1234 bytes, raised on the main thread and on another:
// the shim's trampoline calls the handler (to record a handler over the shim), but its frame and
// that of libc's __restore_rt it returns to are no frames of the program's: the stacks start at
// OnUsr1 and continue in the code the signal interrupted (raise).
TEST(Corners, HandlerStacksLeaveOutTheSignalTrampoline) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Program("signal_stack")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "handler allocations 5")) << r.out;
  StacksBySize sink;
  ProcessCatalog catalog;
  ASSERT_TRUE(ReadProcessTrace(dir / "t.trace", &sink, &catalog).ok());
  std::set<uint32_t> stacks = sink.Of(1234);
  EXPECT_EQ(stacks.size(), 2u) << "one stack per raising thread";
  ExpectHandlerStacks(catalog, stacks, "OnUsr1");
  StackFrames frames(catalog, true);
  for (uint32_t id : stacks) {
    bool raise_seen = false;
    for (const ReportFrame& f : frames.Frames(id)) raise_seen = raise_seen || f.function == "RaiseFromHere";
    EXPECT_TRUE(raise_seen) << "stack " << id << " continues into the interrupted code";
  }
}

// signal_alloc's handlers interrupt their threads inside the shim too (their events go through
// the nested buffer): those stacks also start at the handler, with no shim frame.
TEST(Corners, HandlerOverTheShimStacksStartAtTheHandler) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", {Program("signal_alloc"), "2", "20000"}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  StacksBySize sink;
  ProcessCatalog catalog;
  ASSERT_TRUE(ReadProcessTrace(dir / "t.trace", &sink, &catalog).ok());
  std::set<uint32_t> stacks = sink.Of(2047);
  for (uint32_t id : sink.Of(3001)) stacks.insert(id);
  ExpectHandlerStacks(catalog, stacks, "OnAlarm");
}

// reload_main leaks 1111 bytes through libreload_a.so, closes it, then 2222 through libreload_b.so,
// usually mapped at A's addresses. The exports resolve each stack against the modules mapped when
// it was used, as the report does: folded (symbolized and --no-symbols), pprof and Chrome name A's
// function and module for A's allocation.
TEST(Corners, ExportsResolveStacksByTheirTime) {
  TempDir dir;
  RunResult r = RunReloadMain(dir / "t.trace");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (!absl::StrContains(r.out, "same-base 1")) GTEST_SKIP() << "B was not mapped at A's addresses: " << r.out;
  auto folded = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {
        BuildPath("allocprof"), "export", dir / "t.trace", "--format", "folded", "--weight", "bytes", "-o", "-"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    RunResult e = RunProgram(argv);
    EXPECT_EQ(e.exit_code, 0) << e.err;
    return e.out;
  };
  std::string symbolized = folded({});
  EXPECT_TRUE(absl::StrContains(symbolized, ";reload_a_keep 1111\n")) << symbolized;
  EXPECT_TRUE(absl::StrContains(symbolized, ";reload_b_keep 2222\n")) << symbolized;
  std::string raw = folded({"--no-symbols"});
  EXPECT_TRUE(absl::StrContains(raw, ";libreload_a.so+0x")) << raw;
  EXPECT_TRUE(absl::StrContains(raw, ";libreload_b.so+0x")) << raw;

  RunResult p =
      RunProgram({BuildPath("allocprof"), "export", dir / "t.trace", "--format", "pprof", "-o", dir / "t.pb.gz"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  RunResult gunzip = RunProgram({"gzip", "-dc", dir / "t.pb.gz"});
  RunResult text = RunProgram({"protoc", "--proto_path=" + SourcePath("tests/data"),
                               "--decode=perftools.profiles.Profile", SourcePath("tests/data/profile.proto")},
                              {}, gunzip.out);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(absl::StrContains(text.out, "string_table: \"reload_a_keep\"")) << "pprof names A's function";
  EXPECT_TRUE(absl::StrContains(text.out, "string_table: \"reload_b_keep\""));

  RunResult c = RunProgram({BuildPath("allocprof"), "export", dir / "t.trace", "--format", "chrome", "-o", "-"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(absl::StrContains(c.out, "reload_a_keep")) << "chrome's stackFrames name A's function";
}

// A forked child starts the shim's flush thread lazily, from a hook, once it fills a buffer. When
// the buffer fills inside a program's signal handler, the thread must wait until the handler has
// returned (pthread_create is not async-signal-safe): fork_handler_ticker's child churns inside
// a SIGUSR1 handler, then on its main line, and counts its threads (its own, the ticker and the
// offload thread that comes with it).
TEST(Corners, ForkedChildNeverStartsTheFlushThreadInASignalHandler) {
  TempDir dir;
  RunResult alone = RunProgram({Program("fork_handler_ticker")});
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  ASSERT_TRUE(absl::StrContains(alone.out, "in-handler 0\nthreads-at-end 1\n")) << alone.out;
  RunResult r = RunTraced(dir / "t.trace", {Program("fork_handler_ticker")}, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "in-handler 0\n")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "threads-at-end 3\n")) << "started once the handler returned: " << r.out;
}

}  // namespace
}  // namespace allocprof::testing
