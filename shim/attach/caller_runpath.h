// glibc's dlopen searches the DT_RUNPATH (or DT_RPATH) of the object that called it, which it finds
// from its return address. A dlopen wrapper written in C makes the shim the caller, whose search
// path is empty; attach mode (attach.cc) therefore resolves a bare library name against the real
// caller's search path first, as the loader would have.
#ifndef ALLOCPROF_SHIM_CALLER_RUNPATH_H_
#define ALLOCPROF_SHIM_CALLER_RUNPATH_H_

#include <stddef.h>

namespace allocprof::shim {

// If `name` (no '/') exists in a directory of the RUNPATH/RPATH of the object containing `caller`
// ($ORIGIN expanded), writes that path to out and returns true. Returns false when the caller has
// no such path, a loaded object already has that file name (the loader returns it), the name is found
// in LD_LIBRARY_PATH first (which glibc searches before RUNPATH), or nothing matches. Allocates nothing.
bool FindInCallerSearchPath(const void* caller, const char* name, char* out, size_t cap);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_CALLER_RUNPATH_H_
