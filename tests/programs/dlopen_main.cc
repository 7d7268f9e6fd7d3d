// dlopen_main LIB [deepbind] [ROUNDS]: loads LIB (optionally with RTLD_DEEPBIND), allocates 6789
// bytes through it, unloads it; ROUNDS times.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int flags = RTLD_NOW;
  if (argc > 2 && !strcmp(argv[2], "deepbind")) flags |= RTLD_DEEPBIND;
  int rounds = argc > 3 ? atoi(argv[3]) : 1;
  for (int i = 0; i < rounds; ++i) {
    void* lib = dlopen(argv[1], flags);
    if (!lib) {
      fprintf(stderr, "dlopen: %s\n", dlerror());
      return 1;
    }
    auto allocate = reinterpret_cast<void* (*)(size_t)>(dlsym(lib, "plugin_allocate"));
    if (!allocate) return 1;
    free(allocate(6789));
    dlclose(lib);
  }
  printf("loaded %d\n", rounds);
  return 0;
}
