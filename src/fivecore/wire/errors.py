"""Errors of the wire layer.

Every decoder in :mod:`fivecore.wire` raises :class:`DecodeError` (and only that) on malformed,
truncated, overlong, mis-tagged or random input; every encoder raises :class:`EncodeError` when
asked to put a value on the wire that the protocol cannot carry.
"""

from __future__ import annotations

from fivecore.errors import FivecoreError


class WireError(FivecoreError):
    """Base of the wire layer's errors."""


class DecodeError(WireError):
    """Bytes that are not a valid message of the protocol.

    ``offset`` is the octet offset (from the start of the buffer given to the decoder) where the
    problem was found, or ``-1`` when it is not tied to one place; ``reason`` says what was wrong.
    """

    def __init__(self, reason: str, offset: int = -1, protocol: str = "") -> None:
        self.reason = reason
        self.offset = offset
        self.protocol = protocol
        where = f" at offset {offset}" if offset >= 0 else ""
        proto = f"{protocol}: " if protocol else ""
        super().__init__(f"{proto}{reason}{where}")


class EncodeError(WireError):
    """A value the encoder cannot put on the wire (out of range, missing mandatory field, ...)."""
