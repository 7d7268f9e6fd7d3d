#include "report/diff.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "util/hex.h"
#include "util/json_writer.h"

namespace allocprof {
namespace {

using nlohmann::json;

// Report JSON nests a few levels; a hostile file nesting thousands deep must not exhaust the stack.
constexpr int kMaxJsonDepth = 64;

struct MetricSource {
  const char* name;
  const char* section;  // top-level object
  const char* key;
  Unit unit;
};

constexpr MetricSource kMetrics[] = {
    {"allocations", "totals", "allocations", Unit::kCount},
    {"frees", "totals", "frees", Unit::kCount},
    {"bytes_allocated", "totals", "bytes_allocated", Unit::kBytes},
    {"peak_live_bytes", "totals", "peak_live_bytes", Unit::kBytes},
    {"leaked_bytes", "totals", "leaked_bytes", Unit::kBytes},
    {"temporary_allocations", "totals", "temporary_allocations", Unit::kCount},
    {"large_objects", "totals", "large_objects", Unit::kCount},
    {"large_object_bytes", "totals", "large_object_bytes", Unit::kBytes},
    {"allocations_per_second", "totals", "allocations_per_second", Unit::kPerSecond},
    {"bytes_per_second", "totals", "bytes_per_second", Unit::kBytesPerSecond},
    {"mismatched_frees", "totals", "mismatched_frees", Unit::kCount},
    {"duration_s", "totals", "duration_s", Unit::kSeconds},
    {"gen0", "gen", "gen0", Unit::kCount},
    {"gen1", "gen", "gen1", Unit::kCount},
    {"gen2", "gen", "gen2", Unit::kCount},
    {"loh_bytes", "gen", "loh_bytes", Unit::kBytes},
    {"promoted_bytes", "gen", "promoted_bytes", Unit::kBytes},
    {"collections_per_second", "gen", "collections_per_second", Unit::kPerSecond},
};

bool Number(const json& j, double* out) {
  if (!j.is_number()) return false;
  *out = j.get<double>();
  return std::isfinite(*out);
}

// "ns::Type<T>::Rent(unsigned long)" -> "Type::Rent": enough to tell frames apart in a table.
std::string ShortName(const std::string& name) {
  std::string out;
  int angle = 0, paren = 0;
  for (char c : name) {
    if (c == '<')
      ++angle;
    else if (c == '>')
      angle = angle > 0 ? angle - 1 : 0;
    else if (c == '(')
      ++paren;
    else if (c == ')')
      paren = paren > 0 ? paren - 1 : 0;
    else if (angle == 0 && paren == 0)
      out += c;
  }
  // Keep the last two scope components.
  size_t last = out.rfind("::");
  if (last != std::string::npos && last > 0) {
    size_t prev = out.rfind("::", last - 1);
    if (prev != std::string::npos) out = out.substr(prev + 2);
  }
  return out.empty() ? name : out;
}

// A frame's field, or the default when it is missing or of another type (json::value throws then).
std::string FrameString(const json& f, const char* key) {
  auto it = f.find(key);
  return it != f.end() && it->is_string() ? it->get<std::string>() : std::string();
}
uint64_t FrameUint(const json& f, const char* key) {
  auto it = f.find(key);
  return it != f.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

std::string StackKey(const json& frames, std::string* label) {
  std::vector<std::string> parts;
  label->clear();
  size_t n = 0;
  for (const auto& f : frames) {
    if (!f.is_object() || ++n > 8) break;
    std::string function = FrameString(f, "function");
    std::string module = FrameString(f, "module");
    // An unknown module keys as "+0x..." (ModuleOffset writes "0x..."): kept, so keys stay as they were.
    std::string where = ModuleOffset(module, FrameUint(f, "offset"));
    std::string text = !function.empty() ? function : module.empty() ? "+" + where : where;
    if (parts.size() < 3) {
      std::string shown = function.empty() ? text : ShortName(function);
      *label = label->empty() ? shown : absl::StrCat(*label, " < ", shown);
    }
    parts.push_back(absl::StrCat(text, "@", FrameString(f, "file"), ":", FrameUint(f, "line")));
  }
  return absl::StrJoin(parts, ";");
}

std::string Human(double v, Unit unit) {
  switch (unit) {
    case Unit::kBytes:
      return HumanBytes(v);
    case Unit::kBytesPerSecond:
      return HumanBytes(v) + "/s";
    case Unit::kPerSecond:
      return absl::StrFormat("%s/s", HumanCount(static_cast<uint64_t>(std::llround(v))));
    case Unit::kSeconds:
      return absl::StrFormat("%.3f s", v);
    case Unit::kRatio:
      return absl::StrFormat("%.1f%%", 100 * v);
    case Unit::kCount:
      return std::fabs(v - std::round(v)) < 1e-9 && v >= 0 ? HumanCount(static_cast<uint64_t>(v))
                                                           : absl::StrFormat("%.4g", v);
  }
  return "";
}

const char* OpText(Rule::Op op) {
  switch (op) {
    case Rule::Op::kGreater:
      return ">";
    case Rule::Op::kGreaterEqual:
      return ">=";
    case Rule::Op::kLess:
      return "<";
    case Rule::Op::kLessEqual:
      return "<=";
  }
  return "?";
}

}  // namespace

absl::StatusOr<DiffSide> DiffSideFromJson(const std::string& text, const std::string& source) {
  json doc;
  try {
    doc = json::parse(text, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxJsonDepth) throw std::runtime_error("nested deeper than any allocprof report");
      return true;
    });
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON report: ", e.what()));
  }
  if (!doc.is_object() || !doc.contains("schema_version")) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not an allocprof JSON report (no schema_version)"));
  }
  if (!doc["schema_version"].is_number_integer() || doc["schema_version"].get<int64_t>() != kJsonSchemaVersion) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: JSON schema_version %s is not supported (this allocprof reads %d)", source,
                        doc["schema_version"].dump(), kJsonSchemaVersion));
  }
  DiffSide side;
  side.source = source;
  // A report of part of a run says which part: the comparison shows it next to the file.
  auto active = [](const json& w) {
    auto it = w.find("active");
    return it != w.end() && it->is_boolean() && it->get<bool>();
  };
  if (auto w = doc.find("window"); w != doc.end() && w->is_object() && active(*w)) {
    auto text_of = [&](const char* key) {
      auto v = w->find(key);
      return v != w->end() && v->is_string() ? v->get<std::string>() : std::string("?");
    };
    double from_s = 0, to_s = 0;
    if (auto v = w->find("from_s"); v != w->end()) Number(*v, &from_s);
    if (auto v = w->find("to_s"); v != w->end()) Number(*v, &to_s);
    side.source =
        absl::StrFormat("%s (window %s to %s: %.3f s .. %.3f s)", source, text_of("from"), text_of("to"), from_s, to_s);
  }
  if (auto sampling = doc.find("sampling"); sampling != doc.end() && sampling->is_object()) {
    double interval = 0, count_error = 0, bytes_error = 0;
    auto get = [&](const char* key, double* v) {
      auto it = sampling->find(key);
      return it != sampling->end() && Number(*it, v);
    };
    if (get("interval_bytes", &interval) && get("allocations_rel_error", &count_error) &&
        get("bytes_rel_error", &bytes_error)) {
      side.sampling = absl::StrFormat(
          "sampled trace (--sample %s): its figures are estimates, 1 sigma: allocations %.2f%%, bytes %.2f%%",
          HumanBytes(interval), 100 * count_error, 100 * bytes_error);
    } else {
      side.sampling = "sampled trace: its figures are estimates";
    }
  }
  for (const MetricSource& m : kMetrics) {
    auto section = doc.find(m.section);
    if (section == doc.end() || !section->is_object()) continue;
    auto it = section->find(m.key);
    double v;
    if (it != section->end() && Number(*it, &v)) side.metrics[m.name] = MetricValue{v, m.unit};
  }
  // Work-unit counters: per-unit figures compare runs of different lengths fairly.
  if (auto counters = doc.find("counters"); counters != doc.end() && counters->is_object()) {
    for (const auto& [unit, value] : counters->items()) {
      double n;
      if (!Number(value, &n) || n <= 0) continue;
      side.metrics[absl::StrCat("units:", unit)] = MetricValue{n, Unit::kCount};
      for (const char* base : {"allocations", "bytes_allocated"}) {
        auto b = side.metrics.find(base);
        if (b == side.metrics.end()) continue;
        side.metrics[absl::StrCat(base == std::string("allocations") ? "allocations" : "bytes", "_per_", unit)] =
            MetricValue{b->second.value / n, b->second.unit};
      }
    }
  }
  if (auto pools = doc.find("pools"); pools != doc.end() && pools->is_array()) {
    for (const auto& p : *pools) {
      if (!p.is_object() || !p.contains("name") || !p["name"].is_string()) continue;
      std::string prefix = absl::StrCat("pool:", p["name"].get<std::string>(), ":");
      double v;
      if (p.contains("hit_rate") && Number(p["hit_rate"], &v)) side.metrics[prefix + "hit_rate"] = {v, Unit::kRatio};
      if (p.contains("rents") && Number(p["rents"], &v)) side.metrics[prefix + "rents"] = {v, Unit::kCount};
      if (p.contains("fallthrough_bytes") && Number(p["fallthrough_bytes"], &v)) {
        side.metrics[prefix + "fallthrough_bytes"] = {v, Unit::kBytes};
      }
      if (auto f = p.find("fallthrough"); f != p.end() && f->is_object()) {
        double total = 0;
        for (const auto& [kind, n] : f->items()) {
          if (Number(n, &v)) {
            total += v;
            side.metrics[prefix + "fallthrough_" + kind] = {v, Unit::kCount};
          }
        }
        side.metrics[prefix + "fallthrough"] = {total, Unit::kCount};
      }
    }
  }
  if (auto stacks = doc.find("stacks"); stacks != doc.end() && stacks->is_object()) {
    std::map<std::string, StackSummary> seen;
    for (const auto& [list, entries] : stacks->items()) {
      if (!entries.is_array()) continue;
      for (const auto& s : entries) {
        if (!s.is_object() || !s.contains("frames") || !s["frames"].is_array()) continue;
        StackSummary summary;
        summary.key = StackKey(s["frames"], &summary.label);
        // The report's own label (first frame outside the allocator, with file:line) when it has one.
        if (std::string label = FrameString(s, "label"); !label.empty()) summary.label = label;
        double v;
        if (s.contains("calls") && Number(s["calls"], &v)) summary.calls = v;
        if (s.contains("bytes") && Number(s["bytes"], &v)) summary.bytes = v;
        seen.emplace(summary.key, summary);
      }
    }
    for (auto& [key, s] : seen) side.stacks.push_back(s);
  }
  return side;
}

