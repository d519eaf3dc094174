"""Typed NAS-5GS information elements (TS 24.501 §9.11) and their value codecs.

Each typed IE is a frozen dataclass with the fields the network reads, a builder-friendly
constructor, and a codec pair registered in :data:`KINDS`: ``dec(contents) -> value`` and
``enc(value) -> contents``, where *contents* are the IE's value octets without IEI and length
(the message codec in :mod:`fivecore.wire.nas.codec` handles the T/L framing).

IEs the network only forwards (or never reads) stay ``bytes``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fivecore.wire.errors import DecodeError, EncodeError

# ---------------------------------------------------------------------------------------------
# BCD and PLMN helpers (TS 24.008 §10.5.1.3, TS 24.501 §9.11.3.4)
# ---------------------------------------------------------------------------------------------

_DIGITS = "0123456789"


# A network sees a handful of PLMNs, in nearly every message: both conversions are remembered
# (valid ones only, and a bounded number, so hostile input cannot grow them).
_PLMN_CACHE_MAX = 256
_PLMN_BYTES: dict[str, bytes] = {}
_PLMN_STR: dict[bytes, str] = {}


def plmn_to_bytes(plmn: str) -> bytes:
    """Encode a PLMN string ``"00101"`` / ``"310410"`` as 3 BCD octets (TS 24.008 §10.5.1.3)."""
    hit = _PLMN_BYTES.get(plmn) if type(plmn) is str else None
    if hit is not None:
        return hit
    if len(plmn) not in (5, 6) or not plmn.isdigit():
        raise EncodeError(f"PLMN must be 5 or 6 digits, got {plmn!r}")
    d = [int(c) for c in plmn]
    mnc3 = d[5] if len(d) == 6 else 0xF
    out = bytes(((d[1] << 4) | d[0], (mnc3 << 4) | d[2], (d[4] << 4) | d[3]))
    if type(plmn) is str and len(_PLMN_BYTES) < _PLMN_CACHE_MAX:
        _PLMN_BYTES[plmn] = out
    return out


def plmn_from_bytes(b: bytes, off: int = 0) -> str:
    """Decode 3 BCD octets into ``"MCCMNC"``; raises DecodeError on non-decimal digits."""
    if len(b) < off + 3:
        raise DecodeError("PLMN identity truncated", off)
    key = bytes(b[off:off + 3])
    hit = _PLMN_STR.get(key)
    if hit is not None:
        return hit
    o1, o2, o3 = b[off], b[off + 1], b[off + 2]
    ds = (o1 & 0xF, o1 >> 4, o2 & 0xF, o3 & 0xF, o3 >> 4)
    mnc3 = o2 >> 4
    if any(x > 9 for x in ds) or (mnc3 > 9 and mnc3 != 0xF):
        raise DecodeError("PLMN identity has a non-decimal digit", off)
    s = "".join(_DIGITS[x] for x in ds)
    s = s if mnc3 == 0xF else s + _DIGITS[mnc3]
    if len(_PLMN_STR) < _PLMN_CACHE_MAX:
        _PLMN_STR[key] = s
    return s


def bcd_encode(digits: str, filler: int = 0xF) -> bytes:
    """Pack decimal digits two per octet, low nibble first, odd count padded with ``filler``."""
    if not digits.isdigit() and digits:
        raise EncodeError(f"not a digit string: {digits!r}")
    out = bytearray()
    for i in range(0, len(digits), 2):
        lo = int(digits[i])
        hi = int(digits[i + 1]) if i + 1 < len(digits) else filler
        out.append((hi << 4) | lo)
    return bytes(out)


def bcd_decode(b: bytes) -> str:
    """Unpack BCD digits (low nibble first); a trailing 0xF filler ends the string."""
    out = []
    n = len(b)
    for i, o in enumerate(b):
        lo, hi = o & 0xF, o >> 4
        if lo > 9:
            raise DecodeError("BCD digit out of range", i)
        out.append(_DIGITS[lo])
        if hi == 0xF and i == n - 1:
            break
        if hi > 9:
            raise DecodeError("BCD digit out of range", i)
        out.append(_DIGITS[hi])
    return "".join(out)


def _need(b: bytes, n: int, what: str) -> None:
    if len(b) < n:
        raise DecodeError(f"{what}: {len(b)} octets, need at least {n}")


def _exact(b: bytes, n: int, what: str) -> None:
    if len(b) != n:
        raise DecodeError(f"{what}: {len(b)} octets, expected {n}")


# ---------------------------------------------------------------------------------------------
# Half-octet IEs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NgKsi:
    """NAS key set identifier, TS 24.501 §9.11.3.32. ``ksi`` 7 = no key is available."""

    tsc: int = 0
    ksi: int = 7

    NO_KEY = 7


@dataclass(frozen=True, slots=True)
class RegistrationType:
    """5GS registration type, TS 24.501 §9.11.3.7 (1 initial, 2 mobility, 3 periodic, 4 emergency)."""

    value: int = 1
    follow_on: bool = False

    INITIAL = 1
    MOBILITY = 2
    PERIODIC = 3
    EMERGENCY = 4


@dataclass(frozen=True, slots=True)
class DeregistrationType:
    """De-registration type, TS 24.501 §9.11.3.20 (access type 1 3GPP, 2 non-3GPP, 3 both)."""

    switch_off: bool = False
    re_registration_required: bool = False
    access_type: int = 1


def _dec_ngksi(v: int) -> NgKsi:
    return NgKsi((v >> 3) & 1, v & 7)


def _enc_ngksi(v: NgKsi) -> int:
    return ((v.tsc & 1) << 3) | (v.ksi & 7)


def _dec_regtype(v: int) -> RegistrationType:
    return RegistrationType(v & 7, bool(v & 8))


def _enc_regtype(v: RegistrationType) -> int:
    return (8 if v.follow_on else 0) | (v.value & 7)


def _dec_dereg(v: int) -> DeregistrationType:
    return DeregistrationType(bool(v & 8), bool(v & 4), v & 3)


def _enc_dereg(v: DeregistrationType) -> int:
    return (8 if v.switch_off else 0) | (4 if v.re_registration_required else 0) | (v.access_type & 3)


def _dec_nibble(v: int) -> int:
    return v


def _enc_nibble(v: int) -> int:
    if not 0 <= int(v) <= 15:
        raise EncodeError(f"half-octet value out of range: {v}")
    return int(v)


# ---------------------------------------------------------------------------------------------
# 5GS mobile identity, TS 24.501 §9.11.3.4
# ---------------------------------------------------------------------------------------------

_MI_TYPES = {0: "none", 1: "suci", 2: "guti", 3: "imei", 4: "s-tmsi", 5: "imeisv", 6: "mac", 7: "eui64"}
_MI_CODES = {v: k for k, v in _MI_TYPES.items()}


@dataclass(frozen=True, slots=True, repr=False)
class MobileIdentity:
    """5GS mobile identity, TS 24.501 §9.11.3.4.

    ``type`` is one of ``"none" "suci" "guti" "imei" "s-tmsi" "imeisv" "mac" "eui64"``. Build
    with the class methods (:meth:`suci_null`, :meth:`suci_ecies`, :meth:`guti`, :meth:`s_tmsi`,
    :meth:`imei`, :meth:`imeisv`, :meth:`no_identity`).

    SUCI fields (TS 23.003 §2.2B): ``supi_format`` (0 IMSI, 1 NAI), ``plmn``,
    ``routing_indicator`` (1-4 digits), ``protection_scheme`` (0 null, 1 profile A, 2 profile B),
    ``hn_key_id`` and ``scheme_output`` (for the null scheme the MSIN in BCD; for profiles A/B
    the ECIES output: ephemeral public key || ciphertext || MAC tag). For NAI-format SUCIs
    ``nai`` holds the string.
    """

    type: str
    plmn: str = ""
    supi_format: int = 0
    routing_indicator: str = "0000"
    protection_scheme: int = 0
    hn_key_id: int = 0
    scheme_output: bytes = b""
    nai: str = ""
    amf_region_id: int = 0
    amf_set_id: int = 0
    amf_pointer: int = 0
    tmsi: int = 0
    digits: str = ""
    raw: bytes = b""
    # Spare bits of octet 3 as received (kept so re-encoding is byte-exact; not compared).
    spare: int | None = field(default=None, compare=False, repr=False)

    # -- builders -------------------------------------------------------------------------
    @classmethod
    def suci_null(cls, plmn: str, msin: str, routing_indicator: str = "0000") -> MobileIdentity:
        """A SUCI with the null protection scheme: the MSIN travels in clear (BCD)."""
        return cls("suci", plmn=plmn, routing_indicator=routing_indicator, protection_scheme=0,
                   hn_key_id=0, scheme_output=bcd_encode(msin))

    @classmethod
    def suci_ecies(cls, plmn: str, scheme: int, hn_key_id: int, scheme_output: bytes,
                   routing_indicator: str = "0000") -> MobileIdentity:
        """A SUCI concealed with ECIES profile A (scheme 1) or B (scheme 2), TS 33.501 Annex C."""
        return cls("suci", plmn=plmn, routing_indicator=routing_indicator,
                   protection_scheme=scheme, hn_key_id=hn_key_id, scheme_output=bytes(scheme_output))

    @classmethod
    def guti(cls, plmn: str, amf_region_id: int, amf_set_id: int, amf_pointer: int,
             tmsi: int) -> MobileIdentity:
        """A 5G-GUTI (TS 23.003 §2.10)."""
        return cls("guti", plmn=plmn, amf_region_id=amf_region_id, amf_set_id=amf_set_id,
                   amf_pointer=amf_pointer, tmsi=tmsi)

    @classmethod
    def s_tmsi(cls, amf_set_id: int, amf_pointer: int, tmsi: int) -> MobileIdentity:
        """A 5G-S-TMSI (TS 23.003 §2.11)."""
        return cls("s-tmsi", amf_set_id=amf_set_id, amf_pointer=amf_pointer, tmsi=tmsi)

    @classmethod
    def imei(cls, digits: str) -> MobileIdentity:
        return cls("imei", digits=digits)

    @classmethod
    def imeisv(cls, digits: str) -> MobileIdentity:
        return cls("imeisv", digits=digits)

    @classmethod
    def no_identity(cls) -> MobileIdentity:
        return cls("none")

    # -- readers --------------------------------------------------------------------------
    def relevant(self) -> dict[str, Any]:
        """The fields that mean something for this identity type (for logs and tools)."""
        names = _MI_FIELDS.get(self.type, ("raw",))
        if self.type == "suci" and self.supi_format != 0:
            names = ("supi_format", "nai")
        return {n: getattr(self, n) for n in ("type", *names)}

    def __repr__(self) -> str:
        return "MobileIdentity(" + ", ".join(f"{k}={v!r}" for k, v in self.relevant().items()) + ")"

    @property
    def msin(self) -> str | None:
        """The MSIN of a null-scheme IMSI SUCI, else None."""
        if self.type != "suci" or self.supi_format != 0 or self.protection_scheme != 0:
            return None
        try:
            return bcd_decode(self.scheme_output)
        except DecodeError:
            return None

    def ecies_parts(self) -> tuple[bytes, bytes, bytes] | None:
        """(ephemeral public key, ciphertext, MAC tag) of a profile A/B SUCI (TS 33.501 C.3.4:
        X25519 key 32 octets, compressed P-256 point 33 octets, MAC tag 8 octets), else None."""
        if self.type != "suci" or self.supi_format != 0 or self.protection_scheme not in (1, 2):
            return None
        klen = 32 if self.protection_scheme == 1 else 33
        out = self.scheme_output
        if len(out) < klen + 8:
            return None
        return out[:klen], out[klen:-8], out[-8:]

    @property
    def supi(self) -> str | None:
        """``imsi-<MCC><MNC><MSIN>`` for a null-scheme SUCI (TS 23.003 §2.2A), else None."""
        m = self.msin
        return None if m is None else f"imsi-{self.plmn}{m}"

    def suci_string(self) -> str:
        """SUCI in the TS 29.503 string form ``suci-0-<mcc>-<mnc>-<ri>-<scheme>-<keyid>-<output>``."""
        if self.type != "suci":
            raise EncodeError("not a SUCI")
        if self.supi_format != 0:
            return f"suci-{self.supi_format}-{self.nai}"
        out = self.msin if self.protection_scheme == 0 else self.scheme_output.hex()
        return (f"suci-0-{self.plmn[:3]}-{self.plmn[3:]}-{self.routing_indicator}-"
                f"{self.protection_scheme}-{self.hn_key_id}-{out}")

    def guti_string(self) -> str:
        """5G-GUTI as ``<plmn>-<region:02x>-<set:03x>-<ptr:02x>-<tmsi:08x>`` (for logs and keys)."""
        return (f"{self.plmn}-{self.amf_region_id:02x}-{self.amf_set_id:03x}-"
                f"{self.amf_pointer:02x}-{self.tmsi:08x}")


_MI_FIELDS = {
    "suci": ("supi_format", "plmn", "routing_indicator", "protection_scheme", "hn_key_id",
             "scheme_output"),
    "guti": ("plmn", "amf_region_id", "amf_set_id", "amf_pointer", "tmsi"),
    "s-tmsi": ("amf_set_id", "amf_pointer", "tmsi"),
    "imei": ("digits",),
    "imeisv": ("digits",),
    "none": (),
}


def _ri_encode(ri: str) -> bytes:
    if not 1 <= len(ri) <= 4 or not ri.isdigit():
        raise EncodeError(f"routing indicator must be 1-4 digits: {ri!r}")
    d = [int(c) for c in ri] + [0xF] * (4 - len(ri))
    return bytes(((d[1] << 4) | d[0], (d[3] << 4) | d[2]))


def _ri_decode(b: bytes) -> str:
    d = [b[0] & 0xF, b[0] >> 4, b[1] & 0xF, b[1] >> 4]
    out = []
    for i, x in enumerate(d):
        if x == 0xF:
            if any(y != 0xF for y in d[i:]) or i == 0:
                raise DecodeError("routing indicator has a misplaced filler")
            break
        if x > 9:
            raise DecodeError("routing indicator digit out of range")
        out.append(_DIGITS[x])
    return "".join(out)


def dec_mobile_identity(b: bytes) -> MobileIdentity:
    """TS 24.501 §9.11.3.4."""
    _need(b, 1, "5GS mobile identity")
    o3 = b[0]
    t = o3 & 7
    kind = _MI_TYPES[t]
    if kind == "suci":
        fmt = (o3 >> 4) & 7
        if fmt != 0:
            return MobileIdentity("suci", supi_format=fmt,
                                  nai=b[1:].decode("utf-8", "surrogateescape"), spare=o3 & 0x88)
        _need(b, 8, "SUCI")
        return MobileIdentity(
            "suci", plmn=plmn_from_bytes(b, 1), routing_indicator=_ri_decode(b[4:6]),
            protection_scheme=b[6] & 0xF, hn_key_id=b[7], scheme_output=bytes(b[8:]),
            spare=(o3 & 0x88) | (b[6] & 0xF0))
    if kind == "guti":
        _exact(b, 11, "5G-GUTI")
        sp = int.from_bytes(b[5:7], "big")
        return MobileIdentity("guti", plmn=plmn_from_bytes(b, 1), amf_region_id=b[4],
                              amf_set_id=sp >> 6, amf_pointer=sp & 0x3F,
                              tmsi=int.from_bytes(b[7:11], "big"), spare=o3 & 0xF8)
    if kind == "s-tmsi":
        _exact(b, 7, "5G-S-TMSI")
        sp = int.from_bytes(b[1:3], "big")
        return MobileIdentity("s-tmsi", amf_set_id=sp >> 6, amf_pointer=sp & 0x3F,
                              tmsi=int.from_bytes(b[3:7], "big"), spare=o3 & 0xF8)
    if kind in ("imei", "imeisv"):
        odd = bool(o3 & 8)
        d1 = o3 >> 4
        if d1 > 9:
            raise DecodeError("IMEI digit out of range")
        rest = b[1:]
        if odd:
            digs = []
            for o in rest:
                lo, hi = o & 0xF, o >> 4
                if lo > 9 or hi > 9:
                    raise DecodeError("IMEI digit out of range")
                digs += (_DIGITS[lo], _DIGITS[hi])
            s = "".join(digs)
        else:
            if not rest or rest[-1] >> 4 != 0xF:
                raise DecodeError("even IMEI(SV) without filler")
            s = bcd_decode(rest)
        return MobileIdentity(kind, digits=_DIGITS[d1] + s)
    if kind == "none":
        return MobileIdentity("none", raw=bytes(b[1:]), spare=o3 & 0xF8)
    return MobileIdentity(kind, raw=bytes(b))


def enc_mobile_identity(v: MobileIdentity) -> bytes:
    """TS 24.501 §9.11.3.4."""
    t = v.type
    if t not in _MI_CODES:
        raise EncodeError(f"unknown mobile identity type {t!r}")
    code = _MI_CODES[t]
    if t == "suci":
        if v.supi_format != 0:
            return bytes((((v.spare or 0) & 0x88) | ((v.supi_format & 7) << 4) | 1,)) + \
                v.nai.encode("utf-8", "surrogateescape")
        sp = v.spare or 0
        if not 0 <= v.protection_scheme <= 15 or not 0 <= v.hn_key_id <= 255:
            raise EncodeError("SUCI protection scheme or key id out of range")
        return (bytes(((sp & 0x88) | 1,)) + plmn_to_bytes(v.plmn) + _ri_encode(v.routing_indicator)
                + bytes(((sp & 0xF0) | v.protection_scheme, v.hn_key_id)) + v.scheme_output)
    if t in ("guti", "s-tmsi"):
        if not (0 <= v.amf_set_id < 1024 and 0 <= v.amf_pointer < 64 and 0 <= v.tmsi < 1 << 32):
            raise EncodeError("5G-GUTI field out of range")
        sp = 0xF0 if v.spare is None else v.spare & 0xF8
        tail = ((v.amf_set_id << 6) | v.amf_pointer).to_bytes(2, "big") + v.tmsi.to_bytes(4, "big")
        if t == "s-tmsi":
            return bytes((sp | code,)) + tail
        if not 0 <= v.amf_region_id < 256:
            raise EncodeError("AMF region ID out of range")
        return bytes((sp | code,)) + plmn_to_bytes(v.plmn) + bytes((v.amf_region_id,)) + tail
    if t in ("imei", "imeisv"):
        d = v.digits
        if not d or not d.isdigit():
            raise EncodeError(f"IMEI digits required: {d!r}")
        odd = len(d) % 2 == 1
        return bytes(((int(d[0]) << 4) | (8 if odd else 0) | code,)) + bcd_encode(d[1:])
    if t == "none":
        return bytes((((v.spare or 0) & 0xF8) | 0,)) + v.raw
    return v.raw


# ---------------------------------------------------------------------------------------------
# Security IEs
# ---------------------------------------------------------------------------------------------


def _mask(algs: Iterable[int]) -> int:
    m = 0
    for a in algs:
        if not 0 <= a <= 7:
            raise EncodeError(f"algorithm index out of range: {a}")
        m |= 0x80 >> a
    return m


@dataclass(frozen=True, slots=True)
class UeSecurityCapability:
    """UE security capability, TS 24.501 §9.11.3.54.

    ``nea``/``nia``/``eea``/``eia`` are the octets as on the wire (bit 8 = algorithm 0);
    ``eea``/``eia`` are None when the octets are absent. Build with :meth:`of`.
    """

    nea: int = 0
    nia: int = 0
    eea: int | None = None
    eia: int | None = None
    extra: bytes = b""

    @classmethod
    def of(cls, nea: Iterable[int] = (0, 1, 2, 3), nia: Iterable[int] = (1, 2, 3),
           eea: Iterable[int] | None = None, eia: Iterable[int] | None = None) -> UeSecurityCapability:
        """Build from algorithm numbers, e.g. ``of(nea=[0, 1, 2], nia=[1, 2])``."""
        return cls(_mask(nea), _mask(nia), None if eea is None else _mask(eea),
                   None if eia is None else _mask(eia))

    def supports_nea(self, n: int) -> bool:
        return bool(self.nea & (0x80 >> n))

    def supports_nia(self, n: int) -> bool:
        return bool(self.nia & (0x80 >> n))

    def supports_eea(self, n: int) -> bool:
        return bool((self.eea or 0) & (0x80 >> n))

    def supports_eia(self, n: int) -> bool:
        return bool((self.eia or 0) & (0x80 >> n))

    @property
    def nea_list(self) -> list[int]:
        return [i for i in range(8) if self.nea & (0x80 >> i)]

    @property
    def nia_list(self) -> list[int]:
        return [i for i in range(8) if self.nia & (0x80 >> i)]


def dec_ue_sec_cap(b: bytes) -> UeSecurityCapability:
    """TS 24.501 §9.11.3.54: 2..8 octets."""
    if not 2 <= len(b) <= 8:
        raise DecodeError(f"UE security capability length {len(b)} not in 2..8")
    return UeSecurityCapability(b[0], b[1], b[2] if len(b) > 2 else None,
                                b[3] if len(b) > 3 else None, bytes(b[4:]))


def enc_ue_sec_cap(v: UeSecurityCapability) -> bytes:
    out = bytearray((v.nea & 0xFF, v.nia & 0xFF))
    if v.eea is not None:
        out.append(v.eea & 0xFF)
        if v.eia is not None:
            out.append(v.eia & 0xFF)
            out += v.extra
    elif v.eia is not None:
        raise EncodeError("EIA octet needs the EEA octet")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class NasSecurityAlgorithms:
    """NAS security algorithms, TS 24.501 §9.11.3.34 (ciphering NEAx, integrity NIAx)."""

    ciphering: int = 0
    integrity: int = 2


def dec_sec_algs(b: bytes) -> NasSecurityAlgorithms:
    _exact(b, 1, "NAS security algorithms")
    return NasSecurityAlgorithms(b[0] >> 4, b[0] & 0xF)


def enc_sec_algs(v: NasSecurityAlgorithms) -> bytes:
    if not (0 <= v.ciphering <= 15 and 0 <= v.integrity <= 15):
        raise EncodeError("NAS security algorithm out of range")
    return bytes(((v.ciphering << 4) | v.integrity,))


# ---------------------------------------------------------------------------------------------
# Slices, DNN
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SNssai:
    """S-NSSAI, TS 24.501 §9.11.2.8 (``sd`` 24-bit int or None)."""

    sst: int
    sd: int | None = None
    mapped_sst: int | None = None
    mapped_sd: int | None = None


def dec_snssai(b: bytes) -> SNssai:
    """TS 24.501 §9.11.2.8: contents of 1, 2, 4, 5 or 8 octets."""
    n = len(b)
    if n == 1:
        return SNssai(b[0])
    if n == 2:
        return SNssai(b[0], mapped_sst=b[1])
    if n == 4:
        return SNssai(b[0], int.from_bytes(b[1:4], "big"))
    if n == 5:
        return SNssai(b[0], int.from_bytes(b[1:4], "big"), b[4])
    if n == 8:
        return SNssai(b[0], int.from_bytes(b[1:4], "big"), b[4], int.from_bytes(b[5:8], "big"))
    raise DecodeError(f"S-NSSAI length {n} not in (1, 2, 4, 5, 8)")


def enc_snssai(v: SNssai) -> bytes:
    try:
        out = bytes((v.sst,))
        if v.sd is None:
            if v.mapped_sd is not None:
                raise EncodeError("mapped SD without SD")
            return out + (b"" if v.mapped_sst is None else bytes((v.mapped_sst,)))
        out += v.sd.to_bytes(3, "big")
        if v.mapped_sst is None:
            if v.mapped_sd is not None:
                raise EncodeError("mapped SD without mapped SST")
            return out
        out += bytes((v.mapped_sst,))
        return out + (b"" if v.mapped_sd is None else v.mapped_sd.to_bytes(3, "big"))
    except (ValueError, OverflowError) as exc:
        raise EncodeError(f"S-NSSAI out of range: {v}") from exc


def dec_nssai(b: bytes) -> tuple[SNssai, ...]:
    """NSSAI, TS 24.501 §9.11.3.37: a list of length-prefixed S-NSSAIs."""
    out = []
    i = 0
    n = len(b)
    while i < n:
        ln = b[i]
        if i + 1 + ln > n:
            raise DecodeError("S-NSSAI overruns the NSSAI", i)
        out.append(dec_snssai(b[i + 1:i + 1 + ln]))
        i += 1 + ln
    return tuple(out)


def enc_nssai(v: Iterable[SNssai]) -> bytes:
    out = bytearray()
    for s in v:
        e = enc_snssai(s)
        out.append(len(e))
        out += e
    return bytes(out)


def dec_dnn(b: bytes) -> str:
    """DNN, TS 24.501 §9.11.2.1B: APN labels (TS 23.003 §9.1) -> ``"internet"``."""
    labels = []
    i = 0
    n = len(b)
    if n == 0:
        raise DecodeError("empty DNN")
    while i < n:
        ln = b[i]
        if ln == 0 or i + 1 + ln > n:
            raise DecodeError("bad DNN label length", i)
        lab = b[i + 1:i + 1 + ln].decode("latin-1")
        if "." in lab:
            raise DecodeError("DNN label contains a dot", i)
        labels.append(lab)
        i += 1 + ln
    return ".".join(labels)


def enc_dnn(v: str) -> bytes:
    out = bytearray()
    for lab in v.split("."):
        raw = lab.encode("latin-1")
        if not 0 < len(raw) < 64:
            raise EncodeError(f"bad DNN label in {v!r}")
        out.append(len(raw))
        out += raw
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# PDU session status / bitmaps, causes, timers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PsiBitmap:
    """A PSI bitmap: PDU session status, uplink data status, allowed PDU session status,
    PDU session reactivation result (TS 24.501 §9.11.3.44/57/13/42). ``psis`` holds the PDU
    session identities whose bit is set (PSI 0 is spare); ``extra`` any spare octets 5..34."""

    psis: frozenset[int] = frozenset()
    extra: bytes = b""

    @classmethod
    def of(cls, *psis: int) -> PsiBitmap:
        return cls(frozenset(psis))


def dec_psi_bitmap(b: bytes) -> PsiBitmap:
    if not 2 <= len(b) <= 32:
        raise DecodeError(f"PSI bitmap length {len(b)} not in 2..32")
    m = b[0] | (b[1] << 8)
    return PsiBitmap(frozenset(i for i in range(16) if m >> i & 1), bytes(b[2:]))


def enc_psi_bitmap(v: PsiBitmap) -> bytes:
    m = 0
    for p in v.psis:
        if not 0 <= p <= 15:
            raise EncodeError(f"PSI out of range: {p}")
        m |= 1 << p
    return bytes((m & 0xFF, m >> 8)) + v.extra


_T3_UNITS = {0: 600, 1: 3600, 2: 36000, 3: 2, 4: 30, 5: 60, 6: 1152000}
_T2_UNITS = {0: 2, 1: 60, 2: 360}


@dataclass(frozen=True, slots=True)
class GprsTimer3:
    """GPRS timer 3, TS 24.008 §10.5.7.4a (T3512, back-off timer, T3324...). unit 7 = deactivated."""

    unit: int
    value: int

    @property
    def seconds(self) -> int | None:
        mult = _T3_UNITS.get(self.unit)
        return None if mult is None else mult * self.value

    @classmethod
    def from_seconds(cls, s: int) -> GprsTimer3:
        """The finest unit that represents ``s`` exactly (or rounds up)."""
        for unit in (3, 4, 5, 0, 1, 2, 6):
            mult = _T3_UNITS[unit]
            if s % mult == 0 and s // mult < 32:
                return cls(unit, s // mult)
        for unit in (3, 4, 5, 0, 1, 2, 6):
            mult = _T3_UNITS[unit]
            if -(-s // mult) < 32:
                return cls(unit, -(-s // mult))
        raise EncodeError(f"timer too long: {s}s")

    @classmethod
    def deactivated(cls) -> GprsTimer3:
        return cls(7, 0)


@dataclass(frozen=True, slots=True)
class GprsTimer2:
    """GPRS timer (2), TS 24.008 §10.5.7.3/§10.5.7.4 (T3502, T3346). unit 7 = deactivated."""

    unit: int
    value: int

    @property
    def seconds(self) -> int | None:
        mult = _T2_UNITS.get(self.unit)
        return None if mult is None else mult * self.value

    @classmethod
    def from_seconds(cls, s: int) -> GprsTimer2:
        for unit in (0, 1, 2):
            mult = _T2_UNITS[unit]
            if s % mult == 0 and s // mult < 32:
                return cls(unit, s // mult)
        raise EncodeError(f"timer not representable: {s}s")


def _dec_t3(b: bytes) -> GprsTimer3:
    _exact(b, 1, "GPRS timer 3")
    return GprsTimer3(b[0] >> 5, b[0] & 0x1F)


def _enc_timer(v: GprsTimer3 | GprsTimer2) -> bytes:
    if not (0 <= v.unit <= 7 and 0 <= v.value <= 31):
        raise EncodeError(f"timer out of range: {v}")
    return bytes(((v.unit << 5) | v.value,))


def _dec_t2(b: bytes) -> GprsTimer2:
    _exact(b, 1, "GPRS timer 2")
    return GprsTimer2(b[0] >> 5, b[0] & 0x1F)


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    """5GS registration result, TS 24.501 §9.11.3.6 (value 1 3GPP, 2 non-3GPP, 3 both)."""

    value: int = 1
    sms_allowed: bool = False
    nssaa_performed: bool = False
    emergency: bool = False
    disaster_roaming: bool = False


def _dec_regres(b: bytes) -> RegistrationResult:
    _exact(b, 1, "5GS registration result")
    o = b[0]
    return RegistrationResult(o & 7, bool(o & 8), bool(o & 16), bool(o & 32), bool(o & 64))


def _enc_regres(v: RegistrationResult) -> bytes:
    return bytes(((v.value & 7) | (8 if v.sms_allowed else 0) | (16 if v.nssaa_performed else 0)
                  | (32 if v.emergency else 0) | (64 if v.disaster_roaming else 0),))


# ---------------------------------------------------------------------------------------------
# TAI list, TS 24.501 §9.11.3.9
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tai:
    """Tracking area identity: PLMN string and 24-bit TAC."""

    plmn: str
    tac: int


@dataclass(frozen=True, slots=True)
class TaiListPart:
    """One partial tracking area identity list. ``list_type`` 0: one PLMN, listed TACs;
    1: one PLMN, consecutive TACs; 2: list of TAIs. ``tais`` always holds the expanded TAIs."""

    list_type: int
    tais: tuple[Tai, ...]


@dataclass(frozen=True, slots=True)
class TaiList:
    """5GS tracking area identity list, TS 24.501 §9.11.3.9. Build with :meth:`of`."""

    parts: tuple[TaiListPart, ...]

    @classmethod
    def of(cls, *tais: Tai) -> TaiList:
        """Group TAIs into type-0 parts per PLMN (up to 16 per part)."""
        parts: list[TaiListPart] = []
        by_plmn: dict[str, list[Tai]] = {}
        for t in tais:
            by_plmn.setdefault(t.plmn, []).append(t)
        for lst in by_plmn.values():
            for i in range(0, len(lst), 16):
                parts.append(TaiListPart(0, tuple(lst[i:i + 16])))
        return cls(tuple(parts))

    def all(self) -> list[Tai]:
        return [t for p in self.parts for t in p.tais]

    def __contains__(self, tai: object) -> bool:
        return any(tai == t for p in self.parts for t in p.tais)


def dec_tai_list(b: bytes) -> TaiList:
    parts = []
    i = 0
    n = len(b)
    if n == 0:
        raise DecodeError("empty TAI list")
    while i < n:
        h = b[i]
        lt = (h >> 5) & 3
        cnt = (h & 0x1F) + 1
        i += 1
        if lt == 0:
            if i + 3 + 3 * cnt > n:
                raise DecodeError("TAI list truncated", i)
            plmn = plmn_from_bytes(b, i)
            tais = tuple(Tai(plmn, int.from_bytes(b[i + 3 + 3 * k:i + 6 + 3 * k], "big"))
                         for k in range(cnt))
            i += 3 + 3 * cnt
        elif lt == 1:
            if i + 6 > n:
                raise DecodeError("TAI list truncated", i)
            plmn = plmn_from_bytes(b, i)
            tac0 = int.from_bytes(b[i + 3:i + 6], "big")
            if tac0 + cnt - 1 > 0xFFFFFF:
                raise DecodeError("TAI list consecutive TACs overflow", i)
            tais = tuple(Tai(plmn, tac0 + k) for k in range(cnt))
            i += 6
        elif lt == 2:
            if i + 6 * cnt > n:
                raise DecodeError("TAI list truncated", i)
            tais = tuple(Tai(plmn_from_bytes(b, i + 6 * k),
                             int.from_bytes(b[i + 6 * k + 3:i + 6 * k + 6], "big"))
                         for k in range(cnt))
            i += 6 * cnt
        else:
            raise DecodeError("reserved TAI list type", i - 1)
        parts.append(TaiListPart(lt, tais))
    return TaiList(tuple(parts))


def enc_tai_list(v: TaiList) -> bytes:
    out = bytearray()
    for p in v.parts:
        cnt = len(p.tais)
        if not 1 <= cnt <= 32 or not 0 <= p.list_type <= 2:
            raise EncodeError("TAI list part must hold 1..32 TAIs of type 0..2")
        out.append((p.list_type << 5) | (cnt - 1))
        try:
            if p.list_type == 0:
                out += plmn_to_bytes(p.tais[0].plmn)
                for t in p.tais:
                    out += t.tac.to_bytes(3, "big")
            elif p.list_type == 1:
                out += plmn_to_bytes(p.tais[0].plmn) + p.tais[0].tac.to_bytes(3, "big")
            else:
                for t in p.tais:
                    out += plmn_to_bytes(t.plmn) + t.tac.to_bytes(3, "big")
        except OverflowError as exc:
            raise EncodeError("TAC out of range") from exc
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# 5GSM IEs: QoS rules, PDU address, Session-AMBR
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacketFilter:
    """A packet filter of a QoS rule (TS 24.501 §9.11.4.13). ``direction`` 1 DL, 2 UL, 3 both;
    ``contents`` the raw component list (``b"\\x01"`` = match-all). For the "delete packet
    filters" operation only ``identifier`` is carried (``contents`` is None)."""

    identifier: int
    direction: int = 3
    contents: bytes | None = b"\x01"

    @classmethod
    def match_all(cls, identifier: int = 1, direction: int = 3) -> PacketFilter:
        return cls(identifier, direction, b"\x01")


