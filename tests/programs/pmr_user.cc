// pmr_user N: N rounds on a std::pmr::synchronized_pool_resource and an unsynchronized one, each
// round allocating and freeing one 64-byte block (pooled) and one 5000-byte block (above the
// 1024-byte largest pool block: straight to upstream). No allocprof code: the shim finds the
// pools by itself.
#include <stdio.h>
#include <stdlib.h>

#include <memory_resource>

namespace {

template <typename Resource>
void Use(int rounds) {
  std::pmr::pool_options options;
  options.max_blocks_per_chunk = 16;
  options.largest_required_pool_block = 1024;
  Resource pool(options);
  for (int i = 0; i < rounds; ++i) {
    void* small = pool.allocate(64);
    void* large = pool.allocate(5000);
    pool.deallocate(large, 5000);
    pool.deallocate(small, 64);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 100;
  Use<std::pmr::synchronized_pool_resource>(rounds);
  Use<std::pmr::unsynchronized_pool_resource>(rounds);
  printf("pmr rounds %d\n", rounds);
  return 0;
}
