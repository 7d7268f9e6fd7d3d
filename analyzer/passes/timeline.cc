#include "passes/timeline.h"

#include <algorithm>

#include "read/sampling.h"

namespace allocprof {
namespace {

void Absorb(TimeWindow& into, const TimeWindow& w) {
  if (!w.touched) return;
  if (!into.touched) {
    into.live_min = w.live_min;
    into.live_max = w.live_max;
  } else {
    into.live_min = std::min(into.live_min, w.live_min);
    into.live_max = std::max(into.live_max, w.live_max);
  }
  into.live_end = w.live_end;
  into.live_end_variance = w.live_end_variance;
  into.allocations += w.allocations;
  into.bytes_allocated += w.bytes_allocated;
  into.frees += w.frees;
  into.bytes_freed += w.bytes_freed;
  into.allocations_variance += w.allocations_variance;
  into.bytes_allocated_variance += w.bytes_allocated_variance;
  into.frees_variance += w.frees_variance;
  into.bytes_freed_variance += w.bytes_freed_variance;
  into.touched = true;
}

// Windows without events carry the live level of the last event before them.
void FillGaps(std::vector<TimeWindow>& ws, int64_t live) {
  double variance = 0;
  for (auto& w : ws) {
    if (!w.touched) {
      w.live_min = w.live_max = w.live_end = live;
      w.live_end_variance = variance;
    }
    live = w.live_end;
    variance = w.live_end_variance;
  }
}

// One weighted event of `count` blocks of `bytes` in all: the variances of its count and bytes.
void EventVariances(uint64_t bytes, uint64_t count, double* count_variance, double* bytes_variance) {
  *count_variance = count > 1 ? CountVariance(count) : 0;
  *bytes_variance = count > 1 ? BytesVariance(bytes / count, count) : 0;
}

}  // namespace

Timeline::Timeline(uint64_t origin_ns, uint64_t initial_width_ns, int64_t initial_live)
    : origin_(origin_ns), width_(initial_width_ns), initial_live_(initial_live), live_(initial_live) {}

TimeWindow& Timeline::AtSlow(uint64_t time) {
  uint64_t rel = time > origin_ ? time - origin_ : 0;
  size_t index = static_cast<size_t>(rel / width_);
  while (index >= kMaxFine) {
    Coarsen();
    index = static_cast<size_t>(rel / width_);
  }
  if (index >= fine_.size()) {
    size_t old = fine_.size();
    fine_.resize(index + 1);
    for (size_t i = old; i <= index; ++i) {
      fine_[i].start_ns = i * width_;
      fine_[i].end_ns = (i + 1) * width_;
    }
  }
  current_ = index;
  current_start_ = origin_ + index * width_;
  current_end_ = current_start_ + width_;
  if (time < origin_) current_end_ = current_start_;  // before the origin: never cached
  return fine_[index];
}

void Timeline::Coarsen() {
  std::vector<TimeWindow> merged((fine_.size() + 1) / 2);
  width_ *= 2;
  for (size_t i = 0; i < merged.size(); ++i) {
    merged[i].start_ns = i * width_;
    merged[i].end_ns = (i + 1) * width_;
    Absorb(merged[i], fine_[2 * i]);
    if (2 * i + 1 < fine_.size()) Absorb(merged[i], fine_[2 * i + 1]);
  }
  fine_.swap(merged);
  current_start_ = 1;
  current_end_ = 0;
}

void Timeline::OnWeightedAlloc(uint64_t time, uint64_t size, int64_t live_after, uint64_t count) {
  double count_variance, bytes_variance;
  EventVariances(size, count, &count_variance, &bytes_variance);
  TimeWindow& w = Touch(time, live_after, bytes_variance);
  w.allocations += count;
  w.bytes_allocated += size;
  w.allocations_variance += count_variance;
  w.bytes_allocated_variance += bytes_variance;
}

void Timeline::OnWeightedFree(uint64_t time, uint64_t size, int64_t live_after, uint64_t count) {
  double count_variance, bytes_variance;
  EventVariances(size, count, &count_variance, &bytes_variance);
  TimeWindow& w = Touch(time, live_after, -bytes_variance);
  w.frees += count;
  w.bytes_freed += size;
  w.frees_variance += count_variance;
  w.bytes_freed_variance += bytes_variance;
}

TimeWindow& Timeline::Touch(uint64_t time, int64_t live_after, double live_variance_change) {
  live_variance_ = std::max(0.0, live_variance_ + live_variance_change);
  return TouchUnweighted(time, live_after);
}

std::vector<TimeWindow> Timeline::Fine(uint64_t end_ns) const {
  std::vector<TimeWindow> out = fine_;
  uint64_t rel_end = end_ns > origin_ ? end_ns - origin_ : 0;
  while (!out.empty() && out.back().start_ns > rel_end) out.pop_back();
  FillGaps(out, initial_live_);
  return out;
}

std::vector<TimeWindow> Timeline::Windows(uint64_t end_ns, size_t count, uint64_t width_ns) const {
  uint64_t duration = end_ns > origin_ ? end_ns - origin_ : 0;
  if (width_ns == 0) {
    if (count == 0) count = 100;
    width_ns = std::max<uint64_t>(1, (duration + count - 1) / count);
  }
  size_t n = static_cast<size_t>(std::max<uint64_t>(1, (duration + width_ns - 1) / width_ns));
  if (n > 1000000) n = 1000000;
  std::vector<TimeWindow> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].start_ns = i * width_ns;
    out[i].end_ns = (i + 1) * width_ns;
  }
  for (const TimeWindow& w : fine_) {
    if (!w.touched) continue;
    size_t i = std::min(n - 1, static_cast<size_t>(w.start_ns / width_ns));
    Absorb(out[i], w);
  }
  FillGaps(out, initial_live_);
  return out;
}

}  // namespace allocprof
