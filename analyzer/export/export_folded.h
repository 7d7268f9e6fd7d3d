// Folded stacks for FlameGraph and speedscope (`allocprof export --format folded`), and the pieces
// every stack export shares: resolving a recorded return address to frames (FrameSource) and the
// short name of a frame.
//
// The format is one line per distinct call path, root first, then a space and the weight:
//     main;Parse(char const*);std::vector<int>::push_back 1200
// The weight is allocation calls (FoldedWeight::kCalls) or requested bytes (kBytes), so the lines
// sum to the analyzer's totals.allocations or totals.bytes_allocated exactly. Inlined frames are
// frames of their own. A frame is named by its demangled function, or module+0xOFFSET (basename)
// when nothing is known; ';' becomes ':' and whitespace '_' inside a name, so a line always splits
// into frames at ';' and into path and weight at its only space.
//
// Thread-safety: a FrameSource holds a Symbolizer (not thread-safe): one per thread.
#ifndef ALLOCPROF_ANALYZER_EXPORT_FOLDED_H_
#define ALLOCPROF_ANALYZER_EXPORT_FOLDED_H_

#include <stdint.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "passes/heap_analysis.h"
#include "read/process_trace.h"
#include "symbolize/symbolizer.h"

namespace allocprof {

// Every stack with at least one allocation and its statistics, as HeapAnalysis::AllStacks gives them.
using ExportStacks = std::vector<std::pair<uint32_t, const StackStats*>>;

// Pseudo-frames for allocations whose call path is not in the trace.
inline constexpr char kNoStackFrame[] = "[no-stack]";      // stack id 0: nothing was captured
inline constexpr char kLostStackFrame[] = "[lost-stack]";  // id never defined (damaged trace)

// Where a recorded return address points: the symbolizer's answer (functions, file:line, inlined
// frames), or with `symbolize` false module+offset only, from the trace's module map (no module
// file is read: the output is the same on any machine).
class FrameSource {
 public:
  FrameSource(const std::vector<ModuleInfo>& modules, bool symbolize);
  virtual ~FrameSource();
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;

  // The reference stays valid for the FrameSource's lifetime.
  virtual const SymbolizedAddress& Resolve(uint64_t return_address);
  // Whether frames carry functions and lines (false: module+offset only).
  virtual bool symbolized() const { return symbolizer_ != nullptr; }
  // Module files missing, unreadable or rebuilt since the run, each once.
  std::vector<std::string> warnings() const;

 private:
  const std::vector<ModuleInfo>& modules_;
  std::unique_ptr<Symbolizer> symbolizer_;
  absl::node_hash_map<uint64_t, SymbolizedAddress> raw_;  // node map: Resolve hands out references
};

// "module+0xOFFSET" (module basename), or "0xADDRESS" outside every module.
std::string ModuleOffsetName(const SymbolizedAddress& a);

// Makes a frame name safe for the folded format: ';' -> ':', whitespace and control characters
// -> '_' (runs collapse to one), "??" for an empty name.
std::string SanitizeFoldedFrame(std::string_view name);

// The folded frames of one recorded address, appended outermost first (the real function, then
// the functions inlined into it).
void AppendFoldedFrames(const SymbolizedAddress& a, std::vector<std::string>* root_first);

enum class FoldedWeight { kCalls, kBytes };

// One line per distinct path, sorted by path; stacks with weight 0 are left out.
std::string RenderFolded(const ProcessCatalog& catalog, const ExportStacks& stacks, FrameSource& frames,
                         FoldedWeight weight);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_EXPORT_FOLDED_H_
