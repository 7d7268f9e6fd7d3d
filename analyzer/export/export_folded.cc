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

FrameSource::~FrameSource() = default;

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
      for (auto address = it->second.rbegin(); address != it->second.rend(); ++address) {
        AppendFoldedFrames(frames.Resolve(*address), &names);
      }
    }
    paths[absl::StrJoin(names, ";")] += w;
  }
  std::string out;
  for (const auto& [path, w] : paths) absl::StrAppend(&out, path, " ", w, "\n");
  return out;
}

}  // namespace allocprof
