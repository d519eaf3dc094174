"""Key derivation for 5G: the generic 3GPP KDF and the TS 33.501 Annex A key hierarchy.

* :func:`kdf` — TS 33.220 Annex B.2.0: ``HMAC-SHA-256(Key, FC || P0 || L0 || P1 || L1 ...)``.
* TS 33.501 Annex A derivations (RES*, HXRES*, KAUSF, KSEAF, KAMF, NAS keys, KgNB, NH, ...).
* EAP-AKA' (RFC 5448 / RFC 9048, TS 33.501 Annex F): CK'/IK', PRF', MK split, KAUSF from EMSK.

Strings (serving network name, SUPI, EAP identity) are accepted as ``str`` and encoded as
UTF-8, which is the TS 33.220 Annex B.2.1.2 character-string encoding; ``bytes`` are used
as-is. All outputs are ``bytes``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Final

from fivecore.security._util import check_bytes, check_uint, fixed_bytes, hmac_sha256
from fivecore.security.errors import InvalidParameterError

__all__ = [
    "ACCESS_TYPE_3GPP",
    "ACCESS_TYPE_NON_3GPP",
    "ALG_TYPE_N_NAS_ENC",
    "ALG_TYPE_N_NAS_INT",
    "ALG_TYPE_N_RRC_ENC",
    "ALG_TYPE_N_RRC_INT",
    "ALG_TYPE_N_UP_ENC",
    "ALG_TYPE_N_UP_INT",
    "EapAkaPrimeKeys",
    "algorithm_key",
    "ck_ik_prime",
    "eap_aka_prime_keys",
    "hxres_star",
    "kamf",
    "kamf_prime_idle_mobility",
    "kausf",
    "kausf_from_emsk",
    "kdf",
    "kgnb",
    "kng_ran_star",
    "kseaf",
    "nas_keys",
    "nh",
    "prf_prime",
    "res_star",
    "serving_network_name",
    "supi_kdf_string",
]

# FC values, TS 33.501 Annex A and TS 33.402 Annex A.2.
FC_CK_IK_PRIME: Final = 0x20
FC_ALGORITHM_KEY: Final = 0x69
FC_KAUSF: Final = 0x6A
FC_RES_STAR: Final = 0x6B
FC_KSEAF: Final = 0x6C
FC_KAMF: Final = 0x6D
FC_KGNB: Final = 0x6E
FC_NH: Final = 0x6F
FC_KNG_RAN_STAR: Final = 0x70
FC_KAMF_PRIME: Final = 0x72

# Algorithm type distinguishers, TS 33.501 Table A.8-1.
ALG_TYPE_N_NAS_ENC: Final = 0x01
ALG_TYPE_N_NAS_INT: Final = 0x02
ALG_TYPE_N_RRC_ENC: Final = 0x03
ALG_TYPE_N_RRC_INT: Final = 0x04
ALG_TYPE_N_UP_ENC: Final = 0x05
ALG_TYPE_N_UP_INT: Final = 0x06

# Access type distinguishers, TS 33.501 Table A.9-1.
ACCESS_TYPE_3GPP: Final = 0x01
ACCESS_TYPE_NON_3GPP: Final = 0x02


def _param(name: str, value: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise InvalidParameterError(f"{name} must be bytes or str, got {type(value).__name__}")


def _pl(name: str, value: object) -> bytes:
    """``Pi || Li`` of TS 33.220 B.2.0 for one parameter (UTF-8 for ``str``, B.2.1.2)."""
    b = _param(name, value)  # type: ignore[arg-type]
    if len(b) > 0xFFFF:
        raise InvalidParameterError(f"{name} is {len(b)} octets; L{name[1:]} has only 16 bits")
    return b + len(b).to_bytes(2, "big")


# ``P || L`` of the few strings used again and again (serving network names): one attach
# derives three keys from the same name, so its encoding is kept instead of redone.
_PL_CACHE: dict[str, bytes] = {}
_PL_CACHE_MAX = 64


def _pl_cached(name: str, value: object) -> bytes:
    if type(value) is str:
        pl = _PL_CACHE.get(value)
        if pl is None:
            pl = _pl(name, value)
            if len(_PL_CACHE) >= _PL_CACHE_MAX:
                _PL_CACHE.clear()
            _PL_CACHE[value] = pl
        return pl
    return _pl(name, value)


_FC_OCTET = tuple(bytes((i,)) for i in range(256))


def kdf(key: bytes, fc: int, *params: bytes | str) -> bytes:
    """Generic 3GPP key derivation function, TS 33.220 Annex B.2.0.

    ``S = FC || P0 || L0 || ... || Pn || Ln`` with each ``Li`` the 2-octet big-endian length
    of ``Pi``; the result is ``HMAC-SHA-256(key, S)`` (32 bytes). ``fc`` is the FC octet as an
    int; ``str`` parameters are UTF-8 encoded (TS 33.220 B.2.1.2).
    """
    if type(key) is not bytes:
        if not isinstance(key, bytes | bytearray | memoryview):
            raise InvalidParameterError(f"key must be bytes, got {type(key).__name__}")
        key = bytes(key)
    check_uint("FC", fc, 8)
    parts = [_FC_OCTET[fc]]
    for i, p in enumerate(params):
        parts.append(_pl(f"P{i}", p))
    return hmac_sha256(key, b"".join(parts))


def serving_network_name(mcc: str, mnc: str) -> str:
    """Serving network name ``5G:mnc<MNC>.mcc<MCC>.3gppnetwork.org``, TS 33.501 §6.1.1.4.

    A 2-digit MNC is zero-padded to 3 digits (TS 24.501 §9.12.1 / TS 23.003 §28.2).
    """
    if not (mcc.isdigit() and len(mcc) == 3 and mnc.isdigit() and len(mnc) in (2, 3)):
        raise InvalidParameterError(f"bad PLMN mcc={mcc!r} mnc={mnc!r}")
    return f"5G:mnc{mnc.zfill(3)}.mcc{mcc}.3gppnetwork.org"


def supi_kdf_string(supi: str) -> str:
    """The SUPI as used for P0 of KAMF (TS 33.501 A.7.0) and as EAP-AKA' Identity (Annex F.3).

    ``imsi-001010000000001`` -> ``001010000000001`` (IMSI as in TS 23.003 §2.2); ``nai-``,
    ``gci-`` and ``gli-`` prefixes are removed leaving the NAI. A string without a known
    type prefix is returned unchanged.
    """
    for prefix in ("imsi-", "nai-", "gci-", "gli-"):
        if supi.startswith(prefix):
            return supi[len(prefix) :]
    return supi


def res_star(
    ck: bytes, ik: bytes, serving_network_name: str | bytes, rand: bytes, res: bytes
) -> bytes:
    """RES* / XRES* (16 bytes), TS 33.501 Annex A.4: FC=0x6B, key CK‖IK, last 128 bits."""
    ck = fixed_bytes("CK", ck, 16)
    ik = fixed_bytes("IK", ik, 16)
    rand = fixed_bytes("RAND", rand, 16)
    if type(res) is not bytes or len(res) not in _RES_LENGTHS:
        res = check_bytes("RES", res, _RES_LENGTHS)
    s = (
        b"\x6b"  # FC_RES_STAR
        + _pl_cached("P0", serving_network_name)
        + rand
        + b"\x00\x10"
        + res
        + _L2[len(res)]
    )
    return hmac_sha256(ck + ik, s)[16:]


_RES_LENGTHS = (4, 6, 8, 10, 12, 14, 16)
_L2 = tuple(n.to_bytes(2, "big") for n in range(256))  # Li of short parameters
_sha256 = hashlib.sha256


def hxres_star(rand: bytes, xres_star: bytes) -> bytes:
    """HRES* / HXRES* (16 bytes), TS 33.501 Annex A.5: last 128 bits of SHA-256(RAND‖XRES*)."""
    rand = fixed_bytes("RAND", rand, 16)
    xres_star = fixed_bytes("XRES*", xres_star, 16)
    return _sha256(rand + xres_star).digest()[16:]


def kausf(ck: bytes, ik: bytes, serving_network_name: str | bytes, sqn_xor_ak: bytes) -> bytes:
    """KAUSF for 5G AKA (32 bytes), TS 33.501 Annex A.2: FC=0x6A, key CK‖IK."""
    ck = fixed_bytes("CK", ck, 16)
    ik = fixed_bytes("IK", ik, 16)
    sqn_xor_ak = fixed_bytes("SQN xor AK", sqn_xor_ak, 6)
    s = b"\x6a" + _pl_cached("P0", serving_network_name) + sqn_xor_ak + b"\x00\x06"
    return hmac_sha256(ck + ik, s)


def kseaf(kausf: bytes, serving_network_name: str | bytes) -> bytes:
    """KSEAF (32 bytes), TS 33.501 Annex A.6: FC=0x6C, key KAUSF."""
    kausf = fixed_bytes("KAUSF", kausf, 32)
    return hmac_sha256(kausf, b"\x6c" + _pl_cached("P0", serving_network_name))


def kamf(kseaf: bytes, supi: str | bytes, abba: bytes = b"\x00\x00") -> bytes:
    """KAMF (32 bytes), TS 33.501 Annex A.7: FC=0x6D, P0 = SUPI, P1 = ABBA, key KSEAF.

    ``supi`` may carry its TS 29.571 type prefix (``imsi-...``); it is stripped so P0 is the
    bare IMSI digits or NAI as A.7.0 requires (see :func:`supi_kdf_string`).
    """
    kseaf = fixed_bytes("KSEAF", kseaf, 32)
    if not isinstance(abba, bytes | bytearray) or len(abba) < 2:
        raise InvalidParameterError("ABBA must be bytes of at least 2 octets (TS 33.501 A.7.1)")
    if type(supi) is str and supi.startswith("imsi-") and type(abba) is bytes:
        p0 = supi[5:].encode("utf-8")
        if len(p0) < 256 and len(abba) < 256:  # the usual case: S written directly
            return hmac_sha256(kseaf, b"\x6d" + p0 + _L2[len(p0)] + abba + _L2[len(abba)])
    p0 = supi_kdf_string(supi) if isinstance(supi, str) else _param("SUPI", supi)
    s = b"\x6d" + _pl("P0", p0) + _pl("P1", bytes(abba))
    return hmac_sha256(kseaf, s)


def algorithm_key(key: bytes, alg_type: int, alg_id: int) -> bytes:
    """An algorithm key (16 bytes), TS 33.501 Annex A.8: FC=0x69, 128 LSB of the KDF output.

    ``key`` is KAMF (NAS keys) or KgNB (RRC/UP keys); ``alg_type`` a distinguisher of Table
    A.8-1 (``ALG_TYPE_*``); ``alg_id`` the 4-bit algorithm identity.
    """
    key = fixed_bytes("KAMF/KgNB", key, 32)
    s = _ALG_KEY_S.get((alg_type, alg_id)) if type(alg_type) is int and type(alg_id) is int else None
    if s is None:
        check_uint("algorithm type distinguisher", alg_type, 8)
        check_uint("algorithm identity", alg_id, 4)
        s = b"\x69" + bytes((alg_type,)) + b"\x00\x01" + bytes((alg_id,)) + b"\x00\x01"
    return hmac_sha256(key, s)[16:]


# S of A.8 for every (distinguisher, algorithm identity) pair: FC || P0 || L0 || P1 || L1.
_ALG_KEY_S = {
    (t, a): bytes((FC_ALGORITHM_KEY, t, 0, 1, a, 0, 1)) for t in range(256) for a in range(16)
}


def nas_keys(kamf: bytes, enc_alg_id: int, int_alg_id: int) -> tuple[bytes, bytes]:
    """``(K_NASenc, K_NASint)``, 16 bytes each, TS 33.501 Annex A.8 from KAMF."""
    kamf = fixed_bytes("KAMF/KgNB", kamf, 32)
    s_enc = _ALG_KEY_S.get((ALG_TYPE_N_NAS_ENC, enc_alg_id)) if type(enc_alg_id) is int else None
    s_int = _ALG_KEY_S.get((ALG_TYPE_N_NAS_INT, int_alg_id)) if type(int_alg_id) is int else None
    if s_enc is None or s_int is None:
        return (
            algorithm_key(kamf, ALG_TYPE_N_NAS_ENC, enc_alg_id),
            algorithm_key(kamf, ALG_TYPE_N_NAS_INT, int_alg_id),
        )
    return (
        hmac_sha256(kamf, s_enc)[16:],
        hmac_sha256(kamf, s_int)[16:],
    )


_KGNB = struct.Struct(">BIHBH")


def kgnb(kamf: bytes, uplink_nas_count: int, access_type: int = ACCESS_TYPE_3GPP) -> bytes:
    """KgNB / KN3IWF (32 bytes), TS 33.501 Annex A.9: FC=0x6E, P0 = uplink NAS COUNT (4 octets).

    ``access_type`` is 0x01 for 3GPP access (KgNB) or 0x02 for non-3GPP (KN3IWF), Table A.9-1.
    """
    kamf = fixed_bytes("KAMF", kamf, 32)
    if not (type(uplink_nas_count) is int and 0 <= uplink_nas_count <= 0xFFFFFFFF):
        check_uint("uplink NAS COUNT", uplink_nas_count, 32)
    if not (type(access_type) is int and 0 <= access_type <= 0xFF):
        check_uint("access type distinguisher", access_type, 8)
    s = _KGNB.pack(FC_KGNB, uplink_nas_count, 4, access_type, 1)
    return hmac_sha256(kamf, s)


def nh(kamf: bytes, sync_input: bytes) -> bytes:
    """Next Hop NH (32 bytes), TS 33.501 Annex A.10: FC=0x6F, P0 = SYNC-input (KgNB or previous NH)."""
    kamf = check_bytes("KAMF", kamf, 32)
    sync_input = check_bytes("SYNC-input", sync_input, 32)
    return kdf(kamf, FC_NH, sync_input)


def kng_ran_star(key: bytes, pci: int, arfcn_dl: int) -> bytes:
    """KNG-RAN* for handover (32 bytes), TS 33.501 Annex A.11: FC=0x70, P0 = PCI, P1 = ARFCN-DL (3 octets).

    ``key`` is KgNB or NH.
    """
    key = check_bytes("KgNB/NH", key, 32)
    check_uint("PCI", pci, 16)
    check_uint("ARFCN-DL", arfcn_dl, 24)
    return kdf(key, FC_KNG_RAN_STAR, pci.to_bytes(2, "big"), arfcn_dl.to_bytes(3, "big"))


def kamf_prime_idle_mobility(kamf: bytes, direction: int, count: int) -> bytes:
    """KAMF' for AMF re-allocation (32 bytes), TS 33.501 Annex A.13: FC=0x72.

    ``direction`` 0x00 for idle mobility (``count`` = uplink NAS COUNT of the Registration
    Request), 0x01 for handover (``count`` = downlink NAS COUNT).
    """
    kamf = check_bytes("KAMF", kamf, 32)
    check_uint("DIRECTION", direction, 8)
    check_uint("COUNT", count, 32)
    return kdf(kamf, FC_KAMF_PRIME, bytes((direction,)), count.to_bytes(4, "big"))


# --- EAP-AKA' (RFC 5448 / RFC 9048; TS 33.501 §6.1.3.1 and Annex F) ---------------------


def ck_ik_prime(
    ck: bytes, ik: bytes, serving_network_name: str | bytes, sqn_xor_ak: bytes
) -> tuple[bytes, bytes]:
    """``(CK', IK')`` for EAP-AKA', 16 bytes each: RFC 5448 §3.3 / TS 33.402 Annex A.2.

    FC=0x20, P0 = access network identity (in 5G the serving network name, TS 33.501
    §6.1.3.1), P1 = SQN ⊕ AK; key CK‖IK; CK' is the first 128 bits, IK' the last 128.
    """
    ck = check_bytes("CK", ck, 16)
    ik = check_bytes("IK", ik, 16)
    sqn_xor_ak = check_bytes("SQN xor AK", sqn_xor_ak, 6)
    out = kdf(ck + ik, FC_CK_IK_PRIME, serving_network_name, sqn_xor_ak)
    return out[:16], out[16:]


def prf_prime(key: bytes, data: bytes, length: int) -> bytes:
    """PRF' of RFC 5448 §3.4: ``T1 = HMAC-SHA-256(K, S|0x01)``, ``Tn = HMAC(K, Tn-1|S|n)``.

    Returns the first ``length`` octets of ``T1|T2|...`` (at most 255 × 32 octets).
    """
    if not 0 <= length <= 255 * 32:
        raise InvalidParameterError(f"PRF' output length {length} out of range")
    out = bytearray()
    t = b""
    n = 1
    while len(out) < length:
        t = hmac.digest(key, t + data + bytes((n,)), "sha256")
        out += t
        n += 1
    return bytes(out[:length])


@dataclass(frozen=True, slots=True)
class EapAkaPrimeKeys:
    """The EAP-AKA' key split of MK, RFC 5448 §3.3: sizes 16, 32, 32, 64, 64 octets."""

    k_encr: bytes
    k_aut: bytes
    k_re: bytes
    msk: bytes
    emsk: bytes

    def __repr__(self) -> str:  # keys never appear in logs or tracebacks
        return "EapAkaPrimeKeys(<redacted>)"


