"""The driver end to end: every chart that applies is written, report.md links only files that
exist, stale charts go, symlinks are replaced rather than followed, exit codes are as documented."""

import json
import os
import re
import subprocess
import sys

import pytest

from allocprof_reports import chart_size_classes, cli
from conftest import GOLDEN, REPORTS, assert_svg, png_size

ENTRY = os.path.join(REPORTS, "allocprof_report.py")


def write(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return str(path)


def links(out_dir):
    with open(os.path.join(out_dir, "report.md")) as f:
        text = f.read()
    return text, re.findall(r"\]\(([^)\s]+)\)", text)


def test_golden_report(out_dir):
    assert cli.main(["--analysis", GOLDEN[0], "--out", out_dir]) == 0
    assert sorted(os.listdir(out_dir)) == ["report.html", "report.md", "size-classes.png", "size-classes.svg",
                                           "timeline.png", "timeline.svg"]
    text, targets = links(out_dir)
    assert targets == ["timeline.png", "timeline.svg", "size-classes.png", "size-classes.svg"]
    for name in targets:
        assert os.path.isfile(os.path.join(out_dir, name)) and "/" not in name
    assert png_size(os.path.join(out_dir, "timeline.png"))[0] == 900
    assert_svg(os.path.join(out_dir, "size-classes.svg"))
    assert "| # | function | file:line | bytes | calls |" in text


def test_report_with_baseline_pools_and_gen(tmp_path, stress, stress_baseline, stress_diff):
    out = tmp_path / "out"
    out.mkdir()
    args = ["--analysis", write(tmp_path / "a.json", stress), "--baseline", write(tmp_path / "b.json", stress_baseline),
            "--diff", write(tmp_path / "d.json", stress_diff), "--out", str(out)]
    assert cli.main(args) == 0
    charts = sorted(n for n in os.listdir(out) if n.endswith(".png"))
    assert charts == ["collections.png", "comparison.png", "pool-1-connection-write.png", "size-classes.png",
                      "timeline-compare.png", "timeline.png"]
    text, targets = links(str(out))
    assert targets[:2] == ["comparison.png", "comparison.svg"]
    assert all((out / name).is_file() for name in targets)
    assert "![Gen2 collections 101x baseline](comparison.png)" in text
    assert "verdict: FAIL" in text


def test_stale_charts_go_other_files_stay(tmp_path, stress):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("collections.png", "comparison.svg", "pool-3-old.png", "notes.txt", "analysis.json"):
        (out / name).write_text("old")
    stress.pop("gen")
    stress.pop("pools")
    assert cli.main(["--analysis", write(tmp_path / "a.json", stress), "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["analysis.json", "notes.txt", "report.html", "report.md", "size-classes.png", "size-classes.svg",
                                       "timeline.png", "timeline.svg"]


def test_symlinks_in_the_directory_are_replaced_not_followed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (out / "report.md").symlink_to(victim)
    (out / "timeline.png").symlink_to(victim)
    assert cli.main(["--analysis", GOLDEN[0], "--out", str(out)]) == 0
    assert victim.read_text() == "keep me"
    assert not (out / "report.md").is_symlink() and not (out / "timeline.png").is_symlink()
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


def test_bad_input_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert cli.main(["--analysis", str(bad), "--out", str(tmp_path)]) == cli.EXIT_BAD_INPUT
    assert "no schema_version" in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()


def test_a_failing_chart_exits_70_after_writing_the_rest(out_dir, monkeypatch, capsys):
    def broken(report):
        raise RuntimeError("boom")

    monkeypatch.setattr(chart_size_classes, "draw", broken)
    assert cli.main(["--analysis", GOLDEN[0], "--out", out_dir]) == cli.EXIT_CHART_FAILED
    assert "chart 'size-classes' failed" in capsys.readouterr().err
    assert sorted(os.listdir(out_dir)) == ["report.html", "report.md", "timeline.png", "timeline.svg"]
    _, targets = links(out_dir)
    assert targets == ["timeline.png", "timeline.svg"]


def test_entry_point_script(out_dir):
    r = subprocess.run([sys.executable, "-B", ENTRY, "--analysis", GOLDEN[-1], "--out", out_dir, "--progress"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "allocprof report: drawing timeline" in r.stderr
    assert os.path.isfile(os.path.join(out_dir, "report.md"))


def test_interpreter_without_matplotlib_exits_69(tmp_path):
    fake = tmp_path / "site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib (test)')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    r = subprocess.run([sys.executable, "-B", ENTRY, "--analysis", GOLDEN[0], "--out", str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == cli.EXIT_NO_MATPLOTLIB
    assert "python3-matplotlib" in r.stderr and "--python" in r.stderr


@pytest.mark.parametrize("argv", [[], ["--out", "x"], ["--analysis", "x"]])
def test_usage_errors(argv):
    with pytest.raises(SystemExit) as e:
        cli.parse_args(argv)
    assert e.value.code == 2


def test_same_json_same_files(tmp_path):
    first, second = tmp_path / "1", tmp_path / "2"
    for out in (first, second):
        out.mkdir()
        assert cli.main(["--analysis", GOLDEN[-1], "--out", str(out)]) == 0
    for name in ("timeline.png", "timeline.svg", "size-classes.svg", "report.md"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
