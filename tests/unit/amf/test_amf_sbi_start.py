"""AmfApp runs an SBI call where a task's first step would run and makes a task only when the
call has to wait; scheduled and waiting calls both count towards Overload Start."""

from __future__ import annotations

import asyncio
from typing import Any

from amf_app import app_with_gnb

from fivecore.nf.amf.app import AmfApp
from fivecore.nf.amf.context import UeContext
from fivecore.nf.amf.gmm import SbiCall
from fivecore.wire import ngap


def _calls(app: AmfApp, n: int) -> list[SbiCall]:
    return [SbiCall(UeContext(i + 1), 0, "auth", {"i": i}) for i in range(n)]


async def test_a_call_answered_at_once_needs_no_task_and_its_result_is_used() -> None:
    app, _ = app_with_gnb()
    results: list[Any] = []

    async def execute(op: str, args: dict[str, Any]) -> Any:
        return {"op": op, **args}

    app.sbi.execute = execute  # type: ignore[method-assign]
    app.gmm.sbi_result = lambda ue, token, op, result: results.append(result) or []  # type: ignore[method-assign]
    app._execute(_calls(app, 3))
    assert results == [] and app._starting == 3  # not before the loop turn a task would start in
    await asyncio.sleep(0)
    assert results == [{"op": "auth", "i": 0}, {"op": "auth", "i": 1}, {"op": "auth", "i": 2}]
    assert app._starting == 0 and not app._bg


async def test_a_waiting_call_becomes_a_task_and_counts_towards_overload() -> None:
    app, sent = app_with_gnb(overload_threshold=4, overload_loop_lag_ms=0)
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    results: list[Any] = []

    async def execute(op: str, args: dict[str, Any]) -> Any:
        await gate
        return args["i"]

    app.sbi.execute = execute  # type: ignore[method-assign]
    app.gmm.sbi_result = lambda ue, token, op, result: results.append(result) or []  # type: ignore[method-assign]
    app._execute(_calls(app, 4))
    # scheduled, not started: they already count as waiting
    assert app.overloaded and [ngap.decode(b).procedure for b in sent] == ["OverloadStart"]
    await asyncio.sleep(0)
    assert len(app._bg) == 4 and app._starting == 0 and app.overloaded
    gate.set_result(None)
    for t in list(app._bg):
        await t
    await asyncio.sleep(0)  # the tasks' done callbacks
    assert sorted(results) == [0, 1, 2, 3] and not app._bg
    assert not app.overloaded and [ngap.decode(b).procedure for b in sent] == ["OverloadStart", "OverloadStop"]


async def test_calls_scheduled_before_stop_do_not_start() -> None:
    app, _ = app_with_gnb()
    started: list[str] = []

    async def execute(op: str, args: dict[str, Any]) -> Any:
        started.append(op)
        return {}

    app.sbi.execute = execute  # type: ignore[method-assign]
    app._execute(_calls(app, 2))
    await app.on_stop()
    await asyncio.sleep(0)
    assert started == [] and app._starting == 0
