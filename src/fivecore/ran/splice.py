"""Encode once, splice after: uplink messages that differ between UEs in one octet string.

Many messages a simulated UE or gNB sends have the same octets for every UE apart from one
fixed-length octet string: the scheme output of a SUCI in a Registration Request
(TS 24.501 §8.2.6, §9.11.3.4), the whole initial message inside Security Mode Complete
(§8.2.26, the same length for every UE of a profile), the gNB's GTP-U TEID in a PDU Session
Resource Setup Response Transfer (TS 38.413 §9.3.4.2). The codecs encode an octet string's
contents verbatim, at a position and with length fields that depend only on its length, so
:class:`Splice` asks the real encoder once for the octets around that string and afterwards
only joins bytes. The encoder is the authority: a template is accepted only when three probe
encodings show the value copied verbatim into one octet-aligned span; otherwise there is no
template and the caller keeps calling the encoder.
"""

from __future__ import annotations

from collections.abc import Callable


class Splice:
    """``encode(value)`` for any ``value`` of ``length`` octets, as ``head + value + tail``."""

    __slots__ = ("head", "tail", "length")

    def __init__(self, head: bytes, tail: bytes, length: int) -> None:
        self.head = head
        self.tail = tail
        self.length = length

    @classmethod
    def of(cls, encode: Callable[[bytes], bytes], length: int) -> Splice | None:
        """Probe ``encode`` with three values of ``length`` octets; the template, or None when
        the value does not land verbatim in one place (then the encoder must be called)."""
        if length < 1:
            return None
        zeros = encode(bytes(length))
        ones = encode(b"\xff" * length)
        if len(zeros) != len(ones):
            return None
        diff = [i for i, (a, b) in enumerate(zip(zeros, ones, strict=True)) if a != b]
        if len(diff) != length or diff[-1] - diff[0] + 1 != length:
            return None
        start = diff[0]
        head, tail = zeros[:start], zeros[start + length:]
        if ones[:start] != head or ones[start + length:] != tail:
            return None
        probe = bytes((i * 37 + 11) & 0xFF for i in range(length))
        if encode(probe) != head + probe + tail:
            return None
        return cls(head, tail, length)

    def __call__(self, value: bytes) -> bytes:
        if len(value) != self.length:
            raise ValueError(f"template for {self.length} octets, got {len(value)}")
        return self.head + value + self.tail


class Splices:
    """``encode(*values)`` for values of fixed ``lengths``, as constant octets with the values
    in between: several octet strings in one message (e.g. two pre-encoded NGAP IDs and a
    NAS-PDU in an Uplink NAS Transport)."""

    __slots__ = ("parts", "lengths")

    def __init__(self, parts: tuple[bytes, ...], lengths: tuple[int, ...]) -> None:
        self.parts = parts
        self.lengths = lengths

    @classmethod
    def of(cls, encode: Callable[..., bytes], lengths: tuple[int, ...]) -> Splices | None:
        """Probe ``encode`` value by value; the template, or None when some value does not
        land verbatim in one octet-aligned span of its own (then call the encoder)."""
        if not lengths or min(lengths) < 1:
            return None
        zeros = [bytes(n) for n in lengths]
        base = encode(*zeros)
        spans = []
        for i, n in enumerate(lengths):
            vals = list(zeros)
            vals[i] = b"\xff" * n
            other = encode(*vals)
            if len(other) != len(base):
                return None
            diff = [j for j, (a, b) in enumerate(zip(base, other, strict=True)) if a != b]
            if len(diff) != n or diff[-1] - diff[0] + 1 != n:
                return None
            spans.append(diff[0])
        if any(spans[i] + lengths[i] > spans[i + 1] for i in range(len(spans) - 1)):
            return None  # out of order or overlapping
        parts, pos = [], 0
        for start, n in zip(spans, lengths, strict=True):
            parts.append(base[pos:start])
            pos = start + n
        parts.append(base[pos:])
        sp = cls(tuple(parts), tuple(lengths))
        probe = [bytes((k * 37 + 11 + 5 * i) & 0xFF for k in range(n)) for i, n in enumerate(lengths)]
        if encode(*probe) != sp(*probe):
            return None
        return sp

    def __call__(self, *values: bytes) -> bytes:
        parts = self.parts
        out = [parts[0]]
        for v, n, p in zip(values, self.lengths, parts[1:], strict=True):
            if len(v) != n:
                raise ValueError(f"template for {n} octets, got {len(v)}")
            out.append(v)
            out.append(p)
        return b"".join(out)
