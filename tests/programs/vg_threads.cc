// vg_threads: threads that allocate and exit, joined and detached. Each thread makes 100
// malloc/free pairs and leaks one block; the program waits until every detached thread has fully
// exited (the kernel reports its id gone), so its exit-time frees are in the counts too.
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

void* volatile g_sink;

namespace {
constexpr int kThreads = 4;
std::atomic<pid_t> g_tids[kThreads];

void* Work(void* arg) {
  long index = reinterpret_cast<long>(arg);
  g_tids[index].store(static_cast<pid_t>(syscall(SYS_gettid)));
  for (int i = 0; i < 100; ++i) {
    void* p = malloc(static_cast<size_t>(16 + i + index));
    g_sink = p;
    free(p);
  }
  g_sink = malloc(1000 + static_cast<size_t>(index));  // leaked
  return nullptr;
}

bool Gone(pid_t tid) { return syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH; }
}  // namespace

int main() {
  pthread_t joined[kThreads];
  for (long i = 0; i < kThreads; ++i) {
    if (pthread_create(&joined[i], nullptr, Work, reinterpret_cast<void*>(i)) != 0) return 1;
  }
  for (pthread_t t : joined) pthread_join(t, nullptr);
  for (auto& tid : g_tids) tid.store(0);
  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  for (long i = 0; i < kThreads; ++i) {
    pthread_t t;
    if (pthread_create(&t, &detached, Work, reinterpret_cast<void*>(i)) != 0) return 1;
  }
  pthread_attr_destroy(&detached);
  for (auto& tid : g_tids) {
    while (tid.load() == 0) sched_yield();
    while (!Gone(tid.load())) sched_yield();
  }
  return 0;
}
