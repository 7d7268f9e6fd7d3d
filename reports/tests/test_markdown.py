"""report.md: headline, charts, stack tables, the comparison and verdict; safe to paste into a
pull-request comment (trace strings in code, under the size limit)."""

import re

from allocprof_reports import html, markdown
from conftest import synthetic

CHARTS = [("Live heap peaks at 1 MiB", "timeline.png", "timeline.svg")]


def test_golden_report_has_headline_table_and_stacks(golden):
    text = markdown.render(golden, CHARTS)
    assert text.startswith("## allocprof report: `")
    assert f"**{golden['totals']['allocations']:,} allocations**" in text
    assert "| | this run |" in text
    assert "![Live heap peaks at 1 MiB](timeline.png)" in text and "[SVG](timeline.svg)" in text
    assert "#### Top stacks by bytes\n\n| # | function | file:line | bytes | calls |" in text
    rows = re.findall(r"^\| 1 \| `([^`]+)`", text, re.M)
    assert rows and all("+0x" in r or r.isidentifier() for r in rows)  # --no-symbols goldens: module+offset
    assert "verdict" not in text
    assert len(text.encode()) <= markdown.LIMIT_BYTES


def test_symbolized_stacks_are_short_with_file_and_line():
    text = markdown.render(synthetic(collections=None), CHARTS)
    assert "| 1 | `Serializer::Write` via `std::vector::_M_default_append` | `app/serializer.cc:88` |" in text
    assert "| 2 | `librdkafka.so.1+0x4f2a0` | – |" in text


def test_trace_strings_cannot_format_the_comment():
    report = synthetic(collections=None)
    report["warnings"] = ["evil ``` closes the fence? @someone <img src=x>", "x" * 5000]
    text = markdown.render(report, CHARTS)
    # the command line '... | tee `x` <b>' stays inside one code span, its pipe escaped for tables
    assert "`/usr/bin/stress --messages 100000 \\| tee 'x' <b>`" in text
    assert "`operator\\|`" in text and "`app/fl'ags.h:3`" in text
    fence = re.search(r"^(`{3,})text$", text, re.M).group(1)
    assert len(fence) >= 4, "the fence is longer than any backtick run inside it"
    assert "x" * 299 + "…" in text and "x" * 301 not in text
    outside_code = re.sub(r"`[^`\n]*`", "", text.split(fence)[0])
    assert "<b>" not in outside_code and "@someone" not in outside_code


def test_with_baseline_verdict_and_diff_tables(stress, stress_baseline, stress_diff):
    text = markdown.render(stress, CHARTS, stress_baseline, stress_diff)
    assert "❌ **verdict: FAIL — allocations 12.4x > 1.10x (1,234 -> 15,300)**" in text
    assert "| | baseline | this run | ratio |" in text
    assert "| Gen2 collections | 5 | 505 | **101x** |" in text
    assert "<details><summary>Every figure against the baseline</summary>" in text
    assert "| `gen2` | 5 | 505 | 101x |" in text
    assert "| `Serializer::Write < main` | 1000 B | 161.1 KiB | 165x |" in text
    assert "| `librdkafka.so.1+0x4f2a0 \\| x` | – | 4.9 KiB | new |" in text
    assert "### Pools" in text and "| `connection/write` | 33,500 | 67.7% | 9,000 / 1,800 / 24 |" in text
    assert "**8.3 allocations per unit** of `messages` (100,000 counted)" in text
    stress_diff["passed"] = True
    stress_diff["verdict"] = "verdict: PASS (4 of 4 rules applied)"
    assert "✅ **verdict: PASS (4 of 4 rules applied)**" in markdown.render(stress, CHARTS, stress_baseline, stress_diff)


def test_fits_a_comment_when_the_trace_is_huge():
    report = synthetic(collections=None)
    deep = [{"function": f"ns{i}::Function{i}<" + "T, " * 200 + ">(int)", "file": f"/src/{i}.cc", "line": i,
             "module": "/usr/bin/app", "offset": i} for i in range(200)]
    for key in ("top_by_bytes", "top_by_calls", "top_by_peak", "leaks"):
        report["stacks"][key] = [{"calls": 1, "bytes": 1, "peak_bytes": 1, "leaked_bytes": 1, "frames": deep}] * 100
    report["warnings"] = [f"warning {i}: " + "w" * 400 for i in range(100000)]
    charts = [(f"chart {i} " + "t" * 200, f"c{i}.png", f"c{i}.svg") for i in range(200)]
    text = markdown.render(report, charts, top=100)
    assert len(text.encode()) <= markdown.LIMIT_BYTES
    assert text.startswith("## allocprof report:") and "allocations**" in text


def test_a_windowed_report_says_which_window_it_covers():
    report = synthetic(collections=None)
    assert markdown.window_note(report) == ""
    report["window"] = {"active": True, "from": 'mark "warmup-done"', "to": "end", "from_s": 2.5, "to_s": 10.0}
    text = markdown.render(report, CHARTS)
    note = markdown.window_note(report)
    assert note.startswith("Window `mark \"warmup-done\"` to `end`") and "every figure covers this window only" in note
    assert note in text


