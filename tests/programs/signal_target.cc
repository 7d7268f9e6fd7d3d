// signal_target MODE [ARGS]: a program to stop with signals. Each mode allocates what the test
// counts, prints "ready" on stdout once it has, and then waits for a signal.
//   wait                 default dispositions: allocates 10 blocks of 4242 bytes
//   threads N K          N threads allocate K blocks each (thread i: 1000 + i bytes, kept) and block
//   churn N              N threads allocate and free without end (the signal lands inside the shim)
//   own-handler SIG      prints the disposition it finds, installs its own handler for SIG, which
//                        prints "handled" and exits 3
//   reset-and-raise SIG  installs a handler, resets SIG to SIG_DFL with signal(), raises SIG
//   count-int [own-group]  counts SIGINTs ("got N" each); SIGTERM exits with the count; with
//                        own-group it first leaves its parent's process group
//   segv | abort | double-free   allocates 100 blocks of 555 bytes, then crashes that way
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <vector>

namespace {

void Say(const char* text) { (void)!write(1, text, strlen(text)); }

[[noreturn]] void WaitForever() {
  for (;;) pause();
}

int SignalByName(const char* name) {
  for (int s = 1; s < 32; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (abbrev && strcmp(abbrev, name) == 0) return s;
  }
  return 0;
}

void Keep(size_t n, size_t size) {
  static std::vector<void*>* kept = new std::vector<void*>;
  for (size_t i = 0; i < n; ++i) {
    void* p = malloc(size);
    memset(p, 1, size);
    kept->push_back(p);
  }
}

std::atomic<int> g_ready_threads{0};
long g_per_thread = 0;

void* Hold(void* arg) {
  auto i = reinterpret_cast<size_t>(arg);
  std::vector<void*> mine;
  for (long k = 0; k < g_per_thread; ++k) mine.push_back(malloc(1000 + i));
  g_ready_threads.fetch_add(1);
  WaitForever();
}

void* Churn(void*) {
  void* slots[64] = {nullptr};
  for (unsigned long k = 0;; ++k) {
    free(slots[k % 64]);
    slots[k % 64] = malloc(16 + k % 1000);
    if (k == 1000) g_ready_threads.fetch_add(1);
  }
}

volatile sig_atomic_t g_ints = 0;
void OnInt(int) { g_ints = g_ints + 1; }
void OnTerm(int) { _exit(g_ints); }
void OnOwn(int) {
  Say("handled\n");
  _exit(3);
}

void StartThreads(int n, void* (*fn)(void*)) {
  for (int i = 0; i < n; ++i) {
    pthread_t t;
    pthread_create(&t, nullptr, fn, reinterpret_cast<void*>(static_cast<size_t>(i)));
  }
  while (g_ready_threads.load() < n) sched_yield();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  // The crash modes must not leave core files behind.
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  const char* mode = argv[1];
  if (strcmp(mode, "wait") == 0) {
    Keep(10, 4242);
    Say("ready\n");
    WaitForever();
  }
  if (strcmp(mode, "threads") == 0 && argc == 4) {
    g_per_thread = atol(argv[3]);
    StartThreads(atoi(argv[2]), Hold);
    Say("ready\n");
    WaitForever();
  }
  if (strcmp(mode, "churn") == 0 && argc == 3) {
    StartThreads(atoi(argv[2]), Churn);
    Say("ready\n");
    WaitForever();
  }
  if (strcmp(mode, "own-handler") == 0 && argc == 3) {
    int sig = SignalByName(argv[2]);
    struct sigaction old;
    sigaction(sig, nullptr, &old);
    Say(old.sa_handler == SIG_DFL   ? "before: default\n"
        : old.sa_handler == SIG_IGN ? "before: ignored\n"
                                    : "before: a handler\n");
    signal(sig, OnOwn);
    Keep(10, 4242);
    Say("ready\n");
    WaitForever();
  }
  if (strcmp(mode, "reset-and-raise") == 0 && argc == 3) {
    int sig = SignalByName(argv[2]);
    signal(sig, OnOwn);
    void (*previous)(int) = signal(sig, SIG_DFL);
    Say(previous == OnOwn ? "reset\n" : "reset: unexpected previous handler\n");
    struct sigaction now;
    sigaction(sig, nullptr, &now);
    Say(now.sa_handler == SIG_DFL ? "now: default\n" : "now: not default\n");
    Keep(10, 4242);
    raise(sig);
    return 4;
  }
  if (strcmp(mode, "count-int") == 0) {
    if (argc == 3 && strcmp(argv[2], "own-group") == 0) setpgid(0, 0);
    // SIGTERM waits while a SIGINT is handled: both pending, the kernel would otherwise stack the
    // SIGTERM handler on top of the SIGINT one and run it first.
    struct sigaction on_int;
    memset(&on_int, 0, sizeof(on_int));
    on_int.sa_handler = OnInt;
    sigemptyset(&on_int.sa_mask);
    sigaddset(&on_int.sa_mask, SIGTERM);
    on_int.sa_flags = SA_RESTART;
    sigaction(SIGINT, &on_int, nullptr);
    signal(SIGTERM, OnTerm);
    // SIGINT is let in only while waiting for it, so none is missed between a check and the wait.
    sigset_t only_int, waiting;
    sigemptyset(&only_int);
    sigaddset(&only_int, SIGINT);
    sigprocmask(SIG_BLOCK, &only_int, &waiting);
    Say("ready\n");
    for (int seen = 0;;) {
      sigsuspend(&waiting);
      if (g_ints != seen) {
        seen = g_ints;
        char line[32];
        snprintf(line, sizeof(line), "got %d\n", seen);
        Say(line);
      }
    }
  }
  if (strcmp(mode, "segv") == 0 || strcmp(mode, "abort") == 0 || strcmp(mode, "double-free") == 0) {
    Keep(100, 555);
    Say("crashing\n");
    if (mode[0] == 's') *static_cast<volatile int*>(nullptr) = 1;
    if (mode[0] == 'a') abort();
    char* p = static_cast<char*>(malloc(64));
    free(p);
    free(p);  // glibc detects it inside free and aborts
    return 5;
  }
  return 2;
}