absl::StatusOr<DiffSide> LoadDiffSide(const std::string& path, const AnalysisOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  char magic[8] = {0};
  in.read(magic, sizeof(magic));
  if (in.gcount() == sizeof(magic) && memcmp(magic, format::kFileMagic, sizeof(magic)) == 0) {
    auto report = Analyze({path}, options, false);
    if (!report.ok()) return report.status();
    return DiffSideFromJson(RenderJson(*report), path);
  }
  in.clear();
  in.seekg(0);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > (256u << 20))
    return absl::InvalidArgumentError(absl::StrCat(path, ": too large for a JSON report"));
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') {
    return absl::InvalidArgumentError(absl::StrCat(path, ": neither an allocprof trace nor a JSON report"));
  }
  return DiffSideFromJson(text, path);
}

absl::StatusOr<Rule> ParseRule(const std::string& text) {
  size_t at = text.find_first_of("<>");
  if (at == std::string::npos || at == 0) {
    return absl::InvalidArgumentError(absl::StrCat("rule '", text, "': expected METRIC>VALUE, e.g. allocations>1.10x"));
  }
  Rule r;
  r.text = text;
  r.metric = text.substr(0, at);
  bool eq = at + 1 < text.size() && text[at + 1] == '=';
  r.op = text[at] == '>' ? (eq ? Rule::Op::kGreaterEqual : Rule::Op::kGreater)
                         : (eq ? Rule::Op::kLessEqual : Rule::Op::kLess);
  std::string value = text.substr(at + (eq ? 2 : 1));
  if (!value.empty() && (value.back() == 'x' || value.back() == 'X')) {
    r.ratio = true;
    value.pop_back();
  }
  char* end = nullptr;
  r.threshold = strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(r.threshold)) {
    return absl::InvalidArgumentError(absl::StrCat("rule '", text, "': '", value, "' is not a number"));
  }
  return r;
}

