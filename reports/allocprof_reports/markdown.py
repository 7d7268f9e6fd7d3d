"""report.md: the headline, the charts (PNG, linked by relative path), top stacks as tables with
short names, pools and collections in brief, and with a baseline the comparison table and the
diff's verdict. Sized for a pull-request comment: optional sections are dropped, least useful
first, until it fits LIMIT_BYTES. Every string that came from the trace (command lines, symbols,
paths, warnings) is put in code spans or a code block, so it cannot format or mention anything."""

import re

from . import model, stacks, units

LIMIT_BYTES = 60 * 1024
MAX_WARNINGS = 20


def code(text):
    """An inline code span that is safe inside a table cell."""
    text = " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")
    return f"`{text}`" if text else ""


def code_block(lines):
    body = "\n".join(lines)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


# What a sampled report says in place of a figure it cannot estimate (JSON null).
NOT_AVAILABLE_WHEN_SAMPLING = "not available when sampling"


def _sampled(report):
    return bool(model.obj(report, "sampling"))


def _metric_value(name, value):
    if value is None:
        return "–"
    if name.endswith("hit_rate"):
        return units.percent(value)
    if name.startswith("bytes_per_") and name != "bytes_per_second":
        return f"{value:.3g} B" if value < 10 else units.human_bytes(value)
    if "bytes" in name:
        return units.human_bytes(value) + ("/s" if name.endswith("_per_second") else "")
    if name.endswith("_per_second"):
        return units.compact_count(value) + "/s"
    if name.endswith("duration_s"):
        return units.human_seconds(value)
    if value != round(value) and abs(value) < 100:  # per-unit figures: 0.000319 allocations per message
        return f"{value:.3g}"
    return units.human_count(value)


def _command(report):
    process = model.obj(report, "process")
    line = process.get("command_line") or process.get("exe") or ""
    return line if isinstance(line, str) else ""


def processes_note(report, side=""):
    """A run of several processes (analysis.json's `run`): which one the report shows, which one
    allocated most, and the list (empty for a single process)."""
    run = model.obj(report, "run")
    procs = [p for p in model.arr(run, "processes") if isinstance(p, dict)]
    if len(procs) < 2:
        return ""
    total = sum(model.num(p.get("allocations")) for p in procs)
    shown = int(model.num(run.get("reported")))
    most = int(model.num(run.get("most_allocating")))
    shown = shown if 0 <= shown < len(procs) else 0
    most = most if 0 <= most < len(procs) else 0

    def who(p):
        return f"{code(p.get('command', ''))} (pid {int(model.num(p.get('pid')))}, {code(p.get('file', ''))})"

    def share(p):
        return units.percent(model.num(p.get("allocations")) / total) if total else "–"

    because = run.get("reported_because") if isinstance(run.get("reported_because"), str) else ""
    text = (f"> {side}This run traced **{len(procs)} processes**, {units.human_count(total)} allocations in all. "
            f"The figures below are of {who(procs[shown])}: {code(because)}.")
    if most != shown:
        text += f" The one that allocated most is {who(procs[most])}, {share(procs[most])} of the allocations."
    else:
        text += f" It made {share(procs[shown])} of the run's allocations."
    rows = sorted(procs, key=lambda p: -model.num(p.get("allocations")))
    table = ["| pid | parent | allocations | share | bytes | command |", "|---:|---:|---:|---:|---:|---|"]
    for p in rows[:20]:
        table.append(f"| {int(model.num(p.get('pid')))} | {int(model.num(p.get('ppid')))} |"
                     f" {units.human_count(model.num(p.get('allocations')))} | {share(p)} |"
                     f" {units.human_bytes(model.num(p.get('bytes_allocated')))} | {code(p.get('command_line', ''))} |")
    if len(rows) > 20:
        table.append(f"| | | | | | {len(rows) - 20} more in `analysis.json` |")
    return text + "\n\n<details><summary>Processes of the run</summary>\n\n" + "\n".join(table) + "\n\n</details>"


class Section:
    def __init__(self, text, drop_rank=None):
        self.text = text
        self.drop_rank = drop_rank  # None: always kept; higher ranks are dropped first


