// vg_aligned [pvalloc]: aligned_alloc, posix_memalign, memalign and valloc at several alignments;
// one block of each entry point is leaked. With "pvalloc", also 10 pvalloc/free pairs and one
// leaked pvalloc: valgrind 3.19 aborts the program at pvalloc, so it is compared without.
#include <malloc.h>
#include <stdlib.h>

void* volatile g_sink;

int main(int argc, char**) {
  for (size_t align = 16; align <= 8192; align *= 2) {
    for (int i = 0; i < 5; ++i) {
      size_t size = align * static_cast<size_t>(i + 1);
      void* p = aligned_alloc(align, size);
      g_sink = p;
      free(p);
      p = nullptr;
      if (posix_memalign(&p, align, size + 3) != 0) return 1;
      g_sink = p;
      free(p);
      p = memalign(align, size + 5);
      g_sink = p;
      free(p);
    }
  }
  for (int i = 0; i < 10; ++i) {
    void* v = valloc(100 + static_cast<size_t>(i));
    g_sink = v;
    free(v);
    if (argc > 1) {
      void* pv = pvalloc(5000 + static_cast<size_t>(i));
      g_sink = pv;
      free(pv);
    }
  }
  void* leaked = nullptr;
  if (posix_memalign(&leaked, 256, 1000) != 0) return 1;
  g_sink = leaked;
  g_sink = aligned_alloc(64, 640);
  g_sink = memalign(128, 300);
  g_sink = valloc(77);
  if (argc > 1) g_sink = pvalloc(99);
  g_sink = nullptr;
  return 0;
}
