"""AMF state: gNB contexts, UE contexts and the indexes over them.

Sized for scale (issue 6: >= 100,000 registered UEs in one process, <= 10 KB per registered
idle UE): every context uses ``__slots__``; what a UE needs only while a procedure runs lives in
a separate :class:`Procedure` object that is dropped when the procedure ends; no UE owns an
asyncio task. Timers are kept by the application in one heap, not per UE.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from fivecore import rng

if TYPE_CHECKING:
    from fivecore.security.nas_context import NasSecurityContext

#: TS 38.413 §9.3.3.1: AMF UE NGAP ID is INTEGER (0..2^40-1).
AMF_UE_NGAP_ID_MAX = (1 << 40) - 1


class GmmState(IntEnum):
    """TS 24.501 §5.1.3.2.3: 5GMM states on the network side."""

    DEREGISTERED = 0
    COMMON_PROCEDURE_INITIATED = 1
    REGISTERED = 2
    DEREGISTERED_INITIATED = 3


class GnbState(IntEnum):
    """NG association state from the AMF's point of view (TS 38.413 §8.7.1)."""

    SETUP_PENDING = 0
    READY = 1


class GnbContext:
    """One NG-RAN node: its association, identity from NG Setup and its UEs (TS 38.413 §8.7.1)."""

    __slots__ = (
        "assoc_id",
        "peer",
        "state",
        "global_ran_node_id",
        "plmn",
        "name",
        "supported_tas",
        "paging_drx",
        "vendor",
        "ues",
        "errors",
        "out_streams",
    )

    def __init__(self, assoc_id: int, peer: str = "") -> None:
        self.assoc_id = assoc_id
        self.peer = peer
        self.state = GnbState.SETUP_PENDING
        self.global_ran_node_id: tuple[str, int, int] | None = None  # (plmn, gnb id, bit length)
        self.plmn: str | None = None
        self.name: str | None = None
        self.supported_tas: list[tuple[int, list[str], list[tuple[int, int | None]]]] = []
        self.paging_drx: str | None = None
        self.vendor: str | None = None
        #: RAN UE NGAP ID -> UE context (TS 38.413 §9.3.3.2: unique per NG-RAN node)
        self.ues: dict[int, UeContext] = {}
        self.errors = 0
        self.out_streams = 2


class Procedure:
    """Transient state of the one 5GMM common/specific procedure running for a UE.

    Holds the retransmission copy of the last downlink message and whatever the procedure needs
    between two messages; ``None`` on an idle UE so idle UEs cost nothing for it.
    """

    __slots__ = (
        "name",
        "timer",
        "retries",
        "last_pdu",
        "last_plain",
        "last_sec_mode",
        "token",
        "rand",
        "autn",
        "hxres_star",
        "auth_link",
        "resynced",
        "request",
        "reg_type",
        "follow_on",
        "identity_for",
        "pending_nas",
        "ue_sec_cap_raw",
        "requested_nssai",
        "new_tmsi",
        "new_sec",
        "ngksi",
        "enc_alg",
        "int_alg",
    )

    def __init__(self, name: str, token: int) -> None:
        self.name = name
        self.timer: str | None = None
        self.retries = 0
        self.last_pdu: bytes | None = None
        #: plain copy and protection of the last downlink message, so a retransmission is
        #: protected again with a fresh NAS COUNT ("plain", "current" or "new" context)
        self.last_plain: bytes | None = None
        self.last_sec_mode = "plain"
        self.token = token
        self.rand: bytes | None = None
        self.autn: bytes | None = None
        self.hxres_star: bytes | None = None
        self.auth_link: str | None = None
        self.resynced = False
        self.request: Any = None
        self.reg_type = 1
        self.follow_on = False
        self.identity_for: str | None = None
        self.pending_nas: bytes | None = None
        self.ue_sec_cap_raw: bytes | None = None
        self.requested_nssai: list[tuple[int, int | None]] | None = None
        self.new_tmsi: int | None = None
        self.new_sec: Any = None
        self.ngksi = 0
        self.enc_alg = 0
        self.int_alg = 0


