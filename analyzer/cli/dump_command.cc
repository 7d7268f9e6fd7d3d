// allocprof dump TRACE: every chunk and record, in file order, readably.
#include <stdio.h>

#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "cli/commands.h"
#include "read/record_decoder.h"
#include "read/trace_file.h"
#include "util/cli_args.h"
#include "util/hex.h"

namespace allocprof {
namespace {

const char* CodecName(uint8_t codec) { return codec == 1 ? "zstd" : "none"; }

class Dumper {
 public:
  explicit Dumper(FILE* out) : out_(out) {}

  void Chunk(const allocprof::Chunk& c) {
    const auto& h = c.header;
    std::string thread = h.thread == format::kProcessThread ? "process" : absl::StrFormat("%d", h.thread);
    absl::FPrintF(out_, "chunk @%d thread=%s records=%d codec=%s stored=%d raw=%d base=%s covered=%s alloc_seq=%d\n",
                  c.offset, thread, h.record_count, CodecName(h.codec), h.stored_size, h.raw_size, Time(h.base_time_ns),
                  Time(h.covered_until_ns), h.alloc_seq);
  }

  void Record(const allocprof::Record& r) {
    switch (r.kind) {
      case RecordKind::kAlloc:
        absl::FPrintF(out_, "  %s alloc %s size=%d addr=0x%x stack=%d\n", Time(r.time), EntryName(r), r.size, r.addr,
                      r.stack_id);
        break;
      case RecordKind::kFree:
        if (r.age) {
          absl::FPrintF(out_, "  %s free %s addr=0x%x age=%d\n", Time(r.time), EntryName(r), r.addr, r.age);
        } else {
          absl::FPrintF(out_, "  %s free %s addr=0x%x\n", Time(r.time), EntryName(r), r.addr);
        }
        break;
      case RecordKind::kStackDef: {
        std::string frames;
        for (uint64_t f : r.frames) absl::StrAppendFormat(&frames, " 0x%x", f);
        absl::FPrintF(out_, "  stack %d depth=%d:%s\n", r.stack_id, r.frames.size(), frames);
        break;
      }
      case RecordKind::kThreadStart:
        absl::FPrintF(out_, "  %s thread-start tid=%d\n", Time(r.time), r.value);
        break;
      case RecordKind::kThreadName:
        absl::FPrintF(out_, "  thread-name \"%s\"\n", Printable(r.text));
        break;
      case RecordKind::kThreadEnd:
        absl::FPrintF(out_, "  %s thread-end\n", Time(r.time));
        break;
      case RecordKind::kModule: {
        absl::FPrintF(out_, "  %s module \"%s\" bias=0x%x build-id=%s segments=%d\n", Time(r.time), Printable(r.text),
                      r.value, r.build_id.empty() ? "-" : HexBytes(r.build_id), r.segments.size());
        for (const auto& s : r.segments) {
          absl::FPrintF(out_, "    segment vaddr=0x%x memsz=0x%x flags=%c%c%c\n", s.vaddr, s.memsz,
                        (s.flags & 4) ? 'r' : '-', (s.flags & 2) ? 'w' : '-', (s.flags & 1) ? 'x' : '-');
        }
        break;
      }
      case RecordKind::kModuleUnload:
        absl::FPrintF(out_, "  %s module-unload \"%s\" bias=0x%x\n", Time(r.time), Printable(r.text), r.value);
        break;
      case RecordKind::kSuppressions:
        absl::FPrintF(out_, "  suppressions \"%s\"\n", Printable(r.text));
        break;
      case RecordKind::kProcess: {
        const ProcessInfo& p = r.process;
        if (origin_ == 0) origin_ = p.start_monotonic_ns;
        absl::FPrintF(out_,
                      "  process pid=%d ppid=%d exe=\"%s\" cmdline=\"%s\" start=%d page=%d llc=%d unwind=%s depth=%d "
                      "shim=%s%s\n",
                      p.pid, p.ppid, Printable(p.exe),
                      Printable(absl::StrReplaceAll(p.command_line, {{std::string(1, '\0'), " "}})),
                      p.start_monotonic_ns, p.page_size, p.llc_bytes,
                      p.unwind_mode == 2   ? "libunwind"
                      : p.unwind_mode == 1 ? "fp"
                                           : "none",
                      p.max_depth, Printable(p.shim_version),
                      absl::StrCat(p.attached() ? " attached" : "", p.forked() ? " forked" : ""));
        break;
      }
      case RecordKind::kExec:
        absl::FPrintF(out_, "  %s exec \"%s\"\n", Time(r.time), Printable(r.text));
        break;
      case RecordKind::kFork:
        absl::FPrintF(out_, "  %s fork child=%d\n", Time(r.time), r.value);
        break;
      case RecordKind::kWarning:
        absl::FPrintF(out_, "  %s warning \"%s\"\n", Time(r.time), Printable(r.text));
        break;
      case RecordKind::kEnd:
        absl::FPrintF(out_, "  %s end\n", Time(r.time));
        break;
      case RecordKind::kQuiet:
        absl::FPrintF(out_, "  %s quiet thread=%d\n", Time(r.time), r.value);
        break;
      case RecordKind::kPoolRegister:
        absl::FPrintF(out_, "  pool %d \"%s\" max_block=%d slots_per_bucket=%d\n", r.pool, Printable(r.text), r.size,
                      r.value);
        break;
      case RecordKind::kRentBegin:
        absl::FPrintF(out_, "  %s rent-begin pool=%d requested=%d stack=%d\n", Time(r.time), r.pool, r.size,
                      r.stack_id);
        break;
      case RecordKind::kRentEnd: {
        static const char* kOutcomes[] = {"hit", "fill", "exhausted", "oversize"};
        absl::FPrintF(out_, "  %s rent-end pool=%d requested=%d granted=%d %s\n", Time(r.time), r.pool, r.size,
                      r.granted, kOutcomes[r.outcome]);
        break;
      }
      case RecordKind::kPoolReturn: {
        static const char* kOutcomes[] = {"kept", "dropped-full", "dropped-oversize"};
        absl::FPrintF(out_, "  %s pool-return pool=%d size=%d %s stack=%d\n", Time(r.time), r.pool, r.size,
                      kOutcomes[r.outcome], r.stack_id);
        break;
      }
      case RecordKind::kCounterName:
        absl::FPrintF(out_, "  counter %d \"%s\"\n", r.value, Printable(r.text));
        break;
      case RecordKind::kMark:
        absl::FPrintF(out_, "  %s mark \"%s\"\n", Time(r.time), Printable(r.text));
        break;
      case RecordKind::kCapture: {
        static const char* kStates[] = {"paused", "recording", "ended"};
        absl::FPrintF(out_, "  %s capture %s (%s)\n", Time(r.time), kStates[r.outcome], Printable(r.text));
        break;
      }
      case RecordKind::kCount:
        absl::FPrintF(out_, "  %s count counter=%d n=%d\n", Time(r.time), r.value, r.size);
        break;
      case RecordKind::kSampling:
        absl::FPrintF(out_, "  sampling interval=%d\n", r.value);
        break;
    }
  }

