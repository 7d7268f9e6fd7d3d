// An array pool with .NET ConfigurableArrayPool semantics that reports every rent and return to
// allocprof through the hooks in include/allocprof/pool.h (docs: /work/shared/DESIGN.md "Pools").
//
//   buckets   i = 0 .. BucketIndex(max_array_length), holding arrays of 16 << i bytes,
//             slots_per_bucket slots each, filled lazily;
//   Rent(s)   tries bucket BucketIndex(s), then the next one up:
//               a pooled array                                 -> HIT
//               an empty slot, filled with a new array          -> FILL
//               both buckets have every slot rented out          -> EXHAUSTED: a new array of the
//                                                                  first bucket's size, not tracked
//             s above the largest bucket                          -> OVERSIZE: a new array of exactly
//                                                                  s bytes, never pooled
//   Return(a) a above the largest bucket                          -> DROPPED_OVERSIZE (freed)
//             a slot of its bucket is rented out                   -> KEPT in that slot
//             otherwise                                            -> DROPPED_FULL (freed)
//
// As in .NET, a bucket is a stack of slots with a "rented" index: Rent takes the slot at the index
// (an array, or null = FILL) and Return puts an array back below it. So "a free slot" means a slot
// whose array is rented out: a bucket whose slots have never been rented drops what is returned
// to it, and an EXHAUSTED array (bucket-sized) is kept when its bucket has a slot rented out.
//
// Arrays are real heap allocations (new uint8_t[] / delete[]) so the allocprof shim sees each
// fall-through inside the rent that caused it. Hook protocol (pool.h): RentBegin before the
// buckets are looked at, the allocation (if any) in between, RentEnd with the outcome and the
// granted size; Return once per returned array, before a dropped array is freed. The hooks are
// a template parameter (default: pool.h's inline functions, a null check each without the
// shim) so tests can record the calls.
//
// Thread-safety: Rent and Return may be called from any thread (a mutex per bucket; a FILL or a
// fall-through allocates outside the lock). The Hooks object is called from the renting or
// returning thread and must be thread-safe if the pool is shared. Rent(0) returns an empty array
// without calling the hooks (.NET's Array.Empty). The outcome of each call depends only on the
// order of calls on each bucket, so a single-threaded sequence (or one thread per bucket) is
// deterministic.
#ifndef ALLOCPROF_EXAMPLES_PRODUCER_ARRAY_POOL_H_
#define ALLOCPROF_EXAMPLES_PRODUCER_ARRAY_POOL_H_

#include <stddef.h>
#include <stdint.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "allocprof/pool.h"

namespace producer {

// The hooks of include/allocprof/pool.h: a null check each when the shim is not loaded.
struct AllocprofPoolHooks {
  uint32_t Register(const char* name, uint64_t max_block, uint32_t slots_per_bucket) {
    return allocprof_pool_register(name, max_block, slots_per_bucket);
  }
  void RentBegin(uint32_t pool, uint64_t requested) { allocprof_pool_rent_begin(pool, requested); }
  void RentEnd(uint32_t pool, uint64_t requested, uint64_t granted, allocprof_rent_outcome outcome) {
    allocprof_pool_rent_end(pool, requested, granted, outcome);
  }
  void Return(uint32_t pool, uint64_t size, allocprof_return_outcome outcome) {
    allocprof_pool_return(pool, size, outcome);
  }
};

// A rented array: `size` is what the pool granted (the bucket's size, or the exact request when
// oversize), at least what was asked for.
struct PooledArray {
  uint8_t* data = nullptr;
  size_t size = 0;
};

struct ArrayPoolConfig {
  std::string name = "pool";
  size_t max_array_length = 1024 * 1024;  // clamped to 16 B .. 1 GiB, as .NET does
  uint32_t slots_per_bucket = 50;         // at least 1
};

// Counters the pool keeps itself, to compare with the trace.
struct ArrayPoolStats {
  uint64_t rents = 0;
  uint64_t rent_outcomes[4] = {};  // indexed by allocprof_rent_outcome
  uint64_t fallthrough_bytes = 0;  // granted bytes of every non-HIT rent (what was allocated)
  uint64_t from_neighbour = 0;     // rents (HIT or FILL) served by the bucket above
  uint64_t returns = 0;
  uint64_t return_outcomes[3] = {};  // indexed by allocprof_return_outcome

