#include "passes/gen_model.h"

#include <algorithm>
#include <cmath>

namespace allocprof {
namespace {

constexpr uint64_t kGen0BaseBytes = 256 << 10;

// floor(a * b / c) without overflow, for window boundaries.
uint64_t MulDiv(uint64_t a, uint64_t b, uint64_t c) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b / c);
}

double Median(std::vector<double>* v) {
  auto mid = v->begin() + static_cast<ptrdiff_t>(v->size() / 2);
  std::nth_element(v->begin(), mid, v->end());
  return *mid;
}

}  // namespace

GenParameters ResolveGenParameters(const GenParameters& in) {
  GenParameters p = in;
  if (p.gen0_budget == 0) {
    // The .NET runtime's gen0size: max(4/5 of the last-level cache, 256 KiB), then 5/8 of that.
    uint64_t base = std::max(p.llc_bytes / 5 * 4 + p.llc_bytes % 5 * 4 / 5, kGen0BaseBytes);
    p.gen0_budget = base / 8 * 5;
  }
  auto fix_range = [](uint64_t& min, uint64_t& max) {
    min = std::max<uint64_t>(min, 1);
    if (max != 0 && max < min) max = min;
  };
  fix_range(p.gen1_min, p.gen1_max);
  fix_range(p.gen2_min, p.gen2_max);
  fix_range(p.loh_min, p.loh_max);
  auto fix_growth = [](double& lo, double& hi) {
    if (!(lo >= 1.0)) lo = 1.0;  // also NaN
    if (!(hi >= lo)) hi = lo;
  };
  fix_growth(p.gen1_growth_min, p.gen1_growth_max);
  fix_growth(p.gen2_growth_min, p.gen2_growth_max);
  fix_growth(p.loh_growth_min, p.loh_growth_max);
  p.windows = std::max<size_t>(p.windows, 1);
  p.max_collections = std::max<size_t>(p.max_collections, 2);
  return p;
}

double GenGrowth(double rate, double lo, double hi) {
  if (!(hi > lo)) return lo;
  // lo >= 1 and hi > lo make the threshold at most 1/lo, so the denominator stays positive.
  if (rate < (hi - lo) / (lo * (hi - 1.0))) return (lo - lo * rate) / (1.0 - rate * lo);
  return hi;
}

GenModel::GenModel(const GenParameters& parameters, uint64_t origin_ns)
    : params_(ResolveGenParameters(parameters)), origin_(origin_ns), last_time_(origin_ns) {
  budget_ = {params_.gen0_budget, params_.gen1_min, params_.gen2_min, params_.loh_min};
}

void GenModel::OnAlloc(uint64_t time, uint64_t addr, uint64_t size, uint64_t count) {
  auto [obj, inserted] = objects_.TryEmplace(addr, Object{});
  // The trace missed this address's free: the old object is garbage from now on.
  if (!inserted) Release(*obj);
  // Collect never touches objects_, so `obj` stays valid across it.
  Place(time, *obj, size, count);
}

void GenModel::Place(uint64_t time, Object& obj, uint64_t object_size, uint64_t count) {
  // Large or small by the object's own size; charged for every object it stands for.
  uint64_t size = object_size * count;
  obj.size = size;
  if (object_size >= params_.loh_threshold) {
    loh_bytes_ += size;
    loh_allocations_ += count;
    meter_[kGenLoh] += size;
    if (meter_[kGenLoh] >= budget_[kGenLoh]) Collect(time, /*loh_triggered=*/true);
    obj.epoch = kLohEpoch;
    live_[kGenLoh] += size;
  } else {
    soh_bytes_ += size;
    meter_[kGen0] += size;
    if (meter_[kGen0] >= budget_[kGen0]) Collect(time, /*loh_triggered=*/false);
    obj.epoch = collections_;
    live_[kGen0] += size;
  }
}

void GenModel::OnFree(uint64_t addr) {
  Object* obj = objects_.Find(addr);
  if (!obj) return;  // allocated before the trace began, or its allocation was lost
  Release(*obj);
  objects_.Erase(obj);
}

