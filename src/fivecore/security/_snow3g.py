"""SNOW 3G keystream generator (ETSI/SAGE "UEA2 & UIA2 Document 2: SNOW 3G Specification").

Internal module: the public API is :mod:`fivecore.security.nas_algorithms`. The S-boxes and
the MULα/DIVα tables are derived at import time from their algebraic definitions in the
specification (§3 and §4), then folded into word tables so one FSM clock costs eight
table look-ups.
"""

from __future__ import annotations

_M32 = 0xFFFFFFFF


def _mulx(v: int, c: int) -> int:
    """MULx(V, c), SNOW 3G spec §3.1.1."""
    return ((v << 1) ^ c) & 0xFF if v & 0x80 else (v << 1) & 0xFF


def _mulxpow(v: int, i: int, c: int) -> int:
    """MULxPOW(V, i, c), SNOW 3G spec §3.1.2."""
    for _ in range(i):
        v = _mulx(v, c)
    return v


def _gf_mul(a: int, b: int, poly: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= poly
    return r


def _rijndael_sbox() -> list[int]:
    """SR: the Rijndael S-box (SNOW 3G spec §3.3.1, FIPS-197 §5.1.1)."""
    inv = [0] * 256
    for a in range(1, 256):
        for b in range(1, 256):
            if _gf_mul(a, b, 0x11B) == 1:
                inv[a] = b
                break
    out = []
    for x in range(256):
        b = inv[x]
        s = b
        for k in range(1, 5):
            s ^= ((b << k) | (b >> (8 - k))) & 0xFF
        out.append(s ^ 0x63)
    return out


def _sq_sbox() -> list[int]:
    """SQ: Dickson polynomial g49 over GF(2^8)/0x169, xor 0x25 (SNOW 3G spec §3.3.2)."""
    out = []
    for x in range(256):
        powers = {1: x}
        p = x
        for e in range(2, 50):
            p = _gf_mul(p, x, 0x169)
            powers[e] = p
        acc = 0
        for e in (1, 9, 13, 15, 33, 41, 45, 47, 49):
            acc ^= powers[e]
        out.append(acc ^ 0x25)
    return out


def _mix_tables(box: list[int], c: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """Word tables T0..T3 so that S(w) = T0[w0] ^ T1[w1] ^ T2[w2] ^ T3[w3] (spec §3.4.1/§3.4.2)."""
    t0, t1, t2, t3 = [], [], [], []
    for x in range(256):
        s = box[x]
        s2 = _mulx(s, c)
        s3 = s2 ^ s
        t0.append((s2 << 24) | (s3 << 16) | (s << 8) | s)
        t1.append((s << 24) | (s2 << 16) | (s3 << 8) | s)
        t2.append((s << 24) | (s << 16) | (s2 << 8) | s3)
        t3.append((s3 << 24) | (s << 16) | (s << 8) | s2)
    return t0, t1, t2, t3


_SR = _rijndael_sbox()
_SQ = _sq_sbox()
S1_T0, S1_T1, S1_T2, S1_T3 = _mix_tables(_SR, 0x1B)
S2_T0, S2_T1, S2_T2, S2_T3 = _mix_tables(_SQ, 0x69)

# MULα and DIVα, SNOW 3G spec §3.4.2 / §3.4.3.
MUL_ALPHA = [
    (_mulxpow(c, 23, 0xA9) << 24)
    | (_mulxpow(c, 245, 0xA9) << 16)
    | (_mulxpow(c, 48, 0xA9) << 8)
    | _mulxpow(c, 239, 0xA9)
    for c in range(256)
]
DIV_ALPHA = [
    (_mulxpow(c, 16, 0xA9) << 24)
    | (_mulxpow(c, 39, 0xA9) << 16)
    | (_mulxpow(c, 6, 0xA9) << 8)
    | _mulxpow(c, 64, 0xA9)
    for c in range(256)
]


def keystream(k: tuple[int, int, int, int], iv: tuple[int, int, int, int], n: int) -> list[int]:
    """``n`` keystream words z1..zn for key words (k0..k3) and IV words (IV0..IV3), spec §4.

    The LFSR is a growing list indexed from ``t`` (appending is cheaper in CPython than
    shifting sixteen cells); the FSM registers live in locals.
    """
    k0, k1, k2, k3 = k
    iv0, iv1, iv2, iv3 = iv
    one = _M32
    s = [
        k0 ^ one, k1 ^ one, k2 ^ one, k3 ^ one,
        k0, k1, k2, k3,
        k0 ^ one, k1 ^ one ^ iv3, k2 ^ one ^ iv2, k3 ^ one,
        k0 ^ iv1, k1, k2, k3 ^ iv0,
    ]  # fmt: skip
    a0, a1, a2, a3 = S1_T0, S1_T1, S1_T2, S1_T3
    b0, b1, b2, b3 = S2_T0, S2_T1, S2_T2, S2_T3
    mula, diva = MUL_ALPHA, DIV_ALPHA
    append = s.append
    r1 = r2 = r3 = 0
    out: list[int] = []
    total = 33 + n
    for t in range(total):
        # FSM clock (§3.4.6): F = (s15 + R1) ^ R2; r = R2 + (R3 ^ s5)
        f = ((s[t + 15] + r1) & _M32) ^ r2
        r = (r2 + (r3 ^ s[t + 5])) & _M32
        r3 = b0[r2 >> 24] ^ b1[(r2 >> 16) & 0xFF] ^ b2[(r2 >> 8) & 0xFF] ^ b3[r2 & 0xFF]
        r2 = a0[r1 >> 24] ^ a1[(r1 >> 16) & 0xFF] ^ a2[(r1 >> 8) & 0xFF] ^ a3[r1 & 0xFF]
        r1 = r
        s0 = s[t]
        s11 = s[t + 11]
        v = ((s0 << 8) & _M32) ^ mula[s0 >> 24] ^ s[t + 2] ^ (s11 >> 8) ^ diva[s11 & 0xFF]
        if t < 32:  # initialisation mode (§4.1): feed F back
            v ^= f
        elif t > 32:  # keystream mode (§4.2); t == 32 discards F
            out.append(f ^ s0)
        append(v)
    return out