@dataclass(frozen=True, slots=True)
class QosRule:
    """One QoS rule, TS 24.501 §9.11.4.13. ``operation`` 1 create, 2 delete, 3 add filters,
    4 replace filters, 5 delete filters, 6 modify without filters; ``dqr`` default QoS rule."""

    rule_id: int
    operation: int = 1
    dqr: bool = False
    packet_filters: tuple[PacketFilter, ...] = ()
    precedence: int | None = None
    qfi: int | None = None
    segregation: bool = False


def dec_qos_rules(b: bytes) -> tuple[QosRule, ...]:
    """QoS rules, TS 24.501 §9.11.4.13."""
    rules = []
    i = 0
    n = len(b)
    while i < n:
        if i + 3 > n:
            raise DecodeError("QoS rule header truncated", i)
        rid = b[i]
        ln = int.from_bytes(b[i + 1:i + 3], "big")
        j = i + 3
        end = j + ln
        if end > n or ln < 1:
            raise DecodeError("QoS rule length overruns", i)
        h = b[j]
        op = h >> 5
        dqr = bool(h & 0x10)
        nf = h & 0xF
        j += 1
        pfs = []
        for _ in range(nf):
            if j >= end:
                raise DecodeError("packet filter truncated", j)
            o = b[j]
            if op == 5:
                pfs.append(PacketFilter(o & 0xF, (o >> 4) & 3, None))
                j += 1
                continue
            if j + 2 > end:
                raise DecodeError("packet filter truncated", j)
            pl = b[j + 1]
            if j + 2 + pl > end:
                raise DecodeError("packet filter contents overrun", j)
            pfs.append(PacketFilter(o & 0xF, (o >> 4) & 3, bytes(b[j + 2:j + 2 + pl])))
            j += 2 + pl
        prec = qfi = None
        seg = False
        if j < end:
            prec = b[j]
            j += 1
        if j < end:
            qfi = b[j] & 0x3F
            seg = bool(b[j] & 0x40)
            j += 1
        if j != end:
            raise DecodeError("QoS rule has trailing octets", j)
        rules.append(QosRule(rid, op, dqr, tuple(pfs), prec, qfi, seg))
        i = end
    return tuple(rules)


