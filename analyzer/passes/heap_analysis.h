// The core analysis pass: replays the merged event stream of one process and keeps totals, the
// live set (for peak, leaks, temporaries and mismatched frees), per-stack statistics, the size
// histogram and the timeline.
//
// Memory grows with the live set and the number of distinct stacks, not with the trace's length.
// Thread-safety: one instance per thread.
#ifndef ALLOCPROF_ANALYZER_HEAP_ANALYSIS_H_
#define ALLOCPROF_ANALYZER_HEAP_ANALYSIS_H_

#include <stdint.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "allocprof/trace_format.h"
#include "passes/address_map.h"
#include "passes/analysis_window.h"
#include "passes/gen_model.h"
#include "passes/timeline.h"
#include "read/catalog.h"
#include "read/event.h"

namespace allocprof {

struct AnalysisOptions {
  size_t top_n = 10;
  size_t windows = 100;                   // timeline windows over the run...
  uint64_t window_ns = 0;                 // ...or a fixed width when non-zero
  std::vector<uint64_t> size_boundaries;  // ascending lower bounds; empty = powers of two
  uint64_t large_object_bytes = 85000;    // .NET's large-object-heap threshold
  uint64_t short_lived_ns = 1000000;      // "freed within 1 ms"
  bool symbolize = true;                  // false: frames stay module+offset (no module files read)
  double pool_target_hit_rate = 0.99;     // what the pool sizing advisor aims at
  GenParameters gen;                      // the Gen-style model's knobs (0 = derived / default)
  WindowSpec window;                      // --from / --to: the part of the run analysed
  bool flame = false;                     // also build the call tree for flame graphs (report/flame.h)
  // Functions that stand for the allocator in a stack row's label, besides the built-in ones
  // (report/frames.h's kAllocatorFrames): `--wrapper NAME` ("name*" for a prefix).
  std::vector<std::string> wrappers;
  // Leak suppressions (LeakSanitizer's `leak:PATTERN`): leaked stacks with a frame whose function,
  // file or module matches are counted apart ("suppressed"), as are the C and C++ runtimes'
  // one-time allocations (report/frames.h's kRuntimeOneTime) unless default_suppressions is false.
  std::vector<std::string> suppressions;
  bool default_suppressions = true;
};

struct StackStats {
  uint64_t calls = 0;
  uint64_t bytes = 0;
  uint64_t live_count = 0;  // at the end of the trace: leaks
  uint64_t live_bytes = 0;
  uint64_t peak_bytes = 0;  // this stack's live bytes at the moment of the global peak
  uint64_t temporary = 0;
  uint32_t peak_epoch = 0;  // see HeapAnalysis::Touch
  uint64_t bytes_at_epoch = 0;
  // Sampled traces: unbiased estimates of the variance of calls, bytes, live_count and live_bytes
  // (Σ w(w−1) and Σ s² w(w−1) over the recorded blocks; read/sampling.h). 0 in a full trace.
  double calls_variance = 0, bytes_variance = 0;
  double live_count_variance = 0, live_bytes_variance = 0;
};

struct SizeClassCount {
  uint64_t min_bytes = 0, max_bytes = 0;  // inclusive
  uint64_t calls = 0, bytes = 0;
  double calls_variance = 0, bytes_variance = 0;  // sampled traces (read/sampling.h); 0 in a full trace
};

struct MismatchKey {
  uint32_t stack_id;
  format::EntryPoint alloc_entry;
  format::EntryPoint free_entry;
  bool operator==(const MismatchKey& o) const {
    return stack_id == o.stack_id && alloc_entry == o.alloc_entry && free_entry == o.free_entry;
  }
  template <typename H>
  friend H AbslHashValue(H h, const MismatchKey& k) {
    return H::combine(std::move(h), k.stack_id, k.alloc_entry, k.free_entry);
  }
};

struct HeapTotals {
  uint64_t allocations = 0, frees = 0;
  uint64_t bytes_allocated = 0, bytes_freed = 0;
  uint64_t peak_live_bytes = 0, peak_time_ns = 0;  // absolute time
  uint64_t temporary = 0;                          // freed before the allocating thread allocated again
  uint64_t short_lived = 0;                        // freed within AnalysisOptions::short_lived_ns
  // Sampled traces: Σ w(w−1) over the short-lived blocks, an unbiased estimate of the variance of
  // `short_lived` (read/sampling.h): a block's lifetime is recorded with it, so the count is a
  // Horvitz–Thompson sum. (`temporary` depends on the thread's next allocation, which sampling
  // hides: it is not an estimate of anything and the report withholds it.)
  double short_lived_variance = 0;
  uint64_t frees_of_unknown = 0;
  // A damaged trace (ProcessCatalog::damage_gaps): blocks allocated before damage and never seen
  // freed, whose free may have been lost ("fate unknown": not leaks), and frees of unseen blocks
  // the damage may have hidden the allocation of (not in frees_of_unknown, nor in frees).
  uint64_t fate_unknown_allocations = 0, fate_unknown_bytes = 0;
  uint64_t frees_after_damage = 0;
  // Frees of blocks allocated while the shim was not recording (capture control paused it): not
  // in `frees`, and expected, so not a warning.
  uint64_t frees_unrecorded = 0;
  // With an analysis window: what was live when it opened (carried in; part of the live figures),
  // and frees inside the window of blocks allocated before it ("inherited"; not in `frees`).
  uint64_t window_live_at_start = 0, window_live_bytes_at_start = 0;
  uint64_t inherited_frees = 0, inherited_bytes_freed = 0;
  uint64_t frees_of_pre_attach = 0;  // attached traces: frees of blocks allocated before the attach
  // Forked children: frees of blocks the trace never saw allocated, which the parent allocated
  // before the fork (the child's heap is a copy of it). In `frees`; expected, so not a warning.
  uint64_t frees_inherited_at_fork = 0;
  uint64_t large_objects = 0, large_object_bytes = 0;
  uint64_t leaked_allocations = 0, leaked_bytes = 0;
  // Sampled traces: the variance of the leak estimates (Σ w(w−1), Σ s² w(w−1) over the blocks still
  // live: a recorded block's survival is exact, only whether it was recorded is random).
  double leaked_allocations_variance = 0, leaked_bytes_variance = 0;
  uint64_t mismatched_frees = 0;
  uint64_t first_event_ns = 0, last_event_ns = 0;
  std::array<uint64_t, 64> calls_by_entry{};
  std::array<uint64_t, 64> bytes_by_entry{};
  // Sampled traces: the variances of the Horvitz–Thompson sums above (read/sampling.h's
  // CountVariance and BytesVariance over the recorded blocks; a free weighs what its allocation
  // did). 0 in a full trace. The allocation and byte totals' own are in SamplingEstimate.
  double frees_variance = 0, bytes_freed_variance = 0;
  double large_objects_variance = 0, large_object_bytes_variance = 0;
  double mismatched_frees_variance = 0;
  std::array<double, 64> calls_by_entry_variance{};
  std::array<double, 64> bytes_by_entry_variance{};
};

class HeapAnalysis : public EventSink {
 public:
  // The catalog is read lazily (its process record gives the time origin).
  HeapAnalysis(const AnalysisOptions& options, const ProcessCatalog* catalog);
  // The order-dependent part: live set, peak, leaks, temporaries, timeline, mismatches.
  void OnEvent(const Event& e) override;
  // The same for a run, prefetching the live-set slots of the events a few places ahead.
  void OnEvents(const Event* events, size_t n) override;
  // The order-independent part: counts by entry point, sizes, size classes, calls and bytes by
  // stack. Runs on the reader's thread (see EventSink).
  void OnEventsUnordered(const Event* events, size_t n) override;
  // Both parts for one event (tests and other single-threaded callers).
  void Feed(const Event& e) {
    OnEventsUnordered(&e, 1);
    OnEvent(e);
  }
  // Call once after the last event.
  void Finish();

