"""Octet templates: a message encoded once per shape, per-message fields written in place.

Many messages a core sends per UE differ only in a few fixed-width fields (a sequence number,
an identifier, an address) while the rest (QoS, slices, timers, DNN) is the same for every UE
of a configuration. :func:`octet_template` encodes such a message with the generic encoder,
finds where each field landed by encoding it again with a value that differs in every octet,
checks the result against the generic encoder once more, and :meth:`OctetTemplate.fill` then
writes the fields into a copy of those octets. The generic encoder stays the reference: a
template is only ever a faster way to produce the octets it would have produced, and a field
that does not sit in fixed places gives no template (None) so the caller uses the encoder.

Fields are big-endian unsigned integers of a given width (``"int"``, up to 8 octets), IPv4
addresses (``"ipv4"``, width 4, dotted-quad strings packed with ``inet_pton`` as the codecs
here do) or octet strings of exactly their width (``"bytes"``, e.g. a RAND).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from fivecore.wire.errors import EncodeError

#: values A and B of a field differ in every octet; a third (probe) checks the template
_INT_A = 0x0102030405060708
_INT_B = 0xF1F2F3F4F5F6F7F8
_INT_PROBE = 0x5A5A5A5A5A5A5A5A
_IP_A, _IP_B, _IP_PROBE = "10.1.2.3", "245.254.253.252", "90.90.90.90"


class OctetTemplate:
    """The octets of one message shape and where its per-message fields go."""

    __slots__ = ("octets", "places")

    def __init__(self, octets: bytes, places: tuple[tuple[int, int, str], ...]) -> None:
        self.octets = octets
        #: (offset, width, field name), in octet order
        self.places = places

    def fill(self, values: dict[str, Any]) -> bytes:
        """The message with ``values`` written in; OverflowError (an int out of its width or
        negative), OSError (a malformed address) or TypeError for a value the template
        cannot take: the caller then uses the generic encoder, which says what is wrong."""
        buf = bytearray(self.octets)
        for off, width, name in self.places:
            v = values[name]
            tv = type(v)
            if tv is int:
                b = v.to_bytes(width, "big")
            elif tv is str:
                b = socket.inet_pton(socket.AF_INET, v)
            elif tv is bytes and len(v) == width:
                b = v
            else:
                raise TypeError(f"template field {name}: {tv.__name__} of {width} octets expected")
            buf[off:off + width] = b
        return bytes(buf)


def octet_template(build: Callable[[dict[str, Any]], bytes],
                   fields: dict[str, tuple[str, int]]) -> OctetTemplate | None:
    """A template of ``build`` (the generic encoder called with the per-message fields) for
    ``fields``: name -> (``"int"`` or ``"ipv4"``, width in octets). None when a field does not
    land in fixed places of fixed-length output, or the check against ``build`` fails."""
    def val(kind: str, width: int, which: int) -> Any:
        if kind == "ipv4":
            return (_IP_A, _IP_B, _IP_PROBE, "0.0.0.1")[which]
        if kind == "bytes":
            return (bytes(range(1, width + 1)), bytes(range(0xF1, 0xF1 - width, -1)), b"\x5a" * width,
                    bytes(width - 1) + b"\x01")[which]
        if which == 3:
            return 1
        return (_INT_A, _INT_B, _INT_PROBE)[which] >> (8 * (8 - width))

    for kind, width in fields.values():
        ok = {"int": 1 <= width <= 8, "ipv4": width == 4, "bytes": 1 <= width <= 64}.get(kind, False)
        if not ok:
            raise ValueError(f"unsupported template field {kind}/{width}")
    base = {n: val(k, w, 0) for n, (k, w) in fields.items()}
    try:
        ref = build(base)
        places: list[tuple[int, int, str]] = []
        for name, (kind, width) in fields.items():
            alt = build({**base, name: val(kind, width, 1)})
            if len(alt) != len(ref):
                return None
            diff = [i for i in range(len(ref)) if ref[i] != alt[i]]
            if not diff or len(diff) % width:
                return None
            for k in range(0, len(diff), width):
                run = diff[k:k + width]
                if run[-1] - run[0] != width - 1:
                    return None
                places.append((run[0], width, name))
        places.sort()
        if any(a[0] + a[1] > b[0] for a, b in zip(places, places[1:], strict=False)):
            return None  # two fields overlap
        t = OctetTemplate(ref, tuple(places))
        # two more samples, written both ways: one more full-width value, and the smallest
        # ones (an encoder that shortens small values has no fixed places for them)
        for which in (2, 3):
            probe = {n: val(k, w, which) for n, (k, w) in fields.items()}
            if t.fill(probe) != build(probe):
                return None
    except (EncodeError, ValueError, OverflowError, OSError, TypeError):
        return None
    return t


class TemplateCache:
    """Templates by shape key, bounded (shapes are few; a flood of odd ones must not grow it)."""

    __slots__ = ("_t", "limit")

    def __init__(self, limit: int = 256) -> None:
        self._t: dict[Any, OctetTemplate | None] = {}
        self.limit = limit

    def get(self, key: Any, build: Callable[[dict[str, Any]], bytes],
            fields: dict[str, tuple[str, int]]) -> OctetTemplate | None:
        t = self._t.get(key, _NONE)
        if t is _NONE:
            if len(self._t) >= self.limit:
                self._t.clear()
            t = self._t[key] = octet_template(build, fields)
        return t

    def clear(self) -> None:
        self._t.clear()


_NONE: Any = object()
