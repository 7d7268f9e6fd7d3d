#include "export/export_folded.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "util/hex.h"

namespace allocprof {

FrameSource::FrameSource(const std::vector<ModuleInfo>& modules, bool symbolize) : modules_(modules) {
  if (symbolize) symbolizer_ = std::make_unique<Symbolizer>(modules);
}

FrameSource::FrameSource(const ProcessCatalog& catalog, bool symbolize)
    : modules_(catalog.modules), catalog_(catalog.has_unloads ? &catalog : nullptr) {
  if (symbolize) symbolizer_ = std::make_unique<Symbolizer>(catalog.modules, catalog.has_unloads);
}

FrameSource::~FrameSource() = default;

uint64_t FrameSource::StackTime(uint32_t stack_id) const {
  if (!catalog_) return UINT64_MAX;
  auto it = catalog_->stack_times.find(stack_id);
  return it == catalog_->stack_times.end() ? UINT64_MAX : it->second;
}

int FrameSource::ModuleAt(uint64_t return_address, uint64_t time) const {
  if (!catalog_ || time == UINT64_MAX) return -1;
  return ModuleIndexAt(modules_, return_address > 0 ? return_address - 1 : 0, time);
}

const SymbolizedAddress& FrameSource::ResolveAt(uint64_t return_address, uint64_t time) {
  if (!catalog_ || time == UINT64_MAX) return Resolve(return_address);
  if (symbolizer_) return symbolizer_->ResolveAt(return_address, time);
  int index = ModuleAt(return_address, time);
  auto [it, inserted] = timed_raw_.try_emplace(std::make_pair(return_address, index));
  SymbolizedAddress& a = it->second;
  if (inserted) {
    a.offset = return_address;
    if (index >= 0) {
      a.module = modules_[index].path;
      a.offset = return_address - modules_[index].load_bias;
    }
  }
  return a;
}

const SymbolizedAddress& FrameSource::Resolve(uint64_t return_address) {
  if (symbolizer_) return symbolizer_->Resolve(return_address);
  auto [it, inserted] = raw_.try_emplace(return_address);
  if (!inserted) return it->second;
  SymbolizedAddress& a = it->second;
  a.offset = return_address;
  // The latest module mapped there wins (a library unloaded and another loaded in its place).
  for (auto m = modules_.rbegin(); m != modules_.rend(); ++m) {
    for (const Segment& s : m->segments) {
      uint64_t start = m->load_bias + s.vaddr;
      if ((s.flags & 1) && return_address >= start && return_address - start < s.memsz) {
        a.module = m->path;
        a.offset = return_address - m->load_bias;
        return a;
      }
    }
  }
  return a;
}

std::vector<std::string> FrameSource::warnings() const {
  return symbolizer_ ? symbolizer_->warnings() : std::vector<std::string>{};
}

std::string ModuleOffsetName(const SymbolizedAddress& a) { return ModuleOffset(a.module, a.offset); }

std::string SanitizeFoldedFrame(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (c == ';') {
      out += ':';
    } else if (u <= ' ' || u == 0x7f) {
      if (out.empty() || out.back() != '_') out += '_';
    } else {
      out += c;
    }
  }
  return out.empty() ? "??" : out;
}

void AppendFoldedFrames(const SymbolizedAddress& a, std::vector<std::string>* root_first) {
  if (a.frames.empty()) {
    root_first->push_back(SanitizeFoldedFrame(ModuleOffsetName(a)));
    return;
  }
  // frames are innermost first; the physical function comes last.
  for (auto f = a.frames.rbegin(); f != a.frames.rend(); ++f) {
    root_first->push_back(SanitizeFoldedFrame(f->function.empty() ? ModuleOffsetName(a) : f->function));
  }
}

std::string RenderFolded(const ProcessCatalog& catalog, const ExportStacks& stacks, FrameSource& frames,
                         FoldedWeight weight) {
  // Different stacks can fold to one path (other return addresses in the same functions).
  std::map<std::string, uint64_t> paths;
  std::vector<std::string> names;
  for (const auto& [id, stats] : stacks) {
    uint64_t w = weight == FoldedWeight::kCalls ? stats->calls : stats->bytes;
    if (w == 0) continue;
    names.clear();
    auto it = catalog.stacks.find(id);
    if (id == 0) {
      names.push_back(kNoStackFrame);
    } else if (it == catalog.stacks.end()) {
      names.push_back(kLostStackFrame);
    } else if (it->second.empty()) {
      names.push_back(kNoStackFrame);
    } else {
      uint64_t time = frames.StackTime(id);
      for (auto address = it->second.rbegin(); address != it->second.rend(); ++address) {
        AppendFoldedFrames(frames.ResolveAt(*address, time), &names);
      }
    }
    paths[absl::StrJoin(names, ";")] += w;
  }
  std::string out;
  for (const auto& [path, w] : paths) absl::StrAppend(&out, path, " ", w, "\n");
  return out;
}

}  // namespace allocprof
