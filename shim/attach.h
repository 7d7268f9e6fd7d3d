// `allocprof attach`: the shim dlopen'ed into a running process by gdb.
//
// The command sets ALLOCPROF_ATTACH=1 (and the usual ALLOCPROF_* options) in the process's
// environment before the dlopen; the shim reads them and removes every ALLOCPROF_* variable again,
// so the process's children do not inherit them. The shim's first constructor sees it, looks the
// real allocator up
// in the global scope, starts tracing, and rewrites every loaded object's GOT entries for the
// allocation, exit and exec functions to the shim's (got_patch.h); objects dlopen'ed later are
// patched as they arrive. Allocations made before that are unknown to the trace; their frees are
// recorded like any other and the analyzer counts them apart (the process record carries
// format::kProcessAttached).
#ifndef ALLOCPROF_SHIM_ATTACH_H_
#define ALLOCPROF_SHIM_ATTACH_H_

#include <stdint.h>

namespace allocprof::shim {

// True once the shim found itself attached to a running process (set before tracing starts).
bool Attached();

// format::kProcess* flags for the process record.
uint64_t ProcessFlags();

}  // namespace allocprof::shim

extern "C" {
// Called by `allocprof attach` through gdb after the dlopen: the number of GOT slots redirected
// to the shim, or -1 when tracing could not start (the shim printed why on the process's stderr).
__attribute__((visibility("default"))) long allocprof_attach_state();
}

#endif  // ALLOCPROF_SHIM_ATTACH_H_
