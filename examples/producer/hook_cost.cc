// What the pool hooks of include/allocprof/pool.h cost when the shim is not loaded: times
// allocprof_pool_rent_begin + allocprof_pool_rent_end against an empty loop, both inlined into a
// loop (where the compiler may hoist the null check) and inside an out-of-line function (where it
// runs on every call, as in a pool's Rent). Best of interleaved rounds; prints ns, asserts nothing.
//
//   hook_cost [--iterations N] [--rounds R]     (default 100000000 iterations, 3 rounds)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>

#include "allocprof/pool.h"

namespace {

// The asm statements keep the loops and calls from being removed or merged.
__attribute__((noinline)) void OutOfLineEmpty(uint32_t pool, uint64_t n) { asm volatile("" ::"r"(pool), "r"(n)); }

__attribute__((noinline)) void OutOfLineHooks(uint32_t pool, uint64_t n) {
  allocprof_pool_rent_begin(pool, n);
  allocprof_pool_rent_end(pool, n, n, ALLOCPROF_RENT_HIT);
  asm volatile("" ::"r"(pool), "r"(n));
}

template <class Body>
double NsPerIteration(uint64_t iterations, Body body) {
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < iterations; ++i) {
    body(i);
    asm volatile("" : "+r"(i));
  }
  const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  return ns / static_cast<double>(iterations);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t iterations = 100000000;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--iterations") == 0)
      iterations = strtoull(argv[i + 1], nullptr, 10);
    else if (strcmp(argv[i], "--rounds") == 0)
      rounds = atoi(argv[i + 1]);
  }
  if (iterations == 0 || rounds < 1) {
    fprintf(stderr, "usage: hook_cost [--iterations N] [--rounds R]\n");
    return 64;
  }
  const bool shim = allocprof_hook_pool_rent_begin != nullptr;
  const uint32_t pool = allocprof_pool_register("hook-cost", 1 << 20, 8);

  double empty = 1e9, inlined = 1e9, call_empty = 1e9, call_hooks = 1e9;
  for (int r = 0; r < rounds; ++r) {
    empty = std::min(empty, NsPerIteration(iterations, [](uint64_t) {}));
    inlined = std::min(inlined, NsPerIteration(iterations, [&](uint64_t i) {
                         allocprof_pool_rent_begin(pool, i);
                         allocprof_pool_rent_end(pool, i, i, ALLOCPROF_RENT_HIT);
                       }));
    call_empty = std::min(call_empty, NsPerIteration(iterations, [&](uint64_t i) { OutOfLineEmpty(pool, i); }));
    call_hooks = std::min(call_hooks, NsPerIteration(iterations, [&](uint64_t i) { OutOfLineHooks(pool, i); }));
  }
  printf("hook cost: %llu iterations x best of %d rounds, shim hooks %s\n", (unsigned long long)iterations, rounds,
         shim ? "PRESENT (times include the shim's work)" : "absent (weak symbols are null)");
  printf("  empty loop                              %6.3f ns/iteration\n", empty);
  printf("  rent_begin+rent_end inlined in the loop %6.3f ns/iteration  (%+.3f ns per hook call)\n", inlined,
         (inlined - empty) / 2);
  printf("  out-of-line call, empty                 %6.3f ns/iteration\n", call_empty);
  printf("  out-of-line call, rent_begin+rent_end   %6.3f ns/iteration  (%+.3f ns per hook call)\n", call_hooks,
         (call_hooks - call_empty) / 2);
  return 0;
}
