// JSON rendering of an AnalysisReport: the document's frame (schema version, inputs, parameters,
// the processes, the warnings); each section writes its own keys (report/sections/). The schema is
// documented in docs/json-schema.md; keys are a contract with reports/ and CI, so change them only
// with a schema_version bump.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "report/report.h"
#include "report/section.h"
#include "util/json_writer.h"

namespace allocprof {
namespace {

void WriteParameters(JsonWriter& j, const AnalysisOptions& o) {
  j.Key("parameters").BeginObject();
  j.Key("top_n").Uint(o.top_n);
  j.Key("windows").Uint(o.windows);
  j.Key("window_s").Double(Seconds(o.window_ns));
  j.Key("large_object_bytes").Uint(o.large_object_bytes);
  j.Key("short_lived_s").Double(Seconds(o.short_lived_ns));
  j.EndObject();
}

void WriteProcessInfo(JsonWriter& j, const ProcessReport& p) {
  j.Key("file").String(p.file);
  j.Key("pid").Uint(p.process.pid);
  j.Key("ppid").Uint(p.process.ppid);
  j.Key("exe").String(p.process.exe);
  std::string cmd = p.process.command_line;
  for (char& c : cmd) {
    if (c == '\0') c = ' ';
  }
  j.Key("command_line").String(cmd);
  j.Key("ended_cleanly").Bool(p.ended_cleanly);
  if (p.process.attached()) j.Key("attached").Bool(true);
  if (p.process.forked()) j.Key("forked").Bool(true);
  j.Key("execs").BeginArray();
  for (const auto& e : p.execs) j.String(e);
  j.EndArray();
  j.Key("damage").BeginArray();
  for (const auto& d : p.damage) {
    j.BeginObject();
    j.Key("kind").String(d.kind);
    j.Key("offset").Uint(d.offset);
    j.Key("bytes").Uint(d.bytes);
    j.Key("message").String(d.message);
    j.EndObject();
  }
  j.EndArray();
}

// The run's processes (report.h's AnalysisReport::run): each trace with its allocations, the one
// that allocated most and the one reported at the top level.
void WriteRun(JsonWriter& j, const AnalysisReport& report) {
  if (report.run.size() < 2) return;
  j.Key("run").BeginObject();
  j.Key("processes").BeginArray();
  for (const RunTrace& t : report.run) {
    j.BeginObject();
    j.Key("file").String(t.file);
    j.Key("pid").Uint(t.process.pid);
    j.Key("ppid").Uint(t.process.ppid);
    j.Key("command").String(CommandName(t.process));
    std::string cmd = t.process.command_line;
    for (char& c : cmd) {
      if (c == '\0') c = ' ';
    }
    j.Key("command_line").String(cmd);
    j.Key("forked").Bool(t.process.forked());
    j.Key("allocations").Double(t.allocations);
    j.Key("bytes_allocated").Double(t.bytes_allocated);
    if (t.sampled) {  // estimates
      j.Key("allocations_sigma").Double(std::sqrt(t.allocations_variance));
      j.Key("bytes_allocated_sigma").Double(std::sqrt(t.bytes_variance));
    }
    j.EndObject();
  }
  j.EndArray();
  j.Key("most_allocating").Uint(report.run_most);
  j.Key("reported").Uint(report.run_focus);
  j.Key("reported_because").String(report.focus_reason);
  j.EndObject();
}

void WriteSections(JsonWriter& j, const ProcessReport& p, const AnalysisOptions& o, JsonPlace place) {
  for (const auto& s : p.sections) s->RenderJson(p, o, j, place);
}

}  // namespace

std::string RenderJson(const AnalysisReport& report) {
  JsonWriter j;
  j.BeginObject();
  j.Key("schema_version").Uint(kJsonSchemaVersion);
  j.Key("generator").String(absl::StrCat("allocprof ", ALLOCPROF_VERSION));
  j.Key("inputs").BeginArray();
  for (const auto& i : report.inputs) j.String(i);
  j.EndArray();
  WriteParameters(j, report.options);
  // The root process in full at the top level; every process (the root too) summarized in "processes".
  const ProcessReport& root = report.processes.front();
  j.Key("process").BeginObject();
  WriteProcessInfo(j, root);
  j.EndObject();
  WriteSections(j, root, report.options, JsonPlace::kRoot);
  j.Key("processes").BeginArray();
  for (const auto& p : report.processes) {
    j.BeginObject();
    WriteProcessInfo(j, p);
    WriteSections(j, p, report.options, JsonPlace::kProcessList);
    j.EndObject();
  }
  j.EndArray();
  WriteRun(j, report);
  j.Key("warnings").BeginArray();
  for (const auto& p : report.processes) {
    for (const auto& w : p.warnings) j.String(w);
  }
  j.EndArray();
  j.EndObject();
  return j.str() + "\n";
}

}  // namespace allocprof