std::vector<Rule> DefaultRules() {
  std::vector<Rule> rules;
  for (const char* text : {"allocations>1.10x", "bytes_allocated>1.10x", "peak_live_bytes>1.25x", "gen2>1.50x"}) {
    rules.push_back(*ParseRule(text));
  }
  return rules;
}

std::string FormatRatio(std::optional<double> before, std::optional<double> after) {
  if (!before || !after) return before ? "gone" : after ? "new" : "—";
  if (*before == 0) return *after == 0 ? "1.00x" : "new";
  double r = *after / *before;
  return r >= 10 ? absl::StrFormat("%.1fx", r) : absl::StrFormat("%.2fx", r);
}

DiffResult Compare(const DiffSide& before, const DiffSide& after, const std::vector<Rule>& rules, size_t top_n) {
  DiffResult d;
  d.before_source = before.source;
  d.after_source = after.source;
  d.before_sampling = before.sampling;
  d.after_sampling = after.sampling;
  std::vector<std::string> order;
  for (const MetricSource& m : kMetrics) order.push_back(m.name);
  for (const auto* side : {&before, &after}) {
    for (const auto& [name, v] : side->metrics) {
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
    }
  }
  for (const std::string& name : order) {
    auto b = before.metrics.find(name), a = after.metrics.find(name);
    if (b == before.metrics.end() && a == after.metrics.end()) continue;
    DiffRow row{name, (b != before.metrics.end() ? b : a)->second.unit, std::nullopt, std::nullopt};
    if (b != before.metrics.end()) row.before = b->second.value;
    if (a != after.metrics.end()) row.after = a->second.value;
    d.rows.push_back(row);
  }

  // Work units on both sides: the volume rules compare per-unit figures.
  std::string unit;
  for (const auto& [name, v] : before.metrics) {
    if (name.rfind("units:", 0) == 0 && after.metrics.count(name)) {
      unit = name.substr(6);
      break;
    }
  }
  for (const Rule& rule : rules) {
    RuleOutcome o{rule};
    std::string metric = rule.metric;
    if (!unit.empty() && (metric == "allocations" || metric == "bytes_allocated")) {
      metric = absl::StrCat(metric == "allocations" ? "allocations" : "bytes", "_per_", unit);
      o.rule.metric = metric;
    }
    auto b = before.metrics.find(metric), a = after.metrics.find(metric);
    if (a != after.metrics.end() && (!rule.ratio || b != before.metrics.end())) {
      o.applicable = true;
      o.unit = a->second.unit;
      o.after = a->second.value;
      o.before = b != before.metrics.end() ? b->second.value : 0;
      o.compared = rule.ratio ? (o.before == 0 ? (o.after == 0 ? 1.0 : INFINITY) : o.after / o.before) : o.after;
      switch (rule.op) {
        case Rule::Op::kGreater:
          o.failed = o.compared > rule.threshold;
          break;
        case Rule::Op::kGreaterEqual:
          o.failed = o.compared >= rule.threshold;
          break;
        case Rule::Op::kLess:
          o.failed = o.compared < rule.threshold;
          break;
        case Rule::Op::kLessEqual:
          o.failed = o.compared <= rule.threshold;
          break;
      }
    }
    d.passed &= !o.failed;
    d.outcomes.push_back(o);
  }

  std::map<std::string, const StackSummary*> before_stacks;
  for (const auto& s : before.stacks) before_stacks[s.key] = &s;
  for (const auto& s : after.stacks) {
    auto it = before_stacks.find(s.key);
    if (it == before_stacks.end())
      d.added.push_back(StackChange{StackSummary{}, s});
    else if (s.bytes > it->second->bytes || s.calls > it->second->calls)
      d.grown.push_back(StackChange{*it->second, s});
  }
  auto growth = [](const StackChange& c) { return c.after.bytes - c.before.bytes; };
  std::sort(d.grown.begin(), d.grown.end(), [&](const auto& x, const auto& y) { return growth(x) > growth(y); });
  std::sort(d.added.begin(), d.added.end(), [](const auto& x, const auto& y) { return x.after.bytes > y.after.bytes; });
  if (d.grown.size() > top_n) d.grown.resize(top_n);
  if (d.added.size() > top_n) d.added.resize(top_n);
  return d;
}

