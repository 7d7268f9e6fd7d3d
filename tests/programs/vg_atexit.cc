// vg_atexit: allocations after main returns: atexit and on_exit handlers, a destructor function, a
// static object's destructor and a thread_local's destructor on the main thread allocate (and
// free, some leak). They happen while the process exits, after the program's last own call.
#include <stdlib.h>

#include <string>
#include <vector>

void* volatile g_sink;

namespace {
void Churn(size_t size, int count, int leaked) {
  for (int i = 0; i < count; ++i) {
    void* p = malloc(size);
    g_sink = p;
    if (i >= leaked) free(p);
  }
}

struct Global {
  ~Global() { Churn(501, 10, 1); }
} g_global;

struct PerThread {
  std::vector<int> held = std::vector<int>(100);
  ~PerThread() { Churn(502, 10, 1); }
};
thread_local PerThread t_per_thread;

void AtExit() { Churn(503, 10, 1); }
void OnExit(int, void*) { Churn(504, 10, 1); }
__attribute__((destructor)) void Destructor() { Churn(505, 10, 1); }
}  // namespace

int main() {
  g_sink = &t_per_thread;
  atexit(AtExit);
  on_exit(OnExit, nullptr);
  Churn(500, 10, 1);
  return 0;
}
