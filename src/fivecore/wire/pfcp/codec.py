"""PFCP message codec, TS 29.244 §7 (header §7.2.2, IE format §8.1.1), hand-written."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.pfcp.ies import CODECS, GROUPED, IE_NAMES, IE_TABLE, Flags, FSeid, FTeid

PFCP_PORT = 8805
MAX_DEPTH = 8

MESSAGE_TYPES: dict[int, str] = {
    1: "HeartbeatRequest", 2: "HeartbeatResponse", 3: "PFDManagementRequest",
    4: "PFDManagementResponse", 5: "AssociationSetupRequest", 6: "AssociationSetupResponse",
    7: "AssociationUpdateRequest", 8: "AssociationUpdateResponse",
    9: "AssociationReleaseRequest", 10: "AssociationReleaseResponse",
    11: "VersionNotSupportedResponse", 12: "NodeReportRequest", 13: "NodeReportResponse",
    14: "SessionSetDeletionRequest", 15: "SessionSetDeletionResponse",
    50: "SessionEstablishmentRequest", 51: "SessionEstablishmentResponse",
    52: "SessionModificationRequest", 53: "SessionModificationResponse",
    54: "SessionDeletionRequest", 55: "SessionDeletionResponse",
    56: "SessionReportRequest", 57: "SessionReportResponse",
}
MESSAGE_CODES = {v: k for k, v in MESSAGE_TYPES.items()}


def _err(reason: str, off: int = -1) -> DecodeError:
    return DecodeError(reason, off, "PFCP")


@dataclass(frozen=True, slots=True)
class RawIe:
    """An IE of a type this codec does not know (or a vendor IE with ``enterprise_id``), kept
    as received (TS 29.244 §7.6: unknown IEs are ignored, not fatal)."""

    type: int
    data: bytes
    enterprise_id: int | None = None


def _type_of(key: int | str) -> int:
    if isinstance(key, int):
        return key
    t = IE_NAMES.get(key)
    if t is None:
        raise EncodeError(f"unknown PFCP IE name {key!r}")
    return t


class Ies:
    """An ordered list of PFCP IEs: a message body or a grouped IE (Create PDR, PDI, ...).

    Build with keywords (a list value repeats the IE)::

        pdr = Ies(pdr_id=1, precedence=255,
                  pdi=Ies(source_interface=IF_ACCESS, f_teid=FTeid.choose(),
                          network_instance="internet", qfi=1, tgpp_interface_type=IFTYPE_N3_3GPP),
                  outer_header_removal=OuterHeaderRemoval(0), far_id=1, qer_id=1)

    Read with attributes (first occurrence, or None), ``ies.all("create_pdr")`` for repeated
    IEs, and ``ies["f_seid"]`` (KeyError when absent).
    """

    __slots__ = ("items",)

    def __init__(self, items: Iterable[tuple[int | str, Any]] | None = None, **kw: Any) -> None:
        self.items: list[tuple[int, Any]] = []
        for k, v in items or ():
            self.add(k, v)
        if not kw:
            return
        # the SMF builds a dozen of these per PDU session: keep the keyword path tight
        its = self.items
        for k, v in kw.items():
            if v is None:
                continue
            t = IE_NAMES.get(k)
            if t is None:
                raise EncodeError(f"unknown PFCP IE name {k!r}")
            if type(v) is list:
                for x in v:
                    its.append((x.type if type(x) is RawIe else t, x))
            else:
                its.append((v.type if type(v) is RawIe else t, v))

    def add(self, key: int | str, value: Any) -> Ies:
        """Append one IE; returns self so calls chain."""
        self.items.append((_type_of(key) if not isinstance(value, RawIe) else value.type, value))
        return self

    def get(self, key: int | str, default: Any = None) -> Any:
        t = _type_of(key)
        for k, v in self.items:
            if k == t:
                return v
        return default

    def all(self, key: int | str) -> list[Any]:
        t = _type_of(key)
        return [v for k, v in self.items if k == t]

    def __getattr__(self, name: str) -> Any:
        if name in IE_NAMES:
            return self.get(name)
        raise AttributeError(name)

    def __getitem__(self, key: int | str) -> Any:
        t = _type_of(key)
        for k, v in self.items:
            if k == t:
                return v
        raise KeyError(key)

    def __contains__(self, key: int | str) -> bool:
        t = _type_of(key)
        return any(k == t for k, _ in self.items)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for k, v in self.items:
            yield (IE_TABLE[k][0] if k in IE_TABLE else f"ie_{k}"), v

    def __len__(self) -> int:
        return len(self.items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ies) and self.items == other.items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Ies(" + ", ".join(f"{n}={v!r}" for n, v in self) + ")"


@dataclass(slots=True)
class PfcpMessage:
    """A PFCP message (TS 29.244 §7). ``seid`` is None for node-related messages (S=0) and the
    peer's SEID for session-related ones (0 in a Session Establishment Request)."""

    msg_type: str
    seq: int = 0
    seid: int | None = None
    ies: Ies = field(default_factory=Ies)
    priority: int | None = None

    def __post_init__(self) -> None:
        if self.msg_type not in MESSAGE_CODES:
            raise EncodeError(f"unknown PFCP message type {self.msg_type!r}")
        if self.seid is None and MESSAGE_CODES[self.msg_type] >= 50:
            self.seid = 0

    @classmethod
    def build(cls, msg_type: str, *, seq: int = 0, seid: int | None = None,
              priority: int | None = None, **ies: Any) -> PfcpMessage:
        """``PfcpMessage.build("HeartbeatRequest", seq=1, recovery_time_stamp=ts)``."""
        return cls(msg_type, seq, seid, Ies(**ies), priority)

    @property
    def code(self) -> int:
        return MESSAGE_CODES[self.msg_type]

    def __getattr__(self, name: str) -> Any:
        if name in IE_NAMES:
            return self.ies.get(name)
        raise AttributeError(name)

    def to_bytes(self) -> bytes:
        return encode(self)


