"""The look every chart shares: the Agg backend, the Okabe-Ito colour-blind-safe palette, a
900-pixel-wide figure (a pull request's width), constrained layout so labels never overlap, axis
formatters that put the unit in the label and round numbers on the ticks, and titles that wrap."""

import math
import re
import textwrap

import matplotlib

matplotlib.use("Agg")  # no display: charts are files

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib import ticker  # noqa: E402

from . import units  # noqa: E402

# Okabe & Ito, "Color Universal Design": distinguishable with every common colour-vision deficiency.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#999999"

# Series that mean the same thing get the same colour in every chart.
BEFORE = GREY
AFTER = BLUE
GEN_COLOURS = (SKY_BLUE, ORANGE, VERMILLION)  # Gen0, Gen1, Gen2

WIDTH_IN = 9.0  # at DPI 100: 900 px, a pull request's column
DPI = 100
TITLE_CHARS = 84  # wrap titles longer than this (about the figure's width at 13 pt bold)

matplotlib.rcParams.update({
    "font.size": 10.5,
    "axes.titlesize": 11.5,
    "axes.titleweight": "bold",
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "axes.labelsize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "legend.fontsize": 9.5,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=[BLUE, ORANGE, GREEN, VERMILLION, SKY_BLUE, PURPLE, YELLOW, BLACK]),
    "svg.hashsalt": "allocprof",  # stable element ids: the same JSON gives the same SVG
    "figure.constrained_layout.h_pad": 0.06,
    "figure.constrained_layout.w_pad": 0.06,
})


def figure(height_in, rows=1, cols=1, **kwargs):
    """A figure WIDTH_IN wide with constrained layout, and its axes (as plt.subplots)."""
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained", **kwargs)
    return fig, axes


def title(fig, text, note=None):
    """The figure's headline (the finding), wrapped, at the top; an optional note (context such as
    the advisor's advice or the verdict) in smaller type at the bottom. The finding's text,
    unwrapped, stays on the figure as `fig.finding` (alt text for report.md)."""
    fig.finding = text
    fig.suptitle(wrap(text, TITLE_CHARS))
    if note:
        fig.supxlabel(wrap(note, int(TITLE_CHARS * 1.35)), fontsize=9.5, color="#333333")


