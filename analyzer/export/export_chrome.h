// Chrome trace-event JSON (`allocprof export --format chrome`): the {"traceEvents": [...]} format
// that ui.perfetto.dev and chrome://tracing open, showing the allocation timeline of one process.
//
// Events, timestamps in microseconds since the process start, data events in time order:
// - metadata (ph "M"): process_name, thread_name;
// - counter "live", arg "bytes" (Perfetto names the track "live bytes"): the live heap, one value
//   per timeline window (the window's maximum, so no peak disappears between points);
// - counter "allocation rate", arg "calls/s", and counter "allocation rate (bytes)", arg "bytes/s":
//   per window; each counter series gets a final point at the end of the run;
// - instants (ph "i", process scope) "Gen0 collection" / "Gen1 collection" / "Gen2 collection",
//   one per collection of the Gen-style pressure model (gen_model.h), with heap before/after and
//   promoted bytes as args.
// - instants (ph "i", thread scope) "allocations" on a thread track of their own ("allocation
//   stacks", tid kStackTrackTid): per timeline window, the stacks that allocated the most bytes
//   in it, each with its calls and bytes in the window and its stack as args.stack (frames, leaf
//   first: Perfetto lists them in the event's arguments) and as "sf", an id into the trace's
//   "stackFrames" (name, parent: the Trace Event Format's frame table, which chrome://tracing
//   shows as the event's stack).
// A counter value equal to the previous one is left out: a counter holds its value until the next.
//
// Thread-safety: none needed (plain functions); GenCollectionsPass is one instance per thread.
#ifndef ALLOCPROF_ANALYZER_EXPORT_CHROME_H_
#define ALLOCPROF_ANALYZER_EXPORT_CHROME_H_

#include <stdint.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "passes/gen_model.h"
#include "passes/stack_windows.h"
#include "passes/timeline.h"
#include "read/process_trace.h"

namespace allocprof {

struct ChromeCollection {
  uint64_t time_ns = 0;  // relative to the process start
  uint64_t index = 0;    // 1-based, all generations counted
  int generation = 0;    // 0, 1 or 2
  bool loh_triggered = false;
  uint64_t heap_before = 0, heap_after = 0, promoted_bytes = 0;
};

// One stack's allocations in one window, at the window's start.
struct ChromeStackSample {
  uint64_t time_ns = 0;  // relative to the process start
  uint64_t calls = 0, bytes = 0;
  uint32_t frame = 0;  // id in ChromeTraceInput::frames of the leaf frame
};

// A node of the stackFrames table: ids start at 1; parent 0 = none (a root frame).
struct ChromeFrame {
  std::string name;
  uint32_t parent = 0;
};

inline constexpr uint64_t kStackTrackTid = 1u << 30;  // the allocation-stacks track's tid (not a real thread)

struct ChromeTraceInput {
  uint64_t pid = 0;
  std::string process_name;                   // e.g. "kcat (pid 1234)"
  std::string thread_name;                    // the thread track (tid = pid) the metadata names
  std::string generator;                      // "allocprof VERSION", in otherData
  std::string trace_path;                     // in otherData
  std::vector<TimeWindow> windows;            // consecutive windows, times relative to the process start
  uint64_t end_ns = 0;                        // end of the run, relative to the process start
  bool gen_model = false;                     // collections come from a Gen model (even when there are none)
  std::vector<ChromeCollection> collections;  // in time order
  std::vector<ChromeFrame> frames;            // frames[i] has id i + 1
  std::vector<ChromeStackSample> samples;     // in time order
};

// The stackFrames table and the samples: per window (times relative to the process start), the
// `per_window` stacks with the most bytes. `frames_of` gives a stack's frame names root first.
void AddChromeStackSamples(const std::vector<StackWindowCell>& cells, const std::vector<TimeWindow>& windows,
                           uint64_t window_offset_ns, size_t per_window,
                           const std::function<std::vector<std::string>(uint32_t stack_id)>& frames_of,
                           ChromeTraceInput* input);

std::string RenderChromeTrace(const ChromeTraceInput& input);

// The Gen-model collections for the instants: replays the ordered events through GenModel with the
// given parameters (export's --llc, --gen0-budget, ...), the cache size otherwise being the one the
// trace recorded.
class GenCollectionsPass : public EventSink {
 public:
  // The catalog gives the time origin and, unless `params` sets llc_bytes, the cache size; it is
  // read at the first event.
  GenCollectionsPass(const ProcessCatalog* catalog, const GenParameters& params);
  ~GenCollectionsPass() override;
  void OnEvent(const Event& e) override;
  // After the last event. `origin_ns` and `end_ns` are absolute; times come back relative to
  // origin_ns.
  std::vector<ChromeCollection> Finish(uint64_t origin_ns, uint64_t end_ns);

 private:
  struct Impl;
  const ProcessCatalog* catalog_;
  GenParameters params_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_EXPORT_CHROME_H_
