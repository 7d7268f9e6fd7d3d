// attach_target [PLUGIN]: a program for `allocprof attach` tests. Allocates blocks, writes
// "ready\n" to stdout and waits for a line on stdin (the test attaches meanwhile); then frees every
// block it made before (65 frees of memory the trace never saw allocated, 5 of them by realloc),
// makes kAfterAttach allocations and frees them all, optionally dlopens PLUGIN, allocates 6789 bytes
// through it and dlcloses it, writes "done\n" and exits 0. Only read(2)/write(2): no stdio buffers.
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <new>

namespace {

constexpr int kMallocBefore = 40, kNewBefore = 20, kReallocBefore = 5;
// After the attach: 5 reallocs + 1000 malloc + 500 new[] + 100 calloc + 50 posix_memalign + 200 new.
struct Object {
  char bytes[48];
};

void* volatile g_sink;  // keeps the compiler from pairing and removing allocations

void Say(const char* text) {
  ssize_t n = write(1, text, strlen(text));
  (void)n;
}

bool WaitForLine() {
  char c;
  for (;;) {
    ssize_t n = read(0, &c, 1);
    if (n == 1 && c == '\n') return true;
    if (n == 0) return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  void* before_malloc[kMallocBefore];
  char* before_new[kNewBefore];
  void* before_realloc[kReallocBefore];
  for (int i = 0; i < kMallocBefore; ++i) before_malloc[i] = malloc(1000 + i);
  for (int i = 0; i < kNewBefore; ++i) before_new[i] = new char[2000 + i];
  for (int i = 0; i < kReallocBefore; ++i) before_realloc[i] = malloc(3000 + i);
  Say("ready\n");
  if (!WaitForLine()) return 3;

  for (int i = 0; i < kMallocBefore; ++i) free(before_malloc[i]);
  for (int i = 0; i < kNewBefore; ++i) delete[] before_new[i];
  for (int i = 0; i < kReallocBefore; ++i) {
    void* grown = realloc(before_realloc[i], 50000 + i);
    if (!grown) return 4;
    free(grown);
  }
  for (int i = 0; i < 1000; ++i) {
    g_sink = malloc(333);
    free(g_sink);
  }
  for (int i = 0; i < 500; ++i) {
    int* a = new int[7];
    g_sink = a;
    delete[] a;
  }
  for (int i = 0; i < 100; ++i) {
    g_sink = calloc(10, 17);
    free(g_sink);
  }
  for (int i = 0; i < 50; ++i) {
    void* p = nullptr;
    if (posix_memalign(&p, 64, 4096) != 0) return 5;
    g_sink = p;
    free(p);
  }
  for (int i = 0; i < 200; ++i) {
    Object* o = new Object;
    g_sink = o;
    delete o;
  }
  if (argc > 1) {
    void* lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) return 6;
    auto allocate = reinterpret_cast<void* (*)(size_t)>(dlsym(lib, "plugin_allocate"));
    if (!allocate) return 7;
    free(allocate(6789));
    dlclose(lib);
  }
  Say("done\n");
  return 0;
}
