"""Collections chart (when the pressure model ran, "gen"): how many collections counted as each
generation, and collections per second of each generation over time."""

from . import model, style, units


def finding(g):
    text = units.count_of(g.total, "simulated collection", "simulated collections")
    if g.total:
        text += f", {units.human_count(g.counts[2])} reached Gen2 ({units.percent(g.counts[2] / g.total)})"
    rate = units.compact_count(g.per_second) if g.per_second >= 100 else f"{g.per_second:.3g}"
    return text + f"; {rate} per second"


def subtitle(report):
    gen = model.obj(report, "gen")
    parts = []
    if "promoted_bytes" in gen:
        parts.append(f"promoted {units.human_bytes(model.num(gen.get('promoted_bytes')))}")
    if "loh_bytes" in gen:
        parts.append(f"large-object heap {units.human_bytes(model.num(gen.get('loh_bytes')))}")
    return ", ".join(parts) or None


def draw(report):
    g = model.gen(report)
    if g is None:
        raise ValueError("the report has no 'gen' section")
    fig, (count_ax, rate_ax) = style.figure(4.2, 1, 2, gridspec_kw={"width_ratios": [1, 3.2]})
    style.title(fig, finding(g), subtitle(report))

    names = ["Gen0", "Gen1", "Gen2"]
    bars = count_ax.bar(names, g.counts, color=list(style.GEN_COLOURS), width=0.65)
    count_ax.bar_label(bars, labels=[units.human_count(c) for c in g.counts], padding=2, fontsize=9)
    style.count_axis(count_ax.yaxis, "collections")
    count_ax.set_ylim(0, max(max(g.counts), 1) * 1.15)
    count_ax.grid(False, axis="x")

    duration = g.duration_s or model.num(model.obj(report, "totals").get("duration_s"))
    edges, rates = model.gen_rates(g, duration)
    if not edges or not any(any(r) for r in rates):
        style.no_data(rate_ax, "no collections")
        return fig
    tdiv = style.time_axis(rate_ax.xaxis, edges[-1])
    x = [e / tdiv for e in edges]
    # Every collection counts as Gen0, those of Gen1 or older also as Gen1: nested areas, Gen2 in front.
    labels = ["Gen0 (every collection)", "Gen1 or Gen2", "Gen2"]
    for i in range(3):
        rate_ax.stairs(rates[i], x, fill=True, color=style.GEN_COLOURS[i], label=labels[i])
    style.count_axis(rate_ax.yaxis, "collections per second")
    rate_ax.set_ylim(bottom=0)
    rate_ax.set_xlim(x[0], x[-1])
    style.legend_above(rate_ax, fraction=0.72)
    return fig
