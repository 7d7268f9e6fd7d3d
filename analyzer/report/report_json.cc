// JSON rendering of an AnalysisReport. The schema is documented in docs/json-schema.md; keys are
// a contract with reports/ and CI, so change them only with a schema_version bump.
#include "absl/strings/str_cat.h"
#include "report/report.h"
#include "util/json_writer.h"

namespace allocprof {
namespace {

double Seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }
double RelSeconds(uint64_t t, uint64_t origin) { return t > origin ? Seconds(t - origin) : 0; }

void WriteSawtooth(JsonWriter& j, bool found, double period_s, double amplitude_bytes) {
  j.Key("found").Bool(found);
  j.Key("period_s");
  found ? j.Double(period_s) : j.Null();
  j.Key("amplitude_bytes");
  found ? j.Double(amplitude_bytes) : j.Null();
}

void WriteFallthrough(JsonWriter& j, const uint64_t (&by_kind)[3]) {
  static const char* kKinds[] = {"oversize", "exhausted", "fill"};
  j.Key("fallthrough").BeginObject();
  for (int k = 0; k < 3; ++k) j.Key(kKinds[k]).Uint(by_kind[k]);
  j.EndObject();
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

void WriteStacks(JsonWriter& j, const char* key, const std::vector<ReportStack>& stacks) {
  j.Key(key).BeginArray();
  for (const auto& s : stacks) {
    j.BeginObject();
    j.Key("id").Uint(s.id);
    j.Key("calls").Uint(s.calls);
    j.Key("bytes").Uint(s.bytes);
    j.Key("peak_bytes").Uint(s.peak_bytes);
    j.Key("leaked_allocations").Uint(s.leaked_allocations);
    j.Key("leaked_bytes").Uint(s.leaked_bytes);
    j.Key("temporary_allocations").Uint(s.temporary);
    WriteFrames(j, s.frames);
    j.EndObject();
  }
  j.EndArray();
}

void WriteTotals(JsonWriter& j, const ProcessReport& p) {
  const HeapTotals& t = p.totals;
  j.Key("totals").BeginObject();
  j.Key("allocations").Uint(t.allocations);
  j.Key("frees").Uint(t.frees);
  j.Key("bytes_allocated").Uint(t.bytes_allocated);
  j.Key("bytes_freed").Uint(t.bytes_freed);
  j.Key("peak_live_bytes").Uint(t.peak_live_bytes);
  j.Key("peak_time_s").Double(RelSeconds(t.peak_time_ns, p.origin_ns));
  j.Key("leaked_allocations").Uint(t.leaked_allocations);
  j.Key("leaked_bytes").Uint(t.leaked_bytes);
  j.Key("temporary_allocations").Uint(t.temporary);
  j.Key("short_lived_allocations").Uint(t.short_lived);
  j.Key("large_objects").Uint(t.large_objects);
  j.Key("large_object_bytes").Uint(t.large_object_bytes);
  j.Key("mismatched_frees").Uint(t.mismatched_frees);
  j.Key("frees_of_unknown").Uint(t.frees_of_unknown);
  j.Key("frees_unrecorded").Uint(t.frees_unrecorded);
  j.Key("inherited_frees").Uint(t.inherited_frees);
  j.Key("inherited_bytes_freed").Uint(t.inherited_bytes_freed);
  if (p.process.attached()) j.Key("frees_of_pre_attach").Uint(t.frees_of_pre_attach);
  j.Key("duration_s").Double(p.duration_s);
  j.Key("allocations_per_second").Double(p.duration_s > 0 ? t.allocations / p.duration_s : 0);
  j.Key("bytes_per_second").Double(p.duration_s > 0 ? t.bytes_allocated / p.duration_s : 0);
  j.Key("threads").Uint(p.threads);
  j.Key("events").Uint(p.events);
  j.EndObject();
}

void WriteWindow(JsonWriter& j, const ProcessReport& p) {
  const ReportWindow& w = p.window;
  j.Key("window").BeginObject();
  j.Key("active").Bool(w.active);
  j.Key("from").String(w.active ? w.from : "start");
  j.Key("to").String(w.active ? w.to : "end");
  j.Key("opened").Bool(!w.active || w.opened);
  j.Key("closed").Bool(w.closed);
  j.Key("from_s").Double(w.from_s);
  j.Key("to_s").Double(w.active ? w.to_s : p.duration_s);
  j.Key("live_allocations_at_start").Uint(p.totals.window_live_at_start);
  j.Key("live_bytes_at_start").Uint(p.totals.window_live_bytes_at_start);
  j.EndObject();
  j.Key("capture").BeginArray();
  for (const auto& c : p.captures) {
    j.BeginObject();
    j.Key("time_s").Double(c.time_s);
    j.Key("state").String(c.state);
    j.Key("reason").String(c.reason);
    j.EndObject();
  }
  j.EndArray();
}

// Only in reports of sampled traces.
void WriteSampling(JsonWriter& j, const ProcessReport& p) {
  const SamplingEstimate& s = p.sampling;
  if (!s.sampled()) return;
  j.Key("sampling").BeginObject();
  j.Key("interval_bytes").Uint(s.interval_bytes);
  j.Key("estimated").Bool(true);
  j.Key("samples").Uint(s.samples);
  j.Key("allocations_rel_error").Double(s.AllocationsRelError());
  j.Key("bytes_rel_error").Double(s.BytesRelError());
  j.EndObject();
}

void WriteByEntry(JsonWriter& j, const ProcessReport& p) {
  j.Key("by_entry_point").BeginObject();
  for (const auto& [name, cb] : p.by_entry) {
    j.Key(name).BeginObject();
    j.Key("calls").Uint(cb.first);
    j.Key("bytes").Uint(cb.second);
    j.EndObject();
  }
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

// At most this many rows of the per-collection table go into the JSON (evenly sampled).
constexpr size_t kMaxJsonCollections = 5000;

void WriteGen(JsonWriter& j, const ProcessReport& p) {
  const GenResult& g = p.gen;
  const GenParameters& q = g.parameters;
  j.Key("gen").BeginObject();
  j.Key("gen0").Uint(g.gen0);
  j.Key("gen1").Uint(g.gen1);
  j.Key("gen2").Uint(g.gen2);
  j.Key("loh_bytes").Uint(g.loh_bytes);
  j.Key("loh_allocations").Uint(g.loh_allocations);
  j.Key("soh_bytes").Uint(g.soh_bytes);
  j.Key("promoted_bytes").Uint(g.promoted_bytes);
  j.Key("peak_heap_bytes").Uint(g.peak_heap_bytes);
  j.Key("survival").BeginObject();
  j.Key("gen0").Double(g.survival.gen0);
  j.Key("gen1").Double(g.survival.gen1);
  j.Key("gen2").Double(g.survival.gen2);
  j.Key("loh").Double(g.survival.loh);
  j.EndObject();
  j.Key("collections_per_second").Double(g.collections_per_second);
  j.Key("windows").BeginArray();
  for (const auto& w : g.windows) {
    j.BeginObject();
    j.Key("start_s").Double(Seconds(w.start_ns));
    j.Key("end_s").Double(Seconds(w.end_ns));
    j.Key("gen0").Uint(w.gen0);
    j.Key("gen1").Uint(w.gen1);
    j.Key("gen2").Uint(w.gen2);
    j.Key("per_second").Double(w.per_second);
    j.EndObject();
  }
  j.EndArray();
  size_t step = (g.collections.size() + kMaxJsonCollections - 1) / kMaxJsonCollections;
  if (step == 0) step = 1;
  j.Key("collections_stride").Uint(g.collection_stride * step);
  j.Key("collections").BeginArray();
  for (size_t i = 0; i < g.collections.size(); i += step) {
    const GenCollection& c = g.collections[i];
    j.BeginObject();
    j.Key("index").Uint(c.index);
    j.Key("time_s").Double(Seconds(c.time_ns));
    j.Key("generation").Uint(static_cast<uint64_t>(c.generation));
    j.Key("loh_triggered").Bool(c.loh_triggered);
    j.Key("heap_before").Uint(c.heap_before);
    j.Key("heap_after").Uint(c.heap_after);
    j.Key("promoted_bytes").Uint(c.promoted_bytes);
    j.EndObject();
  }
  j.EndArray();
  j.Key("sawtooth").BeginObject();
  WriteSawtooth(j, g.sawtooth.found, g.sawtooth.period_s, g.sawtooth.amplitude_bytes);
  j.EndObject();
  j.Key("parameters").BeginObject();
  j.Key("llc_bytes").Uint(q.llc_bytes);
  j.Key("llc_source").String(p.llc_source);
  j.Key("gen0_budget").Uint(q.gen0_budget);
  j.Key("gen1_min").Uint(q.gen1_min);
  j.Key("gen1_max").Uint(q.gen1_max);
  j.Key("gen2_min").Uint(q.gen2_min);
  j.Key("gen2_max").Uint(q.gen2_max);
  j.Key("loh_min").Uint(q.loh_min);
  j.Key("loh_max").Uint(q.loh_max);
  j.Key("gen1_growth").BeginArray().Double(q.gen1_growth_min).Double(q.gen1_growth_max).EndArray();
  j.Key("gen2_growth").BeginArray().Double(q.gen2_growth_min).Double(q.gen2_growth_max).EndArray();
  j.Key("loh_growth").BeginArray().Double(q.loh_growth_min).Double(q.loh_growth_max).EndArray();
  j.Key("loh_threshold").Uint(q.loh_threshold);
  j.EndObject();
  j.EndObject();
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
  const AnalysisOptions& o = report.options;
  j.Key("parameters").BeginObject();
  j.Key("top_n").Uint(o.top_n);
  j.Key("windows").Uint(o.windows);
  j.Key("window_s").Double(Seconds(o.window_ns));
  j.Key("large_object_bytes").Uint(o.large_object_bytes);
  j.Key("short_lived_s").Double(Seconds(o.short_lived_ns));
  j.EndObject();

  const ProcessReport& root = report.processes.front();
  j.Key("process").BeginObject();
  WriteProcessInfo(j, root);
  j.EndObject();
  WriteTotals(j, root);
  WriteWindow(j, root);
  WriteSampling(j, root);
  WriteByEntry(j, root);
  j.Key("large_object_threshold").Uint(o.large_object_bytes);
  j.Key("size_classes").BeginArray();
  for (const auto& c : root.size_classes) {
    j.BeginObject();
    j.Key("min_bytes").Uint(c.min_bytes);
    j.Key("max_bytes").Uint(c.max_bytes);
    j.Key("calls").Uint(c.calls);
    j.Key("bytes").Uint(c.bytes);
    j.Key("call_share").Double(c.call_share);
    j.Key("byte_share").Double(c.byte_share);
    j.Key("large_object").Bool(c.large_object);
    j.EndObject();
  }
  j.EndArray();
  j.Key("stacks").BeginObject();
  WriteStacks(j, "top_by_calls", root.top_by_calls);
  WriteStacks(j, "top_by_bytes", root.top_by_bytes);
  WriteStacks(j, "top_by_peak", root.top_by_peak);
  WriteStacks(j, "leaks", root.leaks);
  j.EndObject();
  j.Key("timeline_window_s").Double(Seconds(root.window_ns));
  j.Key("timeline").BeginArray();
  for (const auto& w : root.timeline) {
    j.BeginObject();
    j.Key("start_s").Double(Seconds(w.start_ns));
    j.Key("end_s").Double(Seconds(w.end_ns));
    j.Key("live_min").Int(w.live_min);
    j.Key("live_max").Int(w.live_max);
    j.Key("live_end").Int(w.live_end);
    j.Key("allocations").Uint(w.allocations);
    j.Key("bytes_allocated").Uint(w.bytes_allocated);
    j.Key("frees").Uint(w.frees);
    j.Key("bytes_freed").Uint(w.bytes_freed);
    j.EndObject();
  }
  j.EndArray();
  j.Key("sawtooth").BeginObject();
  WriteSawtooth(j, root.sawtooth.found, root.sawtooth.period_s, root.sawtooth.amplitude_bytes);
  j.Key("correlation").Double(root.sawtooth.correlation);
  j.EndObject();
  j.Key("mismatched_frees").BeginObject();
  j.Key("count").Uint(root.totals.mismatched_frees);
  j.Key("stacks").BeginArray();
  for (const auto& m : root.mismatches) {
    j.BeginObject();
    j.Key("allocated_with").String(m.alloc_entry);
    j.Key("freed_with").String(m.free_entry);
    j.Key("count").Uint(m.count);
    WriteFrames(j, m.stack.frames);
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();

  if (root.has_gen) WriteGen(j, root);
  if (root.flame.present) {
    j.Key("flame").BeginObject();
    WriteFlameJson(j, root.flame);
    j.EndObject();
  }
  j.Key("pools").BeginArray();
  for (const auto& p : root.pools) {
    j.BeginObject();
    j.Key("name").String(p.name);
    j.Key("max_block").Uint(p.max_block);
    j.Key("slots_per_bucket").Uint(p.slots_per_bucket);
    j.Key("rents").Uint(p.rents);
    j.Key("hits").Uint(p.hits);
    j.Key("hit_rate").Double(p.rents ? static_cast<double>(p.hits) / p.rents : 0);
    WriteFallthrough(j, p.fallthrough);
    j.Key("fallthrough_bytes").Uint(p.fallthrough_bytes);
    j.Key("fallthrough_allocations").Uint(p.fallthrough_allocations);
    j.Key("dropped").BeginObject();
    j.Key("full").Uint(p.dropped_full);
    j.Key("oversize").Uint(p.dropped_oversize);
    j.EndObject();
    j.Key("buckets").BeginArray();
    for (const auto& b : p.buckets) {
      j.BeginObject();
      j.Key("size").Uint(b.size);
      j.Key("rents").Uint(b.rents);
      j.Key("hits").Uint(b.hits);
      WriteFallthrough(j, b.fallthrough);
      j.Key("dropped_full").Uint(b.dropped_full);
      j.Key("max_concurrent_rents").Uint(b.max_concurrent);
      j.EndObject();
    }
    j.EndArray();
    j.Key("top_fallthrough_stacks").BeginArray();
    for (const auto& s : p.top_fallthrough_stacks) {
      j.BeginObject();
      j.Key("rents").Uint(s.rents);
      j.Key("bytes").Uint(s.bytes);
      WriteFallthrough(j, s.by_kind);
      WriteFrames(j, s.frames);
      j.EndObject();
    }
    j.EndArray();
    j.Key("advisor").BeginObject();
    j.Key("max_block").Uint(p.advice_max_block);
    j.Key("slots_per_bucket").BeginArray();
    for (const auto& [size, slots] : p.advice_slots) {
      j.BeginObject();
      j.Key("size").Uint(size);
      j.Key("slots").Uint(slots);
      j.EndObject();
    }
    j.EndArray();
    j.Key("retained_bytes_worst_case").Uint(p.advice_retained_bytes);
    j.Key("hit_rate").Double(p.advice_hit_rate);
    j.Key("target_hit_rate").Double(report.options.pool_target_hit_rate);
    j.EndObject();
    j.EndObject();
  }
  j.EndArray();
  j.Key("marks").BeginArray();
  for (const auto& [time_s, name] : root.marks) {
    j.BeginObject();
    j.Key("time_s").Double(time_s);
    j.Key("name").String(name);
    j.EndObject();
  }
  j.EndArray();
  j.Key("counters").BeginObject();
  for (const auto& [name, n] : root.counters) j.Key(name).Uint(n);
  j.EndObject();
  j.Key("per_unit").BeginObject();
  for (const auto& [name, n] : root.counters) {
    if (n == 0) continue;
    j.Key(name).BeginObject();
    j.Key("allocations").Double(static_cast<double>(root.totals.allocations) / n);
    j.Key("bytes").Double(static_cast<double>(root.totals.bytes_allocated) / n);
    j.EndObject();
  }
  j.EndObject();

  j.Key("processes").BeginArray();
  for (const auto& p : report.processes) {
    j.BeginObject();
    WriteProcessInfo(j, p);
    WriteTotals(j, p);
    WriteWindow(j, p);
    WriteSampling(j, p);
    WriteByEntry(j, p);
    WriteStacks(j, "top_by_bytes", p.top_by_bytes);
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
