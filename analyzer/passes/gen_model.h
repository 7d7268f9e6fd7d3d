// A deterministic .NET-style generational pressure model: replays one process's allocation events
// and reports what a generational collector with the same allocation stream would have done
// (collections per generation, promotion, survival, the heap's sawtooth). Native code has no GC;
// the model answers "how much GC pressure would this allocation pattern cause".
//
// The model (DESIGN.md "Gen-style pressure model"):
// - An allocation of `size >= loh_threshold` goes to the large-object heap (LOH), any other to Gen0.
//   Its bytes are charged to the LOH budget or the Gen0 budget respectively.
// - When a charge makes a budget's consumption reach the budget, a collection happens at that
//   moment, *before* the allocating object is placed (it lands in the fresh Gen0/LOH):
//   Gen2 if the LOH budget ran out, else Gen0; then raised to Gen1 if Gen1's consumption has reached
//   its budget, and to Gen2 if Gen2's has. At most one collection per allocation. The bytes by
//   which the triggering allocation overshot its budget (Gen0 or LOH) carry into that meter's next
//   period; every other collected generation's meter restarts at 0. So with a fixed Gen0 budget B
//   and no LOH-triggered collections, the count is exactly floor(small bytes / B).
// - Only EventKind::kHeap events with a known address count. A free of an unknown address is
//   ignored; an allocation at a live address (its free was lost) turns the old object into garbage.
// - Collecting generation n collects 0..n (and the LOH with Gen2) and counts as a collection of
//   each of 0..n, so gen0 >= gen1 >= gen2. Survivors are the collected objects not yet freed; they
//   move up one generation (Gen0 -> Gen1, Gen1 -> Gen2; Gen2 and LOH survivors stay) and their
//   bytes are charged to the receiving generation's budget: promotion is what exhausts the Gen1
//   and Gen2 budgets. A freed object stays in its generation's heap size until that generation is
//   collected (heap = live + freed-not-yet-collected bytes of every generation: the sawtooth).
// - Budgets. Gen0: fixed, default 5/8 * max(4/5 * llc_bytes, 256 KiB) (integer arithmetic, as the
//   .NET runtime; llc_bytes 0 = unknown -> 160 KiB). Gen1, Gen2 and LOH start at their minimum
//   and are re-derived each time that generation is collected, from its own survival:
//       rate   = survivors / collected bytes (0 when nothing was collected)
//       growth = .NET's surv_to_growth(rate, lo, hi):
//                  lo * (1 - rate) / (1 - rate * lo)   if rate < (hi - lo) / (lo * (hi - 1))
//                  hi                                  otherwise
//       budget = clamp(floor(growth * survivors), min, max)        (max 0 = no limit)
//   growth rises from `lo` at 0% survival to `hi` at the threshold and stays there (gen1 2.0..7.0,
//   threshold 41.7%; gen2 1.2..1.8, 62.5%; LOH 1.25..4.5, 74.3%): a generation whose objects
//   mostly survive is collected less often, because collecting it frees little. Example: Gen1
//   collected with 1000 of 1500 bytes surviving -> 7.0 * 1000 = 7000 bytes of promotion until the
//   next Gen1 collection (if above gen1_min). The consumption of a re-derived budget restarts at 0
//   (plus the promotion of that same collection).
// - Objects are not scanned at collections: each object remembers the number of collections before
//   its allocation, which with the index of the last Gen1-or-older collection determines its
//   generation, and each generation is a pair of byte totals (live, freed). Every event is O(1);
//   memory is one 24-byte slot per live object plus bounded outputs.
//
// Outputs are in GenResult; times there are relative to the origin given to the constructor.
// Thread-safety: none (one instance per thread).
#ifndef ALLOCPROF_ANALYZER_GEN_MODEL_H_
#define ALLOCPROF_ANALYZER_GEN_MODEL_H_

#include <stddef.h>
#include <stdint.h>

#include <array>
#include <vector>

#include "passes/address_map.h"
#include "read/event.h"

