"""Every chart renders from the checked-in analyzer output and from synthetic analyses with the
optional sections; the files are valid PNG (900 px wide) and SVG; the Figure objects carry the
finding in the title, labelled axes with units, the expected series, and no overlapping text."""

import copy
import os

import pytest

from allocprof_reports import (chart_collections, chart_compare, chart_pools, chart_size_classes, chart_timeline,
                               model, output, style)
from conftest import MiB, assert_no_overlaps, assert_svg, diff_for, png_size, synthetic


def save_and_check(fig, out_dir, stem):
    png, svg = output.save_figure(fig, out_dir, stem)
    width, height = png_size(os.path.join(out_dir, png))
    assert width == 900 and 250 <= height <= 1000
    assert_svg(os.path.join(out_dir, svg))
    assert_no_overlaps(fig)
    style.close(fig)


def titled(fig):
    return style.headline(fig).replace("\n", " ")


def labels(ax):
    return ax.get_xlabel(), ax.get_ylabel()


# ---- timeline ------------------------------------------------------------------------------------

def test_timeline_from_golden(golden, out_dir):
    fig = chart_timeline.draw(golden)
    heap_ax, rate_ax = fig.axes
    assert titled(fig).startswith("Live heap peaks at ")
    assert heap_ax.get_ylabel() in ("live heap (B)", "live heap (KiB)", "live heap (MiB)")
    assert rate_ax.get_xlabel().startswith("time since start (")
    assert rate_ax.get_ylabel() == "rate (per second)"
    # live-at-end line and the peak marker; band + rates as step patches
    assert [line.get_label() for line in heap_ax.get_lines()][0] == "live at window end"
    assert len(heap_ax.patches) == 1
    assert [p.get_label() for p in rate_ax.patches if p.get_label() and not p.get_label().startswith("_")] == ["allocations/s", "frees/s"]
    assert heap_ax.get_shared_x_axes().joined(heap_ax, rate_ax)
    save_and_check(fig, out_dir, "timeline")


def test_timeline_states_peak_and_sawtooth():
    report = synthetic(collections=None)
    fig = chart_timeline.draw(report)
    assert titled(fig) == "Live heap peaks at 91.0 MiB at 248 ms; sawtooth every 250 ms (83.0 MiB deep)"
    assert fig.axes[0].get_ylabel() == "live heap (MiB)"
    assert fig.axes[1].get_xlabel() == "time since start (s)"
    assert len(fig.axes) == 2, "no collections lane without a gen section"
    peak = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("peak")]
    assert peak and peak[0].get_ydata()[0] == pytest.approx(91.0)
    style.close(fig)


def test_timeline_marks_collections_by_generation(out_dir):
    report = synthetic()
    fig = chart_timeline.draw(report)
    heap_ax, gen_ax, rate_ax = fig.axes
    assert "532 simulated collections (505 Gen2)" in titled(fig)
    assert [t.get_text() for t in gen_ax.get_yticklabels()] == ["Gen0", "Gen1", "Gen2"]
    lanes = gen_ax.collections
    assert len(lanes) == 3
    g = model.gen(report)
    assert [len(lane.get_positions()) for lane in lanes] == [sum(c.generation == i for c in g.collections) for i in range(3)]
    assert sum(len(lane.get_positions()) for lane in lanes) == 532
    assert gen_ax.get_shared_x_axes().joined(gen_ax, rate_ax)
    save_and_check(fig, out_dir, "timeline")


def test_timeline_without_allocations(out_dir):
    report = synthetic(collections=None)
    report["timeline"] = []
    report["totals"]["peak_live_bytes"] = 0
    fig = chart_timeline.draw(report)
    assert fig.axes[0].texts[0].get_text() == "no allocations recorded"
    save_and_check(fig, out_dir, "empty")


# ---- size classes --------------------------------------------------------------------------------

