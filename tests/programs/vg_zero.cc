// vg_zero: zero-size allocations through every entry point that takes a size: each returns a
// unique block (glibc's minimum chunk) that counts as an allocation and is freed; two are leaked.
#include <malloc.h>
#include <stdlib.h>

#include <new>

void* volatile g_sink;

int main() {
  for (int i = 0; i < 10; ++i) {
    void* p = malloc(0);
    g_sink = p;
    free(p);
    p = calloc(0, 16);
    free(p);
    p = calloc(16, 0);
    free(p);
    p = realloc(nullptr, 0);
    free(p);
    p = aligned_alloc(64, 0);
    free(p);
    p = nullptr;
    if (posix_memalign(&p, 32, 0) != 0) return 1;
    free(p);
    p = memalign(128, 0);
    free(p);
    p = ::operator new(0);
    ::operator delete(p);
    char* a = new char[0];
    g_sink = a;
    delete[] a;
  }
  g_sink = malloc(0);   // leaked
  g_sink = new int[0];  // leaked
  g_sink = nullptr;
  return 0;
}
