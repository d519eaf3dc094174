"""The simulated UE's NAS: 5GMM on the UE side (TS 24.501 §5), sans-I/O.

Mirrors :mod:`fivecore.nf.amf.gmm`: downlink NAS PDUs in, uplink NAS PDUs out. The gNB
simulator carries the PDUs over the (simulated) radio; nothing here touches a socket or a
clock, and there is no task per UE — ten thousand of these are plain objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from fivecore.ran import nas_io
from fivecore.ran.nas_io import Guti, NasInvalid
from fivecore.ran.usim import AkaMacFailure, AkaNon5gFailure, AkaSuccess, AkaSynchFailure, Usim
from fivecore.security import kdf
from fivecore.security.errors import NasSecurityError
from fivecore.wire import eap

log = logging.getLogger("fivecore.ran.ue")

CAUSE_MAC_FAILURE = 20
CAUSE_SYNCH_FAILURE = 21
CAUSE_UE_SECURITY_CAPABILITIES_MISMATCH = 23
CAUSE_SECURITY_MODE_REJECTED = 24
CAUSE_NON_5G_AUTHENTICATION_UNACCEPTABLE = 26
CAUSE_MESSAGE_NOT_COMPATIBLE = 98

#: the reactivation result of a UE with no failure: one shared (never mutated) empty dict, so
#: ten thousand simulated UEs do not carry one each
_NO_FAILURES: dict[int, int] = {}


class UeState(IntEnum):
    """TS 24.501 §5.1.3.2.1: the UE's main 5GMM states (sub-states folded in)."""

    DEREGISTERED = 0
    REGISTERED_INITIATED = 1
    REGISTERED = 2
    DEREGISTERED_INITIATED = 3
    SERVICE_REQUEST_INITIATED = 4


@dataclass(slots=True, frozen=True)
class UeProfile:
    """What a group of UEs shares: serving PLMN, slices, DNN and algorithm capabilities.

    Shared by reference so per-UE memory stays small.
    """

    mcc: str = "001"
    mnc: str = "01"
    slices: tuple[tuple[int, int | None], ...] = ((1, None),)
    dnn: str = "internet"
    nea: tuple[int, ...] = (0, 1, 2, 3)
    nia: tuple[int, ...] = (1, 2, 3)
    imeisv: str = "4370816125816151"

    @property
    def serving_network_name(self) -> str:
        return kdf.serving_network_name(self.mcc, self.mnc)