def headline(report):
    t = model.obj(report, "totals")
    allocs = model.num(t.get("allocations"))
    parts = [f"**{units.human_count(allocs)} allocations** ({units.compact_count(model.num(t.get('allocations_per_second')))}/s)"
             f" and **{units.human_bytes(model.num(t.get('bytes_allocated')))}** in"
             f" {units.human_seconds(model.num(t.get('duration_s')))}",
             f"live heap peaked at **{units.human_bytes(model.num(t.get('peak_live_bytes')))}**"
             f" at {units.human_seconds(model.num(t.get('peak_time_s')))}"
             if model.num(t.get("peak_live_bytes"), None) is not None
             else f"peak live heap {NOT_AVAILABLE_WHEN_SAMPLING}"]
    leaked = model.num(t.get("leaked_bytes"))
    if leaked:
        parts.append(f"{units.human_bytes(leaked)} in {units.human_count(model.num(t.get('leaked_allocations')))}"
                     f" blocks still live at the {'window' if model.obj(report, 'window').get('closed') else 'run'}'s end")
    if allocs and model.num(t.get("temporary_allocations")) / allocs >= 0.25:
        parts.append(f"{units.percent(model.num(t.get('temporary_allocations')) / allocs)} temporary"
                     " (freed before the thread allocated again)")
    for unit, n in sorted(model.obj(report, "counters").items()):
        n = model.num(n)
        if n > 0 and allocs:
            parts.append(f"**{allocs / n:,.3g} allocations per unit** of {code(unit)} ({units.human_count(n)} counted)")
    if model.num(t.get("mismatched_frees")):
        parts.append(f"**{units.human_count(model.num(t.get('mismatched_frees')))} mismatched frees**")
    text = "; ".join(parts) + "."
    scope = window_note(report)
    return f"{scope} {text}" if scope else text


def window_note(report):
    """Which part of the run the figures cover, when it is not the whole run (analyze --from/--to)."""
    w = model.obj(report, "window")
    if not w.get("active"):
        return ""
    frm, to = w.get("from"), w.get("to")
    frm = frm if isinstance(frm, str) else "start"
    to = to if isinstance(to, str) else "end"
    return (f"Window {code(frm)} to {code(to)} ({units.human_seconds(model.num(w.get('from_s')))}"
            f" to {units.human_seconds(model.num(w.get('to_s')))} after start): every figure covers this window only.")


def sampling_note(report, side=""):
    """A sampled trace's figures are estimates: say so, with their expected error (empty when exact)."""
    s = model.obj(report, "sampling")
    if not s:
        return ""
    return (f"> **{side}Sampled trace** (`--sample {units.human_bytes(model.num(s.get('interval_bytes')))}`,"
            f" {units.human_count(model.num(s.get('samples')))} allocations recorded): every count and byte figure"
            f" is an estimate; expected error (1 sigma): allocations ±{100 * model.num(s.get('allocations_rel_error')):.2f}%,"
            f" bytes ±{100 * model.num(s.get('bytes_rel_error')):.2f}%.")


def _ratio_cell(before, after):
    """The ratio, bold only when it moved more than 10% either way (or appeared, or vanished)."""
    text = units.ratio_text(before, after)
    if before is None or after is None:
        return text
    far = (after != 0) if before == 0 else abs(after / before - 1) > 0.10 + 1e-9
    return f"**{text}**" if far else text


def totals_table(report, baseline=None):
    t, b = model.obj(report, "totals"), model.obj(baseline, "totals") if baseline else {}
    rows = [("allocations", "allocations"), ("bytes allocated", "bytes_allocated"), ("peak live heap", "peak_live_bytes"),
            ("live at end (leaks)", "leaked_bytes"), ("temporary allocations", "temporary_allocations"),
            ("large objects", "large_objects"), ("allocations per second", "allocations_per_second"),
            ("duration", "duration_s"), ("threads", "threads")]
    g, bg = model.gen(report), model.gen(baseline) if baseline else None
    if baseline:
        out = ["| | baseline | this run | ratio |", "|---|---:|---:|---:|"]
    else:
        out = ["| | this run |", "|---|---:|"]
    for label, key in rows:
        if key not in t:
            continue
        value = model.num(t.get(key), None)
        now = _metric_value(key, value)  # null: not available (sampled temporaries)
        if value is None and _sampled(report):
            now = NOT_AVAILABLE_WHEN_SAMPLING
        else:
            now += _sigma(t.get(key + "_sigma"), key) + _none_recorded(t, key)
        before = model.num(b.get(key), None) if baseline and key in b else None
        if value is not None and not value and not before:  # zero on both sides: nothing to read
            continue
        if baseline:
            was = _metric_value(key, before)
            if before is None and _sampled(baseline) and key in b:
                was = NOT_AVAILABLE_WHEN_SAMPLING
            elif before is not None:  # a sampled baseline's estimate, with its 1 sigma
                was += _sigma(b.get(key + "_sigma"), key) + _none_recorded(b, key)
            withheld = (value is None and _sampled(report)) or (before is None and _sampled(baseline) and key in b)
            ratio = "—" if withheld else _ratio_cell(before, model.num(t.get(key)))
            out.append(f"| {label} | {was} | {now} | {ratio} |")
        else:
            out.append(f"| {label} | {now} |")
    # Gen rows for programs where the model collected at least once; a sampled run has none.
    if g is None and _sampled(report) and "gen" in report:
        na = NOT_AVAILABLE_WHEN_SAMPLING
        out.append(f"| Gen collections (simulated) | {na} | {na} | — |" if baseline
                   else f"| Gen collections (simulated) | {na} |")
    if g is not None and (g.total or (bg is not None and bg.total)):
        for i in range(3):
            if baseline:
                before = bg.counts[i] if bg else None
                out.append(f"| Gen{i} collections | {_metric_value('gen', before)} | {units.human_count(g.counts[i])} |"
                           f" {_ratio_cell(before, g.counts[i])} |")
            else:
                out.append(f"| Gen{i} collections (simulated) | {units.human_count(g.counts[i])} |")
    return "\n".join(out)


