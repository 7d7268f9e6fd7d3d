// attach_blocked MODE: a program that is blocked in one system call while allocprof attaches, and
// reports how that call returned. Writes "ready\n", then
//   read:          one read(2) of stdin: "read N: TEXT\n", or "read -1: ERROR\n" (EINTR would show);
//   nanosleep MS:  one nanosleep(2) of MS milliseconds: "nanosleep 0, slept the full time\n", or the
//                  error / "too short" (a sleep cut short by the attach), then waits for a line;
//   loader-lock:   a second thread sits in a dl_iterate_phdr callback (holding the loader's lock)
//                  until it has read a line, while the main thread waits for it in pthread_join:
//                  "read N: TEXT\n" (a dlopen injected meanwhile waits for the line too);
//   epoll:         one thread in epoll_wait(2) on a pipe, the main thread in read(2) of stdin; once
//                  it has read, main writes to the pipe: "read N: TEXT\n" and "epoll_wait 1\n"
//                  (the kernel ends epoll_wait with EINTR when a thread is stopped: it would show);
//   epoll-alone:   the main thread alone in epoll_wait(2) on stdin: "epoll_wait 1\n", then the read;
//   no-exec-memory: as read, under a seccomp policy that refuses mprotect to executable (as
//                  SELinux's execmem rule does), so that an injected stub cannot be made executable;
//   signals:       SIGALRM every millisecond (SA_RESTART; its handler makes a system call) while
//                  one read(2) waits: "read N: TEXT\n" and "signals handled: yes\n".
// Then it allocates 10 blocks (so an attached trace has something) and exits 0.
#include <errno.h>
#include <link.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace {

void Say(const std::string& text) {
  ssize_t n = write(1, text.data(), text.size());
  (void)n;
}

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void* volatile g_sink;

std::string ReadOnce() {
  char buf[256];
  ssize_t n = read(0, buf, sizeof(buf) - 1);
  int e = errno;
  return n >= 0 ? "read " + std::to_string(n) + ": " + std::string(buf, static_cast<size_t>(n))
                : "read -1: " + std::string(strerror(e)) + "\n";
}

std::atomic<bool> g_in_callback{false};
std::string g_line;

int HoldLoaderLock(struct dl_phdr_info*, size_t, void*) {
  g_in_callback = true;
  g_line = ReadOnce();
  return 1;
}

void* LoaderLockThread(void*) {
  dl_iterate_phdr(HoldLoaderLock, nullptr);
  return nullptr;
}

std::string EpollWait(int fd) {
  int ep = epoll_create1(0);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  int n = epoll_wait(ep, &ev, 1, -1);
  int e = errno;
  close(ep);
  return "epoll_wait " + std::to_string(n) + (n < 0 ? std::string(": ") + strerror(e) : "") + "\n";
}

int g_pipe[2];
std::string g_epoll;

void* EpollThread(void*) {
  g_epoll = EpollWait(g_pipe[0]);
  return nullptr;
}

bool RefuseExecutableMprotect() {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {sizeof(filter) / sizeof(filter[0]), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

std::atomic<long> g_signals{0};

void OnAlarm(int) {
  g_signals.fetch_add(1);
  (void)getppid();  // a system call inside the handler
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "read" || mode == "no-exec-memory") {
    if (mode == "no-exec-memory" && !RefuseExecutableMprotect()) return 3;
    Say("ready\n");
    Say(ReadOnce());
  } else if (mode == "loader-lock") {
    pthread_t holder;
    if (pthread_create(&holder, nullptr, LoaderLockThread, nullptr) != 0) return 3;
    while (!g_in_callback) sched_yield();
    Say("ready\n");
    pthread_join(holder, nullptr);
    Say(g_line);
  } else if (mode == "epoll") {
    if (pipe(g_pipe) != 0) return 3;
    pthread_t waiter;
    if (pthread_create(&waiter, nullptr, EpollThread, nullptr) != 0) return 3;
    Say("ready\n");
    std::string line = ReadOnce();
    if (write(g_pipe[1], "x", 1) != 1) return 3;
    pthread_join(waiter, nullptr);
    Say(line + g_epoll);
  } else if (mode == "epoll-alone") {
    Say("ready\n");
    Say(EpollWait(0));
    Say(ReadOnce());
  } else if (mode == "signals") {
    struct sigaction sa = {};
    sa.sa_handler = OnAlarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, nullptr);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &every_ms, nullptr);
    Say("ready\n");
    std::string line = ReadOnce();
    struct itimerval off = {};
    setitimer(ITIMER_REAL, &off, nullptr);
    Say(line + "signals handled: " + (g_signals > 0 ? "yes\n" : "no\n"));
  } else if (mode == "nanosleep" && argc > 2) {
    long ms = atol(argv[2]);
    Say("ready\n");
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    double start = Now();
    int rc = nanosleep(&ts, nullptr);
    int e = errno;
    double slept = Now() - start;
    if (rc != 0) {
      Say("nanosleep " + std::to_string(rc) + ": " + strerror(e) + "\n");
    } else {
      Say(slept >= static_cast<double>(ms) / 1000 ? "nanosleep 0, slept the full time\n" : "nanosleep 0, too short\n");
    }
    char c;
    while (read(0, &c, 1) == 1 && c != '\n') {
    }
  } else {
    Say("usage: attach_blocked read|nanosleep MS|loader-lock|epoll|epoll-alone|no-exec-memory|signals\n");
    return 2;
  }
  for (int i = 0; i < 10; ++i) {
    g_sink = malloc(100 + static_cast<size_t>(i));
    free(g_sink);
  }
  return 0;
}
