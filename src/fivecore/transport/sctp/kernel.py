"""Kernel backend: Linux SCTP one-to-one sockets (RFC 6458 §3), PPID/stream via SCTP_SNDRCV.

Used when ``socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)`` works. Kept small on purpose: the
kernel does the protocol; we only map its socket API onto :class:`SctpAssociation`.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from . import packet as p
from .api import Message, SctpAssociation, SctpConnectError, SctpEvent, SctpServer, log
from .config import SctpConfig

IPPROTO_SCTP = 132
SCTP_RTOINFO = 0
SCTP_SNDRCV = 1  # cmsg type and sockopt level value (linux/sctp.h)
SCTP_INITMSG = 2
SCTP_NODELAY = 3
SCTP_EVENTS = 11
SCTP_UNORDERED = 1
MSG_NOTIFICATION = 0x8000
SCTP_ASSOC_CHANGE = 0x8001
_SNDRCV = struct.Struct("=HHHxxIIIIIi")  # struct sctp_sndrcvinfo
_ASSOC_STATES = {0: "up", 1: "lost", 2: "restarted", 3: "closed", 4: "lost"}


def available() -> bool:
    """True when the kernel provides SCTP sockets."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    except OSError:
        return False
    s.close()
    return True


def _configure(sock: socket.socket, cfg: SctpConfig) -> None:
    """RFC 6458 §8.1.2 SCTP_INITMSG, §8.1.1 SCTP_RTOINFO, §8.1.5 SCTP_NODELAY, §6.2.1 events."""
    sock.setsockopt(IPPROTO_SCTP, SCTP_INITMSG, struct.pack(
        "=HHHH", cfg.out_streams, cfg.in_streams, min(cfg.max_init_retransmits, 0xFFFF),
        min(int(cfg.rto_max * 1000), 0xFFFF)))
    sock.setsockopt(IPPROTO_SCTP, SCTP_RTOINFO, struct.pack(
        "=iIII", 0, int(cfg.rto_initial * 1000), int(cfg.rto_max * 1000), int(cfg.rto_min * 1000)))
    sock.setsockopt(IPPROTO_SCTP, SCTP_NODELAY, 1)
    # data_io, association, address, send_failure, peer_error, shutdown
    sock.setsockopt(IPPROTO_SCTP, SCTP_EVENTS, bytes([1, 1, 0, 0, 0, 1]))
    sock.setblocking(False)


