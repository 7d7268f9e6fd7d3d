// attach_threads: 4 threads allocate and free without pause while the test attaches. Writes
// "ready\n" once every thread runs, waits for a line on stdin, lets every thread make 100 more
// rounds (so each allocates after an attach that came before the line), stops them, and writes how
// many blocks each one allocated ("done N N N N\n"). Every block is freed by the thread that made it.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

namespace {

constexpr int kThreads = 4;
std::atomic<bool> g_stop{false};
std::atomic<int> g_running{0};
std::atomic<unsigned long> g_counts[kThreads];

void* Work(void* arg) {
  auto index = reinterpret_cast<long>(arg);
  g_running.fetch_add(1);
  void* volatile p;
  while (!g_stop.load(std::memory_order_relaxed)) {
    p = malloc(77 + index);
    free(p);
    int* a = new int[5];
    p = a;
    delete[] a;
    g_counts[index].fetch_add(1, std::memory_order_relaxed);
  }
  return nullptr;
}

}  // namespace

int main() {
  pthread_t threads[kThreads];
  for (long i = 0; i < kThreads; ++i) pthread_create(&threads[i], nullptr, Work, reinterpret_cast<void*>(i));
  while (g_running.load() < kThreads) sched_yield();
  if (write(1, "ready\n", 6) != 6) return 2;
  char c;
  while (read(0, &c, 1) == 1 && c != '\n') {
  }
  unsigned long at_line[kThreads];
  for (int i = 0; i < kThreads; ++i) at_line[i] = g_counts[i].load();
  for (int i = 0; i < kThreads; ++i) {
    while (g_counts[i].load() < at_line[i] + 100) sched_yield();
  }
  g_stop.store(true);
  for (auto& t : threads) pthread_join(t, nullptr);
  char line[128];
  int n = snprintf(line, sizeof(line), "done %lu %lu %lu %lu\n", g_counts[0].load(), g_counts[1].load(),
                   g_counts[2].load(), g_counts[3].load());
  return write(1, line, static_cast<size_t>(n)) == n ? 0 : 3;
}
