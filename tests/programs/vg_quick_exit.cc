// vg_quick_exit: ends through quick_exit after allocating; an at_quick_exit handler allocates and
// frees, and leaks one block. quick_exit calls _exit from inside libc (no interposed _exit sees it)
// and runs no atexit handler or destructor: the trace must still end with every event.
#include <stdlib.h>

void* volatile g_sink;

namespace {
void Churn(size_t size, int count, int leaked) {
  for (int i = 0; i < count; ++i) {
    void* p = malloc(size);
    g_sink = p;
    if (i >= leaked) free(p);
  }
}
void OnQuickExit() { Churn(701, 10, 1); }
}  // namespace

int main() {
  at_quick_exit(OnQuickExit);
  Churn(700, 50, 2);
  quick_exit(0);
}
