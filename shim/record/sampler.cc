// Cold paths of the sampler: options, countdown draws, the set's inserts.
#include "record/sampler.h"

#include <unistd.h>

#include "record/clock.h"
#include "record/natural_log.h"
#include "runtime/options.h"
#include "runtime/stderr_log.h"

namespace allocprof::shim {

uint64_t g_sample_interval = 0;
constinit SampledSet g_sampled;  // pinned before constructors run (real_functions.cc)
__thread SamplerLocal t_sampler __attribute__((tls_model("initial-exec")));

namespace {

std::atomic<uint64_t> g_thread_ordinal{0};

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// With ALLOCPROF_SAMPLE_SEED, thread k (in the order threads first allocate) draws the same
// countdowns on every run; without it, every run samples differently.
void Seed(SamplerLocal* s) {
  const Options& o = GetOptions();
  uint64_t ordinal = g_thread_ordinal.fetch_add(1, std::memory_order_relaxed);
  uint64_t base = o.sample_seed_set
                      ? o.sample_seed
                      : NowNs() ^ (static_cast<uint64_t>(getpid()) << 32) ^ reinterpret_cast<uintptr_t>(s);
  s->rng = base * 0x100000001b3ull + ordinal;
  SplitMix(&s->rng);
  s->seeded = true;
}

// ceil(Exp(mean = interval)): geometric over whole bytes, memoryless like the exponential, so
// P(countdown <= s) = 1 - exp(-s / interval) for every whole s.
int64_t DrawCountdown(SamplerLocal* s) {
  double u = static_cast<double>((SplitMix(&s->rng) >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  double x = __builtin_ceil(-NaturalLog(u) * static_cast<double>(g_sample_interval));
  return x < 1 ? 1 : static_cast<int64_t>(x);
}

// Splits the bytes left until the next sample (at least 1) into the fast path's part (at most the
// interval) and the reserve.
void SetCountdown(SamplerLocal* s, int64_t left) {
  uint64_t bytes = static_cast<uint64_t>(left);
  s->countdown = bytes < g_sample_interval ? bytes : g_sample_interval;
  s->reserve = bytes - s->countdown;
}

}  // namespace

bool InitSampler() {
  uint64_t interval = GetOptions().sample_bytes;
  if (interval == 0) return false;
  if (!g_sampled.Init()) LogError("cannot map the sampled-address set; more frees are recorded than sampled");
  g_sample_interval = interval;
  return true;
}

bool SampleAllocationSlow(uint64_t bytes, uintptr_t addr) {
  SamplerLocal* s = &t_sampler;
  int64_t countdown;
  if (__builtin_expect(!s->seeded, 0)) {
    Seed(s);
    countdown = DrawCountdown(s);
  } else {
    countdown = static_cast<int64_t>(s->countdown + s->reserve);
  }
  bool sampled = true;
  if (bytes < g_sample_interval) {
    int64_t left = countdown - static_cast<int64_t>(bytes);
    sampled = left <= 0;
    countdown = sampled ? DrawCountdown(s) : left;
  }
  SetCountdown(s, countdown);
  if (sampled) g_sampled.Insert(addr);
  return sampled;
}

}  // namespace allocprof::shim
