"""Rate enforcement for the UPF: token buckets with a short shaping queue, for session AMBR
and per-flow MBR.

A QER (TS 29.244 §5.4 "QoS Enforcement Rule") carries a Maximum Bitrate per direction
(IE "MBR", §8.2.8, in kbit/s). The SMF expresses the session AMBR as a QER shared by all
PDRs of the session (TS 29.244 §5.4.1, TS 23.501 §5.7.2.6) and a QoS flow's MBR as a QER
referenced by that flow's PDRs only, so one mechanism — a token bucket per QER and
direction — enforces both.

Why a shaper and not a bare policer: TS 23.501 §5.7.2.6 asks the UPF to *enforce* the
AMBR, and says nothing of how. A policer that drops every packet the bucket cannot pay for
hits TCP hard: a window-sized burst loses several segments in a row, recovery falls back to
the retransmission timer, and a 10 Mbit/s AMBR delivered ~2.6 Mbit/s of TCP goodput. As a
router's shaper does, each bucket therefore owns a small drop-tail FIFO (``queue_limit``
bytes, ~50 ms of its rate): a packet the bucket cannot pay for waits there and the datapath
releases it when the tokens have accrued; only a packet that finds the FIFO full is dropped.
TCP then sees delay plus an occasional tail drop — the signal it is built for — and fills
the AMBR. Sessions without a rate have no bucket and never meet this code.

The clock is passed in, never read here, so the arithmetic is testable with a fake clock.
"""

from __future__ import annotations

from collections import deque
from typing import Any

# How much burst a bucket tolerates, in seconds of its rate: 50 ms is what TCP's
# ACK-clocked bursts need at LTE/NR rates, and keeps a UDP flow within ~2% of its rate
# over a few seconds.
DEFAULT_BURST_SECONDS = 0.05
# Never let the bucket be smaller than a few full-size packets, or a low rate would drop
# every large packet even when the average is under the limit.
MIN_BURST_BYTES = 4 * 1500
# The shaping FIFO: ~50 ms of the rate (the most delay the shaper adds), never under a few
# full-size packets, so TCP at a low rate still has room for its window's tail.
DEFAULT_QUEUE_SECONDS = 0.05
MIN_QUEUE_BYTES = 4 * 1500


def default_burst(rate_bps: float) -> int:
    return max(MIN_BURST_BYTES, int(rate_bps / 8.0 * DEFAULT_BURST_SECONDS))


def default_queue(rate_bps: float) -> int:
    return max(MIN_QUEUE_BYTES, int(rate_bps / 8.0 * DEFAULT_QUEUE_SECONDS))


class TokenBucket:
    """A token bucket measured in bytes, with an optional shaping FIFO.

    ``rate_bps`` is the sustained rate in bit/s; ``burst_bytes`` the bucket depth;
    ``queue_bytes`` the FIFO's depth (0: a pure policer; None: ~50 ms of the rate). The
    bucket starts full. ``take(size, now)`` takes ``size`` bytes if they are available and
    returns True, or leaves the bucket untouched and returns False; ``allow`` does the
    same and counts a refusal as a drop (policing). The FIFO (``queue``, ``qbytes``) is
    filled by :meth:`enqueue` and emptied by :meth:`release`; while it holds anything a
    new packet must queue behind it (``qbytes`` is non-zero), so order is kept.
    """

    __slots__ = ("rate_Bps", "burst", "tokens", "last", "passed", "dropped", "queue",
                 "qbytes", "queue_limit", "shaped")

    def __init__(self, rate_bps: int, burst_bytes: int | None = None, now: float = 0.0,
                 queue_bytes: int | None = 0) -> None:
        if rate_bps <= 0:
            raise ValueError("rate must be positive")
        self.rate_Bps = rate_bps / 8.0
        self.burst = float(default_burst(rate_bps) if burst_bytes is None else burst_bytes)
        self.tokens = self.burst
        self.last = now
        self.passed = 0
        self.dropped = 0
        self.queue_limit = default_queue(rate_bps) if queue_bytes is None else queue_bytes
        # Entries are opaque to the bucket: (size, *whatever the datapath needs to send it).
        # Made on first use: an empty deque costs ~600 octets, and at 10,000 sessions with
        # an AMBR most buckets never queue anything.
        self.queue: deque[tuple[Any, ...]] | None = None
        self.qbytes = 0
        self.shaped = 0

    @property
    def rate_bps(self) -> int:
        return int(self.rate_Bps * 8)

    def set_rate(self, rate_bps: int, burst_bytes: int | None = None,
                 queue_bytes: int | None = None) -> None:
        """Change the rate in place (PFCP Update QER) without refilling the bucket.

        A shaping bucket gets the default FIFO depth for the new rate; what is already
        queued stays and drains at the new rate.
        """
        if rate_bps <= 0:
            raise ValueError("rate must be positive")
        self.rate_Bps = rate_bps / 8.0
        self.burst = float(default_burst(rate_bps) if burst_bytes is None else burst_bytes)
        if self.tokens > self.burst:
            self.tokens = self.burst
        if queue_bytes is not None:
            self.queue_limit = queue_bytes
        elif self.queue_limit:
            self.queue_limit = default_queue(rate_bps)

    def allow(self, size: int, now: float) -> bool:
        """Policing: take ``size`` bytes, or count them as dropped and return False."""
        if self.take(size, now):
            return True
        self.dropped += size
        return False

    def take(self, size: int, now: float) -> bool:
        """Refill for the time since the last call, then try to take ``size`` bytes."""
        elapsed = now - self.last
        tokens = self.tokens
        if elapsed > 0:
            tokens += elapsed * self.rate_Bps
            if tokens > self.burst:
                tokens = self.burst
            self.last = now
        if tokens >= size:
            self.tokens = tokens - size
            self.passed += size
            return True
        self.tokens = tokens
        return False

    def enqueue(self, entry: tuple[Any, ...]) -> bool:
        """Hold ``entry`` (its first item is its size in bytes) until :meth:`release`.

        Returns False, and counts the drop, when the FIFO has no room (drop-tail).
        """
        size = entry[0]
        # A packet larger than the bucket could never be paid for; it must not block the FIFO.
        if self.qbytes + size > self.queue_limit or size > self.burst:
            self.dropped += size
            return False
        if self.queue is None:
            self.queue = deque()
        self.queue.append(entry)
        self.qbytes += size
        self.shaped += 1
        return True

    def release(self, now: float) -> list[tuple[Any, ...]]:
        """Pop, in order, the queued entries the tokens accrued by ``now`` pay for."""
        out: list[tuple[Any, ...]] = []
        q = self.queue
        if q is None:
            return out
        while q:
            entry = q[0]
            if not self.take(entry[0], now):
                break
            q.popleft()
            self.qbytes -= entry[0]
            out.append(entry)
        return out

    def next_release(self) -> float:
        """Seconds of refill, from the last update, until the head of the FIFO can go."""
        q = self.queue
        if not q:
            return 0.0
        need = q[0][0] - self.tokens
        return need / self.rate_Bps if need > 0 else 0.0
