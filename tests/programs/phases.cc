// Deterministic allocations in phases separated by marks, for capture control and analysis windows.
//
//   warmup: 100 x malloc(64), kept                                  then mark "warmup-done"
//   steady: 1000 x malloc(128), 600 of them freed; 40 warmup blocks freed   then mark "steady-end"
//   tail:   10 x malloc(256), freed; then everything still allocated is freed
//
// phases [--interactive]: with --interactive, before each phase prints "phase N PID" on stdout and
// waits for a line on stdin (the test drives `allocprof ctl` in between). Only read/write, no
// stdio: the program allocates nothing but the blocks above.
//
// phases --churn THREADS: THREADS threads malloc/realloc/free in a loop until stdin reaches EOF;
// each line read on stdin is answered with "ok" once every thread has done another 1000 rounds.
//
// phases --forked-child: forks; the child makes 2000 malloc/free pairs, prints "phase 1 PID" (its
// own pid) and waits for a line, then makes 1000 malloc(128), frees them and prints "done"; the
// parent waits for it and allocates nothing itself.
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "allocprof/pool.h"

namespace {

void Say(const char* text) { (void)!write(1, text, strlen(text)); }

// Reads one line from stdin; false at EOF.
bool WaitLine() {
  char c;
  for (;;) {
    ssize_t n = read(0, &c, 1);
    if (n <= 0) return false;
    if (c == '\n') return true;
  }
}

void Phase(bool interactive, int n) {
  if (!interactive) return;
  char text[64] = "phase ";
  size_t len = strlen(text);
  text[len++] = static_cast<char>('0' + n);
  text[len++] = ' ';
  char digits[24];
  int d = 0;
  for (long pid = getpid(); pid; pid /= 10) digits[d++] = static_cast<char>('0' + pid % 10);
  while (d) text[len++] = digits[--d];
  text[len++] = '\n';
  text[len] = '\0';
  Say(text);
  WaitLine();
}

void* volatile g_sink;

int Churn(int threads) {
  std::atomic<bool> stop{false};
  std::vector<std::atomic<uint64_t>> rounds(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      uint64_t k = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        void* p = malloc(32 + (k % 64) * 16);
        g_sink = p;
        p = realloc(p, 64 + (k % 32) * 32);
        g_sink = p;
        free(p);
        rounds[static_cast<size_t>(i)].store(++k, std::memory_order_release);
      }
    });
  }
  while (WaitLine()) {
    std::vector<uint64_t> seen;
    for (auto& r : rounds) seen.push_back(r.load(std::memory_order_acquire));
    for (size_t i = 0; i < rounds.size(); ++i) {
      while (rounds[i].load(std::memory_order_acquire) < seen[i] + 1000) std::this_thread::yield();
    }
    Say("ok\n");
  }
  stop.store(true);
  for (auto& w : workers) w.join();
  return 0;
}

int ForkedChild() {
  pid_t child = fork();
  if (child == 0) {
    for (int i = 0; i < 2000; ++i) {
      g_sink = malloc(48);
      free(g_sink);
    }
    Phase(true, 1);
    void* steady[1000];
    for (auto& p : steady) p = malloc(128);
    for (auto& p : steady) free(p);
    Say("done\n");
    _exit(0);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--churn") == 0) return Churn(atoi(argv[2]));
  if (argc == 2 && strcmp(argv[1], "--forked-child") == 0) return ForkedChild();
  bool interactive = argc == 2 && strcmp(argv[1], "--interactive") == 0;
  void* warm[100];
  void* steady[1000];
  void* tail[10];
  Phase(interactive, 1);
  for (auto& p : warm) p = malloc(64);
  allocprof_mark("warmup-done");
  Phase(interactive, 2);
  for (auto& p : steady) p = malloc(128);
  for (int i = 0; i < 600; ++i) free(steady[i]);
  for (int i = 0; i < 40; ++i) free(warm[i]);
  allocprof_mark("steady-end");
  Phase(interactive, 3);
  for (auto& p : tail) p = malloc(256);
  for (auto& p : tail) free(p);
  for (int i = 600; i < 1000; ++i) free(steady[i]);
  for (int i = 40; i < 100; ++i) free(warm[i]);
  Say("done\n");
  return 0;
}
