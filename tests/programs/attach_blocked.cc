// attach_blocked read|nanosleep MS: a program that is blocked in one system call while allocprof
// attaches, and reports how that call returned. Writes "ready\n", then
//   read:          one read(2) of stdin: "read N: TEXT\n", or "read -1: ERROR\n" (EINTR would show);
//   nanosleep MS:  one nanosleep(2) of MS milliseconds: "nanosleep 0, slept the full time\n", or the
//                  error / "too short" (a sleep cut short by the attach), then waits for a line.
// Then it allocates 10 blocks (so an attached trace has something) and exits 0.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "read") {
    Say("ready\n");
    char buf[256];
    ssize_t n = read(0, buf, sizeof(buf) - 1);
    int e = errno;
    Say(n >= 0 ? "read " + std::to_string(n) + ": " + std::string(buf, static_cast<size_t>(n))
               : "read -1: " + std::string(strerror(e)) + "\n");
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
    Say("usage: attach_blocked read|nanosleep MS\n");
    return 2;
  }
  for (int i = 0; i < 10; ++i) {
    g_sink = malloc(100 + static_cast<size_t>(i));
    free(g_sink);
  }
  return 0;
}
