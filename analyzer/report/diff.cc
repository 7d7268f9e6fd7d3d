#include "report/diff.h"

#include <string.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "util/hex.h"
#include "util/json_writer.h"
#include "util/text_file.h"

namespace allocprof {
namespace {

using nlohmann::json;

// Report JSON nests a few levels; a hostile file nesting thousands deep must not exhaust the stack.
constexpr int kMaxJsonDepth = 64;

struct MetricSource {
  const char* name;     // what rules and JSON call it
  const char* label;    // what a reader sees in the tables
  const char* section;  // top-level object
  const char* key;
  Unit unit;
  bool gen;  // a figure of the Gen model: shown only when the model collected at least once
};

constexpr MetricSource kMetrics[] = {
    {"allocations", "allocations", "totals", "allocations", Unit::kCount, false},
    {"frees", "frees", "totals", "frees", Unit::kCount, false},
    {"bytes_allocated", "bytes allocated", "totals", "bytes_allocated", Unit::kBytes, false},
    {"peak_live_bytes", "peak live heap", "totals", "peak_live_bytes", Unit::kBytes, false},
    {"leaked_bytes", "live at end (leaks)", "totals", "leaked_bytes", Unit::kBytes, false},
    {"temporary_allocations", "temporary allocations", "totals", "temporary_allocations", Unit::kCount, false},
    {"large_objects", "large objects", "totals", "large_objects", Unit::kCount, false},
    {"large_object_bytes", "large-object bytes", "totals", "large_object_bytes", Unit::kBytes, false},
    {"allocations_per_second", "allocations per second", "totals", "allocations_per_second", Unit::kPerSecond, false},
    {"bytes_per_second", "bytes allocated per second", "totals", "bytes_per_second", Unit::kBytesPerSecond, false},
    {"mismatched_frees", "mismatched frees", "totals", "mismatched_frees", Unit::kCount, false},
    {"duration_s", "duration", "totals", "duration_s", Unit::kSeconds, false},
    {"gen0", "Gen0 collections", "gen", "gen0", Unit::kCount, true},
    {"gen1", "Gen1 collections", "gen", "gen1", Unit::kCount, true},
    {"gen2", "Gen2 collections", "gen", "gen2", Unit::kCount, true},
    {"loh_bytes", "large-object heap bytes", "gen", "loh_bytes", Unit::kBytes, false},
    {"promoted_bytes", "bytes promoted (Gen model)", "gen", "promoted_bytes", Unit::kBytes, true},
    {"collections_per_second", "collections per second", "gen", "collections_per_second", Unit::kPerSecond, true},
};

// A pool's figures: pool:NAME:FIELD.
struct PoolField {
  const char* field;
  const char* label;
};
constexpr PoolField kPoolFields[] = {
    {"rents", "rents"},
    {"hit_rate", "hit rate"},
    {"fallthrough", "fall-throughs"},
    {"fallthrough_oversize", "fall-throughs (oversize)"},
    {"fallthrough_exhausted", "fall-throughs (exhausted)"},
    {"fallthrough_fill", "fall-throughs (fill)"},
    {"fallthrough_bytes", "bytes fallen through"},
};

const MetricSource* FindMetric(const std::string& name) {
  for (const MetricSource& m : kMetrics) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

// The unit of a per-unit figure ("allocations_per_messages" -> "messages"; *what = "allocations_per_").
std::string PerUnitOf(const std::string& name, const char** what) {
  for (const char* base : {"allocations_per_", "bytes_per_"}) {
    if (name.rfind(base, 0) == 0 && name != "allocations_per_second" && name != "bytes_per_second") {
      *what = base;
      return name.substr(strlen(base));
    }
  }
  return "";
}

// "messages" -> "message": counter names are usually plural nouns.
std::string Singular(std::string unit) {
  if (unit.size() > 3 && unit.back() == 's' && unit[unit.size() - 2] != 's') unit.pop_back();
  return unit;
}

// Levenshtein distance, for "did you mean".
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

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
  // Which program the figures are of, so the other side of a run can be matched by command.
  if (auto proc = doc.find("process"); proc != doc.end() && proc->is_object()) {
    ProcessInfo info;
    if (auto v = proc->find("command_line"); v != proc->end() && v->is_string())
      info.command_line = v->get<std::string>();
    if (auto v = proc->find("exe"); v != proc->end() && v->is_string()) info.exe = v->get<std::string>();
    side.command = CommandName(info);
  }
  // A report of one process of a run says which, and how it was picked.
  if (auto run = doc.find("run"); run != doc.end() && run->is_object()) {
    auto procs = run->find("processes");
    auto reported = run->find("reported");
    auto because = run->find("reported_because");
    if (procs != run->end() && procs->is_array() && reported != run->end() && reported->is_number_unsigned() &&
        reported->get<uint64_t>() < procs->size() && because != run->end() && because->is_string()) {
      const json& p = (*procs)[reported->get<uint64_t>()];
      auto str = [&](const char* key) {
        auto v = p.find(key);
        return v != p.end() && v->is_string() ? v->get<std::string>() : std::string("?");
      };
      auto pid = p.find("pid");
      side.source =
          absl::StrFormat("%s: pid %s %s (%s) of %d processes, %s", source, pid != p.end() ? pid->dump() : "?",
                          str("command"), str("file"), procs->size(), because->get<std::string>());
    }
  }
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
  // Damage: the report lists it in "process"; a report without the key says at least whether it
  // has its end record.
  if (auto process = doc.find("process"); process != doc.end() && process->is_object()) {
    if (auto damage = process->find("damage"); damage != process->end() && damage->is_array()) {
      for (const auto& d : *damage) {
        std::string message = d.is_object() ? FrameString(d, "message") : std::string();
        if (!message.empty()) side.damage.push_back(message);
      }
    } else if (auto ended = process->find("ended_cleanly");
               ended != process->end() && ended->is_boolean() && !ended->get<bool>()) {
      side.damage.push_back(absl::StrCat(source, ": the trace has no end record: the process was killed"));
    }
  }
  // A sampled report writes null for what it cannot estimate (a whole section, or one figure).
  for (const MetricSource& m : kMetrics) {
    if (side.sampling.empty()) break;
    auto section = doc.find(m.section);
    bool null_figure =
        section != doc.end() &&
        (section->is_null() || (section->is_object() && section->contains(m.key) && (*section)[m.key].is_null()));
    if (null_figure || !IsEstimableWhenSampling(m.name)) side.unavailable.insert(m.name);
  }
  for (const MetricSource& m : kMetrics) {
    auto section = doc.find(m.section);
    if (section == doc.end() || !section->is_object()) continue;
    auto it = section->find(m.key);
    double v;
    if (it != section->end() && Number(*it, &v)) {
      // A sampled report gives an estimate's 1 sigma beside it (`allocations_sigma`).
      double sigma = 0;
      auto s = section->find(absl::StrCat(m.key, "_sigma"));
      if (s == section->end() || !Number(*s, &sigma) || sigma < 0) sigma = 0;
      double upper = 0;
      auto u = section->find(absl::StrCat(m.key, "_upper_95"));
      if (v != 0 || u == section->end() || !Number(*u, &upper) || upper < 0) upper = 0;
      side.metrics[m.name] = MetricValue{v, m.unit, sigma, upper};
    }
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
            MetricValue{b->second.value / n, b->second.unit, b->second.sigma / n};  // the units are exact
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
      } else if (!side.sampling.empty()) {
        side.unavailable.insert(prefix + "fallthrough_bytes");
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
        if (s.contains("calls_sigma") && Number(s["calls_sigma"], &v) && v > 0) summary.calls_sigma = v;
        if (s.contains("bytes_sigma") && Number(s["bytes_sigma"], &v) && v > 0) summary.bytes_sigma = v;
        seen.emplace(summary.key, summary);
      }
    }
    for (auto& [key, s] : seen) side.stacks.push_back(s);
  }
  return side;
}

