"""In-memory harness for the sans-I/O SCTP stack (RFC 9260): a client and a server
:class:`Endpoint` joined by a wire in memory, driven by a fake clock.

One copy of the packet exchange for every SCTP unit test. :class:`SctpNet` holds the loop all
of them share (``pump`` moves packets and events until both ends are quiet, ``advance`` /
``run_until`` move the clock firing the associations' timers in time order); what a test module
needs on top is a small subclass that decides what happens to each packet (:meth:`transmit`)
and to each event (:meth:`on_event`):

- :class:`Net`: single-homed, packets arrive at once, every packet logged as
  ``(direction, packet)``, a ``drop(direction, packet)`` rule;
- :class:`MNet`: multi-homed, packets routed by their (source, destination) address pair, so
  one link can be cut and healed while the association runs;
- the long-run test's ``Link`` (delay, jitter, loss, duplicates) and the probe test's ``Wire``
  (AMF and gNB, packets logged with their send time and chunk types) subclass it in their modules.

Not a test module: importable as ``sctpnet`` from the tests beside it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from fivecore.transport.sctp import packet as p
from fivecore.transport.sctp.association import Association, DataReceived
from fivecore.transport.sctp.config import SctpConfig
from fivecore.transport.sctp.endpoint import Endpoint

CLI_IP = b"\x7f\x00\x00\x01"
SRV_IP = b"\x7f\x00\x00\x05"
SRV_PORT = 38412
CLI_PORT = 50000
# MNet's two-address client and server (C3: a third client address for restarts and hostile lists)
C1, C2, C3 = bytes([10, 0, 0, 1]), bytes([10, 1, 0, 1]), bytes([10, 2, 0, 1])
S1, S2 = bytes([10, 0, 0, 5]), bytes([10, 1, 0, 5])


class SctpNet:
    """A client and a server endpoint, at most one association on each (``ca``, ``sa``).

    By default a packet goes from one end to the other by its direction alone (``C2S`` / ``S2C``)
    and arrives from the first client address at the first server address or back, whatever
    address a reply names; :class:`MNet` routes by address instead. Every event is kept in
    ``events`` (``"c"`` / ``"s"``) and delivered data is consumed at once, as an application that
    keeps up would (RFC 9260 §6.2: the receive window reopens).
    """

    C2S = "c2s"
    S2C = "s2c"
    #: pump() gives up after this many rounds that still moved something ...
    PUMP_ROUNDS = 200
    #: ... and then returns quietly, or fails the test when this is set.
    MUST_QUIESCE = False

    def __init__(self, cfg: SctpConfig, *, cli_ips: tuple[bytes, ...] = (CLI_IP,),
                 srv_ips: tuple[bytes, ...] = (SRV_IP,), cli_port: int = CLI_PORT, srv_port: int = SRV_PORT,
                 now: float = 100.0, seed: int = 1, secret: bytes = b"k" * 32,
                 srv_rng: random.Random | None = None, cli_rng: random.Random | None = None,
                 list_addresses: bool = False) -> None:
        """``list_addresses`` hands each endpoint all its addresses (``local_addresses``, what
        its INIT / INIT ACK lists, §5.1.2); without it an endpoint knows only its first one."""
        self.cfg = cfg
        self.now = now
        self.cli_ips, self.srv_ips = cli_ips, srv_ips
        self.cli_port, self.srv_port = cli_port, srv_port
        srv_kw = {"local_addresses": list(srv_ips)} if list_addresses else {}
        cli_kw = {"local_addresses": list(cli_ips)} if list_addresses else {}
        self.srv = Endpoint(cfg, srv_ips[0], srv_port, True, rng=srv_rng or random.Random(seed), secret=secret,
                            **srv_kw)
        self.cli = Endpoint(cfg, cli_ips[0], cli_port, False, rng=cli_rng or random.Random(seed + 1), **cli_kw)
        self.ca: Association | None = None
        self.sa: Association | None = None
        self.events: dict[str, list[object]] = {"c": [], "s": []}

    # --- what a subclass decides ----------------------------------------------------------------

    def transmit(self, direction: str, pkt: bytes, src: bytes, dst: bytes) -> None:
        """One packet sent from ``src`` to ``dst``; the default delivers it at once."""
        self.arrive(direction, pkt)

    def on_event(self, side: str, a: Association, e: object) -> None:
        if isinstance(e, DataReceived):
            a.consumed(len(e.data))
        self.events[side].append(e)

    def _next_arrival(self) -> float | None:
        """When the next packet held on the wire arrives (None: the wire holds nothing)."""
        return None

    def _arrive_due(self) -> None:
        """Deliver every held packet due by ``now``."""

    # --- the shared machinery -------------------------------------------------------------------

    def ends(self, direction: str) -> tuple[bytes, bytes]:
        """(source, destination) of a packet going ``direction``: the two first addresses."""
        if direction == self.C2S:
            return self.cli_ips[0], self.srv_ips[0]
        return self.srv_ips[0], self.cli_ips[0]

    def arrive(self, direction: str, pkt: bytes) -> None:
        """The packet reaches the other end, from its peer's first address."""
        src, dst = self.ends(direction)
        (self.srv if direction == self.C2S else self.cli).receive(src, dst, pkt, self.now)

    def connect(self) -> Association:
        """The client's INIT to the server's first address, and the handshake as far as it goes."""
        self.ca = self.cli.connect(self.srv_ips[0], self.srv_port, self.now)
        self.pump()
        return self.ca

    def _flush(self, a: Association, direction: str) -> bool:
        pkts = a.datagrams_to_send(self.now)
        src, dst = self.ends(direction)
        for pkt in pkts:
            self.transmit(direction, pkt, src, dst)
        return bool(pkts)

    def pump(self) -> None:
        """Move packets and events until nothing moves (the clock stands still)."""
        for _ in range(self.PUMP_ROUNDS):
            moved = False
            if self.ca is not None:
                moved |= self._flush(self.ca, self.C2S)
            for pkt, dst, src in self.srv.pop_replies():
                moved = True
                self.transmit(self.S2C, pkt, src, dst)
            for pkt, dst, src in self.cli.pop_replies():
                moved = True
                self.transmit(self.C2S, pkt, src, dst)
            if self.srv.new_associations:
                self.sa = self.srv.new_associations.pop()
            if self.sa is not None:
                moved |= self._flush(self.sa, self.S2C)
            for side, a in (("c", self.ca), ("s", self.sa)):
                if a is None:
                    continue
                for e in a.pop_events():
                    self.on_event(side, a, e)
            if not moved:
                return
        if self.MUST_QUIESCE:
            raise AssertionError("the associations never went quiet")

    def _run_to(self, end: float) -> None:
        """Fire timers and deliver held packets in time order up to ``end``, pumping after each."""
        while True:
            ts = [t for a in (self.ca, self.sa) if a is not None and (t := a.get_timer()) is not None]
            if (t := self._next_arrival()) is not None:
                ts.append(t)
            nxt = min(ts) if ts else None
            if nxt is None or nxt > end:
                break
            self.now = max(self.now, nxt)
            for a in (self.ca, self.sa):
                if a is not None:
                    a.handle_timer(self.now)
            self._arrive_due()
            self.pump()
        self.now = end
        self.pump()

    def advance(self, dt: float) -> None:
        """Move the clock by ``dt``, firing timers in order (what is queued waits for the first)."""
        self._run_to(self.now + dt)

    def run_until(self, t: float) -> None:
        """Send what is queued now, then move the clock to ``t``, firing timers in order."""
        self.pump()
        self._run_to(t)


