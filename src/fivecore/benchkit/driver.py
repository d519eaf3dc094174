"""An open-loop load driver.

Arrivals follow a fixed schedule (uniform spacing ``1/rate`` or a Poisson process of that rate)
whatever the system under test does: a slow answer never delays the next arrival, so the
measured latency includes queueing and the driver does not fall into *coordinated omission*
(a closed loop that waits for answers would quietly lower the offered load exactly when the
system is slow). Latency is counted from the *scheduled* arrival time, not from when the
driver got round to starting the operation; how late the driver itself was is reported
separately (``start_lag``) so an overloaded load generator is visible, not hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

Arrivals = Literal["uniform", "poisson"]


def arrival_offsets(n: int, rate: float, kind: Arrivals = "uniform", seed: int = 0) -> list[float]:
    """Seconds after the start at which each of ``n`` arrivals is due, at ``rate`` per second."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if not rate > 0:
        raise ValueError("rate must be > 0")
    if kind == "uniform":
        return [i / rate for i in range(n)]
    if kind == "poisson":
        rng = random.Random(seed)
        t, out = 0.0, []
        for _ in range(n):
            out.append(t)
            t += rng.expovariate(rate)
        return out
    raise ValueError(f"unknown arrival process {kind!r}")


@dataclass(slots=True)
class Outcome:
    """One operation: when it was due, when it started and ended (driver clock), and how."""

    index: int
    scheduled: float
    started: float
    finished: float = 0.0
    ok: bool = False
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.finished - self.scheduled

    @property
    def start_lag(self) -> float:
        return self.started - self.scheduled


@dataclass
class DriveResult:
    """All outcomes of a run plus its time span."""

    offered_rate: float
    outcomes: list[Outcome] = field(default_factory=list)
    t0: float = 0.0
    #: the run was stopped early (``stop`` set): outcomes hold what was reached until then
    interrupted: bool = False

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def span(self) -> float:
        """From the first arrival to the last completion, in seconds."""
        if not self.outcomes:
            return 0.0
        return max(o.finished for o in self.outcomes) - self.t0

    def throughput(self) -> float:
        """Successful operations per second over the whole span (what the system sustained)."""
        span = self.span
        return len(self.ok) / span if span > 0 else 0.0

    def errors(self, limit: int = 5) -> dict[str, int]:
        """The most frequent error texts with their counts."""
        counts: dict[str, int] = {}
        for o in self.failed:
            key = (o.error or "failed")[:160]
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:limit])


async def open_loop(
    n: int,
    rate: float,
    op: Callable[[int], Awaitable[bool | None]],
    *,
    arrivals: Arrivals = "uniform",
    seed: int = 0,
    timeout: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
    on_done: Callable[[Outcome], None] | None = None,
    max_in_flight: int | None = None,
    stop: asyncio.Event | None = None,
) -> DriveResult:
    """Start ``op(i)`` for i in 0..n-1 at the scheduled times and wait for all of them.

    ``op`` returns True/None for success, False for a failure; an exception (or the per-op
    ``timeout``) is a failure with its text kept. Operations overlap freely: this is an open
    system, the number in flight is whatever the arrival rate and the latency make it —
    unless ``max_in_flight`` caps it (for filling a system, not for measuring latency: a
    capped run waits for a free slot, which shows as ``start_lag``).

    When ``stop`` is set no further operation starts, those under way are cancelled (their
    outcome: failed, "interrupted") and the partial result comes back with ``interrupted``.
    """
    slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None
    offsets = arrival_offsets(n, rate, arrivals, seed)
    res = DriveResult(offered_rate=rate)
    tasks: list[asyncio.Task[None]] = []

    async def run(o: Outcome) -> None:
        try:
            if timeout:
                # asyncio.timeout: a timer on this task; wait_for would wrap the operation in
                # a second task with its own waiter and callbacks, once per operation
                async with asyncio.timeout(timeout):
                    r = await op(o.index)
            else:
                r = await op(o.index)
            o.ok = r is None or bool(r)
            if not o.ok:
                o.error = "failed"
        except TimeoutError:
            o.error = f"no result within {timeout}s"
        except asyncio.CancelledError:
            if stop is None or not stop.is_set():
                raise
            o.error = "interrupted"
        except Exception as exc:  # a failed operation is data, not a crash of the benchmark
            o.error = f"{type(exc).__name__}: {exc}"
        finally:
            if slots is not None:
                slots.release()
        o.finished = clock()
        if on_done is not None:
            on_done(o)

    stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None

    async def until_stop(aw: Awaitable[object] | None, delay: float | None = None) -> bool:
        """Wait for ``aw`` (or ``delay`` seconds); False if ``stop`` came first."""
        if stopper is None:
            if aw is not None:
                await aw
            else:
                await asyncio.sleep(delay or 0.0)
            return True
        fut = asyncio.ensure_future(aw) if aw is not None else None
        waits: set[asyncio.Future[object]] = {stopper} if fut is None else {stopper, fut}
        await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        if fut is not None and not fut.done():
            fut.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fut
        if stopper.done():
            if fut is not None and fut.done() and not fut.cancelled() and slots is not None:
                slots.release()  # the slot we were handed goes back unused
            return False
        return True

    t0 = clock()
    res.t0 = t0
    i = 0
    try:
        while i < n:
            now = clock()
            # start everything that is due (after a late wake-up several are)
            while i < n and t0 + offsets[i] <= now:
                if slots is not None:
                    if not await until_stop(slots.acquire()):
                        break
                    now = clock()
                if stopper is not None and stopper.done():
                    break
                o = Outcome(i, t0 + offsets[i], now)
                res.outcomes.append(o)
                tasks.append(asyncio.create_task(run(o)))
                i += 1
            if stopper is not None and stopper.done():
                break
            if i < n:
                await until_stop(None, max(0.0, t0 + offsets[i] - clock()))
        pending = set(tasks)
        while pending:
            waits: set[asyncio.Future[object]] = set(pending)
            if stopper is not None:
                waits.add(stopper)
            _, pending_now = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            pending = {t for t in pending_now if t is not stopper}
            if stopper is not None and stopper.done():
                break
    except asyncio.CancelledError:
        for t in tasks:
            t.cancel()
        raise
    finally:
        if stopper is not None:
            stopper.cancel()
    if stop is not None and stop.is_set():
        res.interrupted = True
        for t in tasks:
            if not t.done():
                t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    elif tasks:
        await asyncio.gather(*tasks)  # re-raises what a task raised
    return res
