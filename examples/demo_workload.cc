// The built-in demo workload: two threads building, copying and dropping strings, vectors and maps,
// plus a few large buffers, so the trace has every shape a reviewer looks at (many small
// short-lived objects, some long-lived ones, a few large ones).
#include <stdio.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

size_t Work(int seed, int rounds) {
  size_t checksum = 0;
  std::map<int, std::string> kept;
  for (int i = 0; i < rounds; ++i) {
    std::vector<std::string> batch;
    for (int j = 0; j < 32; ++j) batch.push_back(std::string(16 + (i * 7 + j * 13 + seed) % 200, 'x'));
    checksum += batch.back().size();
    if (i % 50 == 0) kept[i] = batch.front();
    if (i % 500 == 0) {
      auto big = std::make_unique<char[]>(1 << 20);  // a large, short-lived buffer
      big[0] = static_cast<char>(i);
      checksum += static_cast<size_t>(big[0]);
    }
  }
  return checksum + kept.size();
}

}  // namespace

int main() {
  size_t a = 0, b = 0;
  std::thread t1([&] { a = Work(1, 5000); });
  std::thread t2([&] { b = Work(2, 5000); });
  t1.join();
  t2.join();
  printf("demo workload done (checksum %zu)\n", a + b);
  return 0;
}
