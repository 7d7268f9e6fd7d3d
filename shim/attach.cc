// Attach mode (see attach.h): detection, start-up, and the GOT redirections it installs.
#include "attach.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include <atomic>
#include <string_view>

#include "allocprof/trace_format.h"
#include "caller_runpath.h"
#include "got_patch.h"
#include "process_state.h"
#include "real_functions.h"
#include "stderr_log.h"
#include "thread_state.h"

extern char** environ;

extern "C" void allocprof_note_deepbind(const char* file);  // dlopen_support.cc

namespace allocprof::shim {
namespace {

std::atomic<bool> g_attached{false};
std::atomic<long> g_slots{0};

// Everything the shim defines that a running process calls through its GOT: the allocator entry
// points (hooks_malloc.cc, hooks_new.cc), the exit and exec functions that flush the trace
// (lifecycle.cc), and dlopen (handled by AttachedDlopen below so new objects get patched too).
// The functions that release memory come first and are patched everywhere before any allocating
// one: while other threads run during the patch, a block can then be allocated unseen and freed
// seen (a pre-attach free), but never allocated seen and freed unseen (a false leak).
constexpr const char* kRedirected[] = {
    "free", "free_sized", "free_aligned_sized", "realloc", "reallocarray", "malloc_usable_size",
    // operator delete, every form (size_t is 'm' on x86-64).
    "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t",
    "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t",
    "_ZdaPvSt11align_val_tRKSt9nothrow_t",
    // kReleaseCount ends here.
    "malloc", "calloc", "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
    // operator new, every form.
    "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
    "_exit", "_Exit", "execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve", "execveat",
    "dlopen"};
constexpr size_t kRedirectedCount = sizeof(kRedirected) / sizeof(kRedirected[0]);
constexpr size_t kReleaseCount = 18;

GotTarget g_targets[kRedirectedCount];

void* AttachedDlopen(const char* file, int flags);

// The ALLOCPROF_* variables were put there by `allocprof attach` for this load only: the
// process's children must not inherit them. unsetenv shifts environ, so names are collected first.
void RemoveOptionsFromEnvironment() {
  constexpr size_t kMaxNames = 32;
  char names[kMaxNames][64];
  size_t count = 0;
  for (char** e = environ; e && *e && count < kMaxNames; ++e) {
    const char* eq = strchr(*e, '=');
    size_t len = eq ? static_cast<size_t>(eq - *e) : 0;
    if (strncmp(*e, "ALLOCPROF_", 10) != 0 || len == 0 || len >= sizeof(names[0])) continue;
    memcpy(names[count], *e, len);
    names[count++][len] = '\0';
  }
  for (size_t i = 0; i < count; ++i) unsetenv(names[i]);
}

bool AttachRequested() {
  if (!environ) return false;
  for (char** e = environ; *e; ++e) {
    if (strcmp(*e, "ALLOCPROF_ATTACH=1") == 0) return true;
  }
  return false;
}

// The shim's own definitions. Its references to these names bind to the process's (libc's), since
// the global scope is searched first: look them up in the shim's own handle instead.
static_assert(std::string_view(kRedirected[kReleaseCount]) == "malloc", "kReleaseCount: the release functions");

bool ResolveTargets() {
  Dl_info self;
  if (!dladdr(reinterpret_cast<void*>(&AttachRequested), &self) || !self.dli_fname) return false;
  void* handle = dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (!handle) return false;
  for (size_t i = 0; i < kRedirectedCount; ++i) {
    g_targets[i].symbol = kRedirected[i];
    g_targets[i].replacement = strcmp(kRedirected[i], "dlopen") == 0 ? reinterpret_cast<void*>(&AttachedDlopen)
                                                                      : dlsym(handle, kRedirected[i]);
  }
  dlclose(handle);
  return true;
}

void PatchAll() {
  const void* self = reinterpret_cast<void*>(&AttachRequested);
  GotPatchResult release = PatchLoadedObjects(g_targets, kReleaseCount, self);
  GotPatchResult rest = PatchLoadedObjects(g_targets, kRedirectedCount, self);
  g_slots.fetch_add(static_cast<long>(release.slots + rest.slots));
  if (release.failures || rest.failures) {
    LogError("attach: some call sites could not be redirected (mprotect failed); they stay untraced");
  }
}

// dlopen once attached: the new object (and its dependencies) bound their allocator calls to the
// process's functions, so they are patched as soon as the loader returns. Allocations made by the
// new objects' constructors, which run inside the loader, are not seen. A bare name is looked up in
// the calling object's RUNPATH here (caller_runpath.h).
__attribute__((noinline)) void* AttachedDlopen(const char* file, int flags) {
  const void* caller = __builtin_return_address(0);
  if (flags & RTLD_DEEPBIND) {
    allocprof_note_deepbind(file);
    flags &= ~RTLD_DEEPBIND;
  }
  if (!RealFunctionsReady()) ResolveRealFunctions();
  char found[4096];
  const char* name = file;
  if (file && FindInCallerSearchPath(caller, file, found, sizeof(found))) name = found;
  void* handle = g_real.dlopen(name, flags);
  if (handle && file) PatchAll();
  return handle;
}

// Runs before the shim's other constructors (lifecycle.cc's OnLoad): the lookup mode must be set
// before the real functions are resolved.
__attribute__((constructor(101))) void StartAttached() {
  if (!AttachRequested()) return;
  bool outer = !t_local.in_hook;
  t_local.in_hook = true;  // our own allocations below are not the program's
  g_attached.store(true);
  UseGlobalSymbolLookup();
  ResolveRealFunctions();
  EnsureProcessInitialized();  // reads the options
  RemoveOptionsFromEnvironment();
  if (g_mode.load() == Mode::kTracing) {
    if (ResolveTargets()) PatchAll();
    else LogError("attach: cannot look up the shim's own entry points; nothing is redirected");
  }
  if (outer) t_local.in_hook = false;
}

}  // namespace

bool Attached() { return g_attached.load(std::memory_order_relaxed); }

uint64_t ProcessFlags() { return Attached() ? format::kProcessAttached : 0; }

}  // namespace allocprof::shim

extern "C" long allocprof_attach_state() {
  using namespace allocprof::shim;
  if (!Attached() || g_mode.load() != Mode::kTracing) return -1;
  return g_slots.load();
}
