#include "passes/heap_analysis.h"

#include <unistd.h>

#include <algorithm>
#include <memory>

#include "absl/types/span.h"
#include "read/sampling.h"

namespace allocprof {
namespace {

// Stack ids and thread indexes are dense small integers in real traces: they index vectors. Larger
// ones (possible only in a crafted trace, or a giant one) go to hash maps, so no input can make us
// allocate for 2^32 of them.
constexpr uint32_t kDenseStackIds = 1u << 18;
constexpr uint32_t kDenseThreads = 1u << 12;

}  // namespace

HeapAnalysis::HeapAnalysis(const AnalysisOptions& options, const ProcessCatalog* catalog)
    : options_(options), catalog_(catalog), gate_(options.window, catalog) {
  if (options_.size_boundaries.empty()) {
    classes_.resize(65);
    classes_[0] = {0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 64; ++k) {
      uint64_t lo = uint64_t{1} << k;
      classes_[k + 1] = {lo, k == 63 ? UINT64_MAX : (lo << 1) - 1, 0, 0, 0, 0};
    }
  } else {
    std::vector<uint64_t> b = options_.size_boundaries;
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    if (b.front() != 0) b.insert(b.begin(), 0);
    for (size_t i = 0; i < b.size(); ++i) {
      classes_.push_back({b[i], i + 1 < b.size() ? b[i + 1] - 1 : UINT64_MAX, 0, 0, 0, 0});
    }
  }
}

size_t HeapAnalysis::SizeClassIndexSlow(uint64_t size) const {
  auto it = std::upper_bound(classes_.begin(), classes_.end(), size,
                             [](uint64_t s, const SizeClassCount& c) { return s < c.min_bytes; });
  return static_cast<size_t>(it - classes_.begin()) - 1;
}

std::vector<SizeClassCount> HeapAnalysis::SizeClasses() const {
  std::vector<SizeClassCount> out;
  for (const auto& c : classes_) {
    if (c.calls) out.push_back(c);
  }
  return out;
}

StackStats& HeapAnalysis::StackSlow(uint32_t id) {
  if (id >= kDenseStackIds) return sparse_stacks_[id];
  if (id >= stacks_.size())
    stacks_.resize(std::min<size_t>(kDenseStackIds, std::max<size_t>(id + 1, stacks_.size() * 2)));
  return stacks_[id];
}

// Peak attribution without snapshotting every stack at every new peak: each new peak starts an
// epoch; a stack records its live bytes the first time it changes in a newer epoch, which is
// exactly its value at that epoch's peak.
void HeapAnalysis::Touch(StackStats& s) {
  if (s.peak_epoch != peak_epoch_) {
    s.peak_epoch = peak_epoch_;
    s.bytes_at_epoch = s.live_bytes;
  }
}

uint64_t& HeapAnalysis::LastAllocOfSlow(uint32_t thread) {
  if (thread >= kDenseThreads) return sparse_last_alloc_[thread];
  if (thread >= last_alloc_by_thread_.size()) last_alloc_by_thread_.resize(thread + 1, 0);
  return last_alloc_by_thread_[thread];
}

void HeapAnalysis::OnEvent(const Event& e) {
  CheckNewDamage();
  Replay(e);
}

void HeapAnalysis::Replay(const Event& e) {
  if (__builtin_expect(e.time >= next_damage_ns_, 0)) OnDamage(e.time);
  if (gate_.active()) {
    last_phase_ = gate_.Observe(e);
    if (e.kind != EventKind::kHeap || last_phase_ == WindowPhase::kAfter) return;
    if (last_phase_ == WindowPhase::kBefore) {
      CarryIn(e);
      return;
    }
    // Order-independent statistics cannot run ahead on the reader's thread: only this pass knows
    // where a mark-bounded window lies.
    CountOrderIndependent(e);
  } else if (e.kind != EventKind::kHeap) {
    return;
  }
  if (!timeline_) Begin(e.time);
  Apply(e);
}

void HeapAnalysis::Begin(uint64_t time) {
  if (gate_.active()) {
    origin_ = gate_.open_ns();
  } else {
    origin_ = catalog_ && catalog_->has_process ? catalog_->process.start_monotonic_ns : time;
  }
  if (time < origin_) origin_ = time;
  timeline_ = std::make_unique<Timeline>(origin_, 1000, live_bytes_);
  totals_.first_event_ns = time;
  totals_.window_live_at_start = carried_count_;
  totals_.window_live_bytes_at_start = static_cast<uint64_t>(live_bytes_);
  totals_.peak_live_bytes = static_cast<uint64_t>(std::max<int64_t>(0, live_bytes_));
  totals_.peak_time_ns = origin_;
  StartGen();
}

void HeapAnalysis::CarryIn(const Event& e) {
  if (e.addr == 0) return;
  if (e.is_free) {
    LiveBlock* found = live_.Find(e.addr);
    if (!found) return;
    if (!found->uncertain) {
      live_bytes_ -= static_cast<int64_t>(found->bytes());
      carried_count_ -= found->weight;
    }
    live_.Erase(found);
    return;
  }
  LiveBlock block{e.size, 0, static_cast<uint64_t>(e.entry), e.time, e.stack_id, e.thread, kInheritedEpoch32, e.weight};
  auto [slot, inserted] = live_.TryEmplace(e.addr, block);
  if (!inserted) {
    if (!slot->uncertain) {
      live_bytes_ -= static_cast<int64_t>(slot->bytes());
      carried_count_ -= slot->weight;
    }
    *slot = block;
  }
  carried_count_ += block.weight;
  live_bytes_ += static_cast<int64_t>(block.bytes());
}

// The live set is larger than the caches on real workloads, and which slot an event touches is
// known from its address alone: start loading it while the events before it are processed.
void HeapAnalysis::OnEvents(const Event* events, size_t n) {
  constexpr size_t kAhead = 8;
  CheckNewDamage();
  for (size_t i = 0; i < n && i < kAhead; ++i) {
    live_.Prefetch(events[i].addr);
    live_.PrefetchValue(events[i].addr);
  }
  // Without a window, a heap event before the next damage edge needs only the tail of Replay.
  const bool windowed = gate_.active();
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      live_.Prefetch(events[i + kAhead].addr);
      live_.PrefetchValue(events[i + kAhead].addr);
    }
    const Event& e = events[i];
    if (__builtin_expect(windowed || !timeline_ || e.time >= next_damage_ns_ || e.kind != EventKind::kHeap, 0)) {
      Replay(e);
      continue;
    }
    Apply(e);
  }
}

