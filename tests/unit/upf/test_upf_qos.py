"""Token bucket arithmetic with a fake clock (TS 29.244 §5.4 MBR policing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fivecore.nf.upf.qos import MIN_BURST_BYTES, TokenBucket


def test_starts_full_then_refuses_above_burst() -> None:
    b = TokenBucket(8_000, burst_bytes=1000, now=0.0)  # 1000 B/s
    assert b.allow(600, 0.0)
    assert b.allow(400, 0.0)
    assert not b.allow(1, 0.0)
    assert b.passed == 1000
    assert b.dropped == 1


def test_refills_at_rate_and_caps_at_burst() -> None:
    b = TokenBucket(8_000, burst_bytes=1000, now=0.0)
    assert b.allow(1000, 0.0)
    assert not b.allow(500, 0.25)  # only 250 B back
    assert b.allow(500, 0.5)  # 500 B back, exactly enough
    assert not b.allow(1, 0.5)
    # A long idle period never gives more than the bucket depth.
    assert not b.allow(1001, 100.0)
    assert b.allow(1000, 100.0)


def test_refused_packet_takes_nothing() -> None:
    b = TokenBucket(8_000, burst_bytes=1000, now=0.0)
    assert b.allow(900, 0.0)
    assert not b.allow(200, 0.0)
    assert b.allow(100, 0.0)


def test_default_burst_has_floor() -> None:
    assert TokenBucket(8_000, now=0.0).burst == MIN_BURST_BYTES
    assert TokenBucket(100_000_000, now=0.0).burst == pytest.approx(100_000_000 / 8 * 0.05)


def test_set_rate_clamps_tokens() -> None:
    b = TokenBucket(80_000_000, now=0.0)
    b.set_rate(8_000, burst_bytes=2000)
    assert b.tokens == 2000
    assert b.rate_bps == 8_000


def test_rejects_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


@given(
    rate_kbps=st.integers(min_value=64, max_value=1_000_000),
    sizes=st.lists(st.integers(min_value=40, max_value=1500), min_size=50, max_size=400),
    gap=st.floats(min_value=1e-6, max_value=1e-2),
)
def test_long_run_rate_never_exceeds_rate_plus_burst(rate_kbps: int, sizes: list[int],
                                                      gap: float) -> None:
    b = TokenBucket(rate_kbps * 1000, now=0.0)
    now = 0.0
    for s in sizes:
        now += gap
        b.allow(s, now)
    assert b.passed <= b.burst + now * b.rate_Bps + 1e-6
