// processes MODE: fork, exec and spawn scenarios. Allocation sizes mark who allocated:
//   1111 before fork (parent), 2222 in a forked child, 3333 in the parent after fork,
//   4444 in an exec'd or spawned child. fork-same-site: 1111, then 2222 in the child and 3333 in
//   the parent, all from one call site.
#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

void* volatile g_sink;

void AllocateMarked(size_t size, int count) {
  for (int i = 0; i < count; ++i) {
    void* p = malloc(size);
    g_sink = p;
    free(p);
  }
}

int Wait(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "child")) {  // the exec'd or spawned program
    AllocateMarked(4444, 40);
    printf("child done\n");
    return 0;
  }
  AllocateMarked(1111, 10);
  if (!strcmp(mode, "fork")) {
    pid_t pid = fork();
    if (pid == 0) {
      AllocateMarked(2222, 20);
      exit(0);
    }
    AllocateMarked(3333, 30);
    return Wait(pid);
  }
  if (!strcmp(mode, "fork-same-site")) {
    // One call site allocates before the fork and again in both processes after it, so the stack
    // walker's memory of that call path (and the stack id it keeps) is inherited by the child.
    pid_t pid = -1;
    volatile int rounds = 2;  // unknown to the compiler: one call site, not two unrolled ones
    for (int round = 0; round < rounds; ++round) {
      if (round == 1 && (pid = fork()) < 0) return 1;
      AllocateMarked(round == 0 ? 1111 : pid == 0 ? 2222 : 3333, 40);
    }
    if (pid == 0) exit(0);
    return Wait(pid);
  }
  if (!strcmp(mode, "fork-exec")) {
    pid_t pid = fork();
    if (pid == 0) {
      AllocateMarked(2222, 20);
      execl("/proc/self/exe", argv[0], "child", static_cast<char*>(nullptr));
      _exit(127);
    }
    AllocateMarked(3333, 30);
    return Wait(pid);
  }
  if (!strcmp(mode, "spawn")) {
    pid_t pid;
    char* child_argv[] = {argv[0], const_cast<char*>("child"), nullptr};
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, child_argv, environ) != 0) return 1;
    AllocateMarked(3333, 30);
    return Wait(pid);
  }
  if (!strcmp(mode, "vfork-fail")) {
    // The vfork child shares our memory: its failed exec and _exit must not touch our tracing.
    pid_t pid = vfork();
    if (pid == 0) {
      execl("/nonexistent/program", "x", static_cast<char*>(nullptr));
      _exit(127);
    }
    int rc = Wait(pid);
    AllocateMarked(3333, 30);
    return rc == 127 ? 0 : 1;
  }
  if (!strcmp(mode, "fork-inherit")) {
    // The child frees the 12 blocks of 1212 bytes the parent allocated before the fork (inherited,
    // not anomalies), then makes most of the run's allocations: 200 of 2222 bytes.
    void* kept[12];
    for (auto& k : kept) k = malloc(1212);
    pid_t pid = fork();
    if (pid == 0) {
      for (auto& k : kept) free(k);
      AllocateMarked(2222, 200);
      exit(0);
    }
    AllocateMarked(3333, 30);
    for (auto& k : kept) free(k);
    return Wait(pid);
  }
  if (!strcmp(mode, "fork-threads")) {
    // Right after fork the child must be single-threaded (unshare(CLONE_NEWUSER) needs that).
    AllocateMarked(5555, 2000);  // enough to start the parent's flush thread
    pid_t pid = fork();
    if (pid == 0) {
      int threads = 0;
      if (DIR* d = opendir("/proc/self/task")) {
        while (struct dirent* e = readdir(d)) threads += e->d_name[0] != '.';
        closedir(d);
      }
      printf("child threads %d\n", threads);
      fflush(stdout);
      _exit(0);
    }
    return Wait(pid);
  }
  if (!strcmp(mode, "exec")) {  // replaces itself: same pid, second trace file
    execl("/proc/self/exe", argv[0], "child", static_cast<char*>(nullptr));
    return 127;
  }
  fprintf(stderr, "usage: processes fork|fork-exec|fork-inherit|spawn|exec|child\n");
  return 2;
}
