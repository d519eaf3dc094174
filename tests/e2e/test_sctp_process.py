"""E2E across processes: server and clients in separate processes (separate userspace stacks
on one host), peer restart detection, and hostile packets through the real raw socket.

Run as a script this file is a helper process: ``echo-server`` or ``crash-client``.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import struct
import sys
from pathlib import Path

import pytest

from fivecore.transport import sctp
from fivecore.transport.sctp import packet as p

HERE = Path(__file__).resolve()


async def _echo_server_main(host: str = "127.0.0.1", port: int = 0) -> None:
    srv = await sctp.listen(host, port)
    print(f"PORT {srv.sockname[1]}", flush=True)

    async def echo(a: sctp.SctpAssociation) -> None:
        async for stream, ppid, data in a:
            if data == b"quit":
                await a.send(repr(dict(srv.stats)).encode(), stream=stream, ppid=ppid)
                a.close()
                await a.wait_closed()
                os._exit(0)
            await a.send(data, stream=stream, ppid=ppid)

    async for assoc in srv:
        asyncio.ensure_future(echo(assoc))


async def _crash_client_main(port: int, local_port: int) -> None:
    """Connect from a fixed port, exchange one message, then die without SHUTDOWN or ABORT."""
    c = await sctp.connect("127.0.0.1", port, local_port=local_port)
    await c.send(b"hello from first life")
    print("SENT", flush=True)
    await asyncio.sleep(0.3)
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "echo-server":
        asyncio.run(_echo_server_main(*sys.argv[2:3], *[int(x) for x in sys.argv[3:4]]))
    else:
        asyncio.run(_crash_client_main(int(sys.argv[2]), int(sys.argv[3])))
    sys.exit(0)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP needs raw sockets (root)"),
]


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    root = HERE.parents[2]
    env = dict(os.environ, PYTHONPATH=str(root / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return await asyncio.create_subprocess_exec(sys.executable, str(HERE), *args, env=env,
                                                stdout=asyncio.subprocess.PIPE)


async def test_cross_process_echo_many_associations() -> None:
    proc = await _spawn("echo-server")
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        port = int(line.split()[1])

        async def one(seed: int) -> None:
            rng = random.Random(seed)
            c = await sctp.connect("127.0.0.1", port)
            msgs = [(rng.randrange(4), rng.randbytes(rng.choice([1, 200, 1500, 20000, 65000]))) for _ in range(12)]
            for s, d in msgs:
                await c.send(d, stream=s, ppid=60)
            got = [await asyncio.wait_for(c.recv(), 20) for _ in msgs]
            for s in range(4):
                assert [m.data for m in got if m.stream == s] == [d for st, d in msgs if st == s]
            c.close()
            await c.wait_closed()

        await asyncio.wait_for(asyncio.gather(*[one(i) for i in range(20)]), 60)
        c = await sctp.connect("127.0.0.1", port)
        await c.send(b"quit")
        stats = (await asyncio.wait_for(c.recv(), 10)).data.decode()
        await asyncio.wait_for(c.wait_closed(), 10)
        assert "'associations_accepted': 21" in stats and "rx_bad_checksum" not in stats
        await asyncio.wait_for(proc.wait(), 10)
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_peer_restart_across_processes() -> None:
    """RFC 9260 §5.2.4 A: a client process dies and a new one INITs from the same port."""
    restarted = asyncio.Event()
    inbox: asyncio.Queue[bytes] = asyncio.Queue()
    accepted: list[sctp.SctpAssociation] = []

    def on_event(a: sctp.SctpAssociation, ev: sctp.SctpEvent) -> None:
        if ev.kind == "restarted":
            restarted.set()

    async def handle(a: sctp.SctpAssociation) -> None:
        accepted.append(a)
        a.add_event_handler(on_event)
        async for _s, _p, d in a:
            inbox.put_nowait(d)

    srv = await sctp.listen("127.0.0.1", 0, on_association=handle)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    local_port = s.getsockname()[1]
    s.close()
    try:
        proc = await _spawn("crash-client", str(srv.sockname[1]), str(local_port))
        await asyncio.wait_for(proc.wait(), 20)
        assert await asyncio.wait_for(inbox.get(), 10) == b"hello from first life"
        c = await sctp.connect("127.0.0.1", srv.sockname[1], local_port=local_port)
        await asyncio.wait_for(restarted.wait(), 10)
        assert len(accepted) == 1  # the same association, restarted, not a second one
        await c.send(b"second life")
        assert await asyncio.wait_for(inbox.get(), 10) == b"second life"
        assert srv.stats["restarts"] == 1
        c.close()
        await c.wait_closed()
    finally:
        srv.close(abort_associations=True)


def _raw_send(pkt: bytes, port_src_ip: str = "127.0.0.1", dst: str = "127.0.0.1") -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, 132, 0,
                          socket.inet_aton(port_src_ip), socket.inet_aton(dst))
        s.sendto(hdr + pkt, (dst, 0))
    finally:
        s.close()


async def test_bad_input_through_the_real_socket() -> None:
    async def echo(a: sctp.SctpAssociation) -> None:
        async for stream, ppid, data in a:
            await a.send(data, stream=stream, ppid=ppid)

    srv = await sctp.listen("127.0.0.1", 0, on_association=echo)
    port = srv.sockname[1]
    c = await sctp.connect("127.0.0.1", port)
    try:
        st = srv.stats
        lport = c.local_address[1]
        (sa,) = srv._uep.ep.associations.values()  # type: ignore[union-attr]
        tag = sa.my_tag
        data = p.build_packet(lport, port, tag, [p.encode_data(3, 12345, 0, 999, 60, b"evil")])
        _raw_send(data[:8] + b"\x00\x00\x00\x00" + data[12:])  # bad CRC32c
        _raw_send(p.build_packet(lport, port, tag ^ 0x5A5A, [p.encode_chunk(p.ABORT, 0)]))  # wrong tag
        _raw_send(p.build_packet(lport, port, tag, [b"\x00\x03\x01\x00" + b"\x00" * 12]))  # truncated
        _raw_send(p.build_packet(lport, port, tag, [p.encode_chunk(p.DATA, 3, b"\x01")]))  # DATA too short
        _raw_send(p.build_packet(lport, port, 0, [p.encode_chunk(p.INIT, 0, b"\x00" * 7)]))  # short INIT
        _raw_send(b"\x00" * 7)  # not even a header
        rng = random.Random(5)
        for i in range(500):  # INIT flood from many spoofed ports
            init = p.encode_init(p.INIT, rng.getrandbits(32) | 1, 65536, 5, 5, rng.getrandbits(32))
            _raw_send(p.build_packet(2000 + i, port, 0, [init]))
        await asyncio.sleep(0.5)
        assert st["rx_bad_checksum"] >= 1
        assert st["rx_bad_vtag"] >= 1
        assert st["rx_malformed"] >= 3
        assert st["rx_init"] >= 500 - 10  # the raw socket may drop a few under a burst
        assert len(srv._uep.ep.associations) == 1  # type: ignore[union-attr]
        await c.send(b"still alive", stream=1)
        assert await asyncio.wait_for(c.recv(), 5) == (1, 60, b"still alive")
    finally:
        c.close()
        await asyncio.wait_for(c.wait_closed(), 5)
        srv.close(abort_associations=True)


async def test_packets_for_foreign_ports_get_no_answer() -> None:
    """RFC 9260 §8.4: never ABORT packets for ports this stack does not own."""
    srv = await sctp.listen("127.0.0.1", 0)
    sniff = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
    sniff.setblocking(False)
    try:
        foreign = srv.sockname[1] + 1 if srv.sockname[1] < 65535 else srv.sockname[1] - 1
        heartbeat = p.encode_chunk(p.HEARTBEAT, 0, p.encode_param(1, b"12345678"))
        _raw_send(p.build_packet(3333, foreign, 77, [heartbeat]))
        _raw_send(p.build_packet(3334, srv.sockname[1], 77, [heartbeat]))  # ours: OOTB ABORT
        await asyncio.sleep(0.3)
        replies = []
        while True:
            try:
                pkt = sniff.recv(65535)
            except BlockingIOError:
                break
            sctp_pkt = pkt[(pkt[0] & 15) * 4:]
            hdr = p.parse_header(sctp_pkt)
            if hdr.dst_port in (3333, 3334):
                replies.append(hdr)
        assert [h.src_port for h in replies] == [srv.sockname[1]]
        assert replies[0].vtag == 77  # T bit reflection
    finally:
        sniff.close()
        srv.close()


async def test_connect_to_nobody_fails_cleanly() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(sctp.SctpConnectError, match="timed out"):
        await sctp.connect("127.0.0.1", port, timeout=0.5)
    # Without a timeout, the exhausted T1-init budget (Max.Init.Retransmits) is the error.
    cfg = sctp.SctpConfig(rto_initial=0.1, rto_min=0.1, rto_max=0.2, max_init_retransmits=2)
    with pytest.raises(sctp.SctpConnectError, match="INIT not answered"):
        await sctp.connect("127.0.0.1", port, cfg)


async def test_reconnect_from_the_same_port_right_after_close() -> None:
    srv = await sctp.listen("127.0.0.1", 0)
    accepted: list[sctp.SctpAssociation] = []

    async def acceptor() -> None:
        async for a in srv:
            accepted.append(a)

    task = asyncio.ensure_future(acceptor())
    try:
        c = await sctp.connect("127.0.0.1", srv.sockname[1], timeout=5)
        port = c.local_address[1]
        c.close()
        await asyncio.wait_for(c.wait_closed(), 5)
        c2 = await sctp.connect("127.0.0.1", srv.sockname[1], local_port=port, timeout=5)
        assert c2.local_address[1] == port
        await c2.send(b"again")
        c2.abort("done")
        c3 = await sctp.connect("127.0.0.1", srv.sockname[1], local_port=port, timeout=5)
        c3.abort("done")
        await asyncio.sleep(0.1)
        assert len(accepted) == 3
    finally:
        task.cancel()
        srv.close(abort_associations=True)


async def test_two_stacks_same_port_different_addresses_do_not_interfere() -> None:
    """Two server processes on 127.0.0.5:P and 127.0.0.6:P (an AMF set on one host) plus this
    process's clients: three stacks whose raw sockets all see every packet."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.5", 0))
    port = s.getsockname()[1]
    s.close()
    procs = [await _spawn("echo-server", host, str(port)) for host in ("127.0.0.5", "127.0.0.6")]
    try:
        for pr in procs:
            assert pr.stdout is not None
            assert int((await asyncio.wait_for(pr.stdout.readline(), 20)).split()[1]) == port

        async def talk(host: str, seed: int) -> sctp.SctpAssociation:
            c = await sctp.connect(host, port, timeout=10)
            rng = random.Random(seed)
            for _ in range(20):
                d = rng.randbytes(rng.choice([10, 300, 4000]))
                await c.send(d, stream=1)
                assert (await asyncio.wait_for(c.recv(), 10)).data == d
            return c

        clients = await asyncio.gather(*[talk(h, i) for i, h in enumerate(["127.0.0.5", "127.0.0.6"] * 5)])
        assert all(not c.is_closed for c in clients)
        for c in clients:
            c.close()
        await asyncio.gather(*[asyncio.wait_for(c.wait_closed(), 10) for c in clients])
        assert {c.close_reason for c in clients} == {"shutdown complete"}
        for host in ("127.0.0.5", "127.0.0.6"):
            c = await sctp.connect(host, port, timeout=10)
            await c.send(b"quit")
            stats = (await asyncio.wait_for(c.recv(), 10)).data.decode()
            assert "'associations_accepted': 6" in stats, stats
            assert "rx_ootb" not in stats and "rx_bad_vtag" not in stats, stats
            await asyncio.wait_for(c.wait_closed(), 10)
        for pr in procs:
            assert await asyncio.wait_for(pr.wait(), 10) == 0
    finally:
        for pr in procs:
            if pr.returncode is None:
                pr.kill()
                await pr.wait()