// The Gen0 budget derives from the last-level cache of the machine the trace was recorded on.
void HeapAnalysis::StartGen() {
  GenParameters p = options_.gen;
  p.loh_threshold = options_.large_object_bytes;
  if (p.llc_bytes == 0 && catalog_ && catalog_->has_process && catalog_->process.llc_bytes) {
    p.llc_bytes = catalog_->process.llc_bytes;
    llc_source_ = "recorded with the trace";
  } else if (p.llc_bytes == 0) {
    long here = sysconf(_SC_LEVEL3_CACHE_SIZE);
    p.llc_bytes = here > 0 ? static_cast<uint64_t>(here) : 0;
    llc_source_ = here > 0 ? "of this machine (the trace does not record it)" : "unknown (256 KiB assumed)";
  } else {
    llc_source_ = "given with --llc";
  }
  gen_ = std::make_unique<GenModel>(p, origin_);
}

namespace {
// Epochs stay below the inherited-block marker (kInheritedEpoch32); kLohEpoch64 maps to kLohEpoch32.
uint32_t Epoch32(uint64_t epoch) {
  if (epoch == ~uint64_t{0}) return ~uint32_t{0};
  return epoch > 0xfffffffdull ? 0xfffffffdu : static_cast<uint32_t>(epoch);
}
uint64_t Epoch64(uint32_t epoch) { return epoch == ~uint32_t{0} ? ~uint64_t{0} : epoch; }
}  // namespace