def test_size_classes_from_golden(golden, out_dir):
    fig = chart_size_classes.draw(golden)
    calls_ax, bytes_ax = fig.axes[0], fig.axes[1]
    classes = golden["size_classes"]
    assert calls_ax.get_xlabel() == "allocation calls"
    assert bytes_ax.get_xlabel().startswith("bytes allocated (")
    assert len(calls_ax.patches) == len(classes) and len(bytes_ax.patches) == len(classes)
    assert [t.get_text() for t in calls_ax.get_yticklabels()][0] == chart_size_classes.class_label(
        classes[0]["min_bytes"], classes[0]["max_bytes"])
    assert " of calls are " in titled(fig)
    save_and_check(fig, out_dir, "size-classes")


def test_size_classes_mark_the_large_object_threshold():
    report = synthetic(collections=None)
    fig = chart_size_classes.draw(report)
    calls_ax = fig.axes[0]
    threshold_lines = [line for line in calls_ax.get_lines() if line.get_linestyle() == "--"]
    assert len(threshold_lines) == 1
    # the 64-128 KiB class straddles 85,000 B: the line sits just below it
    index = [c["min_bytes"] for c in report["size_classes"]].index(64 << 10)
    assert threshold_lines[0].get_ydata()[0] == pytest.approx(index - 0.5)
    legend = fig.axes[2].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert "85,000 B large-object threshold" in texts and "class straddles 85,000 B" in texts
    assert "of bytes are objects ≥ 85,000 B" in titled(fig)
    style.close(fig)


def test_size_classes_stack_pooled_and_fallen_through(stress, out_dir):
    fig = chart_size_classes.draw(stress)
    calls_ax = fig.axes[0]
    n = len(stress["size_classes"])
    assert len(calls_ax.patches) == 3 * n  # other calls, fall-throughs, pooled rents
    assert calls_ax.get_xlabel() == "allocation calls and pool rents"
    legend = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert "pool fall-throughs" in legend and "rents a pool served (no allocation)" in legend
    save_and_check(fig, out_dir, "size-classes-pooled")


def test_class_labels():
    assert chart_size_classes.class_label(32, 63) == "32–64 B"
    assert chart_size_classes.class_label(512, 1023) == "512 B–1 KiB"
    assert chart_size_classes.class_label(65536, 131071) == "64–128 KiB"
    assert chart_size_classes.class_label(1 << 20, (1 << 64) - 1) == "≥ 1 MiB"


# ---- pools ---------------------------------------------------------------------------------------

def test_pool_chart(stress, out_dir):
    (pool,) = model.pools(stress)
    fig = chart_pools.draw(pool)
    rent_ax, rate_ax, drop_ax, slot_ax = fig.axes
    assert titled(fig) == "Pool 'connection/write': 67.7% of 33,500 rents hit; 10,824 fell through (9,000 oversize)"
    assert style.note(fig).replace("\n", " ") == ("Advisor: max block 4 MiB (now 1 MiB), 2–32 slots per bucket (now 8)"
                                                  " → 99.2% hits, retains ≤ 92.0 MiB")
    sizes = chart_pools.columns(pool)
    assert sizes[0] == 128 and sizes[-1] == 4 * MiB  # one idle bucket before the first busy one
    assert rent_ax.get_ylabel() == "rents" and rate_ax.get_ylabel() == "hit rate (%)"
    assert drop_ax.get_ylabel() == "dropped returns" and slot_ax.get_ylabel() == "slots per bucket"
    assert slot_ax.get_xlabel() == "bucket (block size)"
    legend = [t.get_text() for t in rent_ax.get_legend().get_texts()]
    assert legend == ["served from the pool", "fell through: exhausted", "fell through: fill", "fell through: oversize",
                      "largest pooled block (1 MiB)"]
    assert len(rent_ax.patches) == 4 * len(sizes)
    over = sizes.index(2 * MiB)
    assert sum(p.get_height() for p in rent_ax.patches if abs(p.get_x() + p.get_width() / 2 - over) < 0.01) == 9000
    boundary = [line for line in rent_ax.get_lines() if line.get_linestyle() == "--"]
    assert boundary[0].get_xdata()[0] == sizes.index(MiB) + 0.5
    assert [t.get_text() for t in drop_ax.get_legend().get_texts()] == [
        "dropped: full", "9,000 dropped: oversize (not per bucket)"]
    assert [t.get_text() for t in slot_ax.get_legend().get_texts()] == [
        "configured (8 per bucket up to 1 MiB)", "advisor (2–32 per bucket up to 4 MiB)"]
    assert len(slot_ax.patches) == 2 * len(sizes)
    assert len(rate_ax.get_lines()[0].get_xdata()) == 4  # buckets with rents
    save_and_check(fig, out_dir, chart_pools.slug(pool.name, 0))