  uint64_t hits() const { return rent_outcomes[ALLOCPROF_RENT_HIT]; }
  uint64_t fills() const { return rent_outcomes[ALLOCPROF_RENT_FILL]; }
  uint64_t exhausted() const { return rent_outcomes[ALLOCPROF_RENT_EXHAUSTED]; }
  uint64_t oversize() const { return rent_outcomes[ALLOCPROF_RENT_OVERSIZE]; }
  uint64_t fallthroughs() const { return rents - hits(); }
  uint64_t kept() const { return return_outcomes[ALLOCPROF_RETURN_KEPT]; }
  uint64_t dropped_full() const { return return_outcomes[ALLOCPROF_RETURN_DROPPED_FULL]; }
  uint64_t dropped_oversize() const { return return_outcomes[ALLOCPROF_RETURN_DROPPED_OVERSIZE]; }
};

inline constexpr size_t kMinArrayLength = 16;
inline constexpr size_t kMaxArrayLength = size_t{1} << 30;

// Bucket of a size s >= 1: log2((s - 1) | 15) - 3, so 1..16 -> 0, 17..32 -> 1, 1 MiB -> 16.
inline int BucketIndex(size_t s) { return std::bit_width((s - 1) | 15) - 1 - 3; }
inline size_t BucketLength(int index) { return kMinArrayLength << index; }

template <class Hooks = AllocprofPoolHooks>
class BasicArrayPool {
 public:
  explicit BasicArrayPool(ArrayPoolConfig config, Hooks hooks = Hooks())
      : hooks_(std::move(hooks)),
        name_(std::move(config.name)),
        max_array_length_(std::clamp(config.max_array_length, kMinArrayLength, kMaxArrayLength)),
        slots_(std::max<uint32_t>(config.slots_per_bucket, 1)),
        buckets_(BucketIndex(max_array_length_) + 1) {
    for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i].slots.assign(slots_, nullptr);
    id_ = hooks_.Register(name_.c_str(), largest_bucket_length(), slots_);
  }

  ~BasicArrayPool() {
    for (auto& b : buckets_)
      for (uint8_t* p : b.slots) delete[] p;
  }

  BasicArrayPool(const BasicArrayPool&) = delete;
  BasicArrayPool& operator=(const BasicArrayPool&) = delete;

  PooledArray Rent(size_t requested) {
    if (requested == 0) return {};
    hooks_.RentBegin(id_, requested);
    const int index = BucketIndex(requested);
    PooledArray a;
    allocprof_rent_outcome outcome = ALLOCPROF_RENT_EXHAUSTED;
    try {
      if (index >= bucket_count()) {
        a = {new uint8_t[requested], requested};
        outcome = ALLOCPROF_RENT_OVERSIZE;
      } else {
        for (int i = index; i < bucket_count() && i < index + 2; ++i) {
          if (!buckets_[i].TryRent(&a.data)) continue;
          a.size = BucketLength(i);
          if (i != index) Add(stats_.from_neighbour, 1);
          if (a.data != nullptr) {
            outcome = ALLOCPROF_RENT_HIT;
          } else {
            outcome = ALLOCPROF_RENT_FILL;
            FillSlot(buckets_[i], &a);
          }
          break;
        }
        if (a.data == nullptr) a = {new uint8_t[BucketLength(index)], BucketLength(index)};
      }
    } catch (...) {
      // A failed allocation still ends the rent (as pool.h's RentScope does), then propagates.
      hooks_.RentEnd(id_, requested, requested, ALLOCPROF_RENT_EXHAUSTED);
      throw;
    }
    Add(stats_.rents, 1);
    Add(stats_.rent_outcomes[outcome], 1);
    if (outcome != ALLOCPROF_RENT_HIT) Add(stats_.fallthrough_bytes, a.size);
    hooks_.RentEnd(id_, requested, a.size, outcome);
    return a;
  }

