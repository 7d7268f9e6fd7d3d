// Helpers for tests that run real programs under the shim and read their traces.
#ifndef ALLOCPROF_TESTS_INTEGRATION_HARNESS_H_
#define ALLOCPROF_TESTS_INTEGRATION_HARNESS_H_

#include <stdint.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "read/process_trace.h"

namespace allocprof::testing {

std::string BuildPath(const std::string& relative);   // under the build directory
std::string SourcePath(const std::string& relative);  // under the repository
std::string Program(const std::string& name);         // a test program

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// Runs argv (argv[0] resolved through PATH) with extra environment entries, stdin from `input`.
RunResult RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                     const std::string& input = "");

// Runs `allocprof run -o TRACE [options] -- argv...`.
RunResult RunTraced(const std::string& trace, const std::vector<std::string>& argv,
                    const std::vector<std::string>& options = {}, const std::string& input = "");

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> Files() const;  // names, sorted

 private:
  std::string path_;
};

// Everything the tests want to know about one process trace.
struct TraceSummary {
  ProcessCatalog catalog;
  std::map<format::EntryPoint, uint64_t> by_entry;
  std::map<uint64_t, uint64_t> allocs_by_size;
  std::map<uint64_t, uint64_t> frees_by_size;  // frees of allocations whose size is known
  uint64_t allocs = 0;
  uint64_t frees = 0;
  uint64_t frees_of_unknown = 0;  // address not live when freed
  uint64_t allocs_over_live = 0;  // address already live when allocated again
  uint64_t live_at_end = 0;
  uint64_t allocs_without_stack = 0;
  std::set<uint32_t> stack_ids;  // of the allocations
  bool read_ok = false;
  std::string error;

  uint64_t Entry(format::EntryPoint e) const {
    auto it = by_entry.find(e);
    return it == by_entry.end() ? 0 : it->second;
  }
  uint64_t AllocsOfSize(uint64_t size) const {
    auto it = allocs_by_size.find(size);
    return it == allocs_by_size.end() ? 0 : it->second;
  }
  uint64_t FreesOfSize(uint64_t size) const {
    auto it = frees_by_size.find(size);
    return it == frees_by_size.end() ? 0 : it->second;
  }
  bool Damaged() const;
  // Stack ids allocations use that the trace never defines.
  std::vector<uint32_t> UndefinedStacks() const;
};

TraceSummary Summarize(const std::string& trace);

std::string ReadFile(const std::string& path);

// signal_alloc's own count of the allocations its handlers and its loops made ("handler
// allocations H", "loop allocations L" on stdout).
struct SignalAllocTally {
  uint64_t handler = 0, loop = 0;
};
SignalAllocTally ParseSignalAllocTally(const std::string& out);

// reload_main traced into `trace`: leaks 1111 bytes through ./libreload_a.so, dlcloses it, then
// 2222 through ./libreload_b.so (usually mapped at A's addresses); stdout says "same-base 1" then.
RunResult RunReloadMain(const std::string& trace);

}  // namespace allocprof::testing

#endif  // ALLOCPROF_TESTS_INTEGRATION_HARNESS_H_
