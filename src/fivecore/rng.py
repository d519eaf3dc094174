"""Random octets for the per-UE hot paths, drawn from the OS generator in blocks.

Every attach draws about eight small random values (the RAND of 5G-AKA, a 5G-TMSI, resource
ids, a multipart boundary); through :mod:`secrets` each one is a ``getrandom(2)`` system call,
about 1 % of the control plane's CPU per attach in a virtual machine. Here they come from one
``os.urandom`` read of :data:`BLOCK` octets: the same kernel CSPRNG output (RFC 4086 §6.3, as
TS 33.501 §6.1.3.2 asks of RAND), only read in larger pieces. Octets handed out are removed from
the buffer, so no value is ever handed out twice; a forked child drops the parent's buffer
(:func:`os.register_at_fork`) so parent and child never share octets.

Not thread-safe by design: each process's event loop is its only user (the store's threads
draw nothing from it); a caller on another thread takes :func:`os.urandom` directly.
"""

from __future__ import annotations

import os

#: octets read from the kernel at a time
BLOCK = 4096

_buf = b""
_pos = 0


def token_bytes(n: int) -> bytes:
    """``n`` random octets (``secrets.token_bytes``)."""
    global _buf, _pos
    end = _pos + n
    if end > len(_buf):
        if n > BLOCK // 4:
            return os.urandom(n)
        _buf, _pos, end = os.urandom(BLOCK), 0, n
    out = _buf[_pos:end]
    _pos = end
    return out


def token_hex(n: int) -> str:
    """``n`` random octets as ``2n`` hex digits (``secrets.token_hex``)."""
    return token_bytes(n).hex()


def randbits(k: int) -> int:
    """A random integer of ``k`` bits (``secrets.randbits``)."""
    if k <= 0:
        return 0
    return int.from_bytes(token_bytes((k + 7) >> 3), "big") >> (-k & 7)


def _forget() -> None:
    global _buf, _pos
    _buf, _pos = b"", 0


os.register_at_fork(after_in_child=_forget)
