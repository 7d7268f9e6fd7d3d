// allocprof export TRACE --format folded|pprof|chrome -o FILE: the trace in the formats other tools
// read (FlameGraph/speedscope, pprof/Pyroscope/Parca/Grafana, Perfetto), from the same pass as
// `allocprof analyze`, so the figures agree with the report.
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cli/analysis_flags.h"
#include "cli/commands.h"
#include "export/export_chrome.h"
#include "export/export_folded.h"
#include "export/export_pprof.h"
#include "passes/heap_analysis.h"
#include "passes/stack_windows.h"
#include "report/report.h"
#include "util/cli_args.h"
#include "util/output_file.h"

namespace allocprof {
namespace {

constexpr char kUsage[] =
    "usage: allocprof export TRACE --format folded|pprof|chrome -o FILE [options]\n"
    "\n"
    "Writes one process's trace in a format other tools read:\n"
    "  folded  'frame;frame;frame count' lines, root first, for FlameGraph and speedscope; the\n"
    "          counts sum to the report's allocations (or bytes_allocated with --weight bytes)\n"
    "  pprof   gzipped profile.proto for pprof, Pyroscope, Parca, Grafana: alloc_objects,\n"
    "          alloc_space, inuse_objects, inuse_space (inuse = still allocated at the end)\n"
    "  chrome  trace-event JSON for ui.perfetto.dev: live bytes and allocation rate over time,\n"
    "          the collections of the Gen-style pressure model, and the stacks that allocated\n"
    "          most in each of 100 windows (instants with their stack, and a stackFrames table)\n"
    "FILE is replaced when it is a regular file (never the trace itself or another trace), written\n"
    "into when it is a device or FIFO; - is stdout. README, \"Output files\", has the whole rule.\n"
    "Exit status: 0 written, 2 bad input, 64 bad command line, 73 FILE cannot be written.\n"
    "\n"
    "options:\n";

std::string Basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }

constexpr size_t kChromeStackWindows = 100;
constexpr size_t kChromeStacksPerWindow = 5;

// A stack's frame names root first, as the folded export writes them.
std::vector<std::string> FoldedFramesOf(const ProcessCatalog& catalog, uint32_t id, FrameSource& frames) {
  std::vector<std::string> names;
  auto it = catalog.stacks.find(id);
  if (id == 0 || (it != catalog.stacks.end() && it->second.empty())) return {kNoStackFrame};
  if (it == catalog.stacks.end()) return {kLostStackFrame};
  uint64_t time = frames.StackTime(id);
  for (auto address = it->second.rbegin(); address != it->second.rend(); ++address) {
    AppendFoldedFrames(frames.ResolveAt(*address, time), &names);
  }
  return names;
}

// What the command line asked for, checked.
struct ExportRequest {
  std::string trace;
  std::string format;  // folded, pprof or chrome
  std::string output;
  std::string weight;  // calls or bytes
  AnalysisOptions options;
  bool show_progress = false;
};

// The trace read through the passes the format needs.
struct ExportedRun {
  ExportedRun(const AnalysisOptions& options, bool chrome) : heap(options, &catalog) {
    if (chrome) gen = std::make_unique<GenCollectionsPass>(&catalog, options.gen);
  }
  ProcessCatalog catalog;
  HeapAnalysis heap;
  std::unique_ptr<GenCollectionsPass> gen;  // chrome: the collections it marks
  StackWindows stack_windows;               // chrome: which stacks allocated when
  uint64_t origin = 0, end = 0;             // the exported span
  uint64_t duration() const { return end > origin ? end - origin : 0; }
};

// Parses and checks the command line into *req; a non-negative return is the exit status.
int ParseExportRequest(int argc, char** argv, ExportRequest* req) {
  CliArgs args;
  args.Option("--format", true, "folded, pprof or chrome");
  args.Option("-o,--output", true, "the file to write (- for stdout)");
  args.Option("--weight", true, "calls (default) or bytes: folded counts; pprof's default sample type");
  args.Option("--no-symbols", false, "frames as module+offset without reading module files");
  args.Option("--from", true, "export from this mark (or mark:NAME) or time (12.5s) on, as analyze --from");
  args.Option("--to", true, "export up to this mark or time, as analyze --to");
  args.Option("--progress", false, "show progress on stderr (default: only when stderr is a terminal)");
  AddGenModelFlags(args);  // chrome: the simulated collections it marks
  AddProcessFlags(args, false);
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kUsage, args.Help().c_str());
    return kExitOk;
  }
  auto usage = [&](const std::string& problem) { return UsageError("export", problem); };
  if (!st.ok()) return usage(std::string(st.message()));
  std::vector<std::string> traces = args.positional();
  for (const auto& r : args.rest()) traces.push_back(r);
  if (traces.size() != 1) return usage(traces.empty() ? "no trace given" : "one trace at a time (one process each)");
  // A run's root: export the process that allocated most (or --process), and say so.
  auto pick = PickFromRun(traces, ReadProcessFlags(args));
  if (!pick.ok()) {
    fprintf(stderr, "allocprof export: %s\n", std::string(pick.status().message()).c_str());
    return IsProcessSelectionError(pick.status()) ? kExitUsage : kExitBadInput;
  }
  req->trace = pick->run[pick->focus].file;
  if (pick->run.size() > 1) {
    fprintf(stderr, "allocprof export: %zu traces in this run; exporting %s, %s (--process picks another)\n",
            pick->run.size(), DescribeRunProcess(pick->run[pick->focus]).c_str(), pick->reason.c_str());
  }
  req->format = args.Get("--format");
  if (req->format.empty()) return usage("--format is required: folded, pprof or chrome");
  if (req->format != "folded" && req->format != "pprof" && req->format != "chrome") {
    return usage(absl::StrCat("--format: cannot use '", req->format, "' (folded, pprof or chrome)"));
  }
  req->output = args.Get("--output");
  if (req->output.empty()) return usage("-o FILE is required (- for stdout)");
  req->weight = args.Get("--weight", "calls");
  if (req->weight != "calls" && req->weight != "bytes") {
    return usage(absl::StrCat("--weight: cannot use '", req->weight, "' (calls or bytes)"));
  }
  if (args.Has("--weight") && req->format == "chrome") return usage("--weight applies to folded and pprof");

  if (absl::Status out = CheckOutputFile(req->output, {req->trace}); !out.ok()) {
    fprintf(stderr, "allocprof export: %s\n", std::string(out.message()).c_str());
    return kExitCantCreate;
  }
  req->options.symbolize = !args.Has("--no-symbols");
  st = ReadWindowFlags(args, &req->options.window);
  if (st.ok()) st = ReadGenModelFlags(args, &req->options.gen);
  if (!st.ok()) return usage(std::string(st.message()));
  req->show_progress = args.Has("--progress") || isatty(STDERR_FILENO);
  return -1;
}

