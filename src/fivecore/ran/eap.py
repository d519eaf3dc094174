"""EAP-AKA' on the UE side (RFC 9048, packet formats of RFC 4187, framing of RFC 3748), sans-I/O.

What the simulated UE needs for TS 33.501 §6.1.3.1: read an EAP-Request/AKA'-Challenge
(AT_RAND, AT_AUTN, AT_KDF, AT_KDF_INPUT, AT_MAC), check AT_MAC with K_aut, and answer with
AKA'-Challenge (AT_RES, AT_MAC), AKA'-Synchronization-Failure (AT_AUTS) or
AKA'-Authentication-Reject. Malformed packets raise :class:`EapError`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

CODE_REQUEST, CODE_RESPONSE, CODE_SUCCESS, CODE_FAILURE = 1, 2, 3, 4
TYPE_AKA_PRIME = 50
SUB_CHALLENGE, SUB_AUTH_REJECT, SUB_SYNC_FAILURE = 1, 2, 4
AT_RAND, AT_AUTN, AT_RES, AT_AUTS, AT_MAC, AT_KDF_INPUT, AT_KDF = 1, 2, 3, 4, 11, 23, 24


class EapError(ValueError):
    """A malformed or unusable EAP packet."""


@dataclass(slots=True)
class EapPacket:
    code: int
    identifier: int
    subtype: int = 0
    attrs: dict[int, bytes] = field(default_factory=dict)
    raw: bytes = b""
    mac_offset: int = -1


def parse(pkt: bytes) -> EapPacket:
    """RFC 3748 §4 header, then RFC 4187 §8.1 attributes for Type 50 (AKA')."""
    if len(pkt) < 4:
        raise EapError("EAP packet shorter than its header")
    code, ident, length = struct.unpack("!BBH", pkt[:4])
    if length != len(pkt):
        raise EapError("EAP length does not match the packet")
    p = EapPacket(code, ident, raw=bytes(pkt))
    if code in (CODE_SUCCESS, CODE_FAILURE):
        return p
    if code not in (CODE_REQUEST, CODE_RESPONSE) or len(pkt) < 8 or pkt[4] != TYPE_AKA_PRIME:
        raise EapError("not an EAP-AKA' request or response")
    p.subtype = pkt[5]
    off = 8
    while off < len(pkt):
        if off + 2 > len(pkt):
            raise EapError("truncated attribute")
        t, ln = pkt[off], pkt[off + 1] * 4
        if ln == 0 or off + ln > len(pkt):
            raise EapError(f"attribute {t}: bad length")
        if t in p.attrs:
            raise EapError(f"attribute {t} repeated")
        if t == AT_MAC:
            if ln != 20:
                raise EapError("AT_MAC must be 20 octets")
            p.mac_offset = off + 4
        p.attrs[t] = pkt[off + 2 : off + ln]
        off += ln
    return p


def _attr(t: int, value: bytes) -> bytes:
    total = 2 + len(value)
    pad = (-total) % 4
    return bytes((t, (total + pad) // 4)) + value + b"\x00" * pad


def _mac(k_aut: bytes, data: bytes) -> bytes:
    """RFC 9048 §3.4.1: HMAC-SHA-256-128."""
    return hmac.new(k_aut, data, hashlib.sha256).digest()[:16]


def mac_ok(p: EapPacket, k_aut: bytes) -> bool:
    """RFC 4187 §10.15: AT_MAC over the whole packet with the MAC value set to zero."""
    if p.mac_offset < 0:
        return False
    data = bytearray(p.raw)
    got = bytes(data[p.mac_offset : p.mac_offset + 16])
    data[p.mac_offset : p.mac_offset + 16] = bytes(16)
    return hmac.compare_digest(got, _mac(k_aut, bytes(data)))


@dataclass(slots=True, frozen=True)
class Challenge:
    identifier: int
    rand: bytes
    autn: bytes
    network_name: str


def challenge_of(p: EapPacket) -> Challenge:
    """RFC 9048 §3.1-3.2: AT_RAND, AT_AUTN, AT_KDF = 1 and the network name in AT_KDF_INPUT."""
    if p.code != CODE_REQUEST or p.subtype != SUB_CHALLENGE:
        raise EapError("not an AKA'-Challenge request")
    try:
        rand = p.attrs[AT_RAND][2:18]
        autn = p.attrs[AT_AUTN][2:18]
        kdf_v = struct.unpack("!H", p.attrs[AT_KDF][:2])[0]
        kin = p.attrs[AT_KDF_INPUT]
        n = struct.unpack("!H", kin[:2])[0]
        name = kin[2 : 2 + n].decode()
    except (KeyError, struct.error, UnicodeDecodeError):
        raise EapError("AKA'-Challenge lacks a mandatory attribute") from None
    if len(rand) != 16 or len(autn) != 16 or n > len(kin) - 2:
        raise EapError("AKA'-Challenge attribute of the wrong size")
    if kdf_v != 1:
        raise EapError(f"unsupported AT_KDF {kdf_v}")
    return Challenge(p.identifier, rand, autn, name)


def challenge_response(identifier: int, res: bytes, k_aut: bytes) -> bytes:
    """EAP-Response/AKA'-Challenge with AT_RES (length in bits) and AT_MAC."""
    body = bytes((TYPE_AKA_PRIME, SUB_CHALLENGE, 0, 0)) + _attr(AT_RES, struct.pack("!H", len(res) * 8) + res)
    body += _attr(AT_MAC, bytes(18))
    pkt = bytearray(struct.pack("!BBH", CODE_RESPONSE, identifier & 0xFF, 4 + len(body)) + body)
    pkt[-16:] = _mac(k_aut, bytes(pkt))
    return bytes(pkt)


def sync_failure(identifier: int, auts: bytes) -> bytes:
    """EAP-Response/AKA'-Synchronization-Failure with AT_AUTS (RFC 4187 §9.6) and AT_KDF."""
    body = bytes((TYPE_AKA_PRIME, SUB_SYNC_FAILURE, 0, 0)) + _attr(AT_AUTS, auts) + _attr(AT_KDF, struct.pack("!H", 1))
    return struct.pack("!BBH", CODE_RESPONSE, identifier & 0xFF, 4 + len(body)) + body


def auth_reject(identifier: int) -> bytes:
    """EAP-Response/AKA'-Authentication-Reject (RFC 4187 §9.5): AUTN did not verify."""
    body = bytes((TYPE_AKA_PRIME, SUB_AUTH_REJECT, 0, 0))
    return struct.pack("!BBH", CODE_RESPONSE, identifier & 0xFF, 4 + len(body)) + body