def _decode_ies(data: bytes, pos: int, end: int, depth: int) -> Ies:
    if depth > MAX_DEPTH:
        raise _err("grouped IEs nested too deep", pos)
    out = _new_ies(Ies)
    out.items = items = []
    memo = _DEC_MEMO
    while pos < end:
        if pos + 4 > end:
            raise _err("IE header truncated", pos)
        t = (data[pos] << 8) | data[pos + 1]
        vs = pos + 4
        ve = vs + ((data[pos + 2] << 8) | data[pos + 3])
        if ve > end:
            raise _err(f"IE type {t} length {ve - vs} overruns its container", pos)
        if t in GROUPED:
            items.append((t, _decode_ies(data, vs, ve, depth + 1)))
            pos = ve
            continue
        if t not in _DEC_NO_MEMO:
            # the whole TLV is the key: type, length and value octets
            tlv = data[pos:ve]
            hit = memo.get(tlv, _MISS)
            if hit is not _MISS:
                items.append((t, hit))
                pos = ve
                continue
        else:
            tlv = None
        if t & 0x8000:
            if ve - vs < 2:
                raise _err("vendor IE without enterprise ID", pos)
            v: Any = RawIe(t, data[vs + 2:ve], (data[vs] << 8) | data[vs + 1])
        else:
            codec = CODECS.get(t)
            if codec is None:
                v = RawIe(t, data[vs:ve])
            else:
                try:
                    v = codec[0](data[vs:ve])
                except DecodeError as exc:
                    raise _err(f"IE {IE_TABLE[t][0]}: {exc.reason}", pos) from None
                except (ValueError, IndexError) as exc:
                    raise _err(f"IE {IE_TABLE[t][0]}: {exc}", pos) from None
        items.append((t, v))
        if tlv is not None:
            if len(memo) >= 4096:
                memo.clear()
            memo[tlv] = v
        pos = ve
    return out


_new_ies = object.__new__
_MISS = object()
#: encoded TLV -> decoded value. Every leaf value type is immutable (int, str, bytes, frozen
#: dataclasses, Flags, RawIe), so equal octets can share one decoded object; most IEs of a
#: session message (interfaces, IDs, network instance, QoS, flags) recur in every session.
_DEC_MEMO: dict[bytes, Any] = {}
#: IE types whose values are per session or per report (F-TEID, F-SEID, UE IP address, Outer
#: Header Creation, measurements, sequence numbers, time stamps): not worth remembering.
_DEC_NO_MEMO = frozenset((21, 57, 66, 67, 69, 70, 75, 76, 84, 93, 104, 156))


