// Where the shim library is: next to the CLI in the build tree, in ../lib/allocprof once installed,
// or wherever ALLOCPROF_SHIM says.
#ifndef ALLOCPROF_ANALYZER_SHIM_PATH_H_
#define ALLOCPROF_ANALYZER_SHIM_PATH_H_

#include <string>

namespace allocprof {

// Directory of the running allocprof binary.
std::string SelfDir();

// Absolute path of liballocprof.so, or "" when it cannot be found.
std::string FindShim();

bool IsRegularFile(const std::string& path);

// CMD resolved the way execvp would: unchanged when it contains a '/', else the first executable
// regular file of that name on PATH (/usr/bin:/bin when PATH is unset), or "" when there is none.
std::string ResolveCommand(const std::string& cmd);

// PATH made absolute against the current directory (unchanged when getcwd fails).
std::string Absolute(const std::string& path);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_SHIM_PATH_H_
