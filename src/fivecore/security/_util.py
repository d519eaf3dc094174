"""Small argument checks shared by the security modules (internal)."""

from __future__ import annotations

from fivecore.security.errors import InvalidParameterError, KeyLengthError


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


def check_uint(name: str, value: object, bits: int) -> int:
    """Return ``value`` if it is an int in ``[0, 2**bits)``, else raise InvalidParameterError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < (1 << bits):
        raise InvalidParameterError(f"{name} must fit in {bits} bits, got {value}")
    return value