  const HeapTotals& totals() const { return totals_; }
  // Every stack with at least one allocation, by id.
  std::vector<std::pair<uint32_t, const StackStats*>> AllStacks() const;
  std::vector<SizeClassCount> SizeClasses() const;
  const absl::flat_hash_map<MismatchKey, uint64_t>& mismatches() const { return mismatches_; }
  // Sampled traces: the variance of a mismatches() count (0 in a full trace).
  double MismatchVariance(const MismatchKey& key) const {
    auto it = mismatch_variance_.find(key);
    return it == mismatch_variance_.end() ? 0 : it->second;
  }
  const Timeline& timeline() const { return *timeline_; }
  // The Gen-style model, fed from this pass's own live set (one lookup per event for both).
  bool has_gen() const { return gen_ != nullptr; }
  GenResult FinishGen(uint64_t end_ns) { return gen_ ? gen_->Finish(end_ns) : GenResult{}; }
  const std::string& gen_llc_source() const { return llc_source_; }
  uint64_t origin_ns() const { return origin_; }
  // The analysis window (inactive without --from / --to) and the phase of the latest event, so
  // passes fed alongside this one can skip what lies outside the window.
  const WindowGate& window() const { return gate_; }
  bool OutsideWindow() const { return gate_.active() && last_phase_ != WindowPhase::kInside; }