uint64_t GenModel::Derive(GenIndex g, uint64_t survivors, uint64_t collected) const {
  const GenParameters& p = params_;
  double lo = g == kGen1 ? p.gen1_growth_min : g == kGen2 ? p.gen2_growth_min : p.loh_growth_min;
  double hi = g == kGen1 ? p.gen1_growth_max : g == kGen2 ? p.gen2_growth_max : p.loh_growth_max;
  uint64_t min = g == kGen1 ? p.gen1_min : g == kGen2 ? p.gen2_min : p.loh_min;
  uint64_t max = g == kGen1 ? p.gen1_max : g == kGen2 ? p.gen2_max : p.loh_max;
  double rate = collected ? static_cast<double>(survivors) / static_cast<double>(collected) : 0.0;
  double want = GenGrowth(rate, lo, hi) * static_cast<double>(survivors);
  uint64_t limit = max ? max : UINT64_MAX;
  uint64_t budget = want >= static_cast<double>(limit) ? limit : static_cast<uint64_t>(want);
  return std::clamp(budget, min, limit);
}

void GenModel::Collect(uint64_t time, bool loh_triggered) {
  int n = loh_triggered ? 2 : 0;
  if (meter_[kGen1] >= budget_[kGen1]) n = std::max(n, 1);
  if (meter_[kGen2] >= budget_[kGen2]) n = 2;

  GenCollection c;
  c.index = collections_ + 1;
  c.time_ns = time > origin_ ? time - origin_ : 0;
  c.generation = n;
  c.loh_triggered = loh_triggered;
  c.heap_before = heap_bytes();
  peak_heap_ = std::max(peak_heap_, c.heap_before);

  // Survivors of each collected generation: its live bytes (freed ones are what gets reclaimed).
  std::array<uint64_t, 4> survivors{};
  int last = n == 2 ? kGenLoh : n;
  for (int g = 0; g <= last; ++g) {
    survivors[g] = live_[g];
    survived_[g] += live_[g];
    collected_[g] += live_[g] + dead_[g];
  }
  // Re-derive the budgets of the collected generations (Gen0's is fixed); the triggering
  // allocation's overshoot carries into the next period of its meter, the other meters restart.
  if (n >= 1) {
    budget_[kGen1] = Derive(kGen1, survivors[kGen1], live_[kGen1] + dead_[kGen1]);
    meter_[kGen1] = 0;
  }
  if (n == 2) {
    budget_[kGen2] = Derive(kGen2, survivors[kGen2], live_[kGen2] + dead_[kGen2]);
    meter_[kGen2] = 0;
    uint64_t overshoot = loh_triggered ? meter_[kGenLoh] - budget_[kGenLoh] : 0;
    budget_[kGenLoh] = Derive(kGenLoh, survivors[kGenLoh], live_[kGenLoh] + dead_[kGenLoh]);
    meter_[kGenLoh] = overshoot;
  }
  meter_[kGen0] = loh_triggered ? 0 : meter_[kGen0] - budget_[kGen0];

  // Promotion: Gen0 -> Gen1 always, Gen1 -> Gen2 from a Gen1 collection on; charged to the receiver.
  c.promoted_bytes = survivors[kGen0];
  meter_[kGen1] += survivors[kGen0];
  if (n >= 1) {
    c.promoted_bytes += survivors[kGen1];
    meter_[kGen2] += survivors[kGen1];
    live_[kGen2] += survivors[kGen1];
    live_[kGen1] = survivors[kGen0];
    dead_[kGen1] = 0;
  } else {
    live_[kGen1] += survivors[kGen0];
  }
  live_[kGen0] = dead_[kGen0] = 0;
  if (n == 2) dead_[kGen2] = dead_[kGenLoh] = 0;
  promoted_ += c.promoted_bytes;

  // The objects follow by themselves: GenOf reads these two.
  ++collections_;
  if (n >= 1) last_full_ = collections_;
  ++counts_[0];
  if (n >= 1) ++counts_[1];
  if (n == 2) ++counts_[2];

  c.heap_after = heap_bytes();
  Record(c);
}

