"""The simulated USIM: Milenage authentication, SQN freshness and SUCI concealment.

Sans-I/O and pure: the UE state machine (:mod:`fivecore.ran.ue`) calls it with the RAND and
AUTN from an Authentication Request and gets back either the response material or the reason
to refuse (TS 33.102 §6.3.3, TS 33.501 §6.1.3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from fivecore.security import milenage, suci

#: TS 33.102 Annex C.3.1: IND is the 5 least significant bits of SQN (32-entry array).
IND_BITS = 5
IND_MASK = (1 << IND_BITS) - 1
#: TS 33.102 Annex C.2.1: the largest accepted jump of SQN over the highest accepted one.
DELTA = 1 << 28
#: TS 33.102 Annex C.2.2: the "age limit" L of an out-of-order SEQ.
AGE_LIMIT = 1 << 28
SQN_MAX = (1 << 48) - 1


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
        return suci.SuciIdentity.for_imsi(
            self.mcc,
            self.mnc,
            self.msin,
            protection_scheme=self.protection_scheme,
            hn_public_key=self.hn_public_key,
            hn_public_key_id=self.hn_key_id,
            routing_indicator=self.routing_indicator,
        )

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
        sqn_b = bytes(a ^ b for a, b in zip(sqn_xor_ak, ak, strict=True))
        if milenage.f1(self.k, self.opc, rand, sqn_b, amf) != autn[8:16]:
            return AkaMacFailure()
        if not amf[0] & 0x80:
            return AkaNon5gFailure()
        sqn = int.from_bytes(sqn_b, "big")
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
