"""Number formatting shared by the charts and report.md."""

import pytest

from allocprof_reports import units


@pytest.mark.parametrize("n, text", [(0, "0 B"), (512, "512 B"), (1536, "1.5 KiB"), (301640, "294.6 KiB"),
                                     (91 << 20, "91.0 MiB"), (3.5 * (1 << 30), "3.5 GiB")])
def test_human_bytes(n, text):
    assert units.human_bytes(n) == text


@pytest.mark.parametrize("n, text", [(16, "16 B"), (65536, "64 KiB"), (85000, "85,000 B"), (1 << 20, "1 MiB"),
                                     (3 << 30, "3 GiB")])
def test_size_label(n, text):
    assert units.size_label(n) == text


@pytest.mark.parametrize("n, text", [(0, "0"), (7, "7"), (2.5, "2.5"), (950, "950"), (999.9, "1k"), (1500, "1.5k"),
                                     (12000, "12k"), (999999, "1M"), (1.2e6, "1.2M"), (3.4e9, "3.4G"), (-2000, "-2k")])
def test_compact_count(n, text):
    assert units.compact_count(n) == text


def test_time_scale_and_seconds():
    assert units.time_scale(2.0) == (1.0, "s")
    assert units.time_scale(0.25) == (1e-3, "ms")
    assert units.time_scale(0.0005) == (1e-6, "µs")
    assert units.human_seconds(0.00312) == "3.12 ms"
    assert units.human_seconds(12.345) == "12.3 s"


def test_ratio_and_percent():
    assert units.ratio_text(43, 532) == "12.4x"
    assert units.ratio_text(5, 505) == "101x"
    assert units.ratio_text(100, 98) == "0.98x"
    assert units.ratio_text(0, 0) == "1.00x"
    assert units.ratio_text(0, 5) == "new"
    assert units.ratio_text(None, 5) == "new" and units.ratio_text(5, None) == "gone"
    assert units.percent(0.678) == "67.8%" and units.percent(0.0001) == "<0.1%" and units.percent(0) == "0.0%"


def test_byte_scale():
    assert units.byte_scale(0) == (1.0, "B")
    assert units.byte_scale(1023) == (1.0, "B")
    assert units.byte_scale(1024) == (1024.0, "KiB")
    assert units.byte_scale(91 << 20) == (float(1 << 20), "MiB")
