// The traces of one `allocprof run`: the root trace FILE and the child traces the shim wrote beside
// it (FILE.PID for a forked child or a program exec'd in a new process, FILE.PID.N for the images a
// process exec'd after its first), found from the root's name, and a quick scan of each (which
// process, how much it allocated) so a command can say which process did most of the allocating.
//
// Thread-safety: plain functions; ScanTrace reads the file through ReadProcessTrace.
#ifndef ALLOCPROF_ANALYZER_RUN_TREE_H_
#define ALLOCPROF_ANALYZER_RUN_TREE_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "read/record_decoder.h"

namespace allocprof {

// FILE.PID and FILE.PID.N in FILE's directory, ordered by pid, then N (FILE.PID is N = 1). Names
// that merely start with FILE (FILE.json, FILE.PID.txt) are not children. Empty when there are none
// or the directory cannot be read.
std::vector<std::string> FindChildTraces(const std::string& root);

// One trace of a run, scanned.
struct RunTrace {
  std::string file;
  ProcessInfo process;
  bool has_process = false;
  double allocations = 0;      // estimated when sampled
  double bytes_allocated = 0;  // estimated when sampled
  // Sampled traces: the variances of the two estimates (read/sampling.h); 0 in a full trace.
  bool sampled = false;
  double allocations_variance = 0, bytes_variance = 0;
};

// Reads `path` once for its process record and its allocation count and bytes (no analysis).
absl::StatusOr<RunTrace> ScanTrace(const std::string& path);

// basename of argv[0] ("python3" for "/usr/bin/python3 -c ..."); the exe's basename when the
// command line is empty.
std::string CommandName(const ProcessInfo& process);

// Whether `name` names this process: its command name or its exe's basename, or a prefix of the
// exe's basename followed by a version ("python3" matches /usr/bin/python3.11).
bool ProcessNameMatches(const ProcessInfo& process, const std::string& name);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_RUN_TREE_H_