def enc_qos_rules(v: Iterable[QosRule]) -> bytes:
    out = bytearray()
    for r in v:
        body = bytearray()
        if len(r.packet_filters) > 15 or not 0 <= r.operation <= 7:
            raise EncodeError("QoS rule: too many packet filters or bad operation")
        body.append((r.operation << 5) | (0x10 if r.dqr else 0) | len(r.packet_filters))
        for pf in r.packet_filters:
            o = ((pf.direction & 3) << 4) | (pf.identifier & 0xF)
            body.append(o)
            if r.operation != 5:
                c = pf.contents or b""
                body.append(len(c))
                body += c
        if r.precedence is not None:
            body.append(r.precedence & 0xFF)
            if r.qfi is not None:
                body.append((0x40 if r.segregation else 0) | (r.qfi & 0x3F))
        elif r.qfi is not None:
            raise EncodeError("QoS rule with QFI needs a precedence")
        out.append(r.rule_id & 0xFF)
        out += len(body).to_bytes(2, "big")
        out += body
    return bytes(out)


@dataclass(frozen=True, slots=True)
class PduAddress:
    """PDU address, TS 24.501 §9.11.4.10. ``pdu_type`` 1 IPv4, 2 IPv6, 3 IPv4v6; ``address``
    the raw value (IPv4 4 octets, IPv6 interface identifier 8, IPv4v6 8+4)."""

    pdu_type: int
    address: bytes
    si6lla: bool = False
    link_local: bytes = b""

    @classmethod
    def ipv4(cls, addr: str) -> PduAddress:
        return cls(1, ipaddress.IPv4Address(addr).packed)

    @property
    def ipv4_address(self) -> str | None:
        # inet_ntoa: the dotted decimal str(ipaddress.IPv4Address(...)) gives, without the object
        if self.pdu_type == 1 and len(self.address) == 4:
            return socket.inet_ntoa(self.address)
        if self.pdu_type == 3 and len(self.address) == 12:
            return socket.inet_ntoa(self.address[8:])
        return None

    @property
    def ipv6_interface_id(self) -> bytes | None:
        return self.address[:8] if self.pdu_type in (2, 3) and len(self.address) >= 8 else None


