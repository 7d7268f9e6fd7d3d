// Call stacks as reports show them: frames resolved (function, file:line, inlined) or, with
// --no-symbols or for stripped code, module+offset; and their text and JSON forms, shared by every
// section that lists stacks.
// Thread-safety: StackFrames holds a Symbolizer (not thread-safe): one per thread.
#ifndef ALLOCPROF_ANALYZER_FRAMES_H_
#define ALLOCPROF_ANALYZER_FRAMES_H_

#include <stdint.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "passes/heap_analysis.h"
#include "read/catalog.h"
#include "read/process_trace.h"
#include "util/json_writer.h"

namespace allocprof {

class Symbolizer;

struct ReportFrame {
  std::string function;  // demangled; empty when unknown
  std::string file;
  int line = 0;
  std::string module;
  uint64_t offset = 0;  // module-relative address of the call
  bool inlined = false;
  int64_t symbol_offset = -1;  // named by the symbol table alone: offset into the symbol, else -1
};

struct ReportStack {
  uint32_t id = 0;
  std::vector<uint32_t> merged;  // other stack ids shown with the same frames, added into this row
  std::string label;             // the first frame outside the allocator and its wrappers
  uint64_t calls = 0, bytes = 0, peak_bytes = 0, leaked_allocations = 0, leaked_bytes = 0, temporary = 0;
  // Sampled traces: the variances of the estimates above (StackStats); 0 in a full trace.
  double calls_variance = 0, bytes_variance = 0, leaked_allocations_variance = 0, leaked_bytes_variance = 0;
  std::vector<ReportFrame> frames;  // leaf first
};

// Resolves the stacks of one process's catalog: symbolized, or (`symbolize` false) module+offset
// from the recorded module map only, which reads no file and is reproducible anywhere.
class StackFrames {
 public:
  // `prepared`: a Symbolizer prepared for these modules (SymbolizerWarmup), used instead of a new one.
  StackFrames(const ProcessCatalog& catalog, bool symbolize, std::unique_ptr<Symbolizer> prepared = nullptr);
  ~StackFrames();
  // Leaf first; empty when the trace defines no such stack. Resolved against the modules mapped
  // when the stack was first used (a trace can unload a module and map another in its place).
  std::vector<ReportFrame> Frames(uint32_t stack_id);
  // The frames of one return address: the innermost (inlined) first.
  std::vector<ReportFrame> AddressFrames(uint64_t address);
  // A stack with its statistics from the heap pass.
  ReportStack Stack(uint32_t id, const StackStats& s);
  // Module files missing, unreadable or rebuilt since the run, each once, in the order found.
  std::vector<std::string> warnings() const;

 private:
  void AppendFrames(uint64_t address, uint64_t time, std::vector<ReportFrame>* out);

  const ProcessCatalog& catalog_;
  std::unique_ptr<Symbolizer> symbolizer_;
};

// Prepares a Symbolizer on the reader thread while the analysing thread still works through the
// queued chunks (ReaderWork): collects the trace's modules and the return addresses of its stacks
// from the control records, then resolves the addresses in the order the stacks were defined
// (opening each module and reading its debug information on its first address), until they are
// done or the analysing thread has finished its pass, whichever comes first. Results do not
// change: the prepared Symbolizer is used only when the catalog's modules are exactly the ones
// it saw, and its answers are the ones Resolve would have found.
// Thread-safety: Work's callbacks run on the reader thread; Take after ReadProcessTrace returned.
class SymbolizerWarmup {
 public:
  SymbolizerWarmup();
  ~SymbolizerWarmup();
  const ReaderWork* work() const { return &work_; }
  // The prepared Symbolizer, or null when there is none or the catalog's modules differ (a module
  // unloaded, a record the decoder saw differently).
  std::unique_ptr<Symbolizer> Take(const ProcessCatalog& catalog);

 private:
  // Addresses remembered for preparing, at most.
  static constexpr size_t kMaxAddresses = size_t{1} << 16;
  void OnControls(const std::vector<Record>& controls);
  void OnDecoded();

  ReaderWork work_;
  std::vector<ModuleInfo> modules_;
  bool unloads_ = false;
  absl::flat_hash_set<uint64_t> seen_;
  std::vector<uint64_t> addresses_;  // distinct, in the order the stacks defined them
  std::atomic<bool> stop_{false};
  std::unique_ptr<Symbolizer> symbolizer_;
};

// The allocator's own functions and the runtime's wrappers around it, which label no stack row:
// "name" matches the function (with any template or parameter list), "name*" any function
// starting with name.
extern const char* const kAllocatorFrames[];
bool IsAllocatorFrame(const ReportFrame& f, const std::vector<std::string>& extra);
// Functions of the C and C++ runtimes whose allocations are made once and kept for the process's
// life (the emergency exception pool, stdio buffers, locales, thread control blocks, the loader's
// tables, libsasl's start-up): not leaks anyone can act on. Matched from the leaf up to the
// stack's label frame (LabelFrame), in IsAllocatorFrame's pattern syntax. A first frame outside
// the allocator without a name, in one of the runtimes' own modules, whose caller is the loader
// (call_init, _dl_init) is a runtime's static initializer in a stripped module, and suppressed too
// (Suppressed below).
extern const char* const kRuntimeOneTime[];
// Whether a leaked stack is suppressed: by the runtime list (`defaults`), or by a user pattern in
// LeakSanitizer's syntax (a substring of any frame's function, file or module; `*` matches
// anything, `^`/`$` anchor).
bool Suppressed(const std::vector<ReportFrame>& frames, const std::vector<std::string>& wrappers, bool defaults,
                const std::vector<std::string>& patterns);
bool SuppressionMatches(std::string_view pattern, std::string_view text);
// The patterns of the `leak:` lines of a suppressions text (what a program's
// __lsan_default_suppressions() returns); other suppression types, comments and blank lines are
// LeakSanitizer's business or nobody's, and skipped.
std::vector<std::string> LeakPatterns(std::string_view text);

// The frame that labels a stack row: the first that is not the allocator's (the leaf when all
// are); when that frame has no name (a stripped module's static function), its first named caller
// in the same module, past the module's own allocator wrappers.
size_t LabelFrame(const std::vector<ReportFrame>& frames, const std::vector<std::string>& extra);
// The text of the label frame.
std::string StackLabel(const std::vector<ReportFrame>& frames, const std::vector<std::string>& extra);

// "Foo (foo.cc:12)", "Foo (foo.cc:12) [inlined]", "sqlite3_step+0x1c4" (symbol table only), "Foo",
// or "libx.so+0x1234".
std::string FrameText(const ReportFrame& f);
// "frames": [...]
void WriteFrames(JsonWriter& j, const std::vector<ReportFrame>& frames);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_FRAMES_H_
