// The clock's cold path: whether the TSC may serve, and its calibration against CLOCK_MONOTONIC.
#include "record/clock.h"

#include <fcntl.h>
#include <string.h>

#include "runtime/raw_syscalls.h"
#include "runtime/stderr_log.h"

namespace allocprof::shim {

std::atomic<const TscMap*> g_tsc_map{nullptr};

namespace {

// The baseline between the two readings: each reading's place is known to its width (~40 ticks
// here), so the rate is off by at most 2 widths per baseline, ~1e-6 for 50 ms (4 ms an hour).
constexpr uint64_t kCalibrateAfterNs = 50'000'000;
// ALLOCPROF_TEST_CLOCK=tsc calibrates at start over this much busy time instead.
constexpr uint64_t kTestCalibrationNs = 2'000'000;
// The map starts this far ahead of the clock: a thread that read the clock after the second
// reading and before the map was published (even preempted for a while in between) still gets
// later times from the map, whatever its rate error.
constexpr uint64_t kLeadNs = 1000;
constexpr int kTries = 5;

enum : int { kOff, kPending, kCalibrating, kOn };
std::atomic<int> g_state{kOff};
ClockPair g_first;
TscMap g_map;
TscRead g_read = TscRead::kNone;  // set by InitClock before g_first

#if defined(__x86_64__)
// The tightest of a few readings: the one where the clock's own TSC read is pinned closest.
ClockPair ReadPair() {
  ClockPair best{0, 0, ~0ull};
  for (int i = 0; i < kTries; ++i) {
    uint64_t before = OrderedTsc(g_read);
    uint64_t ns = MonotonicNs();
    uint64_t after = OrderedTsc(g_read);
    if (after - before < best.width) best = ClockPair{before, ns, after - before};
  }
  return best;
}

// The kernel serves CLOCK_MONOTONIC from the TSC: it found the TSCs of all CPUs in step, and it
// switches away from "tsc" when its watchdog sees otherwise.
bool KernelClockIsTsc() {
  int fd = RawOpen("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[32];
  ssize_t n = RawRead(fd, text, sizeof(text));
  RawClose(fd);
  return n == 4 && memcmp(text, "tsc\n", 4) == 0;
}

void Publish(const ClockPair& second) {
  if (MakeTscMap(g_first, second, kLeadNs, g_read, &g_map)) {
    g_tsc_map.store(&g_map, std::memory_order_release);
    g_state.store(kOn, std::memory_order_release);
  } else {
    g_state.store(kOff, std::memory_order_release);
  }
}
#endif

}  // namespace

void InitClock(uint8_t choice) {
#if defined(__x86_64__)
  if (choice == kClockVdso || g_state.load(std::memory_order_relaxed) != kOff) return;
  CpuTscFacts cpu = ReadCpuTscFacts();
  TscRead read = ChooseTscRead(cpu);
  if (read == TscRead::kNone) {
    // Said only when a test forced the TSC, so that it knows which clock it tested.
    if (choice == kClockTsc)
      LogError("ALLOCPROF_TEST_CLOCK=tsc: this CPU has no ordered TSC read; clock_gettime serves");
    return;
  }
  if (choice == kClockAuto && !(cpu.invariant && KernelClockIsTsc())) return;
  g_read = read;
  g_first = ReadPair();
  if (choice == kClockTsc) {
    while (MonotonicNs() - g_first.ns < kTestCalibrationNs) {
    }
    Publish(ReadPair());
    if (!g_tsc_map.load(std::memory_order_relaxed))
      LogError("ALLOCPROF_TEST_CLOCK=tsc: calibration failed; clock_gettime serves");
    return;
  }
  g_state.store(kPending, std::memory_order_release);
#else
  (void)choice;
#endif
}

void MaybeCalibrateClock(uint64_t now) {
#if defined(__x86_64__)
  if (__builtin_expect(g_state.load(std::memory_order_acquire) != kPending, 1)) return;
  if (now < g_first.ns || now - g_first.ns < kCalibrateAfterNs) return;
  int expected = kPending;
  if (!g_state.compare_exchange_strong(expected, kCalibrating, std::memory_order_acq_rel)) return;
  Publish(ReadPair());
#else
  (void)now;
#endif
}

void ClockAfterFork() {
#if defined(__x86_64__)
  // The thread that was calibrating did not come along: the child starts the calibration again
  // unless the map was already published.
  if (g_state.load(std::memory_order_relaxed) == kCalibrating)
    g_state.store(g_tsc_map.load(std::memory_order_relaxed) ? kOn : kPending, std::memory_order_relaxed);
#endif
}

}  // namespace allocprof::shim
