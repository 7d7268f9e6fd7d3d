// alloc_loop [--reader-thread]: allocates, fills, checks and frees blocks in a loop until a line
// arrives on stdin. Alone, one thread polls stdin without blocking every 16 rounds; with
// --reader-thread, the main thread blocks in read(2) while a second thread loops. Either way two
// more full rounds follow the line (so that it allocates after whatever the test did before
// sending it). Writes "ready\n"
// once the loop runs, and at the end "read: LINE\n" and "every round correct\n" (or which round
// went wrong, exit 1). Its output does not depend on how many rounds ran, so a run attached
// mid-loop must print exactly the same. Built a second time without PIE (alloc_loop_nopie), where
// taking malloc's and free's addresses below makes them canonical PLT entries of the executable
// (the global scope's first "malloc" is then the executable's, as in Debian's python3.11).
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

// Never called through: their addresses, taken in code (main), are what matters (see above).
void* (*volatile g_malloc_address)(size_t);
void (*volatile g_free_address)(void*);

namespace {

void Say(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(1, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// One round: 16 blocks of sizes drawn from the round number, filled with a pattern, summed, freed.
bool Round(uint64_t round) {
  uint64_t x = round * 0x9e3779b97f4a7c15ull + 1;
  unsigned char* blocks[16];
  size_t sizes[16];
  for (int i = 0; i < 16; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    sizes[i] = 16 + x % 4000;
    blocks[i] = static_cast<unsigned char*>(malloc(sizes[i]));
    if (!blocks[i]) return false;
    memset(blocks[i], static_cast<int>(i + round), sizes[i]);
  }
  bool ok = true;
  for (int i = 0; i < 16; ++i) {
    for (size_t j = 0; j < sizes[i]; j += 97) ok &= blocks[i][j] == static_cast<unsigned char>(i + round);
    free(blocks[i]);
  }
  return ok;
}

std::atomic<bool> g_stop{false};
std::atomic<bool> g_failed{false};
std::atomic<uint64_t> g_rounds{0};

}  // namespace

int main(int argc, char** argv) {
  g_malloc_address = malloc;
  g_free_address = free;
  std::string line;
  if (argc > 1 && strcmp(argv[1], "--reader-thread") == 0) {
    std::atomic<bool> running{false};
    std::thread worker([&] {
      for (uint64_t round = 0; !g_stop.load(std::memory_order_relaxed); ++round) {
        if (!Round(round)) g_failed = true;
        g_rounds.fetch_add(1);
        running = true;
      }
    });
    while (!running) sched_yield();
    Say("ready\n");
    char c;
    while (read(0, &c, 1) == 1 && c != '\n') line += c;
    for (uint64_t at_line = g_rounds.load(); g_rounds.load() < at_line + 2;) sched_yield();
    g_stop = true;
    worker.join();
    Say(g_failed ? "a round went wrong\n" : "read: " + line + "\nevery round correct\n");
    return g_failed ? 1 : 0;
  }
  Say("ready\n");
  for (uint64_t round = 0;; ++round) {
    if (!Round(round)) {
      Say("round " + std::to_string(round) + " went wrong\n");
      return 1;
    }
    if (round % 16 != 0) continue;
    struct pollfd p = {0, POLLIN, 0};
    if (poll(&p, 1, 0) != 1) continue;
    char c;
    while (read(0, &c, 1) == 1 && c != '\n') line += c;
    if (!Round(round + 1) || !Round(round + 2)) {
      Say("a round went wrong\n");
      return 1;
    }
    break;
  }
  Say("read: " + line + "\nevery round correct\n");
  return 0;
}
