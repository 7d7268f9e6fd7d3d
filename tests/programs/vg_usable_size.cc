// vg_usable_size: malloc_usable_size on blocks of many sizes, and writes into the whole usable
// size; asking is not an allocation. One block is leaked.
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void* volatile g_sink;

int main() {
  size_t total = 0;
  for (size_t n = 1; n < 5000; n = n * 3 + 1) {
    char* p = static_cast<char*>(malloc(n));
    size_t usable = malloc_usable_size(p);
    if (usable < n) return 1;
    memset(p, 0, n);
    total += usable;
    free(p);
  }
  total += malloc_usable_size(nullptr);
  g_sink = malloc(total % 1000 + 1);  // leaked
  return 0;
}
