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
and a 110 ms stall for every message in flight at that moment. Frozen objects are only the
start-up set, which lives for the whole process.

What is built later (UE contexts) stays collectable, but it grows with the UEs a process holds,
and every full collection walks all of it: after the freeze, 4,000 attaches at 350/s still
brought 6 full collections of 50-70 ms in the control plane (GC 0.16-0.25 ms per attach in
all). So :func:`settle_heap` also raises the oldest generation's threshold from 10 to
:data:`FULL_COLLECTION_THRESHOLD` young-generation collections: the same run then had no full
collection and 0.07 ms of GC per attach, while young collections keep CPython's small
thresholds (0.2 ms and ~1.5 ms pauses; a youngest threshold of 5,000-20,000 cut the total a
little further but gave 4-35 ms pauses).
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


#: young-generation collections between full collections (CPython's default: 10)
FULL_COLLECTION_THRESHOLD = 100


def settle_heap() -> None:
    """Collect once, freeze the survivors out of future collections, and make full collections
    rarer (see the module docstring). Call when started; safe to call more than once (each call
    freezes what exists at that moment)."""
    gc.collect()
    gc.freeze()
    g0, g1, g2 = gc.get_threshold()
    gc.set_threshold(g0, g1, max(g2, FULL_COLLECTION_THRESHOLD))


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
