"""A small ALIGNED PER codec (X.691) for the plain NGAP types, compiled from pycrate's objects.

pycrate builds and walks a tree of objects for every value it encodes or decodes, ~10-40 µs
for a GTP tunnel or a PDU session list. Most NGAP values are made of a few simple types, so
this module compiles a pycrate type once into two closures that read and write the bits
directly:

- SEQUENCE (extension marker, OPTIONAL components; no DEFAULT), CHOICE, SEQUENCE OF with a
  size range below 64K (X.691 §20), INTEGER constrained to at most 64K values, with or
  without an extension marker (§13), ENUMERATED (§14), OCTET STRING of fixed or unconstrained
  size (§17), BIT STRING of fixed size or a size range (§16).

Anything else is left to pycrate, which stays the reference: a type with a part outside that
list does not compile (:func:`compile_type` returns ``None``) and a value that needs what is
not written here (an extension addition, a present iE-Extensions, a length of 16K or more, a
value pycrate would reject) raises :class:`Slow` at run time so the caller hands the same
input to pycrate. The fast path therefore never gives a different answer, only a quicker one;
``tests/unit/wire/test_wire_ngap_fastper.py`` checks that against pycrate.

Values are pycrate's: int, str (ENUMERATED), bytes, ``(int, nbits)`` bit strings,
``(alternative, value)`` choices, dicts and lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Slow(Exception):
    """This value or these octets need pycrate (see module docstring)."""


_SLOW = Slow()


class _Writer:
    """Bits out, most significant first; whole octets go to ``buf`` as soon as they are full,
    so the work stays linear in the size of the encoding."""

    __slots__ = ("buf", "acc", "nacc")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.acc = 0  # the last 0..7 bits written, not yet a whole octet
        self.nacc = 0

    def bits(self, v: int, k: int) -> None:
        acc = (self.acc << k) | v
        n = self.nacc + k
        if n >= 8:
            rem = n & 7
            self.buf += (acc >> rem).to_bytes(n >> 3, "big")
            acc &= (1 << rem) - 1
            n = rem
        self.acc = acc
        self.nacc = n

    def align(self) -> None:
        if self.nacc:
            self.bits(0, 8 - self.nacc)

    def octets(self, b: bytes) -> None:
        if self.nacc:
            self.bits(int.from_bytes(b, "big"), len(b) << 3)
        else:
            self.buf += b

    @property
    def empty(self) -> bool:
        return not self.buf and not self.nacc


class _Reader:
    """Bits in; each read looks at the octets it spans only (linear in the input size)."""

    __slots__ = ("n", "pos", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.n = len(data) << 3
        self.pos = 0

    def bits(self, k: int) -> int:
        pos = self.pos
        end = pos + k
        if end > self.n:
            raise _SLOW
        self.pos = end
        last = (end + 7) >> 3
        v = int.from_bytes(self.data[pos >> 3:last], "big")
        return (v >> ((last << 3) - end)) & ((1 << k) - 1)

    def align(self) -> None:
        self.pos += -self.pos & 7

    def octets(self, k: int) -> bytes:
        start = self.pos >> 3
        end = start + k
        if end << 3 > self.n:
            raise _SLOW
        self.pos = end << 3
        return self.data[start:end]


Enc = Callable[[_Writer, Any], None]
Dec = Callable[[_Reader], Any]


# --- X.691 §11.5.7 constrained whole numbers and §11.9 length determinants ---------------------


def _whole(ra: int) -> tuple[int, bool]:
    """Bits and alignment of a constrained whole number with ``ra`` values (ALIGNED, ra <= 64K)."""
    if ra <= 255:
        return (ra - 1).bit_length(), False
    return (8 if ra == 256 else 16), True


def _put_whole(w: _Writer, x: int, nb: int, al: bool) -> None:
    if al:
        w.align()
    if nb:
        w.bits(x, nb)


def _get_whole(r: _Reader, nb: int, al: bool) -> int:
    if al:
        r.align()
    return r.bits(nb) if nb else 0


def _put_unconst_len(w: _Writer, n: int) -> None:
    w.align()
    if n < 128:
        w.bits(n, 8)
    elif n < 16384:
        w.bits(0x8000 | n, 16)
    else:
        raise _SLOW  # fragmented (§11.9.3.8): pycrate's job


def _get_unconst_len(r: _Reader) -> int:
    r.align()
    b = r.bits(8)
    if b < 0x80:
        return b
    if b < 0xC0:
        return ((b & 0x3F) << 8) | r.bits(8)
    raise _SLOW


# --- compiling pycrate types ----------------------------------------------------------------------


_CACHE: dict[int, tuple[Any, tuple[Enc, Dec] | None]] = {}
_MAX_DEPTH = 24


def _single_range(c: Any) -> tuple[int, int] | None:
    """(lb, ub) of a constraint set with one root range or value, else None."""
    if c is None or len(c.root) != 1:
        return None
    lb, ub = getattr(c, "lb", None), getattr(c, "ub", None)
    if not isinstance(lb, int) or not isinstance(ub, int) or lb > ub:
        return None
    return lb, ub


def _compile(obj: Any, depth: int) -> tuple[Enc, Dec] | None:
    hit = _CACHE.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    if depth > _MAX_DEPTH:
        return None
    try:
        res = _BUILDERS[obj.TYPE](obj, depth) if obj.TYPE in _BUILDERS else None
    except (AttributeError, KeyError, TypeError):  # a pycrate object shaped unlike the ones we know
        res = None
    _CACHE[id(obj)] = (obj, res)
    return res


def _integer(obj: Any, depth: int) -> tuple[Enc, Dec] | None:
    """X.691 §13.2: constrained INTEGER (root range of at most 64K values)."""
    cv = obj._const_val
    rng = _single_range(cv)
    if rng is None:
        return None
    lb, ub = rng
    ra = ub - lb + 1
    if ra > 65536:
        return None
    ext = cv.ext is not None
    nb, al = _whole(ra)

    def enc(w: _Writer, v: Any) -> None:
        if type(v) is not int or not lb <= v <= ub:
            raise _SLOW
        if ext:
            w.bits(0, 1)
        _put_whole(w, v - lb, nb, al)

    def dec(r: _Reader) -> int:
        if ext and r.bits(1):
            raise _SLOW
        v = _get_whole(r, nb, al) + lb
        if v > ub:
            raise _SLOW
        return v

    return enc, dec


def _enumerated(obj: Any, depth: int) -> tuple[Enc, Dec] | None:
    """X.691 §14: ENUMERATED, root values only."""
    root = list(obj._root)
    if not root:
        return None
    index = {name: i for i, name in enumerate(root)}
    ext = obj._ext is not None
    nb, al = _whole(len(root))

    def enc(w: _Writer, v: Any) -> None:
        i = index.get(v) if type(v) is str else None
        if i is None:
            raise _SLOW
        if ext:
            w.bits(0, 1)
        _put_whole(w, i, nb, al)

    def dec(r: _Reader) -> str:
        if ext and r.bits(1):
            raise _SLOW
        i = _get_whole(r, nb, al)
        if i >= len(root):
            raise _SLOW
        return root[i]

    return enc, dec


def _octet_string(obj: Any, depth: int) -> tuple[Enc, Dec] | None:
    """X.691 §17: OCTET STRING, fixed size (§17.6-7) or without a size constraint (§17.8)."""
    if obj._const_cont is not None:
        return None
    sz = obj._const_sz
    if sz is None:
        def enc(w: _Writer, v: Any) -> None:
            if type(v) is not bytes:
                raise _SLOW
            _put_unconst_len(w, len(v))
            w.octets(v)

        def dec(r: _Reader) -> bytes:
            return r.octets(_get_unconst_len(r))

        return enc, dec
    rng = _single_range(sz)
    if rng is None or sz._ev is not None or rng[0] != rng[1] or not 0 < rng[0] < 65536:
        return None
    size = rng[0]
    aligned = size > 2

    def fenc(w: _Writer, v: Any) -> None:
        if type(v) is not bytes or len(v) != size:
            raise _SLOW
        if aligned:
            w.align()
        w.octets(v)

    def fdec(r: _Reader) -> bytes:
        if aligned:
            r.align()
            return r.octets(size)
        return r.bits(size << 3).to_bytes(size, "big")

    return fenc, fdec


def _bit_string(obj: Any, depth: int) -> tuple[Enc, Dec] | None:
    """X.691 §16: BIT STRING, fixed size (§16.9-10) or a size range below 64K (§16.11)."""
    if obj._const_cont is not None or getattr(obj, "_cont", None):
        return None  # CONTAINING, or named bits
    sz = obj._const_sz
    rng = _single_range(sz)
    if rng is None or rng[1] >= 65536 or rng[1] == 0:
        return None
    lb, ub = rng
    ext = sz._ev is not None
    if lb == ub:
        size = lb
        aligned = size > 16

        def enc(w: _Writer, v: Any) -> None:
            if type(v) is not tuple or len(v) != 2:
                raise _SLOW
            x, n = v
            if type(x) is not int or n != size or type(n) is not int or not 0 <= x < (1 << size):
                raise _SLOW
            if ext:
                w.bits(0, 1)
            if aligned:
                w.align()
            w.bits(x, size)

        def dec(r: _Reader) -> tuple[int, int]:
            if ext and r.bits(1):
                raise _SLOW
            if aligned:
                r.align()
            return r.bits(size), size

        return enc, dec
    nb, al = _whole(ub - lb + 1)

    def renc(w: _Writer, v: Any) -> None:
        if type(v) is not tuple or len(v) != 2:
            raise _SLOW
        x, n = v
        if type(x) is not int or type(n) is not int or not lb <= n <= ub or not 0 <= x < (1 << n):
            raise _SLOW
        if ext:
            w.bits(0, 1)
        _put_whole(w, n - lb, nb, al)
        w.align()
        w.bits(x, n)

    def rdec(r: _Reader) -> tuple[int, int]:
        if ext and r.bits(1):
            raise _SLOW
        n = _get_whole(r, nb, al) + lb
        if n > ub:
            raise _SLOW
        r.align()
        return r.bits(n), n

    return renc, rdec


def _sequence(obj: Any, depth: int) -> tuple[Enc, Dec] | None:
    """X.691 §19: SEQUENCE root components (extension additions go to pycrate)."""
    cont = obj._cont
    root = list(obj._root)
    if not root and obj._ext is None:
        return None  # empty SEQUENCE: pycrate's special case
    opt = list(obj._root_opt or ())
    mand = set(obj._root_mand or ())
    if set(root) != mand | set(opt) or len(root) != len(cont) and obj._ext is None:
        return None
    comps = []
    for name in root:
        c = cont[name]
        if getattr(c, "_def", None) is not None:
            return None  # DEFAULT values: pycrate's business
        codec = _compile(c, depth + 1)
        if codec is None and name in mand:
            return None
        # an OPTIONAL component we cannot handle (e.g. iE-Extensions) is fine while absent
        comps.append((name, name in mand, opt.index(name) if name in opt else -1, codec))
    ext = obj._ext is not None
    nopt = len(opt)
    known = frozenset(root)

    def enc(w: _Writer, v: Any) -> None:
        if type(v) is not dict:
            raise _SLOW
        for k in v:
            if k not in known:
                raise _SLOW
        if ext:
            w.bits(0, 1)
        if nopt:
            bm = 0
            for i, name in enumerate(opt):
                bm |= (name in v) << (nopt - 1 - i)
            w.bits(bm, nopt)
        for name, mandatory, _i, codec in comps:
            if name in v:
                if codec is None:
                    raise _SLOW
                codec[0](w, v[name])
            elif mandatory:
                raise _SLOW

    def dec(r: _Reader) -> dict[str, Any]:
        if ext and r.bits(1):
            raise _SLOW
        bm = r.bits(nopt) if nopt else 0
        out: dict[str, Any] = {}
        for name, mandatory, i, codec in comps:
            if mandatory or bm >> (nopt - 1 - i) & 1:
                if codec is None:
                    raise _SLOW
                out[name] = codec[1](r)
        return out

    return enc, dec


def _choice(obj: Any, depth: int) -> tuple[Enc, Dec] | None:
    """X.691 §23: CHOICE of a root alternative (extension alternatives go to pycrate)."""
    root = list(obj._root)
    if not root:
        return None
    alts = [(name, _compile(obj._cont[name], depth + 1)) for name in root]
    if all(c is None for _n, c in alts):
        return None
    index = {name: i for i, name in enumerate(root)}
    ext = obj._ext is not None
    nb, al = _whole(len(root)) if len(root) > 1 else (0, False)

    def enc(w: _Writer, v: Any) -> None:
        if type(v) is not tuple or len(v) != 2:
            raise _SLOW
        i = index.get(v[0]) if type(v[0]) is str else None
        if i is None:
            raise _SLOW
        codec = alts[i][1]
        if codec is None:
            raise _SLOW
        if ext:
            w.bits(0, 1)
        _put_whole(w, i, nb, al)
        codec[0](w, v[1])

    def dec(r: _Reader) -> tuple[str, Any]:
        if ext and r.bits(1):
            raise _SLOW
        i = _get_whole(r, nb, al)
        if i >= len(alts):
            raise _SLOW
        name, codec = alts[i]
        if codec is None:
            raise _SLOW
        return name, codec[1](r)

    return enc, dec


def _sequence_of(obj: Any, depth: int) -> tuple[Enc, Dec] | None:
    """X.691 §20: SEQUENCE OF with a root size range below 64K."""
    sz = obj._const_sz
    rng = _single_range(sz)
    if rng is None or sz.ext is not None or rng[1] >= 65536:
        return None
    lb, ub = rng
    item = _compile(obj._cont, depth + 1)
    if item is None:
        return None
    ienc, idec = item
    nb, al = _whole(ub - lb + 1) if ub > lb else (0, False)

    def enc(w: _Writer, v: Any) -> None:
        if type(v) is not list or not lb <= len(v) <= ub:
            raise _SLOW
        _put_whole(w, len(v) - lb, nb, al)
        for x in v:
            ienc(w, x)

    def dec(r: _Reader) -> list[Any]:
        n = _get_whole(r, nb, al) + lb
        if n > ub:
            raise _SLOW
        return [idec(r) for _ in range(n)]

    return enc, dec


_BUILDERS: dict[str, Callable[[Any, int], tuple[Enc, Dec] | None]] = {
    "INTEGER": _integer,
    "ENUMERATED": _enumerated,
    "OCTET STRING": _octet_string,
    "BIT STRING": _bit_string,
    "SEQUENCE": _sequence,
    "CHOICE": _choice,
    "SEQUENCE OF": _sequence_of,
}


def compile_type(obj: Any) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
    """``(encode(value) -> bytes, decode(octets) -> value)`` for a complete APER encoding of
    pycrate type ``obj`` (X.691 §11.1: padded to a whole octet, at least one octet), or None
    when the type has a part this module does not write. Both raise :class:`Slow` for input
    that needs pycrate."""
    codec = _compile(obj, 0)
    if codec is None:
        return None
    tenc, tdec = codec

    def encode(v: Any) -> bytes:
        w = _Writer()
        tenc(w, v)
        if w.empty:
            return b"\x00"
        w.align()
        return bytes(w.buf)

    def decode(data: bytes) -> Any:
        r = _Reader(data)
        v = tdec(r)
        if r.pos == 0:
            if data != b"\x00":
                raise _SLOW
            return v
        r.align()
        if r.pos != r.n:
            raise _SLOW  # trailing octets: pycrate words the error
        return v

    return encode, decode