absl::StatusOr<DiffSide> LoadDiffSide(const std::string& path, const AnalysisOptions& options,
                                      const RunSelection& selection) {
  if (StartsWithTraceMagic(path)) {
    auto report = AnalyzeRun({path}, selection, options, false);
    if (!report.ok()) return report.status();
    return DiffSideFromJson(RenderJson(*report), path);
  }
  std::string text;
  if (!ReadWholeFile(path, &text)) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  if (text.size() > (256u << 20))
    return absl::InvalidArgumentError(absl::StrCat(path, ": too large for a JSON report"));
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') {
    return absl::InvalidArgumentError(absl::StrCat(path, ": neither an allocprof trace nor a JSON report"));
  }
  return DiffSideFromJson(text, path);
}

namespace {

// A rule's figure: the after/before ratio (1 when both are 0) or the after value.
double Compared(const Rule& rule, double before, double after) {
  return rule.ratio ? (before == 0 ? (after == 0 ? 1.0 : INFINITY) : after / before) : after;
}

bool Fails(const Rule& rule, double compared) {
  switch (rule.op) {
    case Rule::Op::kGreater:
      return compared > rule.threshold;
    case Rule::Op::kGreaterEqual:
      return compared >= rule.threshold;
    case Rule::Op::kLess:
      return compared < rule.threshold;
    case Rule::Op::kLessEqual:
      return compared <= rule.threshold;
  }
  return false;
}

}  // namespace