def test_pool_in_other_shapes(stress, out_dir):
    """Buckets without sizes (index order), fall-throughs as a bare count, drops only per pool, no advisor."""
    p = stress["pools"][0]
    del p["advisor"]
    p["buckets"] = [{"rents": 10, "hits": 4, "fallthrough": 6} for _ in range(6)]
    (pool,) = model.pools(stress)
    assert [b.size for b in pool.buckets] == [16 << i for i in range(6)]
    fig = chart_pools.draw(pool)
    assert style.note(fig) == ""
    drops = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert drops == ["900 dropped: full (not per bucket)", "9,000 dropped: oversize (not per bucket)"]
    assert fig.axes[2].texts[0].get_text() == "dropped returns not reported per bucket"
    save_and_check(fig, out_dir, "pool-plain")


def test_pool_slug_is_file_name_safe():
    assert chart_pools.slug("../../etc/passwd", 0) == "pool-1-etc-passwd"
    assert chart_pools.slug("conn pool #2 (write)", 4) == "pool-5-conn-pool-2-write"
    assert chart_pools.slug("", 1) == "pool-2-pool"


# ---- collections ---------------------------------------------------------------------------------

def test_collections_chart(out_dir):
    report = synthetic()
    fig = chart_collections.draw(report)
    count_ax, rate_ax = fig.axes
    g = model.gen(report)
    assert titled(fig) == "532 simulated collections, 505 reached Gen2 (94.9%); 266 per second"
    assert [p.get_height() for p in count_ax.patches] == list(g.counts)
    assert [t.get_text() for t in count_ax.get_xticklabels()] == ["Gen0", "Gen1", "Gen2"]
    assert count_ax.get_ylabel() == "collections"
    assert rate_ax.get_ylabel() == "collections per second" and rate_ax.get_xlabel() == "time since start (s)"
    assert [p.get_label() for p in rate_ax.patches] == ["Gen0 (every collection)", "Gen1 or Gen2", "Gen2"]
    assert style.note(fig) == "promoted 123.0 MiB, large-object heap 240.0 MiB"
    save_and_check(fig, out_dir, "collections")


def test_collections_rates_from_the_table_alone():
    report = synthetic()
    del report["gen"]["windows"], report["gen"]["gen1"]
    g = model.gen(report)
    edges, rates = model.gen_rates(g, 2.0, bins=50)
    assert len(edges) == 51
    width = 2.0 / 50
    assert sum(rates[0]) * width == pytest.approx(532)
    assert sum(rates[2]) * width == pytest.approx(g.counts[2])
    assert g.counts[1] == sum(c.generation >= 1 for c in g.collections)
    fig = chart_collections.draw(report)
    assert len(fig.axes[1].patches) == 3
    style.close(fig)


