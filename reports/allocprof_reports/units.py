"""Numbers for people: byte sizes (KiB/MiB/GiB, 1024-based like the analyzer), counts, rates,
durations, and the scale a chart axis uses for each (pick the unit once from the data's maximum,
then plot data divided by it so the ticks are round numbers in that unit)."""

import math

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def byte_scale(max_bytes):
    """(divisor, unit) for an axis whose largest value is max_bytes."""
    value = abs(float(max_bytes or 0))
    k = 0
    while value >= 1024 and k < len(_BYTE_UNITS) - 1:
        value /= 1024
        k += 1
    return 1024.0 ** k, _BYTE_UNITS[k]


def human_bytes(n):
    """'12.3 MiB', '512 B' (as the analyzer's HumanBytes)."""
    n = float(n or 0)
    if not math.isfinite(n):
        return "?"
    divisor, unit = byte_scale(n)
    if unit == "B":
        return f"{n:.0f} B"
    return f"{n / divisor:.1f} {unit}"


def size_label(n):
    """A power-of-two-ish size without decimals where exact: '64 KiB', '85,000 B', '1.5 MiB'."""
    n = int(n)
    for k in range(len(_SIZE_UNITS) - 1, 0, -1):
        unit = 1024 ** k
        if n >= unit and n % unit == 0:
            return f"{n // unit} {_SIZE_UNITS[k]}"
    if n < 1 << 20:
        return f"{n:,} B"
    return human_bytes(n)


def human_count(n):
    """'1,234,567'; non-integers keep two decimals."""
    n = float(n or 0)
    if not math.isfinite(n):
        return "?"
    if abs(n - round(n)) < 1e-9:
        return f"{int(round(n)):,}"
    return f"{n:,.2f}"


def count_of(n, one, many):
    """'1 collection', '2,345 collections'."""
    return f"{human_count(n)} {one if n == 1 else many}"


def compact_count(n):
    """'950', '12k', '1.2M', '3.4G' (tick labels and titles)."""
    n = float(n or 0)
    if not math.isfinite(n):
        return "?"
    sign = "-" if n < 0 else ""
    n = abs(n)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= limit * 0.9995:  # 999,999 reads as 1M, not 1000k
            v = n / limit
            text = f"{v:.1f}".removesuffix(".0") if v < 10 else f"{v:.0f}"
            return f"{sign}{text}{suffix}"
    if n < 10 and abs(n - round(n)) > 1e-9:  # 2.5, 0.25, 0.0003
        return f"{sign}{n:.2g}"
    return f"{sign}{n:.0f}"


def time_scale(max_seconds):
    """(divisor, unit) for a time axis: s from one second up, ms or µs below."""
    t = abs(float(max_seconds or 0))
    if t >= 1 or t == 0:
        return 1.0, "s"
    if t >= 1e-3:
        return 1e-3, "ms"
    return 1e-6, "µs"


def human_seconds(t):
    """'2.35 s', '14.2 ms', '310 µs'."""
    t = float(t or 0)
    divisor, unit = time_scale(t)
    return f"{_three_figures(t / divisor)} {unit}"


def _three_figures(v):
    """'165', '16.5', '1.65': about three significant figures, never in exponent form."""
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio_text(before, after):
    """'165x', '2.50x', '0.98x'; 'new' / 'gone' / '—' when a side is missing or zero."""
    if before is None or after is None:
        return "gone" if before is not None else ("new" if after is not None else "—")
    if before == 0:
        return "1.00x" if after == 0 else "new"
    return f"{_three_figures(after / before)}x"


def percent(share):
    """0.123 -> '12.3%'; keeps tiny non-zero shares visible ('<0.1%')."""
    share = float(share or 0)
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{100 * share:.1f}%"