namespace allocprof {

// Every knob of the model. Zero in gen0_budget means "derive"; zero in a *_max means "no limit".
struct GenParameters {
  uint64_t llc_bytes = 0;                             // last-level cache of the traced machine (0 = unknown)
  uint64_t gen0_budget = 0;                           // 0 = 5/8 * max(4/5 * llc_bytes, 256 KiB)
  uint64_t gen1_min = 256 << 10, gen1_max = 6 << 20;  // .NET workstation: 6 MiB cap on Gen1
  uint64_t gen2_min = 256 << 10, gen2_max = 0;
  uint64_t loh_min = 3 << 20, loh_max = 0;
  double gen1_growth_min = 2.0, gen1_growth_max = 7.0;
  double gen2_growth_min = 1.2, gen2_growth_max = 1.8;
  double loh_growth_min = 1.25, loh_growth_max = 4.5;
  uint64_t loh_threshold = 85000;   // bytes; objects this large or larger go to the LOH
  size_t windows = 100;             // collections per second over this many equal windows
  size_t max_collections = 100000;  // per-collection table cap (sampled evenly beyond it)
};

// Fills in the derived defaults (gen0_budget) and makes the values consistent: minimums >= 1,
// a non-zero max >= its min, growth factors >= 1 and max >= min, windows >= 1,
// max_collections >= 2.
GenParameters ResolveGenParameters(const GenParameters& in);

// .NET's surv_to_growth (see the file comment); lo >= 1, hi >= lo.
double GenGrowth(double survival_rate, double lo, double hi);

enum GenIndex : int { kGen0 = 0, kGen1 = 1, kGen2 = 2, kGenLoh = 3 };

struct GenCollection {
  uint64_t index = 0;                        // 1-based number of this collection (all generations counted)
  uint64_t time_ns = 0;                      // relative to the origin
  int generation = 0;                        // 0, 1 or 2
  bool loh_triggered = false;                // the LOH budget ran out (else the Gen0 budget did)
  uint64_t heap_before = 0, heap_after = 0;  // live + freed-not-yet-collected bytes, all generations
  uint64_t promoted_bytes = 0;               // moved to an older generation by this collection
};

struct GenWindow {
  uint64_t start_ns = 0, end_ns = 0;      // relative to the origin
  uint64_t gen0 = 0, gen1 = 0, gen2 = 0;  // collections that count as each generation
  double per_second = 0;                  // gen0 (= all collections) / window length
};

struct GenSurvival {  // survivors / collected bytes, summed over every collection of the generation
  double gen0 = 0, gen1 = 0, gen2 = 0, loh = 0;
};

// From the collection table: period = median spacing of consecutive collections (every collection
// collects Gen0 and drops the heap), amplitude = median heap_before - heap_after. Exact for the
// model (it knows when it collected), robust to trends and to changes of pace. Needs >= 3 collections.
struct GenSawtooth {
  bool found = false;
  double period_s = 0;
  double amplitude_bytes = 0;
};

struct GenResult {
  GenParameters parameters;  // every value used, defaults resolved
  uint64_t gen0 = 0, gen1 = 0, gen2 = 0;
  uint64_t soh_bytes = 0;  // bytes allocated to Gen0 (small objects)
  uint64_t loh_bytes = 0, loh_allocations = 0;
  uint64_t promoted_bytes = 0;  // Gen0 -> Gen1 plus Gen1 -> Gen2, over all collections
  GenSurvival survival;
  uint64_t peak_heap_bytes = 0;
  std::array<uint64_t, 4> final_budgets{};  // by GenIndex
  uint64_t duration_ns = 0;
  double collections_per_second = 0;  // all collections / duration
  std::vector<GenWindow> windows;     // parameters.windows equal windows over [0, duration]
  // Every collection when there are at most max_collections; otherwise every stride-th (by index),
  // stride a power of two, so the table holds between max_collections/2 and max_collections rows.
  // The counts above are always exact.
  std::vector<GenCollection> collections;
  uint64_t collection_stride = 1;
  GenSawtooth sawtooth;
};

class GenModel : public EventSink {
 public:
  // `origin_ns`: absolute time that relative times count from (the process start).
  GenModel(const GenParameters& parameters, uint64_t origin_ns);

  void OnEvent(const Event& e) override {
    if (e.time > last_time_) last_time_ = e.time;
    if (e.kind != EventKind::kHeap) return;  // pool hooks and counters: not heap traffic
    if (e.addr == 0) return;                 // address unknown: cannot be paired
    if (e.is_free)
      OnFree(e.addr);
    else
      OnAlloc(e.time, e.addr, e.size, e.weight);
  }