void HeapAnalysis::OnAlloc(const Event& e) {
  if (e.addr == 0) {            // address lost with a damaged chunk: counted, cannot join the live set
    LastAllocOf(e.thread) = 0;  // but it is the thread's latest allocation (temporaries)
    return;
  }
  if (__builtin_expect(late_, 0) && PairLateAllocation(e)) return;
  const uint64_t w = e.weight;
  const uint64_t bytes = e.size * w;
  LiveBlock fresh{e.size, 0, static_cast<uint64_t>(e.entry), e.time, e.stack_id, e.thread, 0, e.weight};
  auto [block, inserted] = live_.TryEmplace(e.addr, fresh);
  if (!inserted) {
    // The trace missed this block's free (it cannot happen with a complete trace): forget the old
    // block so the live set stays honest.
    LiveBlock old = *block;
    if (!old.uncertain) live_bytes_ -= static_cast<int64_t>(old.bytes());
    if (old.gen_epoch != kInheritedEpoch32) {
      gen_->FreeExternal(old.bytes(), Epoch64(old.gen_epoch));
      if (!old.uncertain) {
        StackStats& os = Stack(old.stack_id);
        Touch(os);
        os.live_count -= old.weight;
        os.live_bytes -= old.bytes();
      }
    }
    *block = fresh;
  }
  block->gen_epoch = Epoch32(gen_->AllocExternal(e.time, e.size, w));
  StackStats& s = Stack(e.stack_id);
  Touch(s);
  s.live_count += w;
  s.live_bytes += bytes;

  live_bytes_ += static_cast<int64_t>(bytes);
  if (live_bytes_ > static_cast<int64_t>(totals_.peak_live_bytes)) {
    totals_.peak_live_bytes = static_cast<uint64_t>(live_bytes_);
    totals_.peak_time_ns = e.time;
    ++peak_epoch_;
    s.peak_epoch = peak_epoch_;  // this stack's value at the new peak is its current value
    s.bytes_at_epoch = s.live_bytes;
  }
  LastAllocOf(e.thread) = e.addr;
  timeline_->OnAlloc(e.time, bytes, live_bytes_, w);
}

void HeapAnalysis::OnFree(const Event& e) {
  LiveBlock* found = e.addr ? live_.Find(e.addr) : nullptr;
  // Replayed late: a block at that address allocated after this free is not the one it freed.
  if (__builtin_expect(late_, 0) && found && found->time > e.time) found = nullptr;
  // A sampled trace records some frees of unsampled blocks (see docs/trace-format.md): not news.
  if (!found && e.weight == 0) return;
  if (!found) {
    // An attached trace (allocprof attach) never saw what was allocated before the attach.
    if (catalog_ && catalog_->has_process && catalog_->process.attached()) {
      ++totals_.frees;
      ++totals_.frees_of_pre_attach;
      timeline_->OnFree(e.time, 0, live_bytes_);
      return;
    }
    if (catalog_ && catalog_->has_process && catalog_->process.forked()) {
      ++totals_.frees;
      ++totals_.frees_inherited_at_fork;
      timeline_->OnFree(e.time, 0, live_bytes_);
      return;
    }
    if (catalog_ && catalog_->partial_capture()) {
      ++totals_.frees_unrecorded;
      return;
    }
    ++totals_.frees;
    ++totals_.frees_of_unknown;
    if (e.addr) {
      unknown_frees_[e.addr].push_back({e.time, e.entry});
    } else {
      unknown_free_times_.push_back(e.time);
    }
    // A free whose address was lost with a damaged chunk (read/record_decoder.h): it freed one of
    // its thread's blocks allocated before it.
    if (!e.addr) {
      uint64_t& until = unresolved_free_until_[e.thread];
      until = std::max(until, e.time);
    }
    timeline_->OnFree(e.time, 0, live_bytes_);
    return;
  }
  LiveBlock b = *found;
  live_.Erase(found);
  const uint64_t w = b.weight;
  if (b.gen_epoch == kInheritedEpoch32) {
    totals_.inherited_frees += w;
    totals_.inherited_bytes_freed += b.bytes();
    if (!b.uncertain) live_bytes_ -= static_cast<int64_t>(b.bytes());
    timeline_->OnFree(e.time, b.bytes(), live_bytes_, w);
    return;
  }
  totals_.frees += w;
  // A block of weight 1 (every block of a full trace) adds nothing to any variance.
  const bool weighted = w > 1;
  const double count_variance = weighted ? CountVariance(w) : 0;
  if (weighted) totals_.frees_variance += count_variance;
  if (e.weight == 0) {
    paired_frees_by_entry_[static_cast<size_t>(e.entry)] += w;
    paired_frees_by_entry_variance_[static_cast<size_t>(e.entry)] += count_variance;
  }
  gen_->FreeExternal(b.bytes(), Epoch64(b.gen_epoch));
  totals_.bytes_freed += b.bytes();
  if (weighted) totals_.bytes_freed_variance += BytesVariance(b.size, w);
  StackStats& s = Stack(b.stack_id);
  if (!b.uncertain) {  // an uncertain block left the live figures when the damage was found
    live_bytes_ -= static_cast<int64_t>(b.bytes());
    Touch(s);
    s.live_count -= w;
    s.live_bytes -= b.bytes();
  }
  uint64_t& last = LastAllocOf(b.thread);
  if (last == e.addr) {
    if (!b.uncertain) {  // damage lies between its allocation and this free
      totals_.temporary += w;
      s.temporary += w;
    }
    last = 0;
  }
  if (e.time - b.time <= options_.short_lived_ns) {
    totals_.short_lived += w;
    if (weighted) totals_.short_lived_variance += count_variance;
  }
  auto alloc_entry = static_cast<format::EntryPoint>(b.entry);
  const auto& alloc_info = format::kEntryPoints[b.entry];
  const auto& free_info = format::kEntryPoints[static_cast<size_t>(e.entry)];
  if (alloc_info.family != free_info.family) {
    totals_.mismatched_frees += w;
    if (weighted) totals_.mismatched_frees_variance += count_variance;
    mismatches_[MismatchKey{b.stack_id, alloc_entry, e.entry}] += w;
    if (w > 1) mismatch_variance_[MismatchKey{b.stack_id, alloc_entry, e.entry}] += count_variance;
  }
  timeline_->OnFree(e.time, b.bytes(), live_bytes_, w);
}