def wrap(text, width):
    """Lines no longer than `width`: whole clauses ('; '-separated) per line when they fit, else
    lines of about equal length (no one-word last line); a number stays on the line of its unit."""
    if len(text) <= width:
        return text
    clauses = text.split("; ")
    if len(clauses) > 1 and max(len(c) for c in clauses) < width:
        lines = [clauses[0]]
        for clause in clauses[1:]:
            if len(lines[-1]) + 2 + len(clause) <= width:
                lines[-1] += "; " + clause
            else:
                lines[-1] += ";"
                lines.append(clause)
        return "\n".join(lines)
    lines = -(-len(text) // width)
    glued = re.sub(r"(\d) (?=[A-Za-zµ%])", "\\1\u00a0", text)
    for w in range(-(-len(text) // lines), width + 1):
        wrapped = textwrap.wrap(glued, w)
        if len(wrapped) <= lines:
            return "\n".join(wrapped).replace("\u00a0", " ")
    return "\n".join(textwrap.wrap(glued, width)).replace("\u00a0", " ")


def headline(fig):
    """The suptitle's text (all lines)."""
    return fig._suptitle.get_text() if fig._suptitle is not None else ""  # noqa: SLF001


def note(fig):
    """The note's text at the bottom, '' when there is none."""
    return fig._supxlabel.get_text() if fig._supxlabel is not None else ""  # noqa: SLF001


def legend_above(ax, handles=None, fraction=1.0):
    """A legend in a row (or rows) just above `ax`, never wider than the axes: constrained layout
    would shrink the axes to make room for a wider one. `fraction`: the axes' share of the width."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    else:
        labels = [h.get_label() for h in handles]
    if not handles:
        return None
    available = WIDTH_IN * DPI * 0.86 * fraction
    widths = [len(label) * 6.4 + 42 for label in labels]  # px at legend.fontsize, with the key and padding
    ncol = len(handles)
    while ncol > 1:
        rows = [widths[i:i + ncol] for i in range(0, len(widths), ncol)]
        columns = [max(r[c] for r in rows if c < len(r)) for c in range(ncol)]
        if sum(columns) <= available:
            break
        ncol -= 1
    return ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=ncol, borderaxespad=0.2,
                     handlelength=1.6, columnspacing=1.2)


def bytes_axis(axis, max_bytes, what):
    """Labels `axis` (ax.yaxis or ax.xaxis) '<what> (MiB)'; returns the divisor to plot data with."""
    divisor, unit = units.byte_scale(max_bytes)
    axis.set_label_text(f"{what} ({unit})")
    axis.set_major_locator(ticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    return divisor


def time_axis(axis, max_seconds, what="time since start"):
    """Labels a time axis '<what> (s)' (ms/µs for short runs); returns the divisor."""
    divisor, unit = units.time_scale(max_seconds)
    axis.set_label_text(f"{what} ({unit})")
    axis.set_major_locator(ticker.MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    return divisor


def count_axis(axis, what):
    """Compact tick labels ('1.2M') for counts and rates."""
    axis.set_label_text(what)
    axis.set_major_locator(ticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], integer=False))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: units.compact_count(v)))


CHAR_PX = 6.7  # average width of a tick label character at font.size, in pixels


def _kept(n, step, widths, spacing):
    """Indices to label: every step-th, and always the last; a neighbour too close to it gives way."""
    keep = [i for i in range(0, n, step)]
    if keep[-1] != n - 1:
        keep.append(n - 1)
    while len(keep) > 1 and (widths[keep[-2]] + widths[keep[-1]]) / 2 > (keep[-1] - keep[-2]) * spacing:
        keep.pop(-2)
    return keep


def category_ticks(ax, labels, axis="x", fraction=1.0):
    """Tick labels for categories. On an x axis: horizontal when every label (or every second or
    third) fits beside its neighbours, else rotated 45° and thinned to one per line height; the
    last category is always labelled. On a y axis (rows sized by the caller): all of them, up to 40.
    `fraction`: the axes' share of the figure's width."""
    n = len(labels)
    positions = list(range(n))
    if axis == "y":
        step = max(1, -(-n // 40))
        ax.set_yticks(positions, [lab if i % step == 0 else "" for i, lab in enumerate(labels)])
        ax.grid(False, axis="y")
        return
    ax.grid(False, axis="x")
    if not n:
        ax.set_xticks([])
        return
    spacing = WIDTH_IN * DPI * 0.86 * fraction / n  # pixels per category
    widths = [len(lab) * CHAR_PX + 10 for lab in labels]
    for step in (1, 2, 3):
        keep = _kept(n, step, widths, spacing)
        if all((widths[a] + widths[b]) / 2 <= (b - a) * spacing for a, b in zip(keep, keep[1:])):
            ax.set_xticks(positions, [lab if i in keep else "" for i, lab in enumerate(labels)])
            return
    line = 2.0 * CHAR_PX * 1.5  # rotated labels need about a line height (over sin 45°) between them
    step = max(1, math.ceil(line / spacing))
    keep = _kept(n, step, [line] * n, spacing)
    ax.set_xticks(positions, [lab if i in keep else "" for i, lab in enumerate(labels)])
    ax.tick_params(axis="x", labelrotation=45)
    for t in ax.get_xticklabels():
        t.set_horizontalalignment("right")
        t.set_rotation_mode("anchor")


def no_data(ax, text):
    """Marks an empty panel instead of drawing an empty plot."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def close(fig):
    plt.close(fig)