bool IsEstimableWhenSampling(const std::string& metric) {
  if (const MetricSource* m = FindMetric(metric)) {
    return m->section != std::string("gen") && metric != "temporary_allocations" && metric != "peak_live_bytes";
  }
  return !(metric.rfind("pool:", 0) == 0 && absl::EndsWith(metric, ":fallthrough_bytes"));
}

bool UnavailableWhenSampling(const DiffSide& side, const std::string& metric) {
  return !side.sampling.empty() && (side.unavailable.count(metric) || !IsEstimableWhenSampling(metric));
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

std::string MetricLabel(const std::string& name) {
  if (const MetricSource* m = FindMetric(name)) return m->label;
  const char* what = nullptr;
  std::string unit = PerUnitOf(name, &what);
  if (!unit.empty()) {
    return absl::StrCat(what == std::string("bytes_per_") ? "bytes allocated" : "allocations", " per ", Singular(unit));
  }
  if (name.rfind("units:", 0) == 0) return absl::StrCat(name.substr(6), " (work units)");
  if (name.rfind("pool:", 0) == 0) {
    size_t colon = name.rfind(':');
    std::string field = name.substr(colon + 1);
    for (const PoolField& f : kPoolFields) {
      if (field == f.field) return absl::StrCat("pool ", name.substr(5, colon - 5), ": ", f.label);
    }
  }
  return name;
}

std::vector<std::pair<std::string, std::string>> KnownMetrics(const DiffSide* before, const DiffSide* after) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const MetricSource& m : kMetrics) out.push_back({m.name, m.label});
  std::vector<std::string> units, pools;
  for (const DiffSide* side : {before, after}) {
    if (!side) continue;
    for (const auto& [name, v] : side->metrics) {
      if (name.rfind("units:", 0) == 0) units.push_back(name.substr(6));
      if (name.rfind("pool:", 0) == 0) pools.push_back(name.substr(5, name.rfind(':') - 5));
    }
  }
  auto unique = [](std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  unique(units);
  unique(pools);
  for (const auto& u : units) {
    for (const std::string& name :
         {absl::StrCat("units:", u), absl::StrCat("allocations_per_", u), absl::StrCat("bytes_per_", u)}) {
      out.push_back({name, MetricLabel(name)});
    }
  }
  for (const auto& pool : pools) {
    for (const PoolField& f : kPoolFields) {
      std::string name = absl::StrCat("pool:", pool, ":", f.field);
      out.push_back({name, MetricLabel(name)});
    }
  }
  return out;
}

std::string ListMetricsText(const DiffSide* before, const DiffSide* after) {
  std::string out = "Metrics a rule can name (METRIC>1.10x: ratio after/before; METRIC>5: after's value):\n";
  for (const auto& [name, label] : KnownMetrics(before, after)) {
    absl::StrAppendFormat(&out, "  %-34s %s\n", name, label);
  }
  std::vector<std::string> fields;
  for (const PoolField& f : kPoolFields) fields.push_back(f.field);
  absl::StrAppend(&out,
                  "Per work unit, when the program calls allocprof_count(UNIT, n): allocations_per_UNIT, "
                  "bytes_per_UNIT, units:UNIT\n");
  absl::StrAppend(&out, "Per pool: pool:NAME:FIELD, FIELD one of ", absl::StrJoin(fields, ", "), "\n");
  if (before || after) {
    std::vector<std::string> pools;
    for (const DiffSide* side : {before, after}) {
      if (!side) continue;
      for (const auto& [name, v] : side->metrics) {
        if (name.rfind("pool:", 0) != 0) continue;
        std::string pool = name.substr(5, name.rfind(':') - 5);
        if (std::find(pools.begin(), pools.end(), pool) == pools.end()) pools.push_back(pool);
      }
    }
    absl::StrAppend(&out, "Pools in the inputs: ", pools.empty() ? "none" : absl::StrJoin(pools, ", "), "\n");
  }
  return out;
}

absl::Status CheckRule(const Rule& rule, const DiffSide* before, const DiffSide* after) {
  const std::string& m = rule.metric;
  bool sides = before || after;
  if (FindMetric(m)) return absl::OkStatus();
  auto known = KnownMetrics(before, after);
  for (const auto& [name, label] : known) {
    if (name == m) return absl::OkStatus();
  }
  std::string why;
  const char* what = nullptr;
  if (m.rfind("pool:", 0) == 0) {
    size_t colon = m.rfind(':');
    std::string field = colon > 4 ? m.substr(colon + 1) : "";
    bool field_ok = std::any_of(std::begin(kPoolFields), std::end(kPoolFields),
                                [&](const PoolField& f) { return field == f.field; });
    if (colon <= 5 || !field_ok) {
      why = absl::StrCat("'", m, "' is not pool:NAME:FIELD with a known FIELD");
    } else if (!sides) {
      return absl::OkStatus();  // the pools are known once the inputs are read
    } else {
      why = absl::StrCat("no pool named '", m.substr(5, colon - 5), "' in either input");
    }
  } else if ((m.rfind("units:", 0) == 0 && m.size() > 6) || !PerUnitOf(m, &what).empty()) {
    if (!sides) return absl::OkStatus();
    why = absl::StrCat("neither input counts the work unit of '", m, "'");
  } else {
    why = absl::StrCat("no metric named '", m, "'");
    std::string best;
    size_t best_distance = 4;
    for (const auto& [name, label] : known) {
      size_t dist = EditDistance(m, name);
      if (dist < best_distance) best_distance = dist, best = name;
    }
    if (!best.empty()) absl::StrAppend(&why, " (did you mean '", best, "'?)");
  }
  return absl::InvalidArgumentError(absl::StrCat("rule '", rule.text, "': ", why));
}

