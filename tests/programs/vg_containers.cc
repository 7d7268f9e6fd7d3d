// vg_containers: the standard containers' allocations (vector growth, string, map, unordered_map,
// deque, list, shared_ptr/make_shared, function); one vector's buffer is leaked through a raw pointer.
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

void* volatile g_sink;

int main() {
  for (int round = 0; round < 5; ++round) {
    std::vector<int> v;
    for (int i = 0; i < 1000; ++i) v.push_back(i);
    std::string s;
    for (int i = 0; i < 200; ++i) s += static_cast<char>('a' + i % 26);
    std::map<int, std::string> m;
    for (int i = 0; i < 50; ++i) m[i] = s.substr(0, static_cast<size_t>(i));
    std::unordered_map<std::string, int> u;
    for (int i = 0; i < 100; ++i) u[std::to_string(i * 1000003)] = i;
    std::deque<long> d;
    for (int i = 0; i < 2000; ++i) d.push_front(i);
    std::list<double> l(30, 1.5);
    auto shared = std::make_shared<std::vector<char>>(300);
    std::shared_ptr<int> separate(new int(round));
    auto copy = shared;
    long captured[8] = {round};
    std::function<long()> f = [captured, copy] { return captured[0] + static_cast<long>(copy->size()); };
    g_sink = &f;
    v.shrink_to_fit();
  }
  auto* leaked = new std::vector<int>(100);  // leaked: the vector object and its buffer
  g_sink = leaked;
  g_sink = nullptr;
  return 0;
}