def _sigma(value, name):
    """A sampled estimate's 1 sigma (the report's *_sigma field): " ± 1.2 MiB"; "" when absent or 0."""
    v = model.num(value, None)
    if not v:
        return ""
    if name.endswith("_per_second"):  # a rate's, in the rate's own unit: "718k/s ± 18k/s"
        return " ± " + _metric_value(name, v)
    return " ± " + (units.human_bytes(v) if "bytes" in name else units.human_count(round(v)))


def _none_recorded(totals, name):
    """A sampled 0 that no recorded allocation contributed to, and what it may hide at 95% (the report's
    *_upper_95 field): " (none recorded: < 1.5 MiB at 95%)"; "" when absent or null."""
    v = model.num(totals.get(name + "_upper_95"), None)
    if v is None:
        return ""
    return f" (none recorded: < {units.human_bytes(v) if 'bytes' in name else units.human_count(v)} at 95%)"


def stack_table(title, entries, value_key, top, value_label="bytes"):
    rows = [s for s in entries if isinstance(s, dict)][:top]
    if not rows:
        return ""
    out = [f"#### {title}", "", f"| # | function | file:line | {value_label} | calls |", "|---:|---|---|---:|---:|"]
    for i, s in enumerate(rows, 1):
        name, via, where = stacks.describe(s)
        cell = code(name) + (f" via {code(via)}" if via else "")
        bytes_value = model.num(s.get(value_key))
        out.append(f"| {i} | {cell} | {code(where) if where else '–'} | {units.human_bytes(bytes_value)}"
                   f"{_sigma(s.get(value_key + '_sigma'), 'bytes')} |"
                   f" {units.human_count(model.num(s.get('calls')))}{_sigma(s.get('calls_sigma'), 'calls')} |")
    return "\n".join(out)


def pools_table(report):
    pools = model.pools(report)
    if not pools:
        return ""
    out = ["| pool | rents | hit rate | fell through (oversize / exhausted / fill) | dropped | advisor |",
           "|---|---:|---:|---|---:|---|"]
    for p in pools:
        fall = " / ".join(units.human_count(p.fallthrough.get(k, 0)) for k in ("oversize", "exhausted", "fill"))
        a = p.advisor
        adv = "–"
        if a is not None:
            adv = f"max block {units.size_label(a.max_block)} (now {units.size_label(p.max_block)}), retains ≤ {units.human_bytes(a.retained_bytes)}"
            if a.hit_rate is not None:
                adv += f", {units.percent(a.hit_rate)} hits"
        out.append(f"| {code(p.name)} | {units.human_count(p.rents)} | {units.percent(p.hit_rate)} |"
                   f" {fall} | {units.human_count(sum(p.dropped.values()))} | {adv} |")
    return "\n".join(out)


