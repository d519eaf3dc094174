"""An IPv4 ICMP Echo Request as a UE would send it uplink (e2e helper): for tests that push
packets through a GTP-U tunnel themselves rather than through a UE namespace."""

from __future__ import annotations

import ipaddress
import struct


def checksum(b: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(src: str, dst: str, ident: int, seq: int, payload: bytes = b"fivecore-e2e") -> bytes:
    """RFC 791 header + RFC 792 Echo Request from ``src`` to ``dst``."""
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), ident, 0, 64, 1, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + icmp
