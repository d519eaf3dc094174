"""Percentiles and latency summaries (fivecore.benchkit.stats)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fivecore.benchkit.stats import percentile, summarize_ms


def test_percentile_known_values() -> None:
    xs = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert percentile(xs, 0) == 15.0
    assert percentile(xs, 100) == 50.0
    assert percentile(xs, 50) == 35.0
    assert percentile(xs, 40) == pytest.approx(29.0)   # numpy.percentile(xs, 40, method="linear")
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_percentile_unsorted_input_is_not_modified() -> None:
    xs = [3.0, 1.0, 2.0]
    assert percentile(xs, 50) == 2.0
    assert xs == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("q", [-1.0, 100.5, float("nan")])
def test_percentile_rejects_bad_q(q: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], q)


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200),
       st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_percentile_bounded_and_monotonic(xs: list[float], q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    a, b = percentile(xs, lo), percentile(xs, hi)
    assert a is not None and b is not None
    assert min(xs) <= a <= b <= max(xs) or a == pytest.approx(b)


def test_summarize_ms() -> None:
    s = summarize_ms([0.010, 0.020, 0.030, 0.040, 0.100])
    assert s["p50"] == 30.0 and s["max"] == 100.0 and s["mean"] == 40.0
    assert s["p90"] == pytest.approx(76.0) and s["p99"] == pytest.approx(97.6)
    empty = summarize_ms([])
    assert empty == {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