namespace {

bool Zero(std::optional<double> v) { return !v || *v == 0; }

// Which rows a reader needs, and which of them deserve attention.
void MarkRows(DiffResult& d) {
  bool collected = false;  // the Gen model collected at least once, on either side
  for (const auto& r : d.rows) {
    bool gen = r.metric == "gen0" || r.metric == "gen1" || r.metric == "gen2";
    if (gen && (!Zero(r.before) || !Zero(r.after))) collected = true;
  }
  for (auto& r : d.rows) {
    r.label = MetricLabel(r.metric);
    const MetricSource* m = FindMetric(r.metric);
    bool failed = false;
    for (const auto& o : d.outcomes) failed |= o.failed && o.rule.metric == r.metric;
    bool unavailable = r.before_unavailable || r.after_unavailable;
    r.shown = failed || (!(Zero(r.before) && Zero(r.after)) && !(m && m->gen && !collected)) ||
              (unavailable && !(m && m->section == std::string("gen")));
    bool far;
    if (unavailable) {
      far = false;
    } else if (r.before && r.after) {
      far = *r.before == 0 ? *r.after != 0 : std::fabs(*r.after / *r.before - 1) > 0.10 + 1e-9;
    } else {
      far = r.before.has_value() != r.after.has_value();
    }
    r.notable = failed || far;
  }
}

}  // namespace

std::string FormatRatio(std::optional<double> before, std::optional<double> after) {
  if (!before || !after) return before ? "gone" : after ? "new" : "—";
  if (*before == 0) return *after == 0 ? "1.00x" : "new";
  double r = *after / *before;
  return r >= 10 ? absl::StrFormat("%.1fx", r) : absl::StrFormat("%.2fx", r);
}

