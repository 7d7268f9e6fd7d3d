// The allocation event every analysis pass consumes, one per allocation, free or pool record, and
// EventSink, the interface through which the reader hands events to the passes.
#ifndef ALLOCPROF_ANALYZER_EVENT_H_
#define ALLOCPROF_ANALYZER_EVENT_H_

#include <stddef.h>
#include <stdint.h>

#include "allocprof/trace_format.h"

namespace allocprof {

inline constexpr uint32_t kLateThread = format::kProcessThread;

// kHeap events are allocations and frees (is_free); the others come from the pool hooks and
// travel in the same order as the allocations they enclose.
// kMark events carry the mark's index in ProcessCatalog::marks (file order) in `pool`, so passes
// that depend on marks (analysis windows) see them in time order.
enum class EventKind : uint8_t { kHeap, kRentBegin, kRentEnd, kPoolReturn, kCount, kMark };

struct Event {
  uint64_t time;
  uint64_t addr;      // kRentEnd: the granted size
  uint64_t size;      // allocation size; rents: requested; kPoolReturn: size; kCount: n
  uint32_t stack_id;  // allocations, kRentBegin, dropped kPoolReturn; 0 = no stack
  uint32_t thread;    // writer thread index, kLateThread for events written after the thread's exit
  format::EntryPoint entry;
  bool is_free;
  EventKind kind = EventKind::kHeap;
  uint8_t outcome = 0;  // kRentEnd, kPoolReturn (pool.h's enums)
  uint32_t pool = 0;    // pool id; kCount: counter id
  // kHeap: how many events of the program this one stands for (analyzer/read/sampling.h). 1 in a full
  // trace. In a sampled trace an allocation's weight is ~1/p and a free's is 0: it stands for as
  // many frees as its allocation did, which only the pairing pass knows.
  uint32_t weight = 1;
};

// What the reader (read/process_trace.h) feeds: a pass, or a fan-out to several.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Every event, in time order (frees first on equal times).
  virtual void OnEvent(const Event& e) = 0;
  // The same, a run of consecutive events at a time (what the merger calls): one virtual call per
  // run, and a sink that looks ahead in the run can prefetch what the next events will touch.
  virtual void OnEvents(const Event* events, size_t n) {
    for (size_t i = 0; i < n; ++i) OnEvent(events[i]);
  }
  // The same for a run the merger knows holds kHeap events only (most runs of most traces): a sink
  // that looks only at the other kinds may skip it.
  virtual void OnHeapEvents(const Event* events, size_t n) { OnEvents(events, n); }
  // Every event again, earlier, one decoded chunk at a time and NOT in time order, on the thread
  // that reads the file: for statistics that do not depend on order, so they run in parallel with
  // the ordered pass. Never called concurrently with itself.
  virtual void OnEventsUnordered(const Event* events, size_t n) {}
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_EVENT_H_
