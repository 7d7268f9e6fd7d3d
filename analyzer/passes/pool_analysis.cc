#include "passes/pool_analysis.h"

#include <algorithm>

#include "allocprof/pool.h"

namespace allocprof {
namespace {

constexpr size_t kMaxOutstandingHistogram = 1 << 12;

FallKind FromOutcome(uint8_t outcome) {
  switch (outcome) {
    case ALLOCPROF_RENT_OVERSIZE:
      return kFallOversize;
    case ALLOCPROF_RENT_EXHAUSTED:
      return kFallExhausted;
    default:
      return kFallFill;
  }
}

}  // namespace

int PoolBucketIndex(uint64_t size) {
  if (size <= 16) return 0;
  int index = 63 - __builtin_clzll((size - 1) | 15) - 3;
  return std::min(index, kPoolBuckets - 1);
}

PoolAnalysis::PoolAnalysis(const ProcessCatalog* catalog, double target_hit_rate)
    : catalog_(catalog), target_(target_hit_rate) {}

PoolStats& PoolAnalysis::Pool(uint32_t id) {
  auto [it, inserted] = pools_.try_emplace(id);
  if (inserted) it->second.id = id;
  return it->second;
}

void PoolAnalysis::OnEvent(const Event& e) {
  switch (e.kind) {
    case EventKind::kHeap: {
      if (e.is_free || open_rents_ == 0) return;  // most allocations happen outside any rent
      auto it = open_.find(e.thread);
      if (it == open_.end() || it->second.empty()) return;
      OpenRent& rent = it->second.back();
      rent.allocations += e.weight;
      rent.bytes += e.size * e.weight;
      return;
    }
    case EventKind::kRentBegin:
      open_[e.thread].push_back(OpenRent{e.pool, e.size, e.stack_id, 0, 0});
      ++open_rents_;
      return;
    case EventKind::kRentEnd: {
      PoolStats& p = Pool(e.pool);
      if (p.info.name.empty() && catalog_) {
        auto known = catalog_->pools.find(e.pool);
        if (known != catalog_->pools.end()) p.info = known->second;
      }
      OpenRent rent{e.pool, e.size, 0, 0, 0};
      auto it = open_.find(e.thread);
      if (it != open_.end() && !it->second.empty()) {
        rent = it->second.back();
        it->second.pop_back();
        --open_rents_;
      }
      ++p.rents;
      ++p.requested_by_bucket[PoolBucketIndex(e.size)];
      // The granted array's bucket is the one it occupies while out (the neighbour, sometimes).
      int bucket = PoolBucketIndex(e.addr ? e.addr : e.size);
      PoolBucketStats& b = p.buckets[bucket];
      ++b.rents;
      // Oversize arrays are counted too: the advisor asks what a larger pool would have needed.
      uint64_t out = std::min<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(0, p.outstanding[bucket])),
                                        kMaxOutstandingHistogram);
      if (b.outstanding_at_rent.size() <= out) b.outstanding_at_rent.resize(out + 1);
      ++b.outstanding_at_rent[out];
      ++p.outstanding[bucket];
      b.max_concurrent = std::max<uint64_t>(b.max_concurrent, static_cast<uint64_t>(p.outstanding[bucket]));
      if (e.outcome == ALLOCPROF_RENT_HIT) {
        ++p.hits;
        ++b.hits;
        return;
      }
      FallKind kind = FromOutcome(e.outcome);
      ++p.fallthrough[kind];
      ++b.fallthrough[kind];
      // The allocator's own view when the pool allocates through it; else the size it granted.
      uint64_t bytes = rent.bytes ? rent.bytes : (e.addr ? e.addr : e.size);
      p.fallthrough_bytes += bytes;
      p.fallthrough_allocations += rent.allocations;
      PoolFallStack& s = p.fall_stacks[rent.stack_id];
      ++s.rents;
      s.bytes += bytes;
      ++s.by_kind[kind];
      return;
    }
    case EventKind::kPoolReturn: {
      PoolStats& p = Pool(e.pool);
      ++p.returns;
      int bucket = PoolBucketIndex(e.size);
      if (p.outstanding[bucket] > 0) --p.outstanding[bucket];
      if (e.outcome == ALLOCPROF_RETURN_DROPPED_OVERSIZE) {
        ++p.dropped_oversize;
        return;
      }
      if (e.outcome == ALLOCPROF_RETURN_DROPPED_FULL) {
        ++p.dropped_full;
        ++p.buckets[bucket].dropped_full;
      }
      return;
    }
    case EventKind::kCount:  // units of work: report/sections/counters.cc
    case EventKind::kMark:
      return;
  }
}

// Sizing: the smallest largest-bucket that holds the target share of the requests, and for each
// bucket up to it the fewest slots that would have had an array for the target share of its rents
// (a rent is served when fewer arrays of its bucket than slots are out). Worst-case retention is
// every slot of every bucket holding an array.
void PoolAnalysis::Advise(PoolStats& p) const {
  PoolAdvice& a = p.advice;
  uint64_t total = p.rents;
  if (total == 0) return;
  uint64_t covered = 0;
  int top = 0;
  for (int i = 0; i < kPoolBuckets; ++i) {
    covered += p.requested_by_bucket[i];
    top = i;
    if (static_cast<double>(covered) >= target_ * static_cast<double>(total)) break;
  }
  a.max_block = PoolBucketSize(top);
  uint64_t served = 0;
  for (int i = 0; i <= top; ++i) {
    const PoolBucketStats& b = p.buckets[i];
    uint64_t rents = 0;
    for (uint64_t n : b.outstanding_at_rent) rents += n;
    uint64_t slots = 0, ok = 0;
    while (slots < b.outstanding_at_rent.size() && static_cast<double>(ok) < target_ * static_cast<double>(rents)) {
      ok += b.outstanding_at_rent[slots];
      ++slots;
    }
    served += ok;
    if (rents == 0) continue;
    a.slots.push_back({PoolBucketSize(i), slots});
    a.retained_bytes_worst_case += slots * PoolBucketSize(i);
  }
  a.hit_rate = static_cast<double>(served) / static_cast<double>(total);
}

void PoolAnalysis::Finish() {
  if (catalog_) {
    for (const auto& [id, info] : catalog_->pools) Pool(id).info = info;
  }
  for (auto& [id, p] : pools_) Advise(p);
}

}  // namespace allocprof
