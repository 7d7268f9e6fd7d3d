#include "export/export_pprof.h"

#include <zlib.h>

#include <algorithm>
#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "util/hex.h"

namespace allocprof {
namespace {

// Field numbers of tests/data/profile.proto.
namespace field {
constexpr int kSampleType = 1, kSample = 2, kMapping = 3, kLocation = 4, kFunction = 5, kStringTable = 6,
              kTimeNanos = 9, kDurationNanos = 10, kPeriodType = 11, kPeriod = 12, kComment = 13,
              kDefaultSampleType = 14;
constexpr int kValueTypeType = 1, kValueTypeUnit = 2;
constexpr int kSampleLocationId = 1, kSampleValue = 2;
constexpr int kMappingId = 1, kMappingStart = 2, kMappingLimit = 3, kMappingOffset = 4, kMappingFilename = 5,
              kMappingBuildId = 6, kMappingHasFunctions = 7, kMappingHasFilenames = 8, kMappingHasLineNumbers = 9,
              kMappingHasInlineFrames = 10;
constexpr int kLocationId = 1, kLocationMappingId = 2, kLocationAddress = 3, kLocationLine = 4;
constexpr int kLineFunctionId = 1, kLineLine = 2;
constexpr int kFunctionId = 1, kFunctionName = 2, kFunctionSystemName = 3, kFunctionFilename = 4;
}  // namespace field

// Protobuf wire format: a field is a varint key (number << 3 | wire type) and a varint or a
// length-delimited payload. proto3 leaves scalars at their default (0, false) out.
class ProtoWriter {
 public:
  void Uint(int number, uint64_t v) {
    if (v == 0) return;
    Key(number, 0);
    Varint(v);
  }
  void Int(int number, int64_t v) { Uint(number, static_cast<uint64_t>(v)); }  // int64: two's complement
  void Bool(int number, bool v) { Uint(number, v ? 1 : 0); }
  // Always written, even empty (string_table[0] is "", and sub-messages may be empty).
  void Bytes(int number, std::string_view bytes) {
    Key(number, 2);
    Varint(bytes.size());
    out_.append(bytes);
  }
  void Message(int number, const ProtoWriter& m) { Bytes(number, m.out_); }
  void Packed(int number, const std::vector<uint64_t>& values) {
    if (values.empty()) return;
    ProtoWriter p;
    for (uint64_t v : values) p.Varint(v);
    Bytes(number, p.out_);
  }
  const std::string& str() const { return out_; }