DiffResult Compare(const DiffSide& before, const DiffSide& after, const std::vector<Rule>& rules, size_t top_n,
                   bool allow_damaged) {
  DiffResult d;
  d.before_source = before.source;
  d.after_source = after.source;
  d.before_sampling = before.sampling;
  d.after_sampling = after.sampling;
  d.before_damage = before.damage;
  d.after_damage = after.damage;
  d.withheld = d.damaged() && !allow_damaged;
  std::vector<std::string> order;
  for (const MetricSource& m : kMetrics) order.push_back(m.name);
  for (const auto* side : {&before, &after}) {
    for (const auto& [name, v] : side->metrics) {
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
    }
  }
  for (const std::string& name : order) {
    auto b = before.metrics.find(name), a = after.metrics.find(name);
    bool before_na = UnavailableWhenSampling(before, name), after_na = UnavailableWhenSampling(after, name);
    if (b == before.metrics.end() && a == after.metrics.end() && !before_na && !after_na) continue;
    DiffRow row;
    row.metric = name;
    row.before_unavailable = before_na;
    row.after_unavailable = after_na;
    const MetricSource* source = FindMetric(name);
    row.unit = b != before.metrics.end()  ? b->second.unit
               : a != after.metrics.end() ? a->second.unit
               : source                   ? source->unit
                                          : Unit::kCount;
    if (b != before.metrics.end()) row.before = b->second.value, row.before_sigma = b->second.sigma;
    if (a != after.metrics.end()) row.after = a->second.value, row.after_sigma = a->second.sigma;
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
    RuleOutcome o;
    o.rule = rule;
    std::string metric = rule.metric;
    if (!unit.empty() && (metric == "allocations" || metric == "bytes_allocated")) {
      metric = absl::StrCat(metric == "allocations" ? "allocations" : "bytes", "_per_", unit);
      o.rule.metric = metric;
    }
    auto b = before.metrics.find(metric), a = after.metrics.find(metric);
    // A sampled side that cannot give the figure: the rule is listed as not applied, never passed.
    bool before_na = rule.ratio && UnavailableWhenSampling(before, metric);
    bool after_na = UnavailableWhenSampling(after, metric);
    if (before_na || after_na) {
      o.not_applied = absl::StrCat(MetricLabel(metric), ": ", kNotAvailableWhenSampling, " (",
                                   before_na && after_na ? "before, after"
                                   : before_na           ? "before"
                                                         : "after",
                                   ")");
    } else if (a != after.metrics.end() && (!rule.ratio || b != before.metrics.end())) {
      o.applicable = true;
      o.unit = a->second.unit;
      o.after = a->second.value;
      o.before = b != before.metrics.end() ? b->second.value : 0;
      o.compared = Compared(rule, o.before, o.after);
      o.failed = Fails(rule, o.compared);
      // A sampled side's figure is an estimate: how sure is the verdict on it?
      double after_sigma = a->second.sigma, before_sigma = b != before.metrics.end() ? b->second.sigma : 0;
      if (!rule.ratio) {
        o.compared_sigma = after_sigma;
      } else if (o.before > 0 && o.after > 0 && std::isfinite(o.compared)) {
        o.compared_sigma = o.compared * std::hypot(after_sigma / o.after, before_sigma / o.before);
      }
      o.within_noise = o.compared_sigma > 0 && std::fabs(o.compared - rule.threshold) < 2 * o.compared_sigma;
      // A sampled 0 with nothing recorded is no exact 0: the figure may be anywhere below its bound.
      double before_upper = rule.ratio && b != before.metrics.end() ? b->second.upper_95 : 0;
      double after_upper = a->second.upper_95;
      if (after_upper > 0 && Fails(rule, Compared(rule, o.before, after_upper)) != o.failed) {
        o.sampled_zero_upper_95 = after_upper, o.sampled_zero_side = "after";
      } else if (before_upper > 0 && Fails(rule, Compared(rule, before_upper, o.after)) != o.failed) {
        o.sampled_zero_upper_95 = before_upper, o.sampled_zero_side = "before";
      }
    }
    d.passed &= !o.failed;
    d.outcomes.push_back(o);
  }
  if (d.withheld) d.passed = false;
  MarkRows(d);

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

namespace {

// "after (b.trace)", "before (a.trace) and after (b.trace)".
std::string DamagedSides(const DiffResult& d) {
  std::vector<std::string> sides;
  if (!d.before_damage.empty()) sides.push_back(absl::StrCat("before (", d.before_source, ")"));
  if (!d.after_damage.empty()) sides.push_back(absl::StrCat("after (", d.after_source, ")"));
  return absl::StrJoin(sides, " and ");
}

std::vector<std::string> DamageLines(const DiffResult& d) {
  std::vector<std::string> lines = d.before_damage;
  lines.insert(lines.end(), d.after_damage.begin(), d.after_damage.end());
  return lines;
}

// An estimate's 1 sigma in the figure's unit: " ± 1,234", " ± 1.2 MiB"; "" when exact.
std::string PlusMinus(double sigma, Unit unit) {
  if (!(sigma > 0)) return "";
  if (unit == Unit::kCount) {
    return absl::StrCat(
        " ± ", sigma >= 1 ? HumanCount(static_cast<uint64_t>(std::llround(sigma))) : absl::StrFormat("%.2g", sigma));
  }
  if (sigma < 1 && (unit == Unit::kBytes || unit == Unit::kBytesPerSecond)) {  // per unit: "± 0.5 B"
    return absl::StrFormat(" ± %.2g B%s", sigma, unit == Unit::kBytesPerSecond ? "/s" : "");
  }
  return absl::StrCat(" ± ", Human(sigma, unit));
}

// A ratio's 1 sigma: " ± 0.05x".
std::string PlusMinusRatio(double sigma) { return sigma > 0 ? absl::StrFormat(" ± %.2fx", sigma) : ""; }

// A figure from a damaged side is marked: it may be wrong. A sampled side's carries its 1 sigma.
std::string Value(std::optional<double> v, Unit unit, bool damaged, const char* missing, double sigma = 0) {
  if (!v) return missing;
  std::string text = absl::StrCat(Human(*v, unit), PlusMinus(sigma, unit));
  return damaged ? absl::StrCat(text, " !") : text;
}

// "allocations>1.10x: 1.08x ± 0.06x lies within 2 sigma of the threshold (passed on the estimate;
// another sampling could fail it)": a rule a sampled side cannot decide.
std::string NoiseLine(const RuleOutcome& o) {
  std::string compared = o.rule.ratio ? absl::StrFormat("%.2fx%s", o.compared, PlusMinusRatio(o.compared_sigma))
                                      : absl::StrCat(Human(o.compared, o.unit), PlusMinus(o.compared_sigma, o.unit));
  return absl::StrFormat("%s: %s lies within 2 sigma of the threshold (%s on the estimate; another sampling could %s)",
                         o.rule.text, compared, o.failed ? "failed" : "passed", o.failed ? "pass it" : "fail it");
}

// "large_objects<=0: after's 0 has none recorded, and may hide up to 3 at 95% (passed on what was
// recorded; another sampling could fail it)": a rule that turns on a sampled 0.
std::string SampledZeroLine(const RuleOutcome& o) {
  return absl::StrFormat(
      "%s: %s's 0 has none recorded, and may hide up to %s at 95%% (%s on what was recorded; another sampling could "
      "%s)",
      o.rule.text, o.sampled_zero_side, Human(o.sampled_zero_upper_95, o.unit), o.failed ? "failed" : "passed",
      o.failed ? "pass it" : "fail it");
}

// Stacks from a sampled side: bytes with their 1 sigma.
// A stack's growth lies within 2 sigma of none (a sampled side's noise could make it).
bool GrowthWithinNoise(const StackChange& c) {
  double sigma = std::hypot(c.before.bytes_sigma, c.after.bytes_sigma);
  return sigma > 0 && c.after.bytes - c.before.bytes < 2 * sigma;
}

std::string StackBytes(const StackSummary& s) {
  return absl::StrCat(HumanBytes(s.bytes), PlusMinus(s.bytes_sigma, Unit::kBytes));
}

// The ratio column: "—" when a side cannot give the figure.
std::string RowRatio(const DiffRow& r) {
  return r.before_unavailable || r.after_unavailable ? "—" : FormatRatio(r.before, r.after);
}

}  // namespace

std::string VerdictLine(const DiffResult& d) {
  if (d.withheld) {
    return absl::StrCat("verdict: WITHHELD — ", DamagedSides(d),
                        d.before_damage.empty() || d.after_damage.empty() ? " is" : " are",
                        " damaged, so figures may be wrong (lost frees read as leaks and raise the peak); "
                        "--allow-damaged compares anyway");
  }
  std::vector<std::string> failed;
  size_t applied = 0;
  for (const auto& o : d.outcomes) {
    applied += o.applicable;
    if (!o.failed) continue;
    std::string label = MetricLabel(o.rule.metric);
    std::string noise = o.within_noise                 ? " (within 2 sigma of the threshold)"
                        : !o.sampled_zero_side.empty() ? " (on a sampled 0 with none recorded)"
                                                       : "";
    failed.push_back(o.rule.ratio ? absl::StrFormat("%s %s %s %.2fx (%s -> %s)%s", label,
                                                    FormatRatio(o.before, o.after), OpText(o.rule.op), o.rule.threshold,
                                                    Human(o.before, o.unit), Human(o.after, o.unit), noise)
                                  : absl::StrFormat("%s = %s %s %g%s", label, Human(o.after, o.unit), OpText(o.rule.op),
                                                    o.rule.threshold, noise));
  }
  size_t noisy = 0, on_zero = 0;
  for (const auto& o : d.outcomes) noisy += o.within_noise && !o.failed;
  for (const auto& o : d.outcomes) on_zero += !o.within_noise && !o.sampled_zero_side.empty() && !o.failed;
  std::string damaged = d.damaged() ? absl::StrCat(" on damaged input (", DamagedSides(d), ")") : "";
  size_t not_applied = 0;
  for (const auto& o : d.outcomes) not_applied += !o.not_applied.empty();
  std::string unavailable =
      not_applied ? absl::StrCat("; ", not_applied, " not applied: not available when sampling") : "";
  if (failed.empty()) {
    std::string within = absl::StrCat(noisy ? absl::StrCat("; ", noisy, " within 2 sigma of the threshold") : "",
                                      on_zero ? absl::StrCat("; ", on_zero, " on a sampled 0 with none recorded") : "");
    return absl::StrFormat("verdict: PASS%s (%d of %s applied%s%s)", damaged, applied,
                           HumanCountOf(d.outcomes.size(), "rule", "rules"), unavailable, within);
  }
  return absl::StrCat("verdict: FAIL", damaged, " — ", absl::StrJoin(failed, "; "));
}

std::string RenderDiffText(const DiffResult& d) {
  std::string out;
  if (d.damaged()) {
    absl::StrAppend(&out, "DAMAGED INPUT: ", DamagedSides(d), "\n");
    for (const auto& line : DamageLines(d)) absl::StrAppend(&out, "  ! ", line, "\n");
  }
  absl::StrAppend(&out, VerdictLine(d), "\n");
  for (const auto& o : d.outcomes) {
    if (!o.not_applied.empty()) absl::StrAppend(&out, "  not applied: ", o.rule.text, " — ", o.not_applied, "\n");
    if (o.within_noise) absl::StrAppend(&out, "  within noise: ", NoiseLine(o), "\n");
    if (!o.sampled_zero_side.empty()) absl::StrAppend(&out, "  sampled 0: ", SampledZeroLine(o), "\n");
  }
  absl::StrAppend(&out, "\n");
  const char* marked = " (damaged: its figures are marked !)";
  absl::StrAppendFormat(&out, "before: %s%s\nafter:  %s%s\n", d.before_source, d.before_damage.empty() ? "" : marked,
                        d.after_source, d.after_damage.empty() ? "" : marked);
  if (!d.before_sampling.empty()) absl::StrAppend(&out, "before: ", d.before_sampling, "\n");
  if (!d.after_sampling.empty()) absl::StrAppend(&out, "after: ", d.after_sampling, "\n");
  if (d.withheld) return out;
  // A sampled side's values carry their 1 sigma: wider columns.
  int width = std::any_of(d.rows.begin(), d.rows.end(),
                          [](const DiffRow& r) { return r.shown && (r.before_sigma > 0 || r.after_sigma > 0); })
                  ? 28
                  : 16;
  absl::StrAppendFormat(&out, "\n%-34s %*s %*s %10s\n", "", width, "before", width, "after", "ratio");
  for (const auto& r : d.rows) {
    if (!r.shown) continue;
    absl::StrAppendFormat(
        &out, "%-34s %*s %*s %10s\n", r.label, width,
        r.before_unavailable ? "n/a" : Value(r.before, r.unit, !d.before_damage.empty(), "-", r.before_sigma), width,
        r.after_unavailable ? "n/a" : Value(r.after, r.unit, !d.after_damage.empty(), "-", r.after_sigma), RowRatio(r));
  }
  if (std::any_of(d.rows.begin(), d.rows.end(),
                  [](const DiffRow& r) { return r.shown && (r.before_unavailable || r.after_unavailable); })) {
    absl::StrAppend(&out, "(n/a: ", kNotAvailableWhenSampling, ")\n");
  }
  if (!d.grown.empty()) {
    absl::StrAppend(&out, "\nStacks that grew most (bytes)\n");
    for (const auto& c : d.grown) {
      absl::StrAppendFormat(&out, "  %s -> %s (%s)%s  %s\n", StackBytes(c.before), StackBytes(c.after),
                            FormatRatio(c.before.bytes, c.after.bytes), GrowthWithinNoise(c) ? ", within 2 sigma" : "",
                            c.after.label);
    }
  }
  if (!d.added.empty()) {
    absl::StrAppend(&out, "\nNew stacks (not in before's top lists)\n");
    for (const auto& c : d.added) {
      std::string calls = c.after.calls_sigma > 0 ? absl::StrCat(HumanCount(static_cast<uint64_t>(c.after.calls)),
                                                                 PlusMinus(c.after.calls_sigma, Unit::kCount), " calls")
                                                  : HumanCountOf(static_cast<uint64_t>(c.after.calls), "call", "calls");
      absl::StrAppendFormat(&out, "  %s in %s  %s\n", StackBytes(c.after), calls, c.after.label);
    }
  }
  return out;
}

std::string RenderDiffMarkdown(const DiffResult& d) {
  auto cell = [](std::string s) {
    for (char& c : s) {
      if (c == '|' || c == '\n' || c == '`') c = ' ';
    }
    return s;
  };
  std::string out;
  if (d.damaged()) {
    absl::StrAppend(&out, "> ⚠️ **Damaged input: ", cell(DamagedSides(d)), "**\n");
    for (const auto& line : DamageLines(d)) absl::StrAppend(&out, "> - `", cell(line), "`\n");
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, d.withheld ? "⚠️" : d.passed ? "✅" : "❌", " **", cell(VerdictLine(d)), "**\n\n");
  for (const auto& o : d.outcomes) {
    if (!o.not_applied.empty())
      absl::StrAppend(&out, "- not applied: `", cell(o.rule.text), "` — ", cell(o.not_applied), "\n");
    if (o.within_noise) absl::StrAppend(&out, "- within noise: ", cell(NoiseLine(o)), "\n");
    if (!o.sampled_zero_side.empty()) absl::StrAppend(&out, "- sampled 0: ", cell(SampledZeroLine(o)), "\n");
  }
  if (std::any_of(d.outcomes.begin(), d.outcomes.end(), [](const RuleOutcome& o) {
        return !o.not_applied.empty() || o.within_noise || !o.sampled_zero_side.empty();
      }))
    absl::StrAppend(&out, "\n");
  absl::StrAppendFormat(&out, "**allocprof diff** — before `%s`, after `%s`\n\n", cell(d.before_source),
                        cell(d.after_source));
  using Note = std::pair<const char*, const std::string*>;
  for (const auto& [side, note] : {Note{"before", &d.before_sampling}, Note{"after", &d.after_sampling}}) {
    if (!note->empty()) absl::StrAppend(&out, "_", side, ": ", cell(*note), "_\n\n");
  }
  if (d.withheld) return out;
  if (d.damaged()) absl::StrAppend(&out, "_! marks a figure from a damaged trace._\n\n");
  absl::StrAppend(&out, "| | before | after | ratio |\n|---|---:|---:|---:|\n");
  for (const auto& r : d.rows) {
    if (!r.shown) continue;
    std::string ratio = RowRatio(r);
    absl::StrAppendFormat(
        &out, "| %s | %s | %s | %s |\n", cell(r.label),
        r.before_unavailable ? "n/a" : Value(r.before, r.unit, !d.before_damage.empty(), "–", r.before_sigma),
        r.after_unavailable ? "n/a" : Value(r.after, r.unit, !d.after_damage.empty(), "–", r.after_sigma),
        r.notable ? absl::StrCat("**", ratio, "**") : ratio);
  }
  if (!d.grown.empty() || !d.added.empty()) {
    absl::StrAppend(&out, "\n| stack | before | after | change |\n|---|---:|---:|---:|\n");
    for (const auto& c : d.grown) {
      absl::StrAppendFormat(&out, "| `%s` | %s | %s | %s%s |\n", cell(c.after.label), StackBytes(c.before),
                            StackBytes(c.after), FormatRatio(c.before.bytes, c.after.bytes),
                            GrowthWithinNoise(c) ? " (within 2 sigma)" : "");
    }
    for (const auto& c : d.added) {
      absl::StrAppendFormat(&out, "| `%s` | – | %s | new |\n", cell(c.after.label), StackBytes(c.after));
    }
  }
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
  j.Key("damage").BeginObject();
  j.Key("before").BeginArray();
  for (const auto& line : d.before_damage) j.String(line);
  j.EndArray();
  j.Key("after").BeginArray();
  for (const auto& line : d.after_damage) j.String(line);
  j.EndArray();
  j.EndObject();
  j.Key("withheld").Bool(d.withheld);
  j.Key("metrics").BeginObject();
  for (const auto& r : d.rows) {
    j.Key(r.metric).BeginObject();
    j.Key("label").String(r.label);
    j.Key("shown").Bool(r.shown);
    j.Key("notable").Bool(r.notable);
    j.Key("before");
    r.before ? j.Double(*r.before) : j.Null();
    j.Key("after");
    r.after ? j.Double(*r.after) : j.Null();
    j.Key("ratio");
    r.before&& r.after&&* r.before != 0 ? j.Double(*r.after / *r.before) : j.Null();
    if (r.before_sigma > 0 || r.after_sigma > 0) {  // a sampled side: its estimate's 1 sigma
      j.Key("before_sigma").Double(r.before_sigma);
      j.Key("after_sigma").Double(r.after_sigma);
    }
    if (r.before_unavailable || r.after_unavailable) {  // null there: not available when sampling
      j.Key("unavailable").BeginArray();
      if (r.before_unavailable) j.String("before");
      if (r.after_unavailable) j.String("after");
      j.EndArray();
    }
    j.EndObject();
  }
  j.EndObject();
  j.Key("rules").BeginArray();
  for (const auto& o : d.outcomes) {
    j.BeginObject();
    j.Key("rule").String(o.rule.text);
    j.Key("metric").String(o.rule.metric);
    j.Key("applied").Bool(o.applicable);
    j.Key("not_applied");
    o.not_applied.empty() ? j.Null() : j.String(o.not_applied);
    j.Key("failed").Bool(o.failed);
    j.Key("before").Double(o.before);
    j.Key("after").Double(o.after);
    j.Key("compared").Double(o.compared);
    if (o.compared_sigma > 0) {
      j.Key("compared_sigma").Double(o.compared_sigma);
      j.Key("within_noise").Bool(o.within_noise);
    }
    if (!o.sampled_zero_side.empty()) {
      j.Key("sampled_zero_side").String(o.sampled_zero_side);
      j.Key("sampled_zero_upper_95").Double(o.sampled_zero_upper_95);
    }
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
      if (c.before.bytes_sigma > 0 || c.after.bytes_sigma > 0 || c.before.calls_sigma > 0 || c.after.calls_sigma > 0) {
        j.Key("before_bytes_sigma").Double(c.before.bytes_sigma);
        j.Key("after_bytes_sigma").Double(c.after.bytes_sigma);
        j.Key("before_calls_sigma").Double(c.before.calls_sigma);
        j.Key("after_calls_sigma").Double(c.after.calls_sigma);
      }
      j.EndObject();
    }
    j.EndArray();
  };
  stacks("grown_stacks", d.grown);
  stacks("new_stacks", d.added);
  j.Key("passed");
  d.withheld ? j.Null() : j.Bool(d.passed);
  j.Key("verdict").String(VerdictLine(d));
  j.EndObject();
  return j.str() + "\n";
}

}  // namespace allocprof
