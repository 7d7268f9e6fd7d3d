// xthread_free THREADS COUNT: each thread allocates COUNT blocks and hands every block to the next
// thread, which frees it; freed addresses are reused at once by other threads, so a trace pairs
// allocations and frees correctly only if its ordering holds across threads.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace {

struct Mailbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<void*> items;
  bool closed = false;
};

constexpr size_t kBlockSize = 48;  // one size class: glibc's tcache hands freed blocks straight back

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  long count = argc > 2 ? atol(argv[2]) : 100000;
  std::vector<Mailbox> boxes(threads);
  std::atomic<long> freed{0};
  std::vector<std::thread> pool;
  std::vector<std::thread> consumers;
  for (int t = 0; t < threads; ++t) {
    consumers.emplace_back([&, t] {
      Mailbox& box = boxes[t];
      for (;;) {
        std::deque<void*> batch;
        {
          std::unique_lock<std::mutex> lock(box.mu);
          box.cv.wait(lock, [&] { return box.closed || !box.items.empty(); });
          if (box.items.empty() && box.closed) return;
          batch.swap(box.items);
        }
        for (void* p : batch) {
          free(p);
          freed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Mailbox& next = boxes[(t + 1) % threads];
      for (long i = 0; i < count; ++i) {
        void* p = malloc(kBlockSize);
        memset(p, t, kBlockSize);
        std::lock_guard<std::mutex> lock(next.mu);
        next.items.push_back(p);
        next.cv.notify_one();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& box : boxes) {
    std::lock_guard<std::mutex> lock(box.mu);
    box.closed = true;
    box.cv.notify_all();
  }
  for (auto& th : consumers) th.join();
  printf("freed %ld\n", freed.load());
  return freed.load() == threads * count ? 0 : 1;
}