// kUnitWeight: the event's weight is known to be 1 (every event of a full trace), so no figure is
// an estimate and there is no variance to add.
// Inlined into the reader thread's loop (every event of the trace): the call and the reloads of
// what stays the same from event to event cost ~10 instructions per event.
template <bool kUnitWeight>
__attribute__((always_inline)) inline void HeapAnalysis::Count(const Event& e) {
  Unordered& u = unordered_;
  auto entry = static_cast<size_t>(e.entry);
  const uint64_t w = kUnitWeight ? 1 : e.weight;  // 0 for a sampled trace's frees: counted when paired
  u.calls_by_entry[entry] += w;
  if (e.is_free) return;
  const uint64_t bytes = e.size * w;
  u.allocations += w;
  u.bytes_allocated += bytes;
  u.bytes_by_entry[entry] += bytes;
  SizeClassCount& c = u.classes[SizeClassIndex(e.size)];
  c.calls += w;
  c.bytes += bytes;
  const bool large = e.size >= options_.large_object_bytes;
  if (large) {
    u.large_objects += w;
    u.large_object_bytes += bytes;
  }
  const bool estimated = !kUnitWeight && w > 1;  // a sampled trace's figures: their variances
  if (estimated) {
    double count_variance = CountVariance(w), bytes_variance = BytesVariance(e.size, w);
    u.calls_by_entry_variance[entry] += count_variance;
    u.bytes_by_entry_variance[entry] += bytes_variance;
    c.calls_variance += count_variance;
    c.bytes_variance += bytes_variance;
    if (large) {
      u.large_objects_variance += count_variance;
      u.large_object_bytes_variance += bytes_variance;
    }
  }
  std::pair<uint64_t, uint64_t>* stack;
  if (__builtin_expect(e.stack_id < kDenseStackIds, 1)) {
    if (__builtin_expect(e.stack_id >= u.stacks.size(), 0))
      u.stacks.resize(std::min<size_t>(kDenseStackIds, std::max<size_t>(e.stack_id + 1, u.stacks.size() * 2)));
    stack = &u.stacks[e.stack_id];
  } else {
    stack = &u.sparse_stacks[e.stack_id];
  }
  stack->first += w;
  stack->second += bytes;
  if (estimated) {
    auto& v = u.stack_variance[e.stack_id];
    v.first += CountVariance(w);
    v.second += BytesVariance(e.size, w);
  }
}

void HeapAnalysis::OnEventsUnordered(const Event* events, size_t n) {
  if (gate_.active()) return;  // counted in the ordered pass, inside the window only
  if (unordered_.classes.empty()) unordered_.classes = classes_;
  // Every event of the trace passes here on the reader thread: a full trace's heap events (weight
  // 1) take the count without the variance arithmetic.
  for (const Event& e : absl::MakeConstSpan(events, n)) {
    if (e.kind != EventKind::kHeap) continue;
    if (__builtin_expect(e.weight == 1, 1))
      Count<true>(e);
    else
      Count<false>(e);
  }
}

void HeapAnalysis::CountOrderIndependent(const Event& e) {
  if (unordered_.classes.empty()) unordered_.classes = classes_;
  if (e.kind == EventKind::kHeap) Count<false>(e);
}