 private:
  static const char* EntryName(const allocprof::Record& r) {
    return format::kEntryPoints[static_cast<int>(r.entry)].name;
  }
  // Trace strings come from the traced program: never let them drive the terminal.
  static std::string Printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      if (c == '"' || c == '\\')
        absl::StrAppendFormat(&out, "\\%c", c);
      else if (c < 0x20 || c == 0x7f)
        absl::StrAppendFormat(&out, "\\x%02x", c);
      else
        out.push_back(static_cast<char>(c));
    }
    return out;
  }
  std::string Time(uint64_t t) const {
    if (origin_ == 0 || t < origin_) return absl::StrFormat("@%d", t);
    return absl::StrFormat("+%.9f", static_cast<double>(t - origin_) / 1e9);
  }

  FILE* out_;
  uint64_t origin_ = 0;
};

}  // namespace

int DumpCommand(int argc, char** argv) {
  CliArgs args;
  args.Option("--summary", false, "print only counts: records by kind and entry point, bytes per event");
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("usage: allocprof dump [--summary] TRACE\n\nPrints every chunk and record of TRACE in file order.\n%s",
           args.Help().c_str());
    return kExitOk;
  }
  if (!st.ok()) return UsageError("dump", std::string(st.message()));
  if (args.positional().size() != 1) {
    return UsageError("dump", absl::StrCat("give one TRACE (got ", args.positional().size(), ")"));
  }
  const std::string& path = args.positional()[0];
  auto file = TraceFile::Open(path);
  if (!file.ok()) {
    fprintf(stderr, "allocprof dump: %s\n", std::string(file.status().message()).c_str());
    return kExitBadInput;
  }
  bool summary = args.Has("--summary");
  if (!summary) {
    absl::PrintF("# %s: allocprof trace, format version %d, %d bytes\n", path, (*file)->format_version(),
                 (*file)->size());
  }
  Dumper dumper(stdout);
  uint64_t by_kind[32] = {0};
  absl::node_hash_map<uint32_t, AllocationHistory> histories;
  uint64_t column_bytes[format::kColumnCount] = {0};
  uint64_t by_entry[64] = {0};
  allocprof::Chunk chunk;
  allocprof::Record record;
  uint64_t records = 0;
  bool malformed = false;
  bool ended = false;
  bool exec_seen = false;
  while ((*file)->Next(&chunk)) {
    if (!summary) dumper.Chunk(chunk);
    {
      const uint8_t* p = chunk.payload.data();
      const uint8_t* end = p + chunk.payload.size();
      uint64_t n;
      format::PayloadLayout layout = format::PayloadLayoutOf(chunk.format_version);
      for (int i = 0; i < layout.count && format::GetVarint(&p, end, &n); ++i) {
        column_bytes[static_cast<int>(layout.columns[i])] += n;
      }
    }
    bool is_thread = chunk.header.thread != format::kProcessThread;
    RecordDecoder decoder(chunk, is_thread ? &histories[chunk.header.thread] : nullptr);
    while (decoder.Next(&record)) {
      ++records;
      // The image that exec'd ends its trace with the exec record; a failed exec is followed by more.
      if (record.kind == RecordKind::kEnd || record.kind == RecordKind::kExec)
        ended = true;
      else if (record.kind == RecordKind::kAlloc || record.kind == RecordKind::kFree)
        ended = ended && !exec_seen;
      exec_seen |= record.kind == RecordKind::kExec;
      ++by_kind[static_cast<int>(record.kind)];
      if (record.kind == RecordKind::kAlloc || record.kind == RecordKind::kFree)
        ++by_entry[static_cast<int>(record.entry)];
      if (!summary) dumper.Record(record);
    }
    if (!decoder.error().empty()) {
      fprintf(stderr, "allocprof dump: %s: %s\n", path.c_str(), decoder.error().c_str());
      malformed = true;
    }
  }
  if (summary) {
    uint64_t events = by_kind[static_cast<int>(RecordKind::kAlloc)] + by_kind[static_cast<int>(RecordKind::kFree)];
    absl::PrintF("file %s\nbytes %d\nchunks %d\nrecords %d\nevents %d\n", path, (*file)->size(), (*file)->chunks_read(),
                 records, events);
    absl::PrintF("bytes_per_event %.3f\n", events ? static_cast<double>((*file)->size()) / events : 0.0);
    for (int k = 0; k < 32; ++k) {
      if (by_kind[k]) absl::PrintF("kind %s %d\n", RecordKindName(static_cast<RecordKind>(k)), by_kind[k]);
    }
    for (int e = 0; e < static_cast<int>(format::EntryPoint::kCount); ++e) {
      if (by_entry[e]) absl::PrintF("entry %s %d\n", format::kEntryPoints[e].name, by_entry[e]);
    }
    static const char* kColumns[] = {"tags", "times", "sizes", "addresses", "hints", "stacks", "ages", "control"};
    static_assert(sizeof(kColumns) / sizeof(kColumns[0]) == format::kColumnCount);
    for (int c = 0; c < format::kColumnCount; ++c) {
      absl::PrintF("column %s %d raw bytes (%.3f per event)\n", kColumns[c], column_bytes[c],
                   events ? static_cast<double>(column_bytes[c]) / events : 0.0);
    }
  } else {
    absl::PrintF("# %d chunks, %d records\n", (*file)->chunks_read(), records);
  }
  for (const auto& d : (*file)->diagnostics()) fprintf(stderr, "allocprof dump: %s\n", d.message.c_str());
  if (!ended && !(*file)->damaged()) {
    fprintf(stderr,
            "allocprof dump: %s: no end record: the process was still running or was killed; "
            "all complete chunks were read\n",
            path.c_str());
  }
  return (*file)->damaged() || malformed ? kExitDamaged : kExitOk;
}

}  // namespace allocprof