def diff_tables(diff):
    metrics = model.obj(diff, "metrics")
    out = ["| | baseline | this run | ratio |", "|---|---:|---:|---:|"]
    for name, m in metrics.items():
        if not isinstance(m, dict) or m.get("shown") is False:
            continue
        before, after = model.num(m.get("before"), None), model.num(m.get("after"), None)
        label = m.get("label") if isinstance(m.get("label"), str) else name
        unavailable = [side for side in model.arr(m, "unavailable") if isinstance(side, str)]
        ratio = "—" if unavailable else units.ratio_text(before, after)
        cells = ["n/a" if side in unavailable else _metric_value(name, v) + _diff_sigma(name, m.get(side + "_sigma"))
                 for side, v in (("before", before), ("after", after))]
        out.append(f"| {code(label)} | {cells[0]} | {cells[1]} |"
                   f" {'**' + ratio + '**' if m.get('notable') is True else ratio} |")
    changed = [("grew", s) for s in model.arr(diff, "grown_stacks")] + [("new", s) for s in model.arr(diff, "new_stacks")]
    if changed:
        out += ["", "| stack | baseline | this run | change |", "|---|---:|---:|---:|"]
        for kind, s in changed:
            if not isinstance(s, dict):
                continue
            before, after = model.num(s.get("before_bytes")), model.num(s.get("after_bytes"))
            change = "new" if kind == "new" else units.ratio_text(before, after)
            was = units.human_bytes(before) + _sigma(s.get("before_bytes_sigma"), "bytes") if kind != "new" else "–"
            out.append(f"| {code(s.get('stack', ''))} | {was} |"
                       f" {units.human_bytes(after)}{_sigma(s.get('after_bytes_sigma'), 'bytes')} | {change} |")
    return "\n".join(out)


def _diff_sigma(name, value):
    """A sampled side's 1 sigma in a diff cell, in the figure's own unit: " ± 3,688", " ± 0.5"; "" when exact."""
    v = model.num(value, None)
    if not v:
        return ""
    if "bytes" not in name and not name.endswith("_per_second") and v >= 1:
        v = round(v)
    return " ± " + _metric_value(name, v)


def verdict(diff):
    text = diff.get("verdict") if isinstance(diff, dict) else None
    if not isinstance(text, str):
        return ""
    mark = "⚠️" if diff.get("withheld") is True else "✅" if diff.get("passed") is True else "❌"
    lines = [f"{mark} **{' '.join(text.split())}**"]
    # Default rules whose figure a sampled side cannot give: listed, never passed silently.
    for r in model.arr(diff, "rules"):
        if isinstance(r, dict) and isinstance(r.get("not_applied"), str) and isinstance(r.get("rule"), str):
            lines.append(f"- not applied: {code(r['rule'])} — {r['not_applied']}")
        # A sampled side: the threshold lies within 2 sigma of the figure, the sample cannot decide.
        if isinstance(r, dict) and r.get("within_noise") is True and isinstance(r.get("rule"), str):
            compared, sigma = model.num(r.get("compared")), model.num(r.get("compared_sigma"))
            ratio = r["rule"].rstrip().lower().endswith("x")
            shown = f"{compared:.2f}x ± {sigma:.2f}x" if ratio else f"{compared:.4g} ± {sigma:.2g}"
            lines.append(f"- within noise: {code(r['rule'])}: {shown} lies within 2 sigma of the threshold"
                         f" ({'failed' if r.get('failed') is True else 'passed'} on the estimate)")
        # A sampled 0 with none recorded, on which the verdict turns: it may hide up to its bound.
        side, bound = (r.get("sampled_zero_side"), r.get("sampled_zero_upper_95")) if isinstance(r, dict) else (None, None)
        if side in ("before", "after") and isinstance(r.get("rule"), str) and model.num(bound, None):
            metric = r.get("metric") if isinstance(r.get("metric"), str) else r["rule"]
            lines.append(f"- sampled 0: {code(r['rule'])}: {side}'s 0 has none recorded, and may hide up to"
                         f" {_metric_value(metric, model.num(bound))} at 95%"
                         f" ({'failed' if r.get('failed') is True else 'passed'} on what was recorded)")
    return "\n".join(lines) if len(lines) == 1 else lines[0] + "\n\n" + "\n".join(lines[1:])


def damage_lines(report):
    """What makes a report's figures incomplete (process.damage, and each process of a tree)."""
    out = []
    if not isinstance(report, dict):
        return out
    for p in [model.obj(report, "process")] + [p for p in model.arr(report, "processes") if isinstance(p, dict)]:
        for d in model.arr(p, "damage"):
            message = d.get("message") if isinstance(d, dict) else None
            if isinstance(message, str) and message not in out:
                out.append(message)
    return out


def damage(report, baseline=None):
    """The damage, before any figure: the figures below it miss what was lost."""
    sides = [("this run", damage_lines(report))] + ([("the baseline", damage_lines(baseline))] if baseline else [])
    parts = []
    for side, lines in sides:
        if lines:
            shown = [w if len(w) <= 300 else w[:299] + "…" for w in lines[:MAX_WARNINGS]]
            parts.append(f"> ⚠️ **Damaged trace ({side})**: its figures miss what was lost; leaks, peak and counts"
                         " may be wrong.\n\n" + code_block(shown))
    return "\n\n".join(parts)


