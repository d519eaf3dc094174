"""fivecore.runtime: the shared await-with-deadline helper and the start-up GC freeze."""

from __future__ import annotations

import asyncio
import gc

import pytest

from fivecore.runtime import FULL_COLLECTION_THRESHOLD, await_within, settle_heap


async def test_await_within_returns_the_result_and_leaves_no_timer():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.call_soon(fut.set_result, 7)
    assert await await_within(fut, 5.0) == 7
    assert not [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]


async def test_await_within_times_out_on_the_future_itself():
    fut = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await await_within(fut, 0.01)
    assert fut.done() and isinstance(fut.exception(), TimeoutError)


def test_settle_heap_freezes_what_exists():
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_settle_heap_makes_full_collections_rarer_only():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        settle_heap()
        assert gc.get_threshold() == (700, 10, FULL_COLLECTION_THRESHOLD)
        gc.set_threshold(700, 10, 500)  # a larger setting someone chose is kept
        settle_heap()
        assert gc.get_threshold()[2] == 500
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
