// Records the loaded modules (path, build-id, load bias, segments) so the analyzer can symbolize
// offline: at start, and again whenever the set of loaded objects changed (dlopen/dlclose) by the
// time a new stack is defined.
//
// Thread-safety: serialised by an internal mutex; cold path only.
#ifndef ALLOCPROF_SHIM_MODULE_MAP_H_
#define ALLOCPROF_SHIM_MODULE_MAP_H_

namespace allocprof::shim {

// Writes module records for objects not yet in this process's trace.
void RecordNewModules();

// In a forked child: the child's trace has none of the parent's module records yet.
void ForgetModulesAfterFork();

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_MODULE_MAP_H_
