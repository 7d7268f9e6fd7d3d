// `allocprof attach`: the shim dlopen'ed into a running process by allocprof's ptrace injector
// (analyzer/launch/ptrace_inject.h).
//
// A shim that finds itself loaded after libc (not preloaded) stays dormant until the injector calls
// allocprof_attach_start with the options. That looks the real allocator up in the global scope,
// starts tracing, and rewrites every loaded object's GOT entries for the allocation, exit and exec
// functions to the shim's (got_patch.h); objects dlopen'ed later are patched as they arrive.
// Allocations made before that are unknown to the trace; their frees are recorded like any other
// and the analyzer counts them apart (the process record carries format::kProcessAttached).
#ifndef ALLOCPROF_SHIM_ATTACH_H_
#define ALLOCPROF_SHIM_ATTACH_H_

#include <stdint.h>

namespace allocprof::shim {

// format::kProcess* flags for the process record.
uint64_t ProcessFlags();

}  // namespace allocprof::shim

extern "C" {
// Called by `allocprof attach`'s injected code after the dlopen, with the ALLOCPROF_* options as
// "NAME=value" lines. Returns the number of GOT slots redirected to the shim, or -1 when tracing
// could not start (the shim printed why on the process's stderr). A second call starts nothing.
__attribute__((visibility("default"))) long allocprof_attach_start(const char* options);
}

#endif  // ALLOCPROF_SHIM_ATTACH_H_
