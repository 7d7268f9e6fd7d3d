"""report.html: one self-contained page (scripts, styles and data inlined; nothing is fetched, so
it works offline and as a CI artifact) with a zoomable flame graph of the allocation call tree
(bytes, calls, live at the peak, leaked; with a baseline the differential view), the live heap
over time with the simulated collections and marks, where selecting a time range redraws the
flame graph for the allocations in that range, the pool tables and the verdict.

The drawing uses d3 and d3-flame-graph from npm (reports/web/package.json, pinned by its
package-lock.json), installed by `make web` into reports/web/node_modules, or copied beside an
installed package into web/vendor/; their licences are inlined with them. Without them no page is
written (report.md and the charts are), and the reason is printed."""

import json
import os
import re

from . import flame, markdown, model, units

HERE = os.path.dirname(os.path.abspath(__file__))
WEB = os.path.join(os.path.dirname(HERE), "web")

# (file in node_modules, file in vendor/) for each inlined library, with its licence.
LIBRARIES = (
    ("d3/dist/d3.min.js", "d3.min.js", "d3/LICENSE", "d3.LICENSE"),
    ("d3-flame-graph/dist/d3-flamegraph.umd.min.js", "d3-flamegraph.umd.min.js", "d3-flame-graph/LICENSE",
     "d3-flame-graph.LICENSE"),
)


class MissingLibraries(Exception):
    pass


def _find(relative_in_modules, vendored):
    candidates = []
    env = os.environ.get("ALLOCPROF_WEB")
    if env:
        candidates += [os.path.join(env, "node_modules", relative_in_modules), os.path.join(env, "vendor", vendored)]
    candidates += [os.path.join(WEB, "node_modules", relative_in_modules), os.path.join(WEB, "vendor", vendored)]
    for c in candidates:
        if os.path.isfile(c):
            return c
    raise MissingLibraries(f"{vendored} not found (looked in {', '.join(candidates)}); run 'make web'")


def libraries():
    """[(script text, licence text)] of the libraries the page inlines."""
    out = []
    for module_path, vendored, licence_path, licence_vendored in LIBRARIES:
        with open(_find(module_path, vendored), encoding="utf-8") as f:
            script = f.read()
        with open(_find(licence_path, licence_vendored), encoding="utf-8") as f:
            licence = f.read()
        out.append((script, licence))
    return out


def _read(name):
    with open(os.path.join(WEB, name), encoding="utf-8") as f:
        return f.read()


def _script_safe(text):
    """Text that cannot end the <script> element it sits in."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _comment_safe(text):
    return text.replace("*/", "* /")


def baseline_totals(tree, base, measure):
    """Per node of `tree`: the baseline's total for the same call path (names root first), 0 when new."""
    if base is None:
        return None
    before = {}
    key_of = {}
    ids = []
    for i in range(len(base)):
        k = key_of.setdefault((ids[base.parent[i]] if base.parent[i] >= 0 else -1, base.names[i]), len(key_of))
        ids.append(k)
    base_totals = base.totals(measure)
    for i, k in enumerate(ids):
        before[k] = before.get(k, 0.0) + base_totals[i]
    out, mine = [], []
    for i in range(len(tree)):
        k = key_of.get((mine[tree.parent[i]] if tree.parent[i] >= 0 else -1, tree.names[i]), -2 - i)
        mine.append(k)
        out.append(before.get(k, 0.0))
    return out


