"""NAS-5GS message codec, TS 24.501 §8/§9 with the IE formats of TS 24.007 §11.2.

Hand-written and table-driven (see :mod:`fivecore.wire.nas.messages`): a Registration Request
decodes in tens of microseconds, where pycrate's ``parse_NAS5G`` takes over a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.nas.ies import KINDS
from fivecore.wire.nas.messages import (
    EPD_5GMM,
    EPD_5GSM,
    MM_CAUSES,
    MM_MESSAGES,
    SM_CAUSES,
    SM_MESSAGES,
)

_V1, _V, _LV, _LVE, _TV1, _TV, _TLV, _TLVE = range(8)
_FMTS = {"V1": _V1, "V": _V, "LV": _LV, "LV-E": _LVE, "TV1": _TV1, "TV": _TV, "TLV": _TLV,
         "TLV-E": _TLVE}

SECURITY_HEADER_TYPES = {
    0: "plain",
    1: "integrity protected",
    2: "integrity protected and ciphered",
    3: "integrity protected with new 5G NAS security context",
    4: "integrity protected and ciphered with new 5G NAS security context",
}


#: IE kinds whose decoded values are immutable (frozen dataclasses, tuples of them, str) and
#: usually the same in every message of a network (TAI list, NSSAI, timers, QoS rules ...):
#: decoded once per distinct octet string. A UE's own identities and addresses are left out.
_MEMO_KINDS = frozenset({"ue_sec_cap", "sec_algs", "snssai", "nssai", "dnn", "timer3", "timer2",
                         "regresult", "tai_list", "qos_rules", "session_ambr"})
_MEMO_ENTRIES = 1024


def _memoised(dec: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    memo: dict[bytes, Any] = {}

    def dec_memo(b: bytes) -> Any:
        v = memo.get(b, memo)
        if v is memo:
            v = dec(b)  # a malformed value raises here, and is never remembered
            if len(memo) >= _MEMO_ENTRIES:
                memo.clear()
            memo[bytes(b)] = v
        return v

    return dec_memo


_MEMO_DECODERS = {name: _memoised(KINDS[name].dec) for name in _MEMO_KINDS}


class _Ie:
    __slots__ = ("name", "iei", "fmt", "kind", "dec", "enc", "n", "index")

    def __init__(self, row: tuple, index: int) -> None:
        self.name: str | None = row[0]
        self.iei: int | None = row[1]
        self.fmt = _FMTS[row[2]]
        self.kind: str = row[3]
        kind = KINDS[row[3]]
        self.dec = _MEMO_DECODERS.get(row[3], kind.dec)
        self.enc = kind.enc
        self.n: int = row[4] if len(row) > 4 else 0
        self.index = index
        if (self.fmt in (_V1, _TV1)) != kind.half:
            raise AssertionError(f"IE table: {row} format/kind mismatch")


class _Msg:
    __slots__ = ("name", "code", "epd", "mandatory", "by_iei", "by_nibble", "by_name", "cls")

    def __init__(self, name: str, code: int, epd: int, rows: list[tuple]) -> None:
        self.name = name
        self.code = code
        self.epd = epd
        ies = [_Ie(r, i) for i, r in enumerate(rows)]
        self.mandatory = [ie for ie in ies if ie.iei is None]
        self.by_iei: dict[int, _Ie] = {}
        self.by_nibble: dict[int, _Ie] = {}
        for ie in ies:
            if ie.iei is None:
                continue
            d = self.by_nibble if ie.fmt == _TV1 else self.by_iei
            if ie.iei in d:
                raise AssertionError(f"{name}: duplicate IEI {ie.iei:#x}")
            d[ie.iei] = ie
        self.by_name = {ie.name: ie for ie in ies if ie.name}
        self.cls: type[NasMessage] | None = None


_BY_CODE: dict[tuple[int, int], _Msg] = {}
_BY_NAME: dict[str, _Msg] = {}


@dataclass(frozen=True, slots=True)
class RawIe:
    """An optional IE the table does not know, a repeated one, or a syntactically incorrect
    one, kept as received so the message re-encodes unchanged (TS 24.501 §7.6, §7.7.2)."""

    iei: int
    raw: bytes
    # Why a known IE was set aside (syntactically incorrect optional IE, §7.7.2); "" if unknown.
    reason: str = field(default="", compare=False)


class NasMessage:
    """A plain 5GMM or 5GSM message.

    ``message_type`` is the spec's name in CamelCase (``"RegistrationRequest"``; the two status
    messages are ``"5GMMStatus"`` and ``"5GSMStatus"``). IEs are read as attributes or items by
    their snake_case name (``msg.mobile_identity``, ``msg["ngksi"]``); an absent optional IE
    reads as None. 5GSM messages also carry ``pdu_session_id`` and ``pti`` (header fields); in a
    5GMM message (UL/DL NAS Transport) ``pdu_session_id`` is the PDU session ID IE.

    Build with the per-message classes: ``RegistrationRequest(registration_type=...,
    ngksi=..., mobile_identity=...)``, or ``NasMessage("RegistrationRequest", {...})``.
    Keyword-built messages order their optional IEs as the spec's table does; decoded
    messages keep the order on the wire so ``encode(decode(x)) == x``.
    """

    __slots__ = ("message_type", "ies", "_psi", "pti", "_spec")

    MESSAGE_TYPE: str = ""

    def __init__(self, message_type: str, ies: Mapping[str, Any] | None = None, *,
                 pdu_session_id: int | None = None, pti: int = 0, **kw: Any) -> None:
        spec = _BY_NAME.get(message_type)
        if spec is None:
            raise EncodeError(f"unknown NAS message type {message_type!r}")
        given = dict(ies or {})
        if kw:
            given.update(kw)
        if spec.epd == EPD_5GMM and pdu_session_id is not None:
            given["pdu_session_id"] = pdu_session_id
        by_name = spec.by_name
        # one pass: names checked, and the table order kept when the caller already used it
        # (the usual case), so the sort below only runs for out-of-order or None-valued IEs
        last = -1
        in_order = True
        for k, v in given.items():
            ie = by_name.get(k)
            if ie is None:
                if not isinstance(v, RawIe):
                    raise EncodeError(f"{message_type} has no IE {k!r}")
                i = 1 << 20
            else:
                i = ie.index
            if v is None or i < last:
                in_order = False
            last = i
        if in_order:
            ordered = given
        else:
            # table order (by_name is in table order), then IEs the table does not know as given
            ordered = {}
            for k in by_name:
                v = given.get(k)
                if v is not None:
                    ordered[k] = v
            if len(ordered) < len(given):
                for k, v in given.items():
                    if k not in by_name and v is not None:
                        ordered[k] = v
        self.message_type = message_type
        self.ies: dict[str, Any] = ordered
        self._psi = pdu_session_id or 0
        self.pti = pti
        self._spec = spec

    @property
    def pdu_session_id(self) -> int | None:
        """5GSM: the header's PDU session identity; 5GMM: the PDU session ID IE (or None)."""
        if self._spec.epd == EPD_5GSM:
            return self._psi
        return self.ies.get("pdu_session_id")

    @pdu_session_id.setter
    def pdu_session_id(self, value: int) -> None:
        if self._spec.epd == EPD_5GSM:
            self._psi = value
        else:
            self.ies["pdu_session_id"] = value

    @property
    def epd(self) -> int:
        """Extended protocol discriminator: 0x7E (5GMM) or 0x2E (5GSM)."""
        return self._spec.epd

    @property
    def code(self) -> int:
        """Message type octet."""
        return self._spec.code

    @property
    def is_5gsm(self) -> bool:
        return self._spec.epd == EPD_5GSM

    @property
    def cause_text(self) -> str | None:
        c = self.ies.get("cause")
        if c is None:
            return None
        return (SM_CAUSES if self.is_5gsm else MM_CAUSES).get(c, f"cause #{c}")

    def __getattr__(self, name: str) -> Any:
        try:
            spec = object.__getattribute__(self, "_spec")
        except AttributeError:
            raise AttributeError(name) from None
        if name in spec.by_name:
            return self.ies.get(name)
        raise AttributeError(f"{self.message_type} has no IE {name!r}")

    def __getitem__(self, name: str) -> Any:
        return self.ies[name]

    def __contains__(self, name: str) -> bool:
        return name in self.ies

    def get(self, name: str, default: Any = None) -> Any:
        return self.ies.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ies)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NasMessage):
            return NotImplemented
        return (self.message_type == other.message_type and self.ies == other.ies
                and (not self.is_5gsm or (self.pdu_session_id, self.pti)
                     == (other.pdu_session_id, other.pti)))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        hdr = f"psi={self.pdu_session_id}, pti={self.pti}, " if self.is_5gsm else ""
        body = ", ".join(f"{k}={v!r}" for k, v in self.ies.items())
        return f"{self.message_type}({hdr}{body})"

    def to_bytes(self) -> bytes:
        return encode(self)


