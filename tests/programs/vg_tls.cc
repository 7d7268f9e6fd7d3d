// vg_tls: thread exit's allocations: pthread_key destructors that allocate and free, thread_local
// objects whose destructors free their buffers, a key destructor that leaks. Four threads, joined.
#include <pthread.h>
#include <stdlib.h>

#include <string>
#include <vector>

void* volatile g_sink;

namespace {
pthread_key_t g_key;

void KeyDestructor(void* value) {
  free(value);
  void* during_exit = malloc(700);  // allocated and freed during the thread's exit
  g_sink = during_exit;
  free(during_exit);
  g_sink = malloc(701);  // leaked at thread exit
}

struct Buffers {
  std::vector<int> numbers = std::vector<int>(64);
  std::string text = std::string(300, 't');
};
thread_local Buffers t_buffers;

void* Work(void*) {
  pthread_setspecific(g_key, malloc(600));
  t_buffers.numbers.resize(1000);
  t_buffers.text += t_buffers.text;
  return nullptr;
}
}  // namespace

int main() {
  if (pthread_key_create(&g_key, KeyDestructor) != 0) return 1;
  pthread_t threads[4];
  for (auto& t : threads) {
    if (pthread_create(&t, nullptr, Work, nullptr) != 0) return 1;
  }
  for (auto& t : threads) pthread_join(t, nullptr);
  return 0;
}
