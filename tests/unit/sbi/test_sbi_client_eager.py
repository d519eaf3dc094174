"""The in-process SBI plumbing: coroutines run until they first wait (no task when they never
do), gather_eager keeps gather's results and errors, and remembered query strings parse as
the handler would parse them."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fivecore.nf.common.client import (
    LocalRegistry,
    SbiClient,
    _encode_query_parsed,
    gather_eager,
    run_until_wait,
)
from fivecore.transport.http2 import Request, Router, json_response


async def test_a_coroutine_that_never_waits_needs_no_task() -> None:
    seen: list[int] = []

    async def work() -> None:
        seen.append(1)

    assert run_until_wait(work()) is None
    assert seen == [1]


async def test_a_coroutine_that_waits_carries_on_as_a_task() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def work() -> int:
        steps.append("before")
        v = await fut
        steps.append("after")
        await asyncio.sleep(0)  # a bare yield on the way
        return v + 1

    task = run_until_wait(work())
    assert task is not None and steps == ["before"]
    fut.set_result(41)
    assert await task == 42 and steps == ["before", "after"]


async def test_cancelling_the_task_reaches_the_coroutine() -> None:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cleaned: list[bool] = []

    async def work() -> None:
        try:
            await fut
        finally:
            cleaned.append(True)

    task = run_until_wait(work())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True] and fut.cancelled()


async def test_an_exception_before_waiting_goes_to_the_loop_handler() -> None:
    loop = asyncio.get_running_loop()
    got: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: got.append(ctx))
    try:
        async def boom() -> None:
            raise ValueError("bad")

        assert run_until_wait(boom()) is None
        assert isinstance(got[0]["exception"], ValueError)
    finally:
        loop.set_exception_handler(None)


async def test_an_exception_after_waiting_stays_with_the_task() -> None:
    async def later() -> None:
        await asyncio.sleep(0)
        raise KeyError("k")

    task = run_until_wait(later())
    assert task is not None
    with pytest.raises(KeyError):
        await task


async def test_gather_eager_keeps_order_and_mixes_ready_and_waiting() -> None:
    async def now(v: int) -> int:
        return v

    async def soon(v: int) -> int:
        await asyncio.sleep(0)
        return v

    assert await gather_eager(soon(1), now(2), soon(3), now(4)) == [1, 2, 3, 4]
    assert await gather_eager() == []


async def test_gather_eager_raises_the_first_error_and_closes_what_never_started() -> None:
    started: list[int] = []

    async def fail() -> int:
        raise RuntimeError("x")

    async def ok(v: int) -> int:
        started.append(v)
        return v

    never = ok(3)
    with pytest.raises(RuntimeError):
        await gather_eager(ok(1), fail(), never)
    assert started == [1]
    assert never.cr_frame is None  # closed: no "never awaited" warning


query_values = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.floats(allow_nan=False))


@given(st.dictionaries(st.text(min_size=1, max_size=10), query_values, max_size=4))
def test_remembered_queries_parse_as_the_handler_would(query: dict[str, Any]) -> None:
    for _ in range(2):  # the second time from the memory
        qs, parsed = _encode_query_parsed(query)
        assert qs == urlencode(query, doseq=True)
        assert parsed == parse_qs(qs, keep_blank_values=True)


def test_equal_but_differently_typed_values_are_told_apart() -> None:
    assert _encode_query_parsed({"a": 1})[0] == "a=1"
    assert _encode_query_parsed({"a": True})[0] == "a=True"
    assert _encode_query_parsed({"a": 1.0})[0] == "a=1.0"


def test_list_values_are_encoded_every_time() -> None:
    qs, parsed = _encode_query_parsed({"a": ["x", "y"]})
    assert qs == "a=x&a=y" and parsed is None


async def test_in_process_call_hands_the_handler_the_parsed_query() -> None:
    r = Router("t")
    seen: list[Request] = []

    def handler(req: Request) -> Any:
        seen.append(req)
        req.query["plmn-id"].append("mutated")  # a handler may change its own copy
        return json_response({"ok": True})

    r.add("GET", "/nudm-sdm/v2/{supi}/am-data", handler)
    local = LocalRegistry()
    local.register(["nudm-sdm"], r)
    client = SbiClient("AMF", "amf-1", local=local)
    q = {"plmn-id": '{"mcc":"001","mnc":"01"}'}
    for _ in range(2):
        resp = await client.call("GET", "/nudm-sdm/v2/imsi-001010000000001/am-data", query=q)
        assert resp.status == 200
    for req in seen:
        assert req.query_string == urlencode(q)
        assert req.q1("plmn-id") == q["plmn-id"]
        assert req.path_params == {"supi": "imsi-001010000000001"}


async def test_several_calls_waiting_for_one_future() -> None:
    """Two coroutines started this way may wait for the same future (one event): the
    future's blocking flag is handed over as a task would, so neither await is refused."""
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def wait(k: int) -> int:
        return await gate + k

    tasks = [run_until_wait(wait(k)) for k in range(3)]
    both = asyncio.ensure_future(gather_eager(wait(10), wait(20)))
    await asyncio.sleep(0)
    gate.set_result(100)
    assert [await t for t in tasks if t is not None] == [100, 101, 102]
    assert await both == [110, 120]
