// JSON rendering of an AnalysisReport: the document's frame (schema version, inputs, parameters,
// the processes, the warnings); each section writes its own keys (report/sections/). The schema is
// documented in docs/json-schema.md; keys are a contract with reports/ and CI, so change them only
// with a schema_version bump.
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
  j.Key("execs").BeginArray();
  for (const auto& e : p.execs) j.String(e);
  j.EndArray();
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
  j.Key("warnings").BeginArray();
  for (const auto& p : report.processes) {
    for (const auto& w : p.warnings) j.String(w);
  }
  j.EndArray();
  j.EndObject();
  return j.str() + "\n";
}

}  // namespace allocprof
