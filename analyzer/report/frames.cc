#include "report/frames.h"

#include "absl/strings/str_format.h"
#include "symbolize/symbolizer.h"
#include "util/hex.h"

namespace allocprof {
namespace {

ReportFrame RawFrame(const std::vector<ModuleInfo>& modules, uint64_t address) {
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

StackFrames::StackFrames(const ProcessCatalog& catalog, bool symbolize) : catalog_(catalog) {
  if (symbolize) symbolizer_ = std::make_unique<Symbolizer>(catalog.modules);
}

StackFrames::~StackFrames() = default;

std::vector<ReportFrame> StackFrames::Frames(uint32_t stack_id) {
  std::vector<ReportFrame> out;
  auto stack = catalog_.stacks.find(stack_id);
  if (stack == catalog_.stacks.end()) return out;
  for (uint64_t address : stack->second) AppendFrames(address, &out);
  return out;
}

std::vector<ReportFrame> StackFrames::AddressFrames(uint64_t address) {
  std::vector<ReportFrame> out;
  AppendFrames(address, &out);
  return out;
}

void StackFrames::AppendFrames(uint64_t address, std::vector<ReportFrame>* out) {
  if (!symbolizer_) {
    out->push_back(RawFrame(catalog_.modules, address));
    return;
  }
  const SymbolizedAddress& s = symbolizer_->Resolve(address);
  if (s.frames.empty()) {
    out->push_back(ReportFrame{"", "", 0, s.module, s.offset, false});
    return;
  }
  for (const SourceFrame& f : s.frames) {
    out->push_back(ReportFrame{f.function, f.file, f.line, s.module, s.offset, f.inlined});
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
  r.frames = Frames(id);
  return r;
}

std::vector<std::string> StackFrames::warnings() const {
  return symbolizer_ ? symbolizer_->warnings() : std::vector<std::string>{};
}

std::string FrameText(const ReportFrame& f) {
  if (f.function.empty()) return ModuleOffset(f.module, f.offset);
  if (f.file.empty()) return f.function;
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
    j.EndObject();
  }
  j.EndArray();
}

}  // namespace allocprof
