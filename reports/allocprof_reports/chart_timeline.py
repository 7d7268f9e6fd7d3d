"""Timeline chart: the live heap over time (per-window min-max band and the value at each window's
end, the peak marked), the simulated collections when the pressure model ran (one tick each, in the
lane of the oldest generation it collected), and the allocation and free rates beneath on the same
time axis."""

from . import model, style, units


def finding(report, g=None):
    totals = model.obj(report, "totals")
    peak = model.num(totals.get("peak_live_bytes"), None)
    if peak is None:  # a sampled trace: the peak of an estimate is not an estimate of the peak
        text = "Live heap estimated from a sample (its peak: not available when sampling)"
    else:
        text = f"Live heap peaks at {units.human_bytes(peak)} at {units.human_seconds(model.num(totals.get('peak_time_s')))}"
    saw = model.obj(report, "sawtooth")
    if peak is None:
        pass  # a sampled trace: no periodic pattern is looked for in an estimate
    elif saw.get("found") and model.num(saw.get("period_s")) > 0:
        text += (f"; sawtooth every {units.human_seconds(model.num(saw.get('period_s')))}"
                 f" ({units.human_bytes(model.num(saw.get('amplitude_bytes')))} deep)")
    else:
        text += "; no periodic pattern"
    gsaw = model.obj(model.obj(report, "gen"), "sawtooth")
    if g is not None and g.total and gsaw.get("found") and model.num(gsaw.get("period_s")) > 0:
        text += (f"; the simulated GC heap saw-tooths every {units.human_seconds(model.num(gsaw.get('period_s')))}"
                 f" ({units.human_bytes(model.num(gsaw.get('amplitude_bytes')))} deep)")
    if g is not None and g.total:
        text += f"; {units.count_of(g.total, 'simulated collection', 'simulated collections')} ({units.human_count(g.counts[2])} Gen2)"
    return text


def draw(report):
    tl = model.timeline(report)
    g = model.gen(report)
    marks = g is not None and bool(g.collections)
    if marks:
        fig, axes = style.figure(6.8, 3, 1, sharex=True, gridspec_kw={"height_ratios": [3.2, 0.9, 1.6]})
        heap_ax, gen_ax, rate_ax = axes
    else:
        fig, axes = style.figure(5.8, 2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.6]})
        heap_ax, rate_ax = axes
        gen_ax = None
    style.title(fig, finding(report, g))
    if not len(tl):
        style.no_data(heap_ax, "no allocations recorded")
        style.no_data(rate_ax, "")
        if gen_ax is not None:
            style.no_data(gen_ax, "")
        return fig

    end = max(tl.end[-1], max((c.time_s for c in g.collections), default=0) if marks else 0)
    tdiv = style.time_axis(rate_ax.xaxis, end)
    edges = [s / tdiv for s in tl.start] + [tl.end[-1] / tdiv]
    ends = [e / tdiv for e in tl.end]

    totals = model.obj(report, "totals")
    top = max(tl.live_max + [model.num(totals.get("peak_live_bytes"))])
    if marks:
        top = max([top] + [c.heap_before for c in g.collections])
    bdiv = style.bytes_axis(heap_ax.yaxis, top, "live heap")
    if model.num(totals.get("peak_live_bytes"), None) is not None:  # a sampled trace has no window extremes
        heap_ax.stairs([v / bdiv for v in tl.live_max], edges, baseline=[v / bdiv for v in tl.live_min], fill=True,
                       color=style.SKY_BLUE, alpha=0.45, linewidth=0, label="min–max in each window")
    heap_ax.plot([edges[0]] + ends, [0] + [v / bdiv for v in tl.live_end], color=style.BLUE, linewidth=1.6,
                 label="live at window end")
    peak = model.num(totals.get("peak_live_bytes"))
    if peak > 0:
        heap_ax.plot([model.num(totals.get("peak_time_s")) / tdiv], [peak / bdiv], linestyle="none", marker="v",
                     markersize=8, color=style.VERMILLION, label=f"peak {units.human_bytes(peak)}")
    if marks:
        # The simulated GC heap (live plus freed-not-yet-collected): grows to each collection's
        # heap_before and drops to its heap_after, the sawtooth a .NET heap would draw.
        xs, ys = [], []
        for c in g.collections:
            xs += [c.time_s / tdiv, c.time_s / tdiv]
            ys += [c.heap_before / bdiv, c.heap_after / bdiv]
        heap_ax.plot(xs, ys, color=style.VERMILLION, linewidth=0.8, alpha=0.85, label="simulated GC heap")
    heap_ax.set_ylim(bottom=0, top=top / bdiv * 1.08 if top > 0 else 1)
    style.legend_above(heap_ax)

    if gen_ax is not None:
        lanes = [[c.time_s / tdiv for c in g.collections if c.generation == i] for i in range(3)]
        gen_ax.eventplot(lanes, lineoffsets=[0, 1, 2], linelengths=0.75, linewidths=1.0, colors=list(style.GEN_COLOURS))
        gen_ax.set_yticks([0, 1, 2], ["Gen0", "Gen1", "Gen2"])
        gen_ax.set_ylim(-0.6, 2.6)
        gen_ax.set_ylabel("collected")
        gen_ax.grid(False, axis="y")

    rate_ax.stairs(tl.rate(tl.allocations), edges, fill=True, color=style.BLUE, alpha=0.35,
                   label="allocations/s")
    rate_ax.stairs(tl.rate(tl.allocations), edges, baseline=None, color=style.BLUE, linewidth=1.0)
    rate_ax.stairs(tl.rate(tl.frees), edges, baseline=None, color=style.VERMILLION, linewidth=1.1, label="frees/s")
    style.count_axis(rate_ax.yaxis, "rate (per second)")
    rate_ax.set_ylim(bottom=0)
    rate_ax.set_xlim(0, edges[-1])
    style.legend_above(rate_ax)
    return fig
