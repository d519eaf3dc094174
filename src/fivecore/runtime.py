"""Process-wide runtime settings shared by every long-running fivecore process, and one
asyncio helper they share (:func:`await_within`).

Two things every NF, ``fivecore up`` and the RAN simulator want once they are up:

- :func:`install_fast_loop`: uvloop as the asyncio event loop when it is installed;
- :func:`settle_heap`: move what start-up built (pycrate's NGAP/NAS specification objects, pydantic
  schemas, imported modules: several hundred thousand objects) out of the cyclic garbage
  collector's reach with :func:`gc.freeze`.

Why the second matters: with the default settings CPython's full collection walks every object
the process holds. Measured in ``fivecore up`` under ``fivecore bench attach`` (3,000 attaches at
200/s): 6 full collections took 110 ms each, 0.22 ms of control-plane CPU per attach on average
and a 110 ms stall for every message in flight at that moment. Objects created later (UE
contexts) are still collected as usual, with CPython's thresholds: a larger youngest-generation
threshold made each young collection walk thousands of cold objects (4 ms pauses) for no
saving in total; frozen objects are only the start-up set, which lives for the whole process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any, TypeVar

T = TypeVar("T")


def install_fast_loop() -> None:
    """Use uvloop for the asyncio loops created after this call, when it is installed."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()


def settle_heap() -> None:
    """Collect once, then freeze the survivors out of future collections (call when started).

    Safe to call more than once (each call freezes what exists at that moment).
    """
    gc.collect()
    gc.freeze()


async def await_within(fut: asyncio.Future[T], seconds: float) -> T:
    """``await fut``, raising TimeoutError (set on ``fut``) after ``seconds``.

    A timer on the future itself: :func:`asyncio.wait_for` would add a task or waiter future
    and callbacks for every wait, which shows on a path taken once per UE procedure.
    """
    timer = asyncio.get_running_loop().call_later(seconds, _expire, fut)
    try:
        return await fut
    finally:
        timer.cancel()


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())
