// vg_fork: the parent allocates 10 blocks (leaking 2) and forks; the child frees 3 of the
// parent's blocks, allocates 20 of its own (leaking 5) and exits; the parent waits for it before
// allocating 30 more (leaking 4), so the parent's trace holds nothing of its own between the fork
// and the child's start. Each process is compared with valgrind's summary of the same pid.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void* volatile g_sink;

namespace {
void* g_before[10];
void Allocate(size_t size, int count, int leaked) {
  for (int i = 0; i < count; ++i) {
    void* p = malloc(size);
    g_sink = p;
    if (i >= leaked) free(p);
  }
}
}  // namespace

int main() {
  for (int i = 0; i < 10; ++i) g_before[i] = malloc(1111);
  for (int i = 2; i < 8; ++i) free(g_before[i]);  // 0, 1, 8, 9 stay live across the fork
  g_before[2] = g_before[3] = g_before[4] = g_before[5] = g_before[6] = g_before[7] = nullptr;
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    free(g_before[0]);
    free(g_before[1]);
    free(g_before[8]);
    Allocate(2222, 20, 5);
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  Allocate(3333, 30, 4);
  free(g_before[9]);
  return 0;
}
