"""PFCP information elements, TS 29.244 §8.1-§8.2: the type table and typed value codecs."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fivecore.wire.errors import DecodeError, EncodeError


def _ip4(b: bytes) -> str:
    if len(b) != 4:
        raise DecodeError(f"IPv4 address of {len(b)} octets")
    return socket.inet_ntoa(b)


def _ip6(b: bytes) -> str:
    return str(ipaddress.IPv6Address(b))


def _p4(s: str) -> bytes:
    # inet_pton (not inet_aton) takes only the dotted quad, as ipaddress does, at a tenth the cost
    try:
        return socket.inet_pton(socket.AF_INET, s)
    except (OSError, TypeError) as exc:
        raise EncodeError(f"bad IPv4 address {s!r}") from exc


def _p6(s: str) -> bytes:
    try:
        return ipaddress.IPv6Address(s).packed
    except ValueError as exc:
        raise EncodeError(f"bad IPv6 address {s!r}") from exc


class Flags(int):
    """A bit-mask IE value (Apply Action, Reporting Triggers, UP/CP Function Features, ...) that
    remembers how many octets it had on the wire, so re-encoding is byte-exact.

    It is an ``int``: ``aa & pfcp.APPLY_FORW``. Plain ints are accepted when building.
    """

    octets: int

    def __new__(cls, value: int, octets: int = 1) -> Flags:
        obj = super().__new__(cls, value)
        obj.octets = octets
        return obj

    def __repr__(self) -> str:
        return f"Flags({int(self):#x}, octets={self.octets})"


# Apply Action bits, TS 29.244 §8.2.26 (2 octets since Rel-16).
APPLY_DROP, APPLY_FORW, APPLY_BUFF, APPLY_NOCP, APPLY_DUPL = 0x01, 0x02, 0x04, 0x08, 0x10
# Reporting Triggers, TS 29.244 §8.2.19 (octet 5 bits 1.., octet 6 ...).
TRIGGER_PERIO, TRIGGER_VOLTH, TRIGGER_TIMTH, TRIGGER_QUHTI = 0x01, 0x02, 0x04, 0x08
TRIGGER_START, TRIGGER_STOPT, TRIGGER_DROTH, TRIGGER_LIUSA = 0x10, 0x20, 0x40, 0x80
# Measurement Method, TS 29.244 §8.2.40.
MEASURE_DURAT, MEASURE_VOLUM, MEASURE_EVENT = 0x01, 0x02, 0x04
# Report Type, TS 29.244 §8.2.21.
REPORT_DLDR, REPORT_USAR, REPORT_ERIR, REPORT_UPIR = 0x01, 0x02, 0x04, 0x08
# Source / Destination Interface, TS 29.244 §8.2.2 / §8.2.24.
IF_ACCESS, IF_CORE, IF_SGI_N6_LAN, IF_CP_FUNCTION = 0, 1, 2, 3
# 3GPP Interface Type, TS 29.244 §8.2.118.
IFTYPE_N3_3GPP, IFTYPE_N9, IFTYPE_N6 = 11, 15, 17
# Cause, TS 29.244 §8.2.1.
CAUSE_ACCEPTED = 1
CAUSE_REJECTED = 64
CAUSE_SESSION_CONTEXT_NOT_FOUND = 65
CAUSE_MANDATORY_IE_MISSING = 66
CAUSE_CONDITIONAL_IE_MISSING = 67
CAUSE_INVALID_LENGTH = 68
CAUSE_MANDATORY_IE_INCORRECT = 69
CAUSE_NO_ESTABLISHED_ASSOCIATION = 72
CAUSE_RULE_CREATION_FAILURE = 73
CAUSE_NO_RESOURCES = 75
CAUSE_SYSTEM_FAILURE = 77
# PFCPASRsp-Flags (TS 29.244 Table 8.1.2-1 type 184): bit 1 PSREI, the PFCP sessions were
# retained (§6.2.6.2)
ASRSP_PSREI = 0x01


@dataclass(frozen=True, slots=True)
class NodeId:
    """Node ID, TS 29.244 §8.2.38: ``kind`` 0 IPv4, 1 IPv6, 2 FQDN."""

    kind: int
    value: str

    @classmethod
    def ipv4(cls, addr: str) -> NodeId:
        return cls(0, addr)

    @classmethod
    def fqdn(cls, name: str) -> NodeId:
        return cls(2, name)


def _dec_node_id(b: bytes) -> NodeId:
    if not b:
        raise DecodeError("empty Node ID")
    k = b[0] & 0xF
    v = b[1:]
    if k == 0:
        if len(v) != 4:
            raise DecodeError("Node ID IPv4 must be 4 octets")
        return NodeId(0, _ip4(v))
    if k == 1:
        if len(v) != 16:
            raise DecodeError("Node ID IPv6 must be 16 octets")
        return NodeId(1, _ip6(v))
    if k == 2:
        labels = []
        i = 0
        while i < len(v):
            ln = v[i]
            if ln == 0 or i + 1 + ln > len(v):
                raise DecodeError("bad FQDN label in Node ID")
            lab = v[i + 1:i + 1 + ln].decode("latin-1")
            if "." in lab:
                raise DecodeError("dot inside an FQDN label")
            labels.append(lab)
            i += 1 + ln
        return NodeId(2, ".".join(labels))
    raise DecodeError(f"Node ID type {k} unknown")


def _enc_node_id(v: NodeId) -> bytes:
    if v.kind == 0:
        return b"\x00" + _p4(v.value)
    if v.kind == 1:
        return b"\x01" + _p6(v.value)
    if v.kind == 2:
        out = bytearray(b"\x02")
        for lab in v.value.split("."):
            raw = lab.encode("latin-1")
            if not 0 < len(raw) < 64:
                raise EncodeError(f"bad FQDN {v.value!r}")
            out.append(len(raw))
            out += raw
        return bytes(out)
    raise EncodeError(f"Node ID type {v.kind} unknown")


@dataclass(frozen=True, slots=True)
class FSeid:
    """F-SEID, TS 29.244 §8.2.37."""

    seid: int
    ipv4: str | None = None
    ipv6: str | None = None


def _dec_fseid(b: bytes) -> FSeid:
    if len(b) < 9:
        raise DecodeError("F-SEID truncated")
    f = b[0]
    want = 9 + (4 if f & 2 else 0) + (16 if f & 1 else 0)
    if len(b) != want:
        raise DecodeError(f"F-SEID length {len(b)} does not match its flags")
    p = 9
    v4 = v6 = None
    if f & 2:
        v4 = _ip4(b[p:p + 4])
        p += 4
    if f & 1:
        v6 = _ip6(b[p:p + 16])
    return FSeid(int.from_bytes(b[1:9], "big"), v4, v6)


def _enc_fseid(v: FSeid) -> bytes:
    f = (2 if v.ipv4 else 0) | (1 if v.ipv6 else 0)
    return bytes((f,)) + v.seid.to_bytes(8, "big") + (_p4(v.ipv4) if v.ipv4 else b"") + \
        (_p6(v.ipv6) if v.ipv6 else b"")


@dataclass(frozen=True, slots=True)
class CpPfcpEntityIp:
    """CP PFCP Entity IP Address (TS 29.244 Table 8.1.2-1 type 185; octet 5 flags V4 bit 2,
    V6 bit 1, as in the F-SEID): one address (IPv4, IPv6 or both) of a CP PFCP entity whose
    PFCP sessions the UP function is asked to retain (§6.2.6.2, in the PFCP Session Retention
    Information of an Association Setup Request)."""

    ipv4: str | None = None
    ipv6: str | None = None


def _dec_cpip(b: bytes) -> CpPfcpEntityIp:
    if not b:
        raise DecodeError("empty CP PFCP Entity IP Address")
    f = b[0]
    want = 1 + (4 if f & 2 else 0) + (16 if f & 1 else 0)
    if not f & 3 or len(b) != want:
        raise DecodeError(f"CP PFCP Entity IP Address length {len(b)} does not match its flags")
    v4 = _ip4(b[1:5]) if f & 2 else None
    v6 = _ip6(b[want - 16:want]) if f & 1 else None
    return CpPfcpEntityIp(v4, v6)


def _enc_cpip(v: CpPfcpEntityIp) -> bytes:
    if not isinstance(v, CpPfcpEntityIp) or not (v.ipv4 or v.ipv6):
        raise EncodeError("CP PFCP Entity IP Address needs an IPv4 or IPv6 address")
    f = (2 if v.ipv4 else 0) | (1 if v.ipv6 else 0)
    return bytes((f,)) + (_p4(v.ipv4) if v.ipv4 else b"") + (_p6(v.ipv6) if v.ipv6 else b"")


@dataclass(frozen=True, slots=True)
class FTeid:
    """F-TEID, TS 29.244 §8.2.3. With ``ch`` (CHOOSE) the UP function allocates the TEID;
    ``ch_v4``/``ch_v6`` then say which address family, ``choose_id`` correlates PDRs (CHID)."""

    teid: int = 0
    ipv4: str | None = None
    ipv6: str | None = None
    ch: bool = False
    ch_v4: bool = False
    ch_v6: bool = False
    choose_id: int | None = None

    @classmethod
    def choose(cls, v4: bool = True, v6: bool = False, choose_id: int | None = None) -> FTeid:
        return cls(ch=True, ch_v4=v4, ch_v6=v6, choose_id=choose_id)


def _dec_fteid(b: bytes) -> FTeid:
    if not b:
        raise DecodeError("empty F-TEID")
    f = b[0]
    v4f, v6f, ch, chid = bool(f & 1), bool(f & 2), bool(f & 4), bool(f & 8)
    if ch:
        want = 1 + (1 if chid else 0)
        if len(b) != want:
            raise DecodeError("F-TEID with CH has a wrong length")
        return FTeid(ch=True, ch_v4=v4f, ch_v6=v6f, choose_id=b[1] if chid else None)
    if chid:
        raise DecodeError("F-TEID CHID without CH")
    want = 5 + (4 if v4f else 0) + (16 if v6f else 0)
    if len(b) != want:
        raise DecodeError(f"F-TEID length {len(b)} does not match its flags")
    p = 5
    v4 = v6 = None
    if v4f:
        v4 = _ip4(b[p:p + 4])
        p += 4
    if v6f:
        v6 = _ip6(b[p:p + 16])
    return FTeid(int.from_bytes(b[1:5], "big"), v4, v6)


def _enc_fteid(v: FTeid) -> bytes:
    if v.ch:
        f = 4 | (1 if v.ch_v4 else 0) | (2 if v.ch_v6 else 0) | (8 if v.choose_id is not None else 0)
        return bytes((f,)) + (bytes((v.choose_id,)) if v.choose_id is not None else b"")
    f = (1 if v.ipv4 else 0) | (2 if v.ipv6 else 0)
    return bytes((f,)) + v.teid.to_bytes(4, "big") + (_p4(v.ipv4) if v.ipv4 else b"") + \
        (_p6(v.ipv6) if v.ipv6 else b"")


@dataclass(frozen=True, slots=True)
class UeIpAddress:
    """UE IP Address, TS 29.244 §8.2.62. ``destination`` is the S/D flag (1 = destination)."""

    ipv4: str | None = None
    ipv6: str | None = None
    destination: bool = False
    ipv6_prefix_delegation_bits: int | None = None
    choose_v4: bool = False
    choose_v6: bool = False
    ipv6_prefix_length: int | None = None


def _dec_ueip(b: bytes) -> UeIpAddress:
    if not b:
        raise DecodeError("empty UE IP Address")
    f = b[0]
    p = 1
    v4 = v6 = None
    pd = pl = None
    try:
        if f & 2:
            v4 = _ip4(b[p:p + 4])
            p += 4
        if f & 1:
            v6 = _ip6(b[p:p + 16])
            p += 16
        if f & 8:
            pd = b[p]
            p += 1
        if f & 0x40:
            pl = b[p]
            p += 1
    except (ValueError, IndexError) as exc:
        raise DecodeError("UE IP Address truncated") from exc
    if p != len(b):
        raise DecodeError("UE IP Address length does not match its flags")
    return UeIpAddress(v4, v6, bool(f & 4), pd, bool(f & 0x10), bool(f & 0x20), pl)


def _enc_ueip(v: UeIpAddress) -> bytes:
    f = (2 if v.ipv4 else 0) | (1 if v.ipv6 else 0) | (4 if v.destination else 0) | \
        (8 if v.ipv6_prefix_delegation_bits is not None else 0) | (0x10 if v.choose_v4 else 0) | \
        (0x20 if v.choose_v6 else 0) | (0x40 if v.ipv6_prefix_length is not None else 0)
    out = bytes((f,)) + (_p4(v.ipv4) if v.ipv4 else b"") + (_p6(v.ipv6) if v.ipv6 else b"")
    if v.ipv6_prefix_delegation_bits is not None:
        out += bytes((v.ipv6_prefix_delegation_bits,))
    if v.ipv6_prefix_length is not None:
        out += bytes((v.ipv6_prefix_length,))
    return out


# Outer Header Creation description bits, TS 29.244 §8.2.56 (octet 5 = high byte here).
OHC_GTPU_UDP_IPV4 = 0x0100
OHC_GTPU_UDP_IPV6 = 0x0200
OHC_UDP_IPV4 = 0x0400
OHC_UDP_IPV6 = 0x0800
OHC_IPV4 = 0x1000
OHC_IPV6 = 0x2000
OHC_CTAG = 0x4000
OHC_STAG = 0x8000


@dataclass(frozen=True, slots=True)
class OuterHeaderCreation:
    """Outer Header Creation, TS 29.244 §8.2.56. Build with :meth:`gtpu`."""

    description: int
    teid: int | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    port: int | None = None
    ctag: bytes | None = None
    stag: bytes | None = None

    @classmethod
    def gtpu(cls, teid: int, ipv4: str) -> OuterHeaderCreation:
        """GTP-U/UDP/IPv4 towards ``ipv4`` with ``teid`` (the usual N3/N9 case)."""
        return cls(OHC_GTPU_UDP_IPV4, teid, ipv4)


def _dec_ohc(b: bytes) -> OuterHeaderCreation:
    if len(b) < 2:
        raise DecodeError("Outer Header Creation truncated")
    d = (b[0] << 8) | b[1]
    p = 2
    teid = v4 = v6 = port = ctag = stag = None
    try:
        if d & (OHC_GTPU_UDP_IPV4 | OHC_GTPU_UDP_IPV6):
            if len(b) < p + 4:
                raise DecodeError("Outer Header Creation TEID truncated")
            teid = int.from_bytes(b[p:p + 4], "big")
            p += 4
        if d & (OHC_GTPU_UDP_IPV4 | OHC_UDP_IPV4 | OHC_IPV4):
            if len(b) < p + 4:
                raise DecodeError("Outer Header Creation IPv4 truncated")
            v4 = _ip4(b[p:p + 4])
            p += 4
        if d & (OHC_GTPU_UDP_IPV6 | OHC_UDP_IPV6 | OHC_IPV6):
            if len(b) < p + 16:
                raise DecodeError("Outer Header Creation IPv6 truncated")
            v6 = _ip6(b[p:p + 16])
            p += 16
        if d & (OHC_UDP_IPV4 | OHC_UDP_IPV6):
            if len(b) < p + 2:
                raise DecodeError("Outer Header Creation port truncated")
            port = int.from_bytes(b[p:p + 2], "big")
            p += 2
        if d & OHC_CTAG:
            ctag = bytes(b[p:p + 3])
            p += 3
        if d & OHC_STAG:
            stag = bytes(b[p:p + 3])
            p += 3
    except ValueError as exc:
        raise DecodeError("Outer Header Creation truncated") from exc
    if p != len(b):
        raise DecodeError("Outer Header Creation length does not match its description")
    return OuterHeaderCreation(d, teid, v4, v6, port, ctag, stag)


def _enc_ohc(v: OuterHeaderCreation) -> bytes:
    out = bytearray(v.description.to_bytes(2, "big"))
    d = v.description
    if d & (OHC_GTPU_UDP_IPV4 | OHC_GTPU_UDP_IPV6):
        out += (v.teid or 0).to_bytes(4, "big")
    if d & (OHC_GTPU_UDP_IPV4 | OHC_UDP_IPV4 | OHC_IPV4):
        if not v.ipv4:
            raise EncodeError("Outer Header Creation needs an IPv4 address")
        out += _p4(v.ipv4)
    if d & (OHC_GTPU_UDP_IPV6 | OHC_UDP_IPV6 | OHC_IPV6):
        if not v.ipv6:
            raise EncodeError("Outer Header Creation needs an IPv6 address")
        out += _p6(v.ipv6)
    if d & (OHC_UDP_IPV4 | OHC_UDP_IPV6):
        out += (v.port or 0).to_bytes(2, "big")
    if d & OHC_CTAG:
        out += (v.ctag or b"\0\0\0")[:3]
    if d & OHC_STAG:
        out += (v.stag or b"\0\0\0")[:3]
    return bytes(out)


@dataclass(frozen=True, slots=True)
class OuterHeaderRemoval:
    """Outer Header Removal, TS 29.244 §8.2.64: 0 GTP-U/UDP/IPv4, 1 GTP-U/UDP/IPv6, ...,
    6 GTP-U/UDP/IP; ``ext_header_deletion`` bit 1 = PDU Session Container."""

    description: int = 0
    ext_header_deletion: int | None = None


def _dec_ohr(b: bytes) -> OuterHeaderRemoval:
    if len(b) not in (1, 2):
        raise DecodeError("Outer Header Removal must be 1 or 2 octets")
    return OuterHeaderRemoval(b[0], b[1] if len(b) == 2 else None)


def _enc_ohr(v: OuterHeaderRemoval) -> bytes:
    return bytes((v.description,)) + (b"" if v.ext_header_deletion is None else
                                       bytes((v.ext_header_deletion,)))


@dataclass(frozen=True, slots=True)
class GateStatus:
    """Gate Status, TS 29.244 §8.2.7: 0 open, 1 closed."""

    ul: int = 0
    dl: int = 0


def _dec_gate(b: bytes) -> GateStatus:
    if len(b) != 1:
        raise DecodeError("Gate Status must be 1 octet")
    return GateStatus((b[0] >> 2) & 3, b[0] & 3)


def _enc_gate(v: GateStatus) -> bytes:
    return bytes((((v.ul & 3) << 2) | (v.dl & 3),))


@dataclass(frozen=True, slots=True)
class Bitrate:
    """MBR / GBR, TS 29.244 §8.2.8/§8.2.9: uplink and downlink in kbps (40-bit each)."""

    ul: int
    dl: int


def _dec_bitrate(b: bytes) -> Bitrate:
    if len(b) != 10:
        raise DecodeError("MBR/GBR must be 10 octets")
    return Bitrate(int.from_bytes(b[:5], "big"), int.from_bytes(b[5:], "big"))


def _enc_bitrate(v: Bitrate) -> bytes:
    try:
        return v.ul.to_bytes(5, "big") + v.dl.to_bytes(5, "big")
    except OverflowError as exc:
        raise EncodeError("bit rate out of range") from exc


@dataclass(frozen=True, slots=True)
class Volume:
    """Volume Threshold / Volume Quota / Volume Measurement, TS 29.244 §8.2.13/§8.2.50/§8.2.44:
    octets (and for measurements packet counts); None = absent."""

    total: int | None = None
    ul: int | None = None
    dl: int | None = None
    total_packets: int | None = None
    ul_packets: int | None = None
    dl_packets: int | None = None


_VOL_FIELDS = ("total", "ul", "dl", "total_packets", "ul_packets", "dl_packets")


def _dec_volume(b: bytes) -> Volume:
    if not b:
        raise DecodeError("empty volume IE")
    f = b[0]
    p = 1
    vals: dict[str, int] = {}
    for i, name in enumerate(_VOL_FIELDS):
        if f & (1 << i):
            if p + 8 > len(b):
                raise DecodeError("volume IE truncated")
            vals[name] = int.from_bytes(b[p:p + 8], "big")
            p += 8
    if p != len(b) or f & 0xC0:
        raise DecodeError("volume IE length does not match its flags")
    return Volume(**vals)


def _enc_volume(v: Volume) -> bytes:
    f = 0
    out = bytearray(b"\0")
    for i, name in enumerate(_VOL_FIELDS):
        x = getattr(v, name)
        if x is not None:
            f |= 1 << i
            out += x.to_bytes(8, "big")
    out[0] = f
    return bytes(out)


def _dec_bytes(b: bytes) -> bytes:
    return bytes(b)


def _enc_bytes(v: bytes) -> bytes:
    if not isinstance(v, (bytes, bytearray)):
        raise EncodeError(f"expected bytes, got {type(v).__name__}")
    return bytes(v)


def _uint(n: int, mask: int | None = None) -> tuple[Callable[[bytes], int], Callable[[int], bytes]]:
    def dec(b: bytes) -> int:
        if len(b) != n:
            raise DecodeError(f"value must be {n} octets, got {len(b)}")
        return int.from_bytes(b[:n], "big") & (mask if mask is not None else -1)

    def enc(v: int) -> bytes:
        try:
            return int(v).to_bytes(n, "big")
        except OverflowError as exc:
            raise EncodeError(f"value {v} does not fit {n} octets") from exc

    return dec, enc


def _flags(default_octets: int) -> tuple[Callable[[bytes], Flags], Callable[[int], bytes]]:
    def dec(b: bytes) -> Flags:
        if not b:
            raise DecodeError("empty flags IE")
        return Flags(int.from_bytes(b, "little"), len(b))

    def enc(v: int) -> bytes:
        n = v.octets if isinstance(v, Flags) else default_octets
        try:
            return int(v).to_bytes(n, "little")
        except OverflowError as exc:
            raise EncodeError(f"flags {v:#x} do not fit {n} octets") from exc

    return dec, enc


def _dec_ni(b: bytes) -> str | bytes:
    """Network Instance (TS 29.244 §8.2.4): DNN labels when they parse, else raw octets."""
    labels = []
    i = 0
    n = len(b)
    while i < n:
        ln = b[i]
        if ln == 0 or i + 1 + ln > n:
            return bytes(b)
        lab = b[i + 1:i + 1 + ln]
        if b"." in lab or not lab.isascii():
            return bytes(b)
        labels.append(lab.decode("ascii"))
        i += 1 + ln
    return ".".join(labels) if labels else bytes(b)


def _enc_ni(v: str | bytes) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    out = bytearray()
    for lab in v.split("."):
        raw = lab.encode("ascii")
        if not 0 < len(raw) < 64:
            raise EncodeError(f"bad network instance {v!r}")
        out.append(len(raw))
        out += raw
    return bytes(out)


_U8, _U16, _U32 = _uint(1), _uint(2), _uint(4)
_NIB = _uint(1, 0x0F)
_Q6 = _uint(1, 0x3F)

# (name, grouped, (dec, enc)) per IE type, TS 29.244 §8.1.2 Table 8.1.2-1.
_G = None
IE_TABLE: dict[int, tuple[str, Any]] = {
    1: ("create_pdr", _G), 2: ("pdi", _G), 3: ("create_far", _G), 4: ("forwarding_parameters", _G),
    5: ("duplicating_parameters", _G), 6: ("create_urr", _G), 7: ("create_qer", _G),
    8: ("created_pdr", _G), 9: ("update_pdr", _G), 10: ("update_far", _G),
    11: ("update_forwarding_parameters", _G), 12: ("update_bar_report_rsp", _G),
    13: ("update_urr", _G), 14: ("update_qer", _G), 15: ("remove_pdr", _G), 16: ("remove_far", _G),
    17: ("remove_urr", _G), 18: ("remove_qer", _G),
    19: ("cause", _U8), 20: ("source_interface", _NIB), 21: ("f_teid", (_dec_fteid, _enc_fteid)),
    22: ("network_instance", (_dec_ni, _enc_ni)), 23: ("sdf_filter", None),
    24: ("application_id", None), 25: ("gate_status", (_dec_gate, _enc_gate)),
    26: ("mbr", (_dec_bitrate, _enc_bitrate)), 27: ("gbr", (_dec_bitrate, _enc_bitrate)),
    28: ("qer_correlation_id", _U32), 29: ("precedence", _U32), 30: ("transport_level_marking", None),
    31: ("volume_threshold", (_dec_volume, _enc_volume)), 32: ("time_threshold", _U32),
    33: ("monitoring_time", _U32), 34: ("subsequent_volume_threshold", (_dec_volume, _enc_volume)),
    35: ("subsequent_time_threshold", _U32), 36: ("inactivity_detection_time", _U32),
    37: ("reporting_triggers", _flags(3)), 38: ("redirect_information", None),
    39: ("report_type", _flags(1)), 40: ("offending_ie", _U16), 41: ("forwarding_policy", None),
    42: ("destination_interface", _NIB), 43: ("up_function_features", _flags(4)),
    44: ("apply_action", _flags(2)), 45: ("downlink_data_service_information", None),
    46: ("downlink_data_notification_delay", None), 47: ("dl_buffering_duration", None),
    48: ("dl_buffering_suggested_packet_count", None), 49: ("pfcpsmreq_flags", _flags(1)),
    50: ("pfcpsrrsp_flags", _flags(1)), 51: ("load_control_information", _G), 52: ("sequence_number", _U32),
    53: ("metric", _U8), 54: ("overload_control_information", _G), 55: ("timer", None),
    56: ("pdr_id", _U16), 57: ("f_seid", (_dec_fseid, _enc_fseid)),
    58: ("application_ids_pfds", _G), 59: ("pfd_context", _G),
    60: ("node_id", (_dec_node_id, _enc_node_id)), 61: ("pfd_contents", None),
    62: ("measurement_method", _flags(1)), 63: ("usage_report_trigger", _flags(3)),
    64: ("measurement_period", _U32), 65: ("fq_csid", None),
    66: ("volume_measurement", (_dec_volume, _enc_volume)), 67: ("duration_measurement", _U32),
    68: ("application_detection_information", _G), 69: ("time_of_first_packet", _U32),
    70: ("time_of_last_packet", _U32), 71: ("quota_holding_time", _U32),
    72: ("dropped_dl_traffic_threshold", None), 73: ("volume_quota", (_dec_volume, _enc_volume)),
    74: ("time_quota", _U32), 75: ("start_time", _U32), 76: ("end_time", _U32),
    77: ("query_urr", _G), 78: ("usage_report_modification", _G), 79: ("usage_report_deletion", _G),
    80: ("usage_report", _G), 81: ("urr_id", _U32), 82: ("linked_urr_id", _U32),
    83: ("downlink_data_report", _G), 84: ("outer_header_creation", (_dec_ohc, _enc_ohc)),
    85: ("create_bar", _G), 86: ("update_bar", _G), 87: ("remove_bar", _G), 88: ("bar_id", _U8),
    89: ("cp_function_features", _flags(1)), 90: ("usage_information", _flags(1)),
    91: ("application_instance_id", None), 92: ("flow_information", None),
    93: ("ue_ip_address", (_dec_ueip, _enc_ueip)), 94: ("packet_rate", None),
    95: ("outer_header_removal", (_dec_ohr, _enc_ohr)), 96: ("recovery_time_stamp", _U32),
    97: ("dl_flow_level_marking", None), 98: ("header_enrichment", None),
    99: ("error_indication_report", _G), 100: ("measurement_information", _flags(1)),
    101: ("node_report_type", _flags(1)), 102: ("user_plane_path_failure_report", _G),
    103: ("remote_gtpu_peer", None), 104: ("ur_seqn", _U32), 105: ("update_duplicating_parameters", _G),
    106: ("activate_predefined_rules", None), 107: ("deactivate_predefined_rules", None),
    108: ("far_id", _U32), 109: ("qer_id", _U32), 110: ("oci_flags", _flags(1)),
    111: ("association_release_request", _flags(1)), 112: ("graceful_release_period", None),
    113: ("pdn_type", _U8), 114: ("failed_rule_id", None), 115: ("time_quota_mechanism", None),
    117: ("user_plane_inactivity_timer", _U32), 118: ("aggregated_urrs", _G),
    119: ("multiplier", None), 120: ("aggregated_urr_id", _U32),
    123: ("rqi", _U8), 124: ("qfi", _Q6), 125: ("query_urr_reference", _U32),
    127: ("create_traffic_endpoint", _G), 128: ("created_traffic_endpoint", _G),
    129: ("update_traffic_endpoint", _G), 130: ("remove_traffic_endpoint", _G),
    131: ("traffic_endpoint_id", _U8), 141: ("user_id", None), 156: ("time_stamp", _U32),
    159: ("apn_dnn", None), 160: ("tgpp_interface_type", _uint(1, 0x3F)),
    # TS 29.244 §6.2.6.2 (Rel-16): PFCP session retention across a CP function restart
    183: ("pfcp_session_retention_information", _G), 184: ("pfcpasrsp_flags", _flags(1)),
    185: ("cp_pfcp_entity_ip_address", (_dec_cpip, _enc_cpip)),
}
_RAW = (_dec_bytes, _enc_bytes)
IE_NAMES: dict[str, int] = {v[0]: k for k, v in IE_TABLE.items()}
GROUPED: frozenset[int] = frozenset(k for k, v in IE_TABLE.items() if v[1] is _G)
CODECS: dict[int, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]] = {
    k: (v[1] if v[1] is not None else _RAW) for k, v in IE_TABLE.items() if v[1] is not _G}
