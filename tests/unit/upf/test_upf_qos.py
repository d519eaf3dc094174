"""Token bucket and shaping FIFO arithmetic with a fake clock (TS 29.244 §5.4 MBR)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fivecore.nf.upf.qos import MIN_BURST_BYTES, MIN_QUEUE_BYTES, TokenBucket


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


def test_policer_by_default_shaper_on_request() -> None:
    assert TokenBucket(8_000, now=0.0).queue_limit == 0
    assert TokenBucket(8_000, now=0.0, queue_bytes=None).queue_limit == MIN_QUEUE_BYTES
    assert TokenBucket(10_000_000, now=0.0, queue_bytes=None).queue_limit == 62_500  # 50 ms


def test_fifo_releases_in_order_as_tokens_accrue() -> None:
    b = TokenBucket(8_000, burst_bytes=1000, now=0.0, queue_bytes=2500)  # 1000 B/s
    assert b.take(1000, 0.0)
    assert not b.take(600, 0.0)
    assert b.enqueue((600, "a")) and b.enqueue((600, "b")) and b.enqueue((600, "c"))
    assert not b.enqueue((1000, "d"))  # 1,800 + 1,000 > 2,500: drop-tail
    assert b.qbytes == 1800 and b.shaped == 3 and b.dropped == 1000
    assert b.release(0.5) == []  # 500 B: not enough for the head
    assert b.next_release() == pytest.approx(0.1)
    assert b.release(1.1) == [(600, "a")]  # refill capped at the 1,000 B burst
    assert b.tokens == pytest.approx(400) and b.qbytes == 1200
    assert b.release(1.3) == [(600, "b")] and b.qbytes == 600
    assert b.release(10.0) == [(600, "c")] and b.qbytes == 0 and b.next_release() == 0.0


def test_fifo_refuses_a_packet_larger_than_the_bucket() -> None:
    b = TokenBucket(8_000, burst_bytes=1000, now=0.0, queue_bytes=10_000)
    assert not b.enqueue((1001, "jumbo")) and b.qbytes == 0


def test_set_rate_resizes_a_shaping_fifo_only() -> None:
    shaper = TokenBucket(8_000, now=0.0, queue_bytes=None)
    shaper.set_rate(100_000_000)
    assert shaper.queue_limit == 625_000
    policer = TokenBucket(8_000, now=0.0)
    policer.set_rate(100_000_000)
    assert policer.queue_limit == 0


@given(
    rate_kbps=st.integers(min_value=64, max_value=100_000),
    sizes=st.lists(st.integers(min_value=40, max_value=1500), min_size=50, max_size=400),
    gap=st.floats(min_value=1e-6, max_value=1e-2),
)
def test_shaper_conserves_packets_and_never_exceeds_rate(rate_kbps: int, sizes: list[int],
                                                          gap: float) -> None:
    """Every offered byte is sent, queued or dropped; what is sent stays under the rate."""
    b = TokenBucket(rate_kbps * 1000, now=0.0, queue_bytes=None)
    now = sent = dropped = 0.0
    for s in sizes:
        now += gap
        sent += sum(e[0] for e in b.release(now))
        if not b.qbytes and b.take(s, now):
            sent += s
        elif not b.enqueue((s,)):
            dropped += s
        assert b.qbytes <= b.queue_limit
    assert sent + b.qbytes + dropped == sum(sizes)
    assert sent <= b.burst + now * b.rate_Bps + 1e-6
