// Records the loaded modules (path, build-id, load bias, segments) so the analyzer can symbolize
// offline: at start, again whenever the set of loaded objects changed (dlopen/dlclose) by the
// time a new stack is defined, and after each dlclose (which may unload modules).
//
// Thread-safety: serialised by an internal mutex; cold path only.
#ifndef ALLOCPROF_SHIM_MODULE_MAP_H_
#define ALLOCPROF_SHIM_MODULE_MAP_H_

#include <stdint.h>

#include <atomic>

namespace allocprof::shim {

// Incremented after each scan that found modules unloaded (and wrote their kModuleUnload records).
// The stack table keeps stacks of different epochs apart, so a stack id never spans an unload.
extern std::atomic<uint32_t> g_module_epoch;

// Writes module records for objects not yet in this process's trace, and unload records for
// recorded ones no longer loaded. Paths are absolute: a relative dlopen name is replaced by the
// file the loader mapped.
void RecordNewModules();

// In a forked child: the child's trace has none of the parent's module records yet.
void ForgetModulesAfterFork();

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_MODULE_MAP_H_
