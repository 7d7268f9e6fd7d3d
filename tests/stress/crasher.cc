// crasher SIGNAL N: allocates and frees in a loop (keeping every 16th block alive) and after N
// allocations raises SIGNAL (KILL, SEGV or ABRT) to itself. Never exits normally.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int sig = !strcmp(argv[1], "KILL")   ? SIGKILL
            : !strcmp(argv[1], "SEGV") ? SIGSEGV
            : !strcmp(argv[1], "ABRT") ? SIGABRT
                                       : 0;
  if (sig == 0) return 2;
  long n = atol(argv[2]);
  void** kept = static_cast<void**>(calloc(n / 16 + 1, sizeof(void*)));
  volatile unsigned long sum = 0;
  for (long i = 1; i <= n; ++i) {
    char* p = static_cast<char*>(malloc(16 + i % 500));
    p[0] = static_cast<char>(i);
    sum = sum + static_cast<unsigned char>(p[0]);
    if (i % 16 == 0)
      kept[i / 16] = p;
    else
      free(p);
  }
  printf("allocated %ld, raising %s\n", n, argv[1]);
  fflush(stdout);
  raise(sig);
  return 3;  // not reached
}