std::string VerdictLine(const DiffResult& d) {
  std::vector<std::string> failed;
  size_t applied = 0;
  for (const auto& o : d.outcomes) {
    applied += o.applicable;
    if (!o.failed) continue;
    failed.push_back(o.rule.ratio ? absl::StrFormat("%s %s %s %.2fx (%s -> %s)", o.rule.metric,
                                                    FormatRatio(o.before, o.after), OpText(o.rule.op), o.rule.threshold,
                                                    Human(o.before, o.unit), Human(o.after, o.unit))
                                  : absl::StrFormat("%s = %s %s %g", o.rule.metric, Human(o.after, o.unit),
                                                    OpText(o.rule.op), o.rule.threshold));
  }
  if (failed.empty()) return absl::StrFormat("verdict: PASS (%d of %d rules applied)", applied, d.outcomes.size());
  return absl::StrCat("verdict: FAIL — ", absl::StrJoin(failed, "; "));
}

std::string RenderDiffText(const DiffResult& d) {
  std::string out = absl::StrFormat("before: %s\nafter:  %s\n", d.before_source, d.after_source);
  if (!d.before_sampling.empty()) absl::StrAppend(&out, "before: ", d.before_sampling, "\n");
  if (!d.after_sampling.empty()) absl::StrAppend(&out, "after: ", d.after_sampling, "\n");
  absl::StrAppendFormat(&out, "\n%-34s %16s %16s %10s\n", "metric", "before", "after", "ratio");
  for (const auto& r : d.rows) {
    absl::StrAppendFormat(&out, "%-34s %16s %16s %10s\n", r.metric, r.before ? Human(*r.before, r.unit) : "-",
                          r.after ? Human(*r.after, r.unit) : "-", FormatRatio(r.before, r.after));
  }
  if (!d.grown.empty()) {
    absl::StrAppend(&out, "\nStacks that grew most (bytes)\n");
    for (const auto& c : d.grown) {
      absl::StrAppendFormat(&out, "  %s -> %s (%s)  %s\n", HumanBytes(c.before.bytes), HumanBytes(c.after.bytes),
                            FormatRatio(c.before.bytes, c.after.bytes), c.after.label);
    }
  }
  if (!d.added.empty()) {
    absl::StrAppend(&out, "\nNew stacks (not in before's top lists)\n");
    for (const auto& c : d.added) {
      absl::StrAppendFormat(&out, "  %s in %s  %s\n", HumanBytes(c.after.bytes),
                            HumanCountOf(static_cast<uint64_t>(c.after.calls), "call", "calls"), c.after.label);
    }
  }
  absl::StrAppend(&out, "\n", VerdictLine(d), "\n");
  return out;
}