void HeapAnalysis::Finish() {
  Unordered& u = unordered_;
  totals_.allocations = u.allocations;
  totals_.bytes_allocated = u.bytes_allocated;
  totals_.large_objects = u.large_objects;
  totals_.large_object_bytes = u.large_object_bytes;
  totals_.large_objects_variance = u.large_objects_variance;
  totals_.large_object_bytes_variance = u.large_object_bytes_variance;
  totals_.calls_by_entry = u.calls_by_entry;
  totals_.calls_by_entry_variance = u.calls_by_entry_variance;
  for (size_t i = 0; i < paired_frees_by_entry_.size(); ++i) {
    totals_.calls_by_entry[i] += paired_frees_by_entry_[i];
    totals_.calls_by_entry_variance[i] += paired_frees_by_entry_variance_[i];
  }
  totals_.bytes_by_entry = u.bytes_by_entry;
  totals_.bytes_by_entry_variance = u.bytes_by_entry_variance;
  if (!u.classes.empty()) classes_ = u.classes;
  for (uint32_t id = 0; id < u.stacks.size(); ++id) {
    if (u.stacks[id].first) {
      Stack(id).calls += u.stacks[id].first;
      Stack(id).bytes += u.stacks[id].second;
    }
  }
  for (const auto& [id, cb] : u.sparse_stacks) {
    Stack(id).calls += cb.first;
    Stack(id).bytes += cb.second;
  }
  for (const auto& [id, v] : u.stack_variance) {
    Stack(id).calls_variance += v.first;
    Stack(id).bytes_variance += v.second;
  }
  for (StackStats& s : stacks_) s.peak_bytes = s.peak_epoch == peak_epoch_ ? s.bytes_at_epoch : s.live_bytes;
  for (auto& [id, s] : sparse_stacks_) s.peak_bytes = s.peak_epoch == peak_epoch_ ? s.bytes_at_epoch : s.live_bytes;
  LiveVariance();
  SetApartWhatDamageHid();
  auto leaked = [&](const StackStats& s) {
    totals_.leaked_allocations += s.live_count;
    totals_.leaked_bytes += s.live_bytes;
    totals_.leaked_allocations_variance += s.live_count_variance;
    totals_.leaked_bytes_variance += s.live_bytes_variance;
  };
  for (const StackStats& s : stacks_) leaked(s);
  for (const auto& [id, s] : sparse_stacks_) leaked(s);
}

void HeapAnalysis::LiveVariance() {
  live_.ForEach([&](uint64_t, const LiveBlock& b) {
    if (b.weight <= 1 || b.gen_epoch == kInheritedEpoch32) return;
    StackStats& s = Stack(b.stack_id);
    s.live_count_variance += CountVariance(b.weight);
    s.live_bytes_variance += BytesVariance(b.size, b.weight);
  });
}

void HeapAnalysis::SetApartWhatDamageHid() {
  if (!catalog_ || (catalog_->damage_gaps.empty() && catalog_->lost_ranges.empty() && unresolved_free_until_.empty()))
    return;
  uint64_t hid_frees_until = 0, hid_allocations_after = UINT64_MAX;
  for (const auto& g : catalog_->damage_gaps) {
    hid_frees_until = std::max(hid_frees_until, g.end_ns);
    hid_allocations_after = std::min(hid_allocations_after, g.start_ns);
  }
  // Still live, allocated before the damage ended: its free may be what was lost.
  live_.ForEach([&](uint64_t, const LiveBlock& b) {
    if (b.gen_epoch == kInheritedEpoch32) return;
    if (b.uncertain) {  // set apart already (SetApartDamaged)
      totals_.fate_unknown_allocations += b.weight;
      totals_.fate_unknown_bytes += b.bytes();
      return;
    }
    auto unresolved = unresolved_free_until_.find(b.thread);
    bool maybe_freed =
        b.time < hid_frees_until || (unresolved != unresolved_free_until_.end() && b.time < unresolved->second);
    if (!maybe_freed) return;
    totals_.fate_unknown_allocations += b.weight;
    totals_.fate_unknown_bytes += b.bytes();
    StackStats& s = Stack(b.stack_id);
    s.live_count -= b.weight;
    s.live_bytes -= b.bytes();
    s.live_count_variance -= CountVariance(b.weight);
    s.live_bytes_variance -= BytesVariance(b.size, b.weight);
  });
  // Freed after the damage began, never seen allocated: its allocation may be what was lost.
  if (catalog_->damage_gaps.empty()) hid_allocations_after = 0;  // frees with lost addresses only
  auto after_damage = [&](uint64_t t) {
    if (t < hid_allocations_after) return;
    --totals_.frees_of_unknown;
    ++totals_.frees_after_damage;
  };
  for (uint64_t t : unknown_free_times_) after_damage(t);
  for (const auto& [addr, frees] : unknown_frees_) {
    for (const UnknownFree& f : frees) after_damage(f.time);
  }
}

