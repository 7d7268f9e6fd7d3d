// libFuzzer target: any byte string fed to the trace reader and the full analysis pass must end
// in a result or a diagnostic, never a crash, a hang or an unbounded allocation (run with
// -rss_limit_mb to check the last).
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "passes/heap_analysis.h"
#include "read/process_trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("trace", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  allocprof::ProcessCatalog catalog;
  allocprof::AnalysisOptions options;
  options.symbolize = false;
  allocprof::HeapAnalysis heap(options, &catalog);
  (void)allocprof::ReadProcessTrace(path, &heap, &catalog);
  heap.Finish();
  (void)heap.SizeClasses();
  close(fd);
  return 0;
}