class Net(SctpNet):
    """Single-homed client and server; packets arrive at once unless ``drop(direction, packet)``
    says they are lost; ``wire`` keeps every packet sent as ``(direction, packet)``."""

    def __init__(self, cfg: SctpConfig | None = None, seed: int = 1) -> None:
        super().__init__(cfg or SctpConfig(heartbeat_interval=0), seed=seed)
        self.drop: Callable[[str, bytes], bool] = lambda direction, pkt: False
        self.wire: list[tuple[str, bytes]] = []

    def transmit(self, direction: str, pkt: bytes, src: bytes, dst: bytes) -> None:
        if direction == self.C2S:
            self.to_srv(pkt)
        else:
            self.to_cli(pkt)

    def to_srv(self, pkt: bytes) -> None:
        self.wire.append((self.C2S, pkt))
        if not self.drop(self.C2S, pkt):
            self.arrive(self.C2S, pkt)

    def to_cli(self, pkt: bytes) -> None:
        self.wire.append((self.S2C, pkt))
        if not self.drop(self.S2C, pkt):
            self.arrive(self.S2C, pkt)

    def data(self, side: str) -> list[DataReceived]:
        return [e for e in self.events[side] if isinstance(e, DataReceived)]


Drop = Callable[[bytes, bytes, bytes], bool]


