"""ctypes bindings to usrsctp (libusrsctp2), the independent SCTP stack our interop e2e tests
talk to, in raw-IP mode (no UDP encapsulation, RFC 6951 not used).

Used by the usrsctp peer programs the e2e tests start as subprocesses (``test_sctp_interop.py``
and ``test_sctp_multihoming.py`` run as scripts), so that usrsctp's threads and raw socket stay
out of the test process. Not a test module.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct
import time

IPPROTO_SCTP = 132
SCTP_RECVRCVINFO = 0x1F  # usrsctp.h: deliver struct sctp_rcvinfo with each message
SCTP_BINDX_ADD_ADDR = 0x00008001
MSG_NOTIFICATION = 0x2000
MSG_EOR = 0x80


def available() -> bool:
    """Whether libusrsctp is installed (the tests that need it skip otherwise)."""
    return ctypes.util.find_library("usrsctp") is not None


class SockaddrIn(ctypes.Structure):
    """struct sockaddr_in as usrsctp takes it (Linux layout)."""

    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_uint16),
                ("addr", ctypes.c_uint32), ("zero", ctypes.c_char * 8)]


def sockaddr(host: str, port: int) -> SockaddrIn:
    return SockaddrIn(socket.AF_INET, socket.htons(port), struct.unpack("=I", socket.inet_aton(host))[0], b"")


class Usrsctp:
    """The library, started in raw-IP mode; sockets are the opaque pointers usrsctp returns.

    It never ABORTs packets of other stacks (blackhole 2: our stack shares the host) and
    computes a real CRC32c on loopback too, so tshark can check every packet."""

    def __init__(self, rbuf_size: int = 1 << 17) -> None:
        lib = ctypes.CDLL(ctypes.util.find_library("usrsctp") or "libusrsctp.so.2", use_errno=True)
        vp, u32 = ctypes.c_void_p, ctypes.c_uint32
        lib.usrsctp_socket.restype = vp
        lib.usrsctp_socket.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, vp, vp, u32, vp]
        lib.usrsctp_accept.restype = vp
        lib.usrsctp_accept.argtypes = [vp, vp, vp]
        lib.usrsctp_bind.argtypes = lib.usrsctp_connect.argtypes = [vp, vp, u32]
        lib.usrsctp_bindx.argtypes = [vp, vp, ctypes.c_int, ctypes.c_int]
        lib.usrsctp_listen.argtypes = [vp, ctypes.c_int]
        lib.usrsctp_close.argtypes = [vp]
        lib.usrsctp_shutdown.argtypes = [vp, ctypes.c_int]
        lib.usrsctp_setsockopt.argtypes = [vp, ctypes.c_int, ctypes.c_int, vp, u32]
        lib.usrsctp_sendv.restype = ctypes.c_ssize_t
        lib.usrsctp_sendv.argtypes = [vp, vp, ctypes.c_size_t, vp, ctypes.c_int, vp, u32, ctypes.c_uint,
                                      ctypes.c_int]
        lib.usrsctp_recvv.restype = ctypes.c_ssize_t
        lib.usrsctp_recvv.argtypes = [vp, vp, ctypes.c_size_t, vp, ctypes.POINTER(u32), vp,
                                      ctypes.POINTER(u32), ctypes.POINTER(ctypes.c_uint),
                                      ctypes.POINTER(ctypes.c_int)]
        lib.usrsctp_init(0, None, None)  # raw IP, no UDP encapsulation
        lib.usrsctp_sysctl_set_sctp_blackhole(2)  # never ABORT other stacks' packets
        lib.usrsctp_sysctl_set_sctp_no_csum_on_loopback(0)  # real CRC32c on loopback too
        self.lib = lib
        self._rbuf = ctypes.create_string_buffer(rbuf_size)

    def socket(self) -> int:
        """A one-to-one (SOCK_STREAM) SCTP socket that reports each message's stream and PPID."""
        s = self.lib.usrsctp_socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP, None, None, 0, None)
        one = ctypes.c_int(1)
        self.lib.usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, ctypes.byref(one), 4)
        return s

    def bind(self, s: int, host: str, port: int) -> int:
        a = sockaddr(host, port)
        return int(self.lib.usrsctp_bind(s, ctypes.byref(a), ctypes.sizeof(a)))

    def bindx(self, s: int, hosts: list[str]) -> int:
        """Bind to several local addresses (RFC 6458 §9.1 sctp_bindx, SCTP_BINDX_ADD_ADDR)."""
        arr = (SockaddrIn * len(hosts))(*[sockaddr(h, 0) for h in hosts])
        return int(self.lib.usrsctp_bindx(s, arr, len(hosts), SCTP_BINDX_ADD_ADDR))

    def listen(self, s: int, backlog: int = 1) -> int:
        return int(self.lib.usrsctp_listen(s, backlog))

    def accept(self, s: int) -> int:
        return self.lib.usrsctp_accept(s, None, None)

    def connect(self, s: int, host: str, port: int) -> int:
        a = sockaddr(host, port)
        return int(self.lib.usrsctp_connect(s, ctypes.byref(a), ctypes.sizeof(a)))

    def send(self, s: int, data: bytes, stream: int, ppid: int) -> int:
        """One message on ``stream`` with ``ppid``; the number of bytes usrsctp took."""
        info = struct.pack("=HHIII", stream, 0, socket.htonl(ppid), 0, 0)  # struct sctp_sndinfo
        return int(self.lib.usrsctp_sendv(s, data, len(data), None, 0, info, len(info), 1, 0))

    def recv(self, s: int) -> tuple[int, int, bytes] | None:
        """The next whole message as (stream, ppid, data), notifications skipped; None at EOF
        or on error."""
        u32 = ctypes.c_uint32
        acc = b""
        while True:
            frm = SockaddrIn()
            fl, il, it, flags = u32(ctypes.sizeof(frm)), u32(64), ctypes.c_uint(0), ctypes.c_int(0)
            info = ctypes.create_string_buffer(64)
            n = self.lib.usrsctp_recvv(s, self._rbuf, len(self._rbuf), ctypes.byref(frm), ctypes.byref(fl), info,
                                       ctypes.byref(il), ctypes.byref(it), ctypes.byref(flags))
            if n <= 0:
                return None
            if flags.value & MSG_NOTIFICATION:
                continue
            acc += self._rbuf.raw[:n]
            if flags.value & MSG_EOR:
                sid, _ssn, _fl, ppid = struct.unpack_from("=HHHxxI", info.raw)  # struct sctp_rcvinfo
                return sid, socket.ntohl(ppid), acc

    def shutdown(self, s: int) -> None:
        self.lib.usrsctp_shutdown(s, 1)  # SHUT_WR: SCTP SHUTDOWN

    def close(self, s: int) -> None:
        self.lib.usrsctp_close(s)

    def finish(self) -> None:
        """Stop usrsctp's threads; it refuses while associations still wind down, so retry (5 s)."""
        for _ in range(50):
            if self.lib.usrsctp_finish() == 0:
                break
            time.sleep(0.1)

    @staticmethod
    def errno() -> int:
        return ctypes.get_errno()