def payload(report, baseline=None, diff=None):
    """The data the page draws, as one JSON-able dict."""
    tl = model.timeline(report)
    g = model.gen(report)
    t = model.obj(report, "totals")
    command = markdown._command(report)  # noqa: SLF001 (the same title as report.md)
    data = {
        "title": command or f"process {model.obj(report, 'process').get('pid', '')}",
        "headline": markdown.headline(report).replace("**", "").replace("`", ""),
        "generator": report.get("generator") if isinstance(report.get("generator"), str) else "allocprof",
        "totals": {"allocations": model.num(t.get("allocations")), "bytes": model.num(t.get("bytes_allocated")),
                   "peak_bytes": model.num(t.get("peak_live_bytes")), "peak_time_s": model.num(t.get("peak_time_s")),
                   "leaked_bytes": model.num(t.get("leaked_bytes")), "duration_s": model.num(t.get("duration_s"))},
        "timeline": {"start": tl.start, "end": tl.end, "live_min": tl.live_min, "live_max": tl.live_max,
                     "live_end": tl.live_end, "allocations": tl.allocations},
        "sawtooth": model.obj(report, "sawtooth"),
        "marks": [{"t": model.num(m.get("time_s")), "name": str(m.get("name", ""))}
                  for m in model.arr(report, "marks") if isinstance(m, dict)],
        "collections": None,
        "pools": [],
        "flame": model.obj(report, "flame") or None,
        "baseline_bytes": None,
        "verdict": None,
        "diff": [],
    }
    if g is not None:
        data["collections"] = {"t": [c.time_s for c in g.collections], "g": [c.generation for c in g.collections],
                               "before": [c.heap_before for c in g.collections],
                               "after": [c.heap_after for c in g.collections], "counts": list(g.counts),
                               "stride": g.stride, "sawtooth": model.obj(model.obj(report, "gen"), "sawtooth")}
    for p in model.pools(report):
        rows = []
        for b in p.buckets:
            rows.append([units.size_label(b.size), units.human_count(b.rents), units.human_count(b.hits),
                         units.percent(b.hit_rate) if b.hit_rate is not None else "–",
                         units.human_count(b.fallthrough.get("exhausted", 0)), units.human_count(b.fallthrough.get("fill", 0)),
                         units.human_count(b.fallthrough.get("oversize", 0)), units.human_count(sum(b.dropped.values()))])
        advice = ""
        if p.advisor is not None:
            advice = (f"advisor: max block {units.size_label(p.advisor.max_block)} (now {units.size_label(p.max_block)}),"
                      f" retains at most {units.human_bytes(p.advisor.retained_bytes)}")
        data["pools"].append({"name": p.name, "summary": f"{units.human_count(p.rents)} rents, {units.percent(p.hit_rate)} hits,"
                              f" {units.human_count(p.fallthroughs)} fell through ({units.human_bytes(p.fallthrough_bytes)})",
                              "advice": advice, "rows": rows})
    tree = flame.load(report)
    if tree is not None and baseline is not None:
        data["baseline_bytes"] = baseline_totals(tree, flame.load(baseline), "bytes")
    if diff is not None:
        data["verdict"] = {"text": " ".join(str(diff.get("verdict", "")).split()), "passed": diff.get("passed") is True}
        for name, m in model.obj(diff, "metrics").items():
            if isinstance(m, dict):
                before, after = model.num(m.get("before"), None), model.num(m.get("after"), None)
                # A sampled side's estimate with its 1 sigma, as in report.md.
                cells = [markdown._metric_value(name, v) + markdown._diff_sigma(name, m.get(side + "_sigma"))  # noqa: SLF001
                         for v, side in ((before, "before"), (after, "after"))]
                data["diff"].append([name, cells[0], cells[1], units.ratio_text(before, after)])
    return data


def render(report, baseline=None, diff=None):
    """The page's text. Raises MissingLibraries when d3 or d3-flame-graph is not installed."""
    libs = libraries()
    scripts = "\n".join(f"<script>/*!\n{_comment_safe(licence)}\n*/\n{_script_safe(script)}</script>"
                        for script, licence in libs)
    data = json.dumps(payload(report, baseline, diff), separators=(",", ":"), allow_nan=False)
    parts = {"STYLE": _read("report.css"), "TITLE": _escape(payload_title(report)), "LIBRARIES": scripts,
             "DATA": _script_safe(data), "SCRIPT": _script_safe(_read("report.js"))}
    # One pass: text put in is never scanned for placeholders again.
    return re.sub(r"@(STYLE|TITLE|LIBRARIES|DATA|SCRIPT)@", lambda m: parts[m.group(1)], _read("report.html.in"))


def payload_title(report):
    command = markdown._command(report)  # noqa: SLF001
    return f"allocprof report: {command}" if command else "allocprof report"


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
