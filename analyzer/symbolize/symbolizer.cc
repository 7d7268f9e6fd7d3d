#include "symbolize/symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_format.h"
#include "util/hex.h"

namespace allocprof {
namespace {

struct DwflDeleter {
  void operator()(Dwfl* d) const { dwfl_end(d); }
};

// Null means the default search path (":.debug:/usr/lib/debug").
char* g_debuginfo_path = nullptr;

const Dwfl_Callbacks kCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &g_debuginfo_path,
};

std::string Demangle(const char* name) {
  if (name == nullptr) return "";
  if (name[0] == '_' && name[1] == 'Z') {
    int status = 0;
    if (char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status)) {
      std::string out(d);
      free(d);
      return out;
    }
  }
  return name;
}

// Symbol table names may carry a version ("pthread_create@GLIBC_2.2.5"); reports want the name.
std::string SymbolName(const char* symbol) {
  if (symbol == nullptr) return "";
  const char* at = strchr(symbol, '@');
  return Demangle(at ? std::string(symbol, at).c_str() : symbol);
}

std::string HexOrNone(const std::string& bytes) { return bytes.empty() ? "none" : HexBytes(bytes); }

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The shim records at most 64 bytes of a build-id.
bool SameBuildId(const std::string& recorded, const std::string& on_disk) {
  if (recorded.size() == 64 && on_disk.size() > 64) return on_disk.compare(0, 64, recorded) == 0;
  return recorded == on_disk;
}

const char* StringAttr(Dwarf_Die* die, unsigned int name) {
  Dwarf_Attribute attr;
  return dwarf_formstring(dwarf_attr_integrate(die, name, &attr));
}

// The mangled name when there is one: DW_AT_name alone lacks namespaces and classes.
std::string DieFunctionName(Dwarf_Die* die) {
  for (unsigned int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (const char* s = StringAttr(die, at)) return Demangle(s);
  }
  const char* s = StringAttr(die, DW_AT_name);
  return s ? s : "";
}

// Source names in DWARF may be relative to the compilation directory; a report is read elsewhere,
// so anchor them there when the unit records an absolute one.
std::string AnchoredPath(Dwarf_Die* cu, const char* name) {
  if (!name || !*name) return "";
  if (name[0] == '/' || !cu) return name;
  Dwarf_Attribute attr;
  const char* dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
  if (!dir || dir[0] != '/') return name;
  std::string path = dir;
  if (path.back() != '/') path += '/';
  if (name[0] == '.' && name[1] == '/') name += 2;
  return path + name;
}

// Where an inlined subroutine was called from: a line of the function it was inlined into.
void CallSite(Dwarf_Die* cu, Dwarf_Die* inlined, std::string* file, int* line) {
  Dwarf_Attribute attr;
  Dwarf_Word index = 0, call_line = 0;
  file->clear();
  *line = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &index) == 0) {
    Dwarf_Files* files = nullptr;
    size_t count = 0;
    if (dwarf_getsrcfiles(cu, &files, &count) == 0 && index < count) {
      *file = AnchoredPath(cu, dwarf_filesrc(files, index, nullptr, nullptr));
    }
  }
  if (!file->empty() && dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &call_line) == 0) {
    *line = static_cast<int>(call_line);
  }
}

