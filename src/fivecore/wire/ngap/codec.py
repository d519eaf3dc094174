"""NGAP codec (TS 38.413 §9, APER per X.691) with plain-data values.

The NGAP-PDU frame, the elementary-procedure header and the ProtocolIE-Container are read
and written here by hand (they are a handful of aligned octets, TS 38.413 §9.4); each IE's
value goes through the APER codec compiled for its type by :mod:`fivecore.wire.ngap.fastper`
when the type is plain enough, else to pycrate's compiled ASN.1 type for that IE (a cached
object, reused), which stays the reference; no pycrate object ever leaves this module. The hand-written frame also handles APER length
fragmentation (X.691 §11.9.3.8) of the open types, which pycrate 0.8.1 cannot decode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from marshal import dumps as _marshal_dumps
from marshal import loads as _marshal_loads
from typing import Any

from pycrate_asn1dir import NGAP as _NGAP
from pycrate_asn1rt.codecs import ASN1CodecPER as _PER
from pycrate_core.charpy import Charpy as _Charpy

from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.ngap import fastper

KINDS = ("initiating", "successful", "unsuccessful")
_KIND_KEYS = ("InitiatingMessage", "SuccessfulOutcome", "UnsuccessfulOutcome")
CRITICALITIES = ("reject", "ignore", "notify")
_CRIT_CODE = {c: i for i, c in enumerate(CRITICALITIES)}
_FRAG = 16384


def _err(reason: str, off: int = -1) -> DecodeError:
    return DecodeError(reason, off, "NGAP")


# ---------------------------------------------------------------------------------------------
# Tables built once from the ASN.1 definitions compiled into pycrate
# ---------------------------------------------------------------------------------------------


class _IeDef:
    __slots__ = ("id", "name", "criticality", "presence", "obj", "type_name", "fast_dec", "fast_enc",
                 "dec_memo", "enc_memo", "_per")

    def __init__(self, ie_id: int, name: str, crit: str, presence: str, obj: Any) -> None:
        self.id = ie_id
        self.name = name
        self.criticality = crit
        self.presence = presence
        self.obj = obj
        self.type_name = obj._typeref.called[1] if obj._typeref is not None else obj.TYPE
        self.fast_dec, self.fast_enc = _fast_codec(obj)
        #: the compiled APER codec (fastper.py) when the type is plain enough, else None;
        #: compiled on first use (see :func:`_per_of`)
        self._per: Any = _UNCOMPILED
        #: raw value octets -> decoded value, and frozen value -> octets (see :func:`_ie_decode`)
        self.dec_memo: dict[bytes, Any] = {}
        self.enc_memo: dict[Any, bytes] = {}


# --- fast paths for the IEs in every UE-associated message ------------------------------------
#
# AMF-UE-NGAP-ID, RAN-UE-NGAP-ID and NAS-PDU are in nearly every PDU and differ in each, so they
# get hand-written APER (X.691 §11.5.7.4 wide constrained INTEGER; §11.9 unconstrained OCTET
# STRING). Every other IE value is encoded or decoded once per distinct value (by fastper.py, or
# pycrate where fastper leaves it): the same cell, GUAMI, NSSAI or QoS flow list recurs for
# every UE, so decoded values (keyed by their octets) and encodings (keyed by the frozen value)
# are memoised per IE. The unit tests check the fast paths, the memo and fastper against plain
# pycrate.

_MEMO_ENTRIES = 4096  # per IE type; cleared when full (values are small: a few hundred KB at most)
_MEMO_MAX_OCTETS = 256


def _fast_codec(obj: Any) -> tuple[Any, Any]:
    if obj.TYPE == "INTEGER":
        cv = getattr(obj, "_const_val", None)
        if cv is None or cv.ext is not None or len(cv.root) != 1 or not hasattr(cv.root[0], "lb"):
            return None, None
        lb, ub = cv.root[0].lb, cv.root[0].ub
        if ub - lb + 1 <= 65536:
            return None, None
        return _wide_int_codec(lb, ub)
    if obj.TYPE == "OCTET STRING" and getattr(obj, "_const_sz", None) is None \
            and getattr(obj, "_const_cont", None) is None:
        return _octets_dec, _octets_enc
    return None, None


def _wide_int_codec(lb: int, ub: int) -> tuple[Any, Any]:
    """X.691 §11.5.7.4 (ALIGNED): a constrained whole number whose range exceeds 64K is a
    length in octets (a bit-field of ceil(log2(max octets)) bits), padding to the octet, then
    the offset from ``lb`` in that many octets."""
    nmax = ((ub - lb).bit_length() + 7) // 8
    shift = 8 - (nmax - 1).bit_length()

    def dec(raw: bytes) -> int:
        if not raw:
            raise _err("INTEGER value missing")
        n = (raw[0] >> shift) + 1
        if len(raw) != n + 1:
            raise _err(f"INTEGER of {n} octets in {len(raw) - 1}")
        v = int.from_bytes(raw[1:], "big") + lb
        if v > ub:
            raise _err(f"INTEGER {v} above its upper bound {ub}")
        return v

    def enc(v: Any) -> bytes:
        if type(v) is not int or not lb <= v <= ub:
            raise EncodeError(f"NGAP INTEGER ({lb}..{ub}): cannot encode {v!r:.80}")
        off = v - lb
        n = (off.bit_length() + 7) // 8 or 1
        return bytes(((n - 1) << shift,)) + off.to_bytes(n, "big")

    return dec, enc


def _octets_dec(raw: bytes) -> bytes:
    value, end = _read_open(raw, 0)
    if end != len(raw):
        raise _err(f"{len(raw) - end} trailing octets after the OCTET STRING")
    return value


def _octets_enc(v: Any) -> bytes:
    if not isinstance(v, bytes | bytearray):
        raise EncodeError(f"NGAP OCTET STRING: cannot encode {v!r:.80}")
    out = bytearray()
    _write_open(out, bytes(v))
    return bytes(out)


_LIST = object()
_DICT = object()


def _freeze(v: Any) -> Any:
    """A hashable key equal exactly when two values encode alike (lists, tuples and dicts kept
    apart: they mean SEQUENCE OF, CHOICE/BIT STRING and SEQUENCE to pycrate)."""
    t = type(v)
    if t is dict:
        return (_DICT, *[(k, _freeze(x)) for k, x in v.items()])
    if t is list:
        return (_LIST, *[_freeze(x) for x in v])
    if t is tuple:
        return tuple([_freeze(x) for x in v])
    if t is int or t is bytes or t is str or v is None or t is bool:
        return (t, v) if t is bool else v
    raise TypeError(t)


def _thaw(v: Any) -> Any:
    """A copy of a memoised value that a caller may change without touching the memo."""
    t = type(v)
    if t is dict:
        return {k: _thaw(x) for k, x in v.items()}
    if t is list:
        return [_thaw(x) for x in v]
    if t is tuple:
        return tuple([_thaw(x) for x in v])
    return v


_MISS = object()
_UNCOMPILED = object()
_PerCodec = tuple[Any, Any] | None


def _per_of(d: _IeDef) -> _PerCodec:
    """The IE type's compiled codec (fastper.py), compiled on first use: most of the ~750 IE
    types of NGAP never occur, and compiling them all would cost every process at import.
    Only after :func:`_keep_transfers_as_bytes` has run (import time), so transfer OCTET
    STRINGs compile as plain octets."""
    per = d._per
    if per is _UNCOMPILED:
        per = d._per = fastper.compile_type(d.obj) if d.fast_dec is None else None
    return per


def _per_decode(per: _PerCodec, obj: Any, raw: bytes) -> Any:
    """The compiled codec (fastper.py) where it applies, else pycrate."""
    if per is not None:
        try:
            return per[1](raw)
        except fastper.Slow:
            pass
    return _asn1_decode(obj, raw)


def _per_encode(per: _PerCodec, obj: Any, v: Any, what: str) -> bytes:
    if per is not None:
        try:
            return per[0](v)
        except fastper.Slow:
            pass
    return _asn1_encode(obj, v, what)


def _ie_decode(d: _IeDef, raw: bytes) -> Any:
    """One IE value (hand-written fast path, memo, compiled codec, or pycrate)."""
    if d.fast_dec is not None:
        return d.fast_dec(raw)
    memo = d.dec_memo
    hit = memo.get(raw, _MISS)
    if hit is not _MISS:
        t = type(hit)
        if t is _Marshalled:
            return _marshal_loads(hit)
        return _thaw(hit[0]) if t is _Thaw else hit
    v = _per_decode(_per_of(d), d.obj, raw)
    if len(raw) <= _MEMO_MAX_OCTETS:
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
        memo[raw] = _memo_entry(v)
    return v


class _Marshalled(bytes):
    """A memoised value with lists or dicts, kept as its marshal octets: loading them builds a
    fresh copy in C, twice as fast as :func:`_thaw`."""

    __slots__ = ()


class _Thaw(tuple):
    """A memoised value marshal cannot hold: copied with :func:`_thaw` on each hit."""

    __slots__ = ()


_SCALARS = (int, str, bytes, bool, type(None))


def _memo_entry(v: Any) -> Any:
    """What the decode memo keeps for ``v``: a scalar as is (it cannot be changed), anything
    else so that each hit hands out a copy the caller may change."""
    if type(v) in _SCALARS:
        return v
    try:
        return _Marshalled(_marshal_dumps(v))
    except ValueError:
        return _Thaw((v,))


def _ie_encode(d: _IeDef, v: Any, what: str) -> bytes:
    if d.fast_enc is not None:
        return d.fast_enc(v)
    try:
        key = _freeze(v)
    except TypeError:
        return _per_encode(_per_of(d), d.obj, v, what)
    memo = d.enc_memo
    raw = memo.get(key)
    if raw is None:
        raw = _per_encode(_per_of(d), d.obj, v, what)
        if len(raw) <= _MEMO_MAX_OCTETS:
            if len(memo) >= _MEMO_ENTRIES:
                memo.clear()
            memo[key] = raw
    return raw


class _MsgDef:
    __slots__ = ("name", "by_id", "by_name", "generic", "order", "mandatory", "headers")

    def __init__(self, name: str, by_id: dict[int, _IeDef], generic: bool) -> None:
        self.name = name
        self.by_id = by_id
        self.by_name = {d.name: d for d in by_id.values()}
        self.order = {d.name: i for i, d in enumerate(by_id.values())}
        self.generic = generic
        self.mandatory = [d.name for d in by_id.values() if d.presence == "mandatory"]
        #: (IE name, criticality) -> the IE's id and criticality octets (TS 38.413 §9.4 ProtocolIE-Field)
        self.headers = {(d.name, c): d.id.to_bytes(2, "big") + bytes((_CRIT_CODE[c] << 6,))
                        for d in by_id.values() for c in CRITICALITIES}


class _ProcDef:
    __slots__ = ("name", "code", "criticality", "messages")

    def __init__(self, name: str, code: int, crit: str) -> None:
        self.name = name
        self.code = code
        self.criticality = crit
        self.messages: dict[int, _MsgDef] = {}


_IE_NAMES: dict[int, str] = {}
_PROC_NAMES: dict[int, str] = {}
for _attr in dir(_NGAP.NGAP_Constants):
    if not _attr.startswith("id_"):
        continue
    _o = getattr(_NGAP.NGAP_Constants, _attr)
    _tr = getattr(_o, "_typeref", None)
    _called = _tr.called[1] if _tr is not None else ""
    if _called == "ProtocolIE-ID":
        _IE_NAMES[_o._val] = _o._name[3:]
    elif _called == "ProcedureCode":
        _PROC_NAMES[_o._val] = _o._name[3:]


def _msg_def(seq: Any) -> _MsgDef:
    name = seq._typeref.called[1] if seq._typeref is not None else seq._name
    cont = seq._cont
    if list(cont.keys()) != ["protocolIEs"]:
        return _MsgDef(name, {}, False)
    field_t = cont["protocolIEs"]._cont
    tab = field_t._cont["value"]._const_tab
    by_id = {}
    for row in tab.get_val().root:
        ie_id = row["id"]
        by_id[ie_id] = _IeDef(ie_id, _IE_NAMES.get(ie_id, f"IE-{ie_id}"), row["criticality"],
                              row["presence"], row["Value"])
    return _MsgDef(name, by_id, True)


_PROCS: dict[int, _ProcDef] = {}
_PROCS_BY_NAME: dict[str, _ProcDef] = {}
_MSG_INDEX: dict[str, tuple[_ProcDef, int]] = {}
for _row in _NGAP.NGAP_PDU_Descriptions.NGAP_ELEMENTARY_PROCEDURES.get_val().root:
    _code = _row["procedureCode"]
    _p = _ProcDef(_PROC_NAMES.get(_code, f"Procedure-{_code}"), _code, _row["criticality"])
    for _i, _k in enumerate(_KIND_KEYS):
        if _k in _row:
            _md = _msg_def(_row[_k])
            _p.messages[_i] = _md
            _MSG_INDEX[_md.name] = (_p, _i)
    _PROCS[_code] = _p
    _PROCS_BY_NAME[_p.name] = _p


def _keep_transfers_as_bytes() -> None:
    """OCTET STRING (CONTAINING ...Transfer) values stay bytes: the AMF relays them to and from
    the SMF unread (TS 38.413 §8.2, TS 29.502), so decoding them would only cost time and lose
    the octets' exact form. :func:`decode_ie` decodes one when an SMF wants to read it."""
    from pycrate_asn1rt.asnobj import ASN1Obj

    seen: set[int] = set()
    stack: list[Any] = [d.obj for p in _PROCS.values() for m in p.messages.values()
                        for d in m.by_id.values()]
    while stack:
        o = stack.pop()
        if not isinstance(o, ASN1Obj) or id(o) in seen:
            continue
        seen.add(id(o))
        if o.TYPE == "OCTET STRING" and o._const_cont is not None:
            o._const_cont = None
        c = getattr(o, "_cont", None)
        if isinstance(c, ASN1Obj):
            stack.append(c)
        elif c is not None and hasattr(c, "values"):
            stack.extend(c.values())
        t = getattr(o, "_const_tab", None)
        if t is not None:
            v = t.get_val()
            for row in list(v.root) + list(v.ext or []):
                stack.extend(row.values())