// Reads the trace into *run and fixes the exported span; a non-negative return is the exit status.
int ReadExportedRun(const ExportRequest& req, ExportedRun* run) {
  const std::string& trace = req.trace;
  ProcessCatalog& catalog = run->catalog;
  HeapAnalysis& heap = run->heap;
  HeapPassFanout passes(
      &heap, run->gen ? std::vector<EventSink*>{run->gen.get(), &run->stack_windows} : std::vector<EventSink*>{});
  ProgressFn progress;
  if (req.show_progress) {
    progress = [&trace](uint64_t done, uint64_t total) {
      fprintf(stderr, "\rallocprof: %s: %3.0f%%", trace.c_str(), total ? 100.0 * done / total : 100.0);
    };
  }
  absl::Status st = ReadProcessTrace(trace, &passes, &catalog, progress);
  if (req.show_progress) fprintf(stderr, "\n");
  if (!st.ok()) {
    std::string message(st.message());
    if (!absl::StrContains(message, trace)) message = absl::StrCat(trace, ": ", message);
    fprintf(stderr, "allocprof export: %s\n", message.c_str());
    return kExitBadInput;
  }
  heap.Finish();
  for (const auto& d : catalog.diagnostics) fprintf(stderr, "allocprof export: warning: %s\n", d.message.c_str());
  if (!catalog.ended_cleanly) {
    fprintf(stderr,
            "allocprof export: warning: %s has no end record (killed or still running): "
            "exported what was flushed\n",
            trace.c_str());
  }
  run->origin = heap.origin_ns() ? heap.origin_ns() : catalog.first_time;
  run->end = std::max(catalog.last_time, heap.totals().last_event_ns);
  if (heap.window().closed()) run->end = heap.window().close_ns();
  if (heap.window().active() && !heap.window().opened()) {
    fprintf(stderr, "allocprof export: %s: the window never opened (--from %s does not occur in this trace)\n",
            trace.c_str(), req.options.window.from.Describe("start").c_str());
    return kExitBadInput;
  }
  return -1;
}

