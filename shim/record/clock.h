// The trace's clock: CLOCK_MONOTONIC in nanoseconds. On these machines it is served by the vDSO
// from the TSC (about 20 ns, no system call), and it is ordered with respect to the memory
// operations around it, which the free-before/alloc-after ordering contract relies on.
#ifndef ALLOCPROF_SHIM_CLOCK_H_
#define ALLOCPROF_SHIM_CLOCK_H_

#include <stdint.h>
#include <time.h>

namespace allocprof::shim {

inline uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline uint64_t RealtimeNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_CLOCK_H_
