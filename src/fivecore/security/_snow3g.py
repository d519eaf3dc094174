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
    """SR: the Rijndael S-box (SNOW 3G spec §3.3.1, FIPS-197 §5.1.1), via log tables of generator 3."""
    exp = [0] * 510
    log = [0] * 256
    v = 1
    for i in range(255):
        exp[i] = exp[i + 255] = v
        log[v] = i
        v = _gf_mul(v, 3, 0x11B)
    out = []
    for x in range(256):
        b = exp[255 - log[x]] if x else 0
        s = b
        for k in range(1, 5):
            s ^= ((b << k) | (b >> (8 - k))) & 0xFF
        out.append(s ^ 0x63)
    return out


def _sq_sbox() -> list[int]:
    """SQ: Dickson polynomial g49 over GF(2^8)/0x169, xor 0x25 (SNOW 3G spec §3.3.2).

    g49(x) = x + x^9 + x^13 + x^15 + x^33 + x^41 + x^45 + x^47 + x^49, powers built by an
    addition chain (14 multiplications per input).
    """

    def mul(a: int, b: int) -> int:
        return _gf_mul(a, b, 0x169)

    out = []
    for x in range(256):
        x2 = mul(x, x)
        x4 = mul(x2, x2)
        x8 = mul(x4, x4)
        x9 = mul(x8, x)
        x13 = mul(x9, x4)
        x15 = mul(x13, x2)
        x16 = mul(x8, x8)
        x32 = mul(x16, x16)
        x33 = mul(x32, x)
        x41 = mul(x33, x8)
        x45 = mul(x41, x4)
        x47 = mul(x45, x2)
        x49 = mul(x47, x2)
        out.append(x ^ x9 ^ x13 ^ x15 ^ x33 ^ x41 ^ x45 ^ x47 ^ x49 ^ 0x25)
    return out


def _linear_word_table(powers: tuple[int, int, int, int]) -> list[int]:
    """Table of c -> MULxPOW(c, p0, 0xA9) || ... || MULxPOW(c, p3, 0xA9) (spec §3.1.2).

    MULxPOW(c, i, 0xA9) is linear in c, so the table is built from the eight basis bytes.
    """
    basis = []
    for bit in range(8):
        word = 0
        for p in powers:
            v = 1 << bit
            for _ in range(p):
                v = _mulx(v, 0xA9)
            word = (word << 8) | v
        basis.append(word)
    table = [0] * 256
    for c in range(1, 256):
        low = c & -c
        table[c] = table[c ^ low] ^ basis[low.bit_length() - 1]
    return table


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
MUL_ALPHA = _linear_word_table((23, 245, 48, 239))
DIV_ALPHA = _linear_word_table((16, 39, 6, 64))


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
