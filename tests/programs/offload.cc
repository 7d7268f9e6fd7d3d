// offload MODE N: fills many trace buffers, then ends a thread, forks or dies while (under
// ALLOCPROF_TEST_OFFLOAD=hold) a sealed chunk waits to be written. Every block is freed a window
// of 64 allocations later, so frees refer back across chunk boundaries.
//   threads N  4 threads each make N allocations of 1111 bytes
//   exit N     a thread makes N allocations of 1111 bytes and ends; then main makes 100 of 3333
//   fork N     N allocations of 1111 bytes, then fork: the child makes 100 of 2222 and exits, the
//              parent waits for it and makes 100 of 3333
//   signal N   N allocations of 1111 bytes, then raise(SIGTERM)
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

void* volatile g_sink;

// n allocations of `size`, each freed 64 allocations later (the last 64 at the end).
void Churn(size_t size, long n) {
  void* window[64] = {};
  for (long i = 0; i < n; ++i) {
    void*& slot = window[i % 64];
    free(slot);
    slot = malloc(size);
    g_sink = slot;
  }
  for (void* p : window) free(p);
}

long g_n = 0;

void* Worker(void*) {
  Churn(1111, g_n);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  g_n = argc > 2 ? atol(argv[2]) : 100000;
  if (!strcmp(mode, "threads") || !strcmp(mode, "exit")) {
    int count = !strcmp(mode, "threads") ? 4 : 1;
    pthread_t threads[4];
    for (int i = 0; i < count; ++i) pthread_create(&threads[i], nullptr, Worker, nullptr);
    for (int i = 0; i < count; ++i) pthread_join(threads[i], nullptr);
    if (count == 1) Churn(3333, 100);
  } else if (!strcmp(mode, "fork")) {
    Churn(1111, g_n);
    pid_t pid = fork();
    if (pid == 0) {
      Churn(2222, 100);
      exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    Churn(3333, 100);
  } else if (!strcmp(mode, "signal")) {
    Churn(1111, g_n);
    raise(SIGTERM);
    return 1;  // not reached
  } else {
    fprintf(stderr, "usage: offload threads|exit|fork|signal [N]\n");
    return 2;
  }
  printf("done\n");
  return 0;
}