std::string RenderDiffMarkdown(const DiffResult& d) {
  auto cell = [](std::string s) {
    for (char& c : s) {
      if (c == '|' || c == '\n') c = ' ';
    }
    return s;
  };
  std::string out = absl::StrFormat(
      "**allocprof diff** — before `%s`, after `%s`\n\n| metric | before | after | ratio |\n|---|---:|---:|---:|\n",
      cell(d.before_source), cell(d.after_source));
  using Note = std::pair<const char*, const std::string*>;
  for (const auto& [side, note] : {Note{"before", &d.before_sampling}, Note{"after", &d.after_sampling}}) {
    if (!note->empty()) absl::StrAppend(&out, "_", side, ": ", cell(*note), "_\n\n");
  }
  for (const auto& r : d.rows) {
    absl::StrAppendFormat(&out, "| %s | %s | %s | **%s** |\n", cell(r.metric),
                          r.before ? Human(*r.before, r.unit) : "–", r.after ? Human(*r.after, r.unit) : "–",
                          FormatRatio(r.before, r.after));
  }
  if (!d.grown.empty() || !d.added.empty()) {
    absl::StrAppend(&out, "\n| stack | before | after | change |\n|---|---:|---:|---:|\n");
    for (const auto& c : d.grown) {
      absl::StrAppendFormat(&out, "| `%s` | %s | %s | %s |\n", cell(c.after.label), HumanBytes(c.before.bytes),
                            HumanBytes(c.after.bytes), FormatRatio(c.before.bytes, c.after.bytes));
    }
    for (const auto& c : d.added) {
      absl::StrAppendFormat(&out, "| `%s` | – | %s | new |\n", cell(c.after.label), HumanBytes(c.after.bytes));
    }
  }
  absl::StrAppend(&out, "\n", d.passed ? "✅ " : "❌ ", VerdictLine(d), "\n");
  return out;
}

