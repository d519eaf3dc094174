"""Latency statistics.

Percentiles use linear interpolation between closest ranks (the "type 7" estimator of
Hyndman & Fan, numpy's default), so p50 of an even-sized sample is the mean of the middle two.
"""

from __future__ import annotations

import math
import statistics
import timeit
from collections.abc import Callable, Iterable, Sequence

DEFAULT_QUANTILES = (50.0, 90.0, 99.0)


def percentile(values: Sequence[float], q: float, *, is_sorted: bool = False) -> float | None:
    """The ``q``-th percentile (0..100) of ``values``; None for an empty sample."""
    if not 0.0 <= q <= 100.0 or math.isnan(q):
        raise ValueError(f"percentile {q} is outside 0..100")
    if not values:
        return None
    xs = values if is_sorted else sorted(values)
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    frac = pos - lo
    return float(xs[lo] + (xs[hi] - xs[lo]) * frac)


def summarize_ms(seconds: Iterable[float], quantiles: Sequence[float] = DEFAULT_QUANTILES,
                 digits: int = 2) -> dict[str, float | None]:
    """Latencies in seconds -> ``{"p50": ms, "p90": ms, "p99": ms, "max": ms, "mean": ms}``."""
    xs = sorted(seconds)
    out: dict[str, float | None] = {}
    for q in quantiles:
        v = percentile(xs, q, is_sorted=True)
        out[f"p{q:g}"] = None if v is None else round(v * 1000.0, digits)
    out["max"] = round(xs[-1] * 1000.0, digits) if xs else None
    out["mean"] = round(sum(xs) / len(xs) * 1000.0, digits) if xs else None
    return out


def median_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Micro-benchmark: µs per call of ``fn``, the median of ``repeat`` runs of ``number`` calls."""
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6
