#!/usr/bin/python3
"""Checks that every #include follows the layer rules of the source tree (README, "Architecture").

usage: scripts/check_layers.py [ROOT]        exit 0 when every include is allowed, 1 otherwise

Each folder is a stage of the data flow and may include only the folders listed for it below, plus
the public headers in include/allocprof/ and system headers. A violation is printed as
`path:line: #include "x/y.h": <folder> may not include <target>` so an editor can jump to it.

Example: analyzer/read/trace_file.cc with `#include "passes/timeline.h"` prints
  analyzer/read/trace_file.cc:12: #include "passes/timeline.h": analyzer/read may not include analyzer/passes
"""
import os
import re
import sys

SHIM = ("hooks", "record", "unwind", "runtime", "attach", "count")

# Who may include whom, by folder. Includes are written from the component's root ("record/x.h"
# under shim/, "read/x.h" under analyzer/), so the first path component names the folder.
ALLOWED = {
    # The shim is loaded into other programs: its folders include one another and the public
    # headers, never the analyzer, Abseil or anything else that allocates behind its back.
    **{f"shim/{d}": {f"shim/{x}" for x in SHIM} for d in SHIM},
    "analyzer/util": {"analyzer/util"},
    "analyzer/read": {"analyzer/read"},
    "analyzer/passes": {"analyzer/passes", "analyzer/read", "analyzer/util"},
    "analyzer/symbolize": {"analyzer/symbolize", "analyzer/read", "analyzer/util"},
    "analyzer/report": {"analyzer/report", "analyzer/passes", "analyzer/symbolize", "analyzer/read", "analyzer/util"},
    "analyzer/export": {"analyzer/export", "analyzer/passes", "analyzer/symbolize", "analyzer/read", "analyzer/util"},
    "analyzer/launch": {"analyzer/launch", "analyzer/util"},
    # The command line is the top: it may include every analyzer folder, and nothing includes it.
    "analyzer/cli": {"analyzer/" + d for d in ("cli", "launch", "report", "export", "passes", "symbolize", "read", "util")},
}

# Third-party headers each component may use; the shim may use none that allocate.
FORBIDDEN_SYSTEM = {
    "shim": re.compile(r"^(absl|nlohmann|gtest|elfutils|google)/|^(string|vector|map|unordered_map|memory|functional|iostream|sstream)$"),
}

# Libraries included with quotes by convention (Abseil's style).
THIRD_PARTY = {"absl", "nlohmann"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def folder_of(path):
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 and parts[0] in ("shim", "analyzer") else None


def check_file(root, path):
    folder = folder_of(path)
    if folder is None:
        return []
    component = folder.split("/")[0]
    allowed = ALLOWED.get(folder)
    problems = []
    if allowed is None:
        return [f"{path}:1: {folder} is not a known folder; add it to scripts/check_layers.py with its rules"]
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            quote, target = m.groups()
            text = line.strip()
            if quote == "<" or target.split("/")[0] in THIRD_PARTY:
                forbidden = FORBIDDEN_SYSTEM.get(component)
                if forbidden and forbidden.search(target):
                    problems.append(f"{path}:{number}: {text}: {component} may not use {target}")
                continue
            if target.startswith("allocprof/"):
                continue
            first = target.split("/")[0]
            if "/" not in target:
                problems.append(f"{path}:{number}: {text}: write includes from the component's root "
                                f"(\"<folder>/{target}\"), so the folder is visible")
                continue
            owner = f"{component}/{first}"
            if owner not in ALLOWED:
                other = "analyzer" if component == "shim" else "shim"
                what = f"{other}/{first}" if f"{other}/{first}" in ALLOWED else target
                problems.append(f"{path}:{number}: {text}: {folder} may not include {what}")
            elif owner not in allowed:
                problems.append(f"{path}:{number}: {text}: {folder} may not include {owner}")
    return problems


def sources(root):
    for component in ("shim", "analyzer"):
        for dirpath, _, files in os.walk(os.path.join(root, component)):
            for name in sorted(files):
                if name.endswith((".cc", ".h", ".S")):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    problems = []
    count = 0
    for path in sorted(sources(root)):
        count += 1
        problems += check_file(root, path)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} include(s) break the layer rules (scripts/check_layers.py lists them)")
        return 1
    print(f"check_layers: {count} files, every include follows the layer rules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
