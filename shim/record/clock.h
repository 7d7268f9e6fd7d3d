// The trace's clock: CLOCK_MONOTONIC in nanoseconds, read from the TSC where that is safe.
//
// Every time in a trace comes from NowNs(), on every thread, so the trace has one clock. It starts
// as clock_gettime; once clock.cc has calibrated the TSC against it (a cold path,
// MaybeCalibrateClock, ~50 ms after start) it is an ordered TSC read scaled by one map published
// once: no vDSO call, no seqcount, no timespec. Measured: ~5% of churn's CPU on an Intel host
// (rdtscp against the vDSO); on an AMD EPYC guest under kvm-clock, where the vDSO's reads are
// 39.5 ns of the full trace's 213 ns a pair, ~14 ns a pair when a test forces lfence+rdtsc
// (bench/HISTORY.md, sessions 10 and 11). The TSC serves only where the kernel itself serves
// CLOCK_MONOTONIC from it (clocksource "tsc"): a host that chose another clocksource may move the
// TSC under the guest (snapshots, migration). Thread-safe: the map is immutable once published.
//
// Ordering (the free-before/alloc-after contract of trace_format.h): an allocation's stamp must be
// later than the other thread's free of the same block that the allocator's loads observed, and a
// free's stamp later than the allocation of the block whose address this thread's loads observed
// (a block allocated on one thread and freed on another). Both need the stamp to be read after
// every earlier load of this thread has its value: rdtscp waits for that, and so does rdtsc after
// an lfence where lfence waits for every earlier instruction to complete (always on Intel; on AMD
// where CPUID says it is always dispatch-serializing), which CPUs without rdtscp use (the vDSO's
// own ordered read is one of these two). A bare rdtsc may execute before an earlier cache-missing
// load of the block's address completes, stamping a free before the allocation it frees, so no
// event uses one. A stamp also precedes every later store becoming visible (stores commit after
// they retire), so the free's own real free cannot hand the block out before the free's stamp.
#ifndef ALLOCPROF_SHIM_CLOCK_H_
#define ALLOCPROF_SHIM_CLOCK_H_

#include <stdint.h>
#include <time.h>

#include <atomic>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace allocprof::shim {

// How the TSC is read in order (see above); kNone: this CPU offers no such read.
enum class TscRead : uint8_t { kNone, kRdtscp, kLfenceRdtsc };

// What CPUID says about the TSC.
struct CpuTscFacts {
  bool intel = false;
  bool amd = false;
  bool rdtscp = false;             // 0x80000001 EDX bit 27
  bool invariant = false;          // constant rate in every P- and C-state: 0x80000007 EDX bit 8
  bool amd_lfence_serial = false;  // AMD: lfence always dispatch-serializing, 0x80000021 EAX bit 2
};

inline TscRead ChooseTscRead(const CpuTscFacts& cpu) {
  if (cpu.rdtscp) return TscRead::kRdtscp;
  if (cpu.intel || (cpu.amd && cpu.amd_lfence_serial)) return TscRead::kLfenceRdtsc;
  return TscRead::kNone;
}

#if defined(__x86_64__)
inline CpuTscFacts ReadCpuTscFacts() {
  CpuTscFacts f;
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  f.intel = b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e;  // "GenuineIntel"
  f.amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;    // "AuthenticAMD"
  if (!__get_cpuid(0x80000000, &a, &b, &c, &d)) return f;
  unsigned max_extended = a;
  if (max_extended >= 0x80000001 && __get_cpuid(0x80000001, &a, &b, &c, &d)) f.rdtscp = (d >> 27) & 1;
  if (max_extended >= 0x80000007 && __get_cpuid(0x80000007, &a, &b, &c, &d)) f.invariant = (d >> 8) & 1;
  if (max_extended >= 0x80000021 && __get_cpuid(0x80000021, &a, &b, &c, &d)) f.amd_lfence_serial = (a >> 2) & 1;
  return f;
}
#endif

// ns = anchor_ns + (tsc - anchor_tsc) * mult / 2^32, for tsc on either side of the anchor.
struct TscMap {
  uint64_t anchor_tsc;
  uint64_t anchor_ns;
  uint64_t mult;  // nanoseconds per tick, 32 fractional bits
  TscRead read;   // how this CPU reads the TSC in order
};

// Set once (clock.cc); null while the trace's clock is clock_gettime.
extern std::atomic<const TscMap*> g_tsc_map;

// Exact at the anchor, monotone in tsc, rounded to the nearest ns; 128-bit product: no overflow
// for years of ticks.
inline uint64_t TscToNs(const TscMap& m, uint64_t tsc) {
  __int128 delta = static_cast<int64_t>(tsc - m.anchor_tsc);
  __int128 scaled = (delta * static_cast<__int128>(m.mult) + (1ll << 31)) >> 32;  // nearest, either side
  return m.anchor_ns + static_cast<uint64_t>(static_cast<int64_t>(scaled));
}

inline uint64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

#if defined(__x86_64__)
// The TSC, read after every earlier instruction executed and every earlier load has its value;
// `how` is not kNone.
inline uint64_t OrderedTsc(TscRead how) {
  if (__builtin_expect(how == TscRead::kRdtscp, 1)) {
    unsigned aux;
    return __builtin_ia32_rdtscp(&aux);
  }
  __builtin_ia32_lfence();
  return __builtin_ia32_rdtsc();
}
#endif

inline uint64_t NowNs() {
#if defined(__x86_64__)
  const TscMap* m = g_tsc_map.load(std::memory_order_acquire);
  if (__builtin_expect(m != nullptr, 1)) return TscToNs(*m, OrderedTsc(m->read));
#endif
  return MonotonicNs();
}

inline uint64_t RealtimeNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// One (tsc, CLOCK_MONOTONIC) reading: tsc was read just before the clock, by at most `width` ticks.
struct ClockPair {
  uint64_t tsc;
  uint64_t ns;
  uint64_t width;
};

// The map from two readings `first` and `second` (second later), read with `read`: scaled by their
// rate, anchored at `second` plus `lead_ns`. Pairs are anchored at their tsc read before the clock,
// so the map runs ahead of the clock readings it follows (never behind: times stay monotone across the switch).
// False if the readings give no plausible rate (0.05 to 20 GHz).
inline bool MakeTscMap(const ClockPair& first, const ClockPair& second, uint64_t lead_ns, TscRead read, TscMap* out) {
  if (second.tsc <= first.tsc || second.ns <= first.ns) return false;
  uint64_t ticks = second.tsc - first.tsc;
  unsigned __int128 mult = ((static_cast<unsigned __int128>(second.ns - first.ns) << 32) + ticks / 2) / ticks;
  if (mult < (1ull << 32) / 20 || mult > (20ull << 32)) return false;
  *out = TscMap{second.tsc, second.ns + lead_ns, static_cast<uint64_t>(mult), read};
  return true;
}

// ALLOCPROF_TEST_CLOCK's choices.
enum : uint8_t { kClockAuto, kClockTsc, kClockVdso };

// At process start (before any thread but the first exists): decides whether the TSC may serve
// and takes the first reading. kClockTsc skips the host checks and calibrates at once (tests).
void InitClock(uint8_t choice);
// Cold paths (chunk seals, the ticker): publishes the map once enough time has passed since
// InitClock's reading. `now` is a NowNs() reading of the caller's.
void MaybeCalibrateClock(uint64_t now);
// In a forked child (one thread): a child keeps its parent's map (the same TSC), and finishes a
// calibration the fork interrupted.
void ClockAfterFork();

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_CLOCK_H_