class MNet(SctpNet):
    """Client and server, each with its own addresses (all listed in INIT / INIT ACK), on a wire
    that routes every packet by its (source, destination) pair; ``drop(src, dst, packet)``
    loses packets, ``wire`` keeps every packet sent as ``(src, dst, packet)``."""

    def __init__(self, cfg: SctpConfig | None = None, cli_ips: tuple[bytes, ...] = (C1, C2),
                 srv_ips: tuple[bytes, ...] = (S1, S2), seed: int = 1) -> None:
        super().__init__(cfg or SctpConfig(heartbeat_interval=0), cli_ips=cli_ips, srv_ips=srv_ips, seed=seed,
                         list_addresses=True)
        self.drop: Drop = lambda src, dst, pkt: False
        self.wire: list[tuple[bytes, bytes, bytes]] = []

    def cut(self, *ips: bytes) -> None:
        """Lose every packet from or to ``ips`` (both directions of those links)."""
        down = set(ips)
        self.drop = lambda src, dst, pkt: src in down or dst in down

    def heal(self) -> None:
        self.drop = lambda src, dst, pkt: False

    def connect(self) -> Association:
        ca = super().connect()
        assert ca.established and self.sa is not None and self.sa.established
        return ca

    def _flush(self, a: Association, direction: str) -> bool:
        # §6.4: a multi-homed association picks the path of each packet (tx_dests, in step
        # with the packets); without a list every packet takes the current destination.
        pkts = a.datagrams_to_send(self.now)
        dests = a.tx_dests or []
        for i, pkt in enumerate(pkts):
            dst, src = dests[i] if i < len(dests) else (a.dest.peer_ip, a.dest.local_ip)
            self.transmit(direction, pkt, src, dst)
        return bool(pkts)

    def transmit(self, direction: str, pkt: bytes, src: bytes, dst: bytes) -> None:
        self.deliver(pkt, src, dst)

    def deliver(self, pkt: bytes, src: bytes, dst: bytes) -> None:
        """The packet from ``src`` reaches whichever end owns ``dst`` (or nobody)."""
        self.wire.append((src, dst, pkt))
        if self.drop(src, dst, pkt):
            return
        if dst in self.srv_ips:
            self.srv.receive(src, dst, pkt, self.now)
        elif dst in self.cli_ips:
            self.cli.receive(src, dst, pkt, self.now)

    def data(self, side: str) -> list[bytes]:
        return [e.data for e in self.events[side] if isinstance(e, DataReceived)]

    def sent(self, types: set[int], src: bytes | None = None, dst: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """(src, dst) of every packet sent (lost or not) holding one of the chunk ``types``."""
        out = []
        for s, d, pkt in self.wire:
            if (src is None or s == src) and (dst is None or d == dst) and {c.type for c in p.parse_chunks(pkt)} & types:
                out.append((s, d))
        return out