class Ue:
    """One UE's NAS entity. Call :meth:`register`, then feed :meth:`on_downlink`.

    Each call returns the uplink NAS PDUs to send. ``state`` and ``last_cause`` tell the
    application what happened; ``connected`` follows the (simulated) RRC connection.
    """

    __slots__ = (
        "usim",
        "profile",
        "state",
        "guti",
        "sec",
        "kamf",
        "ngksi",
        "new_kamf",
        "new_ngksi",
        "allowed_nssai",
        "tais",
        "t3512",
        "last_cause",
        "t3346",
        "full_request",
        "initial_cleartext_only",
        "secure_exchange",
        "connected",
        "last_ul_count",
        "stats",
        "nas_status_received",
        "suci_scheme_sent",
        "sm",
        "reregister",
        "identity_asked",
        "uplink_pending",
        "reactivation_failed",
    )

    def __init__(self, usim: Usim, profile: UeProfile) -> None:
        self.usim = usim
        self.profile = profile
        self.state = UeState.DEREGISTERED
        self.guti: Guti | None = None
        self.sec: Any = None
        self.kamf: bytes | None = None
        self.ngksi = 7
        self.new_kamf: bytes | None = None
        self.new_ngksi = 7
        self.allowed_nssai: tuple[tuple[int, int | None], ...] = ()
        self.tais: tuple[Any, ...] = ()
        self.t3512: int | None = None
        #: last 5GMM cause received (reject) or sent (auth failure), for tests and the CLI
        self.last_cause: int | None = None
        #: TS 24.501 §5.3.9: back-off (s) the network asked for with a #22 reject; the
        #: application must not start a registration or service request before it runs out
        self.t3346: int | None = None
        self.full_request: bytes | None = None
        #: the last initial message went out with the cleartext IEs only (TS 24.501 §4.4.6 b)
        self.initial_cleartext_only = False
        #: TS 24.501 §4.4.2.5: the network has shown it holds our context on this connection
        #: (a verified protected downlink message, or a Security Mode Command taken into use);
        #: until then uplink messages are integrity protected only, so an AMF without the
        #: context can still read the ones §4.4.4.3 lets it process
        self.secure_exchange = False
        self.connected = False
        self.last_ul_count = 0
        self.stats: dict[str, int] | None = None
        self.nas_status_received = 0
        self.suci_scheme_sent: int | None = None
        #: the UE's 5GSM entity (issue 7: fivecore.ran.userplane.UeSm), None = no sessions
        self.sm: Any = None
        #: TS 24.501 §5.6.1.5 / §5.5.1.3.5 (#9, #10): the network lost this UE; it is in
        #: 5GMM-DEREGISTERED without a 5G-GUTI and must "subsequently, automatically initiate
        #: the initial registration procedure" -- the application (RanSim) does, and clears it
        self.reregister = False
        #: this registration used a 5G-GUTI the network could not resolve: it asked for the
        #: SUCI (TS 24.501 §5.4.3), so it holds no context, and no PDU sessions, of this UE
        self.identity_asked = False
        #: PDU sessions with uplink user data waiting for their user plane (the application
        #: says which): a mobility / periodic registration update names them in its Uplink data
        #: status (TS 24.501 §5.5.1.3.2), the Registration Accept answers for them
        self.uplink_pending: frozenset[int] = frozenset()
        #: the last Registration / Service Accept's PDU session reactivation result: PSI -> the
        #: 5GMM cause of its error cause IE (0 when it gave none) for each session whose user
        #: plane did not come back
        self.reactivation_failed: dict[int, int] = _NO_FAILURES

    @property
    def supi(self) -> str:
        return self.usim.supi

    # --- procedures the user starts --------------------------------------------------------

    def register(self, reg_type: int = 1, follow_on: bool = False) -> bytes:
        """TS 24.501 §5.5.1.2.2: the initial NAS message of a registration.

        With a valid 5G NAS security context the whole message is integrity protected and
        the 5G-GUTI identifies the UE. Without one, only the cleartext IEs go out
        (TS 24.501 §4.4.6) and the full message follows in Security Mode Complete.
        """
        p = self.profile
        self.state = UeState.REGISTERED_INITIATED
        self.last_cause = None
        self.identity_asked = False
        have_ctx = self.sec is not None and self.guti is not None
        if self.guti is not None:
            identity: Any = self.guti
        else:
            identity = nas_io.suci_identity(self.usim)
            self.suci_scheme_sent = self.usim.protection_scheme
        ngksi = self.ngksi if have_ctx else 7
        if have_ctx:
            # TS 24.501 §5.5.1.3.2: a mobility / periodic update says which PDU sessions the
            # UE has; the AMF answers with its own and releases what the UE no longer has. From
            # CM-IDLE it also names those with uplink data pending (Uplink data status): their
            # user planes come back with the Registration Accept, no Service Request needed
            status = frozenset(self.sm.sessions) if reg_type in (2, 3) and self.sm is not None else None
            uplink = self.uplink_pending & status if status and not self.connected else None
            full = nas_io.registration_request(
                reg_type, follow_on, ngksi, identity, p.nea, p.nia, requested_nssai=list(p.slices),
                pdu_session_status=status, uplink_data_status=uplink,
            )
            cleartext = None
        else:
            full, cleartext = nas_io.registration_request_pair(
                reg_type, follow_on, ngksi, identity, p.nea, p.nia, list(p.slices))
        self.full_request = full
        self.initial_cleartext_only = not have_ctx
        if not self.connected:
            self.secure_exchange = False
        if have_ctx:
            if self.connected:
                # not an initial message: the existing connection ciphers all of it
                return self._protect(full, 2)
            # TS 24.501 §4.4.6 a): cleartext IEs outside, the whole message ciphered inside
            container = nas_io.cipher_initial_container(self.sec, self.kamf, full)
            outer = nas_io.registration_request(reg_type, follow_on, ngksi, identity, p.nea, p.nia,
                                                nas_message_container=container)
            return self._protect(outer, 1)
        assert cleartext is not None
        return cleartext

    def deregister(self, switch_off: bool = False) -> bytes:
        """TS 24.501 §5.5.2.2.1: UE-initiated de-registration (3GPP access)."""
        ident: Any = self.guti if self.guti is not None else nas_io.suci_identity(self.usim)
        plain = nas_io.deregistration_request(switch_off, self.ngksi if self.sec else 7, ident)
        if not self.connected:
            self.secure_exchange = False
        self.state = UeState.DEREGISTERED if switch_off else UeState.DEREGISTERED_INITIATED
        if self.sec is None:
            return plain
        return self._protect(plain, 2 if self.connected else 1)

    def service_request(self, service_type: int = 0, uplink_data: frozenset[int] | None = None) -> bytes:
        """TS 24.501 §5.6.1.2: Service Request from CM-IDLE, identified by the 5G-S-TMSI;
        ``uplink_data`` names the PDU sessions whose user plane the UE wants back
        (§5.6.1.2 b: Uplink data status), with the PDU session status of all of them."""
        if self.guti is None or self.sec is None:
            raise RuntimeError("service request needs a 5G-GUTI and a security context")
        self.state = UeState.SERVICE_REQUEST_INITIATED
        self.last_cause = None
        active = frozenset(self.sm.sessions) if self.sm is not None else None
        plain = nas_io.service_request(self.ngksi, service_type, self.guti, uplink_data, active)
        self.full_request = plain  # for a Security Mode Command asking for it (RINMR)
        self.initial_cleartext_only = False
        self.secure_exchange = False
        if uplink_data or active is not None:
            # TS 24.501 §4.4.6: non-cleartext IEs travel only inside the ciphered container
            container = nas_io.cipher_initial_container(self.sec, self.kamf, plain)
            plain = nas_io.service_request(self.ngksi, service_type, self.guti, nas_message_container=container)
        return self._protect(plain, 1)

    def kgnb(self) -> bytes | None:
        """TS 33.501 Annex A.9: KgNB from the uplink NAS COUNT of the last uplink message."""
        if self.kamf is None:
            return None
        return kdf.kgnb(self.kamf, self.last_ul_count)

    def forget_security(self) -> None:
        """Drop the 5G NAS security context and GUTI (e.g. after Authentication Reject)."""
        self.sec = None
        self.kamf = None
        self.ngksi = 7
        self.guti = None

    # --- downlink ---------------------------------------------------------------------------

    def on_downlink(self, pdu: bytes) -> list[bytes]:
        """Handle one downlink NAS PDU; returns the uplink PDUs to send back."""
        try:
            sht, inner = nas_io.split_security_header(pdu)
        except NasInvalid:
            self._count("dl_malformed")
            return []
        if sht == 0:
            plain = inner if inner is not None else pdu
            try:
                msg = nas_io.decode_downlink(plain)
            except NasInvalid:
                self._count("dl_malformed")
                return []
            if self.sec is not None and msg.message_type not in nas_io.DL_UNPROTECTED_OK:
                # TS 24.501 §4.4.4.2: discard what must be protected
                self._count("dl_unprotected_dropped")
                return []
            return self._dispatch(msg, sht)
        if sht == 3:
            # Security Mode Command, protected with the new context it establishes
            return self._on_new_context_message(pdu, inner)
        if self.sec is None:
            self._count("dl_unverifiable")
            return []
        try:
            plain = nas_io.unprotect(self.sec, pdu)
            msg = nas_io.decode_downlink(plain)
        except (NasSecurityError, NasInvalid):
            self._count("dl_bad_mac")
            return []
        self.secure_exchange = True
        return self._dispatch(msg, sht)

    def _dispatch(self, msg: Any, sht: int) -> list[bytes]:
        t = msg.message_type
        handler = _HANDLERS.get(t)
        if handler is None:
            self._count("dl_unexpected")
            return []
        return handler(self, msg)

    # --- authentication (TS 24.501 §5.4.1.3.3, TS 33.501 §6.1.3.2) ---------------------------

    def _on_authentication_request(self, msg: Any) -> list[bytes]:
        if msg.eap is not None:
            return self._on_eap_request(msg)
        if msg.rand is None or msg.autn is None:
            return [self._maybe_protect(nas_io.gmm_status(96))]
        result = self.usim.authenticate(msg.rand, msg.autn)
        if isinstance(result, AkaSuccess):
            snn = self.profile.serving_network_name
            res_star = kdf.res_star(result.ck, result.ik, snn, msg.rand, result.res)
            kausf = kdf.kausf(result.ck, result.ik, snn, result.sqn_xor_ak)
            kseaf = kdf.kseaf(kausf, snn)
            self.new_kamf = kdf.kamf(kseaf, self.usim.supi, msg.abba or b"\x00\x00")
            self.new_ngksi = msg.ngksi
            return [self._maybe_protect(nas_io.authentication_response(res_star))]
        if isinstance(result, AkaSynchFailure):
            self.last_cause = CAUSE_SYNCH_FAILURE
            self._count("synch_failure_sent")
            return [self._maybe_protect(nas_io.authentication_failure(CAUSE_SYNCH_FAILURE, result.auts))]
        if isinstance(result, AkaNon5gFailure):
            self.last_cause = CAUSE_NON_5G_AUTHENTICATION_UNACCEPTABLE
            return [self._maybe_protect(nas_io.authentication_failure(CAUSE_NON_5G_AUTHENTICATION_UNACCEPTABLE))]
        assert isinstance(result, AkaMacFailure)
        self.last_cause = CAUSE_MAC_FAILURE
        self._count("mac_failure_sent")
        return [self._maybe_protect(nas_io.authentication_failure(CAUSE_MAC_FAILURE))]

    def _on_eap_request(self, msg: Any) -> list[bytes]:
        """TS 33.501 §6.1.3.1 / RFC 9048: EAP-AKA' challenge inside the Authentication Request."""
        try:
            pkt = eap.parse(msg.eap)
            ch = eap.challenge_of(pkt)
        except eap.EapError:
            self._count("eap_malformed")
            return []
        result = self.usim.authenticate(ch.rand, ch.autn)
        if isinstance(result, AkaSuccess):
            ck_p, ik_p = kdf.ck_ik_prime(result.ck, result.ik, ch.network_name, result.sqn_xor_ak)
            keys = kdf.eap_aka_prime_keys(ik_p, ck_p, self.usim.supi)
            if not eap.verify_mac(pkt, keys.k_aut):
                self._count("eap_bad_mac")
                return [self._maybe_protect(nas_io.authentication_response_eap(eap.build_auth_reject(ch.identifier)))]
            snn = self.profile.serving_network_name
            kseaf = kdf.kseaf(kdf.kausf_from_emsk(keys.emsk), snn)
            self.new_kamf = kdf.kamf(kseaf, self.usim.supi, msg.abba or b"\x00\x00")
            self.new_ngksi = msg.ngksi
            self._count("eap_challenge_answered")
            resp = eap.build_response(ch.identifier, result.res, keys.k_aut)
            return [self._maybe_protect(nas_io.authentication_response_eap(resp))]
        if isinstance(result, AkaSynchFailure):
            self.last_cause = CAUSE_SYNCH_FAILURE
            self._count("synch_failure_sent")
            return [self._maybe_protect(nas_io.authentication_response_eap(eap.build_sync_failure(ch.identifier, result.auts)))]
        self.last_cause = CAUSE_MAC_FAILURE
        self._count("mac_failure_sent")
        return [self._maybe_protect(nas_io.authentication_response_eap(eap.build_auth_reject(ch.identifier)))]

    def _on_authentication_result(self, msg: Any) -> list[bytes]:
        """TS 24.501 §5.4.1.2.2.8: EAP-Success / EAP-Failure outside a Security Mode Command."""
        if msg.eap is not None and msg.eap[:1] == bytes((eap.CODE_FAILURE,)):
            self.new_kamf = None
        return []

    def _on_authentication_reject(self, msg: Any) -> list[bytes]:
        """TS 24.501 §5.4.1.3.5: the USIM is considered invalid; delete GUTI and keys."""
        self.state = UeState.DEREGISTERED
        self.forget_security()
        self._count("authentication_reject")
        return []

    # --- security mode control (TS 24.501 §5.4.2.3) ------------------------------------------

    def _on_new_context_message(self, pdu: bytes, inner: bytes | None) -> list[bytes]:
        if inner is None:
            return []
        try:
            msg = nas_io.decode_downlink(inner)
        except NasInvalid:
            self._count("dl_malformed")
            return []
        if msg.message_type != "SecurityModeCommand":
            self._count("dl_unexpected")
            return []
        kamf = self.new_kamf if msg.ngksi == self.new_ngksi and self.new_kamf else None
        if kamf is None and msg.ngksi == self.ngksi:
            kamf = self.kamf
        if kamf is None:
            return [nas_io.security_mode_reject(CAUSE_SECURITY_MODE_REJECTED)]
        if msg.integrity == 0:
            # TS 33.501 §5.5.2: NIA0 only for emergency sessions, never here
            return [nas_io.security_mode_reject(CAUSE_SECURITY_MODE_REJECTED)]
        p = self.profile
        if msg.replayed_nea != tuple(sorted(p.nea)) or msg.replayed_nia != tuple(sorted(p.nia)):
            # TS 33.501 §6.7.2: bidding-down check of the replayed capabilities
            self._count("smc_bidding_down")
            return [nas_io.security_mode_reject(CAUSE_UE_SECURITY_CAPABILITIES_MISMATCH)]
        try:
            sec = nas_io.new_security_context(kamf, msg.ngksi, msg.ciphering, msg.integrity)
            nas_io.unprotect(sec, pdu)
        except (NasSecurityError, NasInvalid):
            self._count("dl_bad_mac")
            return [nas_io.security_mode_reject(CAUSE_SECURITY_MODE_REJECTED)]
        self.sec = sec
        self.kamf = kamf
        self.ngksi = msg.ngksi
        self.new_kamf = None
        self.secure_exchange = True
        # TS 24.501 §5.4.2.3 / §4.4.6: the whole initial message when the network asks (RINMR)
        # or when only its cleartext IEs went out
        container = self.full_request if (msg.rinmr or self.initial_cleartext_only) else None
        imeisv = self.profile.imeisv if msg.imeisv_requested else None
        plain = nas_io.security_mode_complete(container, imeisv)
        return [self._protect(plain, 4)]

    # --- identity (TS 24.501 §5.4.3.3) --------------------------------------------------------

    def _on_identity_request(self, msg: Any) -> list[bytes]:
        if msg.identity_type == 1:
            suci = nas_io.suci_identity(self.usim)
            self.suci_scheme_sent = self.usim.protection_scheme
            # a 5G-GUTI the network no longer knows is useless from now on
            if self.guti is not None and self.state == UeState.REGISTERED_INITIATED:
                self.identity_asked = True
            self.guti = None
            return [self._maybe_protect(nas_io.identity_response_suci(suci))]
        return [self._maybe_protect(nas_io.gmm_status(CAUSE_MESSAGE_NOT_COMPATIBLE))]

    # --- registration result (TS 24.501 §5.5.1.2.4/.5) -----------------------------------------

    def _on_registration_accept(self, msg: Any) -> list[bytes]:
        if self.state != UeState.REGISTERED_INITIATED and self.state != UeState.REGISTERED:
            return [self._maybe_protect(nas_io.gmm_status(CAUSE_MESSAGE_NOT_COMPATIBLE))]
        if msg.guti is not None:
            self.guti = msg.guti
        self.allowed_nssai = tuple(msg.allowed_nssai or ())
        self.tais = tuple(msg.tais or ())
        self.t3512 = msg.t3512
        self.state = UeState.REGISTERED
        self.full_request = None
        self._reactivation_result(msg)
        sm = self.sm
        if sm is not None and sm.sessions:
            self._sync_sessions(msg.pdu_session_status)
        self._count("registered")
        return [self._protect(nas_io.registration_complete()), *self._resend_pending()]

    def _resend_pending(self) -> list[bytes]:
        """The UE has a NAS signalling connection again (a Service Accept, or the Registration
        Accept of an update from idle): a UE-requested PDU session modification or release
        still pending from before is sent again, the same message with the same PTI, as on
        T3581 / T3582 expiry (TS 24.501 §6.4.2.5 a, §6.4.3.5 a). Its UL NAS Transport may
        have been lost with the old connection (``UeSm.pending_requests``)."""
        again = self.sm.pending_requests() if self.sm is not None else []
        if again:
            self._count("sm_request_resent")
        return [self.ul_sm(m, psi) for psi, m in again]

    def _reactivation_result(self, msg: Any) -> None:
        """TS 24.501 §5.5.1.3.4 / §5.6.1.4.1: what came of the Uplink data status. The user
        planes of the sessions not flagged are being set up with this very connection (the
        gNB's Initial Context Setup); a flagged one that the network still holds stays in the
        UE without a user plane (NOTE 14: when to ask again is up to the UE), one it does not
        hold is released by the PDU session status."""
        asked, self.uplink_pending = self.uplink_pending, frozenset()
        failed = msg.reactivation_failed or frozenset()
        self.reactivation_failed = {p: msg.reactivation_causes.get(p, 0) for p in failed} if failed else _NO_FAILURES
        if not asked:
            return
        self._count("reactivation_requested")
        if failed & asked:
            self._count("reactivation_failed")

    def _sync_sessions(self, status: frozenset[int] | None) -> None:
        """TS 24.501 §5.5.1.3.4: release locally the PDU sessions the Registration Accept's
        PDU session status shows inactive in the network. Without the IE, a registration the
        network could only complete after asking for the SUCI (it had lost the UE, e.g. a
        restarted AMF) leaves the UE no session either. Either way the simulated UE's
        always-on applications ask for the sessions that were up again (``UeSm.to_restore``),
        as after a Service Accept that names them inactive."""
        lost = self.identity_asked
        if status is None and not lost:
            return
        self.identity_asked = False
        self.sm.local_release(0, status or frozenset(), restore=True)
        if lost:
            self._count("network_lost_context")

    def _on_registration_reject(self, msg: Any) -> list[bytes]:
        """TS 24.501 §5.5.1.2.5 (initial) / §5.5.1.3.5 (mobility and periodic update)."""
        self.state = UeState.DEREGISTERED
        self.last_cause = msg.cause
        self.t3346 = msg.t3346 if msg.cause == 22 else None
        self.full_request = None
        self.uplink_pending = frozenset()
        had_guti = self.guti is not None
        if msg.cause in (3, 6, 7, 9, 10):
            # TS 24.501 §5.5.1.2.5: these causes invalidate the 5G-GUTI and the NAS context
            self.forget_security()
        if msg.cause in (9, 10) and had_guti:
            # §5.5.1.3.5: the network cannot derive (or has dropped) the UE's identity: local
            # release of the PDU sessions, then a new initial registration with the SUCI.
            # Only after a request with a 5G-GUTI: a SUCI registration rejected so is final.
            self._network_lost_context(msg.cause)
        self._count("registration_reject")
        return []

    def _network_lost_context(self, cause: int) -> None:
        """TS 24.501 §5.6.1.5 / §5.5.1.3.5 causes #9 and #10: 5GMM-DEREGISTERED, PDU sessions
        released locally (the 5GSM entity remembers which, see ``UeSm.local_release``), and a
        new initial registration owed (``reregister``)."""
        self.reregister = True
        self._count("network_lost_context")
        if self.sm is not None:
            self.sm.local_release(cause)

    # --- de-registration and service (TS 24.501 §5.5.2, §5.6.1) ---------------------------------

    def _on_deregistration_accept(self, msg: Any) -> list[bytes]:
        self.state = UeState.DEREGISTERED
        self._count("deregistered")
        return []

    def _on_deregistration_request_nw(self, msg: Any) -> list[bytes]:
        self.state = UeState.DEREGISTERED
        self.last_cause = msg.cause
        self._count("deregistered_by_network")
        return [self._protect(nas_io.deregistration_accept_nw())]

    def _on_service_accept(self, msg: Any) -> list[bytes]:
        """TS 24.501 §5.6.1.4: accepted; sessions the PDU session status IE shows inactive in
        the network are released locally. Those that were up are asked for again
        (``UeSm.to_restore``), as after #9/#10: the simulated UE's applications are always-on,
        and an AMF that kept the UE across a restart may answer for an SMF that did not keep
        its sessions.

        A UE-requested PDU session modification or release still pending from before is sent
        again on the new connection (:meth:`_resend_pending`). Its UL NAS Transport may have
        been lost with the old connection -- e.g. carried by a gNB the AMF no longer knew for
        this UE after a Path Switch, which the AMF answers with an Error Indication only --
        and without it the session would stay MODIFICATION / INACTIVE PENDING for good, as
        this simulator runs no 5GSM timers. The session's user plane itself comes
        back with the Service Accept's Initial Context Setup whatever that procedure's state
        (§5.6.1.4.1; ``UeSession.established``)."""
        self.state = UeState.REGISTERED
        self.full_request = None
        failed = msg.reactivation_failed or frozenset()
        self.reactivation_failed = {p: msg.reactivation_causes.get(p, 0) for p in failed} if failed else _NO_FAILURES
        status = msg.pdu_session_status
        sm = self.sm
        if status is not None and sm is not None and sm.sessions:
            sm.local_release(0, status, restore=True)
        self._count("service_accept")
        return self._resend_pending()

    def _on_service_reject(self, msg: Any) -> list[bytes]:
        """TS 24.501 §5.6.1.5: #9 "UE identity cannot be derived by the network" and #10
        "implicitly de-registered": delete the 5G-GUTI and the NAS security context, enter
        5GMM-DEREGISTERED, release the PDU sessions locally and register again (initial
        registration, with the SUCI). Other causes leave the UE registered."""
        self.full_request = None
        self.last_cause = msg.cause
        self.t3346 = msg.t3346 if msg.cause == 22 else None
        self.state = UeState.DEREGISTERED if msg.cause in (9, 10) else UeState.REGISTERED
        if msg.cause in (9, 10):
            self.forget_security()
            self._network_lost_context(msg.cause)
        self._count("service_reject")
        return []

    def _on_gmm_status(self, msg: Any) -> list[bytes]:
        self.nas_status_received += 1
        self.last_cause = msg.cause
        return []

    def _on_configuration_update_command(self, msg: Any) -> list[bytes]:
        if msg.guti is not None:
            self.guti = msg.guti
        return [self._protect(nas_io.configuration_update_complete())] if msg.ack_requested else []

    # --- 5GSM transport (TS 24.501 §5.4.5; issue 7, the 5GSM entity lives in ran.userplane) ---

    def ul_sm(self, sm_pdu: bytes, psi: int, request_type: int | None = None, dnn: str | None = None,
              snssai: tuple[int, int | None] | None = None) -> bytes:
        """TS 24.501 §5.4.5.2.2: an N1 SM message in UL NAS Transport, protected."""
        return self._protect(nas_io.ul_nas_transport(sm_pdu, psi, request_type, dnn, snssai))

    def _on_dl_nas_transport(self, msg: Any) -> list[bytes]:
        """TS 24.501 §5.4.5.3.3: hand the N1 SM payload to the 5GSM entity."""
        if msg.payload_container_type != 1 or self.sm is None or msg.payload_container is None:
            self._count("dl_transport_dropped")
            return []
        ups = self.sm.on_downlink(msg.pdu_session_id, msg.payload_container, msg.cause)
        return [self.ul_sm(sm, psi) for psi, sm in ups]

    # --- helpers ------------------------------------------------------------------------------

    def _protect(self, plain: bytes, sht: int = 2) -> bytes:
        pdu, count = nas_io.protect_uplink(self.sec, plain, sht)
        self.last_ul_count = count
        return pdu

    def _maybe_protect(self, plain: bytes) -> bytes:
        if self.sec is None:
            return plain
        return self._protect(plain, 2 if self.secure_exchange else 1)

    def _count(self, key: str) -> None:
        if self.stats is not None:
            self.stats[key] = self.stats.get(key, 0) + 1


_HANDLERS = {
    "AuthenticationRequest": Ue._on_authentication_request,
    "AuthenticationReject": Ue._on_authentication_reject,
    "AuthenticationResult": Ue._on_authentication_result,
    "IdentityRequest": Ue._on_identity_request,
    "RegistrationAccept": Ue._on_registration_accept,
    "RegistrationReject": Ue._on_registration_reject,
    "DeregistrationAcceptUEOriginating": Ue._on_deregistration_accept,
    "DeregistrationRequestUETerminated": Ue._on_deregistration_request_nw,
    "ServiceAccept": Ue._on_service_accept,
    "ServiceReject": Ue._on_service_reject,
    "5GMMStatus": Ue._on_gmm_status,
    "ConfigurationUpdateCommand": Ue._on_configuration_update_command,
    "DLNASTransport": Ue._on_dl_nas_transport,
}