def test_sampled_report_says_its_figures_are_estimates(golden):
    assert "Sampled trace" not in markdown.render(golden, CHARTS)
    sampled = dict(golden, sampling={"interval_bytes": 524288, "estimated": True, "samples": 1234,
                                     "allocations_rel_error": 0.0312, "bytes_rel_error": 0.0045})
    text = markdown.render(sampled, CHARTS)
    assert "> **Sampled trace** (`--sample 512.0 KiB`, 1,234 allocations recorded): every count and byte figure" \
           " is an estimate; expected error (1 sigma): allocations ±3.12%, bytes ±0.45%." in text
    # a figure sampling cannot estimate is null in the JSON: shown as not available, never as 0
    sampled["totals"] = dict(golden["totals"], temporary_allocations=None, peak_live_bytes=None, peak_time_s=None,
                             allocations_sigma=1234.4, leaked_bytes_sigma=2048.0,
                             allocations_per_second_sigma=18157.0, large_objects=5, large_objects_sigma=3.2)
    sampled["gen"] = None
    text = markdown.render(sampled, CHARTS)
    assert "| temporary allocations | not available when sampling |" in text
    assert "| peak live heap | not available when sampling |" in text
    assert "peak live heap not available when sampling" in text and "peaked at **0 B**" not in text
    assert "| Gen collections (simulated) | not available when sampling |" in text
    assert " ± 1,234 |" in text  # an estimate with its 1 sigma
    assert "/s ± 18k/s |" in text  # a rate's in the rate's unit
    assert "| large objects | 5 ± 3 |" in text
    # a sampled 0 against a baseline that had some: what that 0 may hide, not an exact 0
    sampled["totals"].update(large_objects=0, large_objects_sigma=0, large_objects_upper_95=19)
    baseline = dict(golden, totals=dict(golden["totals"], large_objects=4))
    text = markdown.render(sampled, CHARTS, baseline=baseline)
    assert "| large objects | 4 | 0 (none recorded: < 19 at 95%) |" in text


def test_sampled_baseline_and_default_rules_not_applied(golden):
    sampling = {"interval_bytes": 65536, "estimated": True, "samples": 99,
                "allocations_rel_error": 0.05, "bytes_rel_error": 0.01}
    sampled = dict(golden, sampling=sampling, gen=None,
                   totals=dict(golden["totals"], peak_live_bytes=None, temporary_allocations=None))
    diff = {"verdict": "verdict: PASS (2 of 4 rules applied; 2 not applied: not available when sampling)",
            "passed": True, "withheld": False,
            "rules": [{"rule": "allocations>1.10x", "not_applied": None},
                      {"rule": "peak_live_bytes>1.25x",
                       "not_applied": "peak live heap: not available when sampling (before, after)"}],
            "metrics": {"peak_live_bytes": {"label": "peak live heap", "shown": True, "notable": False,
                                            "before": None, "after": None, "ratio": None,
                                            "unavailable": ["before", "after"]}}}
    text = markdown.render(sampled, CHARTS, baseline=sampled, diff=diff)
    assert "- not applied: `peak_live_bytes>1.25x` — peak live heap: not available when sampling (before, after)" in text
    assert "`allocations>1.10x`" not in text
    assert "| peak live heap | not available when sampling | not available when sampling | — |" in text
    assert "| `peak live heap` | n/a | n/a | — |" in text


def test_a_run_of_several_processes_says_which_one_is_shown_and_which_allocated_most():
    report = synthetic(collections=None)
    assert "This run traced" not in markdown.render(report, CHARTS)
    report["run"] = {
        "processes": [
            {"file": "py.trace", "pid": 10, "ppid": 9, "command": "env", "command_line": "/usr/bin/env bash x",
             "forked": False, "allocations": 201, "bytes_allocated": 19000},
            {"file": "py.trace.11", "pid": 11, "ppid": 10, "command": "bash", "command_line": "bash x",
             "forked": True, "allocations": 126, "bytes_allocated": 5000},
            {"file": "py.trace.10.4", "pid": 10, "ppid": 9, "command": "python3",
             "command_line": "/usr/bin/python3 -c pass", "forked": False, "allocations": 2203,
             "bytes_allocated": 400000},
        ],
        "most_allocating": 2, "reported": 2, "reported_because": "allocated most"}
    text = markdown.render(report, CHARTS)
    assert "This run traced **3 processes**, 2,530 allocations in all." in text
    assert "The figures below are of `python3` (pid 10, `py.trace.10.4`): `allocated most`." in text
    assert "It made 87.1% of the run's allocations." in text
    table = text.split("<summary>Processes of the run</summary>")[1]
    assert table.index("| 10 | 9 | 2,203 |") < table.index("| 10 | 9 | 201 |") < table.index("| 11 | 10 | 126 |")
    report["run"]["reported"] = 0
    report["run"]["reported_because"] = "--process env"
    text = markdown.render(report, CHARTS)
    assert "The one that allocated most is `python3` (pid 10, `py.trace.10.4`), 87.1% of the allocations." in text


