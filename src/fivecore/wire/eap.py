"""EAP-AKA' packets (RFC 9048 over the RFC 4187 formats, RFC 3748 framing), sans-I/O.

Both ends of TS 33.501 §6.1.3.1 use this module: the AUSF builds the AKA'-Challenge and reads
the peer's AKA'-Challenge response, Synchronization-Failure, Authentication-Reject or
Client-Error; the simulated UE reads the challenge and answers. AT_MAC is HMAC-SHA-256-128
keyed with K_aut (RFC 9048 §3.4.1). Malformed packets raise :class:`EapError`.
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
    """A malformed or unusable EAP packet."""


@dataclass(slots=True)
class EapPacket:
    """One EAP packet; for Type 50 (AKA') its subtype and attributes (type -> value octets)."""

    code: int
    identifier: int
    subtype: int = 0
    attrs: dict[int, bytes] = field(default_factory=dict)
    raw: bytes = b""
    mac_offset: int = -1


def parse(pkt: bytes) -> EapPacket:
    """RFC 3748 §4 header, then the RFC 4187 §8.1 attributes of a Type 50 (AKA') packet."""
    if len(pkt) < 4:
        raise EapError("EAP packet shorter than its header")
    code, ident, length = struct.unpack("!BBH", pkt[:4])
    if length != len(pkt):
        raise EapError(f"EAP length {length} != packet size {len(pkt)}")
    p = EapPacket(code, ident, raw=bytes(pkt))
    if code in (CODE_SUCCESS, CODE_FAILURE):
        return p
    if code not in (CODE_REQUEST, CODE_RESPONSE):
        raise EapError(f"unknown EAP code {code}")
    if len(pkt) < 8:
        raise EapError("EAP-AKA' packet too short")
    if pkt[4] != TYPE_AKA_PRIME:
        raise EapError(f"EAP type {pkt[4]} is not AKA' (50)")
    p.subtype = pkt[5]
    off = 8
    while off < len(pkt):
        if off + 2 > len(pkt):
            raise EapError("truncated attribute header")
        t, ln = pkt[off], pkt[off + 1] * 4
        if ln == 0 or off + ln > len(pkt):
            raise EapError(f"attribute {t} has a bad length")
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


def _packet(code: int, identifier: int, body: bytes) -> bytearray:
    return bytearray(struct.pack("!BBH", code, identifier & 0xFF, 4 + len(body)) + body)


def _signed(code: int, identifier: int, subtype: int, attrs: bytes, k_aut: bytes) -> bytes:
    """A packet ending in AT_MAC, computed over the packet with the MAC value zero (§10.15)."""
    body = bytes((TYPE_AKA_PRIME, subtype, 0, 0)) + attrs + _attr(AT_MAC, bytes(18))
    pkt = _packet(code, identifier, body)
    pkt[-16:] = _mac(k_aut, bytes(pkt))
    return bytes(pkt)


def verify_mac(p: EapPacket, k_aut: bytes) -> bool:
    """RFC 4187 §10.15: AT_MAC over the whole packet with the MAC value set to zero."""
    if p.mac_offset < 0:
        return False
    data = bytearray(p.raw)
    got = bytes(data[p.mac_offset : p.mac_offset + 16])
    data[p.mac_offset : p.mac_offset + 16] = bytes(16)
    return hmac.compare_digest(got, _mac(k_aut, bytes(data)))


# --- server (AUSF) side --------------------------------------------------------------------------


def build_challenge(identifier: int, rand: bytes, autn: bytes, network_name: str, k_aut: bytes) -> bytes:
    """EAP-Request/AKA'-Challenge with AT_RAND, AT_AUTN, AT_KDF(1), AT_KDF_INPUT, AT_MAC."""
    name = network_name.encode()
    attrs = (
        _attr(AT_RAND, b"\x00\x00" + rand)
        + _attr(AT_AUTN, b"\x00\x00" + autn)
        + _attr(AT_KDF, struct.pack("!H", 1))
        + _attr(AT_KDF_INPUT, struct.pack("!H", len(name)) + name)
    )
    return _signed(CODE_REQUEST, identifier, SUB_CHALLENGE, attrs, k_aut)


def build_result(code: int, identifier: int) -> bytes:
    """EAP-Success or EAP-Failure (RFC 3748 §4.2)."""
    return struct.pack("!BBH", code, identifier & 0xFF, 4)


def res_of(p: EapPacket) -> bytes:
    """RES from AT_RES (RFC 4187 §10.8: 2-octet length in bits, then RES, padded)."""
    v = p.attrs.get(AT_RES)
    if v is None or len(v) < 2:
        raise EapError("AT_RES missing")
    bits = struct.unpack("!H", v[:2])[0]
    if bits % 8 or not 32 <= bits <= 128 or 2 + bits // 8 > len(v):
        raise EapError("AT_RES length invalid")
    return v[2 : 2 + bits // 8]


def auts_of(p: EapPacket) -> bytes:
    """AUTS from AT_AUTS of a Synchronization-Failure (RFC 4187 §10.9)."""
    v = p.attrs.get(AT_AUTS)
    if v is None or len(v) != 14:
        raise EapError("AT_AUTS missing or not 14 octets")
    return v


# --- peer (UE) side -------------------------------------------------------------------------------


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


def build_response(identifier: int, res: bytes, k_aut: bytes) -> bytes:
    """EAP-Response/AKA'-Challenge with AT_RES (length in bits) and AT_MAC."""
    return _signed(CODE_RESPONSE, identifier, SUB_CHALLENGE,
                   _attr(AT_RES, struct.pack("!H", len(res) * 8) + res), k_aut)


def build_sync_failure(identifier: int, auts: bytes) -> bytes:
    """EAP-Response/AKA'-Synchronization-Failure with AT_AUTS (RFC 4187 §9.6) and AT_KDF."""
    body = bytes((TYPE_AKA_PRIME, SUB_SYNC_FAILURE, 0, 0)) + _attr(AT_AUTS, auts) + _attr(AT_KDF, struct.pack("!H", 1))
    return bytes(_packet(CODE_RESPONSE, identifier, body))


def build_auth_reject(identifier: int) -> bytes:
    """EAP-Response/AKA'-Authentication-Reject (RFC 4187 §9.5): AUTN did not verify."""
    return bytes(_packet(CODE_RESPONSE, identifier, bytes((TYPE_AKA_PRIME, SUB_AUTH_REJECT, 0, 0))))