class UeContext:
    """One UE as the AMF knows it: NGAP association, 5GMM state, identity, NAS security.

    TS 23.501 §5.3.2 (UE context in the AMF). Only identifiers, keys and the NAS security
    context stay while the UE is idle; procedure scratch lives in :attr:`proc`.
    """

    __slots__ = (
        "amf_ue_ngap_id",
        "ran_ue_ngap_id",
        "gnb",
        "state",
        "supi",
        "suci_scheme",
        "tmsi",
        "ngksi",
        "kamf",
        "sec",
        "ue_sec_cap",
        "nr_enc_alg",
        "nr_int_alg",
        "allowed_nssai",
        "tac",
        "proc",
        "proc_seq",
        "registered_with_udm",
        "cm_connected",
        "kgnb_sent",
        "ue_ambr",
        "releasing",
        "after_release",
        "dl_ceiling",
        "nh",
        "ncc",
    )

    def __init__(self, amf_ue_ngap_id: int) -> None:
        self.amf_ue_ngap_id = amf_ue_ngap_id
        self.ran_ue_ngap_id: int | None = None
        self.gnb: GnbContext | None = None
        self.state = GmmState.DEREGISTERED
        self.supi: str | None = None
        #: protection scheme of the SUCI the UE last sent (0 null, 1 A, 2 B), for the audit
        self.suci_scheme: int | None = None
        self.tmsi: int | None = None
        self.ngksi = 7  # TS 24.501 §9.11.3.32: 7 = no key available
        self.kamf: bytes | None = None
        self.sec: NasSecurityContext | None = None
        self.ue_sec_cap: bytes | None = None
        self.nr_enc_alg = 0
        self.nr_int_alg = 0
        self.allowed_nssai: tuple[tuple[int, int | None], ...] = ()
        self.tac: int | None = None
        self.proc: Procedure | None = None
        self.proc_seq = 0
        self.registered_with_udm = False
        self.cm_connected = False
        self.kgnb_sent = False
        #: subscribed UE-AMBR (uplink, downlink) in bit/s from am-data (TS 23.501 §5.7.2.6)
        self.ue_ambr: tuple[int, int] | None = None
        #: UE Context Release Command sent, Complete not yet received: the NG connection is
        #: going, so nothing more is sent on it (TS 23.502 §4.2.6)
        self.releasing = False
        #: what waits for the release to end, then is done by paging (``Gmm.page``'s ``then``)
        self.after_release: tuple[Any, ...] | None = None
        #: downlink NAS COUNT reserved on disk for the current NAS security context; 0 when
        #: no stored record covers it (fivecore.nf.amf.persist, TS 33.501 §6.4.3.1)
        self.dl_ceiling = 0
        #: TS 33.501 §6.9.2.1.1 / §6.9.2.3.3 NH chaining: the SYNC-input of the next NH --
        #: the initial KgNB of the AS context while ``ncc`` is 0, then the last NH sent in a
        #: Path Switch Request Acknowledge (fivecore.nf.amf.handover); None without an AS context
        self.nh: bytes | None = None
        #: NH Chaining Counter of ``nh`` (3 bits, TS 38.413 §9.3.1.29)
        self.ncc = 0

    def new_procedure(self, name: str) -> Procedure:
        """Start a procedure; the token lets late SBI answers for an older one be ignored."""
        self.proc_seq += 1
        self.proc = Procedure(name, self.proc_seq)
        return self.proc


#: AMF UE NGAP IDs remembered after their context was reaped, so the gNB's UE Context Release
#: Complete is taken quietly; bounded, oldest forgotten first
RECENTLY_RELEASED_MAX = 16384


def _draw_amf_ue_ngap_id() -> int:
    """A uniform 40-bit integer (TS 38.413 §9.3.3.1: 0..2^40-1) from five CSPRNG octets."""
    return int.from_bytes(rng.token_bytes(5), "big")


