"""Reads the analyzer's JSON (docs/json-schema.md) and the diff's JSON into plain values the charts
draw. Every optional section ("gen" from the pressure model, "pools" from the pool hooks, "counters")
is read defensively: a missing or malformed section gives None or an empty list, never an exception,
so a report of an older or partial analysis still renders."""

import json
import math
from dataclasses import dataclass, field


class ReportError(Exception):
    """The input is not an analysis this package can draw."""


def load(path):
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: cannot read JSON: {e}") from e
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise ReportError(f"{path}: not an allocprof JSON report (no schema_version)")
    return doc


def num(value, default=0.0):
    """A finite number from JSON, else default (JSON null, strings, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return value if math.isfinite(value) else default


def obj(parent, key):
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def arr(parent, key):
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, list) else []


# ---- timeline ------------------------------------------------------------------------------------

@dataclass
class Timeline:
    start: list = field(default_factory=list)  # seconds since process start
    end: list = field(default_factory=list)
    live_min: list = field(default_factory=list)
    live_max: list = field(default_factory=list)
    live_end: list = field(default_factory=list)
    allocations: list = field(default_factory=list)
    frees: list = field(default_factory=list)

    def __len__(self):
        return len(self.start)

    def rate(self, counts):
        """Events per second in each window."""
        return [c / (e - s) if e > s else 0.0 for c, s, e in zip(counts, self.start, self.end)]


def timeline(report):
    t = Timeline()
    for w in arr(report, "timeline"):
        if not isinstance(w, dict):
            continue
        t.start.append(num(w.get("start_s")))
        t.end.append(num(w.get("end_s")))
        # A sampled trace's windows have no extremes (null): the band narrows to the estimate.
        end = num(w.get("live_end"))
        t.live_min.append(num(w.get("live_min"), end))
        t.live_max.append(num(w.get("live_max"), end))
        t.live_end.append(end)
        t.allocations.append(num(w.get("allocations")))
        t.frees.append(num(w.get("frees")))
    return t


# ---- the gen-style pressure model ("gen", optional) -----------------------------------------------

@dataclass
class Collection:
    time_s: float
    generation: int
    heap_before: float
    heap_after: float


@dataclass
class Gen:
    counts: tuple  # (gen0, gen1, gen2): collections that count as each generation
    collections: list  # [Collection], possibly sampled (every `stride`-th)
    stride: int
    windows: list  # [(start_s, end_s, gen0, gen1, gen2)] when the analyzer wrote them, else []
    per_second: float
    duration_s: float

    @property
    def total(self):
        return self.counts[0]


def gen(report):
    g = report.get("gen") if isinstance(report, dict) else None
    if not isinstance(g, dict):
        return None
    collections = []
    for c in arr(g, "collections"):
        if not isinstance(c, dict):
            continue
        generation = int(num(c.get("generation"), -1))
        if generation not in (0, 1, 2):
            continue
        collections.append(Collection(num(c.get("time_s")), generation, num(c.get("heap_before")), num(c.get("heap_after"))))
    collections.sort(key=lambda c: c.time_s)
    stride = max(1, int(num(g.get("collections_stride", g.get("collection_stride")), 1)))
    counts = []
    for i in range(3):
        value = g.get(f"gen{i}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            counts.append(num(value))
        else:  # derive from the table: collecting Gen n counts as a collection of 0..n
            counts.append(sum(stride for c in collections if c.generation >= i))
    windows = []
    for w in arr(g, "windows"):
        if isinstance(w, dict) and "start_s" in w and "end_s" in w:
            windows.append((num(w.get("start_s")), num(w.get("end_s")), num(w.get("gen0")), num(w.get("gen1")),
                            num(w.get("gen2"))))
    duration = num(g.get("duration_s")) or num(obj(report, "totals").get("duration_s"))
    per_second = num(g.get("collections_per_second")) or (counts[0] / duration if duration > 0 else 0.0)
    return Gen(tuple(counts), collections, stride, windows, per_second, duration)


def gen_rates(g, duration_s, bins=50):
    """Collections per second of each generation over time: (edges, [gen0, gen1, gen2] rates)."""
    if g.windows:
        edges = [w[0] for w in g.windows] + [g.windows[-1][1]]
        rates = [[w[2 + i] / (w[1] - w[0]) if w[1] > w[0] else 0.0 for w in g.windows] for i in range(3)]
        return edges, rates
    end = max(duration_s, max((c.time_s for c in g.collections), default=0.0))
    if end <= 0:
        return [], [[], [], []]
    width = end / bins
    edges = [i * width for i in range(bins + 1)]
    rates = [[0.0] * bins for _ in range(3)]
    for c in g.collections:
        b = min(bins - 1, int(c.time_s / width))
        for i in range(c.generation + 1):
            rates[i][b] += g.stride / width
    return edges, rates


# ---- pools ("pools", optional) --------------------------------------------------------------------

_SIZE_KEYS = ("size", "block_bytes", "block_size", "bytes", "max_bytes", "array_bytes")


@dataclass
class Bucket:
    size: int  # the bucket's block size in bytes
    rents: float = 0
    hits: float = 0
    fallthrough: dict = field(default_factory=dict)  # kind -> count (exhausted, fill, ...)
    dropped: dict = field(default_factory=dict)  # reason -> count (full, ...)

    @property
    def hit_rate(self):
        return self.hits / self.rents if self.rents else None


@dataclass
class Advisor:
    max_block: int
    slots: list  # [(block size, slots)] from 16 B up to max_block
    retained_bytes: float
    hit_rate: float


@dataclass
class Pool:
    name: str
    max_block: int
    slots_per_bucket: int
    rents: float
    hits: float
    hit_rate: float
    fallthrough: dict  # oversize, exhausted, fill
    fallthrough_bytes: float
    dropped: dict  # full, oversize
    buckets: list  # [Bucket] ascending by size
    advisor: Advisor = None

    @property
    def fallthroughs(self):
        return sum(self.fallthrough.values())


def bucket_size(index):
    """Block size of bucket `index` in a .NET-style pool: 16 << index."""
    return 16 << index


def _counts(value, default_key):
    """{kind: count} from a JSON object of numbers, or {default_key: n} from a bare number."""
    if isinstance(value, dict):
        return {str(k): num(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {default_key: num(value)}
    return {}


def _size_of(entry, index):
    for key in _SIZE_KEYS:
        if isinstance(entry, dict) and isinstance(entry.get(key), (int, float)) and entry.get(key) > 0:
            return int(entry[key])
    return bucket_size(index)


def _advisor(a):
    if not isinstance(a, dict):
        return None
    slots = []
    for i, s in enumerate(arr(a, "slots_per_bucket")):
        if isinstance(s, dict):
            slots.append((_size_of(s, i), num(s.get("slots"))))
        else:
            slots.append((bucket_size(i), num(s)))
    return Advisor(int(num(a.get("max_block"))), slots, num(a.get("retained_bytes_worst_case")), num(a.get("hit_rate"), None))


def pools(report):
    out = []
    for i, p in enumerate(arr(report, "pools")):
        if not isinstance(p, dict):
            continue
        buckets = []
        for j, b in enumerate(arr(p, "buckets")):
            if not isinstance(b, dict):
                continue
            fall = _counts(b.get("fallthrough"), "fallthrough")
            for kind in ("exhausted", "fill"):
                if kind not in fall and isinstance(b.get(kind), (int, float)):
                    fall[kind] = num(b.get(kind))
            rents = num(b.get("rents"))
            hits = num(b.get("hits"), None)
            if hits is None:
                hits = max(0.0, rents - sum(fall.values()))
            dropped = _counts(b.get("dropped"), "full")
            for key, value in b.items():  # the analyzer's flat form: dropped_full
                if key.startswith("dropped_") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    dropped.setdefault(key[len("dropped_"):], num(value))
            buckets.append(Bucket(_size_of(b, j), rents, hits, fall, dropped))
        buckets.sort(key=lambda b: b.size)
        rents = num(p.get("rents"))
        hits = num(p.get("hits"))
        name = p.get("name") if isinstance(p.get("name"), str) else f"pool {i + 1}"
        out.append(Pool(name=name, max_block=int(num(p.get("max_block"))),
                        slots_per_bucket=int(num(p.get("slots_per_bucket"))), rents=rents, hits=hits,
                        hit_rate=num(p.get("hit_rate"), hits / rents if rents else 0.0),
                        fallthrough=_counts(p.get("fallthrough"), "fallthrough"),
                        fallthrough_bytes=num(p.get("fallthrough_bytes")), dropped=_counts(p.get("dropped"), "dropped"),
                        buckets=buckets, advisor=_advisor(p.get("advisor"))))
    return out


def size_class_pool_split(report, pool_list):
    """Per size class: (rents pools served without allocating, fall-through allocations), or None
    when no pool reports per-bucket figures. A class's own 'pooled'/'fallthrough' keys win.

    Approximate by nature (the analyzer counts rents per bucket, not per size): a bucket's rents go
    to the class holding its block size, where the bucket-sized arrays of its fills and exhausted
    fall-throughs are counted; oversize fall-throughs, which allocate the exact size requested
    (between half the block size and the block size), to the class holding half the block size
    plus one. Classes with no allocation at all are not in the analysis, nor their pooled rents."""
    classes = [c for c in arr(report, "size_classes") if isinstance(c, dict)]
    if any("pooled" in c or "fallthrough" in c for c in classes):
        return [(num(c.get("pooled")), num(c.get("fallthrough"))) for c in classes]
    if not pool_list or not any(p.buckets for p in pool_list):
        return None

    def class_of(size):
        for k, c in enumerate(classes):
            if num(c.get("min_bytes")) <= size <= num(c.get("max_bytes")):
                return k
        return None

    split = [[0.0, 0.0] for _ in classes]
    for p in pool_list:
        for b in p.buckets:
            k = class_of(b.size)
            if k is not None:
                split[k][0] += b.hits
                split[k][1] += sum(n for kind, n in b.fallthrough.items() if kind != "oversize")
            k = class_of(b.size // 2 + 1)
            if k is not None:
                split[k][1] += b.fallthrough.get("oversize", 0)
    return [tuple(s) for s in split]


# ---- before / after --------------------------------------------------------------------------------

# (metric name in diff.json, label, kind: 'count' or 'bytes', where to find it in an analysis JSON)
HEADLINE_METRICS = (
    ("allocations", "Allocations", "count", ("totals", "allocations")),
    ("bytes_allocated", "Bytes allocated", "bytes", ("totals", "bytes_allocated")),
    ("peak_live_bytes", "Peak live heap", "bytes", ("totals", "peak_live_bytes")),
    ("gen0", "Gen0 collections", "count", ("gen", "gen0")),
    ("gen1", "Gen1 collections", "count", ("gen", "gen1")),
    ("gen2", "Gen2 collections", "count", ("gen", "gen2")),
)


@dataclass
class Headline:
    metric: str
    label: str
    kind: str
    before: float
    after: float

    @property
    def ratio(self):
        if self.before == 0:
            return math.inf if self.after else 1.0
        return self.after / self.before


def _value(report, path):
    node = report
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return num(node, None)


def headline_metrics(analysis, baseline, diff=None):
    """The ratios a reviewer reads first; per-work-unit allocations when both runs counted units."""
    metrics = obj(diff, "metrics") if diff else {}
    out = []
    collected = False  # Gen panels only for runs where the model collected at least once
    for name, label, kind, path in HEADLINE_METRICS:
        m = metrics.get(name) if isinstance(metrics.get(name), dict) else None
        before = num(m.get("before"), None) if m else _value(baseline, path)
        after = num(m.get("after"), None) if m else _value(analysis, path)
        if name == "gen0":
            collected = bool(before or after)
        if name.startswith("gen") and not collected:
            continue
        if before is not None and after is not None and (before or after):  # zero on both sides: no panel
            out.append(Headline(name, label, kind, before, after))
    for name, m in sorted(metrics.items()):
        if name.startswith(("allocations_per_", "bytes_per_")) and not name.endswith("_per_second") and isinstance(m, dict):
            before, after = num(m.get("before"), None), num(m.get("after"), None)
            if before is not None and after is not None:
                unit = name.split("_per_", 1)[1]
                kind = "bytes" if name.startswith("bytes") else "count"
                what = "Bytes" if kind == "bytes" else "Allocations"
                out.append(Headline(name, f"{what} per {unit.rstrip('s')}", kind, before, after))
    return out


def biggest_change(headlines):
    """The headline whose ratio is furthest from 1 (either way): the comparison's finding. On a
    tie the later one wins (Gen2 over Gen0 when every collection reached Gen2)."""
    def distance(item):
        i, h = item
        r = h.ratio
        far = math.inf if r == math.inf or r <= 0 else abs(math.log(r))
        return (round(far, 9) if far != math.inf else far, i)
    best = max(enumerate(headlines), key=distance, default=None)
    return best[1] if best else None
