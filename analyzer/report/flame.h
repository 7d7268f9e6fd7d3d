// The allocation call tree behind the flame graphs (reports/, report.html): every stack that
// allocated, merged root first by function into one tree, with each node's own (self) calls,
// bytes, bytes live at the global peak and bytes leaked, and each node's calls and bytes per
// timeline window, so a part of the run can be drawn on its own.
//
// Nodes are merged by frame name (the demangled function, or module+0xOFFSET when unknown), as
// FlameGraph merges folded stacks, so a function called from one place is one frame whatever line
// it called from; the node keeps the call site (file:line) of the heaviest stack through it (by
// bytes, then calls, then stack id), which makes the tree deterministic. A parent's index is always
// lower than its children's. Inlined frames are nodes of their own, as in the folded export.
//
// JSON (docs/json-schema.md, "flame"): columnar arrays, so a million nodes stay a few tens of MB.
//
// Thread-safety: plain data and functions.
#ifndef ALLOCPROF_ANALYZER_REPORT_FLAME_H_
#define ALLOCPROF_ANALYZER_REPORT_FLAME_H_

#include <stdint.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "passes/heap_analysis.h"
#include "passes/stack_windows.h"
#include "read/process_trace.h"
#include "util/json_writer.h"

namespace allocprof {

struct ReportFrame;

struct FlameSite {
  std::string name;  // what the graph shows: function, or module+0xOFFSET, or a [pseudo-frame]
  std::string function, file, module;
  int line = 0;
  bool inlined = false;
};

struct FlameTree {
  bool present = false;
  std::vector<FlameSite> sites;
  // Per node; node i's parent is parent[i] (-1: a top-level frame), always < i.
  std::vector<int32_t> parent;
  std::vector<uint32_t> site;
  std::vector<uint64_t> calls, bytes, peak_bytes, leaked_bytes;  // self: stacks ending at the node
  size_t windows = 0;                                            // = the report's timeline windows
  struct Cell {
    uint32_t node = 0, window = 0;
    uint64_t calls = 0, bytes = 0;
  };
  std::vector<Cell> cells;  // self calls and bytes per (node, window), sorted by node then window
  uint64_t stacks = 0;      // distinct recorded stacks merged into the tree
};

// The frames of one recorded return address, innermost (inlined callee) first, as the report's
// stack lists hold them.
using FlameResolver = std::function<std::vector<ReportFrame>(uint64_t return_address)>;

// `stacks`: every stack with allocations (HeapAnalysis::AllStacks); `cells`: StackWindows::Cells
// for the report's timeline windows (`windows` of them).
FlameTree BuildFlameTree(const ProcessCatalog& catalog,
                         const std::vector<std::pair<uint32_t, const StackStats*>>& stacks,
                         const std::vector<StackWindowCell>& cells, size_t windows, const FlameResolver& resolve);

// Writes the "flame" object's members (the caller opens and closes it).
// `sampled`: nodes.peak_bytes is null (a sampled trace's peak is not estimable).
void WriteFlameJson(JsonWriter& j, const FlameTree& tree, bool sampled = false);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_REPORT_FLAME_H_
