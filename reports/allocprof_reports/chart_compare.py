"""Before/after charts for a run with a baseline: the headline figures side by side (one small
panel per metric, each with its own unit, titled with its ratio), and the two live-heap timelines
and allocation rates overlaid on one time axis. The diff's verdict goes under the headline."""

import math

from . import model, style, units

WORSE, BETTER, SAME = style.VERMILLION, style.GREEN, style.BLACK


def ratio_words(h):
    r = h.ratio
    if r == math.inf:
        return "new (baseline: 0)"
    return units.ratio_text(h.before, h.after)


def finding(headlines):
    h = model.biggest_change(headlines)
    if h is None:
        return "No figures to compare"
    if h.ratio == math.inf:
        return f"{h.label}: {units.human_count(h.after)}, none in the baseline"
    return f"{h.label} {units.ratio_text(h.before, h.after)} baseline"


def _value_text(v, kind):
    if 0 < abs(v) < 10 and v != round(v):  # per-unit figures: 0.000319 allocations per message
        return f"{v:.3g}" + (" B" if kind == "bytes" else "")
    return units.human_bytes(v) if kind == "bytes" else units.human_count(v)


def draw_ratios(analysis, baseline, diff=None):
    headlines = model.headline_metrics(analysis, baseline, diff)
    n = max(1, len(headlines))
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = style.figure(1.2 + 2.5 * rows, rows, cols, squeeze=False)
    verdict = diff.get("verdict") if isinstance(diff, dict) else None
    style.title(fig, finding(headlines), _short(verdict) if isinstance(verdict, str) else None)
    flat = [ax for row in axes for ax in row]
    for ax, h in zip(flat, headlines):
        top = max(h.before, h.after) or 1
        if h.kind == "bytes":  # plot in the unit, so the ticks are round numbers of it
            divisor, unit = units.byte_scale(top)
            ax.set_ylabel(unit)
        else:
            divisor = 1
            style.count_axis(ax.yaxis, "count")
        bars = ax.bar(["baseline", "this run"], [h.before / divisor, h.after / divisor],
                      color=[style.BEFORE, style.AFTER], width=0.6)
        ax.bar_label(bars, labels=[_value_text(h.before, h.kind), _value_text(h.after, h.kind)], padding=2, fontsize=9)
        ax.set_ylim(0, top / divisor * 1.2)
        colour = SAME if 0.9 <= h.ratio <= 1.1 else (WORSE if h.ratio > 1 else BETTER)
        ax.set_title(f"{h.label}: {ratio_words(h)}", color=colour, fontsize=10.5)
        ax.grid(False, axis="x")
    if not headlines:
        style.no_data(flat[0], "no figures in common")
    for ax in flat[len(headlines):] if headlines else flat[1:]:
        ax.set_visible(False)
    return fig


def _short(text, limit=220):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finding_timelines(analysis, baseline):
    a = model.num(model.obj(analysis, "totals").get("peak_live_bytes"), None)
    b = model.num(model.obj(baseline, "totals").get("peak_live_bytes"), None)
    if a is None or b is None:  # a sampled side: its peak is not available
        return "Live heap over time against the baseline (peak: not available when sampling)"
    return (f"Peak live heap {units.human_bytes(a)} vs {units.human_bytes(b)} in the baseline"
            f" ({units.ratio_text(b, a)})")


def draw_timelines(analysis, baseline):
    fig, (heap_ax, rate_ax) = style.figure(5.8, 2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.6]})
    style.title(fig, finding_timelines(analysis, baseline))
    sides = [("baseline", model.timeline(baseline), style.BEFORE), ("this run", model.timeline(analysis), style.AFTER)]
    sides = [(name, tl, colour) for name, tl, colour in sides if len(tl)]
    if not sides:
        style.no_data(heap_ax, "no allocations in either run")
        style.no_data(rate_ax, "")
        return fig
    end = max(tl.end[-1] for _, tl, _ in sides)
    top = max(max(tl.live_max) for _, tl, _ in sides)
    tdiv = style.time_axis(rate_ax.xaxis, end)
    bdiv = style.bytes_axis(heap_ax.yaxis, top, "live heap")
    for name, tl, colour in sides:
        edges = [s / tdiv for s in tl.start] + [tl.end[-1] / tdiv]
        heap_ax.stairs([v / bdiv for v in tl.live_max], edges, baseline=[v / bdiv for v in tl.live_min], fill=True,
                       color=colour, alpha=0.25, linewidth=0)
        heap_ax.plot([edges[0]] + [e / tdiv for e in tl.end], [0] + [v / bdiv for v in tl.live_end], color=colour,
                     linewidth=1.6, label=name)
        rate_ax.stairs(tl.rate(tl.allocations), edges, baseline=None, color=colour, linewidth=1.4, label=name)
    heap_ax.set_ylim(bottom=0, top=top / bdiv * 1.08 if top > 0 else 1)
    style.legend_above(heap_ax)
    style.count_axis(rate_ax.yaxis, "allocations per second")
    rate_ax.set_ylim(bottom=0)
    rate_ax.set_xlim(0, end / tdiv)
    return fig

