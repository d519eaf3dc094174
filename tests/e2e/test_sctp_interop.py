"""Interop with an independent SCTP stack (usrsctp via ctypes, raw-IP mode) in both
directions, checked on the wire by tshark with CRC32c validation on.

Run as a script, this file is the usrsctp peer: ``python test_sctp_interop.py server|client HOST PORT``.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

SIZES = [1, 100, 1400, 1452, 1453, 5000, 65000]
STREAMS = 3

# --------------------------------------------------------------------------------------
# The usrsctp peer (runs in a subprocess so usrsctp's threads and raw socket stay apart).
# --------------------------------------------------------------------------------------


def _usrsctp_peer(mode: str, host: str, port: int) -> None:
    lib = ctypes.CDLL(ctypes.util.find_library("usrsctp") or "libusrsctp.so.2", use_errno=True)

    class SockaddrIn(ctypes.Structure):
        _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_uint16),
                    ("addr", ctypes.c_uint32), ("zero", ctypes.c_char * 8)]

    vp, u32 = ctypes.c_void_p, ctypes.c_uint32
    lib.usrsctp_socket.restype = vp
    lib.usrsctp_socket.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, vp, vp, u32, vp]
    lib.usrsctp_accept.restype = vp
    lib.usrsctp_accept.argtypes = [vp, vp, vp]
    lib.usrsctp_bind.argtypes = lib.usrsctp_connect.argtypes = [vp, vp, u32]
    lib.usrsctp_listen.argtypes = [vp, ctypes.c_int]
    lib.usrsctp_close.argtypes = [vp]
    lib.usrsctp_shutdown.argtypes = [vp, ctypes.c_int]
    lib.usrsctp_setsockopt.argtypes = [vp, ctypes.c_int, ctypes.c_int, vp, u32]
    lib.usrsctp_sendv.restype = ctypes.c_ssize_t
    lib.usrsctp_sendv.argtypes = [vp, vp, ctypes.c_size_t, vp, ctypes.c_int, vp, u32, ctypes.c_uint, ctypes.c_int]
    lib.usrsctp_recvv.restype = ctypes.c_ssize_t
    lib.usrsctp_recvv.argtypes = [vp, vp, ctypes.c_size_t, vp, ctypes.POINTER(u32), vp,
                                  ctypes.POINTER(u32), ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_int)]
    lib.usrsctp_init(0, None, None)  # raw IP, no UDP encapsulation
    lib.usrsctp_sysctl_set_sctp_blackhole(2)  # never ABORT other stacks' packets
    lib.usrsctp_sysctl_set_sctp_no_csum_on_loopback(0)  # real CRC32c on loopback too

    def sockaddr(h: str, pt: int) -> SockaddrIn:
        return SockaddrIn(socket.AF_INET, socket.htons(pt), struct.unpack("=I", socket.inet_aton(h))[0], b"")

    def mksock() -> int:
        s = lib.usrsctp_socket(socket.AF_INET, socket.SOCK_STREAM, 132, None, None, 0, None)
        one = ctypes.c_int(1)
        lib.usrsctp_setsockopt(s, 132, 0x1F, ctypes.byref(one), 4)  # SCTP_RECVRCVINFO
        return s

    def send(s: int, data: bytes, stream: int, ppid: int) -> None:
        info = struct.pack("=HHIII", stream, 0, socket.htonl(ppid), 0, 0)  # struct sctp_sndinfo
        n = lib.usrsctp_sendv(s, data, len(data), None, 0, info, len(info), 1, 0)
        if n != len(data):
            raise OSError(ctypes.get_errno(), "usrsctp_sendv")

    rbuf = ctypes.create_string_buffer(1 << 17)

    def recv(s: int) -> tuple[int, int, bytes] | None:
        acc = b""
        while True:
            frm = SockaddrIn()
            fl, il, it, flags = u32(ctypes.sizeof(frm)), u32(64), ctypes.c_uint(0), ctypes.c_int(0)
            info = ctypes.create_string_buffer(64)
            n = lib.usrsctp_recvv(s, rbuf, len(rbuf), ctypes.byref(frm), ctypes.byref(fl), info,
                                  ctypes.byref(il), ctypes.byref(it), ctypes.byref(flags))
            if n <= 0:
                return None
            if flags.value & 0x2000:  # MSG_NOTIFICATION
                continue
            acc += rbuf.raw[:n]
            if flags.value & 0x80:  # MSG_EOR
                sid, _ssn, _fl, ppid = struct.unpack_from("=HHHxxI", info.raw)
                return sid, socket.ntohl(ppid), acc

    result: dict[str, object] = {}
    if mode == "server":
        ls = mksock()
        a = sockaddr(host, port)
        if lib.usrsctp_bind(ls, ctypes.byref(a), ctypes.sizeof(a)) or lib.usrsctp_listen(ls, 1):
            raise OSError(ctypes.get_errno(), "usrsctp bind/listen")
        print("READY", flush=True)
        s = lib.usrsctp_accept(ls, None, None)
        n = 0
        while (m := recv(s)) is not None:
            send(s, m[2], m[0], m[1])
            n += 1
        result = {"echoed": n}
        lib.usrsctp_close(s)
        lib.usrsctp_close(ls)
    else:
        s = mksock()
        a = sockaddr(host, port)
        if lib.usrsctp_connect(s, ctypes.byref(a), ctypes.sizeof(a)):
            raise OSError(ctypes.get_errno(), "usrsctp_connect")
        ok = 0
        for i, size in enumerate(SIZES * 2):
            d = bytes([i % 251]) * size
            send(s, d, i % STREAMS, 60)
            if recv(s) != (i % STREAMS, 60, d):
                break
            ok += 1
        lib.usrsctp_shutdown(s, 1)  # SHUT_WR: SCTP SHUTDOWN
        result = {"ok": ok, "eof": recv(s) is None}
        lib.usrsctp_close(s)
    print(json.dumps(result), flush=True)
    for _ in range(50):
        if lib.usrsctp_finish() == 0:
            break
        time.sleep(0.1)


if __name__ == "__main__":
    _usrsctp_peer(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    sys.exit(0)

# --------------------------------------------------------------------------------------
# The tests.
# --------------------------------------------------------------------------------------

from fivecore.transport import sctp  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP and usrsctp raw mode need root"),
    pytest.mark.skipif(ctypes.util.find_library("usrsctp") is None, reason="libusrsctp2 not installed"),
]

HERE = Path(__file__).resolve()
TSHARK_CRC = "sctp.checksum:CRC 32c"  # `tshark -G defaultprefs`: None, Adler 32, CRC 32c, Automatic


def _free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Capture:
    """dumpcap on lo for one SCTP port: an independent record of what went on the wire."""

    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            ["dumpcap", "-q", "-i", "lo", "-f", f"sctp port {port}", "-w", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 15
        for line in self.proc.stderr:
            if line.startswith("File:") or time.monotonic() > deadline:
                break
        time.sleep(0.3)

    def stop(self) -> None:
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait(10)


def tshark_check(path: Path) -> dict[str, int]:
    """Decode with CRC32c validation on: every checksum good, nothing malformed, no errors."""
    # Payloads are test bytes, not NGAP/XnAP: check SCTP only, do not dissect the ULP.
    base = ["tshark", "-n", "-r", str(path), "-o", TSHARK_CRC, "-o", "sctp.ulp_dissection:FALSE"]
    st = subprocess.run(base + ["-T", "fields", "-e", "sctp.checksum.status"],
                        capture_output=True, text=True, timeout=60, check=True).stdout.split()
    bad = subprocess.run(base + ["-Y", "_ws.malformed || _ws.expert.severity >= 8388608 || sctp.checksum.status != 1"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    chunks = subprocess.run(base + ["-T", "fields", "-e", "sctp.chunk_type"],
                            capture_output=True, text=True, timeout=60, check=True).stdout.split()
    ppids = subprocess.run(base + ["-T", "fields", "-e", "sctp.data_payload_proto_id"],
                           capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert bad == "", bad
    kinds: dict[str, int] = {}
    for line in chunks:
        for c in line.split(","):
            kinds[c] = kinds.get(c, 0) + 1
    for line in ppids:
        for pp in line.split(","):
            kinds[f"ppid_{pp}"] = kinds.get(f"ppid_{pp}", 0) + 1
    return {"packets": len(st), "good": st.count("1"), **{f"chunk_{k}": v for k, v in kinds.items()}}


needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None or shutil.which("dumpcap") is None,
                                  reason="tshark/dumpcap not installed")


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
