"""Record the N2 of simulated attaches, then replay the downlink into a socket-less simulator.

A *recording* is what one gNB of an attach benchmark saw: every NGAP PDU in both directions in
the order it crossed the N2 association, and the moment each attach started. The simulator is
deterministic once its random choices are fixed (the SUCI's ephemeral X25519 keys, PTIs, the
gNB's TEIDs; see :func:`seeded_randomness`), and a UE's answers depend only on what the
network sent it. So feeding the recorded downlink to a fresh simulator — same configuration,
same seed, no sockets, no core — must produce the recorded uplink octet for octet:

- a regression check: a faster simulator still puts exactly the same octets on the wire;
- a measurement: the CPU per attach of the simulator's own code (UE, USIM, gNB, codecs,
  crypto), without the transport, the core or the other processes of a benchmark run.

The UE keeps making every check a real one makes (AUTN and MAC, RES*, NAS MACs, KgNB); a
replayed message that fails them shows up as a different uplink.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import x25519 as _x25519

#: NGAP procedure code of NG Setup (TS 38.413 §9.4.7): not part of any attach
_NG_SETUP = 21


@dataclass
class Recording:
    """``events``: ("start", UE index, 0) | ("ul" | "dl", NGAP octets, SCTP stream)."""

    ran_config: dict[str, Any]
    n_ues: int
    seed: int
    n3_address: str
    dnn: str = "internet"
    snssai: tuple[int, int | None] = (1, None)
    events: list[tuple[str, Any, int]] = field(default_factory=list)

    def uplink(self) -> list[tuple[bytes, int]]:
        """The recorded uplink of the attaches (NG Setup left out)."""
        return [(d, s) for k, d, s in self.events if k == "ul" and d[1] != _NG_SETUP]


class _SeededKeys:
    """Stands in for ``cryptography``'s X25519 module inside :mod:`fivecore.ran.usim`: key
    generation draws the 32 private octets from the seeded generator (RFC 7748 §5 clamps any
    32 octets into a valid scalar), everything else is the real module."""

    def __init__(self, rng: random.Random) -> None:
        rng_ = rng

        class _Private:
            @staticmethod
            def generate() -> _x25519.X25519PrivateKey:
                return _x25519.X25519PrivateKey.from_private_bytes(rng_.randbytes(32))

            from_private_bytes = staticmethod(_x25519.X25519PrivateKey.from_private_bytes)

        self.X25519PrivateKey = _Private
        self.X25519PublicKey = _x25519.X25519PublicKey


class _SeededSecrets:
    """Stands in for :mod:`secrets` inside :mod:`fivecore.ran.userplane` (PTIs, TEIDs)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self._rng.getrandbits(k)


@contextlib.contextmanager
def seeded_randomness(seed: int) -> Iterator[None]:
    """Inside the block, the simulator's random choices come from ``random.Random(seed)``.

    For recordings and replays only: ephemeral SUCI keys must be unpredictable in real use
    (TS 33.501 §6.12.2), which is why this is a context manager that always restores.
    """
    from fivecore.ran import userplane, usim

    rng = random.Random(seed)
    saved = (usim.x25519, userplane.secrets)
    usim.x25519 = _SeededKeys(rng)  # type: ignore[assignment]
    userplane.secrets = _SeededSecrets(rng)  # type: ignore[assignment]
    try:
        yield
    finally:
        usim.x25519, userplane.secrets = saved


class _WireTap:
    """The N2 association of a replayed gNB: what it sends is kept, nothing goes anywhere."""

    out_streams = 16
    is_closed = False
    close_reason = None

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, int]] = []

    def send_nowait(self, data: bytes, stream: int = 0, ppid: int = 60, unordered: bool = False) -> None:
        self.sent.append((bytes(data), stream))


@dataclass
class ReplayResult:
    uplink: list[tuple[bytes, int]]
    attaches_ok: int
    cpu_seconds: float

    def identical(self, rec: Recording) -> int:
        """How many uplink PDUs equal the recorded ones, position by position."""
        return sum(1 for a, b in zip(self.uplink, rec.uplink(), strict=False) if a == b)


async def replay(rec: Recording) -> ReplayResult:
    """Feed ``rec``'s downlink to a fresh simulator built like the recorded one (same
    configuration, same seed) and collect its uplink; attaches start where they started."""
    from fivecore.benchkit.attach import Attacher
    from fivecore.ran.app import RanSim
    from fivecore.ran.config import load_ran_config
    from fivecore.ran.userplane import GnbUserPlane

    with seeded_randomness(rec.seed):
        sim = RanSim(load_ran_config(rec.ran_config), 1, rec.n_ues)
        gnb = sim.gnbs[0]
        tap = _WireTap()
        gnb.assoc = tap  # type: ignore[assignment]
        gnb.ready = True
        att = Attacher(sim, [GnbUserPlane(gnb, rec.n3_address)], rec.dnn, rec.snssai)
        tasks: list[asyncio.Task[None]] = []
        c0 = time.process_time()
        for kind, data, stream in rec.events:
            if kind == "start":
                tasks.append(asyncio.ensure_future(att.attach(data)))
                await asyncio.sleep(0)  # let it send its Initial UE Message now, as it did then
            elif kind == "dl" and data[1] != _NG_SETUP:
                gnb._on_message((stream, 60, data))
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        cpu = time.process_time() - c0
    ok = 0
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is None:
            ok += 1
        elif not t.done():
            t.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    return ReplayResult(tap.sent, ok, cpu)


async def record(net: Any, n_ues: int, rate: float, seed: int = 7, first_imsi: str | None = None) -> Recording:
    """Run ``n_ues`` attaches at ``rate``/s against ``net`` (a running
    :class:`fivecore.benchkit.network.BenchNetwork` with the subscribers provisioned) with
    seeded randomness, keeping every NGAP PDU of the gNB."""
    from fivecore.benchkit.attach import Attacher
    from fivecore.benchkit.driver import open_loop
    from fivecore.benchkit.network import FIRST_IMSI

    imsi = first_imsi or FIRST_IMSI
    with seeded_randomness(seed):
        att = await Attacher.create(net, n_ues, imsi)
        try:
            gnb = att.sim.gnbs[0]
            rc = net.ran_config(imsi)
            rc["gnb"]["idBase"] = gnb.cfg.gnb_id
            rc["gnb"]["name"] = gnb.cfg.name.rsplit("-", 1)[0]
            rc["gnb"]["localAddress"] = gnb.cfg.local_host
            if gnb.cfg.local_addresses:
                rc["gnb"]["extraAddresses"] = list(gnb.cfg.local_addresses)
            rec = Recording(rc, n_ues, seed, att.gnb_ups[0].n3_address, att.dnn, att.snssai)
            ev = rec.events
            gnb.tap = lambda d, data, stream: ev.append((d, bytes(data), stream))

            async def op(i: int) -> None:
                ev.append(("start", i, 0))
                await att.attach(i)

            res = await open_loop(n_ues, rate, op, timeout=30)
            await asyncio.sleep(0.3)  # the last PDU Session Resource Setup Responses
        finally:
            await att.close()
    if res.failed:
        raise RuntimeError(f"{len(res.failed)} of {n_ues} recorded attaches failed: {res.errors()}")
    return rec
