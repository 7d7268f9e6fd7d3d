// churn: a deterministic allocation-churn workload for measuring allocation-profiler overhead.
//
// Every thread keeps a ring of `window` live blocks. Each step frees the block in the current slot
// (if any) and allocates a new one there, so the heap holds a sliding window of recent objects like a
// message-processing loop does. Sizes and entry points come from a per-thread PRNG seeded with
// (seed, thread index), so the sequence of calls of every thread is the same on every run:
//   sizes:        ~90% 16..512 B, ~9.9% 4..64 KiB, ~0.1% 1..4 MiB (--large-permille, default 1)
//   entry points: ~70% malloc/free, ~25% operator new[]/delete[], ~5% calloc/free
// Each new block is written like a real program writes it: the first min(size, 256) bytes, plus one
// byte per 4 KiB page for larger blocks. Each freed block is read back into a checksum, so the
// optimizer cannot drop the work, and the checksum is the same under every profiler.
//
// Usage: churn [--threads N] [--allocs N] [--window N] [--seed N] [--large-permille N] [--min-seconds S]
//   --min-seconds S: each thread repeats its share of the allocations until S seconds have passed;
//   the line printed at the end gives the allocations actually made.
//   --large-permille N: allocations per 1000 that are 1..4 MiB (default 1; 0..99). With 0 the
//   kernel's page faults no longer dominate the run (see bench/README.md).
//   --small: allocation-heavy code with small blocks (bench/README.md, churn-small): every size is
//   8..1023 B (~60% up to 128, ~30% 129..512, ~10% 513..1023), and each step frees and allocates
//   1..7 calls below the worker, along one of 256 call paths, so the allocating stacks are 6..12
//   frames deep and varied the way an application's are.
// Prints: churn: threads=N allocs=N checksum=HEX

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Options {
  unsigned threads = 2;
  uint64_t allocs = 8000000;
  uint64_t window = 4096;
  uint64_t seed = 42;
  uint64_t large_permille = 1;
  uint64_t min_seconds = 0;  // repeat each thread's allocations until this much time has passed
  bool small = false;        // --small: sizes under 1 KiB from 6..12 frames deep
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(
      stderr,
      "churn: %s\nusage: churn [--threads N] [--allocs N] [--window N] [--seed N] [--large-permille N] [--small]\n",
      msg);
  std::exit(2);
}

uint64_t parse_u64(const char* flag, const char* s) {
  if (s == nullptr || *s == '\0') usage("missing value");
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
    std::fprintf(stderr, "churn: bad value for %s: '%s'\n", flag, s);
    std::exit(2);
  }
  return v;
}

// splitmix64: tiny, fast, good enough statistically, and fully deterministic.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

enum class Kind : uint8_t { Malloc, NewArray, Calloc };

struct Slot {
  unsigned char* p = nullptr;
  size_t size = 0;
  Kind kind = Kind::Malloc;
};

// Keeps the pointer observable so that no allocation/deallocation pair can be elided.
inline void escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

constexpr size_t kPage = 4096;

size_t pick_size(Rng& rng, uint64_t large_permille) {
  uint64_t r = rng.below(1000);
  if (r < large_permille) return (size_t{1} << 20) + rng.below((size_t{3} << 20) + 1);  // 1..4 MiB, 0.1%
  if (r < large_permille + 99) return 4096 + rng.below(64 * 1024 - 4096 + 1);           // 4..64 KiB, 9.9%
  return 16 + rng.below(512 - 16 + 1);                                                  // 16..512 B, 90%
}

// --small: many sizes under 1 KiB, most of them small.
size_t pick_small_size(Rng& rng) {
  uint64_t r = rng.below(10);
  if (r < 6) return 8 + rng.below(128 - 8 + 1);      // 8..128 B, 60%
  if (r < 9) return 129 + rng.below(512 - 129 + 1);  // 129..512 B, 30%
  return 513 + rng.below(1023 - 513 + 1);            // 513..1023 B, 10%
}

Kind pick_kind(Rng& rng) {
  uint64_t r = rng.below(100);
  if (r < 70) return Kind::Malloc;
  if (r < 95) return Kind::NewArray;
  return Kind::Calloc;
}

// Reads the block back (the bytes the program wrote), then releases it with the matching call.
__attribute__((noinline)) uint64_t release(Slot& s) {
  const unsigned char* p = s.p;
  uint64_t sum = p[0] + 31 * p[std::min<size_t>(s.size, 256) - 1] + s.size;
  for (size_t off = kPage; off < s.size; off += kPage) sum += p[off];
  switch (s.kind) {
    case Kind::Malloc:
    case Kind::Calloc:
      std::free(s.p);
      break;
    case Kind::NewArray:
      delete[] s.p;
      break;
  }
  s.p = nullptr;
  return sum;
}