class AmfContext:
    """All UEs and gNBs of one AMF instance, with the lookups NGAP and 5GMM need.

    ``embryonic`` holds every context created by an Initial UE Message that has not reached
    5GMM-REGISTERED yet, keyed by AMF UE NGAP ID with the sweep epoch it was created in. It is
    insertion-ordered and epochs only grow, so a sweep reads it from the front and stops at the
    first young entry: reaping costs O(reaped), never a walk over all UEs.
    """

    __slots__ = (
        "gnbs",
        "ues",
        "by_tmsi",
        "old_tmsi",
        "by_supi",
        "stats",
        "embryonic",
        "epoch",
        "recently_released",
        "dirty",
        "reachable",
        "implicit",
    )

    def __init__(self) -> None:
        self.gnbs: dict[int, GnbContext] = {}
        self.ues: dict[int, UeContext] = {}
        self.by_tmsi: dict[int, UeContext] = {}
        #: AMF UE NGAP ID -> a second valid 5G-TMSI (the old one after an unanswered Registration
        #: Accept, TS 24.501 §5.5.1.2.8 c); rare, so kept here rather than on every context
        self.old_tmsi: dict[int, int] = {}
        self.by_supi: dict[str, UeContext] = {}
        self.stats: dict[str, int] = {}
        # FIFOs read from the front: OrderedDicts, as ``reachable`` below. A plain dict keeps a
        # hole for each entry deleted at its front until it next resizes, and next(iter()) walks
        # them: at 16,384 recently released ids that cost ~10 µs per release, not 0.2 µs.
        self.embryonic: OrderedDict[int, int] = OrderedDict()
        self.epoch = 0
        self.recently_released: OrderedDict[int, None] = OrderedDict()
        #: SUPIs whose stored 5GMM context must be written again or deleted (write-behind by
        #: fivecore.nf.amf.persist); None when the AMF keeps nothing on disk
        self.dirty: set[str] | None = None
        #: TS 24.501 §5.3.7: AMF UE NGAP ID -> deadline of the UE's mobile reachable timer,
        #: and of its implicit de-registration timer; in deadline order (see
        #: ``Gmm.start_mobile_reachable``). OrderedDicts: reading the front of a plain dict
        #: after many deletions there walks over the holes they leave (quadratic for a crowd)
        self.reachable: OrderedDict[int, float] = OrderedDict()
        self.implicit: OrderedDict[int, float] = OrderedDict()

    def touch(self, ue: UeContext) -> None:
        """The UE's 5GMM context changed in a way a restart must not lose (or it is gone)."""
        if self.dirty is not None and ue.supi is not None:
            self.dirty.add(ue.supi)

    def touch_supi(self, supi: str) -> None:
        if self.dirty is not None:
            self.dirty.add(supi)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    # --- UEs ---------------------------------------------------------------------------------

    def new_ue(self, gnb: GnbContext, ran_ue_ngap_id: int) -> UeContext:
        """TS 38.413 §8.6.1: a new UE-associated logical NG connection on Initial UE Message."""
        amf_id = self.next_amf_ue_ngap_id()
        ue = UeContext(amf_id)
        ue.ran_ue_ngap_id = ran_ue_ngap_id
        ue.gnb = gnb
        ue.cm_connected = True
        self.ues[amf_id] = ue
        self.embryonic[amf_id] = self.epoch
        old = gnb.ues.get(ran_ue_ngap_id)
        if old is not None and old is not ue:
            self.detach_ran(old)
        gnb.ues[ran_ue_ngap_id] = ue
        return ue

    def next_amf_ue_ngap_id(self) -> int:
        """TS 38.413 §9.3.3.1: an AMF UE NGAP ID neither in use nor awaiting a late release.

        Drawn uniformly from the whole 40-bit space by the kernel CSPRNG (:mod:`fivecore.rng`):
        a PATH SWITCH REQUEST names its UE by this ID alone, so a gNB that sees its own UEs'
        IDs must learn nothing about its neighbours'. With at most a few 10^5 IDs taken out of
        2^40 a redraw is needed about once in 10^6 allocations."""
        ues, rr = self.ues, self.recently_released
        amf_id = _draw_amf_ue_ngap_id()
        while amf_id in ues or amf_id in rr:
            amf_id = _draw_amf_ue_ngap_id()
        return amf_id

    def remember_released(self, amf_ue_ngap_id: int) -> None:
        """A UE Context Release Command went out for a context we no longer keep."""
        rr = self.recently_released
        rr[amf_ue_ngap_id] = None
        if len(rr) > RECENTLY_RELEASED_MAX:
            del rr[next(iter(rr))]

    def attach_ran(self, ue: UeContext, gnb: GnbContext, ran_ue_ngap_id: int) -> None:
        """Bind a known UE (found by 5G-GUTI) to a new NG connection."""
        if ue.gnb is not None:
            self.detach_ran(ue)
        old = gnb.ues.get(ran_ue_ngap_id)
        if old is not None and old is not ue:
            self.detach_ran(old)
        ue.gnb = gnb
        ue.ran_ue_ngap_id = ran_ue_ngap_id
        ue.cm_connected = True
        ue.releasing = False
        gnb.ues[ran_ue_ngap_id] = ue
        # TS 24.501 §5.3.7: a NAS signalling connection for the UE stops both timers
        if self.reachable:
            self.reachable.pop(ue.amf_ue_ngap_id, None)
        if self.implicit:
            self.implicit.pop(ue.amf_ue_ngap_id, None)

    def detach_ran(self, ue: UeContext) -> None:
        """TS 38.413 §8.3.3: the UE-associated logical NG connection is gone (CM-IDLE)."""
        gnb = ue.gnb
        if gnb is not None and ue.ran_ue_ngap_id is not None and gnb.ues.get(ue.ran_ue_ngap_id) is ue:
            del gnb.ues[ue.ran_ue_ngap_id]
        ue.gnb = None
        ue.ran_ue_ngap_id = None
        ue.cm_connected = False
        ue.kgnb_sent = False
        ue.releasing = False

    def set_tmsi(self, ue: UeContext, tmsi: int | None) -> None:
        if self.old_tmsi:
            self.drop_old_tmsi(ue)
        if ue.tmsi is not None and self.by_tmsi.get(ue.tmsi) is ue:
            del self.by_tmsi[ue.tmsi]
        ue.tmsi = tmsi
        if tmsi is not None:
            self.by_tmsi[tmsi] = ue

    def keep_old_tmsi(self, ue: UeContext, new_tmsi: int) -> None:
        """TS 24.501 §5.5.1.2.8 c: ``new_tmsi`` becomes the UE's 5G-TMSI while the one it had
        stays valid too, until the UE is heard with the new one (:meth:`drop_old_tmsi`)."""
        old = ue.tmsi
        ue.tmsi = new_tmsi
        self.by_tmsi[new_tmsi] = ue
        if old is not None and old != new_tmsi and self.by_tmsi.get(old) is ue:
            self.old_tmsi[ue.amf_ue_ngap_id] = old

    def drop_old_tmsi(self, ue: UeContext) -> None:
        """The UE's second 5G-TMSI (see :meth:`keep_old_tmsi`) is no longer valid."""
        old = self.old_tmsi.pop(ue.amf_ue_ngap_id, None)
        if old is not None and self.by_tmsi.get(old) is ue:
            del self.by_tmsi[old]

    def new_tmsi(self) -> int:
        """TS 23.003 §2.10.1: a 5G-TMSI not in use (fresh and unpredictable, TS 33.501 §6.12.3)."""
        while True:
            tmsi = rng.randbits(32)
            if tmsi not in self.by_tmsi and tmsi != 0xFFFFFFFF:
                return tmsi

    def set_supi(self, ue: UeContext, supi: str) -> UeContext | None:
        """Index the UE by SUPI; returns an older context of the same subscriber, if any."""
        old = self.by_supi.get(supi)
        ue.supi = supi
        self.by_supi[supi] = ue
        return old if old is not ue else None

    def remove_ue(self, ue: UeContext) -> None:
        """Forget a UE entirely (deregistered, or superseded by a newer context)."""
        self.detach_ran(ue)
        self.forget_ue(ue)

    def forget_ue(self, ue: UeContext) -> None:
        """Drop the UE from every index but leave its NGAP IDs on the object, so a UE Context
        Release Command can still be built from it (the reaper, TS 38.413 §8.3.3)."""
        gnb = ue.gnb
        if gnb is not None and ue.ran_ue_ngap_id is not None and gnb.ues.get(ue.ran_ue_ngap_id) is ue:
            del gnb.ues[ue.ran_ue_ngap_id]
        self.embryonic.pop(ue.amf_ue_ngap_id, None)
        if self.ues.get(ue.amf_ue_ngap_id) is ue:
            del self.ues[ue.amf_ue_ngap_id]
            self.reachable.pop(ue.amf_ue_ngap_id, None)
            self.implicit.pop(ue.amf_ue_ngap_id, None)
        if ue.tmsi is not None and self.by_tmsi.get(ue.tmsi) is ue:
            del self.by_tmsi[ue.tmsi]
        if self.old_tmsi:
            self.drop_old_tmsi(ue)
        if ue.supi is not None and self.by_supi.get(ue.supi) is ue:
            del self.by_supi[ue.supi]
            self.touch(ue)
        proc = ue.proc
        if proc is not None and proc.new_tmsi is not None and self.by_tmsi.get(proc.new_tmsi) is ue:
            del self.by_tmsi[proc.new_tmsi]
        ue.proc = None

    # --- gNBs --------------------------------------------------------------------------------

    def add_gnb(self, assoc_id: int, peer: str = "") -> GnbContext:
        gnb = GnbContext(assoc_id, peer)
        self.gnbs[assoc_id] = gnb
        return gnb

    def remove_gnb(self, gnb: GnbContext) -> list[UeContext]:
        """SCTP association lost or NG Reset: every UE on it goes CM-IDLE (TS 23.502 §4.2.6)."""
        self.gnbs.pop(gnb.assoc_id, None)
        ues = list(gnb.ues.values())
        for ue in ues:
            self.detach_ran(ue)
        return ues

    def find_ue(self, gnb: GnbContext, amf_ue_ngap_id: int | None, ran_ue_ngap_id: int | None) -> UeContext | None:
        """TS 38.413 §10.6: both IDs must name the same UE *on this gNB*; anything else is unknown.

        A gNB presenting another gNB's UE ID pair (or a guessed AMF UE NGAP ID) gets nothing.
        """
        if amf_ue_ngap_id is None:
            return None
        ue = self.ues.get(amf_ue_ngap_id)
        if ue is None or ue.gnb is not gnb:
            return None
        if ran_ue_ngap_id is not None and ue.ran_ue_ngap_id != ran_ue_ngap_id:
            return None
        return ue
