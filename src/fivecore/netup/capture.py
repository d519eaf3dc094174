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
                break
            # loopback frames are seen twice (sent and received); keep the received copy
            if addr[2] == PACKET_OUTGOING or len(frame) < 34:
                continue
            if struct.unpack_from("!H", frame, 12)[0] != 0x0800:
                continue
            ip = frame[14:]
            if self.addresses and ip[12:16] not in self.addresses and ip[16:20] not in self.addresses:
                continue
            self._writer.write_ip(ip, time.time())
            self.packets += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self._sock.close()
        self._writer.close()
        log.info("event=pcap_stopped file=%s packets=%d", self.path, self.packets)
