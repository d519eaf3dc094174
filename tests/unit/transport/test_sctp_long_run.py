"""Long runs of the sans-I/O SCTP association (RFC 9260): the N2 stall hypotheses of issue 9.

The 100,000-UE scale run stopped carrying NGAP after ~66,000 UEs. Each test here pushes one
candidate cause through two associations wired back to back in memory (no sockets, a fake
clock), far past the point where it would bite, and checks the association still delivers every
message in order and that its bookkeeping returns to rest:

- 16-bit Stream Sequence Numbers wrapping (> 65,536 ordered messages on one stream), both
  directions, with loss and reordering exactly around the wrap (RFC 9260 §6.5);
- TSN serial-number arithmetic (RFC 9260 §1.6 / RFC 1982) with the initial TSN just below 2^31
  and 2^32;
- the receive window (a_rwnd) after many messages, after it was shut to zero, and zero-window
  probing (§6.1 rule A, §6.2);
- reassembly, out-of-order and retransmission state draining (nothing grows per message);
- Association.Max.Retrans: an hour of traffic with HEARTBEATs and loss must not creep towards
  the limit (§8.1, §8.3).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

import pytest
from sctpnet import SctpNet

from fivecore.transport.sctp import packet as p
from fivecore.transport.sctp.association import Association, AssociationLost, DataReceived, State
from fivecore.transport.sctp.config import SctpConfig


def _invariants(a: Association) -> None:
    """The counters the sender and receiver keep must equal what their queues hold."""
    sent = list(a._sent)
    assert a._flight == sum(c.size for c in sent if c.in_flight), "congestion flight drifted"
    assert a._rtx_count == sum(1 for c in sent if c.rtx), "retransmission count drifted"
    assert a._sent_bytes == sum(c.size for c in sent)
    assert all(sent[i].tsn == sent[i - 1].tsn + 1 for i in range(1, len(sent)))
    held = sum(len(v[4]) for v in a._frags.values())
    held += sum(len(d) for pend in a._in_pending.values() for _, d in pend.values())
    assert a._rx_buffered == held, "receive buffer accounting drifted"
    if sent and a.state == State.ESTABLISHED:
        assert a._t3 is not None, "data outstanding without T3-rtx: it could never be retransmitted"


class Link(SctpNet):
    """Client and server endpoints joined by an in-memory network with a fake clock.

    Every packet gets a delay of ``base`` plus up to ``jitter`` seconds (so packets overtake
    each other), and is dropped when ``drop(direction, packet)`` says so or with probability
    ``loss``; ``dup`` duplicates.
    """

    PUMP_ROUNDS = 10_000
    MUST_QUIESCE = True

    def __init__(self, cfg: SctpConfig, seed: int = 7, *, loss: float = 0.0, dup: float = 0.0,
                 jitter: float = 0.0, base: float = 0.001, cli_tsn: int | None = None,
                 srv_tsn: int | None = None) -> None:
        super().__init__(cfg, now=1000.0, secret=b"s" * 32, srv_rng=_TsnRng(seed, srv_tsn),
                         cli_rng=_TsnRng(seed + 1, cli_tsn))
        self.rng = random.Random(seed)
        self.loss, self.dup, self.jitter, self.base = loss, dup, jitter, base
        self.drop: Callable[[str, bytes], bool] = lambda direction, pkt: False
        self.got: dict[str, list[DataReceived]] = {"c": [], "s": []}
        self.lost: list[str] = []
        self.reading = {"c": True, "s": True}
        self.unread: dict[str, list[DataReceived]] = {"c": [], "s": []}
        self._q: list[tuple[float, int, str, bytes]] = []
        self._seq = 0

    def transmit(self, direction: str, pkt: bytes, src: bytes, dst: bytes) -> None:
        if self.drop(direction, pkt) or (self.loss and self.rng.random() < self.loss):
            return
        for _ in range(2 if self.dup and self.rng.random() < self.dup else 1):
            self._seq += 1
            t = self.now + self.base + (self.rng.random() * self.jitter if self.jitter else 0.0)
            heapq.heappush(self._q, (t, self._seq, direction, pkt))

    def _next_arrival(self) -> float | None:
        return self._q[0][0] if self._q else None

    def _arrive_due(self) -> None:
        while self._q and self._q[0][0] <= self.now:
            _, _, direction, pk = heapq.heappop(self._q)
            self.arrive(direction, pk)

    def on_event(self, side: str, a: Association, e: object) -> None:
        if isinstance(e, DataReceived):
            if self.reading[side]:
                a.consumed(len(e.data))
                self.got[side].append(e)
            else:
                self.unread[side].append(e)
        elif isinstance(e, AssociationLost):
            self.lost.append(f"{side}: {e.reason}")

    def read(self, side: str) -> None:
        """The application on ``side`` takes everything it left unread."""
        a = self.ca if side == "c" else self.sa
        assert a is not None
        for e in self.unread[side]:
            a.consumed(len(e.data))
            self.got[side].append(e)
        self.unread[side] = []
        self.pump()

    def run(self, dt: float) -> None:
        """Advance the clock by ``dt``: deliver packets and fire timers in time order (what the
        applications queued goes out now, not at the end of the step)."""
        self.run_until(self.now + dt)

    def connect(self) -> tuple[Association, Association]:  # type: ignore[override]
        ca = super().connect()
        for _ in range(100):
            if self.sa is not None and ca.state == State.ESTABLISHED:
                break
            self.run(0.5)
        assert self.sa is not None and ca.state == State.ESTABLISHED
        return ca, self.sa

    def settle(self, want_c: int, want_s: int, limit: float = 600.0) -> None:
        step = 0.0
        while (len(self.got["c"]) < want_c or len(self.got["s"]) < want_s) and step < limit:
            self.run(0.25)
            step += 0.25
        self.run(1.0)  # the last SACKs


class _TsnRng(random.Random):
    """A seeded RNG whose first 32-bit draw after the tag (the initial TSN) can be fixed."""

    def __init__(self, seed: int, tsn: int | None) -> None:
        super().__init__(seed)
        self._tsn = tsn
        self._draws = 0

    def getrandbits(self, k: int) -> int:
        v = super().getrandbits(k)
        if k == 32 and self._tsn is not None:
            self._draws += 1
            if self._draws == 2:  # Endpoint draws the tag, then the TSN (§5.1: INIT / INIT ACK)
                return self._tsn
        return v


def _at_rest(a: Association) -> None:
    _invariants(a)
    assert not a._sent and not a._queue and a._flight == 0 and a._rtx_count == 0
    assert not a._frags and not any(a._in_pending.values()) and not a._rx_above
    assert a._rx_buffered == 0 and a._app_buffered == 0
    assert a._rwnd() == a.config.receive_window
    assert a.error_count == 0


def _ordered(got: list[DataReceived], stream: int) -> list[int]:
    return [int.from_bytes(m.data[:4], "big") for m in got if m.stream == stream]


CFG = SctpConfig(out_streams=16, heartbeat_interval=30.0, rto_initial=0.2, rto_min=0.05, rto_max=2.0)


def test_ssn_wraps_many_times_on_one_stream_both_directions() -> None:
    """> 3 × 65,536 ordered messages on one stream each way (the NGAP stream 0 of a long run)."""
    link = Link(CFG)
    ca, sa = link.connect()
    n = 200_000
    for k in range(0, n, 500):
        for i in range(k, k + 500):
            ca.send(0, 60, i.to_bytes(4, "big") + b"u" * 40)
            sa.send(0, 60, i.to_bytes(4, "big") + b"d" * 60)
        link.run(0.005)
    link.settle(n, n)
    assert _ordered(link.got["s"], 0) == list(range(n))
    assert _ordered(link.got["c"], 0) == list(range(n))
    assert ca._out_ssn[0] == n & 0xFFFF and sa._in_ssn[0] == n & 0xFFFF
    assert not link.lost
    _at_rest(ca)
    _at_rest(sa)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ssn_wrap_with_loss_and_reordering_exactly_at_the_wrap(seed: int) -> None:
    """SSNs 65,530..65,535, 0..5 lost once and overtaken by later ones: delivered in order."""
    link = Link(CFG, seed, jitter=0.02)
    ca, sa = link.connect()
    start = 0xFFF0
    ca._out_ssn[3] = sa._out_ssn[3] = start
    sa._in_ssn[3] = ca._in_ssn[3] = start
    near = {(start + 10 + i) & 0xFFFF for i in range(12)}
    dropped: set[tuple[str, int]] = set()

    def drop(direction: str, pkt: bytes) -> bool:
        for c in p.parse_chunks(pkt):
            if c.type == 0:
                ssn = int.from_bytes(c.value[6:8], "big")
                if ssn in near and (direction, ssn) not in dropped:
                    dropped.add((direction, ssn))
                    return True
        return False

    link.drop = drop
    n = 40
    for i in range(n):
        ca.send(3, 60, i.to_bytes(4, "big") + b"x" * 30)
        sa.send(3, 60, i.to_bytes(4, "big") + b"y" * 30)
        link.run(0.001)
    link.settle(n, n)
    assert len(dropped) == 2 * len(near)
    assert _ordered(link.got["s"], 3) == list(range(n))
    assert _ordered(link.got["c"], 3) == list(range(n))
    assert sa._in_ssn[3] == (start + n) & 0xFFFF
    _at_rest(ca)
    _at_rest(sa)


@pytest.mark.parametrize("initial_tsn", [0x7FFFFFF0, 0xFFFFFFF0, 0xFFFFFFFF, 0])
def test_tsn_serial_arithmetic_across_2_31_and_2_32_with_loss(initial_tsn: int) -> None:
    """RFC 9260 §1.6: TSNs near 2^31 and 2^32 (both sides), with loss, duplicates, reordering."""
    link = Link(CFG, 11, cli_tsn=initial_tsn, srv_tsn=initial_tsn, jitter=0.01)
    ca, sa = link.connect()
    assert ca._my_initial_tsn == initial_tsn and sa._my_initial_tsn == initial_tsn
    link.loss, link.dup = 0.03, 0.02
    n = 3000
    r = random.Random(5)
    for i in range(n):
        s = r.randrange(16)
        size = r.choice((40, 300, 2500))  # some fragmented across the wrap
        ca.send(s, 60, i.to_bytes(4, "big") * (size // 4))
        sa.send(s, 60, i.to_bytes(4, "big") * (size // 4))
        if i % 20 == 0:
            link.run(0.002)
            _invariants(ca)
            _invariants(sa)
    link.loss = link.dup = 0.0
    link.settle(n, n)
    assert sorted(int.from_bytes(m.data[:4], "big") for m in link.got["s"]) == list(range(n))
    assert sorted(int.from_bytes(m.data[:4], "big") for m in link.got["c"]) == list(range(n))
    for s in range(16):
        seq = _ordered(link.got["s"], s)
        assert seq == sorted(seq)
    assert ca._next_tsn - initial_tsn >= n  # crossed the boundary in serial arithmetic
    assert not link.lost
    _at_rest(ca)
    _at_rest(sa)


def test_receive_window_shut_and_reopened_many_times_does_not_drift() -> None:
    """§6.1 A / §6.2: a reader that stalls shuts the window; it reopens every time, fully."""
    cfg = SctpConfig(out_streams=4, heartbeat_interval=30.0, rto_initial=0.2, rto_min=0.05, rto_max=1.0,
                     receive_window=16_000, max_retransmissions=5)
    link = Link(cfg, 3, jitter=0.005)
    ca, sa = link.connect()
    sent = 0
    for cycle in range(60):
        link.reading["s"] = False
        for _ in range(60):  # ~30 KB: twice the window
            ca.send(sent % 4, 60, sent.to_bytes(4, "big") + b"z" * 496)
            sent += 1
        link.run(5.0)  # zero-window probes while the reader sleeps; must not count as errors
        assert sa._rwnd() < 1000, "the window must have closed"
        assert ca.state == State.ESTABLISHED and not link.lost, cycle
        link.reading["s"] = True
        link.read("s")
        link.settle(0, sent, limit=60)
        assert len(link.got["s"]) == sent, cycle
    for s in range(4):
        seq = _ordered(link.got["s"], s)
        assert seq == sorted(seq) and len(seq) == sent // 4
    _at_rest(ca)
    _at_rest(sa)
    assert ca._peer_rwnd == cfg.receive_window


def test_lossy_long_run_leaves_no_state_behind() -> None:
    """200,000 messages each way through 1 % loss, duplicates and reordering; every per-message
    structure (reassembly, out-of-order set, per-stream pending, retransmission queue) drains."""
    link = Link(CFG, 21, loss=0.01, dup=0.005, jitter=0.004)
    ca, sa = link.connect()
    n = 200_000
    r = random.Random(9)
    for k in range(0, n, 400):
        for i in range(k, k + 400):
            s = 1 + i % 15
            ca.send(s, 60, i.to_bytes(4, "big") + b"a" * r.choice((20, 90, 180)))
            sa.send(s, 60, i.to_bytes(4, "big") + b"b" * r.choice((30, 120, 400)))
        link.run(0.01)
        if k % 20_000 == 0:
            _invariants(ca)
            _invariants(sa)
            # the out-of-order state stays bounded whatever the number of messages so far
            assert len(sa._rx_above) <= 4096 and len(ca._rx_above) <= 4096
    link.loss = link.dup = 0.0
    link.settle(n, n)
    for side in ("c", "s"):
        assert len(link.got[side]) == n
        for s in range(1, 16):
            seq = _ordered(link.got[side], s)
            assert seq == sorted(seq)
    assert ca.stats["fast_retransmits"] > 0  # the loss was real
    assert not link.lost
    _at_rest(ca)
    _at_rest(sa)


def test_an_hour_of_signalling_with_heartbeats_and_loss_stays_up() -> None:
    """§8.1 / §8.3: errors (T3 expiries, unanswered HEARTBEATs) are cleared by every ack, so an
    hour at NGAP-like rates with 2 % loss never approaches Association.Max.Retrans."""
    cfg = SctpConfig(out_streams=16, heartbeat_interval=30.0, rto_initial=1.0, rto_min=1.0, rto_max=60.0,
                     max_retransmissions=10)
    link = Link(cfg, 5, loss=0.02, jitter=0.003)
    ca, sa = link.connect()
    worst = 0
    i = 0
    hb0 = ca.stats["tx_packets"]
    for second in range(3600):
        for _ in range(4 if second % 60 < 50 else 0):  # busy 50 s, idle 10 s: heartbeats alone
            ca.send(1 + i % 15, 60, i.to_bytes(4, "big") + b"n" * 80)
            sa.send(i % 29 % 16, 60, i.to_bytes(4, "big") + b"m" * 120)
            i += 1
        link.run(1.0)
        worst = max(worst, ca.error_count, sa.error_count)
        assert ca.state == State.ESTABLISHED and sa.state == State.ESTABLISHED, (second, link.lost)
    link.loss = 0.0
    link.settle(i, i, limit=300)
    assert len(link.got["s"]) == i and len(link.got["c"]) == i
    assert worst < cfg.max_retransmissions // 2, worst
    assert ca.stats["tx_packets"] > hb0
    _at_rest(ca)
    _at_rest(sa)
