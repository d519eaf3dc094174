"""EAP-AKA' packets (RFC 9048/5448 over RFC 4187 formats, RFC 3748 framing), sans-I/O.

Only what the server side of TS 33.501 §6.1.3.1 needs: build AKA'-Challenge, parse the peer's
AKA'-Challenge response / Synchronization-Failure / Authentication-Reject / Client-Error, and
AT_MAC (HMAC-SHA-256-128 keyed with K_aut, RFC 5448 §3.4.1). Malformed packets raise
:class:`EapError`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

CODE_REQUEST, CODE_RESPONSE, CODE_SUCCESS, CODE_FAILURE = 1, 2, 3, 4
TYPE_AKA_PRIME = 50
SUB_CHALLENGE, SUB_AUTH_REJECT, SUB_SYNC_FAILURE, SUB_CLIENT_ERROR = 1, 2, 4, 14
AT_RAND, AT_AUTN, AT_RES, AT_AUTS, AT_MAC, AT_KDF_INPUT, AT_KDF = 1, 2, 3, 4, 11, 23, 24
AT_CLIENT_ERROR_CODE = 22


class EapError(ValueError):
    """A malformed or unexpected EAP packet."""


@dataclass
class EapAkaMessage:
    code: int
    identifier: int
    subtype: int = 0
    attrs: dict[int, bytes] = field(default_factory=dict)
    raw: bytes = b""
    mac_offset: int = -1


def _attr(t: int, value: bytes) -> bytes:
    total = 2 + len(value)
    pad = (-total) % 4
    return bytes((t, (total + pad) // 4)) + value + b"\x00" * pad


def build_challenge(identifier: int, rand: bytes, autn: bytes, network_name: str, k_aut: bytes) -> bytes:
    """EAP-Request/AKA'-Challenge with AT_RAND, AT_AUTN, AT_KDF(1), AT_KDF_INPUT, AT_MAC."""
    name = network_name.encode()
    attrs = (
        _attr(AT_RAND, b"\x00\x00" + rand)
        + _attr(AT_AUTN, b"\x00\x00" + autn)
        + _attr(AT_KDF, struct.pack("!H", 1))
        + _attr(AT_KDF_INPUT, struct.pack("!H", len(name)) + name)
    )
    mac_attr = _attr(AT_MAC, b"\x00\x00" + b"\x00" * 16)
    body = bytes((TYPE_AKA_PRIME, SUB_CHALLENGE, 0, 0)) + attrs + mac_attr
    pkt = bytearray(struct.pack("!BBH", CODE_REQUEST, identifier & 0xFF, 4 + len(body)) + body)
    mac = hmac.new(k_aut, bytes(pkt), hashlib.sha256).digest()[:16]
    pkt[-16:] = mac
    return bytes(pkt)


def build_result(code: int, identifier: int) -> bytes:
    """EAP-Success or EAP-Failure (RFC 3748 §4.2)."""
    return struct.pack("!BBH", code, identifier & 0xFF, 4)


def parse(pkt: bytes) -> EapAkaMessage:
    """Parse an EAP packet; for Type 50 (AKA') also its subtype and attributes."""
    if len(pkt) < 4:
        raise EapError("EAP packet shorter than its header")
    code, ident, length = struct.unpack("!BBH", pkt[:4])
    if length != len(pkt):
        raise EapError(f"EAP length {length} != packet size {len(pkt)}")
    msg = EapAkaMessage(code, ident, raw=pkt)
    if code in (CODE_SUCCESS, CODE_FAILURE):
        return msg
    if code not in (CODE_REQUEST, CODE_RESPONSE):
        raise EapError(f"unknown EAP code {code}")
    if len(pkt) < 8:
        raise EapError("EAP-AKA' packet too short")
    if pkt[4] != TYPE_AKA_PRIME:
        raise EapError(f"EAP type {pkt[4]} is not AKA' (50)")
    msg.subtype = pkt[5]
    off = 8
    while off < len(pkt):
        if off + 2 > len(pkt):
            raise EapError("truncated attribute header")
        t, ln = pkt[off], pkt[off + 1] * 4
        if ln == 0 or off + ln > len(pkt):
            raise EapError(f"attribute {t} has a bad length")
        if t == AT_MAC:
            if ln != 20:
                raise EapError("AT_MAC must be 20 octets")
            msg.mac_offset = off + 4
        if t in msg.attrs:
            raise EapError(f"attribute {t} repeated")
        msg.attrs[t] = pkt[off + 2 : off + ln]
        off += ln
    return msg


def verify_mac(msg: EapAkaMessage, k_aut: bytes) -> bool:
    """AT_MAC check: HMAC-SHA-256-128 over the packet with the MAC value zeroed."""
    if msg.mac_offset < 0:
        return False
    data = bytearray(msg.raw)
    got = bytes(data[msg.mac_offset : msg.mac_offset + 16])
    data[msg.mac_offset : msg.mac_offset + 16] = b"\x00" * 16
    want = hmac.new(k_aut, bytes(data), hashlib.sha256).digest()[:16]
    return hmac.compare_digest(got, want)


def res_of(msg: EapAkaMessage) -> bytes:
    """RES from AT_RES (RFC 4187 §10.8: 2-octet length in bits, then RES, padded)."""
    v = msg.attrs.get(AT_RES)
    if v is None or len(v) < 2:
        raise EapError("AT_RES missing")
    bits = struct.unpack("!H", v[:2])[0]
    if bits % 8 or not 32 <= bits <= 128 or 2 + bits // 8 > len(v):
        raise EapError("AT_RES length invalid")
    return v[2 : 2 + bits // 8]


def auts_of(msg: EapAkaMessage) -> bytes:
    v = msg.attrs.get(AT_AUTS)
    if v is None or len(v) != 14:
        raise EapError("AT_AUTS missing or not 14 octets")
    return v


def build_response(identifier: int, res: bytes, k_aut: bytes) -> bytes:
    """Peer side EAP-Response/AKA'-Challenge (AT_RES, AT_MAC) — for tests and the UE simulator."""
    attrs = _attr(AT_RES, struct.pack("!H", len(res) * 8) + res)
    mac_attr = _attr(AT_MAC, b"\x00\x00" + b"\x00" * 16)
    body = bytes((TYPE_AKA_PRIME, SUB_CHALLENGE, 0, 0)) + attrs + mac_attr
    pkt = bytearray(struct.pack("!BBH", CODE_RESPONSE, identifier & 0xFF, 4 + len(body)) + body)
    pkt[-16:] = hmac.new(k_aut, bytes(pkt), hashlib.sha256).digest()[:16]
    return bytes(pkt)


def build_sync_failure(identifier: int, auts: bytes) -> bytes:
    """Peer side EAP-Response/AKA'-Synchronization-Failure with AT_AUTS (RFC 4187 §9.6)."""
    body = bytes((TYPE_AKA_PRIME, SUB_SYNC_FAILURE, 0, 0)) + _attr(AT_AUTS, auts) + _attr(AT_KDF, struct.pack("!H", 1))
    return struct.pack("!BBH", CODE_RESPONSE, identifier & 0xFF, 4 + len(body)) + body
