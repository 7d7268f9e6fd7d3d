/* dlopen_deps: for libm.so.6 and libzstd.so.1 in turn, dlopen it, call one of its functions, dlclose
 * it, and say whether it was loaded before the dlopen and after the dlclose. Written in C and linked
 * with neither, so that without a profiler both are loaded by the dlopen alone (a C++ program has
 * libm through libstdc++). The shim must not have loaded them either: the loader's allocations for
 * them (about 6 blocks each, freed at dlclose) are the program's, and valgrind counts them. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

/* Whether a module whose path ends in /NAME is loaded; dl_iterate_phdr allocates nothing. */
static int Visit(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  const char* name = data;
  const char* slash = strrchr(info->dlpi_name, '/');
  return slash && strcmp(slash + 1, name) == 0;
}
static int Loaded(const char* name) { return dl_iterate_phdr(Visit, (void*)name); }

/* Loads NAME, calls SYMBOL (a double(double) for libm, an unsigned(void) for libzstd), unloads it. */
static int Cycle(const char* name, const char* symbol) {
  int before = Loaded(name);
  void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen %s: %s\n", name, dlerror());
    return 1;
  }
  void* fn = dlsym(lib, symbol);
  if (!fn) {
    fprintf(stderr, "dlsym %s: %s\n", symbol, dlerror());
    return 1;
  }
  long result = strcmp(name, "libm.so.6") == 0 ? (long)((double (*)(double))fn)(0.0)
                                               : (long)((unsigned (*)(void))fn)() > 0;
  dlclose(lib);
  printf("%s: loaded before dlopen %s, %s %ld, loaded after dlclose %s\n", name, before ? "yes" : "no", symbol,
         result, Loaded(name) ? "yes" : "no");
  return 0;
}

int main(void) {
  if (Cycle("libm.so.6", "cos") != 0) return 1;
  if (Cycle("libzstd.so.1", "ZSTD_versionNumber") != 0) return 1;
  return 0;
}