  // Takes back an array this pool rented out. Throws std::invalid_argument for a size no bucket
  // and no oversize rent can have produced (as .NET does for a foreign array).
  void Return(PooledArray a) {
    if (a.size == 0) return;
    const int index = BucketIndex(a.size);
    allocprof_return_outcome outcome;
    if (index >= bucket_count()) {
      outcome = ALLOCPROF_RETURN_DROPPED_OVERSIZE;
    } else {
      if (a.size != BucketLength(index)) throw std::invalid_argument("array not from this pool");
      outcome = buckets_[index].TryReturn(a.data) ? ALLOCPROF_RETURN_KEPT : ALLOCPROF_RETURN_DROPPED_FULL;
    }
    Add(stats_.returns, 1);
    Add(stats_.return_outcomes[outcome], 1);
    hooks_.Return(id_, a.size, outcome);
    if (outcome != ALLOCPROF_RETURN_KEPT) delete[] a.data;
  }

  ArrayPoolStats stats() const {
    ArrayPoolStats s;
    s.rents = Load(stats_.rents);
    for (int i = 0; i < 4; ++i) s.rent_outcomes[i] = Load(stats_.rent_outcomes[i]);
    s.fallthrough_bytes = Load(stats_.fallthrough_bytes);
    s.from_neighbour = Load(stats_.from_neighbour);
    s.returns = Load(stats_.returns);
    for (int i = 0; i < 3; ++i) s.return_outcomes[i] = Load(stats_.return_outcomes[i]);
    return s;
  }

  const std::string& name() const { return name_; }
  uint32_t id() const { return id_; }
  uint32_t slots_per_bucket() const { return slots_; }
  int bucket_count() const { return static_cast<int>(buckets_.size()); }
  size_t largest_bucket_length() const { return BucketLength(bucket_count() - 1); }
  Hooks& hooks() { return hooks_; }

 private:
  struct Bucket;
  // Allocates the array of a FILL; on failure the slot goes back unfilled.
  static void FillSlot(Bucket& bucket, PooledArray* a) {
    try {
      a->data = new uint8_t[a->size];
    } catch (...) {
      bucket.TryReturn(nullptr);
      throw;
    }
  }

  struct Bucket {
    std::mutex mu;
    std::vector<uint8_t*> slots;
    size_t rented = 0;  // slots [0, rented) are rented out; [rented, n) hold arrays or null (unfilled)

    // Takes the next slot: true with its array (null: unfilled, the caller fills it), false if
    // every slot is rented out.
    bool TryRent(uint8_t** array) {
      std::lock_guard<std::mutex> lock(mu);
      if (rented == slots.size()) return false;
      *array = slots[rented];
      slots[rented++] = nullptr;
      return true;
    }
    bool TryReturn(uint8_t* array) {
      std::lock_guard<std::mutex> lock(mu);
      if (rented == 0) return false;
      slots[--rented] = array;
      return true;
    }
  };

  // Counters are relaxed atomics: totals, read after the work is done.
  using Counter = std::atomic<uint64_t>;
  struct AtomicStats {
    Counter rents{0};
    Counter rent_outcomes[4] = {};
    Counter fallthrough_bytes{0};
    Counter from_neighbour{0};
    Counter returns{0};
    Counter return_outcomes[3] = {};
  };
  static void Add(Counter& c, uint64_t n) { c.fetch_add(n, std::memory_order_relaxed); }
  static uint64_t Load(const Counter& c) { return c.load(std::memory_order_relaxed); }

  Hooks hooks_;
  std::string name_;
  size_t max_array_length_;
  uint32_t slots_;
  std::vector<Bucket> buckets_;
  uint32_t id_ = 0;
  AtomicStats stats_;
};

using ArrayPool = BasicArrayPool<>;

}  // namespace producer

#endif  // ALLOCPROF_EXAMPLES_PRODUCER_ARRAY_POOL_H_
