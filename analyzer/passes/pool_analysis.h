// Pools: which rents a pool served, which fell through to the allocator (by kind, bucket and
// stack), which returns it dropped, how many rents of each bucket were out at once, what
// configuration would have served the trace.
//
// A rent's fall-through allocations are the allocations its thread made between its kRentBegin
// and kRentEnd. Buckets follow include/allocprof/pool.h's reference semantics (DESIGN.md): bucket
// i holds arrays of 16 << i bytes, and a request of s bytes belongs to bucket
// log2((s - 1) | 15) - 3.
// Thread-safety: one instance per thread.
#ifndef ALLOCPROF_ANALYZER_POOL_ANALYSIS_H_
#define ALLOCPROF_ANALYZER_POOL_ANALYSIS_H_

#include <stdint.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "read/catalog.h"
#include "read/event.h"

namespace allocprof {

inline constexpr int kPoolBuckets = 40;  // 16 B << 39 is far beyond any pool

int PoolBucketIndex(uint64_t size);
inline uint64_t PoolBucketSize(int index) { return uint64_t{16} << index; }

enum FallKind { kFallOversize, kFallExhausted, kFallFill, kFallKinds };

struct PoolBucketStats {
  uint64_t rents = 0, hits = 0;
  std::array<uint64_t, kFallKinds> fallthrough{};
  uint64_t dropped_full = 0;
  uint64_t max_concurrent = 0;
  std::vector<uint64_t> outstanding_at_rent;  // histogram: rents that found N arrays of the bucket out
};

struct PoolFallStack {
  uint64_t rents = 0, bytes = 0;
  std::array<uint64_t, kFallKinds> by_kind{};
};

struct PoolAdvice {
  uint64_t max_block = 0;
  std::vector<std::pair<uint64_t, uint64_t>> slots;  // (bucket size, slots), buckets up to max_block
  uint64_t retained_bytes_worst_case = 0;
  double hit_rate = 0;  // of this trace's rents, served by the advised pool (initial fills aside)
};

struct PoolStats {
  uint32_t id = 0;
  PoolInfo info;
  uint64_t rents = 0, hits = 0;
  std::array<uint64_t, kFallKinds> fallthrough{};
  uint64_t fallthrough_bytes = 0;  // bytes the allocator handed out inside fall-through rents
  uint64_t fallthrough_allocations = 0;
  uint64_t dropped_full = 0, dropped_oversize = 0, returns = 0;
  std::array<PoolBucketStats, kPoolBuckets> buckets;
  std::array<uint64_t, kPoolBuckets> requested_by_bucket{};  // rents by the bucket of their request
  absl::flat_hash_map<uint32_t, PoolFallStack> fall_stacks;  // by the rent's stack id
  std::array<int64_t, kPoolBuckets> outstanding{};
  PoolAdvice advice;
};

class PoolAnalysis : public EventSink {
 public:
  // `target_hit_rate`: what the sizing advisor aims at (default 0.99).
  PoolAnalysis(const ProcessCatalog* catalog, double target_hit_rate);
  void OnEvent(const Event& e) override;
  // Skips, without a call, the allocations and frees no open rent can claim (nearly all of them).
  void OnEvents(const Event* events, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      const Event& e = events[i];
      if (e.kind == EventKind::kHeap && (e.is_free || open_rents_ == 0)) continue;
      PoolAnalysis::OnEvent(e);
    }
  }
  // Heap events matter only inside a rent (its fall-throughs).
  void OnHeapEvents(const Event* events, size_t n) override {
    if (open_rents_) OnEvents(events, n);
  }
  void Finish();

  const std::map<uint32_t, PoolStats>& pools() const { return pools_; }

 private:
  struct OpenRent {
    uint32_t pool;
    uint64_t requested;
    uint32_t stack_id;
    uint64_t allocations, bytes;
  };
  PoolStats& Pool(uint32_t id);
  void Advise(PoolStats& p) const;

  const ProcessCatalog* catalog_;
  double target_;
  std::map<uint32_t, PoolStats> pools_;
  absl::flat_hash_map<uint32_t, std::vector<OpenRent>> open_;  // by thread (rents may nest)
  uint64_t open_rents_ = 0;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_POOL_ANALYSIS_H_