__attribute__((noinline)) void acquire(Slot& s, size_t size, Kind kind, unsigned char fill) {
  unsigned char* p = nullptr;
  switch (kind) {
    case Kind::Malloc:
      p = static_cast<unsigned char*>(std::malloc(size));
      break;
    case Kind::NewArray:
      p = new unsigned char[size];
      break;
    case Kind::Calloc:
      p = static_cast<unsigned char*>(std::calloc(1, size));
      break;
  }
  if (p == nullptr) {
    std::fprintf(stderr, "churn: allocation of %zu bytes failed\n", size);
    std::abort();
  }
  escape(p);
  std::memset(p, fill, std::min<size_t>(size, 256));
  for (size_t off = kPage; off < size; off += kPage) p[off] = static_cast<unsigned char>(fill + off / kPage);
  s.p = p;
  s.size = size;
  s.kind = kind;
}

// --small: one step (free the slot's block, allocate its successor) done `levels` calls down a
// call path chosen by the bits of `path`: each level is one of two functions. The asm after each call keeps it a call
// (no tail call), so every level is a frame.
struct Step {
  Slot* slot;
  size_t size;
  Kind kind;
  unsigned char fill;
  uint64_t sum;
};
template <int kSide>
__attribute__((noinline)) void descend(Step& st, uint32_t path, uint32_t levels);
inline void descend_next(Step& st, uint32_t path, uint32_t levels) {
  if (levels == 0) {
    if (st.slot->p != nullptr) st.sum += release(*st.slot);
    acquire(*st.slot, st.size, st.kind, st.fill);
  } else if (path & 1) {
    descend<1>(st, path >> 1, levels - 1);
  } else {
    descend<0>(st, path >> 1, levels - 1);
  }
  asm volatile("" ::: "memory");
}
template <int kSide>
__attribute__((noinline)) void descend(Step& st, uint32_t path, uint32_t levels) {
  escape(&st);
  descend_next(st, path, levels);
}

uint64_t worker(unsigned index, uint64_t count, const Options& opt, uint64_t* rounds) {
  Rng seeder{opt.seed * 0x100000001b3ULL + index};
  Rng rng{seeder.next()};
  std::vector<Slot> ring(opt.window);
  uint64_t sum = 0;
  size_t slot = 0;
  auto start = std::chrono::steady_clock::now();
  *rounds = 0;
  do {
    for (uint64_t i = 0; i < count; ++i) {
      Slot& s = ring[slot];
      if (opt.small) {
        // 256 call paths, each 1..7 levels down: stacks of 6..12 frames with the thread's own.
        uint32_t path = static_cast<uint32_t>(rng.below(256));
        Step st{&s, pick_small_size(rng), pick_kind(rng), static_cast<unsigned char>(rng.next()), 0};
        descend_next(st, path, 1 + path % 7);
        sum += st.sum;
      } else {
        if (s.p != nullptr) sum += release(s);
        size_t size = pick_size(rng, opt.large_permille);
        Kind kind = pick_kind(rng);
        acquire(s, size, kind, static_cast<unsigned char>(rng.next()));
      }
      if (++slot == ring.size()) slot = 0;
    }
    ++*rounds;
  } while (std::chrono::steady_clock::now() - start < std::chrono::seconds(opt.min_seconds));
  for (Slot& s : ring)
    if (s.p != nullptr) sum += release(s);
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--threads")
      opt.threads = static_cast<unsigned>(parse_u64("--threads", v)), ++i;
    else if (a == "--allocs")
      opt.allocs = parse_u64("--allocs", v), ++i;
    else if (a == "--window")
      opt.window = parse_u64("--window", v), ++i;
    else if (a == "--seed")
      opt.seed = parse_u64("--seed", v), ++i;
    else if (a == "--large-permille")
      opt.large_permille = parse_u64("--large-permille", v), ++i;
    else if (a == "--min-seconds")
      opt.min_seconds = parse_u64("--min-seconds", v), ++i;
    else if (a == "--small")
      opt.small = true;
    else if (a == "-h" || a == "--help")
      usage("allocation churn benchmark");
    else
      usage("unknown argument");
  }
  if (opt.threads == 0 || opt.threads > 1024) usage("--threads must be 1..1024");
  if (opt.window == 0) usage("--window must be at least 1");
  if (opt.large_permille > 99) usage("--large-permille must be 0..99");

  std::vector<uint64_t> sums(opt.threads, 0);
  std::vector<uint64_t> rounds(opt.threads, 0);
  std::vector<std::thread> threads;
  threads.reserve(opt.threads);
  uint64_t total = 0;
  std::vector<uint64_t> counts(opt.threads);
  for (unsigned t = 0; t < opt.threads; ++t) {
    // The allocations are split as evenly as possible; the first threads take the remainder.
    counts[t] = opt.allocs / opt.threads + (t < opt.allocs % opt.threads ? 1 : 0);
    uint64_t count = counts[t];
    threads.emplace_back([&sums, &rounds, &opt, t, count] { sums[t] = worker(t, count, opt, &rounds[t]); });
  }
  for (auto& th : threads) th.join();
  for (unsigned t = 0; t < opt.threads; ++t) total += counts[t] * rounds[t];
  opt.allocs = total;  // with --min-seconds, what was actually done

  uint64_t checksum = 0xcbf29ce484222325ULL;
  for (uint64_t s : sums) checksum = (checksum ^ s) * 0x100000001b3ULL;
  std::printf("churn: threads=%u allocs=%llu checksum=%016llx\n", opt.threads,
              static_cast<unsigned long long>(opt.allocs), static_cast<unsigned long long>(checksum));
  return 0;
}