void GenModel::Record(const GenCollection& c) {
  while (c.time_ns / bin_width_ >= kMaxBins) {
    // Coarsen: merge neighbours, double the width.
    size_t half = (bins_.size() + 1) / 2;
    for (size_t i = 0; i < half; ++i) {
      Bin merged = bins_[2 * i];
      if (2 * i + 1 < bins_.size()) {
        merged.gen0 += bins_[2 * i + 1].gen0;
        merged.gen1 += bins_[2 * i + 1].gen1;
        merged.gen2 += bins_[2 * i + 1].gen2;
      }
      bins_[i] = merged;
    }
    bins_.resize(half);
    bin_width_ *= 2;
  }
  size_t bin = static_cast<size_t>(c.time_ns / bin_width_);
  if (bin >= bins_.size()) bins_.resize(bin + 1);
  ++bins_[bin].gen0;
  if (c.generation >= 1) ++bins_[bin].gen1;
  if (c.generation == 2) ++bins_[bin].gen2;

  if ((c.index - 1) % stride_ != 0) return;
  table_.push_back(c);
  if (table_.size() > params_.max_collections) {
    // Keep every other row (the even multiples of the stride).
    size_t kept = 0;
    for (const GenCollection& row : table_) {
      if ((row.index - 1) % (2 * stride_) == 0) table_[kept++] = row;
    }
    table_.resize(kept);
    stride_ *= 2;
  }
}

GenResult GenModel::Finish(uint64_t end_ns) {
  GenResult r;
  r.parameters = params_;
  r.gen0 = counts_[0];
  r.gen1 = counts_[1];
  r.gen2 = counts_[2];
  r.soh_bytes = soh_bytes_;
  r.loh_bytes = loh_bytes_;
  r.loh_allocations = loh_allocations_;
  r.promoted_bytes = promoted_;
  auto ratio = [&](int g) {
    return collected_[g] ? static_cast<double>(survived_[g]) / static_cast<double>(collected_[g]) : 0.0;
  };
  r.survival = {ratio(kGen0), ratio(kGen1), ratio(kGen2), ratio(kGenLoh)};
  r.peak_heap_bytes = std::max(peak_heap_, heap_bytes());
  r.final_budgets = budget_;

  uint64_t end = std::max(end_ns, last_time_);
  r.duration_ns = end > origin_ ? end - origin_ : 0;
  double seconds = static_cast<double>(r.duration_ns) / 1e9;
  r.collections_per_second = seconds > 0 ? static_cast<double>(counts_[0]) / seconds : 0;

  // Windows: each fine bin goes to the window holding its midpoint (a bin is at most 1/4096 of
  // the run once the run is longer than kMaxBins initial widths, so the boundary error is small).
  size_t n = params_.windows;
  uint64_t span = std::max<uint64_t>(r.duration_ns, 1);
  r.windows.resize(n);
  for (size_t i = 0; i < n; ++i) {
    GenWindow& w = r.windows[i];
    w.start_ns = MulDiv(span, i, n);
    w.end_ns = MulDiv(span, i + 1, n);
  }
  for (size_t b = 0; b < bins_.size(); ++b) {
    uint64_t mid = b * bin_width_ + bin_width_ / 2;
    size_t i = std::min<size_t>(n - 1, static_cast<size_t>(MulDiv(std::min(mid, span), n, span)));
    r.windows[i].gen0 += bins_[b].gen0;
    r.windows[i].gen1 += bins_[b].gen1;
    r.windows[i].gen2 += bins_[b].gen2;
  }
  for (GenWindow& w : r.windows) {
    double len = static_cast<double>(w.end_ns - w.start_ns) / 1e9;
    w.per_second = len > 0 ? static_cast<double>(w.gen0) / len : 0;
  }

  r.collections = table_;
  r.collection_stride = stride_;
  if (table_.size() >= 3) {
    std::vector<double> spacing, drop;
    for (size_t i = 0; i < table_.size(); ++i) {
      const GenCollection& c = table_[i];
      drop.push_back(static_cast<double>(c.heap_before) - static_cast<double>(c.heap_after));
      if (i == 0) continue;
      const GenCollection& p = table_[i - 1];
      uint64_t gap = c.time_ns >= p.time_ns ? c.time_ns - p.time_ns : 0;  // events come in time order
      spacing.push_back(static_cast<double>(gap) / static_cast<double>(c.index - p.index));
    }
    r.sawtooth.found = true;
    r.sawtooth.period_s = Median(&spacing) / 1e9;
    r.sawtooth.amplitude_bytes = Median(&drop);
  }
  return r;
}

}  // namespace allocprof
