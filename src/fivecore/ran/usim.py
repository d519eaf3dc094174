"""The simulated USIM: Milenage authentication, SQN freshness and SUCI concealment.

Sans-I/O and pure: the UE state machine (:mod:`fivecore.ran.ue`) calls it with the RAND and
AUTN from an Authentication Request and gets back either the response material or the reason
to refuse (TS 33.102 §6.3.3, TS 33.501 §6.1.3.2).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fivecore.security import milenage, suci
from fivecore.security.errors import SuciError

#: TS 33.102 Annex C.3.1: IND is the 5 least significant bits of SQN (32-entry array).
IND_BITS = 5
IND_MASK = (1 << IND_BITS) - 1
#: TS 33.102 Annex C.2.1: the largest accepted jump of SQN over the highest accepted one.
DELTA = 1 << 28
#: TS 33.102 Annex C.2.2: the "age limit" L of an out-of-order SEQ.
AGE_LIMIT = 1 << 28
SQN_MAX = (1 << 48) - 1

_SHA256 = hashlib.sha256
_HMAC = hmac.digest


@lru_cache(maxsize=64)
def _hn_key(raw: bytes) -> x25519.X25519PublicKey:
    # one home network key serves every USIM of a simulator: load it once, not per USIM
    return x25519.X25519PublicKey.from_public_bytes(raw)


def conceal_profile_a(hn_public: x25519.X25519PublicKey, scheme_input: bytes,
                      ephemeral: x25519.X25519PrivateKey | None = None) -> bytes:
    """TS 33.501 Annex C.3.2 / C.3.4.1 (ECIES Profile A), UE side: scheme output
    ``ephemeral public key || AES-128-CTR ciphertext || HMAC-SHA-256/64 tag``.

    The same computation as :func:`fivecore.security.suci.conceal_raw` for Profile A, for a
    USIM that conceals on every registration: the home network key object comes ready,
    the scheme input is already BCD and checked, so only the per-SUCI work is left — a
    fresh X25519 key pair (required: SUCIs of one subscriber must be unlinkable), the
    shared secret, the ANSI X9.63 KDF (SHA-256), AES-CTR and the tag. ``ephemeral`` is for
    known-answer tests.
    """
    eph = x25519.X25519PrivateKey.generate() if ephemeral is None else ephemeral
    eph_pub = eph.public_key().public_bytes_raw()
    try:
        z = eph.exchange(hn_public)
    except ValueError:
        raise SuciError("Profile A public key is a low-order point") from None
    # C.3.2: X9.63 KDF, 64 octets = EK (16) || ICB (16) || MK (32); SharedInfo1 = eph_pub
    k1 = _SHA256(z + b"\x00\x00\x00\x01" + eph_pub).digest()
    k2 = _SHA256(z + b"\x00\x00\x00\x02" + eph_pub).digest()
    if int.from_bytes(k1[28:32], "big") + (len(scheme_input) + 15) // 16 - 1 > 0xFFFFFFFF:
        # C.3.4.0's 32-bit counter would wrap inside the input (never for an IMSI's MSIN, one
        # block): OpenSSL's 128-bit counter would carry on differently, the reference does not
        return suci.conceal_raw(scheme_input, 1, hn_public.public_bytes_raw(),
                                ephemeral_private_key=eph.private_bytes_raw())
    ct = Cipher(algorithms.AES(k1[:16]), modes.CTR(k1[16:32])).encryptor().update(scheme_input)
    return eph_pub + ct + _HMAC(k2, ct, "sha256")[:8]


class UsimError(ValueError):
    """The USIM's own configuration is unusable (wrong key length, bad IMSI)."""


@dataclass(slots=True, frozen=True)
class AkaSuccess:
    """TS 33.102 §6.3.3: AUTN verified; RES, CK, IK and the SQN to bind into KAUSF."""

    res: bytes
    ck: bytes
    ik: bytes
    sqn_xor_ak: bytes
    sqn: int


@dataclass(slots=True, frozen=True)
class AkaMacFailure:
    """TS 33.102 §6.3.3: XMAC != MAC — cause #20 "MAC failure" (TS 24.501 §5.4.1.3.7 b)."""


