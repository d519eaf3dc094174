"""5G ciphering (NEA) and integrity (NIA) algorithms 0-3, TS 33.501 Annex D.

=====  =================  ============================================================
 id     algorithm          definition
=====  =================  ============================================================
  0     NEA0 / NIA0        null: identity / all-zero MAC (TS 33.501 §D.1)
  1     128-NEA1 / NIA1    SNOW 3G, = 128-EEA1/EIA1 (TS 33.401 Annex B.1.2 / B.2.2)
  2     128-NEA2 / NIA2    AES-128-CTR / AES-CMAC (TS 33.401 Annex B.1.3 / B.2.3)
  3     128-NEA3 / NIA3    ZUC, = 128-EEA3/EIA3 (ETSI/SAGE 128-EEA3 & 128-EIA3 Doc 1)
=====  =================  ============================================================

Inputs follow TS 33.501 §D.2: 128-bit KEY, 32-bit COUNT, 5-bit BEARER, 1-bit DIRECTION
(0 uplink, 1 downlink) and a message of LENGTH bits. ``length_bits`` defaults to
``8 * len(data)``; when given, ``data`` must be exactly ``ceil(length_bits / 8)`` bytes and
the bits after ``length_bits`` in the last byte are ignored on input and returned as zero
on output. SNOW 3G and ZUC are implemented here in pure Python (no maintained PyPI package
provides them); AES comes from ``cryptography``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import IntEnum

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from fivecore.security import _snow3g, _zuc
from fivecore.security._util import check_bytes, check_uint
from fivecore.security.errors import InvalidParameterError, UnknownAlgorithmError

__all__ = [
    "CipheringAlgorithm",
    "IntegrityAlgorithm",
    "Nea2Keystream",
    "Nia2Mac",
    "nea",
    "nea_for_key",
    "nia",
    "nia_for_key",
    "uia2",
]


class CipheringAlgorithm(IntEnum):
    """NAS/AS ciphering algorithm identifiers, TS 33.501 §5.11.1.1 (4-bit values)."""

    NEA0 = 0
    NEA1 = 1
    NEA2 = 2
    NEA3 = 3


class IntegrityAlgorithm(IntEnum):
    """NAS/AS integrity algorithm identifiers, TS 33.501 §5.11.1.2 (4-bit values)."""

    NIA0 = 0
    NIA1 = 1
    NIA2 = 2
    NIA3 = 3


_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1


def _message(data: object, length_bits: int | None) -> tuple[bytes, int]:
    """Validate (data, length_bits) and return the data with bits past LENGTH cleared."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidParameterError(f"message must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if length_bits is None:
        return data, 8 * len(data)
    check_uint("length_bits", length_bits, 32)
    need = (length_bits + 7) // 8
    if len(data) != need:
        raise InvalidParameterError(
            f"length_bits={length_bits} needs exactly {need} bytes of data, got {len(data)}"
        )
    rem = length_bits & 7
    if rem:
        data = data[:-1] + bytes((data[-1] & (0xFF00 >> rem) & 0xFF,))
    return data, length_bits


def _check_common(
    alg_id: object, key: object, count: int, bearer: int, direction: int, kind: str
) -> bytes:
    if isinstance(alg_id, bool) or not isinstance(alg_id, int) or not 0 <= alg_id <= 3:
        raise UnknownAlgorithmError(f"{kind} algorithm id {alg_id!r} is not supported (0-3)")
    check_uint("COUNT", count, 32)
    check_uint("BEARER", bearer, 5)
    check_uint("DIRECTION", direction, 1)
    if alg_id == 0:
        return b""  # the null algorithms use no key
    return check_bytes("KEY", key, 16)