def decode(data: bytes | bytearray | memoryview) -> PfcpMessage:
    """Decode one PFCP message (TS 29.244 §7.2.2). Raises :class:`DecodeError` on bad input."""
    data = bytes(data)
    n = len(data)
    if n < 8:
        raise _err("shorter than a PFCP header", 0)
    f = data[0]
    if f >> 5 != 1:
        raise _err(f"PFCP version {f >> 5} not supported", 0)
    if f & 0x04:
        raise _err("follow-on messages (FO) are not supported", 0)
    mt = data[1]
    name = MESSAGE_TYPES.get(mt)
    if name is None:
        raise _err(f"unknown message type {mt}", 1)
    ln = (data[2] << 8) | data[3]
    if ln + 4 != n:
        raise _err(f"length field {ln} does not match {n - 4} octets", 2)
    s = f & 1
    if bool(s) != (mt >= 50):
        raise _err("S flag does not match the message type", 0)
    pos = 4
    seid = None
    if s:
        if n < 16:
            raise _err("SEID header truncated", 4)
        seid = int.from_bytes(data[4:12], "big")
        pos = 12
    seq = (data[pos] << 16) | (data[pos + 1] << 8) | data[pos + 2]
    prio = data[pos + 3] >> 4 if f & 0x02 else None
    msg = PfcpMessage.__new__(PfcpMessage)
    msg.msg_type = name
    msg.seq = seq
    msg.seid = seid
    msg.priority = prio
    msg.ies = _decode_ies(data, pos + 4, n, 0)
    return msg


