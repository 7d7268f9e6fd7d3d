// many_threads COUNT: creates and joins COUNT threads, 50 at a time; each makes 10 allocations of
// 5555 bytes and names itself.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

namespace {

void* volatile g_sink;

void* Work(void*) {
  pthread_setname_np(pthread_self(), "worker");
  for (int i = 0; i < 10; ++i) {
    void* p = malloc(5555);
    g_sink = p;
    free(p);
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int count = argc > 1 ? atoi(argv[1]) : 1000;
  for (int started = 0; started < count;) {
    pthread_t threads[50];
    int batch = count - started < 50 ? count - started : 50;
    for (int i = 0; i < batch; ++i) {
      if (pthread_create(&threads[i], nullptr, Work, nullptr) != 0) return 1;
    }
    for (int i = 0; i < batch; ++i) pthread_join(threads[i], nullptr);
    started += batch;
  }
  printf("threads %d\n", count);
  return 0;
}