def _xor(data: bytes, keystream: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    return (int.from_bytes(data, "big") ^ int.from_bytes(keystream[:n], "big")).to_bytes(n, "big")


def _clear_tail(data: bytes, length_bits: int) -> bytes:
    rem = length_bits & 7
    if rem and data:
        return data[:-1] + bytes((data[-1] & (0xFF00 >> rem) & 0xFF,))
    return data


# --- ciphering ----------------------------------------------------------------------------


def _snow3g_key(key: bytes) -> tuple[int, int, int, int]:
    # UEA2/UIA2 §4: k3 = first 32 bits of the key ... k0 = last 32 bits.
    w0, w1, w2, w3 = struct.unpack(">4I", key)
    return (w3, w2, w1, w0)


def _nea1(key: bytes, count: int, bearer: int, direction: int, data: bytes) -> bytes:
    """128-NEA1 = UEA2 with CK = KEY, COUNT-C = COUNT (TS 33.401 B.1.2; UEA2 Doc 1 §3)."""
    bd = (bearer << 27) | (direction << 26)
    nwords = (len(data) + 3) // 4
    # IV0 = BEARER||DIRECTION||0, IV1 = COUNT, IV2 = BEARER||DIRECTION||0, IV3 = COUNT
    z = _snow3g.keystream(_snow3g_key(key), (bd, count, bd, count), nwords)
    return _xor(data, struct.pack(f">{nwords}I", *z))


def _nea2(key: bytes, count: int, bearer: int, direction: int, data: bytes) -> bytes:
    """128-NEA2: AES-128-CTR, T1 = COUNT||BEARER||DIRECTION||0^26||0^64 (TS 33.401 B.1.3)."""
    t1 = struct.pack(">II", count, (bearer << 27) | (direction << 26)) + bytes(8)
    return Cipher(algorithms.AES(key), modes.CTR(t1)).encryptor().update(data)


def _zuc_iv_eea3(count: int, bearer: int, direction: int) -> bytes:
    head = struct.pack(">IB3x", count, (bearer << 3) | (direction << 2))
    return head + head


def _nea3(key: bytes, count: int, bearer: int, direction: int, data: bytes) -> bytes:
    """128-NEA3 = 128-EEA3 (ETSI/SAGE EEA3/EIA3 Doc 1 §3)."""
    nwords = (len(data) + 3) // 4
    return _xor(data, _zuc.keystream_bytes(key, _zuc_iv_eea3(count, bearer, direction), nwords))


_NEA = (None, _nea1, _nea2, _nea3)


def nea(
    alg_id: int,
    key: bytes,
    count: int,
    bearer: int,
    direction: int,
    data: bytes,
    length_bits: int | None = None,
) -> bytes:
    """Encrypt or decrypt (the same operation) with NEA ``alg_id``, TS 33.501 Annex D.2.

    Returns ``ceil(length_bits / 8)`` bytes; bits past ``length_bits`` are zero. Raises
    :class:`UnknownAlgorithmError` for an id outside 0-3, :class:`KeyLengthError` for a key
    that is not 16 bytes (ignored for NEA0) and :class:`InvalidParameterError` for COUNT,
    BEARER, DIRECTION or a length that do not fit.
    """
    key = _check_common(alg_id, key, count, bearer, direction, "ciphering")
    data, nbits = _message(data, length_bits)
    if alg_id == 0:
        return data
    return _clear_tail(_NEA[alg_id](key, count, bearer, direction, data), nbits)


def nea_octets(alg_id: int, key: bytes, count: int, bearer: int, direction: int, data: bytes) -> bytes:
    """:func:`nea` on whole octets for a caller that validated the algorithm, key, BEARER and
    DIRECTION once and keeps COUNT in range itself (:class:`NasSecurityContext`, per message)."""
    return data if alg_id == 0 else _NEA[alg_id](key, count, bearer, direction, data)


# --- integrity ----------------------------------------------------------------------------


def _nia1(key: bytes, count: int, bearer: int, direction: int, msg: bytes, nbits: int) -> bytes:
    """128-NIA1 = UIA2 with COUNT-I = COUNT, FRESH = BEARER||0^27 (TS 33.401 B.2.2)."""
    return uia2(key, count, bearer << 27, direction, msg, nbits)


def uia2(key: bytes, count: int, fresh: int, direction: int, msg: bytes, nbits: int) -> bytes:
    """UIA2 (f9 with SNOW 3G), ETSI/SAGE UEA2 & UIA2 Document 1 §4: the 32-bit MAC-I.

    Exposed for its own test data (32-bit FRESH); NAS code uses :func:`nia` with id 1.
    ``msg`` must already have the bits past ``nbits`` cleared.
    """
    iv = (fresh ^ (direction << 15), (direction << 31) ^ count, fresh, count)
    z1, z2, z3, z4, z5 = _snow3g.keystream(_snow3g_key(key), iv, 5)
    p = (z1 << 32) | z2
    q = (z3 << 32) | z4
    # p·x^i in GF(2^64) with x^64 + x^4 + x^3 + x + 1 (MUL64 with c = 0x1b, UIA2 §4.3).
    pow_p = []
    v = p
    for _ in range(64):
        pow_p.append(v)
        v = ((v << 1) ^ 0x1B) & _M64 if v >> 63 else v << 1
    nblocks = (nbits + 63) // 64
    m = int.from_bytes(msg + bytes(nblocks * 8 - len(msg)), "big")
    evl = 0
    for i in range(nblocks):
        a = evl ^ ((m >> (64 * (nblocks - 1 - i))) & _M64)
        r = 0
        while a:
            low = a & -a
            r ^= pow_p[low.bit_length() - 1]
            a ^= low
        evl = r
    evl ^= nbits
    r = 0
    v = q
    while evl:
        if evl & 1:
            r ^= v
        evl >>= 1
        v = ((v << 1) ^ 0x1B) & _M64 if v >> 63 else v << 1
    return (((r >> 32) ^ z5) & _M32).to_bytes(4, "big")


def _cmac_bits(key: bytes, data: bytes, nbits: int) -> bytes:
    """AES-CMAC of a bit string (NIST SP 800-38B §6.2), for lengths that are not whole octets."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    lval = int.from_bytes(enc.update(bytes(16)), "big")
    mask = (1 << 128) - 1
    k1 = ((lval << 1) & mask) ^ (0x87 if lval >> 127 else 0)
    k2 = ((k1 << 1) & mask) ^ (0x87 if k1 >> 127 else 0)
    nblocks = max(1, (nbits + 127) // 128)
    complete = nbits > 0 and nbits % 128 == 0
    last_bits = nbits - 128 * (nblocks - 1)
    body = data[: 16 * (nblocks - 1)]
    tail = int.from_bytes(data[16 * (nblocks - 1) :].ljust(16, b"\x00"), "big")
    if complete:
        tail ^= k1
    else:
        tail = (tail >> (128 - last_bits) << (128 - last_bits)) | (1 << (127 - last_bits))
        tail ^= k2
    cbc = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    out = cbc.update(body + tail.to_bytes(16, "big"))
    return out[-16:]


def _nia2(key: bytes, count: int, bearer: int, direction: int, msg: bytes, nbits: int) -> bytes:
    """128-NIA2: AES-CMAC over COUNT||BEARER||DIRECTION||0^26||MESSAGE, first 32 bits (TS 33.401 B.2.3)."""
    m = struct.pack(">II", count, (bearer << 27) | (direction << 26)) + msg
    if nbits % 8 == 0:
        c = CMAC(algorithms.AES(key))
        c.update(m)
        return c.finalize()[:4]
    return _cmac_bits(key, m, nbits + 64)[:4]


def _zuc_iv_eia3(count: int, bearer: int, direction: int) -> bytes:
    c = struct.pack(">I", count)
    b = bytes((bearer << 3, 0, 0, 0))
    d = direction << 7
    return c + b + bytes((c[0] ^ d,)) + c[1:] + b[:2] + bytes((b[2] ^ d, b[3]))


# For each byte value, the shifts that extract z_i for each set bit i (MSB first).
_BIT_SHIFTS = tuple(tuple(8 - k for k in range(8) if b & (0x80 >> k)) for b in range(256))


def _nia3(key: bytes, count: int, bearer: int, direction: int, msg: bytes, nbits: int) -> bytes:
    """128-NIA3 = 128-EIA3 (ETSI/SAGE EEA3/EIA3 Doc 1 §4)."""
    nwords = (nbits + 31) // 32 + 2
    ks = _zuc.keystream_bytes(key, _zuc_iv_eia3(count, bearer, direction), nwords)
    t = 0
    shifts = _BIT_SHIFTS
    frombytes = int.from_bytes
    for j, b in enumerate(msg):
        if b:
            w = frombytes(ks[j : j + 5], "big")  # bits 8j .. 8j+39 of the keystream
            for sh in shifts[b]:
                t ^= w >> sh
    kint = frombytes(ks, "big")
    total = 32 * nwords
    t ^= kint >> (total - 32 - nbits)  # z_LENGTH
    t ^= kint  # z_{32(L-1)}: the last word
    return (t & _M32).to_bytes(4, "big")


_NIA = (None, _nia1, _nia2, _nia3)


def nia(
    alg_id: int,
    key: bytes,
    count: int,
    bearer: int,
    direction: int,
    message: bytes,
    length_bits: int | None = None,
) -> bytes:
    """The 32-bit MAC (4 bytes) of NIA ``alg_id`` over ``message``, TS 33.501 Annex D.3.

    NIA0 returns four zero bytes (TS 33.501 §D.1). Errors as for :func:`nea`. Compare MACs
    with :func:`hmac.compare_digest`.
    """
    key = _check_common(alg_id, key, count, bearer, direction, "integrity")
    msg, nbits = _message(message, length_bits)
    if alg_id == 0:
        return bytes(4)
    return _NIA[alg_id](key, count, bearer, direction, msg, nbits)


def nia_octets(alg_id: int, key: bytes, count: int, bearer: int, direction: int, message: bytes) -> bytes:
    """:func:`nia` on whole octets, arguments validated by the caller (see :func:`nea_octets`)."""
    return bytes(4) if alg_id == 0 else _NIA[alg_id](key, count, bearer, direction, message, 8 * len(message))


# --- per-key objects for a NAS security context (one key, many messages) -------------------

# Low 64 bits of the NEA2 counter blocks T1, T2, ... (TS 33.401 B.1.3: the counter starts at
# zero below COUNT||BEARER||DIRECTION||0^26); the leading b"" lets ``head.join`` interleave.
_CTR_LOW = [b""] + [i.to_bytes(8, "big") for i in range(64)]
_HEAD = struct.Struct(">II")  # COUNT, BEARER||DIRECTION||0^26


class Nea2Keystream:
    """128-NEA2 (AES-128-CTR, TS 33.401 B.1.3) with one AES key schedule kept for a key.

    Building a ``Cipher`` costs more than ciphering a NAS message, so the context builds
    this once: the counter blocks ``COUNT||BEARER||DIRECTION||0^26||i`` are encrypted with
    a cached AES-ECB context, which is CTR mode exactly (the 64-bit block counter ``i``
    never carries into the upper half for messages shorter than 2^68 octets).
    """

    __slots__ = ("_ecb", "_key")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()

    def __call__(self, count: int, bearer: int, direction: int, data: bytes) -> bytes:
        """Cipher or decipher ``data`` (whole octets); arguments are the caller's, checked once."""
        n = len(data)
        nblocks = (n + 15) >> 4
        if nblocks > 64:  # long messages: OpenSSL's CTR mode builds its own counter blocks
            return _nea2(self._key, count, bearer, direction, data)
        if n == 0:
            return b""
        head = _HEAD.pack(count, (bearer << 27) | (direction << 26))
        ks = self._ecb.update(head.join(_CTR_LOW[: nblocks + 1]))
        ks_i = int.from_bytes(ks, "big") >> (128 * nblocks - 8 * n)  # the first n octets
        return (int.from_bytes(data, "big") ^ ks_i).to_bytes(n, "big")


class Nia2Mac:
    """128-NIA2 (AES-CMAC, TS 33.401 B.2.3; NIST SP 800-38B) with one key schedule kept.

    A keyed, unused ``CMAC`` object is kept and copied per message: copying it costs a
    fraction of building one (which runs the AES key schedule and derives K1/K2).
    """

    __slots__ = ("_cmac",)

    def __init__(self, key: bytes) -> None:
        self._cmac = CMAC(algorithms.AES(key))

    def __call__(self, count: int, bearer: int, direction: int, message: bytes) -> bytes:
        """The 32-bit MAC of a whole-octet ``message``; arguments checked once by the caller."""
        c = self._cmac.copy()
        c.update(_HEAD.pack(count, (bearer << 27) | (direction << 26)))
        c.update(message)
        return c.finalize()[:4]


def nea_for_key(alg_id: int, key: bytes) -> Callable[[int, int, int, bytes], bytes]:
    """A ``(count, bearer, direction, data) -> bytes`` NEA for one key, whole octets only.

    For a caller that checked the algorithm id (0-3), the 16-byte key, BEARER and DIRECTION
    once and keeps COUNT within 32 bits (:class:`NasSecurityContext`). NEA2 keeps its AES key
    schedule (:class:`Nea2Keystream`); the output equals :func:`nea`'s.
    """
    if alg_id == 0:
        return _identity
    if alg_id == 2:
        return Nea2Keystream(key)
    f = _NEA[alg_id]

    def run(count: int, bearer: int, direction: int, data: bytes) -> bytes:
        return f(key, count, bearer, direction, data)

    return run


def _identity(count: int, bearer: int, direction: int, data: bytes) -> bytes:
    return data


def _zero_mac(count: int, bearer: int, direction: int, message: bytes) -> bytes:
    return b"\x00\x00\x00\x00"


def nia_for_key(alg_id: int, key: bytes) -> Callable[[int, int, int, bytes], bytes]:
    """A ``(count, bearer, direction, message) -> MAC`` NIA for one key, whole octets only.

    Same contract as :func:`nea_for_key`; NIA2 keeps its key schedule (:class:`Nia2Mac`), NIA0
    returns four zero octets (TS 33.501 §D.1).
    """
    if alg_id == 0:
        return _zero_mac
    if alg_id == 2:
        return Nia2Mac(key)
    f = _NIA[alg_id]

    def run(count: int, bearer: int, direction: int, message: bytes) -> bytes:
        return f(key, count, bearer, direction, message, 8 * len(message))

    return run
