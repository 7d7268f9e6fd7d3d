// Attach mode (see attach.h): detection, start-up, and the GOT redirections it installs.
#include "attach/attach.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include <atomic>

#include "allocprof/trace_format.h"
#include "attach/caller_runpath.h"
#include "attach/got_patch.h"
#include "hooks/interposed.h"
#include "hooks/real_functions.h"
#include "record/recorder.h"
#include "record/thread_state.h"
#include "runtime/options.h"
#include "runtime/process_state.h"
#include "runtime/stderr_log.h"

extern "C" void allocprof_note_deepbind(const char* file);  // dlopen_support.cc

namespace allocprof::shim {
namespace {

std::atomic<bool> g_attached{false};
std::atomic<long> g_slots{0};

// Everything the shim defines that a running process calls through its GOT, in the order
// hooks/interposed.h gives (release functions, then operator new, then the rest; PatchAll below).
// dlopen is redirected to AttachedDlopen, so objects loaded later get patched too.
constexpr size_t kRedirectedCount = PatchOrder::kCount;
constexpr size_t kReleaseCount = PatchOrder::kReleaseEnd;
constexpr size_t kNewEnd = PatchOrder::kOperatorNewEnd;
static_assert(kPatchOrder.functions[kReleaseCount - 1].group == PatchGroup::kRelease &&
                  kPatchOrder.functions[kReleaseCount].group == PatchGroup::kOperatorNew &&
                  kPatchOrder.functions[kNewEnd - 1].group == PatchGroup::kOperatorNew &&
                  kPatchOrder.functions[kNewEnd].group == PatchGroup::kRest,
              "PatchAll's three passes end where the groups do");

GotTarget g_targets[kRedirectedCount];

void* AttachedDlopen(const char* file, int flags);

// Preloaded, the shim sits in the link map before libc (LD_PRELOAD objects follow the program
// directly); dlopen'ed into a running process, after it.
struct LoadOrder {
  uintptr_t self;
  int index = 0, self_index = -1, libc_index = -1;
};

int VisitForOrder(struct dl_phdr_info* info, size_t, void* data) {
  auto* order = static_cast<LoadOrder*>(data);
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  const char* base = strrchr(name, '/');
  base = base ? base + 1 : name;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && order->self >= start && order->self - start < ph.p_memsz)
      order->self_index = order->index;
  }
  if (strncmp(base, "libc.so", 7) == 0 && order->libc_index < 0) order->libc_index = order->index;
  ++order->index;
  return 0;
}

bool LoadedIntoRunningProcess() {
  LoadOrder order{reinterpret_cast<uintptr_t>(&VisitForOrder)};
  dl_iterate_phdr(VisitForOrder, &order);
  return order.libc_index >= 0 && order.self_index > order.libc_index;
}

// The shim's own definitions. Its references to these names bind to the process's (libc's), since
// the global scope is searched first: look them up in the shim's own handle instead.

bool ResolveTargets() {
  Dl_info self;
  if (!dladdr(reinterpret_cast<void*>(&VisitForOrder), &self) || !self.dli_fname) return false;
  void* handle = dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (!handle) return false;
  for (size_t i = 0; i < kRedirectedCount; ++i) {
    const char* symbol = kPatchOrder.functions[i].symbol;
    g_targets[i].symbol = symbol;
    g_targets[i].replacement =
        strcmp(symbol, "dlopen") == 0 ? reinterpret_cast<void*>(&AttachedDlopen) : dlsym(handle, symbol);
  }
  dlclose(handle);
  return true;
}

void PatchAll() {
  const void* self = reinterpret_cast<void*>(&VisitForOrder);
  GotPatchResult release = PatchLoadedObjects(g_targets, kReleaseCount, self);
  GotPatchResult news = PatchLoadedObjects(g_targets, kNewEnd, self);
  GotPatchResult rest = PatchLoadedObjects(g_targets, kRedirectedCount, self);
  g_slots.fetch_add(static_cast<long>(release.slots + news.slots + rest.slots));
  if (release.failures || news.failures || rest.failures) {
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
  ResolveRealFunctions();  // returns at once when already done
  char found[4096];
  const char* name = file;
  if (file && FindInCallerSearchPath(caller, file, found, sizeof(found))) name = found;
  void* handle = g_real.dlopen(name, flags);
  if (handle && file) PatchAll();
  return handle;
}

// Runs before the shim's other constructors (lifecycle.cc's OnLoad). Loaded late, the shim stays
// dormant (mode kStopped, so OnLoad starts nothing) until allocprof_attach_start configures it:
// its options cannot come from the environment, which the program may manage itself (bash does).
__attribute__((constructor(101))) void ParkWhenLoadedLate() {
  if (!LoadedIntoRunningProcess()) return;
  g_attached.store(true);
  UseGlobalSymbolLookup();
  ResolveRealFunctions();
  Mode expected = Mode::kUninitialized;
  g_mode.compare_exchange_strong(expected, Mode::kStopped);
}

// "NAME=value" lines into a null-terminated entry array, in static storage (allocates nothing).
char g_option_text[16 << 10];
char* g_option_entries[64];

bool SplitOptions(const char* text) {
  size_t len = strlen(text);
  if (len >= sizeof(g_option_text)) return false;
  memcpy(g_option_text, text, len + 1);
  size_t n = 0;
  for (char* line = g_option_text; *line && n + 1 < sizeof(g_option_entries) / sizeof(g_option_entries[0]);) {
    char* end = strchr(line, '\n');
    if (end) *end = '\0';
    if (*line) g_option_entries[n++] = line;
    if (!end) break;
    line = end + 1;
  }
  g_option_entries[n] = nullptr;
  return true;
}

// True once the shim found itself attached to a running process (set before tracing starts).
bool Attached() { return g_attached.load(std::memory_order_relaxed); }

}  // namespace

uint64_t ProcessFlags() { return Attached() ? format::kProcessAttached : 0; }

}  // namespace allocprof::shim

extern "C" long allocprof_attach_start(const char* options) {
  using namespace allocprof::shim;
  static std::atomic<bool> started{false};
  if (!Attached() || !options) return -1;
  if (started.exchange(true)) return TraceActive(g_mode.load()) ? g_slots.load() : -1;
  HookGuard guard;  // our own allocations below are not the program's
  long result = -1;
  if (!SplitOptions(options)) {
    LogError("attach: the options are too long");
  } else {
    SetOptionEntries(g_option_entries);
    g_mode.store(Mode::kUninitialized);
    EnsureProcessInitialized();
    SetOptionEntries(nullptr);
    if (TraceActive(g_mode.load())) {
      MaybeStartTickerAfterFork();  // idle buffers are flushed as in a preloaded process
      if (ResolveTargets()) {
        PatchAll();
        result = g_slots.load();
      } else {
        LogError("attach: cannot look up the shim's own entry points; nothing is redirected");
      }
    }
  }
  return result;
}
