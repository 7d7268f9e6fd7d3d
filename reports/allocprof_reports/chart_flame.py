"""Flame graphs of the allocation call tree (an icicle: the whole run on top, callees below), by
bytes allocated or by allocation calls, and with a baseline a differential one: frames as wide as
this run's share, coloured by how much they grew (vermillion) or shrank (blue) against the
baseline. Sized for a pull request: 900 px wide, one row per frame depth (at most MAX_ROWS), labels
shortened (no templates or parameters) and elided to fit their frame, frames narrower than
MIN_FRAME_PX merged into one grey block per parent, so nothing overlaps."""

import functools
import hashlib

from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath

from . import flame, style, units

ROW_IN = 0.19  # inches per frame row (19 px)
MAX_ROWS = 36
MIN_FRAME_PX = 3.0
FONT_PT = 7.5
_FONT = FontProperties(size=FONT_PT)
_TEXT = TextToPath()
PLOT_PX = style.WIDTH_IN * style.DPI * 0.97
OTHER = "#c8c8c8"
RUNTIME = "#dddddd"
PSEUDO = "#f2f2f2"
_PROGRAM = ("#f7c873", "#f3b55a", "#efa24a", "#f9d58f", "#f4bf66", "#eeaa55")  # light oranges


def _program_colour(name):
    h = int(hashlib.md5(name.encode("utf-8", "replace")).hexdigest()[:6], 16)
    return _PROGRAM[h % len(_PROGRAM)]


def _mix(hex_colour, t):
    """hex_colour mixed with white: t=0 white, t=1 the colour."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % tuple(round(255 + (c - 255) * t) for c in (r, g, b))


@functools.lru_cache(maxsize=65536)
def text_px(text):
    """The width of `text` in pixels at the label font (as the renderer lays it out)."""
    width, _, _ = _TEXT.get_text_width_height_descent(text, _FONT, ismath=False)
    return width * style.DPI / 72.0


def elide(text, width_px):
    """`text`, or its longest prefix with '…' that fits width_px (less padding); '' when fewer
    than three characters would."""
    room = width_px - 5
    if text_px(text) <= room:
        return text
    lo, hi = 0, len(text) - 1  # the longest prefix that fits, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_px(text[:mid] + "…") <= room:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…" if lo >= 3 else ""


def label_for(name, width_px):
    """The frame's label (short name) elided to width_px."""
    return elide(flame.short_name(name), width_px)


def layout(tree, totals):
    """[(node or None, depth, x0, width, hidden count)]: the frames to draw as fractions of the
    whole; node None is a block of merged small frames. Children sorted heaviest first."""
    roots, kids = tree.children()
    whole = sum(totals[r] for r in roots)
    out = []
    if whole <= 0:
        return out, whole
    min_frac = MIN_FRAME_PX / PLOT_PX

    def place(level, depth, x0):
        if depth >= MAX_ROWS:
            return
        x = x0
        hidden, hidden_n = 0.0, 0
        for i in sorted(level, key=lambda k: (-totals[k], tree.names[k], k)):
            w = totals[i] / whole
            if w <= 0:
                continue
            if w < min_frac:
                hidden += w
                hidden_n += 1
                continue
            out.append((i, depth, x, w, 0))
            place(kids[i], depth + 1, x)
            x += w
        if hidden_n and hidden >= min_frac / 2:
            out.append((None, depth, x, hidden, hidden_n))

    out.append((-1, 0, 0.0, 1.0, 0))  # the whole run
    place(roots, 1, 0.0)
    return out, whole


def _figure(rows, finding):
    fig, ax = style.figure(ROW_IN * rows + 0.9)
    style.title(fig, finding)
    ax.set_xlim(0, 1)
    ax.set_ylim(rows, 0)
    ax.axis("off")
    return fig, ax


