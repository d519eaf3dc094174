"""E2E over real raw sockets on loopback: echo at scale, loss, restart (RFC 9260)."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest
from sctpcap import HAVE_TSHARK, Capture, tshark_check

from fivecore.transport import sctp

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP needs raw sockets (root)"),
]

SIZES = [1, 2, 99, 500, 1451, 1452, 1453, 2905, 9000, 30000, 65000]


async def _echo(assoc: sctp.SctpAssociation) -> None:
    async for stream, ppid, data in assoc:
        await assoc.send(data, stream=stream, ppid=ppid)


def _plan(seed: int, streams: int) -> list[tuple[int, int, bytes]]:
    rng = random.Random(seed)
    sizes = SIZES[:]
    rng.shuffle(sizes)
    return [(i % streams, 60 + (i % 2), rng.randbytes(n)) for i, n in enumerate(sizes)]


async def _client(port: int, seed: int, streams: int = 3, **kw: object) -> sctp.SctpAssociation:
    """Send a plan of messages, check every echo arrives exactly once and in order per stream."""
    c = await sctp.connect("127.0.0.1", port, **kw)  # type: ignore[arg-type]
    plan = _plan(seed, streams)
    expected: dict[int, list[tuple[int, bytes]]] = {}
    for s, ppid, d in plan:
        expected.setdefault(s, []).append((ppid, d))

    async def sender() -> None:
        for s, ppid, d in plan:
            await c.send(d, stream=s, ppid=ppid)

    got: dict[int, list[tuple[int, bytes]]] = {}
    task = asyncio.ensure_future(sender())
    for _ in plan:
        s, ppid, d = await c.recv()
        got.setdefault(s, []).append((ppid, d))
    await task
    assert got == expected
    c.close()
    await c.wait_closed()
    assert c.close_reason == "shutdown complete"
    return c


async def test_echo_100_associations() -> None:
    srv = await sctp.listen("127.0.0.1", 0, on_association=_echo)
    port = srv.sockname[1]
    try:
        await asyncio.wait_for(asyncio.gather(*[_client(port, seed) for seed in range(100)]), 120)
        assert srv.stats["associations_accepted"] == 100
        assert srv.stats["rx_bad_checksum"] == 0
    finally:
        srv.close(abort_associations=True)


def _lossy(seed: int, rate: float = 0.05):
    rng = random.Random(seed)
    dropped = {"rx": 0, "tx": 0}

    def keep(direction: str, pkt: bytes) -> bool:
        if rng.random() < rate:
            dropped[direction] += 1
            return False
        return True

    return keep, dropped


async def test_loss_5_percent_both_directions(tmp_path: Path) -> None:
    cfg = sctp.SctpConfig(rto_initial=0.2, rto_min=0.05, rto_max=1.0, max_retransmissions=20,
                          max_init_retransmits=20)
    srv_filter, srv_dropped = _lossy(1)
    srv = await sctp.listen("127.0.0.1", 0, cfg, on_association=_echo, packet_filter=srv_filter)
    port = srv.sockname[1]
    cap = Capture(tmp_path / "loss.pcapng", port) if HAVE_TSHARK else None
    filters = [_lossy(100 + i) for i in range(8)]
    try:
        clients = await asyncio.wait_for(
            asyncio.gather(*[_client(port, 1000 + i, config=cfg, packet_filter=f[0])
                             for i, f in enumerate(filters)]), 150)
    finally:
        srv.close(abort_associations=True)
        if cap is not None:
            cap.stop()
    if cap is not None:
        # Retransmissions and SACK gap blocks as tshark sees them: valid CRC32c, nothing malformed.
        res = tshark_check(cap.path)
        assert res["packets"] > 100 and res["good"] == res["packets"]
    dropped = sum(d["rx"] + d["tx"] for _, d in filters) + srv_dropped["rx"] + srv_dropped["tx"]
    assert dropped > 50  # the shim really dropped packets in both directions
    assert srv_dropped["rx"] and srv_dropped["tx"]
    rtx = sum(c.stats["tx_retransmitted_chunks"] for c in clients)
    assert rtx > 0


async def test_send_backpressure_with_a_slow_reader() -> None:
    """await send() blocks while send_buffer bytes are unacknowledged; nothing is lost.

    240 kB cannot fit in a 32 kB receive window plus a 64 kB send buffer while nobody reads,
    so the writer must be blocked whatever the machine's speed.
    """
    cfg = sctp.SctpConfig(send_buffer=64 * 1024, receive_window=32 * 1024)
    accepted: asyncio.Queue[sctp.SctpAssociation] = asyncio.Queue()
    srv = await sctp.listen("127.0.0.1", 0, cfg, on_association=accepted.put_nowait)
    c = await sctp.connect("127.0.0.1", srv.sockname[1], cfg, timeout=5)
    payloads = [bytes([i]) * 4000 for i in range(60)]

    async def writer() -> None:
        for d in payloads:
            await c.send(d, stream=0)

    w = asyncio.ensure_future(writer())
    try:
        peer = await asyncio.wait_for(accepted.get(), 5)
        await asyncio.sleep(0.5)
        assert not w.done()
        assert c._a.buffered_amount >= cfg.send_buffer  # type: ignore[attr-defined]
        got = [(await asyncio.wait_for(peer.recv(), 10)).data for _ in payloads]
        await asyncio.wait_for(w, 10)
        assert got == payloads
    finally:
        w.cancel()
        c.abort()
        srv.close(abort_associations=True)