def _encode_ies(ies: Ies, out: bytearray, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise EncodeError("grouped IEs nested too deep")
    memo = _LEAF_MEMO
    for t, v in ies.items:
        tv = type(v)
        if tv is Ies:
            if t not in GROUPED:
                raise EncodeError(f"IE type {t} is not a grouped IE")
            # encode the members in place and patch the length in afterwards: no copies
            start = len(out)
            out += _PLACEHOLDER
            _encode_ies(v, out, depth + 1)
            n = len(out) - start - 4
            if n > 0xFFFF:
                raise EncodeError("PFCP IE longer than 65535 octets")
            out[start:start + 4] = _TL(t, n)
            continue
        key: tuple[int, type, Any] | None = None
        if tv not in _NOT_MEMOISED:
            key = (t, tv, v)
            try:
                hit = memo.get(key)
            except TypeError:  # an unhashable value: encoded every time
                hit = key = None
            if hit is not None:
                out += hit
                continue
        if tv is RawIe:
            body = v.data if v.enterprise_id is None else v.enterprise_id.to_bytes(2, "big") + v.data
        else:
            codec = CODECS.get(t)
            if codec is None:
                if t in GROUPED:
                    raise EncodeError(f"grouped IE {IE_TABLE[t][0]} needs an Ies value")
                raise EncodeError(f"IE type {t} needs a RawIe value")
            try:
                body = codec[1](v)
            except EncodeError:
                raise
            except (TypeError, ValueError, AttributeError, OverflowError) as exc:
                raise EncodeError(f"PFCP IE {IE_TABLE[t][0]}: bad value {v!r}: {exc}") from exc
        if len(body) > 0xFFFF:
            raise EncodeError("PFCP IE longer than 65535 octets")
        tlv = _TL(t, len(body)) + body
        out += tlv
        if key is not None:
            # most leaf values (interfaces, IDs, network instance, QoS) recur in every
            # session: remember their TLVs; per-session values (F-TEID, F-SEID) are not kept
            if len(memo) >= 4096:
                memo.clear()
            memo[key] = tlv


_TL = struct.Struct("!HH").pack
_PLACEHOLDER = bytes(4)


#: (IE type, value type, value) -> encoded TLV for hashable leaf values (see
#: :func:`_encode_ies`). Flags stay out: equal as ints, they may differ in octet count.
_LEAF_MEMO: dict[tuple[int, type, Any], bytes] = {}
_NOT_MEMOISED = frozenset((Ies, RawIe, FTeid, FSeid, Flags))


def encode(msg: PfcpMessage) -> bytes:
    """Encode a :class:`PfcpMessage` (TS 29.244 §7.2.2)."""
    mt = MESSAGE_CODES.get(msg.msg_type)
    if mt is None:
        raise EncodeError(f"unknown PFCP message type {msg.msg_type!r}")
    if not 0 <= msg.seq < 1 << 24:
        raise EncodeError("PFCP sequence number is 24 bits")
    body = bytearray()
    _encode_ies(msg.ies, body)
    flags = 0x20
    hdr = bytearray()
    if mt >= 50:
        flags |= 1
        hdr += (msg.seid or 0).to_bytes(8, "big")
    elif msg.seid is not None:
        raise EncodeError(f"{msg.msg_type} is node-related and carries no SEID")
    last = 0
    if msg.priority is not None:
        flags |= 0x02
        last = (msg.priority & 0xF) << 4
    hdr += msg.seq.to_bytes(3, "big") + bytes((last,))
    total = len(hdr) + len(body)
    if total > 0xFFFF:
        raise EncodeError("PFCP message longer than 65535 octets")
    return bytes((flags, mt)) + total.to_bytes(2, "big") + bytes(hdr) + bytes(body)


# Mandatory IEs per message (TS 29.244 §7.4, §7.5) and per grouped IE (§7.5.2 ff.).
MANDATORY: dict[str, tuple[str, ...]] = {
    "HeartbeatRequest": ("recovery_time_stamp",),
    "HeartbeatResponse": ("recovery_time_stamp",),
    "AssociationSetupRequest": ("node_id", "recovery_time_stamp"),
    "AssociationSetupResponse": ("node_id", "cause", "recovery_time_stamp"),
    "AssociationUpdateRequest": ("node_id",),
    "AssociationUpdateResponse": ("node_id", "cause"),
    "AssociationReleaseRequest": ("node_id",),
    "AssociationReleaseResponse": ("node_id", "cause"),
    "SessionEstablishmentRequest": ("node_id", "f_seid", "create_pdr", "create_far"),
    "SessionEstablishmentResponse": ("node_id", "cause"),
    "SessionModificationResponse": ("cause",),
    "SessionDeletionResponse": ("cause",),
    "SessionReportRequest": ("report_type",),
    "SessionReportResponse": ("cause",),
}
GROUPED_MANDATORY: dict[str, tuple[str, ...]] = {
    "create_pdr": ("pdr_id", "precedence", "pdi"),
    "pdi": ("source_interface",),
    "create_far": ("far_id", "apply_action"),
    "forwarding_parameters": ("destination_interface",),
    "create_urr": ("urr_id", "measurement_method", "reporting_triggers"),
    "create_qer": ("qer_id", "gate_status"),
    "created_pdr": ("pdr_id",),
    "update_pdr": ("pdr_id",),
    "update_far": ("far_id",),
    "update_urr": ("urr_id",),
    "update_qer": ("qer_id",),
    "remove_pdr": ("pdr_id",),
    "remove_far": ("far_id",),
    "remove_urr": ("urr_id",),
    "remove_qer": ("qer_id",),
    "usage_report": ("urr_id", "ur_seqn", "usage_report_trigger"),
    "usage_report_modification": ("urr_id", "ur_seqn", "usage_report_trigger"),
    "usage_report_deletion": ("urr_id", "ur_seqn", "usage_report_trigger"),
}


def missing_mandatory(msg: PfcpMessage) -> list[tuple[str, int]]:
    """Mandatory IEs absent from ``msg`` and its grouped IEs, as ``(path, IE type)``; the first
    one's type is the Offending IE of a Cause 66 "Mandatory IE missing" answer (TS 29.244 §7.6)."""
    out: list[tuple[str, int]] = []

    def walk(ies: Ies, required: tuple[str, ...], path: str) -> None:
        for name in required:
            if name not in ies:
                out.append((f"{path}{name}", IE_NAMES[name]))
        for name, v in ies:
            if isinstance(v, Ies) and name in GROUPED_MANDATORY:
                walk(v, GROUPED_MANDATORY[name], f"{path}{name}.")
            elif isinstance(v, Ies):
                walk(v, (), f"{path}{name}.")

    walk(msg.ies, MANDATORY.get(msg.msg_type, ()), "")
    return out
