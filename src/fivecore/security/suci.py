"""SUPI concealment (SUCI): null scheme and ECIES Profiles A and B, TS 33.501 Annex C.

Home-network side (SIDF in the UDM): :func:`deconceal`; UE side (USIM/ME): :func:`conceal`.
Both work on the *scheme output* (TS 33.501 §6.12.2, TS 24.501 §9.11.3.4): for ECIES
profiles ``ephemeral public key || ciphertext || MAC tag (8 octets)``; for the null scheme
the scheme input itself. :class:`SuciIdentity` builds and parses the whole SUCI as carried
in the NAS 5GS mobile identity IE (TS 24.501 §9.11.3.4) and in SBI strings
(``suci-0-001-01-0-1-1-<hex>``, TS 29.503 / TS 23.003 §28.7.3).

Keys are raw bytes: Profile A private/public keys are 32-octet X25519 strings (RFC 7748);
Profile B private keys are 32-octet big-endian scalars and public keys SEC1 points, 33
octets compressed (preferred) or 65 uncompressed.

Failures raise :class:`~fivecore.security.errors.SuciError` (malformed input, bad key)
or its subclass :class:`~fivecore.security.errors.SuciMacError` (tag mismatch: tampered or
wrong home-network key).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fivecore.security._util import hmac_sha256
from fivecore.security.errors import (
    SuciError,
    SuciMacError,
    UnknownProtectionSchemeError,
)

__all__ = [
    "ProtectionScheme",
    "SuciIdentity",
    "SupiFormat",
    "conceal",
    "conceal_raw",
    "decode_msin_bcd",
    "deconceal",
    "deconceal_raw",
    "encode_msin_bcd",
    "generate_hn_keypair",
    "hn_public_key",
]

_MAC_LEN = 8  # maclen, TS 33.501 C.3.4.1 / C.3.4.2
_ENC_KEY_LEN = 16
_ICB_LEN = 16
_MAC_KEY_LEN = 32


class ProtectionScheme(IntEnum):
    """Protection scheme identifiers, TS 33.501 Annex C.1 Table C.1-1."""

    NULL = 0
    PROFILE_A = 1
    PROFILE_B = 2


_SCHEMES: dict[object, ProtectionScheme] = {m.value: m for m in ProtectionScheme}


class SupiFormat(IntEnum):
    """SUPI format field of the SUCI, TS 24.501 §9.11.3.4 (bits 7-5 of octet 4)."""

    IMSI = 0
    NAI = 1


def _scheme(value: int) -> ProtectionScheme:
    try:
        return _SCHEMES[value]
    except (KeyError, TypeError):
        raise UnknownProtectionSchemeError(
            f"protection scheme {value!r} is not supported (0 null, 1 Profile A, 2 Profile B)"
        ) from None


def _as_bytes(name: str, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise SuciError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


# --- MSIN BCD coding (TS 33.501 C.3.1, TS 24.501 Figure 9.11.3.4.3a) -------------------


def encode_msin_bcd(msin: str) -> bytes:
    """MSIN digits -> packed BCD, low nibble first, odd length padded with 0xF in the high nibble.

    ``"001002086"`` -> ``00 01 20 80 f6`` (TS 33.501 C.4.2.1).
    """
    if (
        not isinstance(msin, str)
        or not msin.isascii()
        or not msin.isdigit()
        or not 1 <= len(msin) <= 20
    ):
        raise SuciError(f"MSIN must be 1-20 decimal digits, got {msin!r}")
    digits = [int(c) for c in msin]
    if len(digits) % 2:
        digits.append(0xF)
    return bytes(digits[i] | (digits[i + 1] << 4) for i in range(0, len(digits), 2))


def decode_msin_bcd(data: bytes) -> str:
    """Packed BCD -> MSIN digits as ``str``; only the last high nibble may be the 0xF filler."""
    data = _as_bytes("BCD MSIN", data)
    if not data:
        raise SuciError("BCD MSIN is empty")
    if len(data) > 10:  # an MSIN has at most 20 digits here too (encode_msin_bcd's limit)
        raise SuciError(f"BCD MSIN of {len(data)} octets is longer than 20 digits")
    # Swapping the nibbles of each octet makes the hex text the digit string (plus an "f"
    # filler at the end); anything that is not then all digits gets the exact error below.
    text = data.translate(_SWAP_NIBBLES).hex()
    if text[-1] == "f":
        text = text[:-1]
    if text.isdigit():
        return text
    out = []
    last = len(data) - 1
    for i, b in enumerate(data):
        lo, hi = b & 0xF, b >> 4
        if lo > 9:
            raise SuciError(f"BCD MSIN octet {i} has non-digit nibble {lo:#x}")
        out.append(chr(0x30 + lo))
        if hi == 0xF and i == last:
            break
        if hi > 9:
            raise SuciError(f"BCD MSIN octet {i} has non-digit nibble {hi:#x}")
        out.append(chr(0x30 + hi))
    return "".join(out)


_SWAP_NIBBLES = bytes(((b & 0xF) << 4) | (b >> 4) for b in range(256))


# --- keys --------------------------------------------------------------------------------


def generate_hn_keypair(profile: int) -> tuple[bytes, bytes]:
    """A fresh home-network key pair ``(private_key, public_key)`` as raw bytes.

    Profile A: 32-octet X25519 private and public keys. Profile B: 32-octet secp256r1
    scalar and the 33-octet compressed public point.
    """
    scheme = _scheme(profile)
    if scheme is ProtectionScheme.PROFILE_A:
        priv = x25519.X25519PrivateKey.generate()
        return _x25519_private_bytes(priv), priv.public_key().public_bytes_raw()
    if scheme is ProtectionScheme.PROFILE_B:
        priv_ec = ec.generate_private_key(ec.SECP256R1())
        return (
            priv_ec.private_numbers().private_value.to_bytes(32, "big"),
            priv_ec.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint),
        )
    raise UnknownProtectionSchemeError("the null scheme has no keys")


def hn_public_key(profile: int, private_key: bytes) -> bytes:
    """The raw public key (A: 32 octets; B: 33 octets compressed) of a raw private key."""
    scheme = _scheme(profile)
    if scheme is ProtectionScheme.PROFILE_A:
        return _x25519_private(private_key).public_key().public_bytes_raw()
    if scheme is ProtectionScheme.PROFILE_B:
        return (
            _p256_private(private_key)
            .public_key()
            .public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        )
    raise UnknownProtectionSchemeError("the null scheme has no keys")


def _x25519_private_bytes(priv: x25519.X25519PrivateKey) -> bytes:
    return priv.private_bytes_raw()


@lru_cache(maxsize=64)
def _x25519_private_cached(raw: bytes) -> x25519.X25519PrivateKey:
    return x25519.X25519PrivateKey.from_private_bytes(raw)


_X25519_PRIVATE: dict[bytes, x25519.X25519PrivateKey] = {}


def _x25519_private(raw: object) -> x25519.X25519PrivateKey:
    if type(raw) is bytes:  # the home-network key: one dict look-up per SUCI
        key = _X25519_PRIVATE.get(raw)
        if key is not None:
            return key
        if len(raw) == 32:
            key = _x25519_private_cached(raw)
            if len(_X25519_PRIVATE) >= 64:
                _X25519_PRIVATE.clear()
            _X25519_PRIVATE[raw] = key
            return key
    raw = _as_bytes("Profile A private key", raw)
    if len(raw) != 32:
        raise SuciError(f"Profile A private key must be 32 bytes, got {len(raw)}")
    return _x25519_private_cached(raw)


@lru_cache(maxsize=64)
def _p256_private_cached(raw: bytes) -> ec.EllipticCurvePrivateKey:
    # Loading a scalar computes its public point (~scalar multiplication): cache per HN key.
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def _p256_private(raw: object) -> ec.EllipticCurvePrivateKey:
    raw = _as_bytes("Profile B private key", raw)
    if len(raw) != 32:
        raise SuciError(f"Profile B private key must be 32 bytes, got {len(raw)}")
    try:
        return _p256_private_cached(raw)
    except ValueError as exc:
        raise SuciError(f"Profile B private key is not a valid secp256r1 scalar: {exc}") from None


def _p256_public(raw: bytes, what: str) -> ec.EllipticCurvePublicKey:
    if len(raw) not in (33, 65) or raw[0] not in ((2, 3) if len(raw) == 33 else (4,)):
        raise SuciError(f"{what} is not a SEC1 secp256r1 point ({len(raw)} octets)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise SuciError(f"{what} is not a point on secp256r1") from None


# --- ECIES core (TS 33.501 C.3.2 / C.3.3 / C.3.4) ------------------------------------------


def _x963_kdf(z: bytes, shared_info: bytes) -> tuple[bytes, bytes, bytes]:
    """ANSI X9.63 KDF with SHA-256 (SECG SEC 1 §3.6.1) -> (EK, ICB, MK), TS 33.501 C.3.2."""
    sha = hashlib.sha256
    k1 = sha(z + b"\x00\x00\x00\x01" + shared_info).digest()
    return k1[:_ENC_KEY_LEN], k1[_ENC_KEY_LEN:], sha(z + b"\x00\x00\x00\x02" + shared_info).digest()


def _aes_ctr(key: bytes, icb: bytes, data: bytes) -> bytes:
    """AES-128-CTR with the NIST SP 800-38A B.1 incrementing function, m = 32 (TS 33.501 C.3.4.0)."""
    n = len(data)
    if n <= 16:  # one block (an IMSI's MSIN): the key stream is E(ICB) itself
        ks = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(icb)
        if n == 0:
            return b""
        return (int.from_bytes(data, "big") ^ (int.from_bytes(ks, "big") >> (128 - 8 * n))).to_bytes(n, "big")
    nblocks = (len(data) + 15) // 16
    prefix = icb[:12]
    ctr = int.from_bytes(icb[12:], "big")
    blocks = b"".join(prefix + ((ctr + i) & 0xFFFFFFFF).to_bytes(4, "big") for i in range(nblocks))
    ks = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(blocks)
    n = len(data)
    return (int.from_bytes(data, "big") ^ int.from_bytes(ks[:n], "big")).to_bytes(n, "big")


def _mac(mac_key: bytes, ciphertext: bytes) -> bytes:
    return hmac_sha256(mac_key, ciphertext)[:_MAC_LEN]


def conceal_raw(
    scheme_input: bytes,
    protection_scheme: int,
    hn_public_key: bytes | None,
    *,
    ephemeral_private_key: bytes | None = None,
) -> bytes:
    """UE side: scheme input -> scheme output (TS 33.501 C.3.2).

    ``ephemeral_private_key`` is for known-answer tests only; normally a fresh key pair is
    generated per SUCI as C.3.2 requires. For the null scheme the output is the input.
    """
    scheme = _scheme(protection_scheme)
    scheme_input = _as_bytes("scheme input", scheme_input)
    if not scheme_input:
        raise SuciError("scheme input is empty")
    if scheme is ProtectionScheme.NULL:
        return scheme_input
    pub_raw = _as_bytes("home network public key", hn_public_key)
    if scheme is ProtectionScheme.PROFILE_A:
        if len(pub_raw) != 32:
            raise SuciError(f"Profile A public key must be 32 bytes, got {len(pub_raw)}")
        eph = (
            _x25519_private(ephemeral_private_key)
            if ephemeral_private_key is not None
            else x25519.X25519PrivateKey.generate()
        )
        eph_pub = eph.public_key().public_bytes_raw()
        try:
            z = eph.exchange(_x25519_public_cached(pub_raw))
        except ValueError:
            raise SuciError("Profile A public key is a low-order point") from None
    else:
        peer = _p256_public(pub_raw, "Profile B public key")
        eph_ec = (
            _p256_private(ephemeral_private_key)
            if ephemeral_private_key is not None
            else ec.generate_private_key(ec.SECP256R1())
        )
        eph_pub = eph_ec.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        z = eph_ec.exchange(ec.ECDH(), peer)
    ek, icb, mk = _x963_kdf(z, eph_pub)
    ct = _aes_ctr_conceal(ek, icb, scheme_input)
    return eph_pub + ct + _mac(mk, ct)


@lru_cache(maxsize=64)
def _x25519_public_cached(raw: bytes) -> x25519.X25519PublicKey:
    # The home network key is the same for every SUCI a UE makes: load it once.
    return x25519.X25519PublicKey.from_public_bytes(raw)


def _aes_ctr_conceal(key: bytes, icb: bytes, data: bytes) -> bytes:
    """:func:`_aes_ctr` for the UE side. While the low 32 bits of the counter block do not
    wrap (always, for an IMSI's MSIN: one block), the C.3.4.0 incrementing function (m = 32)
    and OpenSSL's 128-bit counter give the same key stream, so CTR mode is used directly."""
    nblocks = (len(data) + 15) // 16
    if int.from_bytes(icb[12:], "big") + nblocks - 1 <= 0xFFFFFFFF:
        return Cipher(algorithms.AES(key), modes.CTR(icb)).encryptor().update(data)
    return _aes_ctr(key, icb, data)


def deconceal_raw(
    scheme_output: bytes, protection_scheme: int, hn_private_key: bytes | None
) -> bytes:
    """Home-network side: scheme output -> scheme input bytes (TS 33.501 C.3.3).

    The MAC tag is verified (constant time) before anything is decrypted. Raises
    :class:`SuciError` for a truncated output or an invalid ephemeral key and
    :class:`SuciMacError` when the tag does not verify.
    """
    if protection_scheme == 1 and type(scheme_output) is bytes and type(protection_scheme) is not bool:
        return _deconceal_a(scheme_output, hn_private_key)
    scheme = _scheme(protection_scheme)
    out = _as_bytes("scheme output", scheme_output)
    if scheme is ProtectionScheme.NULL:
        if not out:
            raise SuciError("null-scheme output is empty")
        return out
    if scheme is ProtectionScheme.PROFILE_A:
        pub_len = 32
        priv = _x25519_private(hn_private_key)
        if len(out) < pub_len + 1 + _MAC_LEN:
            raise SuciError(f"Profile A scheme output too short ({len(out)} octets)")
        eph_pub = out[:pub_len]
        try:
            z = priv.exchange(x25519.X25519PublicKey.from_public_bytes(eph_pub))
        except ValueError:
            raise SuciError("Profile A ephemeral public key is a low-order point") from None
    else:
        pub_len = 33  # compressed point, C.3.4.2
        priv_ec = _p256_private(hn_private_key)
        if len(out) < pub_len + 1 + _MAC_LEN:
            raise SuciError(f"Profile B scheme output too short ({len(out)} octets)")
        eph_pub = out[:pub_len]
        z = priv_ec.exchange(ec.ECDH(), _p256_public(eph_pub, "Profile B ephemeral public key"))
    ct = out[pub_len:-_MAC_LEN]
    ek, icb, mk = _x963_kdf(z, eph_pub)
    if not hmac.compare_digest(_mac(mk, ct), out[-_MAC_LEN:]):
        raise SuciMacError("SUCI MAC tag does not verify (tampered or wrong home-network key)")
    return _aes_ctr(ek, icb, ct)


def _deconceal_a(out: bytes, hn_private_key: object) -> bytes:
    """:func:`deconceal_raw` for Profile A (TS 33.501 C.3.3, C.3.4.1), the SIDF's usual case."""
    priv = _x25519_private(hn_private_key)
    if len(out) < 32 + 1 + _MAC_LEN:
        raise SuciError(f"Profile A scheme output too short ({len(out)} octets)")
    eph_pub = out[:32]
    try:
        z = priv.exchange(_x25519_public_from_bytes(eph_pub))
    except ValueError:
        raise SuciError("Profile A ephemeral public key is a low-order point") from None
    ct = out[32:-_MAC_LEN]
    ek, icb, mk = _x963_kdf(z, eph_pub)
    if not hmac.compare_digest(hmac_sha256(mk, ct)[:_MAC_LEN], out[-_MAC_LEN:]):
        raise SuciMacError("SUCI MAC tag does not verify (tampered or wrong home-network key)")
    return _aes_ctr(ek, icb, ct)


_x25519_public_from_bytes = x25519.X25519PublicKey.from_public_bytes


def conceal(
    msin: str,
    protection_scheme: int,
    hn_public_key: bytes | None,
    *,
    supi_format: int = SupiFormat.IMSI,
    ephemeral_private_key: bytes | None = None,
) -> bytes:
    """UE side: conceal the subscription identifier; returns the scheme output ``bytes``.

    For ``SupiFormat.IMSI`` ``msin`` is the MSIN digit string (BCD-coded as scheme input,
    TS 33.501 C.3.1); for ``SupiFormat.NAI`` it is the NAI username (UTF-8).
    """
    if supi_format == SupiFormat.IMSI:
        scheme_input = encode_msin_bcd(msin)
    elif supi_format == SupiFormat.NAI:
        if not isinstance(msin, str) or not msin:
            raise SuciError("NAI username must be a non-empty str")
        scheme_input = msin.encode("utf-8")
    else:
        raise SuciError(f"SUPI format {supi_format!r} is not supported")
    return conceal_raw(
        scheme_input, protection_scheme, hn_public_key, ephemeral_private_key=ephemeral_private_key
    )


def deconceal(
    scheme_output: bytes,
    protection_scheme: int,
    hn_private_key: bytes | None,
    *,
    supi_format: int = SupiFormat.IMSI,
) -> str:
    """Home-network side (SIDF): the concealed identifier as ``str``.

    For ``SupiFormat.IMSI`` (default) returns the MSIN as a string of decimal digits
    (``"001002086"``); for ``SupiFormat.NAI`` the username decoded as UTF-8.
    ``hn_private_key`` is ignored (may be ``None``) for the null scheme.
    """
    plain = deconceal_raw(scheme_output, protection_scheme, hn_private_key)
    if supi_format == SupiFormat.IMSI:
        return decode_msin_bcd(plain)
    if supi_format == SupiFormat.NAI:
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise SuciError("NAI username in SUCI is not valid UTF-8") from None
    raise SuciError(f"SUPI format {supi_format!r} is not supported")


# --- the whole SUCI (TS 24.501 §9.11.3.4; TS 23.003 §2.2B, §28.7.3) ---------------------

_TYPE_SUCI = 0b001
_DIGITS = re.compile(r"[0-9]+")


def _nibbles_to_digits(octets: bytes, what: str) -> str:
    """TBCD digits with 0xF fill allowed only at the end."""
    digits = []
    seen_fill = False
    for b in octets:
        for nib in (b & 0xF, b >> 4):
            if nib == 0xF:
                seen_fill = True
            elif seen_fill or nib > 9:
                raise SuciError(f"{what} is not valid BCD")
            else:
                digits.append(chr(0x30 + nib))
    return "".join(digits)


def _digits_ok(value: object, lo: int, hi: int) -> bool:
    """True for a ``str`` of ``lo``..``hi`` ASCII decimal digits (what ``_DIGITS`` accepts)."""
    return type(value) is str and lo <= len(value) <= hi and value.isascii() and value.isdigit()


@dataclass(frozen=True, slots=True)
class SuciIdentity:
    """A SUCI: the SUCI variant of the 5GS mobile identity, TS 24.501 §9.11.3.4.

    For ``supi_format == IMSI`` the fields ``mcc`` (3 digits), ``mnc`` (2 or 3 digits),
    ``routing_indicator`` (1-4 digits), ``protection_scheme`` (0-15), ``hn_public_key_id``
    (0-255) and ``scheme_output`` (bytes) are used. For the null scheme the scheme output is
    the BCD MSIN. For ``supi_format == NAI`` only ``nai`` (the SUCI in NAI form, TS 23.003
    §28.7.3) is carried.
    """

    supi_format: SupiFormat = SupiFormat.IMSI
    mcc: str = ""
    mnc: str = ""
    routing_indicator: str = "0"
    protection_scheme: int = ProtectionScheme.NULL
    hn_public_key_id: int = 0
    scheme_output: bytes = b""
    nai: str = field(default="")

    def __post_init__(self) -> None:
        if (
            self.supi_format == SupiFormat.IMSI
            and _digits_ok(self.mcc, 3, 3)
            and _digits_ok(self.mnc, 2, 3)
            and _digits_ok(self.routing_indicator, 1, 4)
            and type(self.protection_scheme) is int
            and 0 < self.protection_scheme <= 15
            and type(self.hn_public_key_id) is int
            and 0 <= self.hn_public_key_id <= 255
            and type(self.scheme_output) is bytes
            and self.scheme_output
        ):
            return  # a well-formed protected SUCI, checked without the regular expressions
        if self.supi_format == SupiFormat.NAI:
            if not self.nai:
                raise SuciError("NAI-format SUCI needs a non-empty nai")
            return
        if self.supi_format != SupiFormat.IMSI:
            raise SuciError(f"SUPI format {self.supi_format!r} is not supported")
        if not (len(self.mcc) == 3 and _DIGITS.fullmatch(self.mcc)):
            raise SuciError(f"MCC must be 3 digits, got {self.mcc!r}")
        if not (len(self.mnc) in (2, 3) and _DIGITS.fullmatch(self.mnc)):
            raise SuciError(f"MNC must be 2 or 3 digits, got {self.mnc!r}")
        if not (
            1 <= len(self.routing_indicator) <= 4 and _DIGITS.fullmatch(self.routing_indicator)
        ):
            raise SuciError(f"routing indicator must be 1-4 digits, got {self.routing_indicator!r}")
        if not 0 <= self.protection_scheme <= 15:
            raise SuciError(f"protection scheme id must be 0-15, got {self.protection_scheme}")
        if not 0 <= self.hn_public_key_id <= 255:
            raise SuciError(
                f"home network public key id must be 0-255, got {self.hn_public_key_id}"
            )
        if not isinstance(self.scheme_output, bytes) or not self.scheme_output:
            raise SuciError("scheme output must be non-empty bytes")
        if self.protection_scheme == ProtectionScheme.NULL:
            decode_msin_bcd(self.scheme_output)  # null scheme: the output is the BCD MSIN

    @classmethod
    def for_imsi(
        cls,
        mcc: str,
        mnc: str,
        msin: str,
        *,
        protection_scheme: int = ProtectionScheme.NULL,
        hn_public_key: bytes | None = None,
        hn_public_key_id: int = 0,
        routing_indicator: str = "0",
    ) -> SuciIdentity:
        """UE side: build a fresh SUCI for an IMSI-type SUPI (conceals the MSIN)."""
        output = conceal(msin, protection_scheme, hn_public_key)
        return cls(
            SupiFormat.IMSI,
            mcc,
            mnc,
            routing_indicator,
            int(protection_scheme),
            hn_public_key_id if protection_scheme != ProtectionScheme.NULL else 0,
            output,
        )

    # -- NAS 5GS mobile identity value (without IEI and length) --

    def encode(self) -> bytes:
        """The 5GS mobile identity contents (the octets after the length), Figure 9.11.3.4.3."""
        first = (int(self.supi_format) << 4) | _TYPE_SUCI
        if self.supi_format == SupiFormat.NAI:
            return bytes((first,)) + self.nai.encode("utf-8")
        mcc = [int(c) for c in self.mcc]
        mnc = [int(c) for c in self.mnc] + ([0xF] if len(self.mnc) == 2 else [])
        ri = [int(c) for c in self.routing_indicator] + [0xF] * (4 - len(self.routing_indicator))
        return (
            bytes(
                (
                    first,
                    (mcc[1] << 4) | mcc[0],
                    (mnc[2] << 4) | mcc[2],
                    (mnc[1] << 4) | mnc[0],
                    (ri[1] << 4) | ri[0],
                    (ri[3] << 4) | ri[2],
                    self.protection_scheme & 0x0F,
                    self.hn_public_key_id,
                )
            )
            + self.scheme_output
        )

    @classmethod
    def decode(cls, data: bytes) -> SuciIdentity:
        """Parse 5GS mobile identity contents of type SUCI; raises :class:`SuciError`."""
        data = _as_bytes("5GS mobile identity", data)
        if not data:
            raise SuciError("5GS mobile identity is empty")
        if data[0] & 0x07 != _TYPE_SUCI:
            raise SuciError(f"5GS mobile identity type {data[0] & 0x07} is not SUCI (1)")
        fmt = (data[0] >> 4) & 0x07
        if fmt == SupiFormat.NAI:
            try:
                nai = data[1:].decode("utf-8")
            except UnicodeDecodeError:
                raise SuciError("SUCI NAI is not valid UTF-8") from None
            return cls(SupiFormat.NAI, nai=nai)
        if fmt != SupiFormat.IMSI:
            raise SuciError(f"SUPI format {fmt} is not supported")
        if len(data) < 9:
            raise SuciError(f"IMSI-format SUCI too short ({len(data)} octets, need >= 9)")
        mcc = (
            _nibbles_to_digits(bytes((data[1],)), "MCC")
            + _nibbles_to_digits(bytes((data[2] & 0x0F,)), "MCC")[:1]
        )
        if data[2] & 0x0F == 0xF:
            raise SuciError("MCC digit 3 is missing")
        mnc3 = data[2] >> 4
        mnc = _nibbles_to_digits(bytes((data[3],)), "MNC")
        if len(mnc) != 2:
            raise SuciError("MNC digits 1-2 are not valid BCD")
        if mnc3 != 0xF:
            if mnc3 > 9:
                raise SuciError("MNC digit 3 is not valid BCD")
            mnc += chr(0x30 + mnc3)
        ri = _nibbles_to_digits(data[4:6], "routing indicator")
        if not ri:
            raise SuciError("routing indicator has no digits")
        return cls(SupiFormat.IMSI, mcc, mnc, ri, data[6] & 0x0F, data[7], bytes(data[8:]))

    # -- SBI string form (TS 29.503 / TS 29.571 Suci; TS 23.003 §2.2B) --

    def to_string(self) -> str:
        """``suci-0-<mcc>-<mnc>-<ri>-<scheme>-<key id>-<output>`` as used in SBI (TS 29.509 Suci).

        For the null scheme the output is the MSIN digits; otherwise lower-case hex.
        """
        if self.supi_format == SupiFormat.NAI:
            return self.nai
        if self.protection_scheme == ProtectionScheme.NULL:
            out = decode_msin_bcd(self.scheme_output)
            return f"suci-0-{self.mcc}-{self.mnc}-{self.routing_indicator}-0-0-{out}"
        return (
            f"suci-0-{self.mcc}-{self.mnc}-{self.routing_indicator}-"
            f"{self.protection_scheme:x}-{self.hn_public_key_id}-{self.scheme_output.hex()}"
        )

    @classmethod
    def from_string(cls, text: str) -> SuciIdentity:
        """Parse an IMSI-type SUCI string (inverse of :meth:`to_string`); raises :class:`SuciError`."""
        if not isinstance(text, str):
            raise SuciError("SUCI must be a str")
        parts = text.split("-")
        if len(parts) != 8 or parts[0] != "suci":
            raise SuciError(f"not a SUCI string: {text[:40]!r}")
        if parts[1] != "0":
            raise SuciError(f"SUCI SUPI type {parts[1]!r} is not supported (only 0 = IMSI)")
        mcc, mnc, ri, scheme_s, key_s, out_s = parts[2:]
        try:
            scheme = int(scheme_s, 16)
            key_id = int(key_s, 10)
        except ValueError:
            raise SuciError("SUCI protection scheme / key id are not numbers") from None
        if scheme == ProtectionScheme.NULL:
            output = encode_msin_bcd(out_s)
        else:
            try:
                output = bytes.fromhex(out_s)
            except ValueError:
                raise SuciError("SUCI scheme output is not hex") from None
        return cls(SupiFormat.IMSI, mcc, mnc, ri, scheme, key_id, output)

    # -- SIDF --

    def msin(self, hn_private_key: bytes | None = None) -> str:
        """De-conceal the MSIN (digits) with the home-network private key (None for null scheme)."""
        if self.supi_format != SupiFormat.IMSI:
            raise SuciError("msin() applies to IMSI-format SUCIs only")
        return deconceal(self.scheme_output, self.protection_scheme, hn_private_key)

    def to_supi(self, hn_private_keys: Mapping[int, bytes] | bytes | None = None) -> str:
        """The SUPI ``imsi-<mcc><mnc><msin>`` (TS 29.571 Supi), de-concealing if needed.

        ``hn_private_keys`` is a key, or a mapping from home-network public key id to key.
        """
        key: bytes | None
        if type(hn_private_keys) is bytes or hn_private_keys is None:
            key = hn_private_keys
        elif isinstance(hn_private_keys, Mapping):
            if self.protection_scheme != ProtectionScheme.NULL:
                if self.hn_public_key_id not in hn_private_keys:
                    raise SuciError(f"no home-network private key with id {self.hn_public_key_id}")
                key = hn_private_keys[self.hn_public_key_id]
            else:
                key = None
        else:
            key = hn_private_keys
        return f"imsi-{self.mcc}{self.mnc}{self.msin(key)}"

    def __repr__(self) -> str:
        return f"SuciIdentity({self.to_string() if self.protection_scheme else '<null-scheme>'})"
