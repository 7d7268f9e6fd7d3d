"""Flame graphs: the analyzer's "flame" section read into a tree whose totals add up, the PNG/SVG
icicle (finding in the title, labels that fit their frames, small frames merged, 900 px wide), the
differential one coloured by growth, and report.html (self-contained: libraries, styles and data
inlined; the data cannot close its script element)."""

import copy
import json
import os
import re

import pytest

from allocprof_reports import chart_flame, cli, flame, html, style
from conftest import MiB, STRESS_PATHS, assert_no_overlaps, assert_svg, flame_section, png_size, synthetic
from allocprof_reports import output


@pytest.fixture
def flamed():
    report = synthetic()
    report["flame"] = flame_section(STRESS_PATHS)
    return report


def titled(fig):
    return style.headline(fig).replace("\n", " ")


def test_tree_totals_add_up(flamed):
    tree = flame.load(flamed)
    totals = tree.totals("bytes")
    roots, kids = tree.children()
    assert sum(totals[r] for r in roots) == sum(b for _, b in STRESS_PATHS.values())
    main = tree.names.index("main")
    assert totals[main] == 700 * MiB
    assert tree.is_runtime(tree.names.index("_start")) and not tree.is_runtime(main)
    assert tree.where(main) == "app/main.cc:13"


def test_missing_or_malformed_section_gives_no_tree(flamed):
    assert flame.load(synthetic()) is None
    broken = copy.deepcopy(flamed)
    broken["flame"]["nodes"]["site"] = broken["flame"]["nodes"]["site"][:-1]
    assert flame.load(broken) is None


def test_flame_graph_by_bytes(flamed, out_dir):
    fig = chart_flame.draw(flamed, "bytes")
    # RunWriter holds 700 of 1000 MiB; Serializer::Write (620 MiB) is the deepest program frame above half.
    assert titled(fig) == "Flame graph: 62.0% of bytes under Serializer::Write (app/serializer::write(batch const&).cc:16)" or \
        titled(fig).startswith("Flame graph: 62.0% of bytes under Serializer::Write")
    png, svg = output.save_figure(fig, out_dir, "flame-bytes")
    assert png_size(os.path.join(out_dir, png))[0] == 900
    assert_svg(os.path.join(out_dir, svg))
    assert_no_overlaps(fig)
    style.close(fig)


