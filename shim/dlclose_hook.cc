// dlclose interposer: once a library's code is unmapped, another may be loaded at its addresses,
// so the stack walker's cached frame rules must be dropped (cfi_backtrace.h).
#include <dlfcn.h>

#include <atomic>

#include "cfi_backtrace.h"

using namespace allocprof::shim;

extern "C" __attribute__((visibility("default"))) int dlclose(void* handle) {
  static std::atomic<int (*)(void*)> real{nullptr};
  int (*call)(void*) = real.load(std::memory_order_acquire);
  if (!call) {
    call = reinterpret_cast<int (*)(void*)>(dlsym(RTLD_NEXT, "dlclose"));
    // Attached (allocprof attach), the shim was loaded after libc and RTLD_LOCAL: libc's dlclose is
    // not "next" but is the global one, and ours is not in the global scope.
    if (!call) call = reinterpret_cast<int (*)(void*)>(dlsym(RTLD_DEFAULT, "dlclose"));
    if (!call || call == &dlclose) return -1;
    real.store(call, std::memory_order_release);
  }
  int result = call(handle);
  NoteCodeUnmapped();
  return result;
}
