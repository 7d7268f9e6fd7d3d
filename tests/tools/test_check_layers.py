"""scripts/check_layers.py catches each kind of wrong include, naming its file and line (run_all.sh
runs the script itself on the real tree)."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "check_layers.py")


def run(root):
    return subprocess.run([sys.executable, SCRIPT, str(root)], capture_output=True, text=True)


@pytest.fixture
def tree(tmp_path):
    for component in ("shim", "analyzer"):
        shutil.copytree(os.path.join(ROOT, component), tmp_path / component)
    return tmp_path


def add_include(tree, path, include):
    p = tree / path
    text = p.read_text()
    first = text.index("#include")
    p.write_text(text[:first] + include + "\n" + text[first:])
    return text[:first].count("\n") + 1


@pytest.mark.parametrize("path,include,message", [
    ("analyzer/read/trace_file.cc", '#include "passes/timeline.h"', "analyzer/read may not include analyzer/passes"),
    ("analyzer/passes/timeline.cc", '#include "report/report.h"', "analyzer/passes may not include analyzer/report"),
    ("analyzer/report/diff.cc", '#include "launch/shim_path.h"', "analyzer/report may not include analyzer/launch"),
    ("analyzer/launch/run_command.cc", '#include "cli/commands.h"', "analyzer/launch may not include analyzer/cli"),
    ("shim/record/recorder.cc", '#include "read/event.h"', "shim/record may not include analyzer/read"),
    ("shim/hooks/hooks_malloc.cc", '#include "absl/container/flat_hash_map.h"', "shim may not use absl/"),
    ("shim/runtime/options.cc", "#include <string>", "shim may not use string"),
    ("analyzer/passes/timeline.cc", '#include "timeline.h"', "write includes from the component's root"),
])
def test_a_wrong_include_fails_naming_file_line_and_rule(tree, path, include, message):
    line = add_include(tree, path, include)
    r = run(tree)
    assert r.returncode == 1
    assert f"{path}:{line}: {include}: {message}" in r.stdout, r.stdout
    assert "1 include(s) break the layer rules" in r.stdout


def test_an_unknown_folder_must_be_given_rules(tree):
    (tree / "analyzer" / "extra").mkdir()
    (tree / "analyzer" / "extra" / "x.cc").write_text('#include "read/event.h"\n')
    r = run(tree)
    assert r.returncode == 1
    assert "analyzer/extra is not a known folder" in r.stdout
