// Cold paths of the sampler: options, countdown draws, the set's inserts.
#include "sampler.h"

#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "options.h"
#include "stderr_log.h"

namespace allocprof::shim {

uint64_t g_sample_interval = 0;
SampledSet g_sampled;
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
  uint64_t base = o.sample_seed_set ? o.sample_seed
                                    : NowNs() ^ (static_cast<uint64_t>(getpid()) << 32) ^
                                          reinterpret_cast<uintptr_t>(s);
  s->rng = base * 0x100000001b3ull + ordinal;
  SplitMix(&s->rng);
  s->seeded = true;
}

// ceil(Exp(mean = interval)): geometric over whole bytes, memoryless like the exponential, so
// P(countdown <= s) = 1 - exp(-s / interval) for every whole s.
int64_t DrawCountdown(SamplerLocal* s) {
  double u = static_cast<double>((SplitMix(&s->rng) >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  double x = ceil(-log(u) * static_cast<double>(g_sample_interval));
  return x < 1 ? 1 : static_cast<int64_t>(x);
}

}  // namespace

bool SampledSet::Init() {
  size_t used_bytes = kBuckets;  // a multiple of the line size: the lines that follow stay aligned
  void* mem = mmap(nullptr, used_bytes + kBuckets * sizeof(Line), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return false;
  lines_ = reinterpret_cast<Line*>(static_cast<char*>(mem) + used_bytes);
  used_ = static_cast<std::atomic<uint8_t>*>(mem);
  return true;
}

void SampledSet::Insert(uintptr_t addr) {
  if (!used_) return;
  size_t b = BucketOf(addr);
  Line& line = lines_[b];
  uint8_t used = used_[b].load(std::memory_order_relaxed);
  for (int i = 0; i < kSlots; ++i) {
    // Still there: its free was never seen (freed behind the shim's back); keep the one entry.
    if ((used & (1u << i)) && line.addr[i].load(std::memory_order_relaxed) == addr) return;
  }
  for (int i = 0; i < kSlots; ++i) {
    uintptr_t expected = 0;
    if (line.addr[i].load(std::memory_order_relaxed) == 0 &&
        line.addr[i].compare_exchange_strong(expected, addr, std::memory_order_acq_rel)) {
      used_[b].fetch_or(static_cast<uint8_t>(1u << i), std::memory_order_release);
      return;
    }
  }
  used_[b].fetch_or(kOverflowed, std::memory_order_release);
}

bool SampledSet::RemoveSlow(size_t b, uintptr_t addr, uint8_t used) {
  Line& line = lines_[b];
  for (int i = 0; i < kSlots; ++i) {
    if (!(used & (1u << i)) || line.addr[i].load(std::memory_order_relaxed) != addr) continue;
    // Clear the bit first: once the slot is 0 another thread may fill it and set the bit again.
    used_[b].fetch_and(static_cast<uint8_t>(~(1u << i)), std::memory_order_acq_rel);
    line.addr[i].store(0, std::memory_order_release);
    return true;
  }
  return (used & kOverflowed) != 0;
}

bool InitSampler() {
  uint64_t interval = GetOptions().sample_bytes;
  if (interval == 0) return false;
  if (!g_sampled.Init()) LogError("cannot map the sampled-address set; every free is recorded");
  g_sample_interval = interval;
  return true;
}

bool SampleAllocationSlow(uint64_t bytes, uintptr_t addr) {
  SamplerLocal* s = &t_sampler;
  if (__builtin_expect(!s->seeded, 0)) {
    Seed(s);
    s->countdown = DrawCountdown(s);
  }
  if (bytes < g_sample_interval) {
    int64_t left = s->countdown - static_cast<int64_t>(bytes);
    if (left > 0) {
      s->countdown = left;
      return false;
    }
    s->countdown = DrawCountdown(s);
  }
  g_sampled.Insert(addr);
  return true;
}

}  // namespace allocprof::shim
