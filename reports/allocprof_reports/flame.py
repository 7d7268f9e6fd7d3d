"""The analyzer's "flame" section (docs/json-schema.md): the call tree of every allocating stack,
root first, merged by function, with self values per node and calls/bytes per timeline window.
Read into plain lists; totals (a node and everything under it) are summed here, children last
(a parent's index is always lower than its children's)."""

from . import model, stacks

MEASURES = ("bytes", "calls", "peak_bytes", "leaked_bytes")
MEASURE_LABELS = {"bytes": "bytes allocated", "calls": "allocation calls", "peak_bytes": "bytes live at the peak",
                  "leaked_bytes": "bytes leaked"}


class Tree:
    """Per node: names[i] (the frame's name: function, module+0xoffset or [pseudo-frame]),
    parent[i] (-1 for top-level frames), self_values[measure][i]; where(i) ('file.cc:12') and
    is_runtime(i) (the C/C++ runtime's or the allocator's frame) are worked out per call site on
    first use, so a million-node tree costs only what is drawn."""

    def __init__(self, names, parent, site, site_frames, self_values, windows=0, cells=None):
        self.names = names
        self.parent = parent
        self.site = site
        self._site_frames = site_frames  # per site: {"function", "file", "line", "module"}
        self.self_values = self_values
        self.windows = windows
        self.cells = cells or []
        self._where, self._runtime = {}, {}

    def __len__(self):
        return len(self.parent)

    def where(self, i):
        s = self.site[i]
        if s not in self._where:
            self._where[s] = stacks.frame_where(self._site_frames[s])
        return self._where[s]

    def is_runtime(self, i):
        s = self.site[i]
        if s not in self._runtime:
            f = self._site_frames[s]
            # 'void std::deque<…>::_M_push_back_aux<…>(…)': judged by its name without the return type too.
            short = dict(f, function=short_name(f["function"])) if f["function"] else f
            self._runtime[s] = stacks.is_runtime(f) or stacks.is_runtime(short) or self.names[i].startswith("[")
        return self._runtime[s]

    def totals(self, measure, self_values=None):
        """Per node: its own value plus everything under it."""
        total = list(self_values if self_values is not None else self.self_values[measure])
        parent = self.parent
        for i in range(len(total) - 1, -1, -1):
            p = parent[i]
            if p >= 0:
                total[p] += total[i]
        return total

    def children(self):
        kids = [[] for _ in self.parent]
        roots = []
        for i, p in enumerate(self.parent):
            (kids[p] if p >= 0 else roots).append(i)
        return roots, kids

    def path(self, i):
        out = []
        while i >= 0:
            out.append(self.names[i])
            i = self.parent[i]
        return tuple(reversed(out))


_CACHE = {}


def load(report):
    """The tree, or None when the analysis has no (usable) flame section. Memoised per section
    object (the charts and the page each ask for it; the section is never changed after loading)."""
    f = model.obj(report, "flame")
    if not f:
        return None
    key = id(f)
    if key in _CACHE and _CACHE[key][0] is f:
        return _CACHE[key][1]
    tree = _load(f)
    while len(_CACHE) >= 4:  # an analysis and its baseline at a time is all a run needs
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (f, tree)
    return tree


def _load(f):
    sites, nodes = model.obj(f, "sites"), model.obj(f, "nodes")
    parent = model.arr(nodes, "parent")
    site = model.arr(nodes, "site")
    names = model.arr(sites, "name")
    if not parent or len(site) != len(parent) or not names:
        return None
    n = len(parent)
    files, lines, modules = model.arr(sites, "file"), model.arr(sites, "line"), model.arr(sites, "module")
    site_frames = []
    for s, name in enumerate(names):
        name = name if isinstance(name, str) else "??"
        site_frames.append({"function": name if not name.startswith("[") and "+0x" not in name else "",
                            "file": files[s] if s < len(files) and isinstance(files[s], str) else "",
                            "line": lines[s] if s < len(lines) and isinstance(lines[s], int) else 0,
                            "module": modules[s] if s < len(modules) and isinstance(modules[s], str) else ""})
    ok_parent = [p if isinstance(p, int) and -1 <= p < i else -1 for i, p in enumerate(parent)]
    ok_site = [s if isinstance(s, int) and 0 <= s < len(names) else 0 for s in site]
    node_names = [names[s] if isinstance(names[s], str) else "??" for s in ok_site]
    values = {}
    for m in MEASURES:
        column = model.arr(nodes, m)
        if len(column) == n and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in column):
            values[m] = column
        else:
            values[m] = [model.num(column[i]) if i < len(column) else 0.0 for i in range(n)]
    bw = model.obj(f, "by_window")
    cells = [(node, window, calls, nbytes) for node, window, calls, nbytes in
             zip(model.arr(bw, "node"), model.arr(bw, "window"), model.arr(bw, "calls"), model.arr(bw, "bytes"))
             if isinstance(node, int) and 0 <= node < n]
    return Tree(node_names, ok_parent, ok_site, site_frames, values, int(model.num(f.get("windows"))), cells)


def short_name(name):
    """The name as a frame label: templates and parameters dropped ('[no-stack]' and module+0x.. kept)."""
    if name.startswith("[") or "+0x" in name or name.startswith("0x"):
        return name
    return stacks.short_function(name) or name


def finding_node(tree, totals):
    """The frame a reader should look at first: on the heaviest path from the root, the deepest
    frame of the program (not the runtime's) that still holds at least half of everything; else
    the heaviest program frame. None when there is nothing."""
    roots, kids = tree.children()
    whole = sum(totals[r] for r in roots)
    if whole <= 0:
        return None, 0.0
    best = None
    level = roots
    while level:
        i = max(level, key=lambda k: (totals[k], -k))
        if totals[i] < whole / 2:
            break
        if not tree.is_runtime(i):
            best = i
        level = kids[i]
    if best is None:
        for i in sorted(range(len(tree)), key=lambda k: (-totals[k], k)):
            if not tree.is_runtime(i):
                best = i
                break
        if best is None:
            return None, 0.0
    return best, totals[best] / whole


def keyed_totals(tree, measure):
    """{path of names: total} for comparing two runs' trees by call path."""
    totals = tree.totals(measure)
    out = {}
    for i in range(len(tree)):
        key = tree.path(i)
        out[key] = out.get(key, 0.0) + totals[i]
    return out