@dataclass(slots=True)
class SecurityProtectedNasMessage:
    """A security-protected 5GMM message, TS 24.501 §9.1.1 / §4.4.

    ``mac`` (4 octets) covers ``mac_input`` (the sequence number and the payload); ciphering and
    MAC computation live in :mod:`fivecore.security`. ``payload`` is the (possibly ciphered)
    plain NAS message; :meth:`plain` decodes it when it is not ciphered (or after deciphering).
    """

    security_header_type: int
    mac: bytes
    sqn: int
    payload: bytes

    message_type = "SecurityProtected"

    @property
    def ciphered(self) -> bool:
        return self.security_header_type in (2, 4)

    @property
    def new_context(self) -> bool:
        return self.security_header_type in (3, 4)

    @property
    def mac_int(self) -> int:
        return int.from_bytes(self.mac, "big")

    @property
    def mac_input(self) -> bytes:
        """The octets the NAS MAC is computed over: SQN || payload (TS 24.501 §4.4.3.3)."""
        return bytes((self.sqn,)) + self.payload

    def plain(self, payload: bytes | None = None) -> NasMessage:
        """Decode the inner plain message (``payload`` overrides, e.g. deciphered bytes)."""
        inner = decode(self.payload if payload is None else payload, _offset=7)
        if not isinstance(inner, NasMessage):
            raise DecodeError("security-protected message nests another protected one", 7, "NAS")
        return inner

    def to_bytes(self) -> bytes:
        return encode(self)


