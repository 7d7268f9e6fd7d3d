// Whole small files read at once: /proc entries, JSON reports, and the trace magic test that tells a
// trace from a saved report. Not for traces themselves (read/trace_file streams those).
// Thread-safety: pure functions.
#ifndef ALLOCPROF_ANALYZER_TEXT_FILE_H_
#define ALLOCPROF_ANALYZER_TEXT_FILE_H_

#include <string>

namespace allocprof {

// The whole content of `path`; false (and `out` untouched) when it cannot be opened.
bool ReadWholeFile(const std::string& path, std::string* out);
// Whether `path` begins with the trace file magic (include/allocprof/trace_format.h).
bool StartsWithTraceMagic(const std::string& path);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_TEXT_FILE_H_