def test_labels_fit_their_frames(flamed):
    fig = chart_flame.draw(flamed, "calls")
    assert "of allocation calls under Batch::Append" in titled(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = {round(t.get_position()[0], 6): t for t in ax.texts}
    checked = 0
    for node, depth, x0, w, hidden in fig.flame_frames:
        t = next((t for t in ax.texts if abs(t.get_position()[0] - (x0 + 2 / chart_flame.PLOT_PX)) < 1e-9
                  and abs(t.get_position()[1] - (depth + 0.46)) < 1e-9), None)
        if t is None:
            continue
        box = t.get_window_extent(renderer)
        frame_px = w * ax.get_window_extent(renderer).width
        assert box.width <= frame_px, f"label {t.get_text()!r} ({box.width:.0f} px) wider than its frame ({frame_px:.0f} px)"
        checked += 1
    assert checked >= 10 and texts
    labels = [t.get_text() for t in ax.texts]
    assert "Serializer::Write" in labels  # templates and parameters dropped
    assert any(label.endswith("…") for label in labels) or all("(" not in label for label in labels)
    style.close(fig)


def test_small_frames_are_merged():
    paths = {("main", "Big"): (1, 1000 * MiB)}
    for i in range(400):
        paths[("main", f"Tiny{i:03d}")] = (1, MiB // 8)
    report = synthetic()
    report["flame"] = flame_section(paths)
    fig = chart_flame.draw(report)
    merged = [f for f in fig.flame_frames if f[0] is None]
    assert len(merged) == 1 and merged[0][4] == 400
    assert any(t.get_text().startswith("400") for t in fig.axes[0].texts)
    assert len(fig.axes[0].patches) < 10
    style.close(fig)


def test_differential_flame_graph_colours_growth(flamed, out_dir):
    before = synthetic(scale=0.1)
    paths = dict(STRESS_PATHS)
    paths[("_start", "__libc_start_main", "main", "Run", "RunWriter", "Serializer::Write(Batch const&)",
           "operator new[](unsigned long)")] = (50, 6 * MiB)
    del paths[("clone3", "start_thread", "RunPump", "librdkafka.so.1+0x4f2a0")]
    before["flame"] = flame_section(paths)
    fig = chart_flame.draw_diff(flamed, before)
    assert titled(fig).startswith("Differential flame graph: +614.0 MiB bytes under Serializer::Write")
    tree = flame.load(flamed)
    colours = {tree.names[n]: p.get_facecolor() for (n, *_), p in zip(
        [f for f in fig.flame_frames], fig.axes[0].patches) if n is not None and n >= 0}
    import matplotlib.colors as mc
    assert mc.to_hex(colours["librdkafka.so.1+0x4f2a0"]) == style.VERMILLION.lower()  # new
    assert mc.to_hex(colours["Batch::Append(Message const&)"]) == "#e6e6e6"  # unchanged
    r, g, b, _ = colours["Serializer::Write(Batch const&)"]
    assert r > 0.8 and b < 0.5  # grew: vermillion
    save_png, _ = output.save_figure(fig, out_dir, "flame-diff")
    assert png_size(os.path.join(out_dir, save_png))[0] == 900
    assert_no_overlaps(fig)
    style.close(fig)


def test_report_html_is_self_contained(flamed, tmp_path):
    baseline = synthetic(scale=0.1)
    baseline["flame"] = flame_section({("_start", "__libc_start_main", "main", "Run"): (5, 5 * MiB), ("main",): (1, 1)})
    flamed["process"]["command_line"] = "stress </script><script>alert(1)</script>"
    page = html.render(flamed, baseline, None)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|https?://[^\s\"')]*\.(js|css)", page)
    assert page.count("</script>") == 4  # two libraries, the data, the page script: nothing ends one early
    assert "alert(1)</script>" not in page
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
                      .group(1).replace("<\\/", "</"))
    assert data["flame"]["nodes"]["parent"] == flamed["flame"]["nodes"]["parent"]
    tree = flame.load(flamed)
    # Baseline totals per node, matched by call path (a top-level main is another path).
    assert data["baseline_bytes"][tree.names.index("main")] == 5 * MiB
    assert data["baseline_bytes"][tree.names.index("Run")] == 5 * MiB
    assert data["baseline_bytes"][tree.names.index("RunWriter")] == 0
    assert "Apache License" in page and "ISC" in page or "Permission to use" in page  # the libraries' licences


def test_cli_writes_flame_graphs_and_the_page(flamed, tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(flamed))
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(["--analysis", str(path), "--out", str(out)]) == 0
    names = sorted(os.listdir(out))
    for name in ("flame-bytes.png", "flame-bytes.svg", "flame-calls.png", "flame-calls.svg", "report.html"):
        assert name in names
    text = (out / "report.md").read_text()
    assert re.search(r"!\[Flame graph: 62\.0% of bytes under Serializer::Write[^\]]*\]\(flame-bytes\.png\)", text)
    # Without the flame section the flame graphs of an earlier run go.
    path.write_text(json.dumps(synthetic()))
    assert cli.main(["--analysis", str(path), "--out", str(out)]) == 0
    assert not any(n.startswith("flame-") for n in os.listdir(out))


def test_runtime_frames_with_a_return_type_are_runtime():
    report = synthetic()
    report["flame"] = flame_section({("main", "Worker::Run()", "void std::deque<int, std::allocator<int> >::_M_push_back_aux<int>(int&&)"): (1, 64)})
    tree = flame.load(report)
    assert tree.is_runtime(2)
    assert not tree.is_runtime(1)


def test_alt_text_keeps_underscores_in_file_names():
    from allocprof_reports import markdown
    assert markdown._alt("Flame graph: 88.6% of bytes under Rent (producer/array_pool.h:136)") == \
        "Flame graph: 88.6% of bytes under Rent (producer/array\\_pool.h:136)"  # renders as array_pool.h
    assert markdown._alt("a [b](c) <d> `e` | *f*") == "a b(c) d e  \\*f\\*"
