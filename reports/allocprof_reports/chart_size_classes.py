"""Size-class chart: allocation calls and bytes per size class side by side, the classes that reach
the large-object threshold (85,000 B unless --loh-threshold) coloured and the threshold drawn
between them and the rest; when pools report per-bucket figures, each class's calls are split into
pool fall-throughs and other calls, next to the rents the pools served without allocating."""

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import model, style, units

OPEN_ENDED = 1 << 62  # a last class whose max is this large has no upper bound


def class_label(lo, hi):
    """'32–64 B', '512 B–1 KiB', '≥ 1 MiB' (the upper bound is exclusive, max_bytes + 1)."""
    if hi >= OPEN_ENDED:
        return f"≥ {units.size_label(lo)}"
    a, b = units.size_label(lo), units.size_label(hi + 1)
    ua, ub = a.rsplit(" ", 1), b.rsplit(" ", 1)
    if ua[1] == ub[1]:
        return f"{ua[0]}–{b}"
    return f"{a}–{b}"


def finding(report):
    classes = [c for c in model.arr(report, "size_classes") if isinstance(c, dict)]
    threshold = int(model.num(report.get("large_object_threshold"), 85000))
    if not classes:
        return "No allocations to classify"
    by_calls = max(classes, key=lambda c: model.num(c.get("calls")))
    by_bytes = max(classes, key=lambda c: model.num(c.get("bytes")))
    text = f"{units.percent(model.num(by_calls.get('call_share')))} of calls are " \
           f"{class_label(int(model.num(by_calls.get('min_bytes'))), int(model.num(by_calls.get('max_bytes'))))}"
    if by_bytes is not by_calls:
        text += f"; {units.percent(model.num(by_bytes.get('byte_share')))} of bytes are " \
                f"{class_label(int(model.num(by_bytes.get('min_bytes'))), int(model.num(by_bytes.get('max_bytes'))))}"
    totals = model.obj(report, "totals")
    large = model.num(totals.get("large_object_bytes"))
    allocated = model.num(totals.get("bytes_allocated"))
    if large > 0 and allocated > 0:
        text += f"; {units.percent(large / allocated)} of bytes are objects ≥ {units.size_label(threshold)}"
    else:
        text += f"; none reach the {units.size_label(threshold)} large-object threshold"
    return text


def draw(report):
    classes = [c for c in model.arr(report, "size_classes") if isinstance(c, dict)]
    threshold = int(model.num(report.get("large_object_threshold"), 85000))
    n = len(classes)
    height = max(3.6, 2.2 + 0.32 * n)
    fig = style.plt.figure(figsize=(style.WIDTH_IN, height), dpi=style.DPI, layout="constrained")
    axes = fig.subplot_mosaic([["calls", "bytes"], ["legend", "legend"]],
                              gridspec_kw={"height_ratios": [height - 1.3, 0.45]}, sharey=False)
    calls_ax, bytes_ax, legend_ax = axes["calls"], axes["bytes"], axes["legend"]
    bytes_ax.sharey(calls_ax)
    bytes_ax.tick_params(labelleft=False)
    legend_ax.axis("off")
    style.title(fig, finding(report))
    if not classes:
        style.no_data(calls_ax, "no allocations")
        style.no_data(bytes_ax, "")
        return fig
    labels = [class_label(int(model.num(c.get("min_bytes"))), int(model.num(c.get("max_bytes")))) for c in classes]
    # A class is large when all its sizes reach the threshold; the one the threshold falls inside straddles it.
    lows = [model.num(c.get("min_bytes")) for c in classes]
    highs = [model.num(c.get("max_bytes")) for c in classes]
    large = [lo >= threshold for lo in lows]
    straddles = [lo < threshold <= hi for lo, hi in zip(lows, highs)]
    colours = [style.ORANGE if big or mid else style.BLUE for big, mid in zip(large, straddles)]
    hatches = ["//" if mid else None for mid in straddles]
    ys = list(range(n))
    calls = [model.num(c.get("calls")) for c in classes]
    nbytes = [model.num(c.get("bytes")) for c in classes]

    split = model.size_class_pool_split(report, model.pools(report))
    extra = []
    if split:
        fell = [min(f, c) for (_, f), c in zip(split, calls)]
        other = [c - f for c, f in zip(calls, fell)]
        pooled = [p for p, _ in split]
        _bars(calls_ax, ys, other, colours, hatches)
        calls_ax.barh(ys, fell, left=other, color=style.PURPLE, height=0.7, label="pool fall-throughs")
        calls_ax.barh(ys, pooled, left=calls, color=style.GREEN, alpha=0.55, hatch="//", edgecolor="white",
                      height=0.7, label="served by a pool (no allocation)")
        widest = max(c + p for c, p in zip(calls, pooled))
        ends = [c + p for c, p in zip(calls, pooled)]
        extra = [Patch(color=style.PURPLE, label="pool fall-throughs"),
                    Patch(facecolor=style.GREEN, alpha=0.55, hatch="//", edgecolor="white",
                          label="rents a pool served (no allocation)")]
        calls_ax.set_xlabel("allocation calls and pool rents")
    else:
        _bars(calls_ax, ys, calls, colours, hatches)
        widest = max(calls)
        ends = calls
        calls_ax.set_xlabel("allocation calls")
    bdiv, bunit = units.byte_scale(max(nbytes))
    _bars(bytes_ax, ys, [b / bdiv for b in nbytes], colours, hatches)
    bytes_ax.set_xlabel(f"bytes allocated ({bunit})")

    for ax, values, positions, total, fmt, right in (
            (calls_ax, calls, ends, sum(calls), _count_text, widest),
            (bytes_ax, [b / bdiv for b in nbytes], [b / bdiv for b in nbytes], sum(nbytes) / bdiv,
             lambda v: units.human_bytes(v * bdiv), max(nbytes) / bdiv)):
        for y, v, at in zip(ys, values, positions):
            if v > 0:
                ax.text(at + right * 0.015, y, f"{fmt(v)} ({units.percent(v / total)})", va="center", fontsize=8.5)
        ax.set_xlim(0, (right or 1) * 1.35)
        ax.grid(False, axis="y")
    style.count_axis(calls_ax.xaxis, calls_ax.get_xlabel())
    style.category_ticks(calls_ax, labels, axis="y")
    calls_ax.set_ylabel("size class")
    calls_ax.set_ylim(-0.6, n - 0.4)

    edge = next((i for i in range(n) if large[i] or straddles[i]), None)
    handles = [Patch(color=style.BLUE, label="small objects")]
    if any(large):
        handles.append(Patch(color=style.ORANGE, label=f"large objects (≥ {units.size_label(threshold)})"))
    if any(straddles):
        handles.append(Patch(facecolor=style.ORANGE, hatch="//", edgecolor="white",
                             label=f"class straddles {units.size_label(threshold)}"))
    if edge is not None:
        for ax in (calls_ax, bytes_ax):
            ax.axhline(edge - 0.5, color=style.BLACK, linestyle="--", linewidth=1.1)
        handles.append(Line2D([], [], color=style.BLACK, linestyle="--",
                              label=f"{units.size_label(threshold)} large-object threshold"))
    handles += extra
    legend_ax.legend(handles=handles, loc="center", ncol=len(handles) if len(handles) <= 4 else 3)
    return fig


def _bars(ax, ys, values, colours, hatches):
    for y, v, c, h in zip(ys, values, colours, hatches):
        ax.barh(y, v, color=c, height=0.7, hatch=h, edgecolor="white" if h else c, linewidth=0)


def _count_text(v):
    return units.human_count(v) if v < 100000 else units.compact_count(v)
