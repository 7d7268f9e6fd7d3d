"""Pool chart (one per pool in "pools"): per bucket, the rents served from the pool and those that
fell through to the allocator by kind; the hit rate; dropped returns by reason; and the slots per
bucket configured beside the advisor's recommendation. Buckets above the pool's largest block hold
its oversize rents; a dashed line marks that boundary. Counts the analyzer reports only per pool
(e.g. drops of oversize arrays) are listed in the legend."""

import re

from matplotlib.lines import Line2D

from . import model, style, units

FALL_COLOURS = {"exhausted": style.VERMILLION, "fill": style.ORANGE, "oversize": style.PURPLE}
DROP_COLOURS = {"full": style.SKY_BLUE, "oversize": style.PURPLE}


def slug(name, index):
    """A file-name-safe stem for a pool (its name comes from the traced program)."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:40] or "pool"
    return f"pool-{index + 1}-{text}"


def finding(p):
    text = f"Pool '{p.name}': {units.percent(p.hit_rate)} of {units.human_count(p.rents)} rents hit"
    if p.fallthroughs:
        kinds = sorted(p.fallthrough.items(), key=lambda kv: -kv[1])
        main_kind, main_n = kinds[0]
        text += f"; {units.human_count(p.fallthroughs)} fell through"
        if main_n and len([k for k in kinds if k[1]]) > 1:
            text += f" ({units.human_count(main_n)} {main_kind})"
        elif main_n:
            text += f" (all {main_kind})"
    return text


def advice(p):
    a = p.advisor
    if a is None:
        return None
    text = (f"Advisor: max block {units.size_label(a.max_block)} (now {units.size_label(p.max_block)}), "
            f"{_slot_span(a)} slots per bucket (now {p.slots_per_bucket})")
    if a.hit_rate is not None:
        text += f" → {units.percent(a.hit_rate)} hits"
    return text + f", retains ≤ {units.human_bytes(a.retained_bytes)}"


MIN_COLUMNS = 8


def columns(p):
    """Bucket sizes to show, ascending: from the first bucket with any activity (a few smaller ones
    for context, at least MIN_COLUMNS in all) up to the largest of the pool's max_block, its busiest
    bucket and the advisor's largest block."""
    active = {b.size for b in p.buckets if b.rents or any(b.dropped.values())}
    if p.advisor:
        active.update(s for s, n in p.advisor.slots if n)
    top = max([p.max_block, p.advisor.max_block if p.advisor else 0, 16] + list(active))
    sizes = []
    i = 0
    while model.bucket_size(i) <= top and i < 48:
        sizes.append(model.bucket_size(i))
        i += 1
    first = min(active) if active else sizes[0]
    keep_from = max(0, min(sizes.index(first) - 1 if first in sizes else 0, len(sizes) - MIN_COLUMNS))
    return sizes[keep_from:]


def _unplaced(pool_counts, bucket_counts, what):
    """Legend notes for pool-level counts that no bucket reports (e.g. drops of oversize arrays)."""
    notes = []
    for kind, n in sorted(pool_counts.items()):
        rest = n - bucket_counts.get(kind, 0)
        if rest > 0:
            notes.append(Line2D([], [], linestyle="none", label=f"{units.human_count(rest)} {what}: {kind} (not per bucket)"))
    return notes



def _stack_by_kind(ax, xs, sizes, by_size, buckets, field, kinds, bottom, colours, verb):
    """Bars of each kind (a bucket's `field` counts) stacked on `bottom`; returns the per-kind totals
    the buckets account for, so the caller can name what no bucket holds."""
    for kind in kinds:
        values = [getattr(by_size[s], field).get(kind, 0) if s in by_size else 0 for s in sizes]
        ax.bar(xs, values, bottom=bottom, width=0.75, color=colours.get(kind, style.BLACK), label=f"{verb}: {kind}")
        bottom = [b + v for b, v in zip(bottom, values)]
    per_bucket = {}
    for b in buckets:
        for kind, n in getattr(b, field).items():
            per_bucket[kind] = per_bucket.get(kind, 0) + n
    return per_bucket

