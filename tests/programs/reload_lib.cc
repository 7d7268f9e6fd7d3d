// Built twice (libreload_a.so, libreload_b.so) with RELOAD_KEEP naming the function, so both have
// the same layout: loaded one after the other, the second usually lands at the first's addresses.
#include <stdlib.h>

#ifndef RELOAD_KEEP
#error "build with -DRELOAD_KEEP=reload_a_keep or reload_b_keep"
#endif

// Allocates n bytes and never frees them: a leak whose stack must name this library.
extern "C" __attribute__((noinline)) void* RELOAD_KEEP(size_t n) {
  void* p = malloc(n);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}
