// fork_handler_ticker: in a forked child, a SIGUSR1 handler makes 200,000 malloc/free pairs (many
// full trace buffers), then the child's main line makes as many. It prints how many threads the
// process gained while the handler ran and how many it has at the end:
//   in-handler N
//   threads-at-end M
// A profiler must not create its helper thread from inside a signal handler (pthread_create is
// not async-signal-safe: the handler may have interrupted pthread_create itself); alone, the child
// prints "in-handler 0" and "threads-at-end 1".
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

volatile int g_in_handler = -1;

// /proc/self/status's Threads: line, read with async-signal-safe calls only.
int Threads() {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* p = strstr(buf, "\nThreads:");
  return p ? atoi(p + 9) : -1;
}

__attribute__((noinline)) void Churn(int n) {
  for (int i = 0; i < n; ++i) {
    void* p = malloc(64 + (i & 63));
    __asm__ volatile("" : : "r"(p) : "memory");
    free(p);
  }
}

void OnUsr1(int) {
  int before = Threads();
  Churn(200000);
  g_in_handler = Threads() - before;
}

}  // namespace

int main() {
  pid_t child = fork();
  if (child < 0) return 2;
  if (child > 0) {
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnUsr1;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR1, &sa, nullptr) != 0) return 2;
  raise(SIGUSR1);
  Churn(200000);
  printf("in-handler %d\nthreads-at-end %d\n", g_in_handler, Threads());
  return 0;
}
