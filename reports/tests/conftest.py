"""Fixtures for the report tests: the checked-in analyzer outputs (tests/golden/*.json) and
synthetic analyses with the optional sections ("gen", "pools", "counters") and a baseline/diff
pair shaped like the motivating regression (Gen0 43 -> 532, Gen2 5 -> 505). Deterministic: no
randomness, no clock. Also the checks the tests share: real PNG/SVG files, and no overlapping
labels (tests import these functions from conftest)."""

import copy
import glob
import itertools
import json
import math
import os
import struct
import sys
import xml.etree.ElementTree as ET

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORTS = os.path.dirname(HERE)
REPO = os.path.dirname(REPORTS)
sys.path.insert(0, REPORTS)

GOLDEN = sorted(glob.glob(os.path.join(REPO, "tests", "golden", "*.json")))

MiB = 1 << 20


def frame(function="", file="", line=0, module="/usr/bin/stress", offset=0x1000, inlined=False):
    return {"function": function, "file": file, "line": line, "module": module, "offset": offset, "inlined": inlined}


def stack(i, calls, nbytes, frames):
    return {"id": i, "calls": calls, "bytes": nbytes, "peak_bytes": nbytes // 4, "leaked_allocations": 0,
            "leaked_bytes": 0, "temporary_allocations": calls // 2, "frames": frames}


def synthetic(scale=1.0, collections=(532, 506, 505), duration=2.0, windows=200, period=0.25, peak=91 * MiB):
    """An analysis of a 2 s stress run: a sawtooth live heap, a steady allocation rate and, when
    `collections` is given, the pressure model's section."""
    width = duration / windows
    timeline = []
    allocs_per_window = int(4000 * scale)
    for w in range(windows):
        start = w * width
        phase = (start % period) / period
        low = 8 * MiB + (peak - 8 * MiB) * phase
        high = 8 * MiB + (peak - 8 * MiB) * min(1.0, phase + width / period)
        timeline.append({"start_s": round(start, 9), "end_s": round(start + width, 9), "live_min": int(low),
                         "live_max": int(high), "live_end": int(high if phase + width / period < 1 else 8 * MiB),
                         "allocations": allocs_per_window + (w % 7) * 50, "bytes_allocated": allocs_per_window * 4096,
                         "frees": allocs_per_window + (w % 5) * 40, "bytes_freed": allocs_per_window * 4096})
    allocations = sum(t["allocations"] for t in timeline)
    report = {
        "schema_version": 1, "generator": "allocprof test", "inputs": ["stress.trace"],
        "parameters": {"top_n": 10, "windows": windows, "window_s": 0, "large_object_bytes": 85000, "short_lived_s": 0.001},
        "process": {"file": "stress.trace", "pid": 42, "ppid": 1, "exe": "/usr/bin/stress",
                    "command_line": "/usr/bin/stress --messages 100000 | tee `x` <b>", "ended_cleanly": True, "execs": []},
        "totals": {"allocations": allocations, "frees": allocations - 10, "bytes_allocated": allocations * 4096,
                   "bytes_freed": allocations * 4000, "peak_live_bytes": peak, "peak_time_s": period * 0.99,
                   "leaked_allocations": 10, "leaked_bytes": 10 * 4096, "temporary_allocations": allocations // 2,
                   "short_lived_allocations": allocations // 3, "large_objects": int(120 * scale),
                   "large_object_bytes": int(120 * scale) * 2 * MiB, "mismatched_frees": 0, "frees_of_unknown": 0,
                   "duration_s": duration, "allocations_per_second": allocations / duration,
                   "bytes_per_second": allocations * 4096 / duration, "threads": 4, "events": 2 * allocations},
        "by_entry_point": {"malloc": {"calls": allocations, "bytes": allocations * 4096}},
        "large_object_threshold": 85000,
        "size_classes": [],
        "stacks": {
            "top_by_bytes": [
                stack(1, allocations // 2, allocations * 2048, [
                    frame("std::vector<char, std::allocator<char> >::_M_default_append(unsigned long)",
                          "/usr/include/c++/12/bits/vector.tcc", 650, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
                    frame("Serializer::Write(Batch const&) [clone .isra.0]", "/src/app/serializer.cc", 88),
                    frame("main", "/src/app/main.cc", 12)]),
                stack(2, allocations // 4, allocations * 1024, [frame("", "", 0, "/usr/lib/librdkafka.so.1", 0x4f2a0)]),
                stack(3, 10, 40960, [frame("operator|(Flags, Flags)", "/src/app/fl`ags.h", 3)]),
            ],
            "top_by_calls": [], "top_by_peak": [], "leaks": [],
        },
        "timeline_window_s": width,
        "timeline": timeline,
        "sawtooth": {"found": True, "period_s": period, "amplitude_bytes": peak - 8 * MiB, "correlation": 0.93},
        "mismatched_frees": {"count": 0, "stacks": []},
        "processes": [],
        "warnings": ["stress.trace: 3 frees of addresses the trace never saw allocated"],
    }
    report["stacks"]["top_by_calls"] = copy.deepcopy(report["stacks"]["top_by_bytes"])
    for k in range(4, 24):  # 16 B .. 8 MiB classes, powers of two
        lo = 1 << k
        calls = int(allocations * math.exp(-abs(k - 12) / 2) / 3)
        report["size_classes"].append({"min_bytes": lo, "max_bytes": 2 * lo - 1, "calls": calls, "bytes": calls * lo * 3 // 2,
                                       "call_share": 0.0, "byte_share": 0.0, "large_object": 2 * lo - 1 >= 85000})
    total_calls = sum(c["calls"] for c in report["size_classes"]) or 1
    total_bytes = sum(c["bytes"] for c in report["size_classes"]) or 1
    for c in report["size_classes"]:
        c["call_share"] = c["calls"] / total_calls
        c["byte_share"] = c["bytes"] / total_bytes
    if collections:
        report["gen"] = gen_section(collections, duration, peak)
    return report


def gen_section(counts, duration, peak):
    g0, g1, g2 = counts
    table = []
    for i in range(g0):
        # Spread each generation evenly through the run: Gen2 where the Gen2 count steps, else Gen1 where
        # the Gen1 count steps, else Gen0.
        steps = lambda n: i * n // g0 != (i + 1) * n // g0  # noqa: E731
        generation = 2 if steps(g2) else (1 if steps(g1) else 0)
        t = (i + 0.5) * duration / g0
        before = peak * (0.6 + 0.4 * ((i % 9) / 9))
        table.append({"index": i + 1, "time_s": t, "generation": generation, "loh_triggered": False,
                      "heap_before": int(before), "heap_after": int(before * 0.35), "promoted_bytes": 1000})
    windows = []
    for w in range(100):
        start, end = w * duration / 100, (w + 1) * duration / 100
        inside = [c for c in table if start <= c["time_s"] < end]
        windows.append({"start_s": start, "end_s": end, "gen0": len(inside),
                        "gen1": sum(c["generation"] >= 1 for c in inside), "gen2": sum(c["generation"] == 2 for c in inside),
                        "per_second": len(inside) / (end - start)})
    return {"gen0": g0, "gen1": sum(c["generation"] >= 1 for c in table), "gen2": sum(c["generation"] == 2 for c in table),
            "promoted_bytes": 123 * MiB, "loh_bytes": 240 * MiB, "collections_per_second": g0 / duration,
            "duration_s": duration, "collections": table, "collection_stride": 1, "windows": windows}


def pool_section(max_block=MiB, slots=8):
    """A pool as the analyzer writes it (analyzer/report/report_json.cc): buckets with rents only, oversize
    rents in the buckets above max_block, drops of full buckets per bucket, the advisor's slots as
    {size, slots} from 16 B up to its max_block. Read segments exhaust the 64 KiB bucket; produce
    requests of just over 1 MiB are oversize."""
    oversize = 9000
    shape = {256: (1500, 0), 16 << 10: (3000, 0), 64 << 10: (20000, 1800)}  # size: (rents, exhausted)
    buckets = []
    for size, (rents, exhausted) in sorted(shape.items()):
        fill = min(rents, slots)
        buckets.append({"size": size, "rents": rents, "hits": rents - exhausted - fill,
                        "fallthrough": {"oversize": 0, "exhausted": exhausted, "fill": fill},
                        "dropped_full": exhausted // 2, "max_concurrent_rents": 9})
    buckets.append({"size": 2 * MiB, "rents": oversize, "hits": 0,
                    "fallthrough": {"oversize": oversize, "exhausted": 0, "fill": 0}, "dropped_full": 0,
                    "max_concurrent_rents": 8})
    rents = sum(b["rents"] for b in buckets)
    hits = sum(b["hits"] for b in buckets)
    advised = {256: 2, 16 << 10: 4, 64 << 10: 32, 2 * MiB: 16}
    return {"name": "connection/write", "max_block": max_block, "slots_per_bucket": slots, "rents": rents, "hits": hits,
            "hit_rate": hits / rents,
            "fallthrough": {k: sum(b["fallthrough"][k] for b in buckets) for k in ("oversize", "exhausted", "fill")},
            "fallthrough_bytes": oversize * (MiB + 4096), "fallthrough_allocations": oversize + 1824,
            "dropped": {"full": sum(b["dropped_full"] for b in buckets), "oversize": oversize},
            "buckets": buckets, "top_fallthrough_stacks": [],
            "advisor": {"max_block": 4 * MiB,
                        "slots_per_bucket": [{"size": 16 << k, "slots": advised.get(16 << k, 0)} for k in range(19)],
                        "retained_bytes_worst_case": 92 * MiB, "hit_rate": 0.992, "target_hit_rate": 0.99}}


def diff_for(baseline, analysis):
    """A diff JSON shaped as RenderDiffJson writes it (allocprof diff --json)."""
    metrics = {}
    for name, section, key in (("allocations", "totals", "allocations"), ("bytes_allocated", "totals", "bytes_allocated"),
                               ("peak_live_bytes", "totals", "peak_live_bytes"), ("duration_s", "totals", "duration_s"),
                               ("gen0", "gen", "gen0"), ("gen1", "gen", "gen1"), ("gen2", "gen", "gen2")):
        b, a = baseline.get(section, {}).get(key), analysis.get(section, {}).get(key)
        if b is None and a is None:
            continue
        metrics[name] = {"before": b, "after": a, "ratio": a / b if a is not None and b else None}
    failed = metrics["allocations"]["ratio"] > 1.1
    return {"schema_version": 1, "before": "before.trace", "after": "after.trace", "metrics": metrics,
            "rules": [{"rule": "allocations>1.10x", "metric": "allocations", "applied": True, "failed": failed,
                       "before": metrics["allocations"]["before"], "after": metrics["allocations"]["after"],
                       "compared": metrics["allocations"]["ratio"]}],
            "grown_stacks": [{"stack": "Serializer::Write < main", "before_bytes": 1000, "after_bytes": 165000,
                              "before_calls": 10, "after_calls": 1650}],
            "new_stacks": [{"stack": "librdkafka.so.1+0x4f2a0 | x", "before_bytes": 0, "after_bytes": 5000,
                            "before_calls": 0, "after_calls": 5}],
            "passed": not failed,
            "verdict": ("verdict: FAIL — allocations 12.4x > 1.10x (1,234 -> 15,300)" if failed
                        else "verdict: PASS (4 of 4 rules applied)")}


@pytest.fixture(params=[os.path.basename(p) for p in GOLDEN])
def golden(request):
    with open(os.path.join(REPO, "tests", "golden", request.param)) as f:
        return json.load(f)


@pytest.fixture
def stress():
    """After the regression: a gen section, pools, many collections."""
    report = synthetic()
    report["pools"] = [pool_section()]
    report["counters"] = {"messages": 100000}
    return report


@pytest.fixture
def stress_baseline():
    return synthetic(scale=0.08, collections=(43, 6, 5), peak=12 * MiB, period=0.5)


@pytest.fixture
def stress_diff(stress_baseline, stress):
    return diff_for(stress_baseline, stress)


@pytest.fixture
def out_dir(tmp_path):
    return str(tmp_path)


# ---- checks ----------------------------------------------------------------------------------------
def png_size(path):
    """(width, height) from a PNG's IHDR; fails unless the file is a PNG."""
    with open(path, "rb") as f:
        head = f.read(33)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def assert_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg"), f"{path} is not an SVG"


def _overlap(a, b, slack=1.0):
    return a.x0 + slack < b.x1 and b.x0 + slack < a.x1 and a.y0 + slack < b.y1 and b.y0 + slack < a.y1


def assert_no_overlaps(fig):
    """Tick labels of one axis never overlap each other, no text or legend overlaps another axes'
    plotting area or the title, and everything stays inside the figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    texts = []  # (owner axes or None, extent, description)
    for ax in axes:
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            low, high = sorted(axis.get_view_interval())
            slack = (high - low) * 1e-6
            labels = [tick.label1 for tick in axis.get_major_ticks()
                      if low - slack <= tick.get_loc() <= high + slack and tick.label1.get_visible() and tick.label1.get_text()]
            boxes = [t.get_window_extent(renderer) for t in labels]
            for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
                angle = math.radians(labels[i].get_rotation() % 180)
                if name == "x" and angle:  # parallel slanted labels: compare their distance across the slant
                    ax_i, ax_j = (labels[k].get_window_extent(renderer).x1 for k in (i, j))
                    height = labels[i].get_fontsize() * fig.dpi / 72
                    assert abs(ax_i - ax_j) * math.sin(angle) >= height * 0.95, \
                        f"slanted x tick labels '{labels[i].get_text()}' and '{labels[j].get_text()}' overlap"
                    continue
                assert not _overlap(a, b), f"{name} tick labels '{labels[i].get_text()}' and '{labels[j].get_text()}' overlap"
            texts += [(ax, b, f"tick label {t.get_text()!r}") for t, b in zip(labels, boxes)]
        for t in [ax.title, ax.xaxis.label, ax.yaxis.label] + list(ax.texts):
            if t.get_visible() and t.get_text():
                texts.append((ax, t.get_window_extent(renderer), f"text {t.get_text()!r}"))
        legend = ax.get_legend()
        if legend is not None:
            texts.append((ax, legend.get_window_extent(renderer), "legend"))
    for ax in fig.axes:  # legends in legend-only axes (axis off)
        if not ax.axison and ax.get_legend() is not None:
            texts.append((ax, ax.get_legend().get_window_extent(renderer), "legend"))
    for t in (fig._suptitle, fig._supxlabel):  # noqa: SLF001
        if t is not None and t.get_text():
            texts.append((None, t.get_window_extent(renderer), f"figure text {t.get_text()[:30]!r}"))
    for owner, box, what in texts:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, f"{what} leaves the figure"
        for ax in axes:
            if ax is owner:
                continue
            assert not _overlap(box, ax.get_window_extent(renderer), slack=2), f"{what} overlaps another axes"
    figure_texts = [(b, w) for o, b, w in texts if o is None]
    for (box, what), (owner, other, other_what) in itertools.product(figure_texts, texts):
        if other is not box and owner is not None:
            assert not _overlap(box, other), f"{what} overlaps {other_what}"
    legends = [(o, b) for o, b, w in texts if w == "legend"]
    for (o1, b1), (o2, b2) in itertools.combinations(legends, 2):
        assert not _overlap(b1, b2), "two legends overlap"


def flame_section(paths, windows=4):
    """A "flame" section as the analyzer writes it (analyzer/report/flame.cc) from
    {("main", "Serializer::Write", ...): (calls, bytes)} of root-first paths: nodes merged by name,
    a parent before its children, self values at each path's last frame, each path's calls and bytes
    spread over the windows (the first window gets the remainder)."""
    names, index, parent, site = [], {}, [], []
    calls, nbytes = [], []
    sites = {"name": [], "file": [], "line": [], "module": [], "inlined": []}
    cells = []
    for path, (c, b) in paths.items():
        node = -1
        for depth in range(len(path)):
            key = path[:depth + 1]
            if key not in index:
                index[key] = len(parent)
                parent.append(node)
                name = path[depth]
                if name not in names:
                    names.append(name)
                    sites["name"].append(name)
                    sites["file"].append("" if name.startswith("[") or "+0x" in name else f"/src/app/{name.split('::')[0].lower()}.cc")
                    sites["line"].append(10 + len(names))
                    sites["module"].append("/usr/bin/stress")
                    sites["inlined"].append(0)
                site.append(names.index(name))
                calls.append(0)
                nbytes.append(0)
            node = index[key]
        calls[node] += c
        nbytes[node] += b
        for w in range(windows):
            share_c, share_b = c // windows + (c % windows if w == 0 else 0), b // windows + (b % windows if w == 0 else 0)
            if share_c or share_b:
                cells.append((node, w, share_c, share_b))
    cells.sort()
    return {"stacks": len(paths), "windows": windows, "sites": sites,
            "nodes": {"parent": parent, "site": site, "calls": calls, "bytes": nbytes,
                      "peak_bytes": [v // 4 for v in nbytes], "leaked_bytes": [0] * len(parent)},
            "by_window": {"node": [c[0] for c in cells], "window": [c[1] for c in cells],
                          "calls": [c[2] for c in cells], "bytes": [c[3] for c in cells]}}


STRESS_PATHS = {
    ("_start", "__libc_start_main", "main", "Run", "RunWriter", "Serializer::Write(Batch const&)",
     "operator new[](unsigned long)"): (5000, 620 * MiB),
    ("_start", "__libc_start_main", "main", "Run", "RunWriter", "Batch::Append(Message const&)"): (20000, 80 * MiB),
    ("clone3", "start_thread", "RunPump", "ResponseReader::Writable()", "ArrayPool::Rent(unsigned long)"): (3000, 200 * MiB),
    ("clone3", "start_thread", "RunPump", "librdkafka.so.1+0x4f2a0"): (900, 100 * MiB),
    ("[no-stack]",): (10, 1000),
}
