"""Small argument checks shared by the security modules (internal)."""

from __future__ import annotations

import hashlib
import hmac

from fivecore.security.errors import InvalidParameterError, KeyLengthError

try:  # the C one-shot behind hmac.digest, without its Python wrapper
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # pragma: no cover - CPython built without OpenSSL
    _hmac_digest = hmac.digest

_sha256 = hashlib.sha256
_IPAD = bytes(b ^ 0x36 for b in range(256))  # RFC 2104 §2: key XOR ipad, as a translate table
_OPAD = bytes(b ^ 0x5C for b in range(256))
_ZERO32 = bytes(32)


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA-256 (RFC 2104 §2, FIPS 198-1): ``H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ msg))``.

    Every key of the 5G key hierarchy and the SUCI MAC key is 32 octets: such a key is padded
    to the 64-octet block and the two hashes are done here, which costs about two thirds of
    OpenSSL's one-shot HMAC (that one looks its MAC implementation up again on every call).
    Other key lengths go to the one-shot. ``key`` and ``msg`` are ``bytes``.
    """
    if len(key) == 32:
        k = key + _ZERO32
        return _sha256(k.translate(_OPAD) + _sha256(k.translate(_IPAD) + msg).digest()).digest()
    return _hmac_digest(key, msg, "sha256")


def check_bytes(name: str, value: object, length: int | tuple[int, ...]) -> bytes:
    """Return ``value`` as bytes if it is bytes-like of an allowed length, else raise.

    Raises :class:`KeyLengthError` (a ``ValueError``) naming the parameter, so a caller's
    mistake reads as "K must be 16 bytes, got 15" instead of an error deep inside a cipher.
    """
    if not isinstance(value, bytes | bytearray | memoryview):
        raise KeyLengthError(f"{name} must be bytes, got {type(value).__name__}")
    data = bytes(value)
    allowed = (length,) if isinstance(length, int) else length
    if len(data) not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise KeyLengthError(f"{name} must be {want} bytes, got {len(data)}")
    return data


def fixed_bytes(name: str, value: object, length: int) -> bytes:
    """:func:`check_bytes` for one length, with the common case (``bytes`` of that length)
    answered before any other check; anything else gets :func:`check_bytes`'s errors."""
    if type(value) is bytes and len(value) == length:
        return value
    return check_bytes(name, value, length)


def check_uint(name: str, value: object, bits: int) -> int:
    """Return ``value`` if it is an int in ``[0, 2**bits)``, else raise InvalidParameterError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < (1 << bits):
        raise InvalidParameterError(f"{name} must fit in {bits} bits, got {value}")
    return value
