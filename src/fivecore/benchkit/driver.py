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
) -> DriveResult:
    """Start ``op(i)`` for i in 0..n-1 at the scheduled times and wait for all of them.

    ``op`` returns True/None for success, False for a failure; an exception (or the per-op
    ``timeout``) is a failure with its text kept. Operations overlap freely: this is an open
    system, the number in flight is whatever the arrival rate and the latency make it —
    unless ``max_in_flight`` caps it (for filling a system, not for measuring latency: a
    capped run waits for a free slot, which shows as ``start_lag``).
    """
    slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None
    offsets = arrival_offsets(n, rate, arrivals, seed)
    res = DriveResult(offered_rate=rate)
    tasks: list[asyncio.Task[None]] = []

    async def run(o: Outcome) -> None:
        try:
            coro = op(o.index)
            r = await (asyncio.wait_for(coro, timeout) if timeout else coro)
            o.ok = r is None or bool(r)
            if not o.ok:
                o.error = "failed"
        except TimeoutError:
            o.error = f"no result within {timeout}s"
        except Exception as exc:  # a failed operation is data, not a crash of the benchmark
            o.error = f"{type(exc).__name__}: {exc}"
        finally:
            if slots is not None:
                slots.release()
        o.finished = clock()
        if on_done is not None:
            on_done(o)

    t0 = clock()
    res.t0 = t0
    i = 0
    while i < n:
        now = clock()
        # start everything that is due (after a late wake-up several are)
        while i < n and t0 + offsets[i] <= now:
            if slots is not None:
                await slots.acquire()
                now = clock()
            o = Outcome(i, t0 + offsets[i], now)
            res.outcomes.append(o)
            tasks.append(asyncio.create_task(run(o)))
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, t0 + offsets[i] - clock()))
    if tasks:
        await asyncio.gather(*tasks)
    return res
