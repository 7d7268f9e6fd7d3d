"""The analyzer's "flame" section (docs/json-schema.md): the call tree of every allocating stack,
root first, merged by function, with self values per node and calls/bytes per timeline window.
Read into plain lists; totals (a node and everything under it) are summed here, children last
(a parent's index is always lower than its children's)."""

from dataclasses import dataclass, field

from . import model, stacks

MEASURES = ("bytes", "calls", "peak_bytes", "leaked_bytes")
MEASURE_LABELS = {"bytes": "bytes allocated", "calls": "allocation calls", "peak_bytes": "bytes live at the peak",
                  "leaked_bytes": "bytes leaked"}


@dataclass
class Tree:
    names: list  # per node: the frame's name (function, module+0xoffset or [pseudo-frame])
    where: list  # per node: 'file.cc:12' or ''
    runtime: list  # per node: the frame belongs to the C/C++ runtime or the allocator
    parent: list  # per node: parent index, -1 for top-level frames
    self_values: dict  # measure -> per-node self values
    windows: int = 0
    cells: list = field(default_factory=list)  # (node, window, calls, bytes)

    def __len__(self):
        return len(self.parent)

    def totals(self, measure, self_values=None):
        """Per node: its own value plus everything under it."""
        total = list(self_values if self_values is not None else self.self_values[measure])
        for i in range(len(total) - 1, -1, -1):
            p = self.parent[i]
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


def load(report):
    """The tree, or None when the analysis has no (usable) flame section."""
    f = model.obj(report, "flame")
    sites, nodes = model.obj(f, "sites"), model.obj(f, "nodes")
    parent = model.arr(nodes, "parent")
    site = model.arr(nodes, "site")
    names = model.arr(sites, "name")
    if not parent or len(site) != len(parent) or not names:
        return None
    files, lines, modules = model.arr(sites, "file"), model.arr(sites, "line"), model.arr(sites, "module")
    n = len(parent)
    out_parent, out_names, out_where, out_runtime = [], [], [], []
    for i in range(n):
        p = parent[i] if isinstance(parent[i], int) and -1 <= parent[i] < i else -1
        s = site[i] if isinstance(site[i], int) and 0 <= site[i] < len(names) else None
        name = names[s] if s is not None and isinstance(names[s], str) else "??"
        frame = {"function": name if not name.startswith("[") and "+0x" not in name else "",
                 "file": files[s] if s is not None and s < len(files) and isinstance(files[s], str) else "",
                 "line": lines[s] if s is not None and s < len(lines) and isinstance(lines[s], int) else 0,
                 "module": modules[s] if s is not None and s < len(modules) and isinstance(modules[s], str) else ""}
        out_parent.append(p)
        out_names.append(name)
        out_where.append(stacks.frame_where(frame))
        out_runtime.append(stacks.is_runtime(frame) or name.startswith("["))
    values = {}
    for m in MEASURES:
        column = model.arr(nodes, m)
        values[m] = [model.num(column[i]) if i < len(column) else 0.0 for i in range(n)]
    bw = model.obj(f, "by_window")
    cells = []
    for node, window, calls, nbytes in zip(model.arr(bw, "node"), model.arr(bw, "window"), model.arr(bw, "calls"),
                                           model.arr(bw, "bytes")):
        if isinstance(node, int) and 0 <= node < n and isinstance(window, int):
            cells.append((node, window, model.num(calls), model.num(nbytes)))
    return Tree(out_names, out_where, out_runtime, out_parent, values, int(model.num(f.get("windows"))), cells)


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
        if not tree.runtime[i]:
            best = i
        level = kids[i]
    if best is None:
        program = [i for i in range(len(tree)) if not tree.runtime[i]]
        if not program:
            return None, 0.0
        best = max(program, key=lambda k: (totals[k], -k))
    return best, totals[best] / whole


def keyed_totals(tree, measure):
    """{path of names: total} for comparing two runs' trees by call path."""
    totals = tree.totals(measure)
    out = {}
    for i in range(len(tree)):
        key = tree.path(i)
        out[key] = out.get(key, 0.0) + totals[i]
    return out
