// vg_large: blocks above glibc's mmap threshold (each its own mapping), calloc of large zeroed
// blocks, and realloc of a mapped block up and down across the threshold; one is leaked.
#include <stdlib.h>
#include <string.h>

void* volatile g_sink;

int main() {
  for (int i = 0; i < 10; ++i) {
    size_t n = (static_cast<size_t>(1) << 20) + static_cast<size_t>(i) * 4096;
    char* p = static_cast<char*>(malloc(n));
    p[n - 1] = 1;
    char* z = static_cast<char*>(calloc(n / 8, 8));
    if (z[n / 2]) return 1;
    p = static_cast<char*>(realloc(p, 2 * n));
    p = static_cast<char*>(realloc(p, 1000));  // back under the threshold
    p = static_cast<char*>(realloc(p, 300000));
    g_sink = p;
    free(p);
    free(z);
  }
  g_sink = malloc(200000);  // leaked
  return 0;
}
