"""ZUC-128 keystream generator (ETSI/SAGE "128-EEA3 & 128-EIA3 Document 2: ZUC Specification" v1.6).

Internal module: the public API is :mod:`fivecore.security.nas_algorithms`.
"""

from __future__ import annotations

import struct

# Table 3.1 (S0) and Table 3.2 (S1) of the ZUC specification, one row per line.
_S0 = bytes.fromhex(
    """
    3E 72 5B 47 CA E0 00 33 04 D1 54 98 09 B9 6D CB
    7B 1B F9 32 AF 9D 6A A5 B8 2D FC 1D 08 53 03 90
    4D 4E 84 99 E4 CE D9 91 DD B6 85 48 8B 29 6E AC
    CD C1 F8 1E 73 43 69 C6 B5 BD FD 39 63 20 D4 38
    76 7D B2 A7 CF ED 57 C5 F3 2C BB 14 21 06 55 9B
    E3 EF 5E 31 4F 7F 5A A4 0D 82 51 49 5F BA 58 1C
    4A 16 D5 17 A8 92 24 1F 8C FF D8 AE 2E 01 D3 AD
    3B 4B DA 46 EB C9 DE 9A 8F 87 D7 3A 80 6F 2F C8
    B1 B4 37 F7 0A 22 13 28 7C CC 3C 89 C7 C3 96 56
    07 BF 7E F0 0B 2B 97 52 35 41 79 61 A6 4C 10 FE
    BC 26 95 88 8A B0 A3 FB C0 18 94 F2 E1 E5 E9 5D
    D0 DC 11 66 64 5C EC 59 42 75 12 F5 74 9C AA 23
    0E 86 AB BE 2A 02 E7 67 E6 44 A2 6C C2 93 9F F1
    F6 FA 36 D2 50 68 9E 62 71 15 3D D6 40 C4 E2 0F
    8E 83 77 6B 25 05 3F 0C 30 EA 70 B7 A1 E8 A9 65
    8D 27 1A DB 81 B3 A0 F4 45 7A 19 DF EE 78 34 60
    """
)
_S1 = bytes.fromhex(
    """
    55 C2 63 71 3B C8 47 86 9F 3C DA 5B 29 AA FD 77
    8C C5 94 0C A6 1A 13 00 E3 A8 16 72 40 F9 F8 42
    44 26 68 96 81 D9 45 3E 10 76 C6 A7 8B 39 43 E1
    3A B5 56 2A C0 6D B3 05 22 66 BF DC 0B FA 62 48
    DD 20 11 06 36 C9 C1 CF F6 27 52 BB 69 F5 D4 87
    7F 84 4C D2 9C 57 A4 BC 4F 9A DF FE D6 8D 7A EB
    2B 53 D8 5C A1 14 17 FB 23 D5 7D 30 67 73 08 09
    EE B7 70 3F 61 B2 19 8E 4E E5 4B 93 8F 5D DB A9
    AD F1 AE 2E CB 0D FC F4 2D 46 6E 1D 97 E8 D1 E9
    4D 37 A5 75 5E 83 9E AB 82 9D B9 1C E0 CD 49 89
    01 B6 BD 58 24 A2 5F 38 78 99 15 90 50 B8 95 E4
    D0 91 C7 CE ED 0F B4 6F A0 CC F0 02 4A 79 C3 DE
    A3 EF EA 51 E6 6B 18 EC 1B 2C 80 F7 74 E7 FF 21
    5A 6A 54 1E 41 31 92 35 C4 33 07 0A BA 7E 0E 34
    88 B1 98 7C F3 3D 60 6C 7B CA D3 1F 32 65 04 28
    64 BE 85 9B 2F 59 8A D7 B0 25 AC AF 12 03 E2 F2
    """
)

# The 15-bit constants d0..d15 of §3.5.
_D = (
    0x44D7, 0x26BC, 0x626B, 0x135E, 0x5789, 0x35E2, 0x7135, 0x09AF,
    0x4D78, 0x2F13, 0x6BC4, 0x1AF1, 0x5E26, 0x3C4D, 0x789A, 0x47AC,
)  # fmt: skip

