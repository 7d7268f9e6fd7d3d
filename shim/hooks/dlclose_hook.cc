// dlclose interposer: once a library's code is unmapped, another may be loaded at its addresses,
// so the stack walker's cached frame rules must be dropped (cfi_backtrace.h), and the trace must
// say the module is gone (a kModuleUnload record) before any stack of a module loaded in its place.
#include "hooks/real_functions.h"
#include "record/recorder.h"
#include "runtime/module_map.h"
#include "runtime/process_state.h"
#include "unwind/cfi_backtrace.h"

using namespace allocprof::shim;

extern "C" __attribute__((visibility("default"))) int dlclose(void* handle) {
  // Preloaded or attached, the table looks libc's dlclose up the way it looks dlopen up.
  ResolveRealFunctions();
  if (!g_real.dlclose) return -1;
  int result = g_real.dlclose(handle);
  NoteCodeUnmapped();
  if (result == 0 && TraceActive(g_mode.load(std::memory_order_acquire)) && !InVforkChild()) {
    int saved_errno = errno;
    HookGuard guard;  // what the module map's flush allocates (compression) is the shim's own
    if (guard.entered()) RecordNewModules();
    errno = saved_errno;
  }
  return result;
}