std::string RenderChrome(const ExportRequest& req, ExportedRun& run, const std::string& generator,
                         std::vector<std::string>* warnings) {
  const ProcessCatalog& catalog = run.catalog;
  const HeapAnalysis& heap = run.heap;
  ChromeTraceInput in;
  in.pid = catalog.process.pid ? catalog.process.pid : 1;  // no process record: any non-zero pid
  std::string exe = catalog.process.exe.empty() ? Basename(req.trace) : Basename(catalog.process.exe);
  in.process_name = absl::StrCat(exe, " (pid ", catalog.process.pid, ")");
  in.thread_name = "main";
  for (const auto& [index, t] : catalog.threads) {
    if (t.tid == catalog.process.pid && !t.name.empty()) in.thread_name = t.name;
  }
  in.generator = generator;
  in.trace_path = req.trace;
  if (heap.totals().allocations || heap.totals().frees) in.windows = heap.timeline().Fine(run.end);
  in.end_ns = run.duration();
  // A sampled trace's simulated collections are not estimates of anything (report/sections/gen.cc).
  in.gen_model = !catalog.sampling.sampled();
  if (in.gen_model) {
    in.collections = run.gen->Finish(run.origin, run.end);
  } else {
    warnings->push_back("sampled trace: Gen collections are not available when sampling (none marked)");
  }
  if (heap.totals().allocations) {
    // The heaviest stacks of each of 100 windows, at the window's start (times since the process start).
    FrameSource frames(catalog, req.options.symbolize);
    std::vector<TimeWindow> windows = heap.timeline().Windows(run.end, kChromeStackWindows, 0);
    uint64_t process_start = catalog.has_process ? catalog.process.start_monotonic_ns : run.origin;
    AddChromeStackSamples(
        run.stack_windows.Cells(run.origin, windows), windows,
        run.origin > process_start ? run.origin - process_start : 0, kChromeStacksPerWindow,
        [&](uint32_t id) { return FoldedFramesOf(catalog, id, frames); }, &in);
    for (const std::string& w : frames.warnings()) warnings->push_back(w);
  }
  return RenderChromeTrace(in);
}

// folded or pprof: every stack with its totals.
std::string RenderStacks(const ExportRequest& req, const ExportedRun& run, const std::string& generator,
                         std::vector<std::string>* warnings) {
  const ProcessCatalog& catalog = run.catalog;
  FrameSource frames(catalog, req.options.symbolize);
  ExportStacks stacks = run.heap.AllStacks();
  std::string data;
  if (req.format == "folded") {
    data = RenderFolded(catalog, stacks, frames, req.weight == "bytes" ? FoldedWeight::kBytes : FoldedWeight::kCalls);
  } else {
    PprofOptions po;
    po.default_sample_type = req.weight == "bytes" ? "alloc_space" : "alloc_objects";
    po.time_nanos = static_cast<int64_t>(catalog.process.start_realtime_ns);
    po.duration_nanos = static_cast<int64_t>(run.duration());
    po.comments.push_back(generator);
    po.comments.push_back(absl::StrCat("trace: ", req.trace));
    if (!catalog.process.command_line.empty()) {
      std::string command = absl::StrReplaceAll(catalog.process.command_line, {{std::string(1, '\0'), " "}});
      po.comments.push_back(absl::StrCat("command: ", command));
    }
    data = Gzip(EncodePprof(catalog, stacks, frames, po));
  }
  *warnings = frames.warnings();
  return data;
}

}  // namespace

int ExportCommand(int argc, char** argv) {
  ExportRequest req;
  if (int exit = ParseExportRequest(argc, argv, &req); exit >= 0) return exit;
  ExportedRun run(req.options, req.format == "chrome");
  if (int exit = ReadExportedRun(req, &run); exit >= 0) return exit;
  std::string generator = absl::StrCat("allocprof ", ALLOCPROF_VERSION);
  std::vector<std::string> warnings;
  std::string data = req.format == "chrome" ? RenderChrome(req, run, generator, &warnings)
                                            : RenderStacks(req, run, generator, &warnings);
  for (const auto& w : warnings) fprintf(stderr, "allocprof export: warning: %s\n", w.c_str());
  if (absl::Status out = WriteOutputFile(req.output, data, {req.trace}); !out.ok()) {
    fprintf(stderr, "allocprof export: %s\n", std::string(out.message()).c_str());
    return kExitCantCreate;
  }
  return kExitOk;
}

}  // namespace allocprof
