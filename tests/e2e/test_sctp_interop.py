"""Interop with an independent SCTP stack (usrsctp via ctypes, raw-IP mode) in both
directions, checked on the wire by tshark with CRC32c validation on.

Run as a script, this file is the usrsctp peer: ``python test_sctp_interop.py server|client HOST PORT``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import sys
from pathlib import Path

import pytest
from usrsctp import Usrsctp
from usrsctp import available as usrsctp_available

SIZES = [1, 100, 1400, 1452, 1453, 5000, 65000]
STREAMS = 3

# --------------------------------------------------------------------------------------
# The usrsctp peer (runs in a subprocess so usrsctp's threads and raw socket stay apart).
# --------------------------------------------------------------------------------------


def _usrsctp_peer(mode: str, host: str, port: int) -> None:
    us = Usrsctp()

    def send(s: int, data: bytes, stream: int, ppid: int) -> None:
        if us.send(s, data, stream, ppid) != len(data):
            raise OSError(us.errno(), "usrsctp_sendv")

    result: dict[str, object] = {}
    if mode == "server":
        ls = us.socket()
        if us.bind(ls, host, port) or us.listen(ls, 1):
            raise OSError(us.errno(), "usrsctp bind/listen")
        print("READY", flush=True)
        s = us.accept(ls)
        n = 0
        while (m := us.recv(s)) is not None:
            send(s, m[2], m[0], m[1])
            n += 1
        result = {"echoed": n}
        us.close(s)
        us.close(ls)
    else:
        s = us.socket()
        if us.connect(s, host, port):
            raise OSError(us.errno(), "usrsctp_connect")
        ok = 0
        for i, size in enumerate(SIZES * 2):
            d = bytes([i % 251]) * size
            send(s, d, i % STREAMS, 60)
            if us.recv(s) != (i % STREAMS, 60, d):
                break
            ok += 1
        us.shutdown(s)  # SCTP SHUTDOWN
        result = {"ok": ok, "eof": us.recv(s) is None}
        us.close(s)
    print(json.dumps(result), flush=True)
    us.finish()


if __name__ == "__main__":
    _usrsctp_peer(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    sys.exit(0)

# --------------------------------------------------------------------------------------
# The tests.
# --------------------------------------------------------------------------------------

from sctpcap import TSHARK_CRC as TSHARK_CRC  # noqa: E402  (re-exported: it was defined here)
from sctpcap import Capture, needs_tshark, tshark_check  # noqa: E402
from sctpcap import free_port as _free_port  # noqa: E402

from fivecore.transport import sctp  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP and usrsctp raw mode need root"),
    pytest.mark.skipif(not usrsctp_available(), reason="libusrsctp2 not installed"),
]

HERE = Path(__file__).resolve()


@needs_tshark
async def test_usrsctp_client_to_our_server(tmp_path: Path) -> None:
    port = _free_port()
    cap = Capture(tmp_path / "usrsctp_to_us.pcapng", port)
    echoed: list[int] = []
    closed = asyncio.Event()

    async def echo(assoc: sctp.SctpAssociation) -> None:
        async for stream, ppid, data in assoc:
            await assoc.send(data, stream=stream, ppid=ppid)
            echoed.append(len(data))
        closed.set()

    srv = await sctp.listen("127.0.0.1", port, on_association=echo)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE), "client", "127.0.0.1", str(port), stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        await asyncio.wait_for(closed.wait(), 10)
    finally:
        srv.close(abort_associations=True)
        cap.stop()
    assert proc.returncode == 0
    assert json.loads(out.decode().strip().splitlines()[-1]) == {"ok": 2 * len(SIZES), "eof": True}
    assert echoed == SIZES * 2
    res = tshark_check(cap.path)
    assert res["packets"] > 20 and res["good"] == res["packets"]
    for chunk in ("0", "1", "2", "3", "10", "11", "7", "8", "14"):  # DATA..SHUTDOWN COMPLETE
        assert res.get(f"chunk_{chunk}", 0) > 0, (chunk, res)


@needs_tshark
async def test_our_client_to_usrsctp_server(tmp_path: Path) -> None:
    port = _free_port()
    cap = Capture(tmp_path / "us_to_usrsctp.pcapng", port)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE), "server", "127.0.0.1", str(port), stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.strip() == b"READY"
        c = await sctp.connect("127.0.0.1", port)
        for i, size in enumerate(SIZES * 2):
            d = bytes([i % 251]) * size
            await c.send(d, stream=i % STREAMS)
            assert await asyncio.wait_for(c.recv(), 10) == (i % STREAMS, 60, d)
        c.close()
        await asyncio.wait_for(c.wait_closed(), 10)
        assert c.close_reason == "shutdown complete"
        out = await asyncio.wait_for(proc.stdout.read(), 20)
        await asyncio.wait_for(proc.wait(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        cap.stop()
    assert json.loads(out.decode().strip().splitlines()[-1]) == {"echoed": 2 * len(SIZES)}
    res = tshark_check(cap.path)
    assert res["packets"] > 20 and res["good"] == res["packets"]
    # Both stacks put PPID 60 (NGAP, TS 38.412 §7) on every DATA chunk.
    assert {k for k in res if k.startswith("chunk_ppid_")} == {"chunk_ppid_60"}, res


@needs_tshark
def test_tshark_check_catches_a_bad_checksum(tmp_path: Path) -> None:
    """The wire check itself can fail: a packet with a wrong CRC32c is reported."""
    from fivecore.transport.sctp import packet as p

    pkt = bytearray(p.build_packet(1, 2, 3, [p.encode_chunk(p.HEARTBEAT, 0, p.encode_param(1, b"x" * 8))]))
    pkt[8] ^= 0xFF
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(pkt), 0, 0, 64, 132, 0,
                     socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
    frame = ip + bytes(pkt)
    path = tmp_path / "bad.pcap"
    # LINKTYPE_RAW (101): IP packets without a link header.
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
                     + struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)
    with pytest.raises(AssertionError):
        tshark_check(path)