def test_sampled_timeline_states_no_peak(out_dir):
    report = synthetic(collections=None)
    report["sampling"] = {"interval_bytes": 65536, "estimated": True, "samples": 10}
    report["totals"] = dict(report["totals"], peak_live_bytes=None, peak_time_s=None)
    report["gen"] = None
    report["sawtooth"] = None
    for w in report["timeline"]:  # a sampled window has no extremes
        w["live_min"] = w["live_max"] = None
    fig = chart_timeline.draw(report)
    assert titled(fig).startswith("Live heap estimated from a sample (its peak: not available when sampling)")
    assert "periodic" not in titled(fig) and "sawtooth" not in titled(fig)
    assert not [line for line in fig.axes[0].get_lines() if line.get_label().startswith("peak")]
    assert not fig.axes[0].patches, "no min-max band"
    top = fig.axes[0].get_ylim()[1]
    assert top > 0 and max(line.get_ydata().max() for line in fig.axes[0].get_lines()) <= top
    save_and_check(fig, out_dir, "timeline-sampled")
    assert chart_compare.finding_timelines(report, report) == \
        "Live heap over time against the baseline (peak: not available when sampling)"
    assert [h.metric for h in model.headline_metrics(report, report)] == ["allocations", "bytes_allocated"]


def test_collections_chart_needs_gen():
    with pytest.raises(ValueError):
        chart_collections.draw(synthetic(collections=None))


# ---- before / after ------------------------------------------------------------------------------

def test_comparison_bars(stress, stress_baseline, stress_diff, out_dir):
    fig = chart_compare.draw_ratios(stress, stress_baseline, stress_diff)
    assert titled(fig) == "Gen2 collections 101x baseline"
    assert style.note(fig).startswith("verdict: FAIL")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split(":")[0] for ax in visible] == [
        "Allocations", "Bytes allocated", "Peak live heap", "Gen0 collections", "Gen1 collections", "Gen2 collections"]
    for ax in visible:
        assert len(ax.patches) == 2
        assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", "this run"]
        assert ax.get_ylabel() in ("count", "B", "KiB", "MiB", "GiB")
    assert visible[2].get_ylabel() == "MiB"
    assert visible[0].get_title() == "Allocations: 8.85x"
    save_and_check(fig, out_dir, "comparison")


def test_comparison_without_diff_or_gen(golden, out_dir):
    golden.pop("gen")
    baseline = copy.deepcopy(golden)
    baseline["totals"]["allocations"] = max(1, golden["totals"]["allocations"] // 165)
    fig = chart_compare.draw_ratios(golden, baseline, None)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 3
    assert style.note(fig) == ""
    assert titled(fig).startswith("Allocations ")
    save_and_check(fig, out_dir, "comparison")


def test_comparison_reports_per_unit_figures(stress, stress_baseline):
    diff = diff_for(stress_baseline, stress)
    diff["metrics"]["allocations_per_messages"] = {"before": 1.5, "after": 8.3, "ratio": 8.3 / 1.5}
    headlines = model.headline_metrics(stress, stress_baseline, diff)
    assert headlines[-1].label == "Allocations per message"
    fig = chart_compare.draw_ratios(stress, stress_baseline, diff)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 7
    style.close(fig)


def test_overlaid_timelines(stress, stress_baseline, out_dir):
    fig = chart_compare.draw_timelines(stress, stress_baseline)
    heap_ax, rate_ax = fig.axes
    assert titled(fig) == "Peak live heap 91.0 MiB vs 12.0 MiB in the baseline (7.58x)"
    assert [line.get_label() for line in heap_ax.get_lines()] == ["baseline", "this run"]
    assert heap_ax.get_ylabel() == "live heap (MiB)"
    assert rate_ax.get_ylabel() == "allocations per second" and rate_ax.get_xlabel() == "time since start (s)"
    assert len(rate_ax.patches) == 2
    save_and_check(fig, out_dir, "timeline-compare")


def test_new_metric_in_this_run_only():
    before = synthetic(collections=None, peak=8 * MiB)
    after = synthetic()
    before["totals"]["allocations"] = 0
    fig = chart_compare.draw_ratios(after, before, None)
    assert titled(fig) == "Allocations: 829,700, none in the baseline"
    style.close(fig)
