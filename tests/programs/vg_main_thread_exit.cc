// vg_main_thread_exit: the main thread allocates, starts a thread and leaves through pthread_exit;
// the thread allocates (leaking one block) and returns. The process ends when its last thread does
// (glibc calls exit(0) then, so atexit handlers run): a profiler's own helper thread must not keep
// it alive.
#include <pthread.h>
#include <stdlib.h>

void* volatile g_sink;

namespace {
void* Work(void*) {
  for (int i = 0; i < 100; ++i) {
    void* p = malloc(static_cast<size_t>(32 + i));
    g_sink = p;
    free(p);
  }
  g_sink = malloc(333);  // leaked
  return nullptr;
}
void AtExit() {
  void* p = malloc(444);
  g_sink = p;
  free(p);
}
}  // namespace

int main() {
  atexit(AtExit);
  void* p = malloc(222);
  g_sink = p;
  free(p);
  pthread_t thread;
  if (pthread_create(&thread, nullptr, Work, nullptr) != 0) return 1;
  pthread_exit(nullptr);
}
