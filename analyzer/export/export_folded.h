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
// file is read: the output is the same on any machine). Made from a catalog, it resolves a stack's
// addresses against the modules mapped when the stack was used (ResolveAt, StackTime), as the
// report does: a library unloaded by dlclose keeps its own functions after another took its place.
class FrameSource {
 public:
  FrameSource(const std::vector<ModuleInfo>& modules, bool symbolize);
  FrameSource(const ProcessCatalog& catalog, bool symbolize);
  virtual ~FrameSource();
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;

  // The reference stays valid for the FrameSource's lifetime.
  virtual const SymbolizedAddress& Resolve(uint64_t return_address);
  // The same against the modules mapped at `time` (StackTime of the stack that holds the address);
  // Resolve when the trace unloaded no module or the time is unknown (UINT64_MAX).
  virtual const SymbolizedAddress& ResolveAt(uint64_t return_address, uint64_t time);
  // When the stack was first used, for ResolveAt: UINT64_MAX when unknown or when no module was
  // unloaded (then every time resolves the same).
  uint64_t StackTime(uint32_t stack_id) const;
  // The index in the module list of the module holding the address at `time` (-1: none, or no
  // module was unloaded and the latest mapped there counts).
  int ModuleAt(uint64_t return_address, uint64_t time) const;
  // Whether frames carry functions and lines (false: module+offset only).
  virtual bool symbolized() const { return symbolizer_ != nullptr; }
  // Module files missing, unreadable or rebuilt since the run, each once.
  std::vector<std::string> warnings() const;

 private:
  const std::vector<ModuleInfo>& modules_;
  const ProcessCatalog* catalog_ = nullptr;  // set when made from a catalog with unloads
  std::unique_ptr<Symbolizer> symbolizer_;
  absl::node_hash_map<uint64_t, SymbolizedAddress> raw_;  // node map: Resolve hands out references
  absl::node_hash_map<std::pair<uint64_t, int>, SymbolizedAddress> timed_raw_;  // by (address, module)
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
