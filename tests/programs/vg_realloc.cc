// vg_realloc: malloc/calloc/realloc chains, realloc(NULL, n), realloc(p, 0), reallocarray; two of
// the chains' blocks are leaked. A case of the valgrind comparison (tests/integration/valgrind_test.cc).
#include <stdlib.h>
#include <string.h>

void* volatile g_sink;

int main() {
  for (int round = 0; round < 20; ++round) {
    char* p = static_cast<char*>(realloc(nullptr, 16));  // realloc as malloc
    for (size_t n = 32; n <= 64 * 1024; n *= 2) {        // a growing chain: each step frees the old block
      p = static_cast<char*>(realloc(p, n));
      p[n - 1] = 1;
    }
    p = static_cast<char*>(realloc(p, 24));  // shrink
    g_sink = realloc(p, 0);                  // realloc(p, 0): frees p (glibc), returns null
    void* c = calloc(10, 100);
    c = realloc(c, 5000);
    int* a = static_cast<int*>(reallocarray(nullptr, 10, sizeof(int)));
    a = static_cast<int*>(reallocarray(a, 1000, sizeof(int)));
    a[999] = round;
    g_sink = a;
    free(a);
    free(c);
  }
  g_sink = realloc(malloc(100), 200);          // leaked
  g_sink = reallocarray(calloc(3, 7), 9, 11);  // leaked
  g_sink = nullptr;
  return 0;
}
