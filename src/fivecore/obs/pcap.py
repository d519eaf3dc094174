"""A pcap writer for fivecore's wire messages, so Wireshark and tshark can read them.

Frames are raw IPv4 (LINKTYPE_RAW): NGAP goes in an SCTP DATA chunk (RFC 9260 §3.3.1, PPID 60,
port 38412, CRC32c checksum per RFC 9260 Appendix A), PFCP and GTP-U in UDP (ports 8805 and
2152). Each SCTP association (address/port pair) gets its own verification tag and TSNs.
This is a file writer for debugging and tests, not a capture of real traffic::

    with PcapWriter("n2.pcap") as w:
        w.write_ngap(ngap_bytes, src="127.0.0.1", dst="127.0.0.5")
        w.write_pfcp(pfcp_bytes, src="127.0.0.4", dst="127.0.0.7")
"""

from __future__ import annotations

import ipaddress
import struct
import time
from pathlib import Path
from typing import BinaryIO

import crc32c

LINKTYPE_RAW = 101
NGAP_PPID = 60
NGAP_PORT = 38412
PFCP_PORT = 8805
GTPU_PORT = 2152


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class _Assoc:
    __slots__ = ("tag", "tsn", "ssn")

    def __init__(self, tag: int) -> None:
        self.tag = tag
        self.tsn = 1
        self.ssn: dict[int, int] = {}


class PcapWriter:
    """Write IPv4/SCTP and IPv4/UDP frames into a classic pcap file (microsecond timestamps)."""

    def __init__(self, path: str | Path | BinaryIO) -> None:
        if isinstance(path, (str, Path)):
            self._f: BinaryIO = open(path, "wb")  # noqa: SIM115 — closed in close()
            self._own = True
        else:
            self._f = path
            self._own = False
        self._f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
        self._ip_id = 0
        self._assoc: dict[tuple[str, str, int, int], _Assoc] = {}
        self.count = 0

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own and not self._f.closed:
            self._f.close()
        elif not self._own:
            self._f.flush()

    # -- frames ---------------------------------------------------------------------------
    def write_ip(self, packet: bytes, ts: float | None = None) -> None:
        """Append one raw IPv4 packet."""
        t = time.time() if ts is None else ts
        sec = int(t)
        usec = int((t - sec) * 1_000_000)
        self._f.write(struct.pack("<IIII", sec, usec, len(packet), len(packet)))
        self._f.write(packet)
        self.count += 1

    def _ipv4(self, proto: int, src: str, dst: str, payload: bytes) -> bytes:
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        s = ipaddress.IPv4Address(src).packed
        d = ipaddress.IPv4Address(dst).packed
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), self._ip_id, 0x4000, 64,
                          proto, 0, s, d)
        hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
        return hdr + payload

    def write_udp(self, data: bytes, src: str, dst: str, sport: int, dport: int,
                  ts: float | None = None) -> None:
        """IPv4/UDP with a correct UDP checksum (RFC 768)."""
        ln = 8 + len(data)
        pseudo = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed + \
            struct.pack("!BBH", 0, 17, ln)
        udp = struct.pack("!HHHH", sport, dport, ln, 0) + data
        c = _csum(pseudo + udp) or 0xFFFF
        udp = udp[:6] + struct.pack("!H", c) + udp[8:]
        self.write_ip(self._ipv4(17, src, dst, udp), ts)

    def write_sctp(self, data: bytes, src: str, dst: str, sport: int, dport: int, ppid: int,
                   stream: int = 0, ts: float | None = None) -> None:
        """IPv4/SCTP with one DATA chunk (B and E set) and a CRC32c checksum (RFC 9260)."""
        key = (src, dst, sport, dport)
        st = self._assoc.get(key)
        if st is None:
            # Each direction carries the receiver's own verification tag (RFC 9260 §8.5).
            tag = 0x10000000 | (crc32c.crc32c(f"{src}:{sport}>{dst}:{dport}".encode()) & 0x0FFFFFFF)
            st = self._assoc[key] = _Assoc(tag)
        tsn = st.tsn
        st.tsn = (tsn + 1) & 0xFFFFFFFF
        ssn = st.ssn.get(stream, 0)
        st.ssn[stream] = (ssn + 1) & 0xFFFF
        tag = st.tag
        chunk = struct.pack("!BBHIHHI", 0, 0x03, 16 + len(data), tsn, stream, ssn, ppid) + data
        chunk += b"\0" * (-len(chunk) % 4)
        pkt = bytearray(struct.pack("!HHII", sport, dport, tag, 0) + chunk)
        # RFC 9260 Appendix A: the CRC32c goes into the header least significant byte first.
        struct.pack_into("<I", pkt, 8, crc32c.crc32c(bytes(pkt)))
        self.write_ip(self._ipv4(132, src, dst, bytes(pkt)), ts)

    # -- protocols ------------------------------------------------------------------------
    def write_ngap(self, data: bytes, src: str = "127.0.0.1", dst: str = "127.0.0.5",
                   sport: int = NGAP_PORT, dport: int = NGAP_PORT, stream: int = 0,
                   ts: float | None = None) -> None:
        """An NGAP PDU over SCTP (TS 38.412 §7: PPID 60, port 38412)."""
        self.write_sctp(data, src, dst, sport, dport, NGAP_PPID, stream, ts)

    def write_pfcp(self, data: bytes, src: str = "127.0.0.4", dst: str = "127.0.0.7",
                   sport: int = PFCP_PORT, dport: int = PFCP_PORT, ts: float | None = None) -> None:
        """A PFCP message over UDP port 8805 (TS 29.244 §4.2)."""
        self.write_udp(data, src, dst, sport, dport, ts)

    def write_gtpu(self, data: bytes, src: str = "127.0.0.7", dst: str = "127.0.0.1",
                   sport: int = GTPU_PORT, dport: int = GTPU_PORT, ts: float | None = None) -> None:
        """A GTP-U message over UDP port 2152 (TS 29.281 §4.4.2)."""
        self.write_udp(data, src, dst, sport, dport, ts)
