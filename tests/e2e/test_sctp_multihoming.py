"""SCTP multi-homing over real raw sockets on loopback (RFC 9260 §5.1.2, §6.4, §8.2).

A client with two local addresses talks to a server with two; every packet of the primary
path (client 127.93.1.1 <-> server 127.93.1.5) is then dropped by the ``packet_filter`` fault
injection, and messages must keep flowing over the other path (127.93.2.1 <-> 127.93.2.5).
tshark dissects the INIT / INIT ACK address parameters. If usrsctp is installed, a usrsctp
client bound to two addresses (``usrsctp_bindx``) talks to our multi-homed server.

Run as a script, this file is that usrsctp client: ``python test_sctp_multihoming.py HOST PORT LOCAL1 LOCAL2``.
Run under ``flock /tmp/fivecore-bench.lock``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from usrsctp import Usrsctp
from usrsctp import available as usrsctp_available

C1, C2 = "127.93.1.1", "127.93.2.1"
S1, S2 = "127.93.1.5", "127.93.2.5"


def _usrsctp_multihomed_client(host: str, port: int, locals_: list[str]) -> None:
    """usrsctp (raw IP) client bound to several local addresses; echoes 20 messages."""
    us = Usrsctp()
    s = us.socket()
    if us.bindx(s, locals_):
        raise OSError(us.errno(), "usrsctp_bindx")
    if us.connect(s, host, port):
        raise OSError(us.errno(), "usrsctp_connect")
    ok = 0
    for i in range(20):
        d = bytes([i]) * (100 + 37 * i)
        if us.send(s, d, 0, 60) != len(d):
            break
        got = us.recv(s)
        if got is None or got[2] != d:
            break
        ok += 1
    print(json.dumps({"ok": ok}), flush=True)
    # The association stays up until the test has seen usrsctp confirm our second address with
    # a HEARTBEAT and our answer to it (§8.3): a line (or EOF) on stdin says so.
    sys.stdin.readline()
    us.shutdown(s)
    time.sleep(0.5)
    us.close(s)
    us.finish()


if __name__ == "__main__":
    _usrsctp_multihomed_client(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
    sys.exit(0)

import pytest  # noqa: E402
from polling import await_until  # noqa: E402
from sctpcap import HAVE_TSHARK, Capture, tshark_check, tshark_fields  # noqa: E402
from sctpcap import free_port as _free_port  # noqa: E402

from fivecore.transport import sctp  # noqa: E402
from fivecore.transport.sctp import packet as p  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP needs raw sockets (root)"),
]
HERE = Path(__file__).resolve()
CFG = sctp.SctpConfig(backend="userspace", rto_initial=0.3, rto_min=0.1, rto_max=1.0, heartbeat_interval=0.5,
                      path_max_retransmissions=1, max_retransmissions=30, sack_delay=0.05)


class PrimaryLink:
    """Fault injection: while ``down``, every packet to or from the primary addresses is lost."""

    def __init__(self) -> None:
        self.down = False
        self.dropped = 0

    def __call__(self, direction: str, packet: bytes, src: str, dst: str) -> bool:
        if self.down and (src in (C1, S1) or dst in (C1, S1)):
            self.dropped += 1
            return False
        return True


async def _echo(a: sctp.SctpAssociation) -> None:
    async for stream, ppid, data in a:
        await a.send(data, stream=stream, ppid=ppid)


async def _exchange(c: sctp.SctpAssociation, i: int, timeout: float = 15.0) -> None:
    msg = bytes([i % 251]) * (200 + i)
    await c.send(msg, stream=0)
    got = await asyncio.wait_for(c.recv(), timeout)
    assert got.data == msg


@pytest.mark.skipif(not HAVE_TSHARK, reason="tshark/dumpcap not installed")
async def test_primary_path_lost_association_survives_over_the_other_path(tmp_path: Path) -> None:
    port = _free_port()
    link = PrimaryLink()
    cap = Capture(tmp_path / "mh.pcapng", port)
    accepted: asyncio.Queue[sctp.SctpAssociation] = asyncio.Queue()

    async def handle(a: sctp.SctpAssociation) -> None:
        accepted.put_nowait(a)
        await _echo(a)

    srv = await sctp.listen(S1, port, CFG, on_association=handle, packet_filter=link, local_addresses=[S2])
    c = None
    try:
        c = await sctp.connect(S1, port, CFG, local_host=C1, local_addresses=[C2], packet_filter=link, timeout=10)
        sa = await asyncio.wait_for(accepted.get(), 5)
        assert [x["address"] for x in c.paths] == [S1, S2]
        assert [x["address"] for x in sa.paths] == [C1, C2]
        assert [x["local"] for x in c.paths] == [C1, C2]
        for i in range(5):
            await _exchange(c, i)
        link.down = True
        for i in range(5, 40):
            await _exchange(c, i)
        # By now the heartbeats and retransmissions have marked the primary inactive.
        await await_until("both ends marked the primary path inactive",
                          lambda: not (c.paths[0]["active"] or sa.paths[0]["active"]), timeout=10, period=0.1)
        assert not c.paths[0]["active"] and c.paths[1]["current"]
        assert not sa.paths[0]["active"] and sa.paths[1]["current"]
        assert not c.is_closed and not sa.is_closed and link.dropped > 0
        assert c.stats["path_down"] >= 1
        # The link comes back: a HEARTBEAT ACK on it makes the primary active and current again.
        link.down = False
        await await_until("the primary path is current again", lambda: c.paths[0]["current"],
                          timeout=10, period=0.1)
        assert c.paths[0]["active"] and c.paths[0]["current"]
        await _exchange(c, 99)
        c.close()
        await asyncio.wait_for(c.wait_closed(), 10)
    finally:
        if c is not None and not c.is_closed:
            c.abort("test over")
        srv.close()
        cap.stop()
    res = tshark_check(cap.path)  # CRC32c good, nothing malformed
    assert res["chunk_1"] == 1 and res["chunk_2"] == 1
    # Wireshark's own reading of the address parameters (RFC 9260 §3.3.2.1, type 5).
    assert tshark_fields(cap.path, "sctp.chunk_type == 1", "sctp.parameter_ipv4_address") == [C1, C2]
    assert tshark_fields(cap.path, "sctp.chunk_type == 2", "sctp.parameter_ipv4_address") == [S1, S2]
    # Packets really travelled on the second path, in both directions.
    srcs = set(tshark_fields(cap.path, "sctp.chunk_type == 0", "ip.src"))
    assert {C2, S2} <= srcs
    sack_dsts = set(tshark_fields(cap.path, "sctp.chunk_type == 3", "ip.dst"))
    assert C2 in sack_dsts


async def test_multihomed_client_to_single_homed_server() -> None:
    port = _free_port()
    accepted: asyncio.Queue[sctp.SctpAssociation] = asyncio.Queue()

    async def handle(a: sctp.SctpAssociation) -> None:
        accepted.put_nowait(a)
        await _echo(a)

    srv = await sctp.listen(S1, port, CFG, on_association=handle)
    c = await sctp.connect(S1, port, CFG, local_host=C1, local_addresses=[C2], timeout=10)
    try:
        sa = await asyncio.wait_for(accepted.get(), 5)
        assert [x["address"] for x in sa.paths] == [C1, C2] and len(c.paths) == 1
        for i in range(10):
            await _exchange(c, i)
    finally:
        c.abort("test over")
        srv.close()


@pytest.mark.skipif(not usrsctp_available(), reason="libusrsctp2 not installed")
@pytest.mark.skipif(not HAVE_TSHARK, reason="tshark/dumpcap not installed")
async def test_usrsctp_client_bound_to_two_addresses_against_our_multihomed_server(tmp_path: Path) -> None:
    """usrsctp (an independent stack) bound to two addresses with usrsctp_bindx: it reads the
    two addresses of our INIT ACK, confirms the second with a HEARTBEAT, and our answer comes
    from that address (§8.3); 20 echoes go through."""
    port = _free_port()
    cap = Capture(tmp_path / "usrsctp_mh.pcapng", port)
    accepted: asyncio.Queue[sctp.SctpAssociation] = asyncio.Queue()

    async def handle(a: sctp.SctpAssociation) -> None:
        accepted.put_nowait(a)
        await _echo(a)

    on_s2: set[int] = set()  # chunk types of packets seen at our second address: 4 in, 5 out

    def watch(direction: str, packet: bytes, src: str, dst: str) -> bool:
        if S2 in (src, dst):
            try:
                on_s2.update(ch.type for ch in p.parse_chunks(packet)
                             if (ch.type, direction) in ((p.HEARTBEAT, "rx"), (p.HEARTBEAT_ACK, "tx")))
            except p.SctpDecodeError:
                pass
        return True

    srv = await sctp.listen(S1, port, sctp.SctpConfig(backend="userspace"), on_association=handle,
                            packet_filter=watch, local_addresses=[S2])
    # usrsctp_bindx only takes addresses an interface has (getifaddrs); 127/8 routes to lo but
    # is not listed, so the client's two addresses go on lo for the test (and come off after).
    added = []
    try:
        for ip in (C1, C2):
            r = subprocess.run(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], capture_output=True, text=True)
            if r.returncode == 0:
                added.append(ip)
            elif "File exists" not in r.stderr:
                pytest.skip(f"cannot add {ip} to lo: {r.stderr.strip()}")
        proc = await asyncio.create_subprocess_exec(sys.executable, str(HERE), S1, str(port), C1, C2,
                                                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert json.loads(line.decode()) == {"ok": 20}
            await await_until("usrsctp's HEARTBEAT to our second address, and our answer from it",
                              lambda: on_s2 >= {p.HEARTBEAT, p.HEARTBEAT_ACK}, timeout=60, period=0.1)
        finally:
            await asyncio.wait_for(proc.communicate(b"\n"), 60)
        sa = accepted.get_nowait()
    finally:
        srv.close()
        cap.stop()
        for ip in added:
            subprocess.run(["ip", "addr", "del", f"{ip}/32", "dev", "lo"], capture_output=True)
    tshark_check(cap.path)
    assert tshark_fields(cap.path, "sctp.chunk_type == 2", "sctp.parameter_ipv4_address") == [S1, S2]
    # Our paths are the addresses usrsctp's INIT listed (this usrsctp lists none on loopback)
    # plus its source address.
    listed = tshark_fields(cap.path, "sctp.chunk_type == 1", "sctp.parameter_ipv4_address")
    assert [x["address"] for x in sa.paths] == [C1, *[x for x in listed if x != C1]]
    hb_to_s2 = tshark_fields(cap.path, f"sctp.chunk_type == 4 && ip.dst == {S2}", "ip.src")
    hb_ack_from_s2 = tshark_fields(cap.path, f"sctp.chunk_type == 5 && ip.src == {S2}", "ip.dst")
    assert hb_to_s2 and hb_ack_from_s2, "usrsctp should confirm our second address and get our answer from it"


A1, A2 = "127.93.3.5", "127.93.4.5"  # the AMF's N2 addresses
G1, G2 = "127.93.3.1", "127.93.4.1"  # the gNB's


@pytest.mark.timeout(300)
async def test_amf_with_extra_ngap_address_keeps_a_multihomed_gnb_when_its_primary_path_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``amf.ngap.extra_addresses`` end to end: the AMF process lists both addresses in its INIT
    ACK; a gNB (the simulator's, with two local addresses: ``GnbConfig.local_addresses``) loses every packet
    of its primary path after NG Setup, and NGAP procedures still complete over the other one."""
    import functools

    from fivecore.nf.amf.launch import AmfCore, free_sctp_port
    from fivecore.ran.gnb import Gnb, GnbConfig

    core = AmfCore.launch(tmp_path, amf={"ngap": {"address": A1, "port": free_sctp_port(), "extra_addresses": [A2]}})
    link_down = False
    dropped = 0

    def primary_link(direction: str, packet: bytes, src: str, dst: str) -> bool:
        nonlocal dropped
        if link_down and (src in (G1, A1) or dst in (G1, A1)):
            dropped += 1
            return False
        return True

    try:
        host, port = core.ngap
        monkeypatch.setattr(sctp, "connect", functools.partial(sctp.connect, packet_filter=primary_link))
        gnb = Gnb(GnbConfig(gnb_id=0x9301, amf_host=host, amf_port=port, local_host=G1, local_addresses=(G2,)))
        await gnb.start()
        monkeypatch.undo()
        try:
            assert [x["address"] for x in gnb.assoc.paths] == [A1, A2]
            # §5.4: the AMF's second address confirmed first
            await await_until("the AMF's second address confirmed", lambda: gnb.assoc.paths[1]["confirmed"],
                              timeout=10, period=0.1)
            assert gnb.assoc.paths[1]["confirmed"]
            link_down = True
            for i in range(3):
                answer = await gnb.ran_configuration_update(name=f"mh-{i}", timeout=30)
                assert answer.kind == "successful"
            assert dropped > 0 and not gnb.assoc.is_closed and gnb.ready
            assert gnb.cfg.name == "mh-2"
        finally:
            await gnb.stop()
    finally:
        core.stop()