 private:
  void Key(int number, int wire_type) { Varint(static_cast<uint64_t>(number) << 3 | wire_type); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

class StringTable {
 public:
  StringTable() { Index(""); }
  int64_t Index(const std::string& s) {
    auto [it, inserted] = index_.try_emplace(s, static_cast<int64_t>(strings_.size()));
    if (inserted) strings_.push_back(s);
    return it->second;
  }
  const std::vector<std::string>& strings() const { return strings_; }

 private:
  absl::flat_hash_map<std::string, int64_t> index_;
  std::vector<std::string> strings_;
};

struct MappingInfo {
  uint64_t start = 0, limit = 0;
  const ModuleInfo* module = nullptr;
  bool has_functions = false, has_filenames = false, has_lines = false;
};

class ProfileBuilder {
 public:
  ProfileBuilder(const ProcessCatalog& catalog, FrameSource& frames) : catalog_(catalog), frames_(frames) {
    uint64_t page = catalog.process.page_size ? catalog.process.page_size : 4096;
    // The main executable first: pprof takes the first mapping for the program.
    std::vector<const ModuleInfo*> order;
    for (const ModuleInfo& m : catalog.modules) {
      if (m.path == catalog.process.exe) order.push_back(&m);
    }
    for (const ModuleInfo& m : catalog.modules) {
      if (m.path != catalog.process.exe) order.push_back(&m);
    }
    for (const ModuleInfo* m : order) {
      if (m->segments.empty()) continue;
      uint64_t lo = UINT64_MAX, hi = 0;
      for (const Segment& s : m->segments) {
        lo = std::min(lo, s.vaddr);
        hi = std::max(hi, s.vaddr + s.memsz);
      }
      // The first loaded segment starts at file offset 0 (it holds the ELF header).
      lo &= ~(page - 1);
      mapping_of_.emplace(m, mappings_.size());
      mappings_.push_back(MappingInfo{m->load_bias + lo, m->load_bias + hi, m, false, false, false});
    }
  }

  // Location ids of one recorded stack, leaf first.
  std::vector<uint64_t> StackLocations(uint32_t id) {
    auto it = catalog_.stacks.find(id);
    if (id == 0 || (it != catalog_.stacks.end() && it->second.empty())) return {PseudoLocation(kNoStackFrame)};
    if (it == catalog_.stacks.end()) return {PseudoLocation(kLostStackFrame)};
    std::vector<uint64_t> out;
    uint64_t time = frames_.StackTime(id);
    for (uint64_t address : it->second) out.push_back(LocationOf(address, time));
    return out;
  }

  std::string Finish(const ExportStacks& stacks, const PprofOptions& options) {
    ProtoWriter profile;
    static constexpr std::array<std::pair<const char*, const char*>, 4> kTypes = {
        {{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}}};
    for (const auto& [type, unit] : kTypes) profile.Message(field::kSampleType, ValueType(type, unit));

    // Samples in stack-id order, so the same trace always gives the same bytes.
    ExportStacks sorted = stacks;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [id, s] : sorted) {
      ProtoWriter sample;
      sample.Packed(field::kSampleLocationId, StackLocations(id));
      sample.Packed(field::kSampleValue, {s->calls, s->bytes, s->live_count, s->live_bytes});
      profile.Message(field::kSample, sample);
    }

    for (size_t i = 0; i < mappings_.size(); ++i) {
      const MappingInfo& m = mappings_[i];
      ProtoWriter w;
      w.Uint(field::kMappingId, i + 1);
      w.Uint(field::kMappingStart, m.start);
      w.Uint(field::kMappingLimit, m.limit);
      w.Uint(field::kMappingOffset, 0);
      w.Int(field::kMappingFilename, strings_.Index(m.module->path));
      if (!m.module->build_id.empty()) w.Int(field::kMappingBuildId, strings_.Index(HexBytes(m.module->build_id)));
      w.Bool(field::kMappingHasFunctions, m.has_functions);
      w.Bool(field::kMappingHasFilenames, m.has_filenames);
      w.Bool(field::kMappingHasLineNumbers, m.has_lines);
      w.Bool(field::kMappingHasInlineFrames, m.has_filenames);  // DWARF read: inlined frames resolved
      profile.Message(field::kMapping, w);
    }
    std::string body = locations_.str() + functions_.str();
    ProtoWriter tail;
    tail.Uint(field::kTimeNanos, static_cast<uint64_t>(options.time_nanos));
    tail.Uint(field::kDurationNanos, static_cast<uint64_t>(options.duration_nanos));
    tail.Message(field::kPeriodType, ValueType("alloc_objects", "count"));
    tail.Uint(field::kPeriod, 1);
    std::vector<uint64_t> comments;
    for (const auto& c : options.comments) comments.push_back(static_cast<uint64_t>(strings_.Index(c)));
    tail.Packed(field::kComment, comments);
    tail.Int(field::kDefaultSampleType, strings_.Index(options.default_sample_type));

    ProtoWriter table;  // last: every string is interned by now
    for (const auto& s : strings_.strings()) table.Bytes(field::kStringTable, s);
    return profile.str() + body + table.str() + tail.str();
  }

 private:
  ProtoWriter ValueType(const char* type, const char* unit) {
    ProtoWriter w;
    w.Int(field::kValueTypeType, strings_.Index(type));
    w.Int(field::kValueTypeUnit, strings_.Index(unit));
    return w;
  }

  uint64_t FunctionOf(const std::string& name, const std::string& file) {
    auto [it, inserted] = functions_by_key_.try_emplace(std::make_pair(name, file), functions_by_key_.size() + 1);
    if (inserted) {
      ProtoWriter w;
      w.Uint(field::kFunctionId, it->second);
      w.Int(field::kFunctionName, strings_.Index(name));
      w.Int(field::kFunctionSystemName, strings_.Index(name));
      w.Int(field::kFunctionFilename, strings_.Index(file));
      functions_.Message(field::kFunction, w);
    }
    return it->second;
  }

  uint64_t NewLocationId() { return ++location_count_; }

  uint64_t PseudoLocation(const char* name) {
    auto [it, inserted] = pseudo_.try_emplace(name, 0);
    if (!inserted) return it->second;
    it->second = NewLocationId();
    ProtoWriter line;
    line.Uint(field::kLineFunctionId, FunctionOf(name, ""));
    ProtoWriter w;
    w.Uint(field::kLocationId, it->second);
    w.Message(field::kLocationLine, line);
    locations_.Message(field::kLocation, w);
    return it->second;
  }

  MappingInfo* MappingOf(const ModuleInfo* m) {
    auto it = mapping_of_.find(m);
    return it == mapping_of_.end() ? nullptr : &mappings_[it->second];
  }

  MappingInfo* MappingAt(uint64_t address) {
    // The latest module mapped there wins, as in FrameSource.
    for (auto m = catalog_.modules.rbegin(); m != catalog_.modules.rend(); ++m) {
      for (const Segment& s : m->segments) {
        uint64_t start = m->load_bias + s.vaddr;
        if (address >= start && address - start < s.memsz) {
          auto it = mapping_of_.find(&*m);
          return it == mapping_of_.end() ? nullptr : &mappings_[it->second];
        }
      }
    }
    return nullptr;
  }

  // The location of a return address of a stack used at `time`: one per address and the module
  // mapped there then (a trace that unloaded a module can map another at its addresses).
  uint64_t LocationOf(uint64_t return_address, uint64_t time) {
    int module = frames_.ModuleAt(return_address, time);
    auto [it, inserted] = locations_by_address_.try_emplace(std::make_pair(return_address, module), 0);
    if (!inserted) return it->second;
    it->second = NewLocationId();
    MappingInfo* mapping = module >= 0 ? MappingOf(&catalog_.modules[module]) : MappingAt(return_address);
    ProtoWriter w;
    w.Uint(field::kLocationId, it->second);
    if (mapping) w.Uint(field::kLocationMappingId, static_cast<uint64_t>(mapping - mappings_.data()) + 1);
    w.Uint(field::kLocationAddress, return_address ? return_address - 1 : 0);
    if (frames_.symbolized()) {
      const SymbolizedAddress& a = frames_.ResolveAt(return_address, time);
      if (a.frames.empty()) {
        ProtoWriter line;
        line.Uint(field::kLineFunctionId, FunctionOf(ModuleOffsetName(a), ""));
        w.Message(field::kLocationLine, line);
      }
      for (const SourceFrame& f : a.frames) {  // innermost first, as the format wants
        ProtoWriter line;
        line.Uint(field::kLineFunctionId, FunctionOf(f.function.empty() ? ModuleOffsetName(a) : f.function, f.file));
        line.Int(field::kLineLine, f.line);
        w.Message(field::kLocationLine, line);
        if (mapping) {
          mapping->has_functions |= !f.function.empty();
          mapping->has_filenames |= !f.file.empty();
          mapping->has_lines |= f.line > 0;
        }
      }
    }
    locations_.Message(field::kLocation, w);
    return it->second;
  }

  const ProcessCatalog& catalog_;
  FrameSource& frames_;
  StringTable strings_;
  std::vector<MappingInfo> mappings_;
  absl::flat_hash_map<const ModuleInfo*, size_t> mapping_of_;
  absl::flat_hash_map<std::pair<uint64_t, int>, uint64_t> locations_by_address_;  // (address, module at time)
  absl::flat_hash_map<std::string, uint64_t> pseudo_;
  absl::flat_hash_map<std::pair<std::string, std::string>, uint64_t> functions_by_key_;
  uint64_t location_count_ = 0;
  ProtoWriter locations_, functions_;
};

}  // namespace

std::string EncodePprof(const ProcessCatalog& catalog, const ExportStacks& stacks, FrameSource& frames,
                        const PprofOptions& options) {
  ProfileBuilder builder(catalog, frames);
  return builder.Finish(stacks, options);
}

uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) crc = kTable[(crc ^ c) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

std::string GzipStored(std::string_view data) {
  auto le32 = [](std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  // ID1 ID2, CM = deflate, FLG = 0, MTIME = 0 (none), XFL = 0, OS = 3 (Unix).
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  constexpr size_t kMaxBlock = 65535;
  size_t at = 0;
  do {
    size_t n = std::min(kMaxBlock, data.size() - at);
    bool last = at + n == data.size();
    // A stored block: BFINAL, BTYPE 00, padding to the byte, LEN, NLEN (little-endian), the bytes.
    out += static_cast<char>(last ? 1 : 0);
    uint16_t len = static_cast<uint16_t>(n);
    uint16_t nlen = static_cast<uint16_t>(~len);
    out += static_cast<char>(len & 0xff);
    out += static_cast<char>(len >> 8);
    out += static_cast<char>(nlen & 0xff);
    out += static_cast<char>(nlen >> 8);
    out.append(data.substr(at, n));
    at += n;
  } while (at < data.size());
  le32(out, Crc32(data));
  le32(out, static_cast<uint32_t>(data.size()));
  return out;
}

}  // namespace allocprof

namespace allocprof {

std::string Gzip(std::string_view data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return GzipStored(data);
  }
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  size_t n = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return GzipStored(data);
  out.resize(n);
  return out;
}

}  // namespace allocprof
