// vg_xthread: blocks allocated on one thread and freed on another, in a fixed order: a producer
// thread allocates 300 blocks and exits, the main thread joins it and a consumer thread frees 290
// of them; the last 10 are leaked.
#include <pthread.h>
#include <stdlib.h>

void* volatile g_sink;

namespace {
constexpr int kBlocks = 300;
void* g_blocks[kBlocks];

void* Produce(void*) {
  for (int i = 0; i < kBlocks; ++i) g_blocks[i] = malloc(static_cast<size_t>(8 + i));
  return nullptr;
}
void* Consume(void*) {
  for (int i = 0; i < kBlocks - 10; ++i) free(g_blocks[i]);
  return nullptr;
}
}  // namespace

int main() {
  void* (*steps[])(void*) = {Produce, Consume};
  for (auto* work : steps) {
    pthread_t t;
    if (pthread_create(&t, nullptr, work, nullptr) != 0) return 1;
    pthread_join(t, nullptr);
  }
  g_sink = g_blocks;
  return 0;
}