# S = (S0, S1, S0, S1) applied bytewise (§3.4.1), pre-shifted into place.
_SB0 = [b << 24 for b in _S0]
_SB1 = [b << 16 for b in _S1]
_SB2 = [b << 8 for b in _S0]
_SB3 = list(_S1)

_M32 = 0xFFFFFFFF
_P31 = 0x7FFFFFFF


def sbox_word(x: int) -> int:
    """The 32x32 S-box S of §3.4.1 (exposed for the spec's Example 8 self-check)."""
    return _SB0[x >> 24] | _SB1[(x >> 16) & 0xFF] | _SB2[(x >> 8) & 0xFF] | _SB3[x & 0xFF]


def keystream(key: bytes, iv: bytes, n: int) -> list[int]:
    """``n`` 32-bit keystream words for a 16-byte key and a 16-byte IV (§3.6).

    The LFSR is a growing list indexed from ``t``; multiplication by 2^k modulo 2^31-1 is
    done with plain integer shifts and one ``%`` per clock, which is cheaper in CPython
    than five 31-bit rotations.
    """
    s = [(key[i] << 23) | (_D[i] << 8) | iv[i] for i in range(16)]
    sb0, sb1, sb2, sb3 = _SB0, _SB1, _SB2, _SB3
    m32, p31 = _M32, _P31
    append = s.append
    r1 = r2 = 0
    out: list[int] = []
    total = 33 + n
    for t in range(total):
        s0 = s[t]
        s15 = s[t + 15]
        # Bit reorganisation (§3.3)
        x0 = ((s15 & 0x7FFF8000) << 1) | (s[t + 14] & 0xFFFF)
        x1 = ((s[t + 11] & 0xFFFF) << 16) | (s[t + 9] >> 15)
        x2 = ((s[t + 7] & 0xFFFF) << 16) | (s[t + 5] >> 15)
        # F (§3.4)
        w = ((x0 ^ r1) + r2) & m32
        w1 = (r1 + x1) & m32
        w2 = r2 ^ x2
        u = ((w1 << 16) | (w2 >> 16)) & m32
        u = (
            u
            ^ ((u << 2) | (u >> 30))
            ^ ((u << 10) | (u >> 22))
            ^ ((u << 18) | (u >> 14))
            ^ ((u << 24) | (u >> 8))
        )  # L1
        u &= m32
        v = ((w2 << 16) | (w1 >> 16)) & m32
        v = (
            v
            ^ ((v << 8) | (v >> 24))
            ^ ((v << 14) | (v >> 18))
            ^ ((v << 22) | (v >> 10))
            ^ ((v << 30) | (v >> 2))
        )  # L2
        v &= m32
        r1 = sb0[u >> 24] | sb1[(u >> 16) & 0xFF] | sb2[(u >> 8) & 0xFF] | sb3[u & 0xFF]
        r2 = sb0[v >> 24] | sb1[(v >> 16) & 0xFF] | sb2[(v >> 8) & 0xFF] | sb3[v & 0xFF]
        # LFSR (§3.2): 2^15 s15 + 2^17 s13 + 2^21 s10 + 2^20 s4 + (1 + 2^8) s0 mod (2^31 - 1)
        f = (s15 << 15) + (s[t + 13] << 17) + (s[t + 10] << 21) + (s[t + 4] << 20) + (s0 << 8) + s0
        if t < 32:
            f += w >> 1  # initialisation mode, u = W >> 1
        elif t > 32:  # t == 32 is the working-stage clock whose output is discarded
            x3 = ((s[t + 2] & 0xFFFF) << 16) | (s0 >> 15)
            out.append(w ^ x3)
        f %= p31
        append(f or p31)
    return out


def keystream_bytes(key: bytes, iv: bytes, n: int) -> bytes:
    """``n`` keystream words as big-endian bytes."""
    return struct.pack(f">{n}I", *keystream(key, iv, n))