class KernelAssociation(SctpAssociation):
    backend = "kernel"

    def __init__(self, sock: socket.socket, cfg: SctpConfig) -> None:
        super().__init__(sock.getsockname()[:2], sock.getpeername()[:2])
        self._sock = sock
        self._cfg = cfg
        self._partial = bytearray()
        self._out: list[tuple[bytes, list[tuple[int, int, bytes]], int]] = []
        self.out_streams = cfg.out_streams
        self.in_streams = cfg.in_streams
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def send_nowait(self, data: bytes, stream: int = 0, ppid: int = 60, unordered: bool = False) -> None:
        if self._closed:
            raise p.SctpError(f"association closed: {self._close_reason}")
        info = _SNDRCV.pack(stream, 0, SCTP_UNORDERED if unordered else 0, socket.htonl(ppid), 0, 0, 0, 0, 0)
        self._out.append((bytes(data), [(IPPROTO_SCTP, SCTP_SNDRCV, info)], 0))
        self._flush()

    def _send_blocked(self) -> bool:
        return len(self._out) > 64

    def _flush(self) -> None:
        while self._out:
            data, anc, _ = self._out[0]
            try:
                self._sock.sendmsg([data], anc)
            except BlockingIOError:
                self._loop.add_writer(self._sock.fileno(), self._on_writable)
                return
            except OSError as e:
                self._fail(f"send failed: {e.strerror}")
                return
            self._out.pop(0)
        self._wake_writers()

    def _on_writable(self) -> None:
        self._loop.remove_writer(self._sock.fileno())
        self._flush()

    def _on_readable(self) -> None:
        for _ in range(64):
            try:
                data, anc, flags, _addr = self._sock.recvmsg(65536, socket.CMSG_SPACE(_SNDRCV.size))
            except BlockingIOError:
                return
            except OSError as e:
                self._fail(f"receive failed: {e.strerror}")
                return
            if not data and not flags:
                self._fail("peer closed", kind="closed")
                return
            if flags & MSG_NOTIFICATION:
                self._on_notification(data)
                continue
            self._partial += data
            if not flags & socket.MSG_EOR:
                continue
            stream, ppid = 0, 0
            for level, typ, val in anc:
                if level == IPPROTO_SCTP and typ == SCTP_SNDRCV and len(val) >= _SNDRCV.size:
                    f = _SNDRCV.unpack_from(val)
                    stream, ppid = f[0], socket.ntohl(f[3])
            msg = bytes(self._partial)
            self._partial.clear()
            self._deliver(Message(stream, ppid, msg))

    def _on_notification(self, data: bytes) -> None:
        if len(data) >= 12 and struct.unpack_from("=H", data)[0] == SCTP_ASSOC_CHANGE:
            state, _err, out_s, in_s = struct.unpack_from("=HHHH", data, 8)
            kind = _ASSOC_STATES.get(state, "")
            if kind in ("up", "restarted"):
                self.out_streams, self.in_streams = out_s, in_s
                if kind == "restarted":  # "up" was emitted when connect/accept returned
                    self._emit(SctpEvent(kind))
            elif kind:
                self._fail(kind, kind=kind)

    def _fail(self, reason: str, kind: str = "lost") -> None:
        fd = self._sock.fileno()
        if fd >= 0:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
        self._sock.close()
        self._set_closed(reason, kind)

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._sock.shutdown(socket.SHUT_WR)  # SCTP SHUTDOWN after queued data
        except OSError:
            self._fail("closed", kind="closed")

    def abort(self, reason: str = "") -> None:
        if self._closed:
            return
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._fail(f"aborted locally: {reason}" if reason else "aborted locally")


class KernelServer(SctpServer):
    backend = "kernel"

    def __init__(self, sock: socket.socket, cfg: SctpConfig, on_association: Any) -> None:
        super().__init__(sock.getsockname()[:2], on_association)
        self._sock = sock
        self._cfg = cfg
        self._task = asyncio.ensure_future(self._accept_loop())

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(self._sock)
            _configure(conn, self._cfg)
            a = KernelAssociation(conn, self._cfg)
            a._emit(SctpEvent("up"))
            self._incoming(a)

    def _close_impl(self) -> None:
        self._task.cancel()
        self._sock.close()


async def listen(
    host: str, port: int, cfg: SctpConfig,
    on_association: Callable[[SctpAssociation], Awaitable[Any] | Any] | None = None,
) -> KernelServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    _configure(sock, cfg)
    sock.bind((host or "0.0.0.0", port))
    sock.listen(128)
    log.info("sctp listening backend=kernel addr=%s:%d", *sock.getsockname()[:2])
    return KernelServer(sock, cfg, on_association)


async def connect(
    host: str, port: int, cfg: SctpConfig, local_host: str | None = None, local_port: int = 0,
    timeout: float | None = None,
) -> KernelAssociation:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    _configure(sock, cfg)
    if local_host or local_port:
        sock.bind((local_host or "0.0.0.0", local_port))
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (host, port)), timeout)
    except TimeoutError:
        sock.close()
        raise SctpConnectError(f"SCTP connect to {host}:{port} timed out after {timeout:g} s") from None
    except OSError as e:
        sock.close()
        raise SctpConnectError(f"SCTP connect to {host}:{port} failed: {e.strerror}") from None
    a = KernelAssociation(sock, cfg)
    a._emit(SctpEvent("up"))
    return a