 private:
  // The live map is the analyzer's hottest memory: keep its values small.
  struct LiveBlock {
    uint64_t size : 55 = 0;
    // Damage may have hidden its free (SetApartDamaged): no longer in the live figures.
    uint64_t uncertain : 1 = 0;
    uint64_t entry : 8 = 0;  // format::EntryPoint
    uint64_t time = 0;
    uint32_t stack_id = 0;
    uint32_t thread = 0;
    uint32_t gen_epoch = 0;  // the Gen model's epoch for this object (kLohEpoch32: large object)
    uint32_t weight = 1;     // allocations it stands for (Event::weight)
    uint64_t bytes() const { return size * weight; }
  };
  static constexpr uint32_t kLohEpoch32 = ~uint32_t{0};
  // Allocated before the analysis window: carried in, never seen by the Gen model or the stacks.
  static constexpr uint32_t kInheritedEpoch32 = ~uint32_t{0} - 1;
  // Before the window opens: keeps the live set (so the window starts with it), counts nothing.
  void CarryIn(const Event& e);
  // The first event the analysis counts: the time origin, timeline and Gen model start here.
  void Begin(uint64_t time);
  void StartGen();
  StackStats& Stack(uint32_t id) {
    if (__builtin_expect(id < stacks_.size(), 1)) return stacks_[id];
    return StackSlow(id);
  }
  StackStats& StackSlow(uint32_t id);
  // Brings a stack's peak snapshot up to date before its live bytes change.
  void Touch(StackStats& s);
  // Damaged traces: blocks and frees the damage may explain, set apart from leaks and anomalies.
  void SetApartWhatDamageHid();
  // Sampled traces: the variance of what is still live, per stack and in total.
  void LiveVariance();
  // Damage met while the events are replayed (read/catalog.h, LostRange): from where a thread's
  // events were lost, every live block may have been freed there, and where they resume, so may
  // every block allocated meanwhile. Such blocks leave the live figures (a lost free never raises
  // the peak) and no later free of them is a temporary. New ranges are looked for once a run
  // (the read adds them between the merger's releases); each event compares its time with the
  // next range's edge.
  void CheckNewDamage() {
    if (__builtin_expect(catalog_ != nullptr && catalog_->lost_ranges.size() != lost_ranges_seen_, 0)) {
      lost_ranges_seen_ = catalog_->lost_ranges.size();
      range_state_.resize(lost_ranges_seen_, 0);
      next_damage_ns_ = 0;  // OnDamage recomputes it
    }
  }
  void OnDamage(uint64_t time);
  // Blocks allocated before `before` leave the live figures (LiveBlock::uncertain).
  void SetApartDamaged(uint64_t before, uint64_t time);
  // An event older than one already replayed (a thread whose first chunk was lost is not waited
  // for): its allocation may pair with a free replayed before it.
  bool PairLateAllocation(const Event& e);
  void Replay(const Event& e);
  // Replay's last step, for a heap event once the window, damage and timeline are settled.
  void Apply(const Event& e) {
    late_ = e.time < totals_.last_event_ns;
    totals_.last_event_ns = std::max(totals_.last_event_ns, e.time);
    if (e.is_free)
      OnFree(e);
    else
      OnAlloc(e);
  }
  void OnAlloc(const Event& e);
  void OnFree(const Event& e);
  void CountOrderIndependent(const Event& e);
  template <bool kUnitWeight>
  void Count(const Event& e);
  size_t SizeClassIndex(uint64_t size) const {
    if (options_.size_boundaries.empty()) return size == 0 ? 0 : static_cast<size_t>(64 - __builtin_clzll(size));
    return SizeClassIndexSlow(size);
  }
  size_t SizeClassIndexSlow(uint64_t size) const;
  uint64_t& LastAllocOf(uint32_t thread) {
    if (__builtin_expect(thread < last_alloc_by_thread_.size(), 1)) return last_alloc_by_thread_[thread];
    return LastAllocOfSlow(thread);
  }
  uint64_t& LastAllocOfSlow(uint32_t thread);

