// Offline symbolizer: turns the raw return addresses of a trace's stacks into functions and source
// lines, reading the modules (executable and shared libraries) from disk after the run.
//
// Each module is opened on first use with elfutils (libdwfl), so a process that loaded hundreds of
// libraries pays only for the ones its stacks touch. Separate debug info is found the standard way
// (.gnu_debuglink, /usr/lib/debug/.build-id, and debuginfod when DEBUGINFOD_URLS is set). A module
// that is gone, unreadable or rebuilt since the run (its build-id differs from the recorded one) is
// never read for symbols: its frames fall back to module+offset, because a wrong function or line is
// worse than none. Pseudo modules without a file (linux-vdso.so.1) get module+offset silently.
//
// Thread-safety: none. A Symbolizer caches results and holds libdwfl handles, which are not
// thread-safe; use one Symbolizer per thread.
#ifndef ALLOCPROF_ANALYZER_SYMBOLIZER_H_
#define ALLOCPROF_ANALYZER_SYMBOLIZER_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "read/catalog.h"

namespace allocprof {

struct SourceFrame {
  std::string function;  // demangled; empty if unknown
  std::string file;      // as the debug info names it (usually absolute); empty if unknown
  int line = 0;          // 0 if unknown
  bool inlined = false;  // this frame was inlined into the next one
  // Named by the symbol table alone (no debug info): the return address's offset into the symbol
  // whose range holds it; -1 otherwise.
  int64_t symbol_offset = -1;
};

struct SymbolizedAddress {
  std::string module;  // path of the module containing the address ("" if none)
  // Return address - load_bias: the module-relative address as recorded. addr2line on
  // (offset - 1) reproduces `frames`. Outside every module it is the raw address.
  uint64_t offset = 0;
  std::vector<SourceFrame> frames;  // innermost (inlined callee) first, the real function last;
                                    // empty when nothing is known
};

class Symbolizer {
 public:
  explicit Symbolizer(const std::vector<ModuleInfo>& modules, bool has_unloads = false);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Resolves one frame of a recorded stack. Stacks hold return addresses, so the lookup uses
  // return_address - 1 (inside the call instruction); the offset reported is the return address's.
  // The reference stays valid for the Symbolizer's lifetime.
  const SymbolizedAddress& Resolve(uint64_t return_address);
  // The same, against the modules mapped at `time` (catalog.h's ModuleIndexAt): for stacks of a
  // trace in which a module was unloaded and another may have been mapped at its addresses.
  const SymbolizedAddress& ResolveAt(uint64_t return_address, uint64_t time);

  // Problems found so far (module missing, unreadable, rebuilt since the run), each once, in the
  // order Resolve first needed the modules.
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Resolves `return_address` ahead of its Resolve (which then finds it cached), so that a
  // Symbolizer prepared on another thread while the analysis runs answers quickly later; the first
  // address of a module also pays the module's fixed cost (opening it, decompressing its debug
  // sections, its address ranges). Changes no result and no warning's order: a module's warning is
  // reported when Resolve first needs the module, as it would have been without Prepare.
  void Prepare(uint64_t return_address);

 private:
  struct Module;  // defined in symbolizer.cc, keeps elfutils out of this header
  struct Range {  // [start, end) of the address space owned by modules_[module]
    uint64_t start, end;
    uint32_t module;
  };

  Module* FindModule(uint64_t pc);
  // `report`: Resolve's lookups report the module's warning; Prepare's leave it for Resolve.
  void Fill(Module* m, uint64_t return_address, SymbolizedAddress* out, bool report = true);
  bool Open(Module& m);
  // Open, then the warning Open found (once), reported now.
  bool Use(Module& m);
  void Warn(std::string text);

  std::vector<Module> modules_;
  std::vector<Range> ranges_;                       // sorted, disjoint
  const std::vector<ModuleInfo>* infos_ = nullptr;  // set when the trace has unloads
  std::vector<uint32_t> info_module_;               // infos_ index -> modules_ index
  absl::node_hash_map<std::pair<uint64_t, uint32_t>, SymbolizedAddress> timed_cache_;
  absl::node_hash_map<uint64_t, SymbolizedAddress> cache_;  // node map: Resolve hands out references
  std::vector<std::string> warnings_;
  absl::flat_hash_set<std::string> warned_;
  bool prepared_ = false;  // Prepare filled cache_: a hit may be a module's first use
};

// Short form for reports, from the innermost frame: "function (file:line)", "function (module+0xOFF)"
// when only the symbol is known, "module+0xOFF" when nothing is (basenames for module and file).
std::string FrameLabel(const SymbolizedAddress& a);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_SYMBOLIZER_H_
