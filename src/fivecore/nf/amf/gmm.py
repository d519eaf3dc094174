"""5GS mobility management, network side (TS 24.501 §5), sans-I/O.

Procedures: registration (initial with SUCI of any scheme or 5G-GUTI, mobility and periodic
update), identification, 5G-AKA and EAP-AKA' through the AUSF (MAC failure -> Authentication
Reject, synch failure -> resynchronisation), security mode control, UE- and network-initiated
de-registration (paging an idle UE first), service request, generic UE configuration update
(5G-GUTI reallocation), with the T3513/T3522/T3550/T3555/T3560/T3570 supervision; initial
messages with the whole message in a NAS message container (TS 24.501 §4.4.6); an AMF-wide cap
on UE contexts (#22 + T3346) and a periodic sweep that reaps contexts never registered; user
planes brought back by a Service Request's or a registration update's Uplink data status
(§5.6.1.4.1, §5.5.1.3.4, with the session relay); the mobile reachable and implicit
de-registration timers of CM-IDLE UEs (§5.3.7).

:class:`Gmm` takes uplink NAS PDUs, SBI results and timer expiries and returns *actions*
(:class:`SendNas`, :class:`SendIcs`, :class:`Reactivate`, :class:`ReleaseUe`, :class:`SbiCall`,
:class:`SetTimer`, :class:`StopTimer`). It never touches a socket or a task and reads time
only through its injected ``clock``: the AMF application carries the actions out, and unit
tests drive it with plain calls (and a fake clock).

Security rules it enforces (TS 33.501, TS 33.512 SCAS):

- NIA0 is never selected; NEA0 only if it is in the configured ciphering priority list.
- Once a UE has a NAS security context, an uplink message that is not integrity protected is
  accepted only if TS 24.501 §4.4.4.3 allows it; a bad MAC or a replayed COUNT is discarded and
  counted (``nas_bad_mac``, ``nas_replay``).
- A fresh 5G-GUTI on every Registration Accept (TS 33.501 §6.12.3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fivecore.nf.amf import nas_io
from fivecore.nf.amf.context import AmfContext, GmmState, GnbContext, Procedure, UeContext
from fivecore.nf.amf.nas_io import Guti, NasInvalid, STmsi
from fivecore.security import kdf
from fivecore.security.errors import IntegrityError, NasSecurityError, ReplayError
from fivecore.security.suci import SuciIdentity
from fivecore.wire.nas.ies import UeSecurityCapability

log = logging.getLogger("fivecore.amf.gmm")
_MISS: Any = object()

#: 5GS registration types of an initial registration (TS 24.501 §9.11.3.7: initial, emergency)
REG_TYPES_INITIAL = (1, 4)

# --- 5GMM causes (TS 24.501 §9.11.3.2) -------------------------------------------------------
CAUSE_ILLEGAL_UE = 3
CAUSE_5GS_SERVICES_NOT_ALLOWED = 7
CAUSE_UE_IDENTITY_CANNOT_BE_DERIVED = 9
CAUSE_IMPLICITLY_DEREGISTERED = 10
CAUSE_PLMN_NOT_ALLOWED = 11
CAUSE_MAC_FAILURE = 20
CAUSE_SYNCH_FAILURE = 21
CAUSE_CONGESTION = 22
CAUSE_UE_SECURITY_CAPABILITIES_MISMATCH = 23
CAUSE_SECURITY_MODE_REJECTED = 24
CAUSE_NON_5G_AUTHENTICATION_UNACCEPTABLE = 26
CAUSE_NO_NETWORK_SLICES_AVAILABLE = 62
CAUSE_INVALID_MANDATORY_INFORMATION = 96
CAUSE_MESSAGE_TYPE_NON_EXISTENT = 97
CAUSE_MESSAGE_NOT_COMPATIBLE_WITH_STATE = 98
CAUSE_PROTOCOL_ERROR = 111

#: TS 24.501 §4.4.6: initial messages that may carry the whole message in a NAS message container
INITIAL_WITH_CONTAINER = frozenset({"RegistrationRequest", "ServiceRequest"})

#: TS 24.501 §4.4.4.3: messages the network processes without integrity protection.
UNPROTECTED_OK = frozenset(
    {
        "RegistrationRequest",
        "IdentityResponse",
        "AuthenticationResponse",
        "AuthenticationFailure",
        "SecurityModeReject",
        "DeregistrationRequestUEOriginating",
        "DeregistrationAcceptUETerminated",
    }
)


@dataclass(slots=True)
class GmmConfig:
    """What 5GMM needs from the AMF configuration."""

    mcc: str = "001"
    mnc: str = "01"
    region_id: int = 2
    set_id: int = 1
    pointer: int = 0
    tacs: tuple[int, ...] = (1,)
    slices: tuple[tuple[int, int | None], ...] = ((1, None),)
    #: TS 33.501 §5.5.2: integrity algorithms in order of preference (NIA0 is never used)
    integrity_order: tuple[int, ...] = (2, 1, 3)
    #: ciphering algorithms in order of preference; NEA0 only when listed
    ciphering_order: tuple[int, ...] = (2, 1, 3)
    t3512: int = 3240  # 54 min, TS 24.501 §10.2 default
    t3550: float = 6.0
    t3560: float = 6.0
    t3570: float = 6.0
    t3522: float = 6.0
    t3555: float = 6.0
    #: TS 23.501 / TS 24.501 paging supervision (the AMF's own timer): repeat, then give up
    t3513: float = 4.0
    max_paging: int = 2
    #: TS 24.501 §5.4/§5.5: retransmit four times, abort on the fifth expiry
    max_retransmissions: int = 4
    release_after_registration: bool = True
    #: AMF-wide cap on UE contexts; past it a new UE gets #22 congestion with T3346
    max_ue_contexts: int = 262144
    #: TS 24.501 §5.3.9 back-off timer T3346 (s) sent with a congestion reject
    t3346: int = 60
    #: a context created by an Initial UE Message that is not 5GMM-REGISTERED this many seconds
    #: later is reaped (UE Context Release Command, context removed), whatever it waits for
    ue_setup_timeout: float = 120.0
    #: TS 24.501 §5.3.7 mobile reachable timer (s) of a CM-IDLE UE; None: T3512 + 4 min
    mobile_reachable: float | None = None
    #: TS 24.501 §5.3.7 implicit de-registration timer (s), started when the mobile reachable
    #: timer expires; None: T3512 + 4 min
    implicit_deregistration: float | None = None
    amf_instance_id: str = "00000000-0000-4000-8000-000000000005"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def serving_network_name(self) -> str:
        return kdf.serving_network_name(self.mcc, self.mnc)

    @property
    def mobile_reachable_s(self) -> float:
        """TS 24.501 §5.3.7: by default 4 minutes longer than T3512."""
        return float(self.mobile_reachable if self.mobile_reachable is not None else self.t3512 + 240)

    @property
    def implicit_deregistration_s(self) -> float:
        """TS 24.501 §5.3.7: by default 4 minutes longer than T3512."""
        return float(self.implicit_deregistration if self.implicit_deregistration is not None
                     else self.t3512 + 240)

    @property
    def plmn(self) -> str:
        return self.mcc + self.mnc


# --- actions ---------------------------------------------------------------------------------


class SendNas(NamedTuple):
    """Send a NAS PDU in NGAP Downlink NAS Transport (TS 38.413 §8.6.2)."""

    ue: UeContext
    pdu: bytes


class SendIcs(NamedTuple):
    """NGAP Initial Context Setup Request with KgNB and the NAS PDU (TS 38.413 §8.3.1).

    ``reactivate``: the PDU sessions a Service Request (TS 23.502 §4.2.3.2 step 4) or a
    mobility / periodic registration update (§4.2.2.2.2, "PDU Session(s) to be
    re-activated") asked to bring back in its Uplink data status; ``None`` when there was no
    such request. ``registration``: the NAS PDU is a Registration Accept (else a Service
    Accept), to be rebuilt with the reactivation result (:meth:`Gmm.reactivation_accept`).
    """

    ue: UeContext
    pdu: bytes
    kgnb: bytes
    reactivate: frozenset[int] | None = None
    registration: bool = False


class ReleaseUe(NamedTuple):
    """NGAP UE Context Release Command (TS 38.413 §8.3.3); cause is (group, value name)."""

    ue: UeContext
    cause: tuple[str, str]


class SbiCall(NamedTuple):
    """Ask the SBI side for something; the answer comes back through :meth:`Gmm.sbi_result`.

    ``op`` is one of ``auth`` (Nausf_UEAuthentication authenticate, maybe with resync info),
    ``confirm`` (5G-AKA confirmation), ``udm_register`` (Nudm_UECM registration + Nudm_SDM
    get of am-data/nssai) and ``udm_deregister``.
    """

    ue: UeContext
    token: int
    op: str
    args: dict[str, Any]


class Page(NamedTuple):
    """NGAP Paging (TS 38.413 §8.5.1) for a CM-IDLE UE, by 5G-S-TMSI, in its tracking area."""

    ue: UeContext


class SetTimer(NamedTuple):
    ue: UeContext
    name: str
    seconds: float
    token: int


class StopTimer(NamedTuple):
    ue: UeContext
    name: str


class Congested(NamedTuple):
    """No UE context could be created for an Initial UE Message (the AMF-wide cap is reached)
    and the NAS message was not one to answer with a congestion reject: NGAP Error Indication
    (misc / control-processing-overload, TS 38.413 §8.7.5)."""

    gnb: GnbContext
    ran_ue_ngap_id: int


class Reactivate(NamedTuple):
    """A Registration Accept for a UE whose NG connection already has its AS context (no
    Initial Context Setup to come), answering an update with Uplink data status: the session
    relay asks the SMFs, rebuilds the Accept with the result (:meth:`Gmm.reactivation_accept`)
    and sends it, then a PDU Session Resource Setup Request (TS 38.413 §8.2.1) for each
    session that comes back. Without a relay it is sent as it is."""

    ue: UeContext
    pdu: bytes
    reactivate: frozenset[int]


Action = SendNas | SendIcs | ReleaseUe | SbiCall | Page | SetTimer | StopTimer | Congested | Reactivate

#: when fewer downlink NAS COUNTs than this remain below ``UeContext.dl_ceiling`` the
#: persistence hook is asked to reserve more (fivecore.nf.amf.persist)
DL_RESERVE_LOW = 32

#: sweeps per ``ue_setup_timeout``: a context is reaped between 1 and 1.25 timeouts after birth
SWEEPS_PER_TIMEOUT = 4


def service_request_psis(msg: Any) -> frozenset[int]:
    """TS 24.501 §5.6.1.4.1 / §5.5.1.3.4: the PDU sessions whose user plane a Service Request
    or a registration update asks for — those in its Uplink data status IE (PSI 1..15)."""
    raw = getattr(msg, "raw", None) or msg
    up = getattr(raw, "uplink_data_status", None)
    psis = getattr(up, "psis", None) or frozenset()
    return frozenset(p for p in psis if 1 <= p <= 15)


_BITRATE_UNITS = {"bps": 1, "kbps": 10**3, "mbps": 10**6, "gbps": 10**9, "tbps": 10**12}


def subscribed_ue_ambr(ambr: Any) -> tuple[int, int] | None:
    """TS 29.571 §5.4.4.1 Ambr (``{"uplink": "1 Gbps", "downlink": ...}``) -> bit/s, or None."""
    try:
        out = []
        for k in ("uplink", "downlink"):
            num, unit = str(ambr[k]).split()
            out.append(int(float(num) * _BITRATE_UNITS[unit.lower()]))
        return out[0], out[1]
    except (KeyError, TypeError, ValueError):
        return None


class SbiFailure(NamedTuple):
    """An SBI call that did not succeed: HTTP status (0 for transport) and 3GPP cause."""

    status: int
    cause: str | None = None


class Gmm:
    """The AMF's 5GMM entity for all UEs (TS 24.501 §5); see the module docstring."""

    def __init__(self, cfg: GmmConfig, ctx: AmfContext | None = None) -> None:
        #: TS 33.501 §6.7.2 choices by (NEA, NIA octets, NEA0 forbidden, orders): _select_algorithms
        self._alg_memo: dict[tuple[Any, ...], tuple[int, int] | None] = {}
        self.cfg = cfg
        self.ctx = ctx if ctx is not None else AmfContext()
        self.guami_plmn = cfg.plmn
        #: what the RAN gets to see, for the exposure audit (issue 10): called as
        #: ``observer(kind, ue, info)`` with kind "registration", "nas_security", "kgnb", "guti"
        self.observer: Callable[[str, UeContext, dict[str, Any]], None] | None = None
        #: restricted profile of the UE's gNB (issue 10: ``AmfGnbPolicy.profile_for``) or None
        self.restrictions: Callable[[GnbContext], Any] | None = None
        #: called when paging for a waiting N1N2MessageTransfer gives up (the session relay
        #: tells the SMF, TS 29.518 §5.2.2.3.2)
        self.on_paging_failed: Callable[[UeContext], None] | None = None
        #: the PDU session IDs the AMF holds SM contexts for (the session relay), and the one
        #: that releases those the UE says it no longer has (TS 24.501 §5.5.1.3.4, §5.6.1.4.1)
        self.session_psis: Callable[[UeContext], frozenset[int]] | None = None
        self.on_sessions_gone: Callable[[UeContext, frozenset[int]], None] | None = None
        #: called before a downlink message would use a NAS COUNT at or near the one reserved
        #: on disk (``ue.dl_ceiling``): fivecore.nf.amf.persist reserves more counts
        self.on_dl_ceiling: Callable[[UeContext], None] | None = None
        #: seconds, monotonic: the mobile reachable / implicit de-registration deadlines are
        #: read against it (tests give a fake one)
        self.clock: Callable[[], float] = time.monotonic

    def _profile(self, ue: UeContext) -> Any:
        if self.restrictions is None or ue.gnb is None:
            return None
        return self.restrictions(ue.gnb)

    def _session_status(self, ue: UeContext, request: Any) -> frozenset[int] | None:
        """TS 24.501 §5.5.1.3.4 / §5.6.1.4.1: if the UE's request carried a PDU session status,
        the answer carries the AMF's, and the sessions active in the AMF that the UE no longer
        has are released (Nsmf_PDUSession_ReleaseSMContext, by the session relay). None when
        the UE sent none."""
        raw = getattr(request, "raw", None) or request
        ue_status = getattr(raw, "pdu_session_status", None)
        if ue_status is None:
            return None
        active = self.session_psis(ue) if self.session_psis is not None else frozenset()
        gone = active - ue_status.psis
        if gone:
            self.ctx.count("pdu_sessions_released_by_status")
            if self.on_sessions_gone is not None:
                self.on_sessions_gone(ue, gone)
        return active - gone

    def _suci_refused(self, ue: UeContext, ident: SuciIdentity) -> bool:
        """A null-scheme SUCI through a gNB whose vendor must not see permanent identities."""
        prof = self._profile(ue)
        if ident.protection_scheme == 0 and prof is not None and getattr(prof, "forbid_null_scheme_suci", False):
            self.ctx.count("null_scheme_refused")
            return True
        return False

    def _observe(self, kind: str, ue: UeContext, **info: Any) -> None:
        if self.observer is not None:
            self.observer(kind, ue, info)

    # ======================================================================================
    # entry points
    # ======================================================================================

    def initial_ue_message(
        self,
        gnb: GnbContext,
        ran_ue_ngap_id: int,
        pdu: bytes,
        tac: int | None = None,
        s_tmsi: STmsi | None = None,
    ) -> tuple[UeContext, list[Action]]:
        """TS 38.413 §8.6.1 + TS 24.501 §4.4.6: the first NAS message on a new NG connection.

        An integrity-protected message naming a 5G-GUTI / 5G-S-TMSI we allocated is checked with
        that UE's security context; if it verifies, the NG connection is bound to the existing
        context. Otherwise a new context is created and the message is handled as unverified.
        """
        ctx = self.ctx
        # one length check: the only cost of the cap on the registration path
        full = len(ctx.ues) >= self.cfg.max_ue_contexts
        try:
            sht, inner = nas_io.split_security_header(pdu)
        except NasInvalid:
            if full:
                return self._congested(gnb, ran_ue_ngap_id, None)
            ue = ctx.new_ue(gnb, ran_ue_ngap_id)
            ue.tac = tac
            ctx.count("nas_malformed")
            return ue, [SendNas(ue, nas_io.gmm_status(CAUSE_INVALID_MANDATORY_INFORMATION)), self._release(ue)]
        candidate: UeContext | None = None
        msg: Any = None
        if sht != 0:
            if inner is not None:
                try:
                    msg = nas_io.decode_uplink(inner)
                except NasInvalid:
                    msg = None
            ident = getattr(msg, "identity", None) if msg is not None else None
            if ident is None:
                ident = s_tmsi
            candidate = self._lookup_identity(ident)
            if candidate is not None and candidate.sec is not None:
                try:
                    plain = nas_io.unprotect_initial(candidate.sec, pdu)
                except ReplayError:
                    ctx.count("nas_replay")
                    log.info("event=nas_replay where=initial_ue amf_ue_ngap_id=%d", candidate.amf_ue_ngap_id)
                    plain = None
                except (IntegrityError, NasSecurityError):
                    ctx.count("nas_bad_mac")
                    plain = None
                if plain is not None:
                    try:
                        vmsg = nas_io.decode_uplink(plain)
                        if vmsg.container is not None and vmsg.message_type in INITIAL_WITH_CONTAINER:
                            vmsg = self._open_initial_container(candidate, vmsg)
                    except NasInvalid as exc:
                        ctx.attach_ran(candidate, gnb, ran_ue_ngap_id)
                        candidate.tac = tac
                        return candidate, [SendNas(candidate, self._protect(candidate, nas_io.gmm_status(exc.cause)))]
                    if candidate.proc is not None and candidate.proc.name != "paging":
                        candidate.proc = None
                    ctx.attach_ran(candidate, gnb, ran_ue_ngap_id)
                    candidate.tac = tac
                    return candidate, self._dispatch(candidate, vmsg, verified=True)
                if msg is not None and msg.message_type != "RegistrationRequest":
                    # An unverifiable service/deregistration request must not touch the stored
                    # context (it may be a replay by the RAN); answer without changing anything.
                    if full:
                        return self._congested(gnb, ran_ue_ngap_id, msg)
                    ue = ctx.new_ue(gnb, ran_ue_ngap_id)
                    ue.tac = tac
                    return ue, self._unverified_non_registration(ue, msg)
        else:
            try:
                msg = nas_io.decode_uplink(inner if inner is not None else pdu)
            except NasInvalid as exc:
                if full:
                    return self._congested(gnb, ran_ue_ngap_id, None)
                ue = ctx.new_ue(gnb, ran_ue_ngap_id)
                ue.tac = tac
                ctx.count("nas_malformed")
                return ue, [SendNas(ue, nas_io.gmm_status(exc.cause)), self._release(ue)]
        if full:
            return self._congested(gnb, ran_ue_ngap_id, msg)
        ue = ctx.new_ue(gnb, ran_ue_ngap_id)
        ue.tac = tac
        if msg is None:
            ctx.count("nas_malformed")
            return ue, [SendNas(ue, nas_io.gmm_status(CAUSE_INVALID_MANDATORY_INFORMATION)), self._release(ue)]
        if msg.message_type != "RegistrationRequest":
            return ue, self._unverified_non_registration(ue, msg)
        return ue, self._dispatch(ue, msg, verified=False)

    def _open_initial_container(self, ue: UeContext, outer: Any) -> Any:
        """TS 24.501 §4.4.6: the verified initial message carries the whole message, ciphered
        with the current context, in its NAS message container; that inner message is the one
        to act on. Raises NasInvalid (#96) when it is not the same kind of message."""
        sec = ue.sec
        assert sec is not None
        if ue.kamf is None:
            raise NasInvalid(CAUSE_INVALID_MANDATORY_INFORMATION, "no KAMF for the container")
        inner = nas_io.decipher_initial_container(sec, ue.kamf, outer.container)
        full = nas_io.decode_uplink(inner)
        if full.message_type != outer.message_type or full.container is not None:
            raise NasInvalid(CAUSE_INVALID_MANDATORY_INFORMATION, "NAS message container of another kind")
        self.ctx.count("initial_nas_container")
        return full

    def _congested(self, gnb: GnbContext, ran_ue_ngap_id: int, msg: Any) -> tuple[UeContext, list[Action]]:
        """TS 24.501 §5.5.1.2.5 / §5.6.1.5 cause #22 with T3346 (§5.3.9), or an NGAP Error
        Indication: the AMF holds no more UE contexts. The answer rides on a throw-away context
        that is never stored; its ID is remembered so the gNB's Release Complete is quiet."""
        ctx = self.ctx
        ctx.count("ue_context_limit")
        ue = UeContext(ctx.next_amf_ue_ngap_id())
        ue.gnb = gnb
        ue.ran_ue_ngap_id = ran_ue_ngap_id
        t = msg.message_type if msg is not None else None
        if t == "RegistrationRequest":
            ctx.count("registration_reject")
            ctx.count(f"registration_reject_{CAUSE_CONGESTION}")
            plain = nas_io.registration_reject(CAUSE_CONGESTION, t3346=self.cfg.t3346)
        elif t == "ServiceRequest":
            ctx.count("service_reject")
            plain = nas_io.service_reject(CAUSE_CONGESTION, t3346=self.cfg.t3346)
        else:
            return ue, [Congested(gnb, ran_ue_ngap_id)]
        ctx.remember_released(ue.amf_ue_ngap_id)
        return ue, [SendNas(ue, plain), self._release(ue)]

    @property
    def sweep_interval(self) -> float:
        """How often the application calls :meth:`sweep` (seconds)."""
        return max(0.05, self.cfg.ue_setup_timeout / SWEEPS_PER_TIMEOUT)

    def sweep(self, limit: int = 512) -> list[Action]:
        """Reap UE contexts that never completed registration (one periodic call, no timer per
        UE): each gets a UE Context Release Command (TS 38.413 §8.3.3) and is removed.

        Catches what the T3550/T3560/T3570 aborts do not: a context whose release the gNB never
        confirms, one stuck behind an SBI call, one answered with a reject and left behind.
        At most ``limit`` per call so a flood never stalls the event loop; while
        :attr:`reap_pending` the application calls :meth:`reap_due` again after yielding.
        """
        self.ctx.epoch += 1
        return self.reap_due(limit)

    @property
    def reap_pending(self) -> bool:
        """Contexts are due for reaping (a batch limit stopped the last sweep)."""
        emb = self.ctx.embryonic
        return bool(emb) and emb[next(iter(emb))] <= self.ctx.epoch - SWEEPS_PER_TIMEOUT - 1

    def reap_due(self, limit: int = 512) -> list[Action]:
        """Reap up to ``limit`` due contexts, oldest first (part of :meth:`sweep`)."""
        ctx = self.ctx
        cutoff = ctx.epoch - SWEEPS_PER_TIMEOUT - 1
        emb = ctx.embryonic
        acts: list[Action] = []
        n = 0
        while emb and n < limit:
            amf_id = next(iter(emb))
            if emb[amf_id] > cutoff:
                break
            del emb[amf_id]
            ue = ctx.ues.get(amf_id)
            if ue is None or ue.state == GmmState.REGISTERED:
                continue
            n += 1
            acts += self._reap(ue, "sweep")
        return acts

    def _reap(self, ue: UeContext, why: str) -> list[Action]:
        """Remove a half-registered context and release its NG connection; counted."""
        ctx = self.ctx
        ctx.count("ue_reaped")
        ctx.count(f"ue_reaped_{why}")
        log.info("event=ue_reaped why=%s amf_ue_ngap_id=%d", why, ue.amf_ue_ngap_id)
        acts: list[Action] = []
        proc = ue.proc
        if proc is not None and proc.timer is not None:
            acts.append(StopTimer(ue, proc.timer))
        ctx.forget_ue(ue)
        ue.state = GmmState.DEREGISTERED
        if ue.registered_with_udm and ue.supi is not None:
            # the UDM must not keep this AMF as the serving one (TS 23.502 §4.2.2.3.2 step 14)
            ue.registered_with_udm = False
            acts.append(SbiCall(ue, ue.proc_seq, "udm_deregister", {"supi": ue.supi}))
        if ue.gnb is not None and ue.ran_ue_ngap_id is not None:
            ctx.remember_released(ue.amf_ue_ngap_id)
            acts.append(self._release(ue, ("nas", "unspecified")))
        return acts

    def uplink_nas(self, ue: UeContext, pdu: bytes) -> list[Action]:
        """TS 38.413 §8.6.3 Uplink NAS Transport: one NAS PDU from a UE on a known connection."""
        ctx = self.ctx
        sec = ue.sec
        proc = ue.proc
        if proc is not None and proc.name == "smc" and proc.new_sec is not None:
            sec = proc.new_sec
        try:
            sht, inner = nas_io.split_security_header(pdu)
        except NasInvalid as exc:
            ctx.count("nas_malformed")
            return [SendNas(ue, self._protect(ue, nas_io.gmm_status(exc.cause)))]
        verified = False
        unverifiable = False
        if sht == 0:
            plain = inner if inner is not None else pdu
        elif sec is None:
            if inner is None:
                ctx.count("nas_unverifiable")
                return []
            # TS 24.501 §4.4.4.3: a UE still holding a context this AMF lacks integrity protects
            # its answers; the listed ones are processed although the MAC cannot be checked
            plain = inner
            unverifiable = True
        else:
            try:
                plain = nas_io.unprotect(sec, pdu)
            except ReplayError:
                ctx.count("nas_replay")
                log.info("event=nas_replay amf_ue_ngap_id=%d", ue.amf_ue_ngap_id)
                return []
            except IntegrityError:
                ctx.count("nas_bad_mac")
                log.info("event=nas_bad_mac amf_ue_ngap_id=%d", ue.amf_ue_ngap_id)
                return []
            except NasSecurityError:
                ctx.count("nas_malformed")
                return [SendNas(ue, self._protect(ue, nas_io.gmm_status(CAUSE_INVALID_MANDATORY_INFORMATION)))]
            verified = True
        try:
            msg = nas_io.decode_uplink(plain)
        except NasInvalid as exc:
            ctx.count("nas_malformed")
            log.info("event=nas_malformed amf_ue_ngap_id=%d cause=%d", ue.amf_ue_ngap_id, exc.cause)
            return [SendNas(ue, self._protect(ue, nas_io.gmm_status(exc.cause)))]
        if unverifiable and msg.message_type not in UNPROTECTED_OK:
            ctx.count("nas_unverifiable")
            return []
        if not verified and ue.sec is not None and msg.message_type not in UNPROTECTED_OK:
            # TS 24.501 §4.4.4.3: discard a plain message that must be protected
            ctx.count("nas_unprotected_dropped")
            return []
        return self._dispatch(ue, msg, verified=verified)

    def sbi_result(self, ue: UeContext, token: int, op: str, result: Any) -> list[Action]:
        """The answer to an :class:`SbiCall`; stale answers (older procedure) are ignored."""
        proc = ue.proc
        if proc is None or proc.token != token:
            self.ctx.count("sbi_stale")
            return []
        if op == "auth":
            return self._on_auth_vector(ue, proc, result)
        if op == "confirm":
            return self._on_auth_confirmed(ue, proc, result)
        if op == "udm_register":
            return self._on_udm_registered(ue, proc, result)
        if op == "eap":
            return self._on_eap_result(ue, proc, result)
        return []

    def timer_expired(self, ue: UeContext, name: str, token: int) -> list[Action]:
        """TS 24.501 §10.2: T3550/T3560/T3570/T3522 — retransmit, abort on the fifth expiry."""
        proc = ue.proc
        if proc is None or proc.token != token or proc.timer != name or proc.last_pdu is None:
            return []
        if proc.name == "paging":
            proc.retries += 1
            if proc.retries > self.cfg.max_paging:
                # unreachable: implicit de-registration (TS 24.501 §5.3.7)
                ue.proc = None
                self.ctx.count("paging_failed")
                if proc.request and proc.request[0] == "n1n2" and self.on_paging_failed is not None:
                    self.on_paging_failed(ue)
                if proc.request and proc.request[0] == "deregister":
                    ue.state = GmmState.DEREGISTERED
                    self.ctx.touch(ue)
                    return [SbiCall(ue, ue.proc_seq, "udm_deregister", {"supi": ue.supi})]
                return []
            return [Page(ue), SetTimer(ue, "T3513", self.cfg.t3513, proc.token)]
        proc.retries += 1
        self.ctx.count(f"{name.lower()}_expiry")
        if proc.retries > self.cfg.max_retransmissions:
            self.ctx.count(f"{proc.name}_aborted")
            log.info("event=procedure_aborted proc=%s amf_ue_ngap_id=%d", proc.name, ue.amf_ue_ngap_id)
            ue.proc = None
            if proc.name == "registration_accept":
                return self._accept_unanswered(ue, proc)
            if ue.amf_ue_ngap_id in self.ctx.embryonic and ue.state != GmmState.REGISTERED:
                # TS 24.501 §5.4.1.3.7 c / §5.4.2.7 c / §5.5.1.2.8: the procedure is aborted
                # and so is the registration the context was made for: drop it now
                ue.proc = proc  # so the reaper can stop its timer and free its 5G-TMSI
                proc.timer = None
                return self._reap(ue, "timer")
            acts: list[Action] = []
            if proc.name == "deregistration_nw" or ue.state != GmmState.REGISTERED:
                ue.state = GmmState.DEREGISTERED
            self.ctx.touch(ue)
            if ue.gnb is not None:
                acts.append(self._release(ue))
            return acts
        pdu = proc.last_pdu
        if proc.last_plain is not None:
            # TS 24.501 §4.4.3.1: every transmission gets its own NAS COUNT, else the UE
            # would discard the retransmission as a replay
            if proc.last_sec_mode == "current" and ue.sec is not None:
                pdu = self._protect(ue, proc.last_plain)
            elif proc.last_sec_mode == "new" and proc.new_sec is not None:
                pdu = nas_io.protect(proc.new_sec, proc.last_plain, new_context=True)
        return [SendNas(ue, pdu), SetTimer(ue, name, self._timer_value(name), proc.token)]

    def _accept_unanswered(self, ue: UeContext, proc: Procedure) -> list[Action]:
        """TS 24.501 §5.5.1.2.8 c: fifth expiry of T3550 — the procedure is aborted and the AMF
        enters 5GMM-REGISTERED (the UE most likely took one of the Accepts and only its Complete
        was lost). The new 5G-GUTI and the old one are both valid until the UE is heard with the
        new one; paging names both."""
        if proc.new_tmsi is not None:
            self.ctx.keep_old_tmsi(ue, proc.new_tmsi)
        ue.state = GmmState.REGISTERED
        self.ctx.embryonic.pop(ue.amf_ue_ngap_id, None)
        self.ctx.touch(ue)
        return [self._release(ue)] if ue.gnb is not None else []

    def deregister(self, ue: UeContext, cause: int | None = None, reregister: bool = False) -> list[Action]:
        """TS 24.501 §5.5.2.3: network-initiated de-registration (T3522)."""
        if ue.state != GmmState.REGISTERED:
            return []
        if ue.releasing:
            # the NG connection is going: page once it has gone (see after_release)
            return self.defer_until_released(ue, ("deregister", cause, reregister))
        if ue.gnb is None:
            # CM-IDLE: page it; the de-registration follows its Service Request
            return self.page(ue, then=("deregister", cause, reregister))
        proc = ue.new_procedure("deregistration_nw")
        ue.state = GmmState.DEREGISTERED_INITIATED
        plain = nas_io.deregistration_request_nw(reregister, cause)
        return self._send_with_timer(ue, proc, self._protect(ue, plain), "T3522", plain,
                                     "current" if ue.sec is not None else "plain")

    def page(self, ue: UeContext, then: tuple[Any, ...]) -> list[Action]:
        """TS 23.502 §4.2.3.3: network triggered Service Request — page a CM-IDLE UE, and once it
        answers with a Service Request carry out ``then`` (``("deregister", cause, rereg)``)."""
        if ue.state != GmmState.REGISTERED or ue.gnb is not None or ue.tmsi is None:
            return []
        proc = ue.new_procedure("paging")
        proc.request = then
        proc.last_pdu = b""  # retransmission is a new Paging, see timer_expired
        proc.timer = "T3513"
        self.ctx.count("paging")
        return [Page(ue), SetTimer(ue, "T3513", self.cfg.t3513, proc.token)]

    def defer_until_released(self, ue: UeContext, then: tuple[Any, ...]) -> list[Action]:
        """Network-triggered work for a UE whose NG connection is being released (UE Context
        Release Command sent, Complete not yet back): what is sent on that connection now is
        lost, so ``then`` waits and the UE is paged once it is CM-IDLE (TS 23.502 §4.2.6, then
        §4.2.3.3). A de-registration outranks waiting downlink data."""
        if ue.after_release is None or then[0] == "deregister":
            ue.after_release = then
        self.ctx.count("deferred_until_released")
        return []

    def after_release(self, ue: UeContext) -> list[Action]:
        """The UE is CM-IDLE (Release Complete, NG Reset, association loss): page it for what
        :meth:`defer_until_released` kept; if it cannot be paged, waiting transfers fail as
        for unanswered paging (TS 29.518 §5.2.2.3.2)."""
        then, ue.after_release = ue.after_release, None
        if then is None:
            return []
        acts = self.page(ue, then)
        if not acts and then[0] == "n1n2" and self.on_paging_failed is not None:
            self.on_paging_failed(ue)
        return acts

    def _take_deferred(self, ue: UeContext) -> list[Action]:
        """The UE came back (Service Request) before its old connection's release ended: do
        what waited for it now (a waiting N1N2 transfer rides on the Service Request's ICS)."""
        then, ue.after_release = ue.after_release, None
        if then is not None and then[0] == "deregister":
            return self.deregister(ue, then[1], then[2])
        return []

    def _paging_done(self, ue: UeContext, proc: Procedure) -> list[Action]:
        then = proc.request
        ue.proc = None
        acts: list[Action] = [StopTimer(ue, "T3513")]
        if then and then[0] == "deregister":
            acts += self.deregister(ue, then[1], then[2])
        return acts

    def reallocate_guti(self, ue: UeContext) -> list[Action]:
        """TS 24.501 §5.4.4.2: generic UE configuration update — a new 5G-GUTI (T3555).

        The old 5G-GUTI stays valid until the UE acknowledges (§5.4.4.3).
        """
        if ue.state != GmmState.REGISTERED or ue.gnb is None or ue.sec is None or ue.proc is not None:
            return []
        proc = ue.new_procedure("configuration_update")
        tmsi = self.ctx.new_tmsi()
        proc.new_tmsi = tmsi
        self.ctx.by_tmsi[tmsi] = ue
        cfg = self.cfg
        plain = nas_io.configuration_update_command(Guti(cfg.mcc, cfg.mnc, cfg.region_id, cfg.set_id, cfg.pointer, tmsi))
        self._observe("guti", ue, reallocated=True)
        return self._send_with_timer(ue, proc, self._protect(ue, plain), "T3555", plain, "current")

    def _on_configuration_update_complete(self, ue: UeContext) -> list[Action]:
        """TS 24.501 §5.4.4.3: the UE uses the new 5G-GUTI; the old one is released."""
        proc = ue.proc
        if proc is None or proc.name != "configuration_update":
            return []
        if proc.new_tmsi is not None:
            self.ctx.set_tmsi(ue, proc.new_tmsi)
        ue.proc = None
        self.ctx.touch(ue)
        self.ctx.count("configuration_update")
        return [StopTimer(ue, "T3555")]

    def ran_released(self, ue: UeContext) -> None:
        """NGAP UE Context Release Complete or association loss: the UE is CM-IDLE now.

        A registered UE keeps its context; so does a de-registered one that still has a 5G-GUTI
        and a NAS security context (TS 24.501 §5.5.2.2.2: it may come back with that GUTI).
        Anything half-done is dropped.
        """
        self.ctx.detach_ran(ue)
        if ue.proc is not None:
            proc, ue.proc = ue.proc, None
            if proc.new_tmsi is not None and self.ctx.by_tmsi.get(proc.new_tmsi) is ue and proc.new_tmsi != ue.tmsi:
                del self.ctx.by_tmsi[proc.new_tmsi]
        if ue.state in (GmmState.COMMON_PROCEDURE_INITIATED, GmmState.DEREGISTERED_INITIATED):
            ue.state = GmmState.DEREGISTERED
        if ue.state == GmmState.DEREGISTERED and (ue.sec is None or ue.supi is None or ue.tmsi is None):
            self.ctx.remove_ue(ue)
        else:
            self.ctx.touch(ue)  # CM-IDLE: UL/DL NAS COUNTs, or a de-registration, to store
            self.start_mobile_reachable(ue)

    # ======================================================================================
    # mobile reachable and implicit de-registration timers (TS 24.501 §5.3.7)
    # ======================================================================================
    #
    # Every CM-IDLE UE has one of the two running. Both have one duration for all UEs, so the
    # order in which they start is the order in which they expire: each is an OrderedDict (AMF
    # UE NGAP ID -> deadline) read from the front. No task, handle or heap entry per UE;
    # starting, stopping and expiring are O(1) (about 130 bytes per idle UE).

    def start_mobile_reachable(self, ue: UeContext) -> None:
        """TS 24.501 §5.3.7: the UE is CM-IDLE (its NG connection was released, or the AMF read
        it back from disk after a restart): start the mobile reachable timer, stopping the
        implicit de-registration timer if it ran. :meth:`AmfContext.attach_ran` stops both when
        a NAS signalling connection is established for the UE."""
        ctx = self.ctx
        key = ue.amf_ue_ngap_id
        ctx.implicit.pop(key, None)
        ctx.reachable.pop(key, None)  # to the back: the queue stays in deadline order
        ctx.reachable[key] = self.clock() + self.cfg.mobile_reachable_s

    @property
    def reachability_interval(self) -> float:
        """How often the application calls :meth:`reachability_due` (seconds): a timer fires
        at most this late."""
        c = self.cfg
        return max(0.05, min(1.0, min(c.mobile_reachable_s, c.implicit_deregistration_s) / 8))

    @property
    def reachability_pending(self) -> bool:
        """A timer is due (a batch limit stopped the last :meth:`reachability_due`)."""
        now = self.clock()
        return any(q and q[next(iter(q))] <= now for q in (self.ctx.reachable, self.ctx.implicit))

    def reachability_due(self, limit: int = 512) -> list[Action]:
        """Expire due timers, at most ``limit`` UEs per call (a crowd that went idle together
        must not stall N2). TS 24.501 §5.3.7: on expiry of the mobile reachable timer the
        implicit de-registration timer starts; on its expiry the UE is de-registered
        implicitly (:meth:`_implicit_deregister`)."""
        ctx = self.ctx
        now = self.clock()
        extra = self.cfg.implicit_deregistration_s
        acts: list[Action] = []
        n = 0
        reach, implicit = ctx.reachable, ctx.implicit
        while reach and n < limit:
            key = next(iter(reach))
            deadline = reach[key]
            if deadline > now:
                break
            del reach[key]
            ue = ctx.ues.get(key)
            if ue is None or ue.gnb is not None:
                continue
            n += 1
            ctx.count("mobile_reachable_expiry")
            # from the deadline, not from now: a late tick keeps the queue in order
            implicit[key] = deadline + extra
        while implicit and n < limit:
            key = next(iter(implicit))
            if implicit[key] > now:
                break
            del implicit[key]
            ue = ctx.ues.get(key)
            if ue is None or ue.gnb is not None:
                continue
            n += 1
            acts += self._implicit_deregister(ue)
        return acts

    def _implicit_deregister(self, ue: UeContext) -> list[Action]:
        """TS 24.501 §5.3.7 / TS 23.502 §4.2.2.3.3: the implicit de-registration timer expired.
        A registered UE is de-registered without signalling to it: its PDU sessions are
        released at their SMFs and the UDM is told (one ``udm_deregister`` call, which the
        session relay precedes with Nsmf_PDUSession_ReleaseSMContext for each), waiting
        paged-for transfers fail, and the context goes -- with its stored copy. A context
        kept after a de-registration (5G-GUTI and NAS context, §5.5.2.2.2) just goes."""
        ctx = self.ctx
        acts: list[Action] = []
        proc = ue.proc
        if proc is not None and proc.timer is not None:
            acts.append(StopTimer(ue, proc.timer))
        if (proc is not None and proc.name == "paging" and proc.request and proc.request[0] == "n1n2"
                and self.on_paging_failed is not None):
            self.on_paging_failed(ue)
        registered = ue.state == GmmState.REGISTERED
        ue.state = GmmState.DEREGISTERED
        ue.after_release = None
        if registered:
            ctx.count("implicit_deregistration")
            log.info("event=implicit_deregistration amf_ue_ngap_id=%d", ue.amf_ue_ngap_id)
            if ue.supi is not None:
                ue.registered_with_udm = False
                acts.append(SbiCall(ue, ue.proc_seq, "udm_deregister", {"supi": ue.supi}))
        else:
            ctx.count("idle_context_expired")
        ctx.remove_ue(ue)
        return acts

    # ======================================================================================
    # dispatch
    # ======================================================================================

    def _dispatch(self, ue: UeContext, msg: Any, verified: bool) -> list[Action]:
        t = msg.message_type
        if t == "RegistrationRequest":
            return self._on_registration_request(ue, msg, verified)
        if t == "AuthenticationResponse":
            return self._on_auth_response(ue, msg)
        if t == "AuthenticationFailure":
            return self._on_auth_failure(ue, msg)
        if t == "IdentityResponse":
            return self._on_identity_response(ue, msg)
        if t == "SecurityModeComplete":
            return self._on_smc_complete(ue, msg, verified)
        if t == "SecurityModeReject":
            return self._on_smc_reject(ue, msg)
        if t == "RegistrationComplete":
            return self._on_registration_complete(ue)
        if t == "DeregistrationRequestUEOriginating":
            return self._on_deregistration_request(ue, msg, verified)
        if t == "DeregistrationAcceptUETerminated":
            return self._on_deregistration_accept(ue)
        if t == "ServiceRequest":
            return self._on_service_request(ue, msg, verified)
        if t == "ConfigurationUpdateComplete" and verified:
            return self._on_configuration_update_complete(ue)
        if t == "ULNASTransport" and getattr(self, "on_ul_nas_transport", None) is not None:
            # 5GSM relay (issue 7): fivecore.nf.amf.sessions installs this hook
            return self.on_ul_nas_transport(ue, msg, verified)
        if t == "5GMMStatus":
            self.ctx.count("gmm_status_received")
            log.info("event=gmm_status_from_ue amf_ue_ngap_id=%d cause=%s", ue.amf_ue_ngap_id, msg.cause)
            return []
        # TS 24.501 §7.4: a message the network does not handle in 5GMM
        self.ctx.count("nas_unexpected")
        return [SendNas(ue, self._protect(ue, nas_io.gmm_status(CAUSE_MESSAGE_NOT_COMPATIBLE_WITH_STATE)))]

    def _unverified_non_registration(self, ue: UeContext, msg: Any) -> list[Action]:
        t = msg.message_type
        if t == "ServiceRequest":
            # TS 24.501 §5.6.1.5 cause #9: identity cannot be derived -> UE registers afresh
            self.ctx.count("service_reject")
            return [SendNas(ue, nas_io.service_reject(CAUSE_UE_IDENTITY_CANNOT_BE_DERIVED)), self._release(ue)]
        if t == "DeregistrationRequestUEOriginating":
            # No context to deregister: just accept (TS 24.501 §5.5.2.2.2) unless switch-off.
            acts: list[Action] = []
            if not msg.switch_off:
                acts.append(SendNas(ue, nas_io.deregistration_accept()))
            acts.append(self._release(ue))
            return acts
        self.ctx.count("nas_unexpected")
        return [SendNas(ue, nas_io.gmm_status(CAUSE_MESSAGE_NOT_COMPATIBLE_WITH_STATE)), self._release(ue)]

    # ======================================================================================
    # registration (TS 24.501 §5.5.1)
    # ======================================================================================

    def _on_registration_request(self, ue: UeContext, req: Any, verified: bool) -> list[Action]:
        """TS 24.501 §5.5.1.2.2 (initial) and §5.5.1.3.2 (mobility / periodic update)."""
        ctx = self.ctx
        ctx.count("registration_request")
        # the Open5GS-named reginit* metrics count initial (and emergency) registrations only
        ctx.count("registration_request_initial" if req.reg_type in REG_TYPES_INITIAL else "registration_request_update")
        old_proc = ue.proc
        proc = ue.new_procedure("registration")
        proc.request = req
        proc.reg_type = req.reg_type
        proc.follow_on = req.follow_on
        acts: list[Action] = []
        if old_proc is not None and old_proc.timer is not None:
            acts.append(StopTimer(ue, old_proc.timer))
        if req.ue_sec_cap is not None:
            proc.ue_sec_cap_raw = req.ue_sec_cap
        elif ue.ue_sec_cap is not None:
            proc.ue_sec_cap_raw = ue.ue_sec_cap
        proc.requested_nssai = req.requested_nssai
        if ue.state != GmmState.REGISTERED:
            ue.state = GmmState.COMMON_PROCEDURE_INITIATED
        if verified and ue.sec is not None and ue.kamf is not None and ue.supi is not None:
            # TS 33.501 §6.1.3: a verified request from a UE with a current native context
            # needs no new authentication.
            ctx.count("registration_without_auth")
            self._observe("registration", ue, identity="guti", suci_scheme=None)
            return acts + self._after_security(ue, proc)
        if proc.ue_sec_cap_raw is None:
            return acts + self._reject(ue, CAUSE_INVALID_MANDATORY_INFORMATION)
        if self._select_algorithms(proc.ue_sec_cap_raw, ue) is None:
            log.info("event=no_common_algorithm amf_ue_ngap_id=%d", ue.amf_ue_ngap_id)
            ctx.count("reject_security_capabilities")
            return acts + self._reject(ue, CAUSE_UE_SECURITY_CAPABILITIES_MISMATCH)
        ident = req.identity
        if isinstance(ident, SuciIdentity):
            ue.suci_scheme = ident.protection_scheme
            ctx.count(f"suci_scheme_{ident.protection_scheme}")
            if self._suci_refused(ue, ident):
                return acts + self._reject(ue, CAUSE_PROTOCOL_ERROR)
            return acts + self._start_auth(ue, proc, {"suci": ident.to_string()})
        if isinstance(ident, Guti | STmsi):
            known = self._lookup_identity(ident)
            if known is not None and known.supi is not None and known is not ue and not verified:
                # GUTI known but the message did not verify: identify the UE afresh
                pass
            ctx.count("identity_procedure")
            return acts + self._start_identity(ue, proc)
        return acts + self._start_identity(ue, proc)

    def _start_identity(self, ue: UeContext, proc: Procedure) -> list[Action]:
        """TS 24.501 §5.4.3.2: Identity Request for the SUCI, guarded by T3570."""
        proc.name = "identity"
        plain = nas_io.identity_request(1)
        if ue.sec is not None:
            return self._send_with_timer(ue, proc, self._protect(ue, plain), "T3570", plain, "current")
        return self._send_with_timer(ue, proc, plain, "T3570")

    def _on_identity_response(self, ue: UeContext, msg: Any) -> list[Action]:
        """TS 24.501 §5.4.3.4: identification completed."""
        proc = ue.proc
        if proc is None or proc.name != "identity":
            return self._not_compatible(ue)
        acts: list[Action] = [StopTimer(ue, "T3570")]
        proc.timer = None
        ident = msg.identity
        if not isinstance(ident, SuciIdentity):
            return acts + self._reject(ue, CAUSE_UE_IDENTITY_CANNOT_BE_DERIVED)
        ue.suci_scheme = ident.protection_scheme
        self.ctx.count(f"suci_scheme_{ident.protection_scheme}")
        if self._suci_refused(ue, ident):
            return acts + self._reject(ue, CAUSE_PROTOCOL_ERROR)
        proc.name = "registration"
        return acts + self._start_auth(ue, proc, {"suci": ident.to_string()})

    # --- authentication (TS 24.501 §5.4.1.3, TS 33.501 §6.1.3.2) --------------------------

    def _start_auth(self, ue: UeContext, proc: Procedure, ident: dict[str, str]) -> list[Action]:
        proc.name = "auth_wait"
        proc.identity_for = ident.get("suci") or ident.get("supi")
        args = dict(ident)
        args["serving_network_name"] = self.cfg.serving_network_name
        return [SbiCall(ue, proc.token, "auth", args)]

    def _on_auth_vector(self, ue: UeContext, proc: Procedure, result: Any) -> list[Action]:
        if proc.name != "auth_wait":
            return []
        if isinstance(result, SbiFailure):
            self.ctx.count("auth_sbi_failure")
            log.info("event=auth_failed_at_ausf amf_ue_ngap_id=%d status=%d cause=%s",
                     ue.amf_ue_ngap_id, result.status, result.cause)
            if result.status in (403, 404):
                return self._reject(ue, CAUSE_ILLEGAL_UE if result.cause != "SERVING_NETWORK_NOT_AUTHORIZED"
                                    else CAUSE_PLMN_NOT_ALLOWED)
            return self._reject(ue, CAUSE_CONGESTION)
        if result.get("authType") == "EAP_AKA_PRIME":
            return self._send_eap_challenge(ue, proc, result, new_ksi=True)
        try:
            av = result["5gAuthData"]
            rand = bytes.fromhex(av["rand"])
            autn = bytes.fromhex(av["autn"])
            hxres = bytes.fromhex(av["hxresStar"])
            link = result["_links"]["5g-aka"]["href"]
        except (KeyError, TypeError, ValueError):
            self.ctx.count("auth_sbi_failure")
            return self._reject(ue, CAUSE_PROTOCOL_ERROR)
        proc.rand, proc.autn, proc.hxres_star, proc.auth_link = rand, autn, hxres, link
        proc.name = "auth"
        # TS 24.501 §5.4.1.3.2: a new ngKSI different from the current one
        proc.ngksi = ((ue.ngksi + 1) % 7) if ue.ngksi != 7 else 0
        pdu = nas_io.authentication_request(proc.ngksi, b"\x00\x00", rand, autn)
        return self._send_with_timer(ue, proc, pdu, "T3560")

    # --- EAP-AKA' (TS 24.501 §5.4.1.2, TS 33.501 §6.1.3.1) ------------------------------------

    def _send_eap_challenge(self, ue: UeContext, proc: Procedure, result: Any, new_ksi: bool) -> list[Action]:
        """Relay the AUSF's EAP-Request in an Authentication Request (EAP message IE)."""
        import base64
        import binascii

        try:
            pkt = base64.b64decode(result.get("5gAuthData") or result["eapPayload"], validate=True)
            link = result["_links"]["eap-session"]["href"]
        except (KeyError, TypeError, ValueError, binascii.Error):
            self.ctx.count("auth_sbi_failure")
            return self._reject(ue, CAUSE_PROTOCOL_ERROR)
        proc.auth_link = link
        proc.name = "auth_eap"
        if new_ksi:
            proc.ngksi = ((ue.ngksi + 1) % 7) if ue.ngksi != 7 else 0
        self.ctx.count("eap_challenge")
        pdu = nas_io.authentication_request(proc.ngksi, b"\x00\x00", None, None, eap=pkt)
        return self._send_with_timer(ue, proc, pdu, "T3560")

    def _on_eap_result(self, ue: UeContext, proc: Procedure, result: Any) -> list[Action]:
        """TS 29.509 §5.2.2.2.3: the AUSF's verdict on the UE's EAP-Response."""
        import base64
        import binascii

        if proc.name != "eap_wait":
            return []
        if isinstance(result, SbiFailure):
            self.ctx.count("auth_reject")
            return self._auth_reject(ue)
        verdict = result.get("authResult")
        if verdict == "AUTHENTICATION_ONGOING":
            return self._send_eap_challenge(ue, proc, result, new_ksi=False)
        try:
            eap_pkt = base64.b64decode(result.get("eapPayload") or "", validate=True) or None
        except (ValueError, binascii.Error):
            eap_pkt = None
        if verdict != "AUTHENTICATION_SUCCESS":
            self.ctx.count("auth_reject")
            return self._auth_reject(ue, eap_pkt)
        try:
            supi = result["supi"]
            kseaf = bytes.fromhex(result["kSeaf"])
        except (KeyError, TypeError, ValueError):
            return self._auth_reject(ue)
        proc.pending_nas = eap_pkt  # EAP-Success travels in the Security Mode Command
        return self._on_auth_confirmed(ue, proc, {"authResult": "AUTHENTICATION_SUCCESS", "supi": supi,
                                                   "kseaf": kseaf.hex()}, eap=True)

    def _on_auth_response(self, ue: UeContext, msg: Any) -> list[Action]:
        """TS 24.501 §5.4.1.3.4 / TS 33.501 §6.1.3.2.0 step 9-10: check HRES* against HXRES*."""
        import base64

        proc = ue.proc
        if proc is not None and proc.name == "auth_eap":
            if not msg.eap:
                return self._not_compatible(ue)
            proc.name = "eap_wait"
            proc.timer = None
            return [StopTimer(ue, "T3560"), SbiCall(ue, proc.token, "eap", {
                "href": proc.auth_link, "eap_payload": base64.b64encode(msg.eap).decode()})]
        if proc is None or proc.name != "auth" or proc.rand is None:
            return self._not_compatible(ue)
        acts: list[Action] = [StopTimer(ue, "T3560")]
        proc.timer = None
        res_star = msg.res_star
        if not res_star or kdf.hxres_star(proc.rand, res_star) != proc.hxres_star:
            self.ctx.count("auth_reject")
            return acts + self._auth_reject(ue)
        proc.name = "confirm_wait"
        return acts + [SbiCall(ue, proc.token, "confirm", {"href": proc.auth_link, "res_star": res_star.hex()})]

    def _on_auth_confirmed(self, ue: UeContext, proc: Procedure, result: Any, eap: bool = False) -> list[Action]:
        if proc.name != ("eap_wait" if eap else "confirm_wait"):
            return []
        if isinstance(result, SbiFailure) or result.get("authResult") != "AUTHENTICATION_SUCCESS":
            self.ctx.count("auth_reject")
            return self._auth_reject(ue)
        try:
            supi = result["supi"]
            kseaf = bytes.fromhex(result["kseaf"])
        except (KeyError, TypeError, ValueError):
            return self._auth_reject(ue)
        old = self.ctx.set_supi(ue, supi)
        if old is not None:
            # the subscriber's older context (e.g. an unknown-GUTI case) is superseded
            self.ctx.remove_ue(old)
        ue.kamf = kdf.kamf(kseaf, supi, b"\x00\x00")
        ue.ngksi = proc.ngksi
        self._observe("registration", ue, identity="suci", suci_scheme=ue.suci_scheme)
        return self._start_smc(ue, proc)

    def _on_auth_failure(self, ue: UeContext, msg: Any) -> list[Action]:
        """TS 24.501 §5.4.1.3.7: MAC failure -> reject; synch failure -> resync with AUTS."""
        proc = ue.proc
        if proc is None or proc.name != "auth":
            return self._not_compatible(ue)
        acts: list[Action] = [StopTimer(ue, "T3560")]
        proc.timer = None
        self.ctx.count(f"auth_failure_{msg.cause}")
        log.info("event=auth_failure amf_ue_ngap_id=%d cause=%d", ue.amf_ue_ngap_id, msg.cause)
        if msg.cause == CAUSE_SYNCH_FAILURE and msg.auts and not proc.resynced and proc.rand is not None:
            proc.resynced = True
            proc.name = "auth_wait"
            ident = proc.request.identity if proc.request is not None else None
            args: dict[str, Any] = {
                "serving_network_name": self.cfg.serving_network_name,
                "resync": {"rand": proc.rand.hex(), "auts": msg.auts.hex()},
            }
            if isinstance(ident, SuciIdentity):
                args["suci"] = ident.to_string()
            elif ue.supi is not None:
                args["supi"] = ue.supi
            elif proc.identity_for is not None:
                # the SUCI came in an Identity Response (the request named a 5G-GUTI)
                args["suci"] = proc.identity_for
            else:
                return acts + self._auth_reject(ue)
            self.ctx.count("auth_resync")
            return acts + [SbiCall(ue, proc.token, "auth", args)]
        return acts + self._auth_reject(ue)

    def _auth_reject(self, ue: UeContext, eap: bytes | None = None) -> list[Action]:
        """TS 24.501 §5.4.1.3.5: Authentication Reject (with EAP-Failure for EAP); UE deregistered."""
        ue.proc = None
        ue.state = GmmState.DEREGISTERED
        acts: list[Action] = [SendNas(ue, nas_io.authentication_reject(eap))]
        acts.append(self._release(ue))
        return acts

    # --- security mode control (TS 24.501 §5.4.2, TS 33.501 §6.7.2) --------------------------

    def _select_algorithms(self, cap_raw: Any, ue: UeContext | None = None) -> tuple[int, int] | None:
        """TS 33.501 §6.7.2: highest-priority configured algorithms the UE supports.

        Returns (enc, int) or None when no acceptable pair exists (NIA0 is never acceptable;
        NEA0 not through a gNB whose restricted profile forbids it).
        """
        no_nea0 = ue is not None and getattr(self._profile(ue), "forbid_nea0", False)
        if type(cap_raw) is UeSecurityCapability:
            # twice per registration (request, then SMC) and the same few capabilities for all UEs
            key = (cap_raw.nea, cap_raw.nia, no_nea0, self.cfg.integrity_order, self.cfg.ciphering_order)
            hit = self._alg_memo.get(key, _MISS)
            if hit is _MISS:
                if len(self._alg_memo) >= 256:
                    self._alg_memo.clear()
                hit = self._alg_memo[key] = self._pick_algorithms(cap_raw, no_nea0)
            return hit
        return self._pick_algorithms(cap_raw, no_nea0)

    def _pick_algorithms(self, cap_raw: Any, no_nea0: bool) -> tuple[int, int] | None:
        try:
            ea, ia = nas_io.ue_security_capability_sets(cap_raw)
        except NasInvalid:
            return None
        integ = next((a for a in self.cfg.integrity_order if a != 0 and a in ia), None)
        if integ is None:
            return None
        enc = next((a for a in self.cfg.ciphering_order if a in ea and not (a == 0 and no_nea0)), None)
        if enc is None:
            return None
        return enc, integ

    def _start_smc(self, ue: UeContext, proc: Procedure) -> list[Action]:
        cap = proc.ue_sec_cap_raw
        sel = self._select_algorithms(cap, ue) if cap is not None else None
        if sel is None or ue.kamf is None:
            return self._reject(ue, CAUSE_UE_SECURITY_CAPABILITIES_MISMATCH)
        enc, integ = sel
        new_sec = nas_io.new_security_context(ue.kamf, ue.ngksi, enc, integ)
        # RINMR: the initial message was not (verifiably) protected, so ask for all of it
        plain = nas_io.security_mode_command(integ, enc, ue.ngksi, cap, rinmr=True, eap=proc.pending_nas)
        proc.pending_nas = None
        pdu = nas_io.protect(new_sec, plain, new_context=True)
        proc.name = "smc"
        proc.new_sec, proc.enc_alg, proc.int_alg = new_sec, enc, integ
        return self._send_with_timer(ue, proc, pdu, "T3560", plain, "new")

    def _on_smc_complete(self, ue: UeContext, msg: Any, verified: bool) -> list[Action]:
        """TS 24.501 §5.4.2.4: security mode control completed by the UE."""
        proc = ue.proc
        if proc is None or proc.name != "smc" or not verified:
            return self._not_compatible(ue) if verified else []
        ue.sec = proc.new_sec
        ue.dl_ceiling = 0  # a new key: no COUNT of it is reserved on disk yet
        proc.new_sec = None
        ue.nr_enc_alg = proc.enc_alg
        ue.nr_int_alg = proc.int_alg
        ue.ue_sec_cap = proc.ue_sec_cap_raw
        self._observe("nas_security", ue, nea=ue.nr_enc_alg, nia=ue.nr_int_alg)
        acts: list[Action] = [StopTimer(ue, "T3560")]
        proc.timer = None
        if msg.container:
            try:
                full = nas_io.decode_uplink(msg.container)
            except NasInvalid as exc:
                self.ctx.count("nas_malformed")
                return acts + [SendNas(ue, self._protect(ue, nas_io.gmm_status(exc.cause)))]
            if full.message_type == "RegistrationRequest":
                proc.request = full
                proc.follow_on = full.follow_on
                if full.requested_nssai is not None:
                    proc.requested_nssai = full.requested_nssai
        return acts + self._after_security(ue, proc)

    def _on_smc_reject(self, ue: UeContext, msg: Any) -> list[Action]:
        proc = ue.proc
        if proc is None or proc.name != "smc":
            return self._not_compatible(ue)
        self.ctx.count("smc_reject")
        acts: list[Action] = [StopTimer(ue, "T3560")]
        return acts + self._reject(ue, CAUSE_SECURITY_MODE_REJECTED)

    # --- UDM and accept (TS 24.501 §5.5.1.2.4, TS 23.502 §4.2.2.2.2 steps 14-21) ---------------

    def _after_security(self, ue: UeContext, proc: Procedure) -> list[Action]:
        proc.name = "udm_wait"
        return [SbiCall(ue, proc.token, "udm_register", {"supi": ue.supi, "initial": proc.reg_type == 1})]

    def _on_udm_registered(self, ue: UeContext, proc: Procedure, result: Any) -> list[Action]:
        if proc.name != "udm_wait":
            return []
        if isinstance(result, SbiFailure):
            self.ctx.count("udm_failure")
            log.info("event=udm_failure amf_ue_ngap_id=%d status=%d cause=%s",
                     ue.amf_ue_ngap_id, result.status, result.cause)
            cause = CAUSE_5GS_SERVICES_NOT_ALLOWED if result.status in (403, 404) else CAUSE_CONGESTION
            return self._reject(ue, cause)
        ue.registered_with_udm = True
        subscribed = result.get("nssai") or []
        allowed = self._allowed_nssai(proc.requested_nssai, subscribed)
        if not allowed:
            return self._reject(ue, CAUSE_NO_NETWORK_SLICES_AVAILABLE)
        ue.allowed_nssai = tuple(allowed)
        ue.ue_ambr = subscribed_ue_ambr((result.get("am") or {}).get("subscribedUeAmbr"))
        tmsi = self.ctx.new_tmsi()
        proc.new_tmsi = tmsi
        cfg = self.cfg
        guti = Guti(cfg.mcc, cfg.mnc, cfg.region_id, cfg.set_id, cfg.pointer, tmsi)
        status = self._session_status(ue, proc.request)
        asked = self._reactivation_asked(proc)
        reactivate, failed = asked, None
        if asked is not None:
            # TS 24.501 §5.5.1.3.4 b: the result covers every PSI the UE asked for; one the AMF
            # holds no SM context for cannot come back (the session relay adds the ones whose
            # SMF refuses, once it has asked them)
            known = self.session_psis(ue) if self.session_psis is not None else frozenset()
            if ue.kgnb_sent:
                # on a connection that already has its AS context: the user planes come back
                # with PDU Session Resource Setup instead of Initial Context Setup
                self.ctx.count("registration_reactivation_connected")
            failed = asked - known
            if status is None and self.session_psis is not None:
                status = self.session_psis(ue)
        plain = nas_io.registration_accept(
            guti=guti,
            tais=[(cfg.mcc, cfg.mnc, tac) for tac in cfg.tacs],
            allowed_nssai=list(allowed),
            t3512=cfg.t3512,
            pdu_session_status=status,
            reactivation_failed=failed,
        )
        # reserve the new 5G-TMSI now so no other UE can be given it meanwhile
        self.ctx.by_tmsi[tmsi] = ue
        proc.name = "registration_accept"
        self._observe("guti", ue, reallocated=True)
        return self._send_protected_with_ics(ue, proc, plain, "T3550", reactivate)

    def _reactivation_asked(self, proc: Procedure) -> frozenset[int] | None:
        """TS 24.501 §5.5.1.3.4 / TS 23.502 §4.2.2.2.2: the PDU sessions a mobility or periodic
        registration update names in its Uplink data status IE, or None (no such IE, or an
        initial registration, which cannot ask for any: §5.5.1.2.2)."""
        if proc.reg_type not in (2, 3):
            return None
        psis = service_request_psis(proc.request)
        if not psis:
            return None
        self.ctx.count("registration_reactivation")
        return psis

    def reactivation_accept(self, ue: UeContext, registration: bool, status: frozenset[int],
                            failed: frozenset[int], causes: dict[int, int] | None = None) -> bytes | None:
        """The Registration Accept (TS 24.501 §5.5.1.3.4) or Service Accept (§5.6.1.4.1) of a
        request with Uplink data status, built again once the SMFs have answered: PDU session
        status, PDU session reactivation result and its error causes; protected with the
        current context. A Registration Accept's copy for T3550 is replaced, so a
        retransmission says the same. None when the registration is no longer waiting for
        its Registration Complete (it ended or was replaced meanwhile)."""
        proc = ue.proc
        if registration:
            if proc is None or proc.name != "registration_accept" or proc.last_plain is None:
                return None
            base = proc.last_plain
        else:
            base = nas_io.service_accept()
        plain = nas_io.with_reactivation_result(base, status, failed, causes)
        pdu = self._protect(ue, plain)
        if registration and proc is not None:
            proc.last_plain, proc.last_pdu = plain, pdu
        if failed:
            self.ctx.count("reactivation_result_failed")
        return pdu

    def _allowed_nssai(
        self, requested: list[tuple[int, int | None]] | None, subscribed: list[tuple[int, int | None]]
    ) -> list[tuple[int, int | None]]:
        """TS 23.501 §5.15.5.2.1: requested ∩ subscribed ∩ served (default slices if none asked)."""
        served = set(self.cfg.slices)
        subs = [s for s in subscribed if s in served]
        if not requested:
            return subs
        req = set(requested)
        allowed = [s for s in subs if s in req]
        return allowed or subs

    def _on_registration_complete(self, ue: UeContext) -> list[Action]:
        """TS 24.501 §5.5.1.2.4: Registration Complete — the new 5G-GUTI is in use."""
        proc = ue.proc
        if proc is None or proc.name != "registration_accept":
            return self._not_compatible(ue)
        acts: list[Action] = [StopTimer(ue, "T3550")]
        new_tmsi = proc.new_tmsi
        if new_tmsi is not None:
            self.ctx.set_tmsi(ue, new_tmsi)
        follow_on = proc.follow_on
        ue.proc = None
        ue.state = GmmState.REGISTERED
        self.ctx.embryonic.pop(ue.amf_ue_ngap_id, None)
        self.ctx.touch(ue)
        self.ctx.count("registered")
        if proc.reg_type in REG_TYPES_INITIAL:
            self.ctx.count("registered_initial")
        # TS 23.502 §4.2.2.2.2 step 21-22: the connection stays for a follow-on request and for
        # an update whose Uplink data status brought user planes back (the UE has data to send)
        reactivated = proc.reg_type in (2, 3) and bool(service_request_psis(proc.request))
        if not follow_on and not reactivated and self.cfg.release_after_registration and ue.gnb is not None:
            acts.append(self._release(ue))
        return acts

    def _reject(self, ue: UeContext, cause: int) -> list[Action]:
        """TS 24.501 §5.5.1.2.5: Registration Reject and release of the NG connection."""
        self.ctx.count("registration_reject")
        self.ctx.count(f"registration_reject_{cause}")
        if ue.proc is None or getattr(ue.proc, "reg_type", 1) in REG_TYPES_INITIAL:
            self.ctx.count("registration_reject_initial")
        log.info("event=registration_reject amf_ue_ngap_id=%d cause=%d", ue.amf_ue_ngap_id, cause)
        proc = ue.proc
        if proc is not None and proc.new_tmsi is not None and self.ctx.by_tmsi.get(proc.new_tmsi) is ue:
            del self.ctx.by_tmsi[proc.new_tmsi]
        ue.proc = None
        if ue.state != GmmState.REGISTERED:
            ue.state = GmmState.DEREGISTERED
        return [SendNas(ue, self._protect(ue, nas_io.registration_reject(cause))), self._release(ue)]

    # ======================================================================================
    # de-registration (TS 24.501 §5.5.2) and service request (§5.6.1)
    # ======================================================================================

    def _on_deregistration_request(self, ue: UeContext, msg: Any, verified: bool) -> list[Action]:
        """TS 24.501 §5.5.2.2: UE-initiated de-registration."""
        if ue.sec is not None and not verified:
            # a plain de-registration for a UE with a security context could come from anyone
            self.ctx.count("nas_unprotected_dropped")
            return []
        self.ctx.count("deregistration")
        acts: list[Action] = []
        if ue.proc is not None and ue.proc.timer is not None:
            acts.append(StopTimer(ue, ue.proc.timer))
        ue.proc = None
        was_registered = ue.state == GmmState.REGISTERED
        ue.state = GmmState.DEREGISTERED
        self.ctx.touch(ue)
        if not msg.switch_off:
            acts.append(SendNas(ue, self._protect(ue, nas_io.deregistration_accept())))
        if was_registered and ue.supi is not None:
            acts.append(SbiCall(ue, ue.proc_seq, "udm_deregister", {"supi": ue.supi}))
        acts.append(self._release(ue, ("nas", "deregister")))
        return acts

    def _on_deregistration_accept(self, ue: UeContext) -> list[Action]:
        proc = ue.proc
        if proc is None or proc.name != "deregistration_nw":
            return []
        ue.proc = None
        ue.state = GmmState.DEREGISTERED
        self.ctx.touch(ue)
        self.ctx.count("deregistration_nw")
        acts: list[Action] = [StopTimer(ue, "T3522")]
        if ue.supi is not None:
            acts.append(SbiCall(ue, ue.proc_seq, "udm_deregister", {"supi": ue.supi}))
        acts.append(self._release(ue, ("nas", "deregister")))
        return acts

    def _on_service_request(self, ue: UeContext, msg: Any, verified: bool) -> list[Action]:
        """TS 24.501 §5.6.1.4: Service Accept; the AS security comes with Initial Context Setup."""
        if not verified or ue.sec is None:
            return self._unverified_non_registration(ue, msg)
        if ue.state != GmmState.REGISTERED:
            self.ctx.count("service_reject")
            return [SendNas(ue, self._protect(ue, nas_io.service_reject(CAUSE_IMPLICITLY_DEREGISTERED))),
                    self._release(ue)]
        self.ctx.count("service_request")
        plain = nas_io.service_accept(self._session_status(ue, msg))
        pdu = self._protect(ue, plain)
        acts: list[Action]
        if not ue.kgnb_sent and ue.kamf is not None and ue.sec is not None:
            ue.kgnb_sent = True
            self._observe("kgnb", ue)
            acts = [SendIcs(ue, pdu, kdf.kgnb(ue.kamf, nas_io.uplink_count(ue.sec)), service_request_psis(msg))]
        else:
            acts = [SendNas(ue, pdu)]
        if ue.proc is not None and ue.proc.name == "paging":
            self.ctx.count("paging_answered")
            acts += self._paging_done(ue, ue.proc)
        elif ue.after_release is not None:
            acts += self._take_deferred(ue)
        return acts

    # ======================================================================================
    # helpers
    # ======================================================================================

    def _lookup_identity(self, ident: Any) -> UeContext | None:
        """A 5G-GUTI or 5G-S-TMSI we allocated (our PLMN, AMF set and pointer) -> UE context."""
        cfg = self.cfg
        if isinstance(ident, Guti):
            if ident.mcc != cfg.mcc or ident.mnc != cfg.mnc or ident.region_id != cfg.region_id:
                return None
        elif not isinstance(ident, STmsi):
            return None
        if ident.set_id != cfg.set_id or ident.pointer != cfg.pointer:
            return None
        ue = self.ctx.by_tmsi.get(ident.tmsi)
        if ue is not None and self.ctx.old_tmsi and ident.tmsi == ue.tmsi:
            self.ctx.drop_old_tmsi(ue)  # heard with the new 5G-TMSI: the old one is invalid now
        return ue

    def _protect(self, ue: UeContext, plain: bytes) -> bytes:
        """Integrity protect and cipher with the current context, if there is one.

        When the context's downlink COUNT comes near the one reserved on disk, the persistence
        hook reserves more first, so no COUNT is ever used twice under one key across a restart
        (TS 33.501 §6.4.3.1; scheme in :mod:`fivecore.nf.amf.persist`).
        """
        sec = ue.sec
        if sec is None:
            return plain
        if ue.dl_ceiling and sec.dl_count + DL_RESERVE_LOW >= ue.dl_ceiling and self.on_dl_ceiling is not None:
            self.on_dl_ceiling(ue)
        return nas_io.protect(sec, plain)

    def _send_with_timer(
        self, ue: UeContext, proc: Procedure, pdu: bytes, timer: str, plain: bytes | None = None, mode: str = "plain"
    ) -> list[Action]:
        proc.last_pdu = pdu
        proc.last_plain = plain
        proc.last_sec_mode = mode
        proc.retries = 0
        proc.timer = timer
        return [SendNas(ue, pdu), SetTimer(ue, timer, self._timer_value(timer), proc.token)]

    def _send_protected_with_ics(self, ue: UeContext, proc: Procedure, plain: bytes, timer: str,
                                 reactivate: frozenset[int] | None = None) -> list[Action]:
        pdu = self._protect(ue, plain)
        proc.last_pdu = pdu
        proc.last_plain = plain
        proc.last_sec_mode = "current" if ue.sec is not None else "plain"
        proc.retries = 0
        proc.timer = timer
        acts: list[Action]
        if not ue.kgnb_sent and ue.kamf is not None and ue.sec is not None:
            # TS 33.501 §6.9.2.1.1 / Annex A.9: KgNB from the uplink NAS COUNT just used
            ue.kgnb_sent = True
            self._observe("kgnb", ue)
            acts = [SendIcs(ue, pdu, kdf.kgnb(ue.kamf, nas_io.uplink_count(ue.sec)), reactivate,
                            registration=reactivate is not None)]
        elif reactivate:
            acts = [Reactivate(ue, pdu, reactivate)]
        else:
            acts = [SendNas(ue, pdu)]
        acts.append(SetTimer(ue, timer, self._timer_value(timer), proc.token))
        return acts

    def _timer_value(self, name: str) -> float:
        return float(getattr(self.cfg, name.lower()))

    def _not_compatible(self, ue: UeContext) -> list[Action]:
        """TS 24.501 §7.4: message not compatible with the protocol state -> 5GMM STATUS #98."""
        self.ctx.count("nas_unexpected")
        return [SendNas(ue, self._protect(ue, nas_io.gmm_status(CAUSE_MESSAGE_NOT_COMPATIBLE_WITH_STATE)))]

    def _release(self, ue: UeContext, cause: tuple[str, str] = ("nas", "normal-release")) -> ReleaseUe:
        return ReleaseUe(ue, cause)
