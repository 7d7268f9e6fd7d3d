// signal_stack: a SIGUSR1 handler (installed with sigaction, so it runs through the shim's
// trampoline) allocates 1234 bytes and keeps them; main raises the signal 3 times, a second thread
// 2 times. The handler's stacks must start at OnUsr1, with no frame of the shim or of the signal
// return trampoline (__restore_rt).
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace {

void* g_kept[8];
volatile sig_atomic_t g_count = 0;

__attribute__((noinline)) void OnUsr1(int) {
  void* p = malloc(1234);
  __asm__ volatile("" : : "r"(p) : "memory");
  if (g_count < 8) g_kept[g_count] = p;
  g_count = g_count + 1;
}

__attribute__((noinline)) void RaiseFromHere(int n) {
  for (int i = 0; i < n; ++i) raise(SIGUSR1);
}

void* Thread(void*) {
  RaiseFromHere(2);
  return nullptr;
}

}  // namespace

int main() {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnUsr1;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR1, &sa, nullptr) != 0) return 2;
  RaiseFromHere(3);
  pthread_t t;
  if (pthread_create(&t, nullptr, Thread, nullptr) != 0) return 2;
  pthread_join(t, nullptr);
  printf("handler allocations %d\n", static_cast<int>(g_count));
  return 0;
}