// Everything known about pc (an address inside a call instruction), innermost frame first.
std::vector<SourceFrame> Describe(Dwfl_Module* mod, uint64_t pc) {
  std::vector<SourceFrame> frames;
  GElf_Off sym_offset = 0;
  GElf_Sym sym;
  const char* symbol = dwfl_module_addrinfo(mod, pc, &sym_offset, &sym, nullptr, nullptr, nullptr);
  // Only a symbol whose range (value, size) holds pc names it: libdwfl also offers the nearest
  // sizeless symbol before it (an assembler label, _init), which says nothing about pc.
  if (symbol != nullptr && (sym.st_size == 0 || sym_offset >= sym.st_size)) symbol = nullptr;

  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &bias);

  // The line table places the innermost frame; each inlined scope's call site places the next.
  std::string file;
  int line = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(mod, pc)) {
    // As libdw names it: absolute for most builds, relative to an unknown root when the build
    // mapped its directories away (-ffile-prefix-map, as distributions do).
    const char* name = dwfl_lineinfo(l, nullptr, &line, nullptr, nullptr, nullptr);
    if (name != nullptr) {
      file = AnchoredPath(cu, name);
    } else {
      line = 0;
    }
  }

  // dwarf_getscopes continues past an inlined subroutine into the scopes of its abstract
  // definition, not into the function it was inlined into. Its innermost scope is right, though:
  // dwarf_getscopes_die from there walks the physical nesting, caller by caller.
  Dwarf_Die* scopes = nullptr;
  int n = cu ? dwarf_getscopes(cu, pc - bias, &scopes) : 0;
  if (n > 0) {
    Dwarf_Die innermost = scopes[0];
    free(scopes);
    scopes = nullptr;
    n = dwarf_getscopes_die(&innermost, &scopes);
  }
  bool have_outer = false;
  for (int i = 0; i < n && !have_outer; ++i) {
    Dwarf_Die* scope = &scopes[i];
    switch (dwarf_tag(scope)) {
      case DW_TAG_inlined_subroutine:
        frames.push_back({DieFunctionName(scope), file, line, true});
        CallSite(cu, scope, &file, &line);
        break;
      case DW_TAG_subprogram: {
        std::string name = DieFunctionName(scope);
        if (name.empty()) name = SymbolName(symbol);
        frames.push_back({std::move(name), file, line, false});
        have_outer = true;
        break;
      }
      default:  // lexical blocks, the CU itself
        break;
    }
  }
  free(scopes);

  // No DWARF scope for the address (stripped module, assembly): the symbol table is all there is.
  if (!have_outer && (symbol != nullptr || !file.empty())) {
    frames.push_back({SymbolName(symbol), file, line, false});
    // The return address's distance into the symbol ("sqlite3_step+0x1c4"), as the stack holds it.
    if (symbol != nullptr) frames.back().symbol_offset = static_cast<int64_t>(sym_offset + 1);
  }
  return frames;
}

}  // namespace

struct Symbolizer::Module {
  enum class State { kUnopened, kSymbols, kOffsetsOnly };

  std::string path;
  uint64_t load_bias = 0;
  std::string build_id;
  State state = State::kUnopened;
  std::string warning;  // found by Open, reported by Use (the first time Resolve needs the module)
  bool warning_reported = false;
  std::unique_ptr<Dwfl, DwflDeleter> dwfl;
  Dwfl_Module* mod = nullptr;  // owned by dwfl
};

Symbolizer::Symbolizer(const std::vector<ModuleInfo>& modules, bool has_unloads) {
  if (has_unloads) infos_ = &modules;
  // A library unloaded and another loaded at the same addresses both appear; stacks do not say
  // which one a frame saw, so the later module owns the overlap.
  struct Edge {
    uint64_t addr;
    bool open;
    uint32_t module;
  };
  std::vector<Edge> edges;
  absl::flat_hash_map<std::pair<std::string, uint64_t>, uint32_t> seen;
  for (const ModuleInfo& info : modules) {
    auto index = static_cast<uint32_t>(modules_.size());
    auto [known, added] = seen.try_emplace(std::make_pair(info.path, info.load_bias), index);
    info_module_.push_back(known->second);
    if (!added) continue;
    Module& m = modules_.emplace_back();
    m.path = info.path.empty() ? "[unnamed]" : info.path;  // "" means "no module" to callers
    m.load_bias = info.load_bias;
    m.build_id = info.build_id;
    for (const Segment& s : info.segments) {
      uint64_t start = info.load_bias + s.vaddr;
      uint64_t end = start + s.memsz;
      if (end < start) end = UINT64_MAX;
      if (end == start) continue;
      edges.push_back({start, true, index});
      edges.push_back({end, false, index});
    }
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.addr < b.addr; });
  std::map<uint32_t, int> active;  // module -> segments covering the current address
  for (size_t i = 0; i < edges.size();) {
    uint64_t addr = edges[i].addr;
    for (; i < edges.size() && edges[i].addr == addr; ++i) {
      if (edges[i].open) {
        ++active[edges[i].module];
      } else if (--active[edges[i].module] == 0) {
        active.erase(edges[i].module);
      }
    }
    if (active.empty() || i == edges.size()) continue;
    uint32_t owner = active.rbegin()->first;
    uint64_t next = edges[i].addr;
    if (!ranges_.empty() && ranges_.back().end == addr && ranges_.back().module == owner) {
      ranges_.back().end = next;
    } else {
      ranges_.push_back({addr, next, owner});
    }
  }
}

Symbolizer::~Symbolizer() = default;