def _ipv4_packet(src: bytes, dst: bytes, payload: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, 64, 132, 0, src, dst)
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return hdr[:10] + struct.pack("!H", ~s & 0xFFFF) + hdr[12:] + payload


@pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed")
def test_tshark_reads_the_restart_with_new_addresses_abort(tmp_path: Path) -> None:
    """The §5.2.2 refusal as Wireshark reads it: an ABORT tagged with the restart's Initiate
    Tag, cause 11 "Restart of an association with new addresses" naming the new address."""
    import random as _random

    from fivecore.obs.pcap import PcapWriter
    from fivecore.transport.sctp.endpoint import Endpoint

    ip = socket.inet_aton
    cfg = sctp.SctpConfig(heartbeat_interval=0)
    srv = Endpoint(cfg, ip(S1), 38412, True, rng=_random.Random(1), secret=b"k" * 32)
    wire: list[tuple[bytes, bytes, bytes]] = []

    def handshake(cli: Endpoint) -> None:
        a = cli.connect(ip(S1), 38412, 1.0)
        eps = {ip(S1): srv, ip(C1): cli, ip(C2): cli, ip("127.93.9.1"): cli}
        for _ in range(10):
            out = [(pk, a.dest.peer_ip, a.dest.local_ip) for pk in a.datagrams_to_send(1.0)]
            out += [(pk, d, s) for ep in (srv, cli) for pk, d, s in ep.pop_replies()]
            out += [(pk, x.dest.peer_ip, x.dest.local_ip) for x in srv.new_associations for pk in x.datagrams_to_send(1.0)]
            if not out:
                return
            for pk, d, s in out:
                wire.append((s, d, pk))
                eps[d].receive(s, d, pk, 1.0)

    handshake(Endpoint(cfg, ip(C1), 50000, False, rng=_random.Random(2), local_addresses=[ip(C1), ip(C2)]))
    wire.clear()
    handshake(Endpoint(cfg, ip(C1), 50000, False, rng=_random.Random(3),
                       local_addresses=[ip(C1), ip("127.93.9.1")]))
    path = tmp_path / "restart.pcap"
    with PcapWriter(path) as w:
        for s, d, pk in wire:
            w.write_ip(_ipv4_packet(s, d, pk))
    tshark_check(path)
    assert tshark_fields(path, "sctp.chunk_type == 6", "sctp.cause_code") == ["0x000b"]
    assert tshark_fields(path, "sctp.chunk_type == 6", "sctp.parameter_ipv4_address") == ["127.93.9.1"]
    init_tag = tshark_fields(path, "sctp.chunk_type == 1", "sctp.initiate_tag")
    assert tshark_fields(path, "sctp.chunk_type == 6", "sctp.verification_tag") == init_tag
    assert srv.stats["tx_abort_restart_new_addresses"] == 1 and srv.stats["restarts"] == 0