  // For a caller that keeps its own table of live objects (the heap pass does; one table lookup
  // per event instead of two): an allocation returns the epoch to keep with the object, and its
  // free gives size and epoch back. Do not mix with OnEvent on one model.
  // `count` > 1: a sampled trace's allocation standing for `count` objects of `size` bytes.
  uint64_t AllocExternal(uint64_t time, uint64_t size, uint64_t count = 1) {
    if (time > last_time_) last_time_ = time;
    Object o;
    Place(time, o, size, count);
    return o.epoch;
  }
  void FreeExternal(uint64_t size, uint64_t epoch) { Release(Object{size, epoch}); }

  // Call once, after the last event. `end_ns` (absolute) ends the run; the last event's time is
  // used when it is later.
  GenResult Finish(uint64_t end_ns);

  const GenParameters& resolved() const { return params_; }

  // Current state (tests, progress).
  uint64_t budget(GenIndex g) const { return budget_[g]; }
  uint64_t consumed(GenIndex g) const { return meter_[g]; }
  uint64_t live_bytes(GenIndex g) const { return live_[g]; }
  uint64_t freed_bytes(GenIndex g) const { return dead_[g]; }  // freed, not yet collected
  uint64_t heap_bytes() const {
    return live_[0] + live_[1] + live_[2] + live_[3] + dead_[0] + dead_[1] + dead_[2] + dead_[3];
  }
  uint64_t collections(int generation) const { return counts_[generation]; }

 private:
  // Collections before the object's allocation (its "epoch"), or kLohEpoch.
  struct Object {
    uint64_t size = 0;  // bytes of every object it stands for
    uint64_t epoch = 0;
  };
  static constexpr uint64_t kLohEpoch = ~uint64_t{0};

  // Gen0 while no collection followed its allocation; Gen2 once a Gen1-or-older collection
  // followed the one that promoted it to Gen1.
  GenIndex GenOf(const Object& o) const {
    if (o.epoch == kLohEpoch) return kGenLoh;
    if (o.epoch == collections_) return kGen0;
    return last_full_ >= o.epoch + 2 ? kGen2 : kGen1;
  }
  void OnAlloc(uint64_t time, uint64_t addr, uint64_t size, uint64_t count);
  void OnFree(uint64_t addr);
  // Charges `count` new objects of `size` bytes to their budget, collecting first if that runs
  // out; sets obj's size and epoch.
  void Place(uint64_t time, Object& obj, uint64_t size, uint64_t count);
  // A freed object's bytes move from live to freed-not-yet-collected in its generation.
  void Release(const Object& obj) {
    GenIndex g = GenOf(obj);
    live_[g] -= obj.size;
    dead_[g] += obj.size;
  }
  [[gnu::noinline]] void Collect(uint64_t time, bool loh_triggered);
  uint64_t Derive(GenIndex g, uint64_t survivors, uint64_t collected) const;
  void Record(const GenCollection& c);

  GenParameters params_;
  uint64_t origin_;
  uint64_t last_time_ = 0;
  AddressMap<Object> objects_;
  std::array<uint64_t, 4> live_{}, dead_{}, budget_{}, meter_{};
  std::array<uint64_t, 4> survived_{}, collected_{};  // sums, for the survival ratios
  std::array<uint64_t, 3> counts_{};
  uint64_t collections_ = 0;  // = counts_[0]
  uint64_t last_full_ = 0;    // index of the last Gen1-or-Gen2 collection, 0 = none
  uint64_t soh_bytes_ = 0, loh_bytes_ = 0, loh_allocations_ = 0, promoted_ = 0, peak_heap_ = 0;

  // Collections over time: fine bins whose width doubles when there are more than kMaxBins.
  struct Bin {
    uint64_t gen0 = 0, gen1 = 0, gen2 = 0;
  };
  static constexpr size_t kMaxBins = 8192;
  std::vector<Bin> bins_;
  uint64_t bin_width_ = 1000;  // ns

  std::vector<GenCollection> table_;
  uint64_t stride_ = 1;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_GEN_MODEL_H_