@dataclass(slots=True, frozen=True)
class AkaSynchFailure:
    """TS 33.102 §6.3.3: SQN out of range — cause #21 with AUTS = SQN_MS ^ AK* || MAC-S."""

    auts: bytes


@dataclass(slots=True, frozen=True)
class AkaNon5gFailure:
    """TS 33.501 §6.1.3.2.0: AMF separation bit 0 in a 5G AUTN — cause #26 "non-5G auth"."""


AkaResult = AkaSuccess | AkaMacFailure | AkaSynchFailure | AkaNon5gFailure


class Usim:
    """One subscriber's USIM (TS 31.102): K, OPc, SQN array and SUCI parameters.

    ``__slots__`` keeps ten thousand of these small; the SQN array is created lazily only for
    out-of-order IND values so an ordinary USIM costs a few hundred bytes.
    """

    __slots__ = (
        "imsi",
        "mcc",
        "mnc",
        "k",
        "opc",
        "sqn_ms",
        "_seq_array",
        "protection_scheme",
        "hn_public_key",
        "hn_key_id",
        "routing_indicator",
        "_scheme_input",
        "_hn_key",
    )

    def __init__(
        self,
        imsi: str,
        k: bytes,
        *,
        opc: bytes | None = None,
        op: bytes | None = None,
        mnc_digits: int = 2,
        sqn: int = 0,
        protection_scheme: int = 0,
        hn_public_key: bytes | None = None,
        hn_key_id: int = 0,
        routing_indicator: str = "0000",
    ) -> None:
        if not imsi.isdigit() or not 6 <= len(imsi) <= 15:
            raise UsimError(f"IMSI must be 6..15 digits, got {imsi!r}")
        if len(k) != 16:
            raise UsimError("K must be 16 bytes")
        if opc is None:
            if op is None:
                raise UsimError("one of OP or OPc is required")
            if len(op) != 16:
                raise UsimError("OP must be 16 bytes")
            opc = milenage.compute_opc(k, op)
        if len(opc) != 16:
            raise UsimError("OPc must be 16 bytes")
        if protection_scheme not in (0, 1, 2):
            raise UsimError(f"protection scheme must be 0 (null), 1 (A) or 2 (B), got {protection_scheme}")
        if protection_scheme and not hn_public_key:
            raise UsimError("Profile A/B SUCI needs the home network public key")
        self.imsi = imsi
        self.mcc = imsi[:3]
        self.mnc = imsi[3 : 3 + mnc_digits]
        self.k = k
        self.opc = opc
        self.sqn_ms = sqn
        self._seq_array: dict[int, int] | None = None
        self.protection_scheme = protection_scheme
        self.hn_public_key = hn_public_key
        self.hn_key_id = hn_key_id
        self.routing_indicator = routing_indicator
        #: TS 33.501 C.3.1: the scheme input (BCD MSIN) and the loaded home network key, made
        #: once: every registration from DEREGISTERED conceals the same MSIN anew
        self._scheme_input: bytes | None = None
        self._hn_key: x25519.X25519PublicKey | None = None

    @property
    def supi(self) -> str:
        """TS 23.003 §2.2A: SUPI of type IMSI, as the SBI writes it."""
        return f"imsi-{self.imsi}"

    @property
    def msin(self) -> str:
        return self.imsi[len(self.mcc) + len(self.mnc) :]

    # --- SUCI (TS 33.501 §6.12.2, Annex C) -------------------------------------------------

    def make_suci(self) -> suci.SuciIdentity:
        """TS 33.501 §6.12.2, Annex C: a fresh SUCI for this USIM.

        Null scheme: the MSIN in BCD. Profiles A/B: a new ephemeral key each call, so two
        SUCIs of one subscriber are unlinkable.
        """
        return suci.SuciIdentity(
            suci.SupiFormat.IMSI,
            self.mcc,
            self.mnc,
            self.routing_indicator,
            self.protection_scheme,
            self.hn_key_id if self.protection_scheme else 0,
            self.scheme_output(),
        )

    def scheme_output(self) -> bytes:
        """TS 33.501 §6.12.2 / Annex C.3: the SUCI's scheme output, freshly concealed (a new
        ephemeral key pair per call for Profiles A and B; the BCD MSIN for the null scheme)."""
        si = self._scheme_input
        if si is None:
            si = suci.encode_msin_bcd(self.msin)
            # the identity's fixed fields are checked once (what SuciIdentity checks per SUCI)
            suci.SuciIdentity(suci.SupiFormat.IMSI, self.mcc, self.mnc, self.routing_indicator,
                              self.protection_scheme, self.hn_key_id if self.protection_scheme else 0, si)
            self._scheme_input = si
        scheme = self.protection_scheme
        if scheme == 1:
            key = self._hn_key
            if key is None:
                pub = self.hn_public_key or b""
                if len(pub) != 32:
                    raise SuciError(f"Profile A public key must be 32 bytes, got {len(pub)}")
                key = self._hn_key = _hn_key(pub)
            return conceal_profile_a(key, si)
        if scheme == 0:
            return si
        return suci.conceal_raw(si, scheme, self.hn_public_key)

    # --- AKA (TS 33.102 §6.3.3, TS 33.501 §6.1.3.2) -----------------------------------------

    def authenticate(self, rand: bytes, autn: bytes) -> AkaResult:
        """TS 33.102 §6.3.3 / TS 33.501 §6.1.3.2.0: verify AUTN and answer.

        AUTN = SQN ^ AK || AMF || MAC-A. MAC first (a forged AUTN must never move the SQN
        state), then the 5G separation bit, then freshness per Annex C.
        """
        if len(rand) != 16 or len(autn) != 16:
            return AkaMacFailure()
        res, ck, ik, ak = milenage.f2345(self.k, self.opc, rand)
        sqn_xor_ak = autn[:6]
        amf = autn[6:8]
        sqn = int.from_bytes(sqn_xor_ak, "big") ^ int.from_bytes(ak, "big")
        sqn_b = sqn.to_bytes(6, "big")
        if milenage.f1(self.k, self.opc, rand, sqn_b, amf) != autn[8:16]:
            return AkaMacFailure()
        if not amf[0] & 0x80:
            return AkaNon5gFailure()
        if not self.sqn_acceptable(sqn):
            return AkaSynchFailure(self.make_auts(rand))
        self.accept_sqn(sqn)
        return AkaSuccess(res=res, ck=ck, ik=ik, sqn_xor_ak=sqn_xor_ak, sqn=sqn)

    def sqn_acceptable(self, sqn: int) -> bool:
        """TS 33.102 Annex C.2.1 and C.2.2: fresh and not too far ahead.

        A SQN above the highest accepted one is fresh if the jump is at most DELTA; a lower one
        is accepted once per IND slot if its SEQ beats that slot and is not older than L.
        """
        if sqn > self.sqn_ms:
            return sqn - self.sqn_ms <= DELTA
        seq, ind = sqn >> IND_BITS, sqn & IND_MASK
        slot = (self._seq_array or {}).get(ind, -1)
        if seq <= slot:
            return False
        if slot < 0 and sqn <= self.sqn_ms:
            # never-used IND slot: only SQNs above the highest accepted one count as fresh,
            # otherwise a replayed old vector would always find an empty slot.
            return False
        return (self.sqn_ms >> IND_BITS) - seq <= AGE_LIMIT

    def accept_sqn(self, sqn: int) -> None:
        """TS 33.102 Annex C.2.2: remember SEQ in the IND slot and the highest SQN."""
        if self._seq_array is None:
            self._seq_array = {}
        self._seq_array[sqn & IND_MASK] = sqn >> IND_BITS
        if sqn > self.sqn_ms:
            self.sqn_ms = sqn

    def make_auts(self, rand: bytes) -> bytes:
        """TS 33.102 §6.3.3: AUTS = (SQN_MS ^ AK*) || MAC-S, with AMF = 0x0000 for MAC-S."""
        sqn_ms = self.sqn_ms.to_bytes(6, "big")
        ak_star = milenage.f5star(self.k, self.opc, rand)
        mac_s = milenage.f1star(self.k, self.opc, rand, sqn_ms, b"\x00\x00")
        return bytes(a ^ b for a, b in zip(sqn_ms, ak_star, strict=True)) + mac_s
