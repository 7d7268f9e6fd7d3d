/* budget_c: allocprof/budget.h from C. Prints whether counters are available and what three
 * mallocs of 100 bytes and one free counted, in thread and process scope. */
#include <stdio.h>
#include <stdlib.h>

#include "allocprof/budget.h"

static void* volatile g_sink;

int main(void) {
  allocprof_counters_t before, after, process;
  int available = allocprof_counters_snapshot(&before, ALLOCPROF_SCOPE_THREAD);
  void* a = malloc(100);
  void* b = malloc(100);
  g_sink = malloc(100);
  free(a);
  allocprof_counters_snapshot(&after, ALLOCPROF_SCOPE_THREAD);
  int process_available = allocprof_counters_snapshot(&process, ALLOCPROF_SCOPE_PROCESS);
  printf("available=%d process=%d allocations=%llu bytes=%llu frees=%llu bytes_freed=%llu live=%lld\n", available,
         process_available, (unsigned long long)(after.allocations - before.allocations),
         (unsigned long long)(after.bytes_allocated - before.bytes_allocated),
         (unsigned long long)(after.frees - before.frees), (unsigned long long)(after.bytes_freed - before.bytes_freed),
         (long long)(after.live_bytes - before.live_bytes));
  free(b);
  free(g_sink);
  return 0;
}
