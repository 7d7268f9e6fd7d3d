// exits MODE: ways a process ends.
//   _exit N    makes N allocations of 7777 bytes, keeps them, calls _exit(3)
//   loop       allocates 8888-byte blocks forever, printing "ready PID" after the first 100000
//   errno      checks that malloc/free/new leave errno alone
//   static     allocates in static constructors and destructors (sizes 9991 and 9992)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace {

void* volatile g_sink;

struct StaticUser {
  void* p;
  StaticUser() : p(malloc(9991)) {}
  ~StaticUser() {
    free(p);
    g_sink = malloc(9992);  // after main, during exit
  }
} g_static_user;

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "_exit")) {
    int n = argc > 2 ? atoi(argv[2]) : 100;
    for (int i = 0; i < n; ++i) g_sink = malloc(7777);
    fflush(stdout);
    _exit(3);
  }
  if (!strcmp(mode, "loop")) {
    for (long i = 0;; ++i) {
      void* p = malloc(8888);
      g_sink = p;
      free(p);
      if (i == 100000) {
        printf("ready %d\n", getpid());
        fflush(stdout);
      }
    }
  }
  if (!strcmp(mode, "errno")) {
    for (int i = 0; i < 1000; ++i) {
      errno = 1234;
      void* p = malloc(100 + i);
      if (errno != 1234) return 10;
      errno = 4321;
      free(p);
      if (errno != 4321) return 11;
      errno = 77;
      p = realloc(nullptr, 64);
      p = realloc(p, 100000);
      if (errno != 77) return 12;
      free(p);
      errno = 55;
      int* q = new int[10];
      delete[] q;
      if (errno != 55) return 13;
    }
    // A failing allocation must still report ENOMEM.
    errno = 0;
    void* huge = malloc(static_cast<size_t>(1) << 62);
    if (huge || errno != ENOMEM) return 14;
    printf("errno ok\n");
    return 0;
  }
  if (!strcmp(mode, "static")) {
    printf("static ok\n");
    return 0;
  }
  fprintf(stderr, "usage: exits _exit|loop|errno|static\n");
  return 2;
}
