#include "hooks/real_functions.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#include <atomic>

#include "runtime/stderr_log.h"

namespace allocprof::shim {

RealFunctions g_real;

namespace {

constexpr size_t kArenaSize = 256 << 10;
alignas(64) unsigned char g_arena[kArenaSize];
std::atomic<size_t> g_arena_used{0};
// Each arena block is preceded by its size so realloc can copy out of it.
constexpr size_t kBlockHeader = 16;

__thread bool t_resolving __attribute__((tls_model("initial-exec")));

// RTLD_NEXT when preloaded; RTLD_DEFAULT when attached (see UseGlobalSymbolLookup).
void* g_lookup_handle = RTLD_NEXT;

template <typename Fn>
void Resolve(Fn* slot, const char* name) {
  *slot = reinterpret_cast<Fn>(dlsym(g_lookup_handle, name));
}

}  // namespace

void* LookupNext(const char* symbol) { return dlsym(g_lookup_handle, symbol); }

void UseGlobalSymbolLookup() { g_lookup_handle = RTLD_DEFAULT; }

bool ResolveRealFunctions() {
  if (RealFunctionsReady()) return true;
  if (t_resolving) return false;
  t_resolving = true;
  RealFunctions r{};
#define ALLOCPROF_RESOLVE(symbol) Resolve(&r.symbol, #symbol);
#define ALLOCPROF_RESOLVE_ENTRY(e, name, family, kind, symbol, releases, shim) \
  ALLOCPROF_LOOKS_UP_##shim(ALLOCPROF_RESOLVE(symbol))
#define ALLOCPROF_RESOLVE_OTHER(symbol, shim) ALLOCPROF_LOOKS_UP_##shim(ALLOCPROF_RESOLVE(symbol))
  ALLOCPROF_ENTRY_POINTS(ALLOCPROF_RESOLVE_ENTRY)
  ALLOCPROF_OTHER_INTERPOSED(ALLOCPROF_RESOLVE_OTHER)
#undef ALLOCPROF_RESOLVE_OTHER
#undef ALLOCPROF_RESOLVE_ENTRY
#undef ALLOCPROF_RESOLVE
  if (!r.malloc || !r.free || !r.calloc || !r.realloc || !r.memalign) {
    LogError("cannot find the C allocator behind the shim (dlsym RTLD_NEXT failed); aborting");
    __builtin_trap();
  }
  // Publish malloc last: RealFunctionsReady() keys on it.
  void* (*malloc_fn)(size_t) = r.malloc;
  r.malloc = nullptr;
  g_real = r;
  __atomic_store_n(&g_real.malloc, malloc_fn, __ATOMIC_RELEASE);
  t_resolving = false;
  return true;
}

void* BootstrapAlloc(size_t size, size_t alignment) {
  if (alignment < 16) alignment = 16;
  size_t used = g_arena_used.load(std::memory_order_relaxed);
  for (;;) {
    uintptr_t base = reinterpret_cast<uintptr_t>(g_arena);
    uintptr_t start = (base + used + kBlockHeader + alignment - 1) & ~(alignment - 1);
    size_t end = start - base + size;
    if (end > kArenaSize || size > kArenaSize) return nullptr;
    if (g_arena_used.compare_exchange_weak(used, end, std::memory_order_relaxed)) {
      memcpy(reinterpret_cast<void*>(start - kBlockHeader), &size, sizeof(size));
      return reinterpret_cast<void*>(start);  // static storage is zeroed: calloc semantics hold
    }
  }
}

bool IsBootstrapPointer(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  auto base = reinterpret_cast<uintptr_t>(g_arena);
  return a >= base && a < base + kArenaSize;
}

size_t BootstrapUsableSize(const void* p) {
  size_t size;
  memcpy(&size, static_cast<const unsigned char*>(p) - kBlockHeader, sizeof(size));
  return size;
}

}  // namespace allocprof::shim