_keep_transfers_as_bytes()


@dataclass(frozen=True, slots=True)
class RawIe:
    """An IE whose id the procedure's table does not list (TS 38.413 §10.3): value octets
    kept as received so the PDU re-encodes unchanged. A sender may also put a known IE's
    value here already encoded (see :func:`pre_encoded`): it goes on the wire as given."""

    id: int
    data: bytes


# ---------------------------------------------------------------------------------------------
# The PDU
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class NgapPdu:
    """One NGAP PDU, TS 38.413 §9.4.

    ``procedure`` is the elementary procedure's name (``"NGSetup"``, ``"InitialUEMessage"``),
    ``kind`` is ``"initiating"``, ``"successful"`` or ``"unsuccessful"``, ``ies`` maps IE names
    (the id names of TS 38.413 without ``id-``: ``"RAN-UE-NGAP-ID"``, ``"NAS-PDU"``) to values in
    pycrate's ASN.1 value notation (ints, bytes, ``(value, nbits)`` bit strings, ``(alt, value)``
    choices, dicts for sequences; see :mod:`fivecore.wire.ngap.helpers` for builders).
    ``criticality`` and ``ie_criticality`` default to the ASN.1 definitions. A PDU built with
    the constructor puts its IEs in the order of the message's table (TS 38.413 §9.2, as
    §10.3 expects); a decoded one keeps the order on the wire.

    The codec reuses pycrate objects: use it from one thread (the asyncio loop's).
    """

    procedure: str
    kind: str = "initiating"
    ies: dict[str, Any] = field(default_factory=dict)
    criticality: str | None = None
    ie_criticality: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        proc = _PROCS_BY_NAME.get(self.procedure)
        if proc is None:
            raise EncodeError(f"unknown NGAP procedure {self.procedure!r}")
        if self.kind not in KINDS:
            raise EncodeError(f"kind must be one of {KINDS}, got {self.kind!r}")
        md = proc.messages.get(KINDS.index(self.kind))
        if md is None:
            raise EncodeError(f"{self.procedure} has no {self.kind} message")
        if self.criticality is None:
            self.criticality = proc.criticality
        # TS 38.413 §10.3: IEs in the wrong order are an abstract syntax error, so a built PDU
        # follows the table (ASN.1) order;
        # a decoded PDU skips this (it is built with __new__) and keeps the order on the wire.
        # (a copy either way: the caller may reuse its dict)
        order = md.order
        ies = self.ies
        last = -1
        for name in ies:
            i = order.get(name, 1 << 20)
            if i < last:
                ies = dict(sorted(ies.items(), key=lambda kv: order.get(kv[0], 1 << 20)))
                break
            last = i
        else:
            ies = dict(ies)
        self.ies = ies
        crits = self.ie_criticality
        by_name = md.by_name
        for name, v in ies.items():
            if name not in crits:
                d = by_name.get(name)
                if d is None and not isinstance(v, RawIe):
                    raise EncodeError(f"{md.name} has no IE {name!r}")
                crits[name] = d.criticality if d else "ignore"

    @classmethod
    def for_message(cls, message: str, ies: Mapping[str, Any] | None = None) -> NgapPdu:
        """Build by message name, e.g. ``NgapPdu.for_message("NGSetupResponse", {...})``."""
        try:
            proc, kind = _MSG_INDEX[message]
        except KeyError:
            raise EncodeError(f"unknown NGAP message {message!r}") from None
        return cls(proc.name, KINDS[kind], dict(ies or {}))

    @property
    def procedure_code(self) -> int:
        return _PROCS_BY_NAME[self.procedure].code

    @property
    def message(self) -> str:
        """The message's ASN.1 type name, e.g. ``"NGSetupRequest"``."""
        return _PROCS_BY_NAME[self.procedure].messages[KINDS.index(self.kind)].name

    def __getitem__(self, name: str) -> Any:
        return self.ies[name]

    def __contains__(self, name: str) -> bool:
        return name in self.ies

    def get(self, name: str, default: Any = None) -> Any:
        return self.ies.get(name, default)

    def missing_mandatory(self) -> list[str]:
        """Mandatory IEs absent from this PDU (TS 38.413 §10.3, "missing IE")."""
        md = _PROCS_BY_NAME[self.procedure].messages[KINDS.index(self.kind)]
        ies = self.ies
        return [name for name in md.mandatory if name not in ies]

    def to_bytes(self) -> bytes:
        return encode(self)