def dec_pdu_address(b: bytes) -> PduAddress:
    _need(b, 1, "PDU address")
    t = b[0] & 7
    si = bool(b[0] & 8)
    rest = bytes(b[1:])
    ll = b""
    if si:
        if len(rest) < 16:
            raise DecodeError("PDU address link-local address truncated")
        rest, ll = rest[:-16], rest[-16:]
    want = {1: 4, 2: 8, 3: 12}.get(t)
    if want is not None and len(rest) != want:
        raise DecodeError(f"PDU address length {len(rest)} wrong for type {t}")
    return PduAddress(t, rest, si, ll)


def enc_pdu_address(v: PduAddress) -> bytes:
    return bytes(((8 if v.si6lla else 0) | (v.pdu_type & 7),)) + v.address + v.link_local


_AMBR_GROUP = (1_000, 1_000_000, 1_000_000_000, 1_000_000_000_000, 1_000_000_000_000_000)


@dataclass(frozen=True, slots=True)
class SessionAmbr:
    """Session-AMBR, TS 24.501 §9.11.4.14: unit codes (1 = 1 kbps, 6 = 1 Mbps, 11 = 1 Gbps, each
    step x4 in between) and 16-bit values. Build with :meth:`from_bps`."""

    dl_unit: int
    dl: int
    ul_unit: int
    ul: int

    @staticmethod
    def unit_bps(unit: int) -> int:
        if not 1 <= unit <= 25:
            return 0
        g, k = divmod(unit - 1, 5)
        return _AMBR_GROUP[g] * (4 ** k)

    @property
    def dl_bps(self) -> int:
        return self.unit_bps(self.dl_unit) * self.dl

    @property
    def ul_bps(self) -> int:
        return self.unit_bps(self.ul_unit) * self.ul

    @classmethod
    def _pick(cls, bps: int) -> tuple[int, int]:
        for unit in range(25, 0, -1):
            ub = cls.unit_bps(unit)
            if bps % ub == 0 and bps // ub <= 0xFFFF:
                return unit, bps // ub
        for unit in range(1, 26):
            ub = cls.unit_bps(unit)
            if -(-bps // ub) <= 0xFFFF:
                return unit, -(-bps // ub)
        raise EncodeError(f"AMBR too large: {bps}")

    @classmethod
    def from_bps(cls, dl_bps: int, ul_bps: int) -> SessionAmbr:
        du, dv = cls._pick(dl_bps)
        uu, uv = cls._pick(ul_bps)
        return cls(du, dv, uu, uv)


def dec_session_ambr(b: bytes) -> SessionAmbr:
    _exact(b, 6, "Session-AMBR")
    return SessionAmbr(b[0], int.from_bytes(b[1:3], "big"), b[3], int.from_bytes(b[4:6], "big"))


def enc_session_ambr(v: SessionAmbr) -> bytes:
    try:
        return (bytes((v.dl_unit,)) + v.dl.to_bytes(2, "big") + bytes((v.ul_unit,))
                + v.ul.to_bytes(2, "big"))
    except (ValueError, OverflowError) as exc:
        raise EncodeError(f"Session-AMBR out of range: {v}") from exc


# ---------------------------------------------------------------------------------------------
# Simple codecs
# ---------------------------------------------------------------------------------------------


def _dec_bytes(b: bytes) -> bytes:
    return bytes(b)


def _enc_bytes(v: bytes) -> bytes:
    if not isinstance(v, (bytes, bytearray, memoryview)):
        raise EncodeError(f"expected bytes, got {type(v).__name__}")
    return bytes(v)


def _dec_u8(b: bytes) -> int:
    _exact(b, 1, "one-octet value")
    return b[0]


def _enc_u8(v: int) -> bytes:
    if not 0 <= int(v) <= 255:
        raise EncodeError(f"octet value out of range: {v}")
    return bytes((int(v),))


def _dec_u16(b: bytes) -> int:
    _exact(b, 2, "two-octet value")
    return int.from_bytes(b, "big")


def _enc_u16(v: int) -> bytes:
    if not 0 <= int(v) <= 0xFFFF:
        raise EncodeError(f"value out of range: {v}")
    return int(v).to_bytes(2, "big")


def _dec_fixed(n: int, what: str) -> Callable[[bytes], bytes]:
    def dec(b: bytes) -> bytes:
        _exact(b, n, what)
        return bytes(b)

    return dec


def _enc_fixed(n: int, what: str) -> Callable[[bytes], bytes]:
    def enc(v: bytes) -> bytes:
        if len(v) != n:
            raise EncodeError(f"{what} must be {n} octets")
        return bytes(v)

    return enc


@dataclass(frozen=True, slots=True)
class Kind:
    """A value codec. ``half`` kinds work on a 4-bit int instead of octets."""

    name: str
    dec: Callable[[Any], Any]
    enc: Callable[[Any], Any]
    half: bool = False


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("bytes", _dec_bytes, _enc_bytes),
        Kind("u8", _dec_u8, _enc_u8),
        Kind("u16", _dec_u16, _enc_u16),
        Kind("nibble", _dec_nibble, _enc_nibble, True),
        Kind("ngksi", _dec_ngksi, _enc_ngksi, True),
        Kind("regtype", _dec_regtype, _enc_regtype, True),
        Kind("deregtype", _dec_dereg, _enc_dereg, True),
        Kind("mobile_identity", dec_mobile_identity, enc_mobile_identity),
        Kind("ue_sec_cap", dec_ue_sec_cap, enc_ue_sec_cap),
        Kind("sec_algs", dec_sec_algs, enc_sec_algs),
        Kind("snssai", dec_snssai, enc_snssai),
        Kind("nssai", dec_nssai, enc_nssai),
        Kind("dnn", dec_dnn, enc_dnn),
        Kind("psi_bitmap", dec_psi_bitmap, enc_psi_bitmap),
        Kind("timer3", _dec_t3, _enc_timer),
        Kind("timer2", _dec_t2, _enc_timer),
        Kind("regresult", _dec_regres, _enc_regres),
        Kind("tai_list", dec_tai_list, enc_tai_list),
        Kind("qos_rules", dec_qos_rules, enc_qos_rules),
        Kind("pdu_address", dec_pdu_address, enc_pdu_address),
        Kind("session_ambr", dec_session_ambr, enc_session_ambr),
        Kind("rand", _dec_fixed(16, "RAND"), _enc_fixed(16, "RAND")),
    )
}