def _err(reason: str, off: int) -> DecodeError:
    return DecodeError(reason, off, "NAS")


def decode(data: bytes | bytearray | memoryview, *, _offset: int = 0) -> NasMessage | SecurityProtectedNasMessage:
    """Decode one NAS-5GS message (TS 24.501 §8, §9.1).

    Returns a :class:`NasMessage` (plain 5GMM or 5GSM) or a
    :class:`SecurityProtectedNasMessage`; raises :class:`DecodeError` on any malformed input.
    """
    data = bytes(data)
    n = len(data)
    if n < 3:
        raise _err("message shorter than a NAS header", _offset)
    epd = data[0]
    if epd == EPD_5GMM:
        sht = data[1] & 0x0F
        if sht:
            if sht > 4:
                raise _err(f"reserved security header type {sht}", _offset + 1)
            if n < 8:
                raise _err("security-protected header truncated", _offset + n)
            return SecurityProtectedNasMessage(sht, data[2:6], data[6], data[7:])
        spec = _BY_CODE.get((EPD_5GMM, data[2]))
        if spec is None:
            raise _err(f"unknown 5GMM message type {data[2]:#04x}", _offset + 2)
        msg = NasMessage.__new__(spec.cls)
        msg._psi = 0
        msg.pti = 0
        pos = 3
    elif epd == EPD_5GSM:
        if n < 4:
            raise _err("5GSM header truncated", _offset + n)
        spec = _BY_CODE.get((EPD_5GSM, data[3]))
        if spec is None:
            raise _err(f"unknown 5GSM message type {data[3]:#04x}", _offset + 3)
        msg = NasMessage.__new__(spec.cls)
        msg._psi = data[1]
        msg.pti = data[2]
        pos = 4
    else:
        raise _err(f"unknown extended protocol discriminator {epd:#04x}", _offset)
    msg.message_type = spec.name
    msg._spec = spec
    msg.ies = _decode_ies(spec, data, pos, _offset)
    return msg


