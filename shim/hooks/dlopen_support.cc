// C side of dlopen_hook.S.
#include <atomic>

#include "hooks/real_functions.h"
#include "runtime/process_record.h"
#include "runtime/stderr_log.h"

using namespace allocprof::shim;

extern "C" {

__attribute__((visibility("hidden"))) void* allocprof_real_dlopen = nullptr;

__attribute__((visibility("hidden"))) void* allocprof_resolve_dlopen() {
  ResolveRealFunctions();
  __atomic_store_n(&allocprof_real_dlopen, reinterpret_cast<void*>(g_real.dlopen), __ATOMIC_RELEASE);
  return allocprof_real_dlopen;
}

__attribute__((visibility("hidden"))) void allocprof_note_deepbind(const char* file) {
  static std::atomic<bool> reported{false};
  if (reported.exchange(true)) return;
  LogError3("dlopen(\"", file ? file : "(null)",
            "\", RTLD_DEEPBIND): flag removed so the library's allocations stay visible");
  WriteWarning("a library was dlopen'ed with RTLD_DEEPBIND; the flag was removed to keep its allocations visible");
}

}  // extern "C"
