// ProcessCatalog: everything a process's trace describes besides its allocation events (the
// process, threads, modules, stacks, pools, counters, marks, capture changes, warnings and damage),
// as CatalogBuilder (read/catalog_builder.h) fills it while the trace is read.
//
// Plain data. Thread-safety: written by the reading pass only; passes read it (a pass fed events
// may look at it while the read goes on: what it holds then covers the chunks read so far).
#ifndef ALLOCPROF_ANALYZER_CATALOG_H_
#define ALLOCPROF_ANALYZER_CATALOG_H_

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "allocprof/trace_format.h"
#include "read/record_decoder.h"
#include "read/sampling.h"
#include "read/trace_file.h"

namespace allocprof {

struct ThreadInfo {
  uint64_t tid = 0;
  std::string name;
  uint64_t start_time = 0;
  uint64_t end_time = 0;
  bool ended = false;
};

struct ModuleInfo {
  uint64_t time = 0;  // recorded at (the module was mapped no later than this)
  uint64_t load_bias = 0;
  std::string path;
  std::string build_id;  // raw bytes
  std::vector<Segment> segments;
  uint64_t unload_time = 0;  // a kModuleUnload said it was unmapped then; 0: mapped to the end
};

// The record in `modules` whose segments hold `address` at `time`: the one mapped then (the latest
// recorded, if several claim it); failing that, the first recorded after `time` (a module is
// recorded when first needed, which may be a little after it was mapped); failing that, the
// latest that holds it. -1 when none holds it. Linear in the segments: for traces with unloads.
int ModuleIndexAt(const std::vector<ModuleInfo>& modules, uint64_t address, uint64_t time);

struct PoolInfo {
  std::string name;
  uint64_t max_block = 0;
  uint64_t slots_per_bucket = 0;
};

struct ProcessCatalog {
  std::string path;
  bool has_process = false;
  ProcessInfo process;
  bool ended_cleanly = false;      // a kEnd record was seen, or the trace ends with an exec
  std::vector<std::string> execs;  // paths the process exec'd (last one replaced it)
  uint64_t last_exec_time = 0;
  absl::flat_hash_map<uint32_t, ThreadInfo> threads;
  std::vector<ModuleInfo> modules;
  absl::flat_hash_map<uint32_t, std::vector<uint64_t>> stacks;
  // When each stack was first used (its frames are resolved against the modules mapped then);
  // used only when the trace unloaded a module, since otherwise every time resolves the same.
  absl::flat_hash_map<uint32_t, uint64_t> stack_times;
  bool has_unloads = false;  // some module was unloaded (kModuleUnload)
  std::vector<std::string> shim_warnings;
  // What the program's __lsan_default_suppressions() returned (kSuppressions), LeakSanitizer's format.
  std::string embedded_suppressions;
  std::map<uint32_t, PoolInfo> pools;        // by pool id
  std::map<uint32_t, std::string> counters;  // work-unit counter names by id
  struct Mark {
    uint64_t time;
    std::string name;
    uint32_t thread;
  };
  std::vector<Mark> marks;  // in file order; sorted by time when the read ends
  struct Capture {
    uint64_t time;
    format::CaptureState state;
    std::string reason;
  };
  std::vector<Capture> captures;  // capture-control changes, sorted by time when the read ends
  // Whether the trace recorded only part of the run (capture control): frees of blocks it never
  // saw allocated are then expected.
  bool partial_capture() const {
    return !captures.empty() && !(captures.size() == 1 && captures[0].state == format::CaptureState::kRecording);
  }
  std::vector<Diagnostic> diagnostics;  // damage found while reading
  // Where damage hid events: an event lost to it happened in [start_ns, end_ns) (end_ns is
  // UINT64_MAX when no later chunk bounds it). A block allocated before end_ns and never seen freed
  // may have been freed there; a free after start_ns of an unseen block may be of one allocated there.
  struct DamageGap {
    uint64_t start_ns = 0, end_ns = 0;
  };
  std::vector<DamageGap> damage_gaps;
  // What each thread lost, as exactly as its surviving chunks tell (a thread's chunks cover its
  // time without holes, so a chunk that does not start where the thread's previous one ended
  // bounds a loss): none of its events in [start_ns, end_ns) were read (end_ns UINT64_MAX: to the
  // end). Added as the read finds them, before the merger releases any event at or after
  // start_ns, so a pass replaying events meets each one in time (passes/heap_analysis.h).
  struct LostRange {
    uint32_t thread = 0;
    uint64_t start_ns = 0, end_ns = 0;
  };
  std::vector<LostRange> lost_ranges;
  uint64_t chunks = 0;
  uint64_t records = 0;
  uint64_t events = 0;
  uint64_t out_of_order_events = 0;  // arrived after newer events were released (should be 0)
  // The sampling interval is known once the process chunk was read; the estimate when the read ends.
  SamplingEstimate sampling;
  uint64_t first_time = 0, last_time = 0;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_CATALOG_H_
