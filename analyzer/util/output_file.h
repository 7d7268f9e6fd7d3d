// Every file allocprof writes goes through here, so every command follows one policy (README,
// "Output files"):
//
// - Derived outputs (analyze --json, diff --json, export -o, the files of report -o DIR) are made
//   from traces and meant to be regenerated: an existing regular file is replaced, atomically (the
//   data goes to a temporary file in the same directory, renamed over it; its permission bits are
//   kept), except one of the command's inputs or an allocprof trace, which are refused.
// - Traces (run -o, attach -o) are recordings that cannot be made again: an existing one, or an
//   earlier run's child traces FILE.PID[.N], is removed only with --force (PrepareTraceOutput), before
//   the program starts. The traced process writes its trace in place.
// - What is not a regular file is never replaced: a character device or a FIFO (/dev/null, a
//   terminal, /dev/stdout on a pipe, >(cmd)) is written into; a directory, socket or block device is
//   refused. A trace must be a regular file.
// - A symlink at the path is never replaced and never followed to a file: refused, unless it leads
//   to a character device or FIFO, which is written into as above.
//
// Failures leave whatever was at the path untouched; their messages name the path and the reason.
// Exit code for them: kExitCantCreate (util/exit_codes.h).
#ifndef ALLOCPROF_ANALYZER_UTIL_OUTPUT_FILE_H_
#define ALLOCPROF_ANALYZER_UTIL_OUTPUT_FILE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace allocprof {

// Checks that WriteOutputFile(path, ..., inputs) may write: the same refusals, and for a new or
// replaced file that a file can be created in its directory. For commands that work a while before
// they write, so a bad path fails at once. "-" (standard output) always passes.
absl::Status CheckOutputFile(const std::string& path, const std::vector<std::string>& inputs = {});

// Writes a derived output under the policy above; "-" writes to standard output. `inputs` are the
// files the command read, never replaced.
absl::Status WriteOutputFile(const std::string& path, std::string_view data,
                             const std::vector<std::string>& inputs = {});

// run and attach, before the program starts: makes `path` ready for a new trace. Without `force`,
// an existing FILE or child trace FILE.PID[.N] is refused (kExitUsage); with it they are removed
// (only regular files; nothing else is touched). Then checks that FILE can be created, by creating
// and removing it. Returns kExitOk, or an exit code with *message set (without a command prefix).
int PrepareTraceOutput(const std::string& path, bool force, std::string* message);

// The child traces of `path` in its directory (FILE.PID and FILE.PID.N), sorted.
std::vector<std::string> ChildTraces(const std::string& path);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_UTIL_OUTPUT_FILE_H_
