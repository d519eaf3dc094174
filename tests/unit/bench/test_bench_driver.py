"""The open-loop driver (fivecore.benchkit.driver): schedule, overlap, failures, latency origin."""

from __future__ import annotations

import asyncio
import statistics

import pytest

from fivecore.benchkit.driver import DriveResult, Outcome, arrival_offsets, open_loop


def test_uniform_offsets() -> None:
    assert arrival_offsets(4, 2.0) == [0.0, 0.5, 1.0, 1.5]
    assert arrival_offsets(0, 10.0) == []


def test_poisson_offsets_have_the_rate_and_are_reproducible() -> None:
    a = arrival_offsets(20000, 500.0, "poisson", seed=7)
    assert a == arrival_offsets(20000, 500.0, "poisson", seed=7)
    assert a != arrival_offsets(20000, 500.0, "poisson", seed=8)
    gaps = [y - x for x, y in zip(a, a[1:], strict=False)]
    assert all(g >= 0 for g in gaps)
    assert statistics.fmean(gaps) == pytest.approx(1 / 500.0, rel=0.05)


@pytest.mark.parametrize(("n", "rate", "kind"), [(-1, 1.0, "uniform"), (1, 0.0, "uniform"), (1, 1.0, "burst")])
def test_offsets_reject_nonsense(n: int, rate: float, kind: str) -> None:
    with pytest.raises(ValueError):
        arrival_offsets(n, rate, kind)  # type: ignore[arg-type]


async def test_open_loop_does_not_wait_for_answers() -> None:
    """Every operation blocks until all n have started: a closed loop would deadlock here."""
    n = 12
    started = 0
    all_started = asyncio.Event()

    async def op(i: int) -> None:
        nonlocal started
        started += 1
        if started == n:
            all_started.set()
        await all_started.wait()

    res = await asyncio.wait_for(open_loop(n, 400.0, op), 10)
    assert len(res.ok) == n and not res.failed
    assert sorted(o.index for o in res.outcomes) == list(range(n))


async def test_latency_counts_from_the_scheduled_arrival() -> None:
    ticks = iter(range(1000))

    def clock() -> float:  # a fake clock: each reading one second later
        return float(next(ticks))

    async def op(i: int) -> bool:
        return i != 2

    res = await open_loop(3, 1.0, op, clock=clock)
    # every arrival started no earlier than scheduled; latency = finish - schedule >= finish - start
    for o in res.outcomes:
        assert o.started >= o.scheduled
        assert o.latency >= o.finished - o.started
        assert o.scheduled == res.t0 + o.index
    assert [o.ok for o in sorted(res.outcomes, key=lambda o: o.index)] == [True, True, False]


async def test_failures_exceptions_and_timeouts_are_counted() -> None:
    async def op(i: int) -> bool | None:
        if i % 3 == 0:
            raise RuntimeError("boom")
        if i % 3 == 1:
            await asyncio.sleep(5)
        return None

    res = await open_loop(6, 1000.0, op, timeout=0.05)
    assert len(res.ok) == 2 and len(res.failed) == 4
    errs = res.errors()
    assert errs["RuntimeError: boom"] == 2
    assert errs["no result within 0.05s"] == 2


async def test_on_done_sees_every_outcome() -> None:
    seen: list[int] = []

    async def op(i: int) -> None:
        await asyncio.sleep(0)

    await open_loop(5, 1000.0, op, on_done=lambda o: seen.append(o.index))
    assert sorted(seen) == [0, 1, 2, 3, 4]


def test_throughput_and_span() -> None:
    r = DriveResult(offered_rate=10.0, t0=100.0)
    r.outcomes = [Outcome(i, 100.0 + i * 0.1, 100.0 + i * 0.1, 100.0 + i * 0.1 + 0.05, ok=i != 3) for i in range(10)]
    assert r.span == pytest.approx(0.95)
    assert r.throughput() == pytest.approx(9 / 0.95)
    assert DriveResult(offered_rate=1.0).throughput() == 0.0


async def test_max_in_flight_caps_concurrency() -> None:
    in_flight = peak = 0

    async def op(i: int) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    res = await open_loop(20, 10_000.0, op, max_in_flight=3)
    assert len(res.ok) == 20 and peak == 3
    # capped arrivals start late, and say so
    assert max(o.start_lag for o in res.outcomes) > 0
