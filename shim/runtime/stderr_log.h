// Messages from the shim to the user, written straight to fd 2 with write(2): no stdio, no
// allocation, safe from any context including after fork.
#ifndef ALLOCPROF_SHIM_STDERR_LOG_H_
#define ALLOCPROF_SHIM_STDERR_LOG_H_

#include <stdint.h>

namespace allocprof::shim {

void SetLogQuiet(bool quiet);
// "allocprof: <text>\n"
void LogError(const char* text);
// "allocprof: <a><b><c>\n", any part may be null.
void LogError3(const char* a, const char* b, const char* c);
// Short name for an errno value ("ENOSPC (no space left on device)"), without strerror's allocations.
const char* ErrnoName(int err);
// Formats v in decimal into buf (at least 21 bytes); returns buf.
char* FormatUnsigned(uint64_t v, char* buf);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_STDERR_LOG_H_