  AnalysisOptions options_;
  const ProcessCatalog* catalog_;
  WindowGate gate_;
  WindowPhase last_phase_ = WindowPhase::kInside;
  uint64_t carried_count_ = 0;
  uint64_t origin_ = 0;
  std::unique_ptr<Timeline> timeline_;
  std::unique_ptr<GenModel> gen_;
  std::string llc_source_;
  HeapTotals totals_;
  int64_t live_bytes_ = 0;
  uint32_t peak_epoch_ = 0;
  AddressMap<LiveBlock> live_;
  std::vector<StackStats> stacks_;  // by id, for the dense range
  absl::node_hash_map<uint32_t, StackStats> sparse_stacks_;
  // Of frees_of_unknown: Finish sets apart those after damage. Those with an address wait by it
  // for an allocation that arrives late (PairLateAllocation).
  std::vector<uint64_t> unknown_free_times_;
  struct UnknownFree {
    uint64_t time;
    format::EntryPoint entry;
  };
  absl::flat_hash_map<uint64_t, std::vector<UnknownFree>> unknown_frees_;
  bool late_ = false;  // the event being replayed is older than the latest one
  // Lost ranges met so far: 1 once the replay passed its start, 2 its end.
  size_t lost_ranges_seen_ = 0;
  std::vector<uint8_t> range_state_;
  uint64_t next_damage_ns_ = UINT64_MAX;                           // the earliest edge of a range not yet passed
  absl::flat_hash_map<uint32_t, uint64_t> unresolved_free_until_;  // thread -> its latest free of a lost address
  std::vector<uint64_t> last_alloc_by_thread_;                     // address of each thread's latest allocation
  absl::flat_hash_map<uint32_t, uint64_t> sparse_last_alloc_;
  std::vector<SizeClassCount> classes_;
  absl::flat_hash_map<MismatchKey, uint64_t> mismatches_;
  absl::flat_hash_map<MismatchKey, double> mismatch_variance_;  // sampled traces only
  // Sampled traces: frees by entry point, counted when paired (their weight is their allocation's).
  std::array<uint64_t, 64> paired_frees_by_entry_{};
  std::array<double, 64> paired_frees_by_entry_variance_{};
  // Filled by OnEventsUnordered only (another thread than the rest), merged by Finish.
  struct Unordered {
    uint64_t allocations = 0, bytes_allocated = 0, large_objects = 0, large_object_bytes = 0;
    std::array<uint64_t, 64> calls_by_entry{}, bytes_by_entry{};
    // Sampled traces only (weights above 1): the variances of the sums above.
    double large_objects_variance = 0, large_object_bytes_variance = 0;
    std::array<double, 64> calls_by_entry_variance{}, bytes_by_entry_variance{};
    std::vector<SizeClassCount> classes;
    absl::flat_hash_map<uint32_t, std::pair<uint64_t, uint64_t>> sparse_stacks;  // id -> calls, bytes
    std::vector<std::pair<uint64_t, uint64_t>> stacks;                           // dense ids
    // Sampled traces only (weights above 1): id -> variance of calls, of bytes.
    absl::flat_hash_map<uint32_t, std::pair<double, double>> stack_variance;
  } unordered_;
};

// Feeds the heap pass and the ordered passes that ride along with it (the report sections' own
// passes, such as pools and counters; export's Gen collections); the order-independent part goes
// to the heap pass only. The heap pass decides what lies inside the analysis window; the others
// see only that.
class HeapPassFanout : public EventSink {
 public:
  HeapPassFanout(HeapAnalysis* heap, std::vector<EventSink*> ordered) : heap_(heap), ordered_(std::move(ordered)) {}
  void OnEvent(const Event& e) override {
    heap_->OnEvent(e);
    if (heap_->OutsideWindow()) return;
    for (EventSink* s : ordered_) s->OnEvent(e);
  }
  void OnEvents(const Event* events, size_t n) override {
    if (heap_->window().active()) {  // a window's edge can fall inside a batch: one event at a time
      for (size_t i = 0; i < n; ++i) OnEvent(events[i]);
      return;
    }
    heap_->OnEvents(events, n);
    for (EventSink* s : ordered_) s->OnEvents(events, n);
  }
  void OnHeapEvents(const Event* events, size_t n) override {
    if (heap_->window().active()) {
      for (size_t i = 0; i < n; ++i) OnEvent(events[i]);
      return;
    }
    heap_->OnEvents(events, n);
    for (EventSink* s : ordered_) s->OnHeapEvents(events, n);
  }
  void OnEventsUnordered(const Event* events, size_t n) override { heap_->OnEventsUnordered(events, n); }

 private:
  HeapAnalysis* heap_;
  std::vector<EventSink*> ordered_;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_HEAP_ANALYSIS_H_
