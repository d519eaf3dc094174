"""UDM/ARPF authentication vector generation (TS 33.501 §6.1.3, TS 33.102 §6.3, TS 35.206).

Pure functions over bytes: no I/O, no clock. The SBI layer fetches the subscription from the
UDR, picks RAND and the next SQN, and calls these.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fivecore.security import kdf, milenage

AMF_SEPARATION_BIT = 0x80  # TS 33.501 §6.1.3.2 / Annex A.? : bit 0 of the AMF field is 1 for 5G


@dataclass(frozen=True, slots=True)
class Vector:
    """The computed quantities of one authentication vector (hex-encoded by the caller)."""

    rand: bytes
    autn: bytes
    xres: bytes
    xres_star: bytes | None
    kausf: bytes | None
    ck_prime: bytes | None
    ik_prime: bytes | None

    def __repr__(self) -> str:  # keys never in logs
        return "Vector(<redacted>)"


def autn_of(k: bytes, opc: bytes, rand: bytes, sqn: int, amf: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A (TS 33.102 §6.3.2); returns (autn, res, ck, ik, sqn⊕ak)."""
    sqn_b = sqn.to_bytes(6, "big")
    mac_a = milenage.f1(k, opc, rand, sqn_b, amf)
    res, ck, ik, ak = milenage.f2345(k, opc, rand)
    sqn_xor_ak = bytes(a ^ b for a, b in zip(sqn_b, ak, strict=True))
    return sqn_xor_ak + amf + mac_a, res, ck, ik, sqn_xor_ak


def he_aka_vector(k: bytes, opc: bytes, amf: bytes, sqn: int, rand: bytes, snn: str) -> Vector:
    """5G HE AV (TS 33.501 §6.1.3.2 step 2): RAND, AUTN, XRES*, KAUSF (Annex A.4, A.2)."""
    amf = bytes((amf[0] | AMF_SEPARATION_BIT, amf[1]))
    autn, res, ck, ik, sqn_xor_ak = autn_of(k, opc, rand, sqn, amf)
    xres_star = kdf.res_star(ck, ik, snn, rand, res)
    kausf = kdf.kausf(ck, ik, snn, sqn_xor_ak)
    return Vector(rand, autn, res, xres_star, kausf, None, None)


def eap_aka_prime_vector(k: bytes, opc: bytes, amf: bytes, sqn: int, rand: bytes, snn: str) -> Vector:
    """EAP-AKA' AV (TS 33.501 §6.1.3.1 step 2): RAND, AUTN, XRES, CK', IK' (Annex A.3)."""
    amf = bytes((amf[0] | AMF_SEPARATION_BIT, amf[1]))
    autn, res, ck, ik, sqn_xor_ak = autn_of(k, opc, rand, sqn, amf)
    ck_p, ik_p = kdf.ck_ik_prime(ck, ik, snn, sqn_xor_ak)
    return Vector(rand, autn, res, None, None, ck_p, ik_p)


def resync_sqn(k: bytes, opc: bytes, rand: bytes, auts: bytes) -> int | None:
    """SQN_MS from AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S (TS 33.102 §6.3.3, §6.3.5); None if MAC-S fails.

    MAC-S = f1*(K, SQN_MS, RAND, AMF) with the dummy AMF 0x0000 (TS 33.102 §6.3.3).
    """
    if len(auts) != 14 or len(rand) != 16:
        return None
    ak_star = milenage.f5star(k, opc, rand)
    sqn_ms = bytes(a ^ b for a, b in zip(auts[:6], ak_star, strict=True))
    mac_s = milenage.f1star(k, opc, rand, sqn_ms, b"\x00\x00")
    if not hmac.compare_digest(mac_s, auts[6:]):
        return None
    return int.from_bytes(sqn_ms, "big")
