"""Octet templates: a message encoded once per shape, per-message fields written in place.

Many messages differ between UEs only in a few fields that sit in fixed places: a sequence
number, an identifier or an address the core writes (PFCP, 5GSM, 5GMM), or an octet string
the simulator joins in (a SUCI's scheme output, TS 24.501 §9.11.3.4; a NAS message container,
§8.2.26; pre-encoded NGAP IDs and a NAS-PDU, TS 38.413 §9.2.5.3). The rest (QoS, slices,
timers, DNN, lengths) is the same for every UE of a configuration. :func:`octet_template`
encodes such a message with the generic encoder, finds where each field landed by encoding it
again with a value that differs in every octet, checks the result against the generic encoder
with two more values, and :meth:`OctetTemplate.fill` / :meth:`OctetTemplate.join` then put the
fields between the constant octets. The generic encoder stays the reference: a template is only
ever a faster way to produce the octets it would have produced, and a field that does not sit
in fixed places gives no template (None) so the caller uses the encoder.

Fields are big-endian unsigned integers of a given width (``"int"``, up to 8 octets), IPv4
addresses (``"ipv4"``, width 4, dotted-quad strings packed with ``inet_pton`` as the codecs
here do) or octet strings of exactly their width (``"bytes"``, any width). An octet string
whose length varies between messages gets one template per length (its length fields move
with it): :meth:`TemplateCache.join` keys templates by the values' lengths.
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

_inet_pton = socket.inet_pton
_AF_INET = socket.AF_INET


class OctetTemplate:
    """The octets of one message shape and where its per-message fields go."""

    __slots__ = ("octets", "places", "parts", "_steps", "_n", "_single")

    def __init__(self, octets: bytes, places: tuple[tuple[int, int, str], ...],
                 names: tuple[str, ...] | None = None) -> None:
        self.octets = octets
        #: (offset, width, field name), in octet order
        self.places = places
        if names is None:
            names = tuple(dict.fromkeys(n for _, _, n in places))
        #: the constant octets before, between and after the places
        parts = []
        pos = 0
        for off, width, _ in places:
            parts.append(octets[pos:off])
            pos = off + width
        parts.append(octets[pos:])
        self.parts = tuple(parts)
        #: per place: (index of its value in ``names`` order, width, constant octets after it)
        self._steps = tuple((names.index(n), w, p) for (_, w, n), p in zip(places, self.parts[1:], strict=True))
        self._n = len(names)
        #: one field in one place (the common case of :meth:`join`): (width, head, tail)
        self._single = (places[0][1], self.parts[0], self.parts[1]) if len(places) == 1 and self._n == 1 else None

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
            elif tv is str and width == 4:
                b = _inet_pton(_AF_INET, v)
            elif tv is bytes and len(v) == width:
                b = v
            else:
                raise TypeError(f"template field {name}: {tv.__name__} of {width} octets expected")
            buf[off:off + width] = b
        return bytes(buf)

    def join(self, *values: bytes) -> bytes:
        """The message with the fields' octets ``values`` (in the order the fields were given,
        each exactly its width) put in their places; ValueError for a wrong length."""
        if (single := self._single) is not None and len(values) == 1:
            width, head, tail = single
            if len(values[0]) != width:
                raise ValueError(f"template field 0 of {width} octets, got {len(values[0])}")
            return head + values[0] + tail
        if len(values) != self._n:
            raise ValueError(f"template of {self._n} fields, got {len(values)} values")
        out = [self.parts[0]]
        for i, width, p in self._steps:
            v = values[i]
            if len(v) != width:
                raise ValueError(f"template field {i} of {width} octets, got {len(v)}")
            out.append(v)
            out.append(p)
        return b"".join(out)


def _value(kind: str, width: int, which: int) -> Any:
    """Sample ``which`` of a field: 0 (A) and 1 (B) differ in every octet, 2 and 3 (the
    smallest non-zero value) check the template."""
    if kind == "ipv4":
        return (_IP_A, _IP_B, _IP_PROBE, "0.0.0.1")[which]
    if kind == "bytes":
        if which == 0:
            return bytes((i * 37 + 1) & 0xFF for i in range(width))
        if which == 1:
            return bytes(((i * 37 + 1) & 0xFF) ^ 0xFF for i in range(width))
        return b"\x5a" * width if which == 2 else bytes(width - 1) + b"\x01"
    if which == 3:
        return 1
    return (_INT_A, _INT_B, _INT_PROBE)[which] >> (8 * (8 - width))


def octet_template(build: Callable[[dict[str, Any]], bytes],
                   fields: dict[str, tuple[str, int]]) -> OctetTemplate | None:
    """A template of ``build`` (the generic encoder called with the per-message fields) for
    ``fields``: name -> (``"int"``, ``"ipv4"`` or ``"bytes"``, width in octets). None when a
    field does not land in fixed places of fixed-length output, or the check against
    ``build`` fails. A field may land in several places (each is written)."""
    for kind, width in fields.values():
        ok = {"int": 1 <= width <= 8, "ipv4": width == 4, "bytes": width >= 1}.get(kind, False)
        if not ok:
            raise ValueError(f"unsupported template field {kind}/{width}")
    base = {n: _value(k, w, 0) for n, (k, w) in fields.items()}
    try:
        ref = build(base)
        places: list[tuple[int, int, str]] = []
        for name, (kind, width) in fields.items():
            alt = build({**base, name: _value(kind, width, 1)})
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
        t = OctetTemplate(bytes(ref), tuple(places), tuple(fields))
        # two more samples, written both ways: one more full-width value, and the smallest
        # ones (an encoder that shortens small values has no fixed places for them)
        for which in (2, 3):
            probe = {n: _value(k, w, which) for n, (k, w) in fields.items()}
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

    def octets_template(self, key: Any, widths: tuple[int, ...],
                        build: Callable[..., bytes]) -> OctetTemplate | None:
        """The template (for :meth:`OctetTemplate.join`) of ``build(*values)``, the encoding of
        a message whose other contents ``key`` fixes, for octet strings ``values`` of
        ``widths``; one per (``key``, ``widths``), None when the probes allow none (or a
        value is empty: it has no place)."""
        full = (_JOIN, key, widths)
        t = self._t.get(full, _NONE)
        if t is _NONE:
            if min(widths, default=0) < 1:
                return None
            names = tuple(f"v{i}" for i in range(len(widths)))
            t = self.get(full, lambda v: build(*(v[n] for n in names)),
                         {n: ("bytes", w) for n, w in zip(names, widths, strict=True)})
        return t

    def join(self, key: Any, values: tuple[bytes, ...], build: Callable[..., bytes]) -> bytes:
        """``build(*values)``, from :meth:`octets_template` for the values' lengths when it
        has a template (else ``build`` itself, which also says what is wrong with a value)."""
        widths = tuple(map(len, values))
        t = self._t.get((_JOIN, key, widths), _NONE)
        if t is _NONE:
            t = self.octets_template(key, widths, build)
        return t.join(*values) if t is not None else build(*values)

    def clear(self) -> None:
        self._t.clear()


_NONE: Any = object()
#: first element of the keys of :meth:`TemplateCache.octets_template` (apart from :meth:`get`'s)
_JOIN: Any = object()