def draw(p):
    sizes = columns(p)
    labels = [units.size_label(s) for s in sizes]
    xs = list(range(len(sizes)))
    by_size = {b.size: b for b in p.buckets}
    fig, (rent_ax, rate_ax, drop_ax, slot_ax) = style.figure(
        9.0, 4, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1.2, 1.3, 1.8]})
    style.title(fig, finding(p), advice(p))
    # Buckets right of this line hold arrays larger than the pool keeps: their rents are oversize.
    boundary = sum(1 for s in sizes if s <= p.max_block) - 0.5
    edge = Line2D([], [], color=style.GREY, linestyle="--", linewidth=1,
                  label=f"largest pooled block ({units.size_label(p.max_block)})")

    # Rents: hits, then fall-throughs by kind stacked on top.
    hits = [by_size[s].hits if s in by_size else 0 for s in sizes]
    rent_ax.bar(xs, hits, color=style.GREEN, width=0.75, label="served from the pool")
    bottom = hits[:]
    order = ("exhausted", "fill", "oversize")
    kinds = sorted({k for b in p.buckets for k, n in b.fallthrough.items() if n},
                   key=lambda k: order.index(k) if k in order else len(order))
    per_bucket = _stack_by_kind(rent_ax, xs, sizes, by_size, p.buckets, "fallthrough", kinds, bottom,
                                FALL_COLOURS, "fell through")
    style.count_axis(rent_ax.yaxis, "rents")
    style.legend_above(rent_ax, rent_ax.get_legend_handles_labels()[0] + [edge]
                       + _unplaced(p.fallthrough, per_bucket, "fell through"))

    # Hit rate per bucket.
    rates = [by_size[s].hit_rate if s in by_size else None for s in sizes]
    shown = [(x, 100 * r) for x, r in zip(xs, rates) if r is not None]
    if shown:
        rate_ax.plot([x for x, _ in shown], [r for _, r in shown], marker="o", linestyle="none", color=style.BLUE,
                     label="hit rate per bucket (buckets with rents)")
    rate_ax.axhline(100 * p.hit_rate, color=style.BLUE, linestyle=":", linewidth=1,
                    label=f"overall {units.percent(p.hit_rate)}")
    rate_ax.set_ylim(-5, 105)
    rate_ax.set_yticks([0, 50, 100])
    rate_ax.set_ylabel("hit rate (%)")
    style.legend_above(rate_ax)

    # Dropped returns: kept by nobody, so the next rent of that size allocates again.
    reasons = sorted({k for b in p.buckets for k, n in b.dropped.items() if n})
    per_bucket = _stack_by_kind(drop_ax, xs, sizes, by_size, p.buckets, "dropped", reasons, [0] * len(xs),
                                DROP_COLOURS, "dropped")
    handles = drop_ax.get_legend_handles_labels()[0] + _unplaced(p.dropped, per_bucket, "dropped")
    if handles:
        style.legend_above(drop_ax, handles)
    if not reasons:
        drop_ax.text(0.5, 0.5, "no dropped returns" if not handles else "dropped returns not reported per bucket",
                     ha="center", va="center", transform=drop_ax.transAxes, color=style.GREY)
    style.count_axis(drop_ax.yaxis, "dropped returns")
    drop_ax.set_ylim(bottom=0)

    # Slots per bucket: configured (uniform up to max_block) beside the advisor's.
    configured = [p.slots_per_bucket if s <= p.max_block else 0 for s in sizes]
    width = 0.38 if p.advisor else 0.75
    slot_ax.bar([x - (width / 2 if p.advisor else 0) for x in xs], configured, width=width, color=style.GREY,
                label=f"configured ({p.slots_per_bucket} per bucket up to {units.size_label(p.max_block)})")
    if p.advisor:
        advised = dict(p.advisor.slots)
        slot_ax.bar([x + width / 2 for x in xs], [advised.get(s, 0) for s in sizes], width=width, color=style.BLUE,
                    label=f"advisor ({_slot_span(p.advisor)} per bucket up to {units.size_label(p.advisor.max_block)})")
    style.count_axis(slot_ax.yaxis, "slots per bucket")
    style.legend_above(slot_ax)
    slot_ax.set_xlabel("bucket (block size)")
    style.category_ticks(slot_ax, labels)
    slot_ax.set_xlim(-0.6, len(xs) - 0.4)
    for ax in (rent_ax, rate_ax, drop_ax, slot_ax):
        ax.grid(False, axis="x")
        if 0 < boundary < len(xs) - 1:
            ax.axvline(boundary, color=style.GREY, linestyle="--", linewidth=1)
    return fig


def _slot_span(a):
    slots = [s for _, s in a.slots if s > 0]
    if not slots:
        return "0"
    return f"{min(slots):.0f}" if min(slots) == max(slots) else f"{min(slots):.0f}–{max(slots):.0f}"
