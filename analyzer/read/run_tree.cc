#include "read/run_tree.h"

#include <dirent.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/types/span.h"
#include "read/catalog.h"
#include "read/event.h"
#include "read/process_trace.h"
#include "read/sampling.h"

namespace allocprof {
namespace {

// Counts allocations off the reader thread's unordered copy: the scan needs no order.
class AllocationCounter : public EventSink {
 public:
  void OnEvent(const Event&) override {}
  void OnEvents(const Event*, size_t) override {}
  void OnEventsUnordered(const Event* events, size_t n) override {
    for (const Event& e : absl::MakeConstSpan(events, n)) {
      if (e.kind != EventKind::kHeap || e.is_free) continue;
      allocations += e.weight;
      bytes += static_cast<double>(e.weight) * static_cast<double>(e.size);
      allocations_variance += CountVariance(e.weight);
      bytes_variance += BytesVariance(e.size, e.weight);
    }
  }
  double allocations = 0, bytes = 0, allocations_variance = 0, bytes_variance = 0;
};

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::vector<std::string> FindChildTraces(const std::string& root) {
  size_t slash = root.rfind('/');
  std::string dir = slash == std::string::npos ? "." : root.substr(0, slash == 0 ? 1 : slash);
  std::string prefix = Basename(root) + ".";
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> found;
  DIR* d = opendir(dir.c_str());
  if (!d) return {};
  while (struct dirent* ent = readdir(d)) {
    std::string name = ent->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rest = name.substr(prefix.size());
    size_t dot = rest.find('.');
    uint64_t pid = 0, n = 1;
    if (!absl::SimpleAtoi(rest.substr(0, dot), &pid) || pid == 0) continue;
    if (dot != std::string::npos && (!absl::SimpleAtoi(rest.substr(dot + 1), &n) || n < 2)) continue;
    if (rest.find_first_not_of("0123456789.") != std::string::npos) continue;
    found.emplace_back(pid, n, slash == std::string::npos ? name : root.substr(0, slash + 1) + name);
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::get<2>(f));
  return out;
}

absl::StatusOr<RunTrace> ScanTrace(const std::string& path) {
  AllocationCounter counter;
  ProcessCatalog catalog;
  if (absl::Status st = ReadProcessTrace(path, &counter, &catalog); !st.ok()) return st;
  RunTrace t;
  t.file = path;
  t.process = catalog.process;
  t.has_process = catalog.has_process;
  t.allocations = counter.allocations;
  t.bytes_allocated = counter.bytes;
  t.allocations_variance = counter.allocations_variance;
  t.bytes_variance = counter.bytes_variance;
  t.sampled = catalog.sampling.sampled();
  return t;
}

std::string CommandName(const ProcessInfo& process) {
  std::string argv0 = process.command_line.substr(0, process.command_line.find('\0'));
  size_t space = argv0.find(' ');  // command lines joined by spaces (older JSON reports)
  if (space != std::string::npos) argv0 = argv0.substr(0, space);
  std::string name = Basename(argv0);
  return name.empty() ? Basename(process.exe) : name;
}

bool ProcessNameMatches(const ProcessInfo& process, const std::string& name) {
  if (name.empty()) return false;
  if (CommandName(process) == name) return true;
  std::string exe = Basename(process.exe);
  if (exe == name) return true;
  return exe.size() > name.size() && exe.compare(0, name.size(), name) == 0 &&
         exe.find_first_not_of("0123456789.", name.size()) == std::string::npos;
}

}  // namespace allocprof