def pre_encoded(procedure: str, kind: str, name: str, value: Any) -> RawIe:
    """IE ``name`` of a message encoded once, for a sender that repeats the same value in many
    PDUs (a gNB's User Location Information, TS 38.413 §9.3.1.16): put the result in the PDU's
    IEs in place of the value; it encodes to the same octets, without re-encoding each time."""
    proc = _PROCS_BY_NAME.get(procedure)
    md = proc.messages.get(KINDS.index(kind)) if proc is not None and kind in KINDS else None
    d = md.by_name.get(name) if md is not None else None
    if d is None:
        raise EncodeError(f"no IE {name!r} in {procedure} {kind}")
    return RawIe(d.id, _ie_encode(d, value, name))


# ---------------------------------------------------------------------------------------------
# APER primitives
# ---------------------------------------------------------------------------------------------


def _read_open(data: bytes, pos: int) -> tuple[bytes, int]:
    """An open type / octet string with an unconstrained length, X.691 §11.9.3.6-8."""
    # the one- and two-octet length forms (< 16K, X.691 §11.9.3.6/7) are every NGAP IE seen in
    # practice: read them without the fragment loop
    b = data[pos] if pos < len(data) else 0xFF
    if b < 0x80:
        end = pos + 1 + b
        if end <= len(data):
            return data[pos + 1:end], end
    elif b < 0xC0 and pos + 2 <= len(data):
        end = pos + 2 + (((b & 0x3F) << 8) | data[pos + 1])
        if end <= len(data):
            return data[pos + 2:end], end
    return _read_open_fragments(data, pos)


