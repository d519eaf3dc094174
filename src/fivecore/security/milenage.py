"""MILENAGE authentication and key generation functions f1, f1*, f2, f3, f4, f5, f5*.

Implements 3GPP TS 35.206 §4 (algorithm specification) with AES-128 as the kernel
function E_K, as required for 5G AKA / EAP-AKA' credentials (TS 33.501 §6.1.3).
All inputs and outputs are ``bytes``; lengths are checked and a wrong length raises
:class:`~fivecore.security.errors.KeyLengthError`.

Constants (TS 35.206 §4.1): r1=64, r2=0, r3=32, r4=64, r5=96 bits; c1=0, c2=1, c3=2,
c4=4, c5=8 (as 128-bit integers).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from fivecore.security._util import check_bytes, fixed_bytes

__all__ = ["compute_opc", "f1", "f1star", "f2345", "f5star", "milenage"]

_MASK128 = (1 << 128) - 1


def _encryptor(k: bytes) -> CipherContext:
    # A fresh ECB context costs ~3.5 µs; not caching it per K keeps K out of long-lived state
    # (the one-entry hand-over below lives only from one call to its partner call).
    return Cipher(algorithms.AES(k), modes.ECB()).encryptor()


# The UDM computes MAC-A with f1 and then RES, CK, IK, AK with f2345 for the same K, OPc and
# RAND (TS 33.102 §6.3.2); the USIM does the same in the other order. Both share
# TEMP = E_K(RAND ⊕ OPc) and the key schedule, so the first call leaves them here for its
# partner: (K, OPc, RAND, encryptor, OPc as int, TEMP, OUT2..OUT5 or None). The entry is
# matched on the full K, OPc and RAND, so a mismatch only costs the recomputation, and it is
# consumed (dropped) by the partner call.
_Handover = tuple[bytes, bytes, bytes, CipherContext, int, int, bytes | None]
_handover: _Handover | None = None


def _take(k: bytes, opc: bytes, rand: bytes) -> _Handover | None:
    global _handover
    h = _handover
    if h is not None and h[2] == rand and h[0] == k and h[1] == opc:
        _handover = None
        return h
    return None


def _rot(x: int, r: int) -> int:
    """Cyclic left rotation of a 128-bit value by ``r`` bits (TS 35.206 §4.1 rot)."""
    if r == 0:
        return x
    return ((x << r) | (x >> (128 - r))) & _MASK128


def compute_opc(k: bytes, op: bytes) -> bytes:
    """OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1)."""
    k = check_bytes("K", k, 16)
    op = check_bytes("OP", op, 16)
    enc = _encryptor(k).update(op)
    return (int.from_bytes(enc, "big") ^ int.from_bytes(op, "big")).to_bytes(16, "big")


def _temp(enc: CipherContext, opc_i: int, rand: bytes) -> int:
    """TEMP = E_K(RAND ⊕ OPc) (TS 35.206 §4.1)."""
    x = (int.from_bytes(rand, "big") ^ opc_i).to_bytes(16, "big")
    return int.from_bytes(enc.update(x), "big")


def _out1(enc: CipherContext, opc_i: int, temp: int, sqn: bytes, amf: bytes) -> bytes:
    """OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc, IN1 = SQN‖AMF‖SQN‖AMF."""
    in1 = int.from_bytes(sqn + amf + sqn + amf, "big")
    x = temp ^ _rot(in1 ^ opc_i, 64)
    return (int.from_bytes(enc.update(x.to_bytes(16, "big")), "big") ^ opc_i).to_bytes(16, "big")


def _check_f1_args(
    k: object, opc: object, rand: object, sqn: object, amf: object
) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    return (
        check_bytes("K", k, 16),
        check_bytes("OPc", opc, 16),
        check_bytes("RAND", rand, 16),
        check_bytes("SQN", sqn, 6),
        check_bytes("AMF", amf, 2),
    )


def f1(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
    """Network authentication function f1: MAC-A, 8 bytes (TS 35.206 §4.1)."""
    global _handover
    k = fixed_bytes("K", k, 16)
    opc = fixed_bytes("OPc", opc, 16)
    rand = fixed_bytes("RAND", rand, 16)
    sqn = fixed_bytes("SQN", sqn, 6)
    amf = fixed_bytes("AMF", amf, 2)
    h = _take(k, opc, rand)
    if h is not None:  # f2345 ran first (USIM order)
        return _out1(h[3], h[4], h[5], sqn, amf)[:8]
    enc = _encryptor(k)
    opc_i = int.from_bytes(opc, "big")
    temp = _temp(enc, opc_i, rand)
    # OUT1 and OUT2..OUT5 in one ECB call; f2345 for the same K/OPc/RAND picks up the rest.
    out = _out12345(enc, opc_i, temp, sqn, amf)
    _handover = (k, opc, rand, enc, opc_i, temp, out[16:])
    return out[:8]


def _out12345(enc: CipherContext, opc_i: int, temp: int, sqn: bytes, amf: bytes) -> bytes:
    """OUT1 ‖ OUT2 ‖ OUT3 ‖ OUT4 ‖ OUT5 (80 bytes) in one pass of five AES blocks."""
    in1 = int.from_bytes(sqn + amf + sqn + amf, "big")
    x = temp ^ opc_i
    blocks = (
        ((temp ^ _rot(in1 ^ opc_i, 64)) << 512)  # r1 = 64, c1 = 0
        | ((x ^ 1) << 384)  # r2 = 0, c2 = 1
        | ((_rot(x, 32) ^ 2) << 256)  # r3 = 32, c3 = 2
        | ((_rot(x, 64) ^ 4) << 128)  # r4 = 64, c4 = 4
        | (_rot(x, 96) ^ 8)  # r5 = 96, c5 = 8
    ).to_bytes(80, "big")
    out = int.from_bytes(enc.update(blocks), "big") ^ (opc_i * _REPEAT5)
    return out.to_bytes(80, "big")


# OPc * _REPEAT5 is OPc repeated in each of five 128-bit lanes.
_REPEAT5 = sum(1 << (128 * i) for i in range(5))


def f1star(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
    """Re-synchronisation message authentication function f1*: MAC-S, 8 bytes (TS 35.206 §4.1).

    For AUTS the caller passes AMF = 0x0000 (TS 33.102 §6.3.3).
    """
    k, opc, rand, sqn, amf = _check_f1_args(k, opc, rand, sqn, amf)
    enc = _encryptor(k)
    opc_i = int.from_bytes(opc, "big")
    return _out1(enc, opc_i, _temp(enc, opc_i, rand), sqn, amf)[8:]


def _out2345(enc: CipherContext, opc_i: int, temp: int) -> bytes:
    """OUT2..OUT5 as one 64-byte string; the four AES blocks go through ECB in one call."""
    x = temp ^ opc_i
    blocks = (
        (x ^ 1).to_bytes(16, "big")  # r2 = 0, c2 = 1
        + (_rot(x, 32) ^ 2).to_bytes(16, "big")  # r3 = 32, c3 = 2
        + (_rot(x, 64) ^ 4).to_bytes(16, "big")  # r4 = 64, c4 = 4
        + (_rot(x, 96) ^ 8).to_bytes(16, "big")  # r5 = 96, c5 = 8
    )
    opc4 = opc_i.to_bytes(16, "big") * 4
    out = int.from_bytes(enc.update(blocks), "big") ^ int.from_bytes(opc4, "big")
    return out.to_bytes(64, "big")


def f2345(k: bytes, opc: bytes, rand: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """f2, f3, f4, f5 (TS 35.206 §4.1): returns ``(res, ck, ik, ak)``.

    RES is 8 bytes (the 64-bit f2 output), CK and IK 16 bytes, AK 6 bytes.
    """
    global _handover
    k = fixed_bytes("K", k, 16)
    opc = fixed_bytes("OPc", opc, 16)
    rand = fixed_bytes("RAND", rand, 16)
    h = _take(k, opc, rand)
    if h is not None and h[6] is not None:  # f1 ran first (UDM order) and computed these
        out = h[6]
    else:
        enc = _encryptor(k)
        opc_i = int.from_bytes(opc, "big")
        temp = _temp(enc, opc_i, rand)
        out = _out2345(enc, opc_i, temp)
        _handover = (k, opc, rand, enc, opc_i, temp, None)
    return out[8:16], out[16:32], out[32:48], out[0:6]


def f5star(k: bytes, opc: bytes, rand: bytes) -> bytes:
    """Re-synchronisation anonymity key function f5*: AK*, 6 bytes (TS 35.206 §4.1)."""
    k = check_bytes("K", k, 16)
    opc = check_bytes("OPc", opc, 16)
    rand = check_bytes("RAND", rand, 16)
    enc = _encryptor(k)
    opc_i = int.from_bytes(opc, "big")
    x = _temp(enc, opc_i, rand) ^ opc_i
    out5 = int.from_bytes(enc.update((_rot(x, 96) ^ 8).to_bytes(16, "big")), "big") ^ opc_i
    return out5.to_bytes(16, "big")[:6]


def milenage(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> dict[str, bytes]:
    """All seven MILENAGE outputs from one TEMP (TS 35.206 §4.1), for vector generation.

    Returns a dict with keys ``mac_a``, ``mac_s``, ``res``, ``ck``, ``ik``, ``ak``,
    ``ak_star``. Cheaper than calling f1, f1*, f2345 and f5* separately (one key schedule,
    two AES calls).
    """
    k, opc, rand, sqn, amf = _check_f1_args(k, opc, rand, sqn, amf)
    enc = _encryptor(k)
    opc_i = int.from_bytes(opc, "big")
    temp = _temp(enc, opc_i, rand)
    out1 = _out1(enc, opc_i, temp, sqn, amf)
    out = _out2345(enc, opc_i, temp)
    return {
        "mac_a": out1[:8],
        "mac_s": out1[8:],
        "res": out[8:16],
        "ck": out[16:32],
        "ik": out[32:48],
        "ak": out[0:6],
        "ak_star": out[48:54],
    }