std::string RenderDiffJson(const DiffResult& d) {
  JsonWriter j;
  j.BeginObject();
  j.Key("schema_version").Uint(kJsonSchemaVersion);
  j.Key("before").String(d.before_source);
  j.Key("after").String(d.after_source);
  if (!d.before_sampling.empty() || !d.after_sampling.empty()) {
    j.Key("sampling").BeginObject();
    j.Key("before");
    d.before_sampling.empty() ? j.Null() : j.String(d.before_sampling);
    j.Key("after");
    d.after_sampling.empty() ? j.Null() : j.String(d.after_sampling);
    j.EndObject();
  }
  j.Key("metrics").BeginObject();
  for (const auto& r : d.rows) {
    j.Key(r.metric).BeginObject();
    j.Key("before");
    r.before ? j.Double(*r.before) : j.Null();
    j.Key("after");
    r.after ? j.Double(*r.after) : j.Null();
    j.Key("ratio");
    r.before&& r.after&&* r.before != 0 ? j.Double(*r.after / *r.before) : j.Null();
    j.EndObject();
  }
  j.EndObject();
  j.Key("rules").BeginArray();
  for (const auto& o : d.outcomes) {
    j.BeginObject();
    j.Key("rule").String(o.rule.text);
    j.Key("metric").String(o.rule.metric);
    j.Key("applied").Bool(o.applicable);
    j.Key("failed").Bool(o.failed);
    j.Key("before").Double(o.before);
    j.Key("after").Double(o.after);
    j.Key("compared").Double(o.compared);
    j.EndObject();
  }
  j.EndArray();
  auto stacks = [&](const char* key, const std::vector<StackChange>& list) {
    j.Key(key).BeginArray();
    for (const auto& c : list) {
      j.BeginObject();
      j.Key("stack").String(c.after.label);
      j.Key("before_bytes").Double(c.before.bytes);
      j.Key("after_bytes").Double(c.after.bytes);
      j.Key("before_calls").Double(c.before.calls);
      j.Key("after_calls").Double(c.after.calls);
      j.EndObject();
    }
    j.EndArray();
  };
  stacks("grown_stacks", d.grown);
  stacks("new_stacks", d.added);
  j.Key("passed").Bool(d.passed);
  j.Key("verdict").String(VerdictLine(d));
  j.EndObject();
  return j.str() + "\n";
}

}  // namespace allocprof
