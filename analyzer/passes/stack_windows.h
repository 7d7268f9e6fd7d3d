// Allocation calls and bytes per call stack and per stretch of time, in one streaming pass that
// does not know the run's length: what lets a flame graph be redrawn for a part of the run (the
// interactive report's time-range selection) and the Chrome export show which stacks allocated
// when.
//
// Each stack keeps a sparse list of (fine window, calls, bytes), appended in time order. Fine
// windows start 1 µs wide and double (neighbours merged, in every stack's list) whenever there
// would be more than kMaxFine of them, so a stack that allocates all through the run holds at most
// kMaxFine entries. At the end the fine windows are re-bucketed, each by its start, into the
// report's timeline windows (Timeline::Windows does the same), so a window's figures are exact to
// within one fine window (at most 1/kMinFine of the run) at each of its edges.
//
// Thread-safety: none (one instance per thread); fed as an ordered pass (HeapPassFanout).
#ifndef ALLOCPROF_ANALYZER_STACK_WINDOWS_H_
#define ALLOCPROF_ANALYZER_STACK_WINDOWS_H_

#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "passes/timeline.h"
#include "read/process_trace.h"

namespace allocprof {

// One stack's allocations in one output window.
struct StackWindowCell {
  uint32_t stack_id = 0;
  uint32_t window = 0;  // index into the output windows
  uint64_t calls = 0, bytes = 0;
};

class StackWindows : public EventSink {
 public:
  static constexpr size_t kMaxFine = 512;
  static constexpr size_t kMinFine = kMaxFine / 2;

  void OnEvent(const Event& e) override {
    if (e.kind != EventKind::kHeap || e.is_free) return;
    Add(e.time, e.stack_id, e.weight, e.size * e.weight);
  }
  // `calls` allocations of `bytes` in all at absolute time `time` (tests, other callers).
  void Add(uint64_t time, uint32_t stack_id, uint64_t calls, uint64_t bytes);

  // Every (stack, window) with allocations, sorted by stack then window. `origin_ns` is the
  // absolute time the windows' start_ns/end_ns count from (the heap pass's origin); allocations
  // before the first window fall into it, after the last into the last.
  std::vector<StackWindowCell> Cells(uint64_t origin_ns, const std::vector<TimeWindow>& windows) const;

  uint64_t fine_width_ns() const { return width_; }
  size_t stacks() const { return by_stack_.size(); }

 private:
  struct Entry {
    uint32_t fine = 0;
    uint64_t calls = 0, bytes = 0;
  };
  void Coarsen();

  bool started_ = false;
  uint64_t origin_ = 0;  // absolute time of the first allocation
  uint64_t width_ = 1000;
  absl::flat_hash_map<uint32_t, std::vector<Entry>> by_stack_;
  // The last stack touched and its list: consecutive allocations often come from one stack.
  uint32_t last_stack_ = 0;
  std::vector<Entry>* last_list_ = nullptr;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_STACK_WINDOWS_H_