def _read_open_fragments(data: bytes, pos: int) -> tuple[bytes, int]:
    """:func:`_read_open` for fragmented values (X.691 §11.9.3.8) and every error case."""
    n = len(data)
    parts: list[bytes] = []
    while True:
        if pos >= n:
            raise _err("length determinant truncated", pos)
        b = data[pos]
        if b < 0x80:
            ln, pos = b, pos + 1
            last = True
        elif b < 0xC0:
            if pos + 2 > n:
                raise _err("length determinant truncated", pos)
            ln, pos = ((b & 0x3F) << 8) | data[pos + 1], pos + 2
            last = True
        else:
            m = b & 0x3F
            if not 1 <= m <= 4:
                raise _err(f"bad fragment multiplier {m}", pos)
            ln, pos = m * _FRAG, pos + 1
            last = False
        if pos + ln > n:
            raise _err(f"value of {ln} octets overruns the PDU", pos)
        parts.append(data[pos:pos + ln])
        pos += ln
        if last:
            break
    return (parts[0] if len(parts) == 1 else b"".join(parts)), pos


def _write_open(out: bytearray, value: bytes) -> None:
    ln = len(value)
    i = 0
    while ln - i >= _FRAG:
        m = min(4, (ln - i) // _FRAG)
        out.append(0xC0 | m)
        out += value[i:i + m * _FRAG]
        i += m * _FRAG
    rest = ln - i
    if rest < 0x80:
        out.append(rest)
    else:
        out += (0x8000 | rest).to_bytes(2, "big")
    out += value[i:]


def _asn1_decode(obj: Any, data: bytes) -> Any:
    """Decode one complete APER encoding with a cached pycrate object; all bytes must be used."""
    depth = len(_PER._off)
    try:
        char = _Charpy(data)
        obj.from_aper(char)
        if char.len_bit() != 0:
            raise _err(f"{char.len_bit() // 8} trailing octets after {obj._name} value")
        return obj.get_val()
    except DecodeError:
        raise
    except Exception as exc:  # pycrate raises many types (ASN1Err, CharpyErr, assert, ...)
        raise _err(f"invalid {obj._typeref.called[1] if obj._typeref else obj._name}: "
                   f"{type(exc).__name__}: {exc}") from None
    finally:
        del _PER._off[depth:]


def _asn1_encode(obj: Any, value: Any, what: str) -> bytes:
    depth = len(_PER._off)
    try:
        obj.set_val(value)
        return obj.to_aper()
    except Exception as exc:
        raise EncodeError(f"NGAP {what}: cannot encode {value!r:.200}: {exc}") from None
    finally:
        del _PER._off[depth:]


# ---------------------------------------------------------------------------------------------
# decode / encode
# ---------------------------------------------------------------------------------------------


def decode(data: bytes | bytearray | memoryview) -> NgapPdu:
    """Decode one NGAP-PDU (TS 38.413 §9.4, APER). Raises :class:`DecodeError` on bad input."""
    data = bytes(data)
    n = len(data)
    if n < 4:
        raise _err("PDU shorter than the NGAP header", 0)
    b0 = data[0]
    if b0 & 0x80:
        raise _err("NGAP-PDU extension choice not supported", 0)
    if b0 & 0x1F:
        raise _err("non-zero padding bits", 0)
    kind = (b0 >> 5) & 3
    if kind > 2:
        raise _err("NGAP-PDU choice index out of range", 0)
    proc = _PROCS.get(data[1])
    if proc is None:
        raise _err(f"unknown procedure code {data[1]}", 1)
    md = proc.messages.get(kind)
    if md is None:
        raise _err(f"procedure {proc.name} has no {KINDS[kind]} message", 0)
    c = data[2]
    if c & 0x3F or c >> 6 > 2:
        raise _err("bad criticality octet", 2)
    value, end = _read_open(data, 3)
    if end != n:
        raise _err(f"{n - end} trailing octets after the PDU", end)
    base = n - len(value)
    pdu = NgapPdu.__new__(NgapPdu)
    pdu.procedure = proc.name
    pdu.kind = KINDS[kind]
    pdu.criticality = CRITICALITIES[c >> 6]
    if not md.generic:
        pdu.ies = {"value": _asn1_decode(_NGAP.NGAP_PDU_Contents.__dict__[md.name], value)}
        pdu.ie_criticality = {}
        return pdu
    pdu.ies, pdu.ie_criticality = _decode_container(md, value, base)
    return pdu


def _decode_container(md: _MsgDef, value: bytes, base: int) -> tuple[dict[str, Any], dict[str, str]]:
    vn = len(value)
    if vn < 3:
        raise _err("message container truncated", base)
    if value[0] & 0x80:
        raise _err("extension additions in the message container are not supported", base)
    if value[0] & 0x7F:
        raise _err("non-zero padding bits", base)
    count = (value[1] << 8) | value[2]
    pos = 3
    ies: dict[str, Any] = {}
    crits: dict[str, str] = {}
    by_id = md.by_id
    for _ in range(count):
        if pos + 3 > vn:
            raise _err("IE header truncated", base + pos)
        ie_id = (value[pos] << 8) | value[pos + 1]
        c = value[pos + 2]
        if c & 0x3F or c >> 6 > 2:
            raise _err("bad IE criticality octet", base + pos + 2)
        raw, npos = _read_open(value, pos + 3)
        d = by_id.get(ie_id)
        name = d.name if d is not None else _IE_NAMES.get(ie_id, f"IE-{ie_id}")
        if name in ies:
            raise _err(f"IE {name} repeated", base + pos)
        if d is None:
            ies[name] = RawIe(ie_id, raw)
        else:
            try:
                ies[name] = _ie_decode(d, raw)
            except DecodeError as exc:
                raise _err(f"IE {name}: {exc.reason}", base + pos) from None
        crits[name] = CRITICALITIES[c >> 6]
        pos = npos
    if pos != vn:
        raise _err(f"{vn - pos} trailing octets after the IEs", base + pos)
    return ies, crits


def encode(pdu: NgapPdu, *, strict: bool = True) -> bytes:
    """Encode an :class:`NgapPdu` to APER. ``strict`` refuses a PDU missing a mandatory IE."""
    proc = _PROCS_BY_NAME.get(pdu.procedure)
    if proc is None:
        raise EncodeError(f"unknown NGAP procedure {pdu.procedure!r}")
    kind = KINDS.index(pdu.kind)
    md = proc.messages[kind]
    crit = pdu.criticality or proc.criticality
    if not md.generic:
        body = _asn1_encode(_NGAP.NGAP_PDU_Contents.__dict__[md.name], pdu.ies["value"], md.name)
    else:
        if strict:
            missing = pdu.missing_mandatory()
            if missing:
                raise EncodeError(f"{md.name}: mandatory IEs missing: {', '.join(missing)}")
        ies = pdu.ies
        b = bytearray(b"\x00")
        b += len(ies).to_bytes(2, "big")
        by_name = md.by_name
        headers = md.headers
        crits = pdu.ie_criticality
        for name, v in ies.items():
            if isinstance(v, RawIe):
                hdr = v.id.to_bytes(2, "big") + bytes((_CRIT_CODE[crits.get(name, "ignore")] << 6,))
                raw = v.data
            else:
                d = by_name.get(name)
                if d is None:
                    raise EncodeError(f"{md.name} has no IE {name!r}")
                raw = _ie_encode(d, v, name)
                hdr = headers[(name, crits.get(name) or d.criticality)]
            b += hdr
            _write_open(b, raw)
        body = bytes(b)
    out = bytearray((kind << 5, proc.code, _CRIT_CODE[crit] << 6))
    _write_open(out, body)
    return bytes(out)


def downlink_nas_transport(amf_ue_ngap_id: int, ran_ue_ngap_id: int, nas_pdu: bytes) -> bytes:
    """TS 38.413 §9.2.5.2 Downlink NAS Transport with its three mandatory IEs, the message
    of most NAS exchanges: the same octets as ``encode(NgapPdu("DownlinkNASTransport",
    "initiating", {...}))``, written straight from the IE codecs without building the PDU."""
    dl = _DL_NAS
    if dl is None or type(nas_pdu) is not bytes:
        return encode(NgapPdu("DownlinkNASTransport", "initiating", {
            "AMF-UE-NGAP-ID": amf_ue_ngap_id, "RAN-UE-NGAP-ID": ran_ue_ngap_id, "NAS-PDU": nas_pdu}))
    amf_enc, ran_enc, h_amf, h_ran, h_nas, head = dl
    b = bytearray(_DL_NAS_COUNT)
    b += h_amf
    _write_open(b, amf_enc(amf_ue_ngap_id))
    b += h_ran
    _write_open(b, ran_enc(ran_ue_ngap_id))
    b += h_nas
    _write_open(b, _octets_enc(nas_pdu))
    out = bytearray(head)
    _write_open(out, b)
    return bytes(out)


def _dl_nas_parts() -> tuple[Any, ...] | None:
    """The IE encoders and header octets :func:`downlink_nas_transport` writes (None: the
    ASN.1 tables changed shape; the generic encoder is used then)."""
    proc = _PROCS_BY_NAME.get("DownlinkNASTransport")
    md = proc.messages.get(0) if proc is not None else None
    if md is None or not md.generic:
        return None
    ds = [md.by_name.get(n) for n in ("AMF-UE-NGAP-ID", "RAN-UE-NGAP-ID", "NAS-PDU")]
    if any(d is None for d in ds) or \
            not md.order["AMF-UE-NGAP-ID"] < md.order["RAN-UE-NGAP-ID"] < md.order["NAS-PDU"]:
        return None  # the constructor puts IEs in table order; this writes them in that order
    amf, ran, nas = ds
    assert amf is not None and ran is not None and nas is not None
    if amf.fast_enc is None or nas.fast_enc is not _octets_enc:
        return None
    amf_enc = amf.fast_enc
    ran_enc = ran.fast_enc or (lambda v: _ie_encode(ran, v, "RAN-UE-NGAP-ID"))
    head = bytes((0, proc.code, _CRIT_CODE[proc.criticality] << 6))  # type: ignore[union-attr]
    return (amf_enc, ran_enc, md.headers[(amf.name, amf.criticality)], md.headers[(ran.name, ran.criticality)],
            md.headers[(nas.name, nas.criticality)], head)


_DL_NAS_COUNT = b"\x00\x00\x03"  # no extension, three IEs


# ---------------------------------------------------------------------------------------------
# Containers inside OCTET STRINGs (e.g. PDUSessionResourceSetupRequestTransfer)
# ---------------------------------------------------------------------------------------------


def _ie_type(name: str) -> Any:
    obj = getattr(_NGAP.NGAP_IEs, name.replace("-", "_"), None)
    if obj is None:
        raise EncodeError(f"unknown NGAP IE type {name!r}")
    return obj


def decode_ie(type_name: str, data: bytes) -> Any:
    """Decode an APER value of an NGAP-IEs type, e.g. ``"PDUSessionResourceSetupRequestTransfer"``
    (carried as OCTET STRING between AMF and SMF, TS 38.413 §9.3.4). A ProtocolIE-Container
    type comes back as ``{IE name: value}``; other types in pycrate value notation."""
    try:
        obj = _ie_type(type_name)
    except EncodeError as exc:
        raise _err(str(exc)) from None
    data = bytes(data)
    md = _container_def(type_name, obj)
    if md is not None:
        try:
            ies, _crits = _decode_container(md, data, 0)
        except DecodeError:
            ies = None  # let pycrate give its own verdict (and message) on odd input
        if ies is not None and not any(isinstance(v, RawIe) for v in ies.values()):
            return ies
    val = _per_decode(_type_per(type_name, obj), obj, data)
    if isinstance(val, dict) and "protocolIEs" in val:
        out = {}
        for f in val["protocolIEs"]:
            out[_IE_NAMES.get(f["id"], f"IE-{f['id']}")] = f["value"][1]
        return out
    return val


def encode_ie(type_name: str, value: Any) -> bytes:
    """Encode an NGAP-IEs type (inverse of :func:`decode_ie`; dicts of IE names are accepted for
    ProtocolIE-Container types, criticalities filled from the ASN.1 table)."""
    obj = _ie_type(type_name)
    md = _container_def(type_name, obj) if isinstance(value, Mapping) and "protocolIEs" not in value else None
    if md is not None:
        b = bytearray(b"\x00")
        b += len(value).to_bytes(2, "big")
        for name, v in value.items():
            d = md.by_name.get(name)
            if d is None:
                raise EncodeError(f"{type_name} has no IE {name!r}")
            b += d.id.to_bytes(2, "big")
            b.append(_CRIT_CODE[d.criticality] << 6)
            _write_open(b, _ie_encode(d, v, name))
        return bytes(b)
    if isinstance(value, Mapping) and "protocolIEs" not in value and "protocolIEs" in getattr(obj, "_cont", {}):
        tab = obj._cont["protocolIEs"]._cont._cont["value"]._const_tab.get_val().root
        rows = {_IE_NAMES.get(r["id"]): r for r in tab}
        fields = []
        for name, v in value.items():
            r = rows.get(name)
            if r is None:
                raise EncodeError(f"{type_name} has no IE {name!r}")
            tname = r["Value"]._typeref.called[1] if r["Value"]._typeref else r["Value"].TYPE
            fields.append({"id": r["id"], "criticality": r["criticality"], "value": (tname, v)})
        value = {"protocolIEs": fields}
        return _asn1_encode(obj, value, type_name)
    return _per_encode(_type_per(type_name, obj), obj, value, type_name)


_TYPE_PER: dict[str, _PerCodec] = {}


def _type_per(type_name: str, obj: Any) -> _PerCodec:
    """The compiled codec of an NGAP-IEs type (e.g. PDUSessionResourceSetupResponseTransfer)."""
    try:
        return _TYPE_PER[type_name]
    except KeyError:
        per = _TYPE_PER[type_name] = fastper.compile_type(obj)
        return per


_CONTAINERS: dict[str, _MsgDef | None] = {}


def _container_def(type_name: str, obj: Any) -> _MsgDef | None:
    """The IE table of a type that is just ``SEQUENCE { protocolIEs ProtocolIE-Container, ... }``
    (most ...Transfer types): framed by hand like a message, each IE through :func:`_ie_decode`."""
    if type_name not in _CONTAINERS:
        md = None
        if obj.TYPE == "SEQUENCE" and list(obj._cont.keys()) == ["protocolIEs"] and obj._ext == []:
            md = _msg_def(obj)
            md = md if md.generic and md.by_id else None
        _CONTAINERS[type_name] = md
    return _CONTAINERS[type_name]


def procedures() -> dict[str, int]:
    """Every NGAP elementary procedure: name -> procedure code."""
    return {p.name: p.code for p in _PROCS.values()}


def message_names() -> dict[str, tuple[str, str]]:
    """Every NGAP message type name -> (procedure, kind)."""
    return {m: (p.name, KINDS[k]) for m, (p, k) in _MSG_INDEX.items()}


def ie_names(message: str) -> dict[str, str]:
    """IEs of a message type: name -> presence (``mandatory``/``optional``/``conditional``)."""
    p, k = _MSG_INDEX[message]
    return {d.name: d.presence for d in p.messages[k].by_id.values()}


_DL_NAS = _dl_nas_parts()