def _decode_ies(spec: _Msg, data: bytes, pos: int, base: int) -> dict[str, Any]:
    ies: dict[str, Any] = {}
    n = len(data)
    half = -1
    for ie in spec.mandatory:
        f = ie.fmt
        if f == _V1:
            if half < 0:
                if pos >= n:
                    raise _err(f"mandatory IE {ie.name or 'spare'} missing", base + pos)
                o = data[pos]
                pos += 1
                val, half = o & 0xF, o >> 4
            else:
                val, half = half, -1
            if ie.name:
                ies[ie.name] = ie.dec(val)
            continue
        if f == _V:
            if pos >= n:
                raise _err(f"mandatory IE {ie.name} missing", base + pos)
            start = pos
        elif f == _LV:
            if pos >= n:
                raise _err(f"mandatory IE {ie.name} missing", base + pos)
            start = pos + 1
        else:  # LV-E
            if pos + 2 > n:
                raise _err(f"mandatory IE {ie.name} missing", base + pos)
            start = pos + 2
        ln = ie.n if f == _V else (data[pos] if f == _LV else (data[pos] << 8) | data[pos + 1])
        end = start + ln
        if end > n:
            raise _err(f"IE {ie.name} length {ln} overruns the message", base + pos)
        try:
            ies[ie.name] = ie.dec(data[start:end])  # type: ignore[index]
        except DecodeError as exc:
            raise _err(f"IE {ie.name}: {exc.reason}", base + start + max(exc.offset, 0)) from None
        except (ValueError, IndexError) as exc:  # a value decoder's bug must not escape
            raise _err(f"IE {ie.name}: {exc}", base + start) from None
        pos = end
    by_iei = spec.by_iei
    by_nib = spec.by_nibble
    unknown = 0
    while pos < n:
        t = data[pos]
        ie = by_iei.get(t)
        if ie is None and t & 0x80:
            ie = by_nib.get(t & 0xF0)
        if ie is None or ie.name in ies:
            # TS 24.007 §11.2.4 / TS 24.501 §7.6: bit 8 set = one-octet IE; 0x7- = TLV-E.
            if t & 0x80:
                end = pos + 1
            elif t & 0xF0 == 0x70:
                if pos + 3 > n:
                    raise _err("unknown TLV-E IE truncated", base + pos)
                end = pos + 3 + ((data[pos + 1] << 8) | data[pos + 2])
            else:
                if pos + 2 > n:
                    raise _err("unknown TLV IE truncated", base + pos)
                end = pos + 2 + data[pos + 1]
            if end > n:
                raise _err(f"unknown IE {t:#04x} overruns the message", base + pos)
            ies[f"_unknown{unknown}"] = RawIe(t, data[pos:end])
            unknown += 1
            pos = end
            continue
        f = ie.fmt
        if f == _TV1:
            ies[ie.name] = ie.dec(t & 0xF)  # type: ignore[index]
            pos += 1
            continue
        if f == _TV:
            start = pos + 1
            end = start + ie.n
        elif f == _TLV:
            if pos + 2 > n:
                raise _err(f"IE {ie.name} truncated", base + pos)
            start = pos + 2
            end = start + data[pos + 1]
        else:  # TLV-E
            if pos + 3 > n:
                raise _err(f"IE {ie.name} truncated", base + pos)
            start = pos + 3
            end = start + ((data[pos + 1] << 8) | data[pos + 2])
        if end > n:
            raise _err(f"IE {ie.name} overruns the message", base + pos)
        try:
            ies[ie.name] = ie.dec(data[start:end])  # type: ignore[index]
        except (DecodeError, ValueError, IndexError) as exc:
            # TS 24.501 §7.7.2: a syntactically incorrect optional IE is treated as absent;
            # its octets are kept so the message still re-encodes unchanged.
            reason = exc.reason if isinstance(exc, DecodeError) else str(exc)
            ies[f"_invalid{unknown}"] = RawIe(t, data[pos:end], f"{ie.name}: {reason}")
            unknown += 1
        pos = end
    return ies


