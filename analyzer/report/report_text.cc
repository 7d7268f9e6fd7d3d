// Plain-text rendering of an AnalysisReport, for a terminal or a log.
#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "report/report.h"

namespace allocprof {

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = bytes;
  while (std::fabs(v) >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f B", v) : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string HumanCount(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string HumanCountOf(uint64_t n, const char* one, const char* many) {
  return absl::StrCat(HumanCount(n), " ", n == 1 ? one : many);
}

std::string FrameText(const ReportFrame& f) {
  if (f.function.empty()) {
    if (f.module.empty()) return absl::StrFormat("0x%x", f.offset);
    std::string base = f.module.substr(f.module.rfind('/') + 1);
    return absl::StrFormat("%s+0x%x", base, f.offset);
  }
  if (f.file.empty()) return f.function;
  std::string base = f.file.substr(f.file.rfind('/') + 1);
  return absl::StrFormat("%s (%s:%d)%s", f.function, base, f.line, f.inlined ? " [inlined]" : "");
}

namespace {

std::string Percent(uint64_t part, uint64_t whole) {
  return whole ? absl::StrFormat("%.1f%%", 100.0 * part / whole) : "-";
}

std::string SizeRange(uint64_t lo, uint64_t hi) {
  auto fmt = [](uint64_t b) {
    if (b >= (1ull << 30) && b % (1ull << 30) == 0) return absl::StrCat(b >> 30, " GiB");
    if (b >= (1ull << 20) && b % (1ull << 20) == 0) return absl::StrCat(b >> 20, " MiB");
    if (b >= 1024 && b % 1024 == 0) return absl::StrCat(b >> 10, " KiB");
    return absl::StrCat(b, " B");
  };
  if (hi == UINT64_MAX) return absl::StrCat(">= ", fmt(lo));
  if (lo == hi) return fmt(lo);
  return absl::StrCat(fmt(lo), " - ", fmt(hi + 1));
}

void Stacks(std::string& out, const char* title, const std::vector<ReportStack>& stacks,
            const std::function<std::string(const ReportStack&)>& headline) {
  if (stacks.empty()) return;
  absl::StrAppend(&out, "\n", title, "\n");
  int rank = 1;
  for (const auto& s : stacks) {
    absl::StrAppendFormat(&out, "  #%-2d %s   [stack %d]\n", rank++, headline(s), s.id);
    if (s.frames.empty()) absl::StrAppend(&out, "      (no stack recorded)\n");
    size_t shown = 0;
    for (const auto& f : s.frames) {
      if (++shown > 8) {
        absl::StrAppendFormat(&out, "      ... %d more frames\n", s.frames.size() - 8);
        break;
      }
      absl::StrAppend(&out, "      ", FrameText(f), "\n");
    }
  }
}

void RenderProcess(std::string& out, const ProcessReport& p, const AnalysisOptions& o) {
  const HeapTotals& t = p.totals;
  std::string cmd = p.process.command_line;
  std::replace(cmd.begin(), cmd.end(), '\0', ' ');
  absl::StrAppendFormat(&out, "== %s — pid %d (parent %d): %s\n", p.file, p.process.pid, p.process.ppid, cmd);
  absl::StrAppendFormat(&out, "   %s, %.3f s%s\n", HumanCountOf(p.threads, "thread", "threads"), p.duration_s,
                        p.ended_cleanly ? "" : ", trace cut short (no end record)");
  if (p.window.active) {
    const ReportWindow& w = p.window;
    absl::StrAppendFormat(&out, "   window: from %s to %s = %.3f s .. %.3f s after the process started%s\n", w.from,
                          w.to, w.from_s, w.to_s, w.opened ? "" : " (never opened: empty)");
    absl::StrAppend(&out, "   every figure below covers this window only; times are relative to its start\n");
  }
  if (!p.captures.empty()) {
    absl::StrAppend(&out, "   capture control:");
    size_t shown = 0;
    for (const auto& c : p.captures) {
      if (++shown > 12) {
        absl::StrAppendFormat(&out, " ... %d more", p.captures.size() - 12);
        break;
      }
      absl::StrAppendFormat(&out, " %s at %.3f s (%s);", c.state, c.time_s, c.reason);
    }
    absl::StrAppend(&out, "\n");
  }
  if (p.process.attached()) {
    absl::StrAppend(&out,
                    "   attached to the running process (allocprof attach): figures start at the attach; "
                    "blocks allocated before it are unknown\n");
  }
  if (p.sampling.sampled()) {
    const SamplingEstimate& s = p.sampling;
    absl::StrAppendFormat(&out,
                          "   SAMPLED trace (--sample %s): every count and byte figure below is an estimate from %s "
                          "recorded allocations;\n   expected error (1 sigma): allocations %.2f%%, bytes %.2f%%\n",
                          HumanBytes(static_cast<double>(s.interval_bytes)), HumanCount(s.samples),
                          100 * s.AllocationsRelError(), 100 * s.BytesRelError());
  }
  double rate = p.duration_s > 0 ? t.allocations / p.duration_s : 0;
  double brate = p.duration_s > 0 ? t.bytes_allocated / p.duration_s : 0;
  absl::StrAppend(&out, "\nTotals\n");
  absl::StrAppendFormat(&out, "  allocations        %15s   %s/s (realloc counts once)\n", HumanCount(t.allocations),
                        HumanCount(static_cast<uint64_t>(rate)));
  absl::StrAppendFormat(&out, "  frees              %15s\n", HumanCount(t.frees));
  absl::StrAppendFormat(&out, "  bytes allocated    %15s   %s/s\n", HumanBytes(t.bytes_allocated), HumanBytes(brate));
  absl::StrAppendFormat(&out, "  bytes freed        %15s\n", HumanBytes(t.bytes_freed));
  absl::StrAppendFormat(&out, "  peak live          %15s   at %.3f s\n", HumanBytes(t.peak_live_bytes),
                        t.peak_time_ns > p.origin_ns ? (t.peak_time_ns - p.origin_ns) / 1e9 : 0.0);
  bool capture_ended = !p.captures.empty() && p.captures.back().state == "ended";
  if (capture_ended && !(p.window.active && p.window.closed)) {
    absl::StrAppendFormat(&out, "  live at capture end%15s   in %s (frees after --stop-after are not recorded)\n",
                          HumanBytes(t.leaked_bytes), HumanCountOf(t.leaked_allocations, "allocation", "allocations"));
  } else if (p.window.active && p.window.closed) {
    absl::StrAppendFormat(&out, "  live at window end %15s   in %s made in the window\n", HumanBytes(t.leaked_bytes),
                          HumanCountOf(t.leaked_allocations, "allocation", "allocations"));
  } else {
    absl::StrAppendFormat(&out, "  live at end        %15s   in %s (leaks)\n", HumanBytes(t.leaked_bytes),
                          HumanCountOf(t.leaked_allocations, "allocation", "allocations"));
  }
  if (p.window.active) {
    absl::StrAppendFormat(&out, "  live at start      %15s   in %s made before the window (carried in)\n",
                          HumanBytes(t.window_live_bytes_at_start),
                          HumanCountOf(t.window_live_at_start, "allocation", "allocations"));
    absl::StrAppendFormat(&out, "  inherited frees    %15s   %s: blocks allocated before the window (not in frees)\n",
                          HumanCount(t.inherited_frees), HumanBytes(t.inherited_bytes_freed));
  }
  if (t.frees_unrecorded) {
    absl::StrAppendFormat(&out,
                          "  unrecorded frees   %15s   of blocks allocated while capture was paused (not in frees)\n",
                          HumanCount(t.frees_unrecorded));
  }
  absl::StrAppendFormat(&out, "  temporary          %15s   %s: freed before the thread allocated again\n",
                        HumanCount(t.temporary), Percent(t.temporary, t.allocations));
  absl::StrAppendFormat(&out, "  short-lived        %15s   %s: freed within %s\n", HumanCount(t.short_lived),
                        Percent(t.short_lived, t.allocations), absl::StrFormat("%g ms", o.short_lived_ns / 1e6));
  absl::StrAppendFormat(&out, "  large objects      %15s   %s (>= %s B)\n", HumanCount(t.large_objects),
                        HumanBytes(t.large_object_bytes), HumanCount(o.large_object_bytes));
  absl::StrAppendFormat(&out, "  mismatched frees   %15s\n", HumanCount(t.mismatched_frees));
  if (p.process.attached()) {
    absl::StrAppendFormat(&out, "  pre-attach frees   %15s   freed, allocated before attach\n",
                          HumanCount(t.frees_of_pre_attach));
  }

  absl::StrAppend(&out, "\nEntry points\n");
  for (const auto& [name, cb] : p.by_entry) {
    absl::StrAppendFormat(&out, "  %-36s %15s %-5s  %12s\n", name, HumanCount(cb.first),
                          cb.first == 1 ? "call" : "calls", cb.second ? HumanBytes(cb.second) : "");
  }

  if (!p.size_classes.empty()) {
    absl::StrAppendFormat(&out, "\nSize classes (large-object threshold %s B marked <LOH)\n",
                          HumanCount(o.large_object_bytes));
    absl::StrAppendFormat(&out, "  %-22s %15s %7s %12s %7s\n", "size", "calls", "share", "bytes", "share");
    for (const auto& c : p.size_classes) {
      bool crosses = c.min_bytes < o.large_object_bytes && c.max_bytes >= o.large_object_bytes;
      absl::StrAppendFormat(&out, "  %-22s %15s %7s %12s %7s%s\n", SizeRange(c.min_bytes, c.max_bytes),
                            HumanCount(c.calls), absl::StrFormat("%.1f%%", 100 * c.call_share), HumanBytes(c.bytes),
                            absl::StrFormat("%.1f%%", 100 * c.byte_share),
                            crosses          ? "  <LOH threshold inside"
                            : c.large_object ? "  <LOH"
                                             : "");
    }
  }

  Stacks(out, absl::StrFormat("Top stacks by calls").c_str(), p.top_by_calls, [](const ReportStack& s) {
    return absl::StrFormat("%s, %s", HumanCountOf(s.calls, "call", "calls"), HumanBytes(s.bytes));
  });
  Stacks(out, "Top stacks by bytes", p.top_by_bytes, [](const ReportStack& s) {
    return absl::StrFormat("%s in %s", HumanBytes(s.bytes), HumanCountOf(s.calls, "call", "calls"));
  });
  Stacks(out, "Top stacks by contribution to the peak", p.top_by_peak,
         [](const ReportStack& s) { return absl::StrFormat("%s live at the peak", HumanBytes(s.peak_bytes)); });
  Stacks(out, "Leaks (live at end) by stack", p.leaks, [](const ReportStack& s) {
    return absl::StrFormat("%s in %s", HumanBytes(s.leaked_bytes),
                           HumanCountOf(s.leaked_allocations, "allocation", "allocations"));
  });

  if (!p.timeline.empty()) {
    size_t rows = std::min<size_t>(20, p.timeline.size());
    size_t per_row = (p.timeline.size() + rows - 1) / rows;
    absl::StrAppendFormat(&out,
                          "\nTimeline (%d windows of %.3f ms; every %d shown as one row; full series in --json)\n",
                          p.timeline.size(), p.window_ns / 1e6, per_row);
    absl::StrAppendFormat(&out, "  %10s %12s %12s %12s %14s %14s\n", "time s", "live min", "live max", "live end",
                          "allocations", "frees");
    for (size_t i = 0; i < p.timeline.size(); i += per_row) {
      TimeWindow row = p.timeline[i];
      for (size_t k = i + 1; k < std::min(p.timeline.size(), i + per_row); ++k) {
        const TimeWindow& w = p.timeline[k];
        row.live_min = std::min(row.live_min, w.live_min);
        row.live_max = std::max(row.live_max, w.live_max);
        row.live_end = w.live_end;
        row.allocations += w.allocations;
        row.frees += w.frees;
      }
      absl::StrAppendFormat(
          &out, "  %10.3f %12s %12s %12s %14s %14s\n", row.start_ns / 1e9,
          HumanBytes(static_cast<double>(row.live_min)), HumanBytes(static_cast<double>(row.live_max)),
          HumanBytes(static_cast<double>(row.live_end)), HumanCount(row.allocations), HumanCount(row.frees));
    }
  }
  if (p.sawtooth.found) {
    absl::StrAppendFormat(&out, "\nLive heap: sawtooth, period ≈ %.3g s, amplitude ≈ %s (autocorrelation %.2f)\n",
                          p.sawtooth.period_s, HumanBytes(p.sawtooth.amplitude_bytes), p.sawtooth.correlation);
  } else {
    absl::StrAppend(&out, "\nLive heap: no periodic pattern\n");
  }
  if (p.has_gen) {
    const GenResult& g = p.gen;
    const GenParameters& q = g.parameters;
    absl::StrAppend(&out, "\nGen-style pressure (what a .NET-style generational collector would have done)\n");
    absl::StrAppendFormat(&out, "  collections   Gen0 %s, Gen1 %s, Gen2 %s   (%.1f per second)\n", HumanCount(g.gen0),
                          HumanCount(g.gen1), HumanCount(g.gen2), g.collections_per_second);
    absl::StrAppendFormat(&out, "  allocated     %s small, %s large-object heap (%s >= %s B)\n",
                          HumanBytes(g.soh_bytes), HumanBytes(g.loh_bytes),
                          HumanCountOf(g.loh_allocations, "object", "objects"), HumanCount(q.loh_threshold));
    absl::StrAppendFormat(&out, "  promoted      %s; survival Gen0 %.1f%%, Gen1 %.1f%%, Gen2 %.1f%%, LOH %.1f%%\n",
                          HumanBytes(g.promoted_bytes), 100 * g.survival.gen0, 100 * g.survival.gen1,
                          100 * g.survival.gen2, 100 * g.survival.loh);
    if (g.sawtooth.found) {
      absl::StrAppendFormat(&out, "  heap          sawtooth, period ≈ %.3g s, amplitude ≈ %s; peak %s\n",
                            g.sawtooth.period_s, HumanBytes(g.sawtooth.amplitude_bytes), HumanBytes(g.peak_heap_bytes));
    } else {
      absl::StrAppendFormat(&out, "  heap          no periodic pattern; peak %s\n", HumanBytes(g.peak_heap_bytes));
    }
    absl::StrAppendFormat(&out,
                          "  parameters    Gen0 budget %s (cache %s, %s); Gen1 min %s max %s; Gen2 min %s; LOH min %s; "
                          "growth Gen1 %.2g-%.2g, Gen2 %.2g-%.2g, LOH %.3g-%.2g\n",
                          HumanBytes(q.gen0_budget), HumanBytes(q.llc_bytes), p.llc_source, HumanBytes(q.gen1_min),
                          q.gen1_max ? HumanBytes(q.gen1_max) : "none", HumanBytes(q.gen2_min), HumanBytes(q.loh_min),
                          q.gen1_growth_min, q.gen1_growth_max, q.gen2_growth_min, q.gen2_growth_max, q.loh_growth_min,
                          q.loh_growth_max);
  }
  if (!p.marks.empty()) {
    absl::StrAppend(&out, "\nMarks\n");
    size_t shown = 0;
    for (const auto& [time_s, name] : p.marks) {
      if (++shown > 50) {
        absl::StrAppendFormat(&out, "  ... %d more (all in --json)\n", p.marks.size() - 50);
        break;
      }
      absl::StrAppendFormat(&out, "  %10.6f s  %s\n", time_s, name);
    }
  }
  for (const auto& [unit, n] : p.counters) {
    if (n == 0) continue;
    absl::StrAppendFormat(&out, "\nPer %s (%s counted): %.4g allocations, %s\n", unit, HumanCount(n),
                          static_cast<double>(t.allocations) / n,
                          HumanBytes(static_cast<double>(t.bytes_allocated) / n));
  }
  for (const auto& pool : p.pools) {
    uint64_t falls = pool.fallthrough[0] + pool.fallthrough[1] + pool.fallthrough[2];
    absl::StrAppendFormat(&out, "\nPool \"%s\" (largest block %s, %d slots per bucket)\n", pool.name,
                          HumanBytes(pool.max_block), pool.slots_per_bucket);
    absl::StrAppendFormat(&out, "  rents %s, served %s (%s), fell through %s: oversize %s, exhausted %s, fill %s; %s\n",
                          HumanCount(pool.rents), HumanCount(pool.hits), Percent(pool.hits, pool.rents),
                          HumanCount(falls), HumanCount(pool.fallthrough[0]), HumanCount(pool.fallthrough[1]),
                          HumanCount(pool.fallthrough[2]), HumanBytes(pool.fallthrough_bytes));
    absl::StrAppendFormat(&out, "  returns dropped: %s (bucket full), %s (oversize)\n", HumanCount(pool.dropped_full),
                          HumanCount(pool.dropped_oversize));
    absl::StrAppendFormat(&out, "  %-12s %10s %10s %10s %10s %10s %10s %12s\n", "bucket", "rents", "hits", "oversize",
                          "exhausted", "fill", "dropped", "max out");
    for (const auto& b : pool.buckets) {
      absl::StrAppendFormat(&out, "  %-12s %10s %10s %10s %10s %10s %10s %12s\n", HumanBytes(b.size),
                            HumanCount(b.rents), HumanCount(b.hits), HumanCount(b.fallthrough[0]),
                            HumanCount(b.fallthrough[1]), HumanCount(b.fallthrough[2]), HumanCount(b.dropped_full),
                            HumanCount(b.max_concurrent));
    }
    std::string slots;
    for (const auto& [size, n] : pool.advice_slots) absl::StrAppendFormat(&slots, " %s:%d", HumanBytes(size), n);
    absl::StrAppendFormat(
        &out, "  advisor: largest block %s, slots per bucket%s; retains at most %s; serves %.1f%% of these rents\n",
        HumanBytes(pool.advice_max_block), slots, HumanBytes(pool.advice_retained_bytes), 100 * pool.advice_hit_rate);
    for (size_t i = 0; i < pool.top_fallthrough_stacks.size() && i < 3; ++i) {
      const auto& s = pool.top_fallthrough_stacks[i];
      absl::StrAppendFormat(&out, "  fall-through stack #%d: %s, %s\n", i + 1, HumanCountOf(s.rents, "rent", "rents"),
                            HumanBytes(s.bytes));
      for (size_t f = 0; f < s.frames.size() && f < 5; ++f)
        absl::StrAppend(&out, "      ", FrameText(s.frames[f]), "\n");
    }
  }
  if (!p.mismatches.empty()) {
    absl::StrAppendFormat(&out, "\nMismatched frees (%s)\n", HumanCount(t.mismatched_frees));
    for (const auto& m : p.mismatches) {
      absl::StrAppendFormat(&out, "  %s x allocated with %s, freed with %s\n", HumanCount(m.count), m.alloc_entry,
                            m.free_entry);
      for (size_t i = 0; i < m.stack.frames.size() && i < 6; ++i) {
        absl::StrAppend(&out, "      ", FrameText(m.stack.frames[i]), "\n");
      }
    }
  }
}

}  // namespace

std::string RenderText(const AnalysisReport& report) {
  std::string out;
  std::vector<std::string> warnings;
  for (const auto& p : report.processes) warnings.insert(warnings.end(), p.warnings.begin(), p.warnings.end());
  if (!warnings.empty()) {
    absl::StrAppend(&out, "Warnings\n");
    for (const auto& w : warnings) absl::StrAppend(&out, "  ! ", w, "\n");
    absl::StrAppend(&out, "\n");
  }
  for (size_t i = 0; i < report.processes.size(); ++i) {
    if (i) absl::StrAppend(&out, "\n");
    RenderProcess(out, report.processes[i], report.options);
  }
  return out;
}

}  // namespace allocprof
