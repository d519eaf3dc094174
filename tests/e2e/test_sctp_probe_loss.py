"""The liveness probe over real raw sockets on loopback (RFC 9260 §8.3, §6.3.3 E2, §16
Path.Max.Retrans): a peer whose stack ignores its first HEARTBEATs is still found alive,
one that ignores them all is declared dead only after the retransmissions; tshark checks
the HEARTBEATs that went on the wire."""

from __future__ import annotations

import asyncio
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sctpcap import Capture, needs_tshark, tshark_check
from sctpcap import free_port as _free_port

from fivecore.transport import sctp
from fivecore.transport.sctp import packet as p

INTEROP_PEER = Path(__file__).resolve().parent / "test_sctp_interop.py"  # run as a script: usrsctp
needs_usrsctp = pytest.mark.skipif(ctypes.util.find_library("usrsctp") is None, reason="libusrsctp2 not installed")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP needs raw sockets (root)"),
]

# Short RTOs keep the series quick; the schedule is the RFC's: 0.2, 0.4, 0.8, 0.8, ... s.
CFG = sctp.SctpConfig(backend="userspace", heartbeat_interval=0, rto_initial=0.2, rto_min=0.2, rto_max=0.8)


def deaf_to_heartbeats(n: int, dropped: list[bytes]) -> Callable[[str, bytes], bool]:
    """A packet filter for the peer's stack: its first ``n`` received HEARTBEATs vanish."""

    def keep(direction: str, pkt: bytes) -> bool:
        if direction != "rx" or len(dropped) >= n:
            return True
        try:
            types = [c.type for c in p.parse_chunks(pkt)]
        except p.SctpDecodeError:
            return True
        if p.HEARTBEAT in types:
            dropped.append(pkt)
            return False
        return True

    return keep


async def _pair(port: int, peer_filter: Callable[[str, bytes], bool]) -> tuple[
        sctp.SctpServer, sctp.SctpAssociation, sctp.SctpAssociation]:
    """Our server (the AMF's side, which probes) and a client peer (the gNB's side) with one
    message each way, so the server's RTO comes from a measured RTT as on a real N2."""
    accepted: asyncio.Queue[sctp.SctpAssociation] = asyncio.Queue()
    srv = await sctp.listen("127.0.0.1", port, CFG, on_association=accepted.put_nowait)
    cli = await sctp.connect("127.0.0.1", port, CFG, packet_filter=peer_filter, timeout=10)
    assoc = await asyncio.wait_for(accepted.get(), 10)
    await cli.send(b"ng setup")
    assert (await asyncio.wait_for(assoc.recv(), 10)).data == b"ng setup"
    await assoc.send(b"ng setup response")
    assert (await asyncio.wait_for(cli.recv(), 10)).data == b"ng setup response"
    # The peer's SACK rides with its next DATA (RFC 9260 §6.2): once that is in, nothing of
    # ours is unacknowledged, so no late SACK can answer the probe in place of a HEARTBEAT ACK.
    await cli.send(b"ran configuration update")
    assert (await asyncio.wait_for(assoc.recv(), 10)).data == b"ran configuration update"
    return srv, assoc, cli


@needs_tshark
async def test_peer_ignoring_its_first_heartbeats_is_found_alive(tmp_path: Path) -> None:
    port = _free_port()
    cap = Capture(tmp_path / "probe.pcapng", port)
    dropped: list[bytes] = []
    srv, assoc, cli = await _pair(port, deaf_to_heartbeats(2, dropped))
    try:
        before = assoc.stats["probe_heartbeats"]
        assert await assoc.probe(30.0) is True
        assert len(dropped) == 2  # two HEARTBEATs went unanswered, a retransmission was
        assert assoc.stats["probe_heartbeats"] - before >= 3
        assert not assoc.is_closed and not cli.is_closed
        # the association carries on as before
        await cli.send(b"after")
        assert (await asyncio.wait_for(assoc.recv(), 10)).data == b"after"
    finally:
        cli.abort("test over")
        srv.close(abort_associations=True)
        cap.stop()
    kinds = tshark_check(cap.path)  # CRC32c good, nothing malformed
    assert kinds["packets"] == kinds["good"]
    assert kinds.get("chunk_4", 0) >= 3 and kinds.get("chunk_5", 0) >= 1  # HEARTBEAT, HEARTBEAT ACK


async def test_peer_ignoring_every_heartbeat_is_dead_only_after_the_retransmissions() -> None:
    dropped: list[bytes] = []
    srv, assoc, cli = await _pair(_free_port(), deaf_to_heartbeats(10**6, dropped))
    try:
        before = assoc.stats["probe_heartbeats"]
        assert await assoc.probe(60.0, retransmissions=3) is False
        assert assoc.stats["probe_heartbeats"] - before == 4 and len(dropped) == 4
        # a verdict for the caller, not an abort: the association is still up
        assert not assoc.is_closed and not cli.is_closed
    finally:
        cli.abort("test over")
        srv.close(abort_associations=True)


async def test_overall_deadline_ends_the_probe() -> None:
    dropped: list[bytes] = []
    srv, assoc, cli = await _pair(_free_port(), deaf_to_heartbeats(10**6, dropped))
    try:
        # the deadline comes before the first HEARTBEAT's RTO (RTO.Min 0.2 s): the probe has one
        # timer, at the deadline, and ends there, however fast the machine runs
        assert await assoc.probe(0.1) is False
        assert len(dropped) == 1 and not assoc.is_closed
    finally:
        cli.abort("test over")
        srv.close(abort_associations=True)


@needs_usrsctp
async def test_independent_stack_answers_and_then_dies() -> None:
    """usrsctp (libusrsctp2) as the peer: it answers our probe's HEARTBEAT; once its process
    is SIGKILLed (no ABORT, as a crashed gNB) the probe says dead after the retransmissions."""
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(INTEROP_PEER), "server", "127.0.0.1", str(port), stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"READY"
        c = await sctp.connect("127.0.0.1", port, CFG, timeout=10)
        try:
            await c.send(b"ng setup", stream=0)
            assert (await asyncio.wait_for(c.recv(), 10)).data == b"ng setup"
            before = c.stats["probe_heartbeats"]
            assert await c.probe(30.0) is True
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            assert await c.probe(60.0, retransmissions=2) is False
            assert c.stats["probe_heartbeats"] - before >= 4  # >= 1 answered, then 3 unanswered
            assert not c.is_closed  # a verdict for the caller; the caller decides to abort
        finally:
            c.abort("test over")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