Symbolizer::Module* Symbolizer::FindModule(uint64_t pc) {
  auto it =
      std::upper_bound(ranges_.begin(), ranges_.end(), pc, [](uint64_t a, const Range& r) { return a < r.start; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  return pc < it->end ? &modules_[it->module] : nullptr;
}

void Symbolizer::Warn(std::string text) {
  if (warned_.insert(text).second) warnings_.push_back(std::move(text));
}

bool Symbolizer::Open(Module& m) {
  if (m.state != Module::State::kUnopened) return m.state == Module::State::kSymbols;
  m.state = Module::State::kOffsetsOnly;
  // "linux-vdso.so.1" and the like name no file; the loader gives real modules a path.
  if (m.path.find('/') == std::string::npos) return false;
  if (access(m.path.c_str(), R_OK) != 0) {
    m.warning = (errno == ENOENT ? absl::StrFormat("module %s is missing; falling back to module+offset", m.path)
                                 : absl::StrFormat("cannot open module %s (%s); falling back to module+offset", m.path,
                                                   strerror(errno)));
    return false;
  }
  m.dwfl.reset(dwfl_begin(&kCallbacks));
  if (m.dwfl == nullptr) {
    m.warning =
        (absl::StrFormat("cannot symbolize module %s (%s); falling back to module+offset", m.path, dwfl_errmsg(-1)));
    return false;
  }
  dwfl_report_begin(m.dwfl.get());
  // add_p_vaddr: the recorded bias is what the loader added to every p_vaddr.
  m.mod = dwfl_report_elf(m.dwfl.get(), Basename(m.path).c_str(), m.path.c_str(), -1, m.load_bias, true);
  const char* error = m.mod ? nullptr : dwfl_errmsg(-1);
  dwfl_report_end(m.dwfl.get(), nullptr, nullptr);
  if (m.mod == nullptr) {
    m.warning = (absl::StrFormat("cannot read module %s (%s); falling back to module+offset", m.path, error));
    m.dwfl.reset();
    return false;
  }
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int len = dwfl_module_build_id(m.mod, &bits, &vaddr);
  std::string on_disk = len > 0 ? std::string(reinterpret_cast<const char*>(bits), len) : "";
  if (!SameBuildId(m.build_id, on_disk)) {
    m.warning =
        (absl::StrFormat("module %s (build-id %s recorded, %s on disk) changed since the run; falling back to "
                         "module+offset",
                         m.path, HexOrNone(m.build_id), HexOrNone(on_disk)));
    m.mod = nullptr;
    m.dwfl.reset();
    return false;
  }
  m.state = Module::State::kSymbols;
  return true;
}

bool Symbolizer::Use(Module& m) {
  bool symbols = Open(m);
  if (!m.warning_reported) {
    m.warning_reported = true;
    if (!m.warning.empty()) Warn(m.warning);
  }
  return symbols;
}

void Symbolizer::Prepare(uint64_t return_address) {
  auto [it, inserted] = cache_.try_emplace(return_address);
  if (!inserted) return;
  prepared_ = true;
  uint64_t pc = return_address > 0 ? return_address - 1 : 0;
  Fill(FindModule(pc), return_address, &it->second, false);
}

const SymbolizedAddress& Symbolizer::Resolve(uint64_t return_address) {
  auto [it, inserted] = cache_.try_emplace(return_address);
  SymbolizedAddress& out = it->second;
  uint64_t pc = return_address > 0 ? return_address - 1 : 0;
  if (!inserted) {
    if (prepared_) {
      // Prepared: its module's warning (if any) is due at the module's first use, which may be now.
      if (Module* m = FindModule(pc)) Use(*m);
    }
    return out;
  }
  Fill(FindModule(pc), return_address, &out);
  return out;
}

const SymbolizedAddress& Symbolizer::ResolveAt(uint64_t return_address, uint64_t time) {
  if (infos_ == nullptr) return Resolve(return_address);
  uint64_t pc = return_address > 0 ? return_address - 1 : 0;
  int info = ModuleIndexAt(*infos_, pc, time);
  uint32_t module = info < 0 ? UINT32_MAX : info_module_[info];
  auto [it, inserted] = timed_cache_.try_emplace(std::make_pair(return_address, module));
  if (inserted) Fill(info < 0 ? nullptr : &modules_[module], return_address, &it->second);
  return it->second;
}

void Symbolizer::Fill(Module* m, uint64_t return_address, SymbolizedAddress* result, bool report) {
  SymbolizedAddress& out = *result;
  uint64_t pc = return_address > 0 ? return_address - 1 : 0;
  if (m == nullptr) {
    out.offset = return_address;
    return;
  }
  out.module = m->path;
  out.offset = return_address - m->load_bias;
  if (report ? Use(*m) : Open(*m)) out.frames = Describe(m->mod, pc);
}

std::string FrameLabel(const SymbolizedAddress& a) {
  std::string where = ModuleOffset(a.module, a.offset);
  if (a.frames.empty()) return where;
  const SourceFrame& f = a.frames.front();
  if (!f.file.empty()) {
    where = f.line > 0 ? absl::StrFormat("%s:%d", Basename(f.file), f.line) : Basename(f.file);
  }
  return f.function.empty() ? where : absl::StrFormat("%s (%s)", f.function, where);
}

}  // namespace allocprof
