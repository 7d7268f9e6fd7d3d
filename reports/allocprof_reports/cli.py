"""The report's driver: reads the JSON that `allocprof report` wrote into DIR, draws every chart
that applies (PNG and SVG), removes charts an earlier run left that this one did not draw, and
writes DIR/report.md.

    python3 reports/allocprof_report.py --analysis DIR/analysis.json --out DIR \\
        [--baseline DIR/baseline.json --diff DIR/diff.json] [--top 10] [--progress]

Exit status: 0 done; 2 unusable input JSON; 69 matplotlib is missing from this interpreter; 70 a
chart failed (the others and report.md are still written)."""

import argparse
import importlib
import os
import sys
import traceback

EXIT_BAD_INPUT = 2
EXIT_NO_MATPLOTLIB = 69
EXIT_CHART_FAILED = 70

# Every name a run can write: what a later run did not draw again is removed.
CHART_PATTERNS = ("timeline.png", "timeline.svg", "size-classes.png", "size-classes.svg", "collections.png",
                  "collections.svg", "comparison.png", "comparison.svg", "timeline-compare.png",
                  "timeline-compare.svg", "pool-*.png", "pool-*.svg", "flame-*.png", "flame-*.svg")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="allocprof_report", description="Charts and report.md from allocprof JSON.")
    p.add_argument("--analysis", required=True, help="analysis JSON (allocprof analyze --json)")
    p.add_argument("--out", required=True, help="directory to write charts and report.md into (must exist)")
    p.add_argument("--baseline", help="the baseline's analysis JSON")
    p.add_argument("--diff", help="diff JSON (allocprof diff --json) of baseline against this run")
    p.add_argument("--top", type=int, default=10, help="stacks per table in report.md")
    p.add_argument("--progress", action="store_true", help="name each chart on stderr as it is drawn")
    return p.parse_args(argv)


def plan(analysis, baseline, diff):
    """[(stem, draw)] for the charts that apply to this input, in report order."""
    from . import chart_collections, chart_compare, chart_flame, chart_pools, chart_size_classes, chart_timeline, flame, model

    charts = []
    if baseline is not None:
        charts.append(("comparison", lambda: chart_compare.draw_ratios(analysis, baseline, diff)))
        charts.append(("timeline-compare", lambda: chart_compare.draw_timelines(analysis, baseline)))
    charts.append(("timeline", lambda: chart_timeline.draw(analysis)))
    if flame.load(analysis) is not None:
        charts.append(("flame-bytes", lambda: chart_flame.draw(analysis, "bytes")))
        charts.append(("flame-calls", lambda: chart_flame.draw(analysis, "calls")))
        if baseline is not None and flame.load(baseline) is not None:
            charts.append(("flame-diff", lambda: chart_flame.draw_diff(analysis, baseline, "bytes")))
    g = model.gen(analysis)
    if g is not None and g.total:
        charts.append(("collections", lambda: chart_collections.draw(analysis)))
    charts.append(("size-classes", lambda: chart_size_classes.draw(analysis)))
    for i, pool in enumerate(model.pools(analysis)):
        charts.append((chart_pools.slug(pool.name, i), lambda pool=pool: chart_pools.draw(pool)))
    return charts


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        importlib.import_module("matplotlib")
    except ImportError as e:
        print(f"allocprof report: {sys.executable} cannot draw charts ({e}); install Debian's python3-matplotlib "
              "or pass --python with an interpreter that has matplotlib", file=sys.stderr)
        return EXIT_NO_MATPLOTLIB
    from . import html, markdown, model, output, style

    try:
        analysis = model.load(args.analysis)
        baseline = model.load(args.baseline) if args.baseline else None
        diff = model.load(args.diff) if args.diff else None
    except model.ReportError as e:
        print(f"allocprof report: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT

    written, charts, failed = set(), [], []
    for stem, draw in plan(analysis, baseline, diff):
        if args.progress:
            print(f"allocprof report: drawing {stem}", file=sys.stderr)
        try:
            fig = draw()
            png, svg = output.save_figure(fig, args.out, stem)
            charts.append((getattr(fig, "finding", stem), png, svg))
            written.update((png, svg))
            style.close(fig)
        except Exception:  # one broken chart must not cost the rest of the report
            failed.append(stem)
            print(f"allocprof report: chart '{stem}' failed:\n{traceback.format_exc()}", file=sys.stderr)
    output.remove_stale(args.out, written, CHART_PATTERNS)
    text = markdown.render(analysis, charts, baseline, diff, top=args.top)
    output.write_text(os.path.join(args.out, "report.md"), text)
    if args.progress:
        print("allocprof report: writing report.html", file=sys.stderr)
    try:
        page = html.render(analysis, baseline, diff)
        output.write_text(os.path.join(args.out, "report.html"), page)
    except html.MissingLibraries as e:
        print(f"allocprof report: report.html not written: {e}", file=sys.stderr)
        try:
            os.unlink(os.path.join(args.out, "report.html"))
        except FileNotFoundError:
            pass
    except Exception:  # the page must not cost the rest of the report
        failed.append("report.html")
        print(f"allocprof report: report.html failed:\n{traceback.format_exc()}", file=sys.stderr)
    return EXIT_CHART_FAILED if failed else 0
