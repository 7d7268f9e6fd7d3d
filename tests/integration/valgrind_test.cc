// Counts against valgrind's: the test programs run once under memcheck and once under allocprof,
// and the allocation, free and leaked-block counts must be equal. valgrind runs without its exit-time
// freeres (glibc's and libstdc++'s one-time allocations stay allocated, as they do in a normal run
// the shim sees). valgrind comes with scripts/install-deps.sh.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "harness.h"

namespace allocprof::testing {
namespace {

struct Counts {
  uint64_t allocs = 0, frees = 0, leaked_blocks = 0;
};

uint64_t Number(const std::string& digits) {
  uint64_t n = 0;
  for (char c : digits) {
    if (c >= '0' && c <= '9') n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

bool Valgrind(const std::vector<std::string>& argv, Counts* out, std::string* why) {
  std::vector<std::string> command = {"valgrind", "--tool=memcheck", "--leak-check=full", "--run-libc-freeres=no",
                                      "--run-cxx-freeres=no"};
  command.insert(command.end(), argv.begin(), argv.end());
  RunResult r = RunProgram(command);
  std::smatch m;
  if (!std::regex_search(r.err, m, std::regex("total heap usage: ([0-9,]+) allocs, ([0-9,]+) frees"))) {
    *why = r.err.substr(0, 2000);
    return false;
  }
  out->allocs = Number(m[1]);
  out->frees = Number(m[2]);
  std::regex lost("(definitely lost|indirectly lost|possibly lost|still reachable): [0-9,]+ bytes in ([0-9,]+) blocks");
  for (auto it = std::sregex_iterator(r.err.begin(), r.err.end(), lost); it != std::sregex_iterator(); ++it) {
    out->leaked_blocks += Number((*it)[2]);
  }
  return true;
}

Counts Allocprof(const std::vector<std::string>& argv) {
  TempDir dir;
  RunResult r = RunTraced(dir / "t.trace", argv, {"-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  TraceSummary s = Summarize(dir / "t.trace");
  EXPECT_FALSE(s.Damaged()) << s.error;
  return Counts{s.allocs, s.frees, s.live_at_end};
}

// Deterministic programs only: xthread_free's queue grows with the threads' timing, so its count
// differs between any two runs, under valgrind or not.
std::vector<std::vector<std::string>> Cases() {
  std::string programs = Program("libreload_a.so");
  programs.resize(programs.rfind('/'));
  return {
      {Program("reload_main"), programs, "./libreload_a.so", "reload_a_keep", "1111", "./libreload_b.so",
       "reload_b_keep", "2222"},
      {Program("entry_points"), "realloc", "50"},
      {Program("entry_points"), "new[]", "100"},
      {Program("entry_points"), "new_aligned", "30"},
      {Program("entry_points"), "posix_memalign", "30"},
  };
}

TEST(Valgrind, AllocationFreeAndLeakCountsAreValgrinds) {
  if (RunProgram({"valgrind", "--version"}).exit_code != 0) GTEST_SKIP() << "valgrind is not installed";
  for (const auto& argv : Cases()) {
    SCOPED_TRACE(argv[0] + " " + (argv.size() > 1 ? argv[1] : ""));
    Counts v;
    std::string why;
    ASSERT_TRUE(Valgrind(argv, &v, &why)) << why;
    Counts a = Allocprof(argv);
    EXPECT_EQ(a.allocs, v.allocs);
    EXPECT_EQ(a.frees, v.frees);
    EXPECT_EQ(a.leaked_blocks, v.leaked_blocks);
  }
}

}  // namespace
}  // namespace allocprof::testing
