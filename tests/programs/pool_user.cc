// pool_user ROUNDS: a scripted pool, so the trace's pool figures are known exactly. Each round:
//   rent 100 B  -> fill (allocates 128 B inside the rent), returned and kept
//   rent 100 B  -> hit, returned and kept
//   rent 5000 B -> oversize (allocates 5000 B inside the rent), returned and dropped
//   rent 200 B  -> exhausted (allocates 256 B inside), returned and dropped (bucket full)
// and counts 10 "messages".
#include <stdio.h>
#include <stdlib.h>

#include "allocprof/pool.h"

namespace {
void* volatile g_sink;
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 1;
  uint32_t pool = allocprof_pool_register("scripted", 1024, 2);
  allocprof_mark("warmup-done");
  for (int i = 0; i < rounds; ++i) {
    {
      allocprof::RentScope rent(pool, 100);
      g_sink = malloc(128);
      rent.Served(128, ALLOCPROF_RENT_FILL);
    }
    allocprof_pool_return(pool, 128, ALLOCPROF_RETURN_KEPT);
    free(g_sink);
    {
      allocprof::RentScope rent(pool, 100);
      rent.Served(128, ALLOCPROF_RENT_HIT);
    }
    allocprof_pool_return(pool, 128, ALLOCPROF_RETURN_KEPT);
    {
      allocprof::RentScope rent(pool, 5000);
      g_sink = malloc(5000);
      rent.Served(5000, ALLOCPROF_RENT_OVERSIZE);
    }
    allocprof_pool_return(pool, 5000, ALLOCPROF_RETURN_DROPPED_OVERSIZE);
    free(g_sink);
    {
      allocprof::RentScope rent(pool, 200);
      g_sink = malloc(256);
      rent.Served(256, ALLOCPROF_RENT_EXHAUSTED);
    }
    allocprof_pool_return(pool, 256, ALLOCPROF_RETURN_DROPPED_FULL);
    free(g_sink);
    allocprof_count("messages", 10);
  }
  allocprof_mark("steady-state-done");
  printf("pool rounds %d (pool id %u)\n", rounds, pool);
  return 0;
}
