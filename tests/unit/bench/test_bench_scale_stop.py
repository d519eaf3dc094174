"""Stopping a fill run early (``fivecore bench scale`` on SIGINT/SIGTERM): the open-loop driver
stops starting operations, abandons those under way and hands back what was reached."""

from __future__ import annotations

import asyncio

from fivecore.benchkit.driver import open_loop


async def test_stop_returns_the_partial_result_promptly() -> None:
    stop = asyncio.Event()
    hang = asyncio.Event()  # never set: like attaches whose answers never come

    async def op(i: int) -> None:
        if i >= 30:
            await hang.wait()

    async def press_ctrl_c() -> None:
        await asyncio.sleep(0.2)
        stop.set()

    asyncio.get_running_loop().create_task(press_ctrl_c())
    res = await asyncio.wait_for(open_loop(10_000, 1000.0, op, max_in_flight=8, stop=stop, timeout=120), 5)
    assert res.interrupted
    assert len(res.ok) == 30
    assert 30 < len(res.outcomes) < 10_000
    assert {o.error for o in res.failed} == {"interrupted"}
    assert all(o.finished >= o.started for o in res.outcomes)


async def test_stop_while_waiting_for_a_slot_and_between_arrivals() -> None:
    stop = asyncio.Event()
    started: list[int] = []

    async def op(i: int) -> None:
        started.append(i)
        await asyncio.sleep(3600)

    async def later() -> None:
        await asyncio.sleep(0.1)
        stop.set()

    asyncio.get_running_loop().create_task(later())
    res = await asyncio.wait_for(open_loop(100, 1.0, op, max_in_flight=1, stop=stop), 5)
    assert res.interrupted and started == [0] and len(res.outcomes) == 1


async def test_without_stop_nothing_changes() -> None:
    res = await open_loop(20, 10_000.0, lambda i: asyncio.sleep(0), max_in_flight=4)
    assert not res.interrupted and len(res.ok) == 20


async def test_outer_cancellation_cancels_the_operations_under_way() -> None:
    cancelled: list[int] = []

    async def op(i: int) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise

    t = asyncio.get_running_loop().create_task(open_loop(5, 10_000.0, op))
    await asyncio.sleep(0.1)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        pass
    await asyncio.sleep(0)
    assert sorted(cancelled) == [0, 1, 2, 3, 4], "no operation may outlive the run"
