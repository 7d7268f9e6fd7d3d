// throwing_threads [ITERATIONS]: 8 threads each allocate (strings, vectors, maps) and throw and
// catch exceptions in a loop; prints a deterministic per-thread checksum and a total.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Failure : std::runtime_error {
  explicit Failure(const std::string& what, int code) : std::runtime_error(what), code(code) {}
  int code;
};

void MaybeThrow(int t, int i) {
  std::vector<std::unique_ptr<std::string>> temp;
  for (int k = 0; k < 3; ++k) temp.push_back(std::make_unique<std::string>(40 + k * 17, char('a' + (i + k) % 26)));
  if ((i + t) % 3 == 0) throw Failure("failure " + std::to_string(t) + "/" + std::to_string(i), i % 97);
  if ((i + t) % 7 == 0) throw std::out_of_range(*temp[1]);
}

unsigned long long Work(int t, int iterations) {
  unsigned long long sum = 0;
  std::map<int, std::string> recent;
  for (int i = 0; i < iterations; ++i) {
    try {
      MaybeThrow(t, i);
      sum += 1;
    } catch (const Failure& f) {
      sum += static_cast<unsigned long long>(f.code) + std::string(f.what()).size();
    } catch (const std::exception& e) {
      sum += 3 * std::string(e.what()).size();
    }
    recent[i % 64] = std::to_string(i * 31 + t);
    auto block = std::make_unique<std::vector<int>>(i % 200 + 1, t);
    sum += static_cast<unsigned long long>(block->size()) + recent.size();
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 20000;
  constexpr int kThreads = 8;
  std::vector<unsigned long long> sums(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&sums, t, iterations] { sums[t] = Work(t, iterations); });
  for (auto& th : threads) th.join();
  unsigned long long total = 0;
  for (int t = 0; t < kThreads; ++t) {
    std::printf("thread %d: %llu\n", t, sums[t]);
    total += sums[t];
  }
  std::printf("total: %llu\n", total);
  return 0;
}
