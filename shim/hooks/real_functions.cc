#include "hooks/real_functions.h"

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include <atomic>

#include "record/sampler.h"
#include "runtime/stderr_log.h"

namespace allocprof::shim {

RealFunctions g_real;

alignas(64) unsigned char g_bootstrap_arena[kBootstrapArenaSize];

namespace {

constexpr size_t kArenaSize = kBootstrapArenaSize;
unsigned char* const g_arena = g_bootstrap_arena;
std::atomic<size_t> g_arena_used{0};
// Each arena block is preceded by its size so realloc can copy out of it.
constexpr size_t kBlockHeader = 16;

__thread bool t_resolving __attribute__((tls_model("initial-exec")));

// RTLD_NEXT when preloaded; RTLD_DEFAULT when attached (see UseGlobalSymbolLookup).
void* g_lookup_handle = RTLD_NEXT;

// Whether `p` is a definition: false for a non-PIE executable's canonical PLT entry, which its
// .dynsym lists as an undefined symbol whose value is the PLT slot's address.
bool IsDefinition(void* p) {
  Dl_info info;
  ElfW(Sym)* sym = nullptr;
  if (dladdr1(p, &info, reinterpret_cast<void**>(&sym), RTLD_DL_SYMENT) == 0 || !sym) return true;
  return !(info.dli_saddr == p && sym->st_shndx == SHN_UNDEF);
}

void* Lookup(const char* name) {
  void* p = dlsym(g_lookup_handle, name);
  if (p && g_lookup_handle == RTLD_DEFAULT && !IsDefinition(p)) {
    // A non-PIE executable that takes a function's address (python3.11 does for malloc) exports
    // its PLT entry as the function's one address, and the global scope finds that first. It
    // jumps through the executable's GOT, which attach redirects to the shim: calling it would
    // recurse. The definition the entry resolves to is the next one, libc's (the shim's own
    // search list has it: it follows the shim there, as it follows the executable in the
    // program's).
    if (void* next = dlsym(RTLD_NEXT, name)) p = next;
  }
  return p;
}

template <typename Fn>
void Resolve(Fn* slot, const char* name) {
  *slot = reinterpret_cast<Fn>(Lookup(name));
}

}  // namespace

void* LookupNext(const char* symbol) { return Lookup(symbol); }

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
      // Sampling's fast free never sends a pinned address to the real free (sampled_set.h).
      g_sampled.Pin(start);
      return reinterpret_cast<void*>(start);  // static storage is zeroed: calloc semantics hold
    }
  }
}

size_t BootstrapUsableSize(const void* p) {
  size_t size;
  memcpy(&size, static_cast<const unsigned char*>(p) - kBlockHeader, sizeof(size));
  return size;
}

}  // namespace allocprof::shim
