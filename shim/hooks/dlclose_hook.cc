// dlclose interposer: once a library's code is unmapped, another may be loaded at its addresses,
// so the stack walker's cached frame rules must be dropped (cfi_backtrace.h).
#include "hooks/real_functions.h"
#include "unwind/cfi_backtrace.h"

using namespace allocprof::shim;

extern "C" __attribute__((visibility("default"))) int dlclose(void* handle) {
  // Preloaded or attached, the table looks libc's dlclose up the way it looks dlopen up.
  ResolveRealFunctions();
  if (!g_real.dlclose) return -1;
  int result = g_real.dlclose(handle);
  NoteCodeUnmapped();
  return result;
}
