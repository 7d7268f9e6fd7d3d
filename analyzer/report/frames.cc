#include "report/frames.h"

#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "symbolize/symbolizer.h"
#include "util/hex.h"

namespace allocprof {
namespace {

ReportFrame RawFrame(const std::vector<ModuleInfo>& modules, bool timed, uint64_t address, uint64_t time) {
  if (timed) {
    int i = ModuleIndexAt(modules, address > 0 ? address - 1 : 0, time);
    if (i < 0) return ReportFrame{"", "", 0, "", address, false};
    return ReportFrame{"", "", 0, modules[i].path, address - modules[i].load_bias, false};
  }
  for (auto it = modules.rbegin(); it != modules.rend(); ++it) {
    for (const Segment& s : it->segments) {
      uint64_t start = it->load_bias + s.vaddr;
      if ((s.flags & 1) && address >= start && address - start < s.memsz) {
        return ReportFrame{"", "", 0, it->path, address - it->load_bias, false};
      }
    }
  }
  return ReportFrame{"", "", 0, "", address, false};
}

}  // namespace

StackFrames::StackFrames(const ProcessCatalog& catalog, bool symbolize, std::unique_ptr<Symbolizer> prepared)
    : catalog_(catalog) {
  if (!symbolize) return;
  symbolizer_ = prepared ? std::move(prepared) : std::make_unique<Symbolizer>(catalog.modules, catalog.has_unloads);
}

SymbolizerWarmup::SymbolizerWarmup() {
  work_.controls = [this](const std::vector<Record>& controls) { OnControls(controls); };
  work_.decoded = [this] { OnDecoded(); };
  work_.stop = [this] { stop_.store(true, std::memory_order_relaxed); };
}

SymbolizerWarmup::~SymbolizerWarmup() = default;

// The same ModuleInfo the catalog builder makes of the record (read/catalog_builder.cc).
void SymbolizerWarmup::OnControls(const std::vector<Record>& controls) {
  for (const Record& r : controls) {
    if (r.kind == RecordKind::kModule) {
      modules_.push_back(ModuleInfo{r.time, r.value, r.text, r.build_id, r.segments});
    } else if (r.kind == RecordKind::kModuleUnload) {
      unloads_ = true;
    } else if (r.kind == RecordKind::kStackDef) {
      for (uint64_t a : r.frames) {
        if (addresses_.size() < kMaxAddresses && seen_.insert(a).second) addresses_.push_back(a);
      }
    }
  }
}

void SymbolizerWarmup::OnDecoded() {
  if (unloads_ || modules_.empty()) return;
  symbolizer_ = std::make_unique<Symbolizer>(modules_, false);
  for (uint64_t address : addresses_) {
    if (stop_.load(std::memory_order_relaxed)) break;
    symbolizer_->Prepare(address);
  }
  addresses_ = {};
  seen_ = {};
}

std::unique_ptr<Symbolizer> SymbolizerWarmup::Take(const ProcessCatalog& catalog) {
  if (!symbolizer_ || catalog.has_unloads || catalog.modules.size() != modules_.size()) return nullptr;
  for (size_t i = 0; i < modules_.size(); ++i) {
    const ModuleInfo& a = modules_[i];
    const ModuleInfo& b = catalog.modules[i];
    bool same = a.load_bias == b.load_bias && a.path == b.path && a.build_id == b.build_id &&
                a.segments.size() == b.segments.size();
    for (size_t k = 0; same && k < a.segments.size(); ++k) {
      same = a.segments[k].vaddr == b.segments[k].vaddr && a.segments[k].memsz == b.segments[k].memsz &&
             a.segments[k].flags == b.segments[k].flags;
    }
    if (!same) return nullptr;
  }
  return std::move(symbolizer_);
}

StackFrames::~StackFrames() = default;

std::vector<ReportFrame> StackFrames::Frames(uint32_t stack_id) {
  std::vector<ReportFrame> out;
  auto stack = catalog_.stacks.find(stack_id);
  if (stack == catalog_.stacks.end()) return out;
  uint64_t time = UINT64_MAX;  // no time: the latest module at each address
  if (catalog_.has_unloads) {
    auto t = catalog_.stack_times.find(stack_id);
    if (t != catalog_.stack_times.end()) time = t->second;
  }
  for (uint64_t address : stack->second) AppendFrames(address, time, &out);
  return out;
}

std::vector<ReportFrame> StackFrames::AddressFrames(uint64_t address) {
  std::vector<ReportFrame> out;
  AppendFrames(address, UINT64_MAX, &out);
  return out;
}

void StackFrames::AppendFrames(uint64_t address, uint64_t time, std::vector<ReportFrame>* out) {
  bool timed = catalog_.has_unloads && time != UINT64_MAX;
  if (!symbolizer_) {
    out->push_back(RawFrame(catalog_.modules, timed, address, time));
    return;
  }
  const SymbolizedAddress& s = timed ? symbolizer_->ResolveAt(address, time) : symbolizer_->Resolve(address);
  if (s.frames.empty()) {
    out->push_back(ReportFrame{"", "", 0, s.module, s.offset, false});
    return;
  }
  for (const SourceFrame& f : s.frames) {
    out->push_back(ReportFrame{f.function, f.file, f.line, s.module, s.offset, f.inlined, f.symbol_offset});
  }
}

ReportStack StackFrames::Stack(uint32_t id, const StackStats& s) {
  ReportStack r;
  r.id = id;
  r.calls = s.calls;
  r.bytes = s.bytes;
  r.peak_bytes = s.peak_bytes;
  r.leaked_allocations = s.live_count;
  r.leaked_bytes = s.live_bytes;
  r.temporary = s.temporary;
  r.calls_variance = s.calls_variance;
  r.bytes_variance = s.bytes_variance;
  r.leaked_allocations_variance = s.live_count_variance;
  r.leaked_bytes_variance = s.live_bytes_variance;
  r.frames = Frames(id);
  return r;
}

std::vector<std::string> StackFrames::warnings() const {
  return symbolizer_ ? symbolizer_->warnings() : std::vector<std::string>{};
}

const char* const kAllocatorFrames[] = {
    // libc's entry points and their internal names
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "free",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "pvalloc",
    "__libc_malloc",
    "__libc_calloc",
    "__libc_realloc",
    "__libc_memalign",
    "__GI___libc_malloc",
    "__GI___libc_realloc",
    "_int_malloc",
    "_int_realloc",
    "tcache_init",
    "malloc_hook_ini",
    // C++ runtime
    "operator new*",
    "operator delete*",
    "std::allocator*",
    "std::__new_allocator*",
    "__gnu_cxx::new_allocator*",
    "std::allocator_traits*",
    "std::__allocated_ptr*",
    "std::_Vector_base*",
    // stdio and string helpers that allocate for their caller
    "_IO_*",
    "__GI__IO_*",
    "__strdup",
    "strdup",
    "strndup",
    "__strndup",
    "open_memstream",
    "asprintf",
    "__asprintf",
    "vasprintf",
    "__vasprintf_internal",
    // xmalloc-style helpers (gnulib, GCC, binutils, glib)
    "xmalloc",
    "xcalloc",
    "xzalloc",
    "xrealloc",
    "xnmalloc",
    "xcharalloc",
    "xstrdup",
    "xmemdup",
    "ximemdup",
    "x2realloc",
    "x2nrealloc",
    "xpalloc",
    "g_malloc*",
    "g_realloc*",
    "g_try_malloc*",
    "g_strdup*",
    "g_slice_alloc*",
    // Python's allocator front ends
    "PyMem_*",
    "PyObject_Malloc",
    "PyObject_Calloc",
    "PyObject_Realloc",
    "_PyObject_Malloc",
    "_PyMem_*",
    "pymalloc_*",
    "_PyObject_GC_*",
    "gc_alloc",
    "_PyObject_New*",
    "_PyObject_NewVar*",
    // SQLite's allocator front ends (exported by Debian's stripped libsqlite3)
    "sqlite3_malloc*",
    "sqlite3_realloc*",
    "sqlite3Malloc",
    "sqlite3MallocZero",
    "sqlite3Realloc",
    "sqlite3DbMalloc*",
    "sqlite3DbRealloc*",
    "sqlite3DbStrDup",
    "sqlite3DbStrNDup",
    // pools reporting through allocprof/pool.h
    "allocprof_*",
    nullptr,
};

const char* const kRuntimeOneTime[] = {
    // libstdc++: the emergency exception pool, per-thread exception globals, locale init
    "(anonymous namespace)::pool::pool*",
    "__cxa_get_globals*",
    "__gnu_cxx::__freeres",
    "std::locale::_Impl*",
    "std::locale::locale*",
    "__static_initialization_and_destruction_0*",
    "_GLOBAL__sub_I_eh_alloc.cc",
    // stdio buffers
    "_IO_file_doallocate",
    "_IO_doallocbuf",
    "__GI__IO_file_doallocate",
    "_IO_wfile_doallocate",
    // locales, character sets, time zones, NSS
    "setlocale",
    "_nl_*",
    "new_composite_name",
    "__gconv_*",
    "__wcsmbs_load_conv",
    "__tzfile_read",
    "tzset_internal",
    "__tzset_parse_tz",
    "__nss_*",
    "nss_*",
    "__libc_dlopen_mode",
    "__res_*",
    "__resolv_context_get",
    // threads and the loader
    "_dl_allocate_tls*",
    "allocate_dtv",
    "_dl_resize_dtv",
    "__libc_setup_tls",
    "allocate_stack",
    "_dl_new_object",
    "_dl_map_object*",
    "_dl_check_map_versions",
    "_dl_add_to_namespace_list",
    "_dl_important_hwcaps",
    "_dl_init_paths",
    "_dl_load_cache_lookup",
    "dl_open_worker*",
    "_dlerror_run",
    "__dlerror",
    "fillin_rpath*",
    "decompose_rpath",
    "add_to_global*",
    "_dl_find_object_init",
    "_dlfo_*",
    "__new_exitfn",
    "__cxa_thread_atexit_impl",
    "__libc_alloc_buffer_allocate",
    "__libc_early_init",
    // libsasl start-up
    "sasl_client_init",
    "sasl_server_init",
    "_sasl_common_init",
    "_sasl_load_plugins",
    "sasl_client_add_plugin",
    nullptr,
};

namespace {

bool Matches(const std::string& function, std::string_view pattern) {
  if (!pattern.empty() && pattern.back() == '*') {
    return function.compare(0, pattern.size() - 1, pattern.data(), pattern.size() - 1) == 0;
  }
  if (function.compare(0, pattern.size(), pattern.data(), pattern.size()) != 0) return false;
  if (function.size() == pattern.size()) return true;
  char next = function[pattern.size()];
  return next == '(' || next == '<' || next == '@' || next == '.';  // arguments, template, version, clone
}

}  // namespace

bool IsAllocatorFrame(const ReportFrame& f, const std::vector<std::string>& extra) {
  if (f.function.empty()) return false;
  for (const char* const* p = kAllocatorFrames; *p; ++p) {
    if (Matches(f.function, *p)) return true;
  }
  for (const std::string& pattern : extra) {
    if (Matches(f.function, pattern)) return true;
  }
  return false;
}

bool SuppressionMatches(std::string_view pattern, std::string_view text) {
  bool anchored_start = !pattern.empty() && pattern.front() == '^';
  if (anchored_start) pattern.remove_prefix(1);
  bool anchored_end = !pattern.empty() && pattern.back() == '$';
  if (anchored_end) pattern.remove_suffix(1);
  // Glob with `*`, matching anywhere unless anchored: the pieces in order.
  size_t pos = 0;
  bool first = true;
  while (true) {
    size_t star = pattern.find('*');
    std::string_view piece = pattern.substr(0, star);
    if (!piece.empty()) {
      if (first && anchored_start) {
        if (text.substr(0, piece.size()) != piece) return false;
        pos = piece.size();
      } else if (star == std::string_view::npos && anchored_end) {
        if (text.size() < pos + piece.size() || text.substr(text.size() - piece.size()) != piece) return false;
        return true;
      } else {
        size_t at = text.find(piece, pos);
        if (at == std::string_view::npos) return false;
        pos = at + piece.size();
      }
    }
    first = false;
    if (star == std::string_view::npos) return !anchored_end || pos == text.size() || piece.empty();
    pattern.remove_prefix(star + 1);
  }
}

namespace {

// The C and C++ runtimes' own modules (libstdc++, libc, libm, libgcc_s, the loader), by file name.
bool RuntimeModule(std::string_view module) {
  std::string_view name = module.substr(module.rfind('/') + 1);
  for (std::string_view prefix : {"libstdc++.so", "libc.so", "libm.so", "libgcc_s.so", "ld-linux"}) {
    if (name.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

// A runtime module's static initializer, called by the loader at start-up or dlopen: in a stripped
// module (libstdc++ without its debug symbols) its frames have no name (libstdc++.so.6+0xa57ba,
// the emergency exception pool), but their caller is the loader's call_init or _dl_init.
bool RuntimeInitializer(const std::vector<ReportFrame>& frames, size_t label) {
  const ReportFrame& f = frames[label];
  if (!f.function.empty() || !RuntimeModule(f.module)) return false;
  size_t caller = label + 1;
  while (caller < frames.size() && frames[caller].function.empty() && frames[caller].module == f.module) ++caller;
  if (caller == frames.size()) return false;
  const ReportFrame& c = frames[caller];
  std::string_view loader = std::string_view(c.module).substr(c.module.rfind('/') + 1);
  return c.function == "call_init" || c.function == "_dl_init" ||
         (c.function.empty() && loader.substr(0, 8) == "ld-linux");
}

}  // namespace

std::vector<std::string> LeakPatterns(std::string_view text) {
  std::vector<std::string> out;
  absl::string_view rest(text.data(), text.size());
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    absl::string_view line = absl::StripAsciiWhitespace(rest.substr(0, end));
    rest = end == absl::string_view::npos ? absl::string_view() : rest.substr(end + 1);
    if (!absl::ConsumePrefix(&line, "leak:")) continue;
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) out.emplace_back(line.data(), line.size());
  }
  return out;
}

bool Suppressed(const std::vector<ReportFrame>& frames, const std::vector<std::string>& wrappers, bool defaults,
                const std::vector<std::string>& patterns) {
  if (defaults && !frames.empty()) {
    size_t label = LabelFrame(frames, wrappers);
    for (size_t i = 0; i <= label; ++i) {
      for (const char* const* p = kRuntimeOneTime; *p; ++p) {
        if (Matches(frames[i].function, *p)) return true;
      }
    }
    size_t first_outside = 0;
    while (first_outside < frames.size() && IsAllocatorFrame(frames[first_outside], wrappers)) ++first_outside;
    if (first_outside < frames.size() && RuntimeInitializer(frames, first_outside)) return true;
  }
  for (const std::string& pattern : patterns) {
    for (const ReportFrame& f : frames) {
      if (SuppressionMatches(pattern, f.function) || SuppressionMatches(pattern, f.file) ||
          SuppressionMatches(pattern, f.module)) {
        return true;
      }
    }
  }
  return false;
}

size_t LabelFrame(const std::vector<ReportFrame>& frames, const std::vector<std::string>& extra) {
  size_t i = 0;
  while (true) {
    while (i < frames.size() && IsAllocatorFrame(frames[i], extra)) ++i;
    if (i == frames.size()) return 0;
    if (!frames[i].function.empty()) return i;
    // A frame without a name is a static function of a stripped module. Its first named caller in
    // the same module is what a reader can look up, and when that caller is one of the module's
    // allocator wrappers (sqlite3Malloc), the nameless frames were the wrapper's own helpers.
    size_t caller = i + 1;
    while (caller < frames.size() && frames[caller].function.empty() && frames[caller].module == frames[i].module) {
      ++caller;
    }
    if (caller == frames.size() || frames[caller].module != frames[i].module) return i;
    if (!IsAllocatorFrame(frames[caller], extra)) return caller;
    i = caller;
  }
}

std::string StackLabel(const std::vector<ReportFrame>& frames, const std::vector<std::string>& extra) {
  return frames.empty() ? "" : FrameText(frames[LabelFrame(frames, extra)]);
}

std::string FrameText(const ReportFrame& f) {
  if (f.function.empty()) return ModuleOffset(f.module, f.offset);
  if (f.file.empty()) {
    return f.symbol_offset >= 0 ? absl::StrFormat("%s+0x%x", f.function, f.symbol_offset) : f.function;
  }
  std::string base = f.file.substr(f.file.rfind('/') + 1);
  return absl::StrFormat("%s (%s:%d)%s", f.function, base, f.line, f.inlined ? " [inlined]" : "");
}

void WriteFrames(JsonWriter& j, const std::vector<ReportFrame>& frames) {
  j.Key("frames").BeginArray();
  for (const auto& f : frames) {
    j.BeginObject();
    j.Key("function").String(f.function);
    j.Key("file").String(f.file);
    j.Key("line").Uint(static_cast<uint64_t>(f.line));
    j.Key("module").String(f.module);
    j.Key("offset").Uint(f.offset);
    j.Key("inlined").Bool(f.inlined);
    if (f.symbol_offset >= 0) j.Key("symbol_offset").Uint(static_cast<uint64_t>(f.symbol_offset));
    j.EndObject();
  }
  j.EndArray();
}

}  // namespace allocprof
