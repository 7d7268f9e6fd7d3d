// Live heap and allocation rate over time, in one streaming pass without knowing the run's length.
//
// Events are counted into fine windows whose width doubles (neighbours merged) whenever there
// are more than kMaxFine of them, so memory is bounded and the width adapts to the run. At the end
// the fine windows are re-bucketed into the requested output windows. A fine window is at most
// 1/kMinFine of the run, which bounds the boundary error of the output windows.
#ifndef ALLOCPROF_ANALYZER_TIMELINE_H_
#define ALLOCPROF_ANALYZER_TIMELINE_H_

#include <stddef.h>
#include <stdint.h>

#include <algorithm>
#include <vector>

namespace allocprof {

struct TimeWindow {
  uint64_t start_ns = 0;  // relative to the timeline's origin
  uint64_t end_ns = 0;
  int64_t live_min = 0, live_max = 0, live_end = 0;
  uint64_t allocations = 0, bytes_allocated = 0;
  uint64_t frees = 0, bytes_freed = 0;
  // Sampled traces: the variances of the estimates above (read/sampling.h); 0 in a full trace.
  double allocations_variance = 0, bytes_allocated_variance = 0, frees_variance = 0, bytes_freed_variance = 0;
  double live_end_variance = 0;
  bool touched = false;  // any event fell into it
};

class Timeline {
 public:
  static constexpr size_t kMaxFine = 8192;
  static constexpr size_t kMinFine = kMaxFine / 2;

  // `initial_live`: bytes already live at the origin (an analysis window's carried-in heap).
  explicit Timeline(uint64_t origin_ns, uint64_t initial_width_ns = 1000, int64_t initial_live = 0);
  // `live_after` is the live byte count after the event.
  // `size`: bytes of all `count` events (count > 1: a sampled trace's weighted event, whose
  // variances the windows sum).
  // An event of one block (every event of a full trace) has no variance: inline, no arithmetic on it.
  void OnAlloc(uint64_t time, uint64_t size, int64_t live_after, uint64_t count = 1) {
    if (__builtin_expect(count > 1, 0)) return OnWeightedAlloc(time, size, live_after, count);
    TimeWindow& w = TouchUnweighted(time, live_after);
    w.allocations += count;
    w.bytes_allocated += size;
  }
  void OnFree(uint64_t time, uint64_t size, int64_t live_after, uint64_t count = 1) {
    if (__builtin_expect(count > 1, 0)) return OnWeightedFree(time, size, live_after, count);
    TimeWindow& w = TouchUnweighted(time, live_after);
    w.frees += count;
    w.bytes_freed += size;
  }

  // Output windows: `count` equal windows over [origin, end], or fixed `width_ns` when non-zero.
  std::vector<TimeWindow> Windows(uint64_t end_ns, size_t count, uint64_t width_ns) const;
  // The fine windows themselves (with gaps filled), for pattern detection.
  std::vector<TimeWindow> Fine(uint64_t end_ns) const;
  uint64_t fine_width_ns() const { return width_; }

 private:
  TimeWindow& At(uint64_t time) {
    // Events arrive in time order: the current window usually still holds the next one.
    if (time >= current_start_ && time < current_end_) return fine_[current_];
    return AtSlow(time);
  }
  TimeWindow& AtSlow(uint64_t time);
  void OnWeightedAlloc(uint64_t time, uint64_t size, int64_t live_after, uint64_t count);
  void OnWeightedFree(uint64_t time, uint64_t size, int64_t live_after, uint64_t count);
  // The window of `time`, with the live level after the event applied.
  TimeWindow& Touch(uint64_t time, int64_t live_after, double live_variance_change);
  // The same for an event that leaves the live bytes' variance as it is.
  TimeWindow& TouchUnweighted(uint64_t time, int64_t live_after) {
    TimeWindow& w = At(time);
    if (!w.touched) w.live_min = w.live_max = live_;  // the level the window opened at
    w.touched = true;
    w.live_max = std::max(w.live_max, live_after);
    w.live_min = std::min(w.live_min, live_after);
    w.live_end = live_after;
    w.live_end_variance = live_variance_;
    live_ = live_after;
    return w;
  }
  void Coarsen();

  uint64_t origin_;
  uint64_t width_;
  std::vector<TimeWindow> fine_;
  int64_t initial_live_ = 0;
  int64_t live_ = 0;
  double live_variance_ = 0;  // of the live bytes' estimate: the sampled live blocks' BytesVariance
  size_t current_ = 0;
  uint64_t current_start_ = 1, current_end_ = 0;  // absolute; empty until the first event
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_TIMELINE_H_