def encode(msg: NasMessage | SecurityProtectedNasMessage) -> bytes:
    """Encode a NAS-5GS message (TS 24.501 §8); raises :class:`EncodeError`."""
    if isinstance(msg, SecurityProtectedNasMessage):
        if not 1 <= msg.security_header_type <= 4 or len(msg.mac) != 4 or not 0 <= msg.sqn <= 255:
            raise EncodeError("bad security-protected NAS header")
        return bytes((EPD_5GMM, msg.security_header_type)) + bytes(msg.mac) + \
            bytes((msg.sqn,)) + bytes(msg.payload)
    spec = msg._spec
    ies = msg.ies
    if spec.epd == EPD_5GMM:
        out = bytearray((EPD_5GMM, 0, spec.code))
    else:
        if not (0 <= msg._psi <= 255 and 0 <= msg.pti <= 255):
            raise EncodeError("PDU session ID / PTI out of range")
        out = bytearray((EPD_5GSM, msg._psi, msg.pti, spec.code))
    half = -1
    name = ""
    try:
        for ie in spec.mandatory:
            name = ie.name or "spare"
            if ie.name is not None and ie.name not in ies:
                raise EncodeError(f"{spec.name}: mandatory IE {ie.name!r} missing")
            f = ie.fmt
            if f == _V1:
                val = 0 if ie.name is None else ie.enc(ies[ie.name])
                if half < 0:
                    half = val
                else:
                    out.append((val << 4) | half)
                    half = -1
                continue
            if half >= 0:
                out.append(half)
                half = -1
            body = ie.enc(ies[ie.name])
            _put(out, f, body, ie, spec.name)
        if half >= 0:
            out.append(half)
        for key, v in ies.items():
            if isinstance(v, RawIe):
                out += v.raw
                continue
            ie = spec.by_name[key]
            if ie.iei is None:
                continue
            name = key
            f = ie.fmt
            if f == _TV1:
                out.append(ie.iei | ie.enc(v))
                continue
            out.append(ie.iei)
            _put(out, f, ie.enc(v), ie, spec.name)
    except EncodeError:
        raise
    except (TypeError, ValueError, AttributeError, OverflowError, KeyError) as exc:
        raise EncodeError(f"{spec.name}: bad value for IE {name!r}: {exc}") from exc
    return bytes(out)


def _put(out: bytearray, f: int, body: bytes, ie: _Ie, msg: str) -> None:
    ln = len(body)
    if f in (_V, _TV):
        if ln != ie.n:
            raise EncodeError(f"{msg}: IE {ie.name} must be {ie.n} octets")
    elif f in (_LV, _TLV):
        if ln > 255:
            raise EncodeError(f"{msg}: IE {ie.name} longer than 255 octets")
        out.append(ln)
    else:
        if ln > 0xFFFF:
            raise EncodeError(f"{msg}: IE {ie.name} longer than 65535 octets")
        out += ln.to_bytes(2, "big")
    out += body


def message_types() -> dict[str, tuple[int, int]]:
    """All supported messages: name -> (EPD, message type octet)."""
    return {m.name: (m.epd, m.code) for m in _BY_NAME.values()}


def ie_names(message_type: str) -> list[str]:
    """The IE names a message type knows, in table order (for builders and tools)."""
    spec = _BY_NAME[message_type]
    return list(spec.by_name)


def _make_class(spec: _Msg) -> type[NasMessage]:
    mt = spec.name

    def __init__(self: NasMessage, ies: Mapping[str, Any] | None = None, *,
                 pdu_session_id: int | None = None, pti: int = 0, **kw: Any) -> None:
        NasMessage.__init__(self, mt, ies, pdu_session_id=pdu_session_id, pti=pti, **kw)

    cname = mt.replace("5GMM", "FiveGMM").replace("5GSM", "FiveGSM")
    doc = f"TS 24.501 {'§8.2' if spec.epd == EPD_5GMM else '§8.3'} — {mt}. IEs: " + \
        ", ".join(spec.by_name)
    cls = type(cname, (NasMessage,), {"__slots__": (), "MESSAGE_TYPE": mt, "__init__": __init__,
                                       "__doc__": doc, "__module__": "fivecore.wire.nas"})
    spec.cls = cls
    return cls


for _epd, _table in ((EPD_5GMM, MM_MESSAGES), (EPD_5GSM, SM_MESSAGES)):
    for _code, (_name, _rows) in _table.items():
        _m = _Msg(_name, _code, _epd, _rows)
        _BY_CODE[(_epd, _code)] = _m
        _BY_NAME[_name] = _m

MESSAGE_CLASSES: dict[str, type[NasMessage]] = {m.name: _make_class(m) for m in _BY_NAME.values()}
