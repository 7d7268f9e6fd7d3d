// signal_alloc [THREADS] [ROUNDS]: signal handlers that allocate while their thread allocates too,
// with a handler on every thread. THREADS threads (default 4, the main thread one of them) each make
// ROUNDS (default 100000) malloc/free pairs of 25..201 bytes, while a timer of its own sends that
// thread SIGALRM every 50 µs; the handler makes malloc(2047), realloc to 3001 and frees it. It counts both and prints,
// at the end:
//   handler allocations H
//   loop allocations L
// Without a profiler it never deadlocks: the loop's sizes are served from glibc's per-thread cache
// (warmed first, never more blocks of a size live than it holds), so the loop never holds an arena
// lock, and the handler's larger blocks take only the arena's lock. Anything else on the thread
// that holds it (a profiler allocating for itself) makes the handler wait forever.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

std::atomic<unsigned long> g_handler_allocations{0};
std::atomic<unsigned long> g_loop_allocations{0};

void OnAlarm(int) {
  char* p = static_cast<char*>(malloc(2047));
  if (!p) return;
  memset(p, 1, 2047);
  char* q = static_cast<char*>(realloc(p, 3001));
  if (!q) {
    free(p);
    return;
  }
  q[3000] = 2;
  free(q);
  g_handler_allocations.fetch_add(2, std::memory_order_relaxed);
}

constexpr size_t kSizes[] = {25, 41, 73, 137, 201};

void Loop(long rounds) {
  // Warm glibc's per-thread cache for the loop's sizes (and the handler's first block) so the loop
  // is served from it: two blocks of each size, freed.
  for (size_t size : kSizes) {
    void* a = malloc(size);
    void* b = malloc(size);
    free(a);
    free(b);
  }
  g_loop_allocations.fetch_add(2 * (sizeof(kSizes) / sizeof(kSizes[0])), std::memory_order_relaxed);

  struct sigevent ev;
  memset(&ev, 0, sizeof(ev));
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGALRM;
  ev._sigev_un._tid = gettid();  // sigev_notify_thread_id (glibc 2.36 lacks the name)
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) {
    perror("timer_create");
    exit(2);
  }
  struct itimerspec every = {{0, 50000}, {0, 50000}};
  timer_settime(timer, 0, &every, nullptr);
  unsigned long made = 0;
  for (long i = 0; i < rounds; ++i) {
    size_t size = kSizes[i % 5];
    auto* p = static_cast<volatile char*>(malloc(size));
    p[0] = static_cast<char>(i);
    free(const_cast<char*>(p));
    ++made;
  }
  timer_delete(timer);
  g_loop_allocations.fetch_add(made, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  long rounds = argc > 2 ? atol(argv[2]) : 100000;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);

  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads));
  for (int t = 1; t < threads; ++t) workers.emplace_back(Loop, rounds);
  Loop(rounds);
  for (auto& w : workers) w.join();
  // A signal of a deleted timer may still be pending: take it before printing.
  sigset_t alarm;
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  sigprocmask(SIG_BLOCK, &alarm, nullptr);
  char line[128];
  int n = snprintf(line, sizeof(line), "handler allocations %lu\nloop allocations %lu\n", g_handler_allocations.load(),
                   g_loop_allocations.load());
  (void)!write(1, line, static_cast<size_t>(n));
  return 0;
}
