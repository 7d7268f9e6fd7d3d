"""Reading the analyzer's JSON: optional sections may be missing or malformed without breaking a report."""

import pytest

from allocprof_reports import model
from conftest import pool_section, synthetic


def test_load_rejects_what_is_not_a_report(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(model.ReportError, match="schema_version"):
        model.load(str(bad))
    bad.write_text("{not json")
    with pytest.raises(model.ReportError, match="cannot read JSON"):
        model.load(str(bad))
    with pytest.raises(model.ReportError):
        model.load(str(tmp_path / "missing.json"))


def test_golden_reports_have_no_pools_and_no_collections(golden):
    g = model.gen(golden)
    assert g is not None and g.counts == (0, 0, 0) and g.collections == [] and len(g.windows) == 100
    assert model.pools(golden) == []
    assert model.size_class_pool_split(golden, []) is None
    tl = model.timeline(golden)
    assert len(tl) == len(golden["timeline"])
    assert sum(tl.allocations) == golden["totals"]["allocations"]


@pytest.mark.parametrize("gen", [None, [], "x", {"collections": "x"}, {"collections": [None, {"generation": 7}]}])
def test_malformed_gen(gen):
    report = synthetic(collections=None)
    report["gen"] = gen
    g = model.gen(report)
    assert g is None or (g.collections == [] and g.counts == (0, 0, 0))


@pytest.mark.parametrize("pools", [None, {}, [None, 3, "x"], [{"name": 5, "buckets": [None, {"rents": "x"}]}]])
def test_malformed_pools(pools):
    report = synthetic(collections=None)
    report["pools"] = pools
    for p in model.pools(report):
        assert isinstance(p.name, str)


def test_pool_fields():
    report = synthetic(collections=None)
    report["pools"] = [pool_section()]
    (p,) = model.pools(report)
    assert p.name == "connection/write" and p.max_block == 1 << 20 and p.slots_per_bucket == 8
    assert p.fallthroughs == 9000 + 1800 + 3 * 8
    assert [b.size for b in p.buckets] == [256, 16 << 10, 64 << 10, 2 << 20]
    assert p.buckets[2].dropped == {"full": 900} and p.dropped == {"full": 900, "oversize": 9000}
    assert p.advisor.max_block == 4 << 20 and len(p.advisor.slots) == 19 and p.advisor.hit_rate == 0.992
    assert dict(p.advisor.slots)[64 << 10] == 32


def test_pooled_and_fallen_through_per_size_class():
    report = synthetic(collections=None)
    report["pools"] = [pool_section()]
    split = model.size_class_pool_split(report, model.pools(report))
    lows = [c["min_bytes"] for c in report["size_classes"]]
    assert split[lows.index(64 << 10)] == (20000 - 1800 - 8, 1800 + 8)  # bucket-sized arrays
    assert split[lows.index(1 << 20)] == (0, 9000)  # oversize: the exact sizes, just over 1 MiB
    assert split[lows.index(2 << 20)] == (0, 0)
    assert sum(s[1] for s in split) == 9000 + 1800 + 3 * 8


def test_headline_metrics_prefer_the_diff(stress, stress_baseline, stress_diff):
    names = [h.metric for h in model.headline_metrics(stress, stress_baseline, stress_diff)]
    assert names == ["allocations", "bytes_allocated", "peak_live_bytes", "gen0", "gen1", "gen2"]
    stress_diff["metrics"]["allocations"]["after"] = 1
    assert model.headline_metrics(stress, stress_baseline, stress_diff)[0].after == 1
    biggest = model.biggest_change(model.headline_metrics(stress, stress_baseline, None))
    assert biggest.metric == "gen2"


def test_json_numbers_are_checked():
    assert model.num(None) == 0 and model.num("3") == 0 and model.num(True) == 0
    assert model.num(float("nan")) == 0 and model.num(2.5) == 2.5


def test_headline_panels_leave_out_zeros_and_a_gen_model_that_never_collected(stress, stress_baseline):
    """Issue 16: .NET Gen panels at 0 on both sides filled 3 of 6 panels for a native program."""
    quiet, quiet_baseline = dict(stress), dict(stress_baseline)
    quiet["gen"] = dict(stress["gen"], gen0=0, gen1=0, gen2=0)
    quiet_baseline["gen"] = dict(stress_baseline["gen"], gen0=0, gen1=0, gen2=0)
    names = [h.metric for h in model.headline_metrics(quiet, quiet_baseline, None)]
    assert names == ["allocations", "bytes_allocated", "peak_live_bytes"]
    quiet["gen"] = dict(quiet["gen"], gen0=1)  # collected once in this run: its Gen panels come back
    names = [h.metric for h in model.headline_metrics(quiet, quiet_baseline, None)]
    assert names == ["allocations", "bytes_allocated", "peak_live_bytes", "gen0"], "Gen1 and Gen2 still zero on both"
