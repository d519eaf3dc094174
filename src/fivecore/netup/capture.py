"""``--pcap FILE``: capture what the core's NFs put on the wire on this host, for Wireshark.

On one host every NF interface — N2 (NGAP over SCTP, raw IP), SBI (HTTP/2 over TCP), N4 (PFCP
over UDP), N3 (GTP-U over UDP) — crosses the loopback device, so one ``AF_PACKET`` socket on
``lo`` sees them all, as the kernel delivered them (real capture, not a re-encoding). IPv4
packets from or to one of the NF addresses are written, without the dummy Ethernet header, as
LINKTYPE_RAW frames through :class:`fivecore.obs.pcap.PcapWriter`. N1 (NAS) travels inside NGAP.
Open in Wireshark with "Decode As" TCP port 7777 = HTTP2 for the SBI.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from pathlib import Path

from fivecore.errors import FivecoreError
from fivecore.obs.pcap import PcapWriter

log = logging.getLogger("fivecore.capture")

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


# classic BPF (Documentation/networking/filter.rst): opcodes and the ancillary packet-type load
_LD_H_ABS, _LD_W_ABS, _JEQ_K, _RET_K = 0x28, 0x20, 0x15, 0x06
_SKF_AD_PKTTYPE = 0xFFFFF000 + 4
SO_ATTACH_FILTER = 26


def bpf_program(addresses: list[bytes]) -> list[tuple[int, int, int, int]]:
    """Accept received IPv4 frames from or to one of ``addresses``; drop everything else in the
    kernel, so a busy loopback (benchmarks next door) costs the NF process nothing."""
    n = len(addresses)
    drop, accept = 6 + 2 * n, 7 + 2 * n
    prog: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, _SKF_AD_PKTTYPE),
        (_JEQ_K, drop - 2, 0, PACKET_OUTGOING),
        (_LD_H_ABS, 0, 0, 12),
        (_JEQ_K, 0, drop - 4, 0x0800),
        (_LD_W_ABS, 0, 0, 26),
    ]
    for a in addresses:
        i = len(prog)
        prog.append((_JEQ_K, accept - i - 1, 0, int.from_bytes(a, "big")))
    prog.append((_LD_W_ABS, 0, 0, 30))
    for a in addresses:
        i = len(prog)
        prog.append((_JEQ_K, accept - i - 1, 0, int.from_bytes(a, "big")))
    prog.append((_RET_K, 0, 0, 0))
    prog.append((_RET_K, 0, 0, 0x40000))
    assert len(prog) == accept + 1
    return prog


def _attach_filter(sock: socket.socket, addresses: list[bytes]) -> None:
    import ctypes

    prog = bpf_program(addresses)
    buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *ins) for ins in prog))
    fprog = struct.pack("HL", len(prog), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # the kernel copies the program
    del buf


class LoopbackCapture:
    """A thread copying matching loopback packets into a pcap file until :meth:`stop`."""

    def __init__(self, path: Path, addresses: set[str], ifname: str = "lo") -> None:
        self.path = Path(path)
        self.addresses = {socket.inet_aton(a) for a in addresses if ":" not in a}
        self.ifname = ifname
        self.packets = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self._sock.bind((ifname, 0))
        except OSError as exc:
            raise FivecoreError(f"--pcap: cannot capture on {ifname}: {exc.strerror or exc}") from None
        if self.addresses:
            _attach_filter(self._sock, sorted(self.addresses))
        self._sock.settimeout(0.2)
        try:
            self._writer = PcapWriter(self.path)
        except OSError as exc:
            self._sock.close()
            raise FivecoreError(f"--pcap: cannot write {path}: {exc.strerror or exc}") from None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pcap-capture", daemon=True)
        self._thread.start()
        log.info("event=pcap_started file=%s interface=%s", self.path, self.ifname)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, addr = self._sock.recvfrom(65600)
            except TimeoutError:
                continue
            except OSError:
                return
            self._keep(frame, addr)
        # Packets the kernel queued before stop() were sent while the NFs ran: a thread starved
        # of the GIL by a busy process may be behind, so empty the queue rather than drop it
        # (for at most a few seconds, should other traffic keep coming).
        self._sock.settimeout(0)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                frame, addr = self._sock.recvfrom(65600)
            except OSError:  # BlockingIOError: the queue is empty
                return
            self._keep(frame, addr)

    def _keep(self, frame: bytes, addr: tuple) -> None:
        # loopback frames are seen twice (sent and received); keep the received copy
        if addr[2] == PACKET_OUTGOING or len(frame) < 34:
            return
        if struct.unpack_from("!H", frame, 12)[0] != 0x0800:
            return
        ip = frame[14:]
        if self.addresses and ip[12:16] not in self.addresses and ip[16:20] not in self.addresses:
            return
        self._writer.write_ip(ip, time.time())
        self.packets += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # the drain is bounded by the socket's receive buffer; never close under the thread
            self._thread.join(10)
        self._sock.close()
        self._writer.close()
        log.info("event=pcap_stopped file=%s packets=%d", self.path, self.packets)