def _draw(ax, tree, frames, colour_of, whole_label):
    for node, depth, x0, w, hidden in frames:
        if node == -1:
            colour, name = "#e8e8e8", whole_label
        elif node is None:
            colour, name = OTHER, f"{hidden} small"
        else:
            colour, name = colour_of(node), tree.names[node]
        ax.add_patch(Rectangle((x0, depth), w, 0.92, facecolor=colour, edgecolor="white", linewidth=0.4))
        text = elide(name, w * PLOT_PX) if node in (-1, None) else label_for(name, w * PLOT_PX)
        if text:
            ax.text(x0 + 2 / PLOT_PX, depth + 0.46, text, fontsize=FONT_PT, va="center", ha="left", clip_on=True,
                    color="white" if _dark(colour) else "#222222")


def _dark(hex_colour):
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 140


def finding(tree, measure, totals):
    node, share = flame.finding_node(tree, totals)
    what = "bytes" if measure == "bytes" else "allocation calls" if measure == "calls" else flame.MEASURE_LABELS[measure]
    if node is None:
        return f"Flame graph of {what}: nothing allocated"
    where = f" ({tree.where(node)})" if tree.where(node) else ""
    return f"Flame graph: {units.percent(share)} of {what} under {flame.short_name(tree.names[node])}{where}"


def draw(report, measure="bytes"):
    """The flame graph of this run by `measure` ('bytes' or 'calls')."""
    tree = flame.load(report)
    totals = tree.totals(measure)
    frames, whole = layout(tree, totals)
    rows = max([d for _, d, _, _, _ in frames], default=0) + 1
    fig, ax = _figure(rows, finding(tree, measure, totals))
    whole_label = (f"all: {units.human_bytes(whole)}" if measure != "calls" else f"all: {units.count_of(whole, 'call', 'calls')}")

    def colour(node):
        if tree.names[node].startswith("["):
            return PSEUDO
        return RUNTIME if tree.is_runtime(node) else _program_colour(tree.names[node])

    _draw(ax, tree, frames, colour, whole_label)
    fig.flame_frames = frames
    return fig


def draw_diff(report, baseline, measure="bytes"):
    """Frames as wide as this run's `measure`, coloured by the change against the baseline's same
    call path (names root first): vermillion grew, blue shrank, full vermillion new."""
    tree, base = flame.load(report), flame.load(baseline)
    totals = tree.totals(measure)
    before = flame.keyed_totals(base, measure) if base is not None else {}
    paths = [tree.path(i) for i in range(len(tree))]
    delta = [totals[i] - before.get(paths[i], 0.0) for i in range(len(tree))]
    frames, whole = layout(tree, totals)
    rows = max([d for _, d, _, _, _ in frames], default=0) + 1
    shown = [n for n, *_ in frames if n is not None and n >= 0]
    scale = max((abs(delta[n]) for n in shown), default=0) or 1.0
    growth = whole - sum(v for k, v in before.items() if len(k) == 1)
    node = None
    grew = [n for n in shown if delta[n] > 0 and not tree.is_runtime(n)]
    if grew:  # the deepest program frame that carries at least half the growth, else the largest
        top = max(delta[n] for n in grew)
        node = max(grew, key=lambda n: (delta[n] >= 0.5 * max(growth, top), len(paths[n]), delta[n], -n))
    what = "bytes" if measure == "bytes" else "allocation calls"

    def fmt(v):
        sign = "-" if v < 0 else ""
        return sign + (units.human_bytes(abs(v)) if measure != "calls" else units.human_count(abs(v)))
    if node is not None:
        where = f" ({tree.where(node)})" if tree.where(node) else ""
        text = (f"Differential flame graph: {'+' if delta[node] >= 0 else ''}{fmt(delta[node])} {what} under"
                f" {flame.short_name(tree.names[node])}{where} against the baseline (vermillion: grew, blue: shrank)")
    else:
        text = f"Differential flame graph of {what}: no frame grew against the baseline"
    fig, ax = _figure(rows, text)

    def colour(n):
        d = delta[n]
        if paths[n] not in before and totals[n] > 0:
            return style.VERMILLION
        if abs(d) < scale * 0.02:
            return "#e6e6e6"
        return _mix(style.VERMILLION if d > 0 else style.BLUE, 0.25 + 0.75 * min(1.0, abs(d) / scale))

    _draw(ax, tree, frames, colour, f"all: {fmt(whole)} ({'+' if growth >= 0 else ''}{fmt(growth)})")
    fig.flame_frames = frames
    return fig