def eap_aka_prime_keys(ik_prime: bytes, ck_prime: bytes, identity: str | bytes) -> EapAkaPrimeKeys:
    """``MK = PRF'(IK'|CK', "EAP-AKA'"|Identity)`` split into K_encr, K_aut, K_re, MSK, EMSK.

    RFC 5448 §3.3. In 5G the Identity is the SUPI without type prefix (IMSI digits or NAI,
    TS 33.501 Annex F.3); a ``str`` with an ``imsi-``/``nai-`` prefix is stripped.
    """
    ik_prime = check_bytes("IK'", ik_prime, 16)
    ck_prime = check_bytes("CK'", ck_prime, 16)
    ident = supi_kdf_string(identity) if isinstance(identity, str) else _param("Identity", identity)
    mk = prf_prime(ik_prime + ck_prime, b"EAP-AKA'" + _param("Identity", ident), 208)
    return EapAkaPrimeKeys(mk[0:16], mk[16:48], mk[48:80], mk[80:144], mk[144:208])


def kausf_from_emsk(emsk: bytes) -> bytes:
    """KAUSF for EAP-AKA' (32 bytes): the 256 most significant bits of EMSK, TS 33.501 §6.1.3.1."""
    emsk = check_bytes("EMSK", emsk, 64)
    return emsk[:32]