void HeapAnalysis::OnDamage(uint64_t time) {
  next_damage_ns_ = UINT64_MAX;
  if (!catalog_) return;
  const auto& ranges = catalog_->lost_ranges;
  for (size_t i = 0; i < lost_ranges_seen_; ++i) {
    const ProcessCatalog::LostRange& r = ranges[i];
    if (range_state_[i] == 0 && time >= r.start_ns) {
      // Anything live may have been freed in the thread's lost events, and the thread may have
      // allocated there: none of its frees from now on follows its latest allocation.
      range_state_[i] = 1;
      SetApartDamaged(UINT64_MAX, time);
      LastAllocOf(r.thread) = 0;
    }
    if (range_state_[i] == 1 && r.end_ns != UINT64_MAX && time >= r.end_ns) {
      range_state_[i] = 2;
      SetApartDamaged(r.end_ns, time);
    }
    if (range_state_[i] == 0) next_damage_ns_ = std::min(next_damage_ns_, r.start_ns);
    if (range_state_[i] == 1 && r.end_ns != UINT64_MAX) next_damage_ns_ = std::min(next_damage_ns_, r.end_ns);
  }
}

void HeapAnalysis::SetApartDamaged(uint64_t before, uint64_t time) {
  int64_t dropped = 0;
  live_.ForEachMutable([&](uint64_t, LiveBlock& b) {
    if (b.uncertain || b.time >= before) return;
    b.uncertain = 1;
    dropped += static_cast<int64_t>(b.bytes());
    if (b.gen_epoch == kInheritedEpoch32) {
      carried_count_ -= b.weight;
      return;
    }
    StackStats& s = Stack(b.stack_id);
    Touch(s);
    s.live_count -= b.weight;
    s.live_bytes -= b.bytes();
  });
  live_bytes_ -= dropped;
  if (dropped && timeline_) timeline_->OnFree(std::max(time, totals_.last_event_ns), 0, live_bytes_, 0);
}

bool HeapAnalysis::PairLateAllocation(const Event& e) {
  const uint64_t w = e.weight;
  const uint64_t bytes = e.size * w;
  auto it = unknown_frees_.find(e.addr);
  if (it != unknown_frees_.end()) {
    // The first free of that address at or after the allocation freed it.
    std::vector<UnknownFree>& frees = it->second;
    size_t best = SIZE_MAX;
    for (size_t k = 0; k < frees.size(); ++k) {
      if (frees[k].time >= e.time && (best == SIZE_MAX || frees[k].time < frees[best].time)) best = k;
    }
    if (best != SIZE_MAX) {
      UnknownFree f = frees[best];
      frees.erase(frees.begin() + static_cast<ptrdiff_t>(best));
      if (frees.empty()) unknown_frees_.erase(it);
      --totals_.frees_of_unknown;
      totals_.bytes_freed += bytes;
      totals_.bytes_freed_variance += BytesVariance(e.size, w);
      if (f.time - e.time <= options_.short_lived_ns) {
        totals_.short_lived += w;
        totals_.short_lived_variance += CountVariance(w);
      }
      if (format::kEntryPoints[static_cast<size_t>(e.entry)].family !=
          format::kEntryPoints[static_cast<size_t>(f.entry)].family) {
        totals_.mismatched_frees += w;
        mismatches_[MismatchKey{e.stack_id, e.entry, f.entry}] += w;
      }
      return true;
    }
  }
  // The address was allocated again after this: the block was freed, in the lost bytes.
  LiveBlock* later = live_.Find(e.addr);
  if (later && later->time > e.time) {
    totals_.fate_unknown_allocations += w;
    totals_.fate_unknown_bytes += bytes;
    return true;
  }
  return false;
}

std::vector<std::pair<uint32_t, const StackStats*>> HeapAnalysis::AllStacks() const {
  std::vector<std::pair<uint32_t, const StackStats*>> out;
  for (uint32_t id = 0; id < stacks_.size(); ++id) {
    if (stacks_[id].calls) out.push_back({id, &stacks_[id]});
  }
  for (const auto& [id, s] : sparse_stacks_) out.push_back({id, &s});
  return out;
}

}  // namespace allocprof