def test_damage_opens_the_report_before_the_verdict_and_any_figure(stress, stress_baseline, stress_diff):
    """Issue 16: report.md put the FAIL first and the damage warning at the very bottom."""
    message = "after.trace: corrupt data at offset 354862 (checksum mismatch); resynchronised at offset 379007, 24145 bytes skipped"
    stress["process"] = dict(stress.get("process", {}), damage=[{"kind": "corrupt", "offset": 354862, "bytes": 24145,
                                                                  "message": message}])
    stress["warnings"] = [message, "something else"]
    stress_diff.update(withheld=True, passed=None,
                       verdict="verdict: WITHHELD — after (after.trace) is damaged, so figures may be wrong")
    text = markdown.render(stress, CHARTS, stress_baseline, stress_diff)
    damage_at = text.index("⚠️ **Damaged trace (this run)**")
    assert damage_at < text.index(message) < text.index("⚠️ **verdict: WITHHELD") < text.index("allocations**")
    assert text.count(message) == 1, "listed once, with the damage, not again among the warnings"
    assert "something else" in text


def test_ratios_are_bold_only_when_they_moved(stress, stress_baseline):
    stress_baseline["totals"] = dict(stress_baseline["totals"], duration_s=stress["totals"]["duration_s"] * 1.05,
                                     mismatched_frees=0)
    stress["totals"] = dict(stress["totals"], mismatched_frees=0)
    text = markdown.totals_table(stress, stress_baseline)
    assert re.search(r"^\| duration \| [^|]+ \| [^|]+ \| 0\.95x \|$", text, re.M), text
    assert "| Gen2 collections | 5 | 505 | **101x** |" in text
    assert "mismatched" not in text


def test_sampled_diff_says_when_a_rule_turns_on_a_sampled_zero():
    diff = {"verdict": "verdict: PASS (1 of 1 rule applied; 1 on a sampled 0 with none recorded)",
            "passed": True, "withheld": False,
            "rules": [{"rule": "large_object_bytes>0", "metric": "large_object_bytes", "not_applied": None,
                       "failed": False, "compared": 0, "sampled_zero_side": "after",
                       "sampled_zero_upper_95": 3 * 1048576}]}
    text = markdown.verdict(diff)
    assert ("- sampled 0: `large_object_bytes>0`: after's 0 has none recorded, and may hide up to 3.0 MiB at 95%"
            " (passed on what was recorded)") in text, text
    for rule in ({"rule": "large_object_bytes>0", "sampled_zero_side": None},
                 {"rule": "large_object_bytes>0", "sampled_zero_side": "after", "sampled_zero_upper_95": None}):
        assert "- sampled 0" not in markdown.verdict(dict(diff, rules=[rule]))


def test_sampled_diff_shows_sigma_and_rules_within_noise():
    diff = {"verdict": "verdict: PASS (1 of 1 rules applied; 1 within 2 sigma of the threshold)",
            "passed": True, "withheld": False,
            "rules": [{"rule": "allocations>1.10x", "not_applied": None, "failed": False, "compared": 1.08,
                       "compared_sigma": 0.05, "within_noise": True}],
            "metrics": {"allocations": {"label": "allocations", "shown": True, "notable": False, "before": 1000,
                                        "after": 1080, "ratio": 1.08, "before_sigma": 0, "after_sigma": 50.2},
                        "allocations_per_messages": {"label": "allocations per message", "shown": True,
                                                     "notable": False, "before": 10, "after": 10.8, "ratio": 1.08,
                                                     "before_sigma": 0, "after_sigma": 0.5}},
            "grown_stacks": [{"stack": "Send", "before_bytes": 3000, "after_bytes": 4000, "before_calls": 1,
                              "after_calls": 1, "before_bytes_sigma": 0, "after_bytes_sigma": 1000,
                              "before_calls_sigma": 0, "after_calls_sigma": 0}]}
    table = markdown.diff_tables(diff)
    assert "| 1,000 | 1,080 ± 50 | 1.08x |" in table
    assert "| 10 | 10.8 ± 0.5 | 1.08x |" in table
    assert " ± 1000 B |" in table
    text = markdown.verdict(diff)
    assert ("- within noise: `allocations>1.10x`: 1.08x ± 0.05x lies within 2 sigma of the threshold"
            " (passed on the estimate)") in text
    exact = dict(diff, rules=[{"rule": "allocations>1.10x", "not_applied": None}],
                 metrics={"allocations": {"label": "allocations", "before": 1000, "after": 1080, "ratio": 1.08}},
                 grown_stacks=[])
    assert "±" not in markdown.diff_tables(exact) and "within noise" not in markdown.verdict(exact)
    # The page's diff panel shows the same cells.
    rows = {row[0]: row for row in html.payload(synthetic(), synthetic(), diff)["diff"]}
    assert rows["allocations"][1:] == ["1,000", "1,080 ± 50", "1.08x"]
    assert rows["allocations_per_messages"][2] == "10.8 ± 0.5"
    assert all("±" not in cell for row in html.payload(synthetic(), synthetic(), exact)["diff"] for cell in row)