def render(report, charts, baseline=None, diff=None, top=10):
    """The Markdown text. `charts`: [(title, png name, svg name)] in display order."""
    command = _command(report)
    sections = [Section(f"## allocprof report: {code(command) if command else 'process ' + str(model.obj(report, 'process').get('pid', ''))}")]
    harm = damage(report, baseline)
    if harm:
        sections.append(Section(harm))
    if diff is not None:
        sections.append(Section(verdict(diff)))
    sections.append(Section(headline(report)))
    for note in (processes_note(report), processes_note(baseline, "Baseline: ") if baseline else ""):
        if note:
            sections.append(Section(note))
    for note in (sampling_note(report), sampling_note(baseline, "Baseline: ") if baseline else ""):
        if note:
            sections.append(Section(note))
    sections.append(Section(totals_table(report, baseline)))
    for title, png, svg in charts:
        sections.append(Section(f"![{_alt(title)}]({png})\n<sub>{_alt(title)} — [SVG]({svg})</sub>", drop_rank=1))
    st = model.obj(report, "stacks")
    parts = [stack_table("Top stacks by bytes", model.arr(st, "top_by_bytes"), "bytes", top),
             stack_table("Top stacks by calls", model.arr(st, "top_by_calls"), "bytes", top)]
    sections.append(Section("### Top stacks\n\n" + "\n\n".join(p for p in parts if p) if any(parts) else ""))
    leaks = stack_table("Still live at the end (leaks)", model.arr(st, "leaks"), "leaked_bytes", top, "leaked")
    if leaks:
        sections.append(Section(leaks, drop_rank=3))
    peak = stack_table("Live at the peak", model.arr(st, "top_by_peak"), "peak_bytes", top, "live at peak")
    if peak:
        sections.append(Section(f"<details><summary>Stacks live at the peak</summary>\n\n{peak}\n\n</details>", drop_rank=4))
    pools = pools_table(report)
    if pools:
        sections.append(Section("### Pools\n\n" + pools, drop_rank=2))
    if diff is not None:
        sections.append(Section("<details><summary>Every figure against the baseline</summary>\n\n"
                                + diff_tables(diff) + "\n\n</details>", drop_rank=2))
    harmed = set(damage_lines(report))
    warnings = [w for w in model.arr(report, "warnings") if isinstance(w, str) and w not in harmed]
    if warnings:
        shown = [w if len(w) <= 300 else w[:299] + "…" for w in warnings[:MAX_WARNINGS]]
        more = len(warnings) - len(shown)
        text = f"### Warnings ({len(warnings)})\n\n" + code_block(shown) + (f"\n\n…and {more} more in analysis.json" if more else "")
        sections.append(Section(text, drop_rank=5))
    mm = model.obj(report, "mismatched_frees")
    if model.num(mm.get("count")):
        lines = []
        for m in model.arr(mm, "stacks")[:top]:
            if isinstance(m, dict):
                name, _, where = stacks.describe(m)
                lines.append(f"| {code(m.get('allocated_with', ''))} | {code(m.get('freed_with', ''))} |"
                             f" {units.human_count(model.num(m.get('count')))} | {code(name)} | {code(where) if where else '–'} |")
        sections.append(Section(f"### Mismatched frees ({units.human_count(model.num(mm.get('count')))})\n\n"
                                "| allocated with | freed with | count | function | file:line |\n|---|---|---:|---|---|\n"
                                + "\n".join(lines), drop_rank=None))
    generator = report.get("generator") if isinstance(report.get("generator"), str) else "allocprof"
    sections.append(Section(f"<sub>{code(generator)}; full figures in `analysis.json`"
                            + (", `baseline.json` and `diff.json`" if diff is not None else "") + "</sub>"))
    return _fit(sections)


def _alt(text):
    """Alt text and caption: no character that could end the image or start markup; '_' and '*'
    (file names such as array_pool.h) escaped rather than dropped."""
    return re.sub(r"([*_])", r"\\\1", re.sub(r"[\[\]<>`|]", "", text))


def _fit(sections):
    """Joins sections, dropping optional ones (highest drop_rank first) until the text fits."""
    kept = [s for s in sections if s.text]
    while True:
        text = "\n\n".join(s.text for s in kept) + "\n"
        if len(text.encode("utf-8")) <= LIMIT_BYTES:
            return text
        optional = [s for s in kept if s.drop_rank is not None]
        if not optional:
            return text.encode("utf-8")[: LIMIT_BYTES - 100].decode("utf-8", "ignore") + "\n\n…(cut to fit a comment)\n"
        kept.remove(max(optional, key=lambda s: s.drop_rank))

