// reload_main DIR (LIB SYMBOL SIZE)...: in DIR, for each LIB in turn: dlopen it (the tests give a
// relative path, "./libreload_a.so"), leak SIZE bytes through its SYMBOL, dlclose it. Libraries of
// the same layout are usually mapped where the previous one was; prints "same-base 1" when every
// one was.
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

namespace {

// One call site for every library: the leaks' stacks differ only in the library's frame.
__attribute__((noinline)) void* Keep(void* lib, const char* symbol, size_t n) {
  auto keep = reinterpret_cast<void* (*)(size_t)>(dlsym(lib, symbol));
  return keep ? keep(n) : nullptr;
}

__attribute__((noinline)) uintptr_t LoadAndLeak(const char* path, const char* symbol, size_t n) {
  void* lib = dlopen(path, RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    return 0;
  }
  struct link_map* map = nullptr;
  dlinfo(lib, RTLD_DI_LINKMAP, &map);
  uintptr_t base = map ? map->l_addr : 0;
  if (!Keep(lib, symbol, n)) base = 0;
  dlclose(lib);
  return base;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || chdir(argv[1]) != 0) return 2;
  uintptr_t first = 0;
  bool same = true;
  for (int i = 2; i + 2 < argc; i += 3) {
    uintptr_t base = LoadAndLeak(argv[i], argv[i + 1], strtoul(argv[i + 2], nullptr, 10));
    if (!base) return 1;
    if (!first) first = base;
    same = same && base == first;
  }
  printf("same-base %d\n", same ? 1 : 0);
  return 0;
}
