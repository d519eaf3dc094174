"""NGAP on the AMF side (TS 38.413 §8), sans-I/O: bytes from a gNB in, actions out.

Every byte from a gNB is hostile until decoded and checked (ARCHITECTURE.md, trust
boundaries): a PDU that does not decode gets an Error Indication with a protocol cause; a
UE-associated message whose AMF/RAN UE NGAP IDs do not name a UE of *this* gNB gets an Error
Indication with "unknown local UE NGAP ID"; neither ever touches another UE's state.

:meth:`AmfNgap.on_message` returns :class:`NgapSend` actions for the association plus the 5GMM
actions the application carries out (:class:`fivecore.nf.amf.gmm.SbiCall`, timers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from fivecore.nf.amf.context import GnbContext, GnbState, UeContext
from fivecore.nf.amf.gmm import (
    Action,
    Congested,
    Gmm,
    Page,
    Reactivate,
    ReleaseUe,
    SendIcs,
    SendNas,
)
from fivecore.nf.amf.nas_io import STmsi, ue_security_capability_sets, uplink_count
from fivecore.security import kdf
from fivecore.wire import ngap
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.ngap import NgapPdu

log = logging.getLogger("fivecore.amf.ngap")

#: TS 38.413 §9.3.3.1 / §9.3.3.2 ranges
AMF_UE_NGAP_ID_MAX = (1 << 40) - 1
RAN_UE_NGAP_ID_MAX = (1 << 32) - 1


class NgapSend(NamedTuple):
    """Send ``data`` to the gNB on SCTP ``stream`` (PPID 60)."""

    gnb: GnbContext
    stream: int
    data: bytes


class CloseAssociation(NamedTuple):
    gnb: GnbContext
    reason: str


class ProbeAssociation(NamedTuple):
    """Check that ``gnb``'s peer still answers (RFC 9260 §8.3); abort the association if not."""

    gnb: GnbContext


@dataclass(slots=True)
class NgapConfig:
    """What NGAP needs from the AMF configuration (TS 38.413 §9.2.6.2 NG Setup Response)."""

    amf_name: str = "fivecore-amf"
    plmn: str = "00101"
    region_id: int = 2
    set_id: int = 1
    pointer: int = 0
    tacs: tuple[int, ...] = (1,)
    slices: tuple[tuple[int, int | None], ...] = ((1, None),)
    relative_capacity: int = 255
    #: UE contexts one gNB may hold (a hostile gNB must not exhaust the AMF's memory)
    max_ues_per_gnb: int = 131072
    #: GUAMIs served besides the AMF's own (e.g. a failed peer's, TS 23.501 §5.21.2.2),
    #: announced by AMF Configuration Update
    extra_guamis: tuple[tuple[str, int, int, int], ...] = ()

    def served_guamis(self) -> list[tuple[str, int, int, int]]:
        """TS 38.413 §9.3.3.x Served GUAMI List: our own GUAMI first."""
        return [(self.plmn, self.region_id, self.set_id, self.pointer), *self.extra_guamis]


#: AMF-initiated UE Context Modifications awaiting an answer, at most this many (older ones are
#: forgotten: a gNB that never answers must not grow the AMF)
UCM_PENDING_MAX = 65536


#: a policy hook (issue 10): gnb -> None to accept, or an NGAP cause (group, value) to refuse
GnbPolicy = Callable[[GnbContext], tuple[str, str] | None]


class AmfNgap:
    """NGAP procedures of the AMF (TS 38.413 §8.2-8.7) over :class:`Gmm`."""

    def __init__(self, cfg: NgapConfig, gmm: Gmm, policy: GnbPolicy | None = None) -> None:
        self.cfg = cfg
        self.gmm = gmm
        self.ctx = gmm.ctx
        self.policy = policy
        #: the session relay (sessions.py) takes over an ICS answering a Service Request when it
        #: has user planes to reactivate or downlink to deliver; returns True if it did
        self.on_service_ics: Callable[[SendIcs], bool] | None = None
        #: ... and a Registration Accept with user planes to bring back on a connection that
        #: has its AS context (gmm.Reactivate); returns True if it took it
        self.on_reactivate: Callable[[Reactivate], bool] | None = None
        self._handlers: dict[tuple[str, str], Callable[[GnbContext, NgapPdu], list[Any]]] = {
            ("NGSetup", "initiating"): self._ng_setup,
            ("InitialUEMessage", "initiating"): self._initial_ue_message,
            ("UplinkNASTransport", "initiating"): self._uplink_nas_transport,
            ("InitialContextSetup", "successful"): self._ics_response,
            ("InitialContextSetup", "unsuccessful"): self._ics_failure,
            ("UEContextReleaseRequest", "initiating"): self._release_request,
            ("UEContextRelease", "successful"): self._release_complete,
            ("ErrorIndication", "initiating"): self._error_indication,
            ("NGReset", "initiating"): self._ng_reset,
            ("NGReset", "successful"): self._ignore,
            ("NASNonDeliveryIndication", "initiating"): self._nas_non_delivery,
            ("RANConfigurationUpdate", "initiating"): self._ran_configuration_update,
            ("AMFConfigurationUpdate", "successful"): self._amf_config_update_ack,
            ("AMFConfigurationUpdate", "unsuccessful"): self._amf_config_update_failure,
            ("UEContextModification", "successful"): self._ue_context_modification_response,
            ("UEContextModification", "unsuccessful"): self._ue_context_modification_failure,
        }
        #: AMF UE NGAP ID -> the modification carried a new Security Key (TS 38.413 §8.3.4)
        self._ucm_pending: dict[int, bool] = {}
        #: called for a UE-associated message naming an AMF UE NGAP ID that is not the UE's on
        #: that gNB; returns more to send (fivecore.nf.amf.handover: hijack detection)
        self.on_stale_ue: Callable[[GnbContext, NgapPdu, int, int | None], list[Any]] | None = None
        #: pre-encoded Initial Context Setup IEs by value (see :meth:`_ics_request`)
        self._ics_ies: dict[Any, Any] = {}

    # --- associations ----------------------------------------------------------------------

    def association_up(self, assoc_id: int, peer: str = "", out_streams: int = 2) -> GnbContext:
        gnb = self.ctx.add_gnb(assoc_id, peer)
        gnb.out_streams = max(1, out_streams)
        return gnb

    def association_lost(self, gnb: GnbContext) -> list[Any]:
        """SCTP association gone: every UE on it is CM-IDLE (TS 23.502 §4.2.6)."""
        waiting = []
        for ue in list(gnb.ues.values()):
            self.gmm.ran_released(ue)
            if ue.after_release is not None:
                waiting.append(ue)
        self.ctx.remove_gnb(gnb)
        # paged through the gNBs still there
        return [out for ue in waiting for out in self.translate(self.gmm.after_release(ue))]

    # --- receive -----------------------------------------------------------------------------

    def on_message(self, gnb: GnbContext, stream: int, data: bytes) -> list[Any]:
        """One NGAP PDU from ``gnb``; never raises for anything the gNB sent."""
        self.ctx.count("ngap_rx")
        try:
            pdu = ngap.decode(data)
        except DecodeError as exc:
            gnb.errors += 1
            self.ctx.count("ngap_malformed")
            log.info("event=ngap_malformed gnb=%s err=%s", gnb.peer, exc)
            return [self._error_indication_pdu(gnb, None, None, ("protocol", "transfer-syntax-error"))]
        missing = pdu.missing_mandatory()
        if missing:
            gnb.errors += 1
            self.ctx.count("ngap_missing_ie")
            log.info("event=ngap_missing_ie gnb=%s proc=%s missing=%s", gnb.peer, pdu.procedure, missing)
            amf_id, ran_id = self._ids(pdu)
            return [self._error_indication_pdu(gnb, amf_id, ran_id, ("protocol", "abstract-syntax-error-reject"))]
        handler = self._handlers.get((pdu.procedure, pdu.kind))
        if handler is None:
            self.ctx.count("ngap_unhandled")
            log.info("event=ngap_unhandled gnb=%s proc=%s kind=%s", gnb.peer, pdu.procedure, pdu.kind)
            amf_id, ran_id = self._ids(pdu)
            return [self._error_indication_pdu(gnb, amf_id, ran_id, ("protocol", "message-not-compatible-with-receiver-state"))]
        if gnb.state != GnbState.READY and pdu.procedure not in ("NGSetup", "ErrorIndication"):
            self.ctx.count("ngap_before_setup")
            return [self._error_indication_pdu(gnb, None, None, ("protocol", "message-not-compatible-with-receiver-state"))]
        try:
            return handler(gnb, pdu)
        except (DecodeError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            # an IE that decoded as ASN.1 but does not make sense (bad BCD, wrong choice, ...)
            gnb.errors += 1
            self.ctx.count("ngap_semantic_error")
            log.info("event=ngap_semantic_error gnb=%s proc=%s err=%r", gnb.peer, pdu.procedure, exc)
            amf_id, ran_id = self._ids(pdu)
            return [self._error_indication_pdu(gnb, amf_id, ran_id, ("protocol", "semantic-error"))]

    @staticmethod
    def _ids(pdu: NgapPdu) -> tuple[int | None, int | None]:
        a = pdu.get("AMF-UE-NGAP-ID")
        r = pdu.get("RAN-UE-NGAP-ID")
        return (a if isinstance(a, int) else None, r if isinstance(r, int) else None)

    # --- non-UE-associated (TS 38.413 §8.7) ----------------------------------------------------

    def _supported_tas(self, items: Any) -> tuple[list[tuple[int, list[str], list[tuple[int, int | None]]]], bool]:
        """A Supported TA List (TS 38.413 §9.3.3.x) as ``[(TAC, PLMNs, slices)]``, and whether
        any TA is one of ours: our PLMN, one of our TACs and a slice we serve."""
        cfg = self.cfg
        tas: list[tuple[int, list[str], list[tuple[int, int | None]]]] = []
        served = False
        for item in items:
            tac = int.from_bytes(item["tAC"], "big")
            plmns: list[str] = []
            slices: list[tuple[int, int | None]] = []
            for b in item["broadcastPLMNList"]:
                p = ngap.plmn_str(b["pLMNIdentity"])
                plmns.append(p)
                these = [ngap.s_nssai_from(x["s-NSSAI"]) for x in b["tAISliceSupportList"]]
                slices.extend(these)
                served = served or (p == cfg.plmn and tac in cfg.tacs and any(x in cfg.slices for x in these))
            tas.append((tac, plmns, slices))
        return tas, served

    def _ng_setup(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.7.1: NG Setup — accept only a gNB of our PLMN serving our TAs and slices."""
        cfg = self.cfg
        plmn_id, gnb_id, bits = ngap.global_gnb_id_from(pdu["GlobalRANNodeID"])
        gnb.global_ran_node_id = (plmn_id, gnb_id, bits)
        gnb.plmn = plmn_id
        name = pdu.get("RANNodeName")
        gnb.name = name if isinstance(name, str) else None
        tas, served = self._supported_tas(pdu["SupportedTAList"])
        gnb.supported_tas = tas
        drx = pdu.get("DefaultPagingDRX")
        gnb.paging_drx = drx if isinstance(drx, str) else None
        cause: tuple[str, str] | None = None
        # TS 38.413 §9.2.6.3: Time to Wait tells a misconfigured gNB when to retry; a vendor
        # policy decides its own (none for a refusal, a longer one for quarantine).
        time_to_wait: str | None = "v10s"
        if plmn_id != cfg.plmn and not any(cfg.plmn in plmns for _, plmns, _ in tas):
            cause = ("misc", "unknown-PLMN-or-SNPN")
        elif not served:
            # TS 38.413 §8.7.1.4: no TA we serve with a slice we serve
            cause = ("misc", "unknown-PLMN-or-SNPN")
        elif self.policy is not None:
            cause = self.policy(gnb)
            time_to_wait = getattr(self.policy, "time_to_wait", time_to_wait)
        if cause is not None:
            self.ctx.count("ng_setup_failure")
            log.info("event=ng_setup_failure gnb=%s plmn=%s gnb_id=%d cause=%s/%s",
                     gnb.peer, plmn_id, gnb_id, *cause)
            ies: dict[str, Any] = {"Cause": ngap.cause(*cause)}
            if time_to_wait is not None:
                ies["TimeToWait"] = time_to_wait
            fail = NgapPdu("NGSetup", "unsuccessful", ies)
            return [NgapSend(gnb, 0, ngap.encode(fail))]
        out = self._same_node_id(gnb)
        gnb.state = GnbState.READY
        self.ctx.count("ng_setup")
        log.info("event=ng_setup gnb=%s plmn=%s gnb_id=%d name=%s", gnb.peer, plmn_id, gnb_id, gnb.name)
        rsp = NgapPdu.for_message(
            "NGSetupResponse",
            {
                "AMFName": cfg.amf_name,
                "ServedGUAMIList": ngap.served_guami_list(cfg.served_guamis()),
                "RelativeAMFCapacity": cfg.relative_capacity,
                "PLMNSupportList": ngap.plmn_support_list([(cfg.plmn, list(cfg.slices))]),
            },
        )
        return [*out, NgapSend(gnb, 0, ngap.encode(rsp))]

    def _same_node_id(self, gnb: GnbContext) -> list[Any]:
        """An NG Setup whose Global RAN Node ID another ready association already has: the
        node restarted before its old association timed out (RFC 9260 heartbeats take tens of
        seconds), or two nodes share one ID (a lab's simulators). The older association is
        probed (an on-demand HEARTBEAT, RFC 9260 §8.3) and aborted only if nobody answers, so
        a restarted node's UEs go CM-IDLE now (TS 23.502 §4.2.6) while a live node, whoever
        sends an NG Setup with its ID, is never cut off."""
        out: list[Any] = []
        for g in self.ctx.gnbs.values():
            if g is not gnb and g.state == GnbState.READY and g.global_ran_node_id == gnb.global_ran_node_id:
                self.ctx.count("ng_setup_duplicate_gnb_id")
                log.warning("event=ng_setup_duplicate_gnb_id gnb=%s other=%s gnb_id=%d",
                            gnb.peer, g.peer, gnb.global_ran_node_id[1])
                out.append(ProbeAssociation(g))
        return out

    def _ran_configuration_update(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.7.2: take the gNB's new name, TAs and paging DRX, or refuse them all.

        §8.7.2.3: a Supported TA List with no TA of ours carrying a slice of ours, or a
        Global RAN Node ID other than the one of NG Setup, gets RAN Configuration Update
        Failure (with Time to Wait) and the gNB's previous configuration stays in force.
        """
        cause: tuple[str, str] | None = None
        node = pdu.get("GlobalRANNodeID")
        if node is not None and ngap.global_gnb_id_from(node) != gnb.global_ran_node_id:
            cause = ("misc", "unspecified")
        tas = None
        if cause is None and "SupportedTAList" in pdu:
            tas, served = self._supported_tas(pdu["SupportedTAList"])
            if not served:
                cause = ("misc", "unknown-PLMN-or-SNPN")
        if cause is not None:
            self.ctx.count("ran_configuration_update_failure")
            log.info("event=ran_configuration_update_failure gnb=%s cause=%s/%s", gnb.peer, *cause)
            fail = NgapPdu("RANConfigurationUpdate", "unsuccessful", {"Cause": ngap.cause(*cause), "TimeToWait": "v10s"})
            return [NgapSend(gnb, 0, ngap.encode(fail))]
        if tas is not None:
            gnb.supported_tas = tas
        name = pdu.get("RANNodeName")
        if isinstance(name, str):
            gnb.name = name
        drx = pdu.get("DefaultPagingDRX")
        if isinstance(drx, str):
            gnb.paging_drx = drx
        self.ctx.count("ran_configuration_update")
        log.info("event=ran_configuration_update gnb=%s name=%s", gnb.peer, gnb.name)
        ack = NgapPdu("RANConfigurationUpdate", "successful", {})
        return [NgapSend(gnb, 0, ngap.encode(ack))]

    def _amf_config_update_ack(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.7.3.2: the gNB took the AMF's new configuration."""
        self.ctx.count("amf_configuration_update_ack")
        return []

    def _amf_config_update_failure(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.7.3.3: the gNB refused it; logged and counted (an operator retries)."""
        self.ctx.count("amf_configuration_update_failure")
        log.warning("event=amf_configuration_update_failure gnb=%s cause=%s time_to_wait=%s",
                    gnb.peer, pdu.get("Cause"), pdu.get("TimeToWait"))
        return []

    def amf_configuration_update(
        self,
        *,
        amf_name: str | None = None,
        relative_capacity: int | None = None,
        extra_guamis: list[tuple[str, int, int, int]] | None = None,
        slices: list[tuple[int, int | None]] | None = None,
    ) -> list[NgapSend]:
        """TS 38.413 §8.7.3.2: AMF Configuration Update to every ready gNB with what changed.

        The new values also go into the configuration later NG Setup Responses use. Raises
        ValueError when nothing is given or a value is out of range (nothing is sent then).
        """
        cfg = self.cfg
        ies: dict[str, Any] = {}
        if amf_name is not None:
            if not 1 <= len(amf_name) <= 150:
                raise ValueError("AMF name must be 1..150 characters")
            ies["AMFName"] = amf_name
        if relative_capacity is not None:
            if not 0 <= relative_capacity <= 255:
                raise ValueError("relative AMF capacity is 0..255")
            ies["RelativeAMFCapacity"] = relative_capacity
        guamis = None
        if extra_guamis is not None:
            guamis = tuple(extra_guamis)
            ies["ServedGUAMIList"] = ngap.served_guami_list(
                [(cfg.plmn, cfg.region_id, cfg.set_id, cfg.pointer), *guamis])
        if slices is not None:
            if not slices:
                raise ValueError("at least one slice")
            ies["PLMNSupportList"] = ngap.plmn_support_list([(cfg.plmn, list(slices))])
        if not ies:
            raise ValueError("nothing to update")
        data = ngap.encode(NgapPdu("AMFConfigurationUpdate", "initiating", ies))
        if amf_name is not None:
            cfg.amf_name = amf_name
        if relative_capacity is not None:
            cfg.relative_capacity = relative_capacity
        if guamis is not None:
            cfg.extra_guamis = guamis
        if slices is not None:
            cfg.slices = tuple(slices)
            # the slices 5GMM allows (TS 23.501 §5.15.5.2.1) follow what the RAN is told
            self.gmm.cfg.slices = cfg.slices
        out = [NgapSend(g, 0, data) for g in self.ctx.gnbs.values() if g.state == GnbState.READY]
        self.ctx.count("amf_configuration_update", len(out))
        log.info("event=amf_configuration_update gnbs=%d ies=%s", len(out), ",".join(ies))
        return out

    def _error_indication(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.7.5: log it; the gNB told us it could not handle something."""
        self.ctx.count("ngap_error_indication_rx")
        log.info("event=error_indication_rx gnb=%s cause=%s amf_ue_ngap_id=%s",
                 gnb.peer, pdu.get("Cause"), pdu.get("AMF-UE-NGAP-ID"))
        return []

    def _ng_reset(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.7.4.2.2: NG Reset from the gNB — release the named UE connections."""
        alt, val = pdu["ResetType"]
        self.ctx.count("ng_reset")
        ack_ies: dict[str, Any] = {}
        out: list[Any] = []
        if alt == "nG-Interface":
            for ue in list(gnb.ues.values()):
                out += self._idle(ue)
        else:
            items = []
            for item in val:
                amf_id = item.get("aMF-UE-NGAP-ID")
                ran_id = item.get("rAN-UE-NGAP-ID")
                ue = None
                if amf_id is not None:
                    ue = self.ctx.find_ue(gnb, amf_id, None)
                elif ran_id is not None:
                    ue = gnb.ues.get(ran_id)
                if ue is not None:
                    out += self._idle(ue)
                items.append({k: v for k, v in item.items() if k in ("aMF-UE-NGAP-ID", "rAN-UE-NGAP-ID")})
            if items:
                ack_ies["UE-associatedLogicalNG-connectionList"] = items
        return [NgapSend(gnb, 0, ngap.encode(NgapPdu("NGReset", "successful", ack_ies))), *out]

    def _ignore(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        return []

    # --- UE-associated (TS 38.413 §8.2, §8.3, §8.6) ------------------------------------------

    def _initial_ue_message(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.6.1: a new UE-associated logical NG connection."""
        ran_id = pdu["RAN-UE-NGAP-ID"]
        if len(gnb.ues) >= self.cfg.max_ues_per_gnb and ran_id not in gnb.ues:
            gnb.errors += 1
            self.ctx.count("ngap_ue_limit")
            log.warning("event=ngap_ue_limit gnb=%s ues=%d", gnb.peer, len(gnb.ues))
            return [self._error_indication_pdu(gnb, None, ran_id, ("misc", "control-processing-overload"))]
        loc = ngap.user_location_from(pdu["UserLocationInformation"])
        s_tmsi = None
        st = pdu.get("FiveG-S-TMSI")
        if isinstance(st, dict):
            s_tmsi = STmsi(st["aMFSetID"][0], st["aMFPointer"][0], int.from_bytes(st["fiveG-TMSI"], "big"))
        self.ctx.count("initial_ue_message")
        ue, acts = self.gmm.initial_ue_message(gnb, ran_id, pdu["NAS-PDU"], loc["tac"], s_tmsi)
        return self.translate(acts)

    def _lookup(self, gnb: GnbContext, pdu: NgapPdu) -> tuple[UeContext | None, list[Any]]:
        amf_id, ran_id = self._ids(pdu)
        ue = self.ctx.find_ue(gnb, amf_id, ran_id)
        if ue is None:
            gnb.errors += 1
            self.ctx.count("ngap_unknown_ue")
            log.info("event=ngap_unknown_ue gnb=%s proc=%s amf_ue_ngap_id=%s ran_ue_ngap_id=%s",
                     gnb.peer, pdu.procedure, amf_id, ran_id)
            err = [self._error_indication_pdu(gnb, amf_id, ran_id, ("radioNetwork", "unknown-local-UE-NGAP-ID"))]
            if amf_id is not None and self.on_stale_ue is not None:
                err += self.on_stale_ue(gnb, pdu, amf_id, ran_id)
            return None, err
        return ue, []

    def _uplink_nas_transport(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.6.3: Uplink NAS Transport."""
        ue, err = self._lookup(gnb, pdu)
        if ue is None:
            return err
        loc = pdu.get("UserLocationInformation")
        if loc is not None:
            try:
                ue.tac = ngap.user_location_from(loc)["tac"]
            except DecodeError:
                pass
        return self.translate(self.gmm.uplink_nas(ue, pdu["NAS-PDU"]))

    def _ics_response(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.3.1.2: the gNB has the UE context (and KgNB)."""
        ue, err = self._lookup(gnb, pdu)
        if ue is None:
            return err
        self.ctx.count("ics_response")
        return []

    def _ics_failure(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.3.1.3: the gNB could not set up the UE context — release it."""
        ue, err = self._lookup(gnb, pdu)
        if ue is None:
            return err
        self.ctx.count("ics_failure")
        ue.kgnb_sent = False
        return self.translate([ReleaseUe(ue, ("radioNetwork", "unspecified"))])

    def _release_request(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.3.2: gNB-requested release -> UE Context Release Command."""
        ue, err = self._lookup(gnb, pdu)
        if ue is None:
            return err
        self.ctx.count("release_request")
        cause = pdu.get("Cause")
        group, value = cause if isinstance(cause, tuple) else ("radioNetwork", "unspecified")
        return self.translate([ReleaseUe(ue, (group, value))])

    def _release_complete(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.3.3.2: UE Context Release Complete — the UE is CM-IDLE."""
        amf_id = pdu.get("AMF-UE-NGAP-ID")
        if isinstance(amf_id, int) and amf_id in self.ctx.recently_released and amf_id not in self.ctx.ues:
            # the answer to a release of a context already reaped (or never kept)
            del self.ctx.recently_released[amf_id]
            self.ctx.count("release_complete")
            return []
        ue, err = self._lookup(gnb, pdu)
        if ue is None:
            return err
        self.ctx.count("release_complete")
        return self._idle(ue)

    def _idle(self, ue: UeContext) -> list[Any]:
        """The UE's NG connection is gone (CM-IDLE); page it if something waited for that."""
        self.gmm.ran_released(ue)
        return self.translate(self.gmm.after_release(ue)) if ue.after_release is not None else []

    def ue_context_modification(
        self,
        ue: UeContext,
        *,
        security_key: bool = False,
        ue_ambr: tuple[int, int] | None = None,
        rfsp: int | None = None,
    ) -> list[NgapSend]:
        """TS 38.413 §8.3.4.2: UE Context Modification Request for a CM-CONNECTED UE.

        ``security_key``: a fresh KgNB from the current KAMF and the latest uplink NAS COUNT
        (TS 33.501 Annex A.9; AS key re-keying, §6.9.4) with the UE Security Capabilities (the
        simulated gNB checks it against the UE's own derivation); ``ue_ambr``:
        (uplink, downlink) bit/s (TS 23.501 §5.7.2.6); ``rfsp``: Index to RFSP 1..256.
        Returns nothing when the UE has no NG connection or nothing is asked.
        """
        gnb = ue.gnb
        if gnb is None or ue.ran_ue_ngap_id is None or gnb.state != GnbState.READY or ue.releasing:
            return []
        ies: dict[str, Any] = {"AMF-UE-NGAP-ID": ue.amf_ue_ngap_id, "RAN-UE-NGAP-ID": ue.ran_ue_ngap_id}
        if security_key:
            if ue.kamf is None or ue.sec is None:
                return []
            kgnb = kdf.kgnb(ue.kamf, uplink_count(ue.sec))
            ies["SecurityKey"] = ngap.security_key(kgnb)
            ies["UESecurityCapabilities"] = self._ue_security_capabilities(ue)
        if rfsp is not None:
            if not 1 <= rfsp <= 256:
                raise ValueError("Index to RFSP is 1..256")
            ies["IndexToRFSP"] = rfsp
        if ue_ambr is not None:
            ies["UEAggregateMaximumBitRate"] = {"uEAggregateMaximumBitRateDL": ue_ambr[1],
                                                "uEAggregateMaximumBitRateUL": ue_ambr[0]}
        if len(ies) == 2:
            return []
        data = ngap.encode(NgapPdu("UEContextModification", "initiating", ies))
        if ue_ambr is not None:
            ue.ue_ambr = ue_ambr
        if security_key:
            ue.kgnb_sent = True
            # TS 33.501 §6.9.4: a fresh KgNB starts a new NH chain (NCC 0)
            ue.nh, ue.ncc = kgnb, 0
            self.gmm._observe("kgnb", ue)
        pending = self._ucm_pending
        pending.pop(ue.amf_ue_ngap_id, None)
        pending[ue.amf_ue_ngap_id] = security_key
        if len(pending) > UCM_PENDING_MAX:
            del pending[next(iter(pending))]
        self.ctx.count("ue_context_modification")
        return [NgapSend(gnb, self.stream_for(gnb, ue), data)]

    def _ue_context_modification_response(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.3.4.2: the gNB applied the modification."""
        ue, err = self._lookup(gnb, pdu)
        if ue is None:
            return err
        self._ucm_pending.pop(ue.amf_ue_ngap_id, None)
        self.ctx.count("ue_context_modification_response")
        return []

    def _ue_context_modification_failure(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.3.4.3: the gNB could not apply it. If it refused a new Security Key the
        UE's AS keys no longer match the AMF's, so its NG connection is released (the UE
        comes back with a Service Request and gets a consistent KgNB in Initial Context Setup)."""
        ue, err = self._lookup(gnb, pdu)
        if ue is None:
            return err
        had_key = self._ucm_pending.pop(ue.amf_ue_ngap_id, False)
        self.ctx.count("ue_context_modification_failure")
        cause = pdu.get("Cause")
        log.info("event=ue_context_modification_failure amf_ue_ngap_id=%d cause=%s", ue.amf_ue_ngap_id, cause)
        if had_key:
            return self.translate([ReleaseUe(ue, ("radioNetwork", "unspecified"))])
        return []

    def _nas_non_delivery(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.6.5: the gNB could not deliver a downlink NAS message."""
        ue, err = self._lookup(gnb, pdu)
        if ue is None:
            return err
        self.ctx.count("nas_non_delivery")
        return []

    # --- send side -------------------------------------------------------------------------------

    def stream_for(self, gnb: GnbContext, ue: UeContext) -> int:
        """TS 38.412 §7: stream 0 is for non-UE-associated signalling; spread UEs over the rest."""
        return self.stream_of(gnb, ue.amf_ue_ngap_id)

    @staticmethod
    def stream_of(gnb: GnbContext, ue_id: int) -> int:
        """:meth:`stream_for` by one of the connection's NGAP IDs, for a message sent before
        (or without) a UE context: the stream ``ue_id`` picks among the non-zero ones."""
        n = getattr(gnb, "out_streams", 2)
        if n <= 1:
            return 0
        return 1 + (ue_id % (n - 1))

    def translate(self, actions: list[Action]) -> list[Any]:
        """5GMM actions -> NGAP PDUs (the rest pass through to the application)."""
        out: list[Any] = []
        for a in actions:
            t = type(a)  # actions are NamedTuples: one identity test per kind
            if t is SendNas:
                ue = a.ue
                if ue.gnb is None or ue.ran_ue_ngap_id is None:
                    self.ctx.count("nas_dropped_no_connection")
                    continue
                data = ngap.downlink_nas_transport(ue.amf_ue_ngap_id, ue.ran_ue_ngap_id, a.pdu)
                out.append(NgapSend(ue.gnb, self.stream_for(ue.gnb, ue), data))
            elif t is SendIcs:
                ue = a.ue
                if ue.gnb is None or ue.ran_ue_ngap_id is None:
                    continue
                # TS 33.501 §6.9.2.1.1: a new AS context; its KgNB is NCC 0 and the
                # SYNC-input of the first NH (fivecore.nf.amf.handover)
                ue.nh, ue.ncc = a.kgnb, 0
                if a.reactivate is not None and self.on_service_ics is not None and self.on_service_ics(a):
                    continue
                out.append(NgapSend(ue.gnb, self.stream_for(ue.gnb, ue), self._ics_request(ue, a.pdu, a.kgnb)))
            elif t is Reactivate:
                ue = a.ue
                if ue.gnb is None or ue.ran_ue_ngap_id is None:
                    self.ctx.count("nas_dropped_no_connection")
                    continue
                if self.on_reactivate is not None and self.on_reactivate(a):
                    continue
                data = ngap.downlink_nas_transport(ue.amf_ue_ngap_id, ue.ran_ue_ngap_id, a.pdu)
                out.append(NgapSend(ue.gnb, self.stream_for(ue.gnb, ue), data))
            elif t is ReleaseUe:
                ue = a.ue
                if ue.gnb is None or ue.ran_ue_ngap_id is None:
                    continue
                p = NgapPdu("UEContextRelease", "initiating", {
                    "UE-NGAP-IDs": ("uE-NGAP-ID-pair", {
                        "aMF-UE-NGAP-ID": ue.amf_ue_ngap_id, "rAN-UE-NGAP-ID": ue.ran_ue_ngap_id}),
                    "Cause": ngap.cause(*a.cause),
                })
                self.ctx.count("release_command")
                ue.releasing = True
                out.append(NgapSend(ue.gnb, self.stream_for(ue.gnb, ue), ngap.encode(p)))
            elif t is Page:
                out.extend(self._paging(a.ue))
            elif t is Congested:
                g = a.gnb
                g.errors += 1
                out.append(self._error_indication_pdu(g, None, a.ran_ue_ngap_id, ("misc", "control-processing-overload")))
            else:
                out.append(a)
        return out

    def _paging(self, ue: UeContext) -> list[NgapSend]:
        """TS 38.413 §8.5.1: Paging to every ready gNB serving the UE's last tracking area."""
        cfg = self.cfg
        if ue.tmsi is None:
            return []
        tac = ue.tac if ue.tac is not None else cfg.tacs[0]
        # TS 24.501 §5.5.1.2.8 c: while two 5G-GUTIs are valid the UE may hold either
        tmsis = [ue.tmsi]
        old = self.ctx.old_tmsi.get(ue.amf_ue_ngap_id) if self.ctx.old_tmsi else None
        if old is not None:
            tmsis.append(old)
        gnbs = [g for g in self.ctx.gnbs.values()
                if g.state == GnbState.READY and (not g.supported_tas or any(t[0] == tac for t in g.supported_tas))]
        out = []
        for tmsi in tmsis:
            pdu = ngap.encode(NgapPdu("Paging", "initiating", {
                "UEPagingIdentity": ("fiveG-S-TMSI", ngap.five_g_s_tmsi(cfg.set_id, cfg.pointer, tmsi)),
                "TAIListForPaging": [{"tAI": ngap.tai(cfg.plmn, tac)}],
            }))
            out += [NgapSend(g, 0, pdu) for g in gnbs]
        self.ctx.count("paging_sent")
        return out

    def _ics_request(self, ue: UeContext, nas_pdu: bytes, kgnb: bytes,
                     setup: list[dict[str, Any]] | None = None) -> bytes:
        """TS 38.413 §9.2.2.1: Initial Context Setup Request with KgNB and the NAS PDU, and the
        PDU Session Resource Setup Request List when user planes come back (TS 23.502 §4.2.3.2)."""
        cfg = self.cfg
        allowed = tuple(ue.allowed_nssai or cfg.slices)
        # GUAMI, Allowed NSSAI and UE Security Capabilities recur for every UE: their IEs are
        # encoded once per value (ngap.pre_encoded gives the same octets) and kept
        pre = self._ics_ies
        if len(pre) > 256:
            pre.clear()
        guami_key = ("GUAMI", cfg.plmn, cfg.region_id, cfg.set_id, cfg.pointer)
        guami = pre.get(guami_key)
        if guami is None:
            guami = pre[guami_key] = ngap.pre_encoded("InitialContextSetup", "initiating", "GUAMI", ngap.guami(
                cfg.plmn, cfg.region_id, cfg.set_id, cfg.pointer))
        nssai = pre.get(allowed)
        if nssai is None:
            nssai = pre[allowed] = ngap.pre_encoded("InitialContextSetup", "initiating", "AllowedNSSAI",
                                                    [{"s-NSSAI": ngap.s_nssai(sst, sd)} for sst, sd in allowed])
        cap_key = ("caps", ue.ue_sec_cap)
        try:
            caps = pre.get(cap_key)
        except TypeError:  # an unhashable capability value: not kept
            cap_key, caps = None, None
        if caps is None:
            caps = ngap.pre_encoded("InitialContextSetup", "initiating", "UESecurityCapabilities",
                                    self._ue_security_capabilities(ue))
            if cap_key is not None:
                pre[cap_key] = caps
        ies: dict[str, Any] = {
            "AMF-UE-NGAP-ID": ue.amf_ue_ngap_id,
            "RAN-UE-NGAP-ID": ue.ran_ue_ngap_id,
            "GUAMI": guami,
            "AllowedNSSAI": nssai,
            "UESecurityCapabilities": caps,
            "SecurityKey": ngap.security_key(kgnb),
            "NAS-PDU": nas_pdu,
        }
        if setup:
            ies["PDUSessionResourceSetupListCxtReq"] = setup
            if ue.ue_ambr is not None:
                # TS 38.413 §9.2.2.1: present whenever PDU sessions are set up
                ies["UEAggregateMaximumBitRate"] = {"uEAggregateMaximumBitRateDL": ue.ue_ambr[1],
                                                    "uEAggregateMaximumBitRateUL": ue.ue_ambr[0]}
        self.ctx.count("ics_request")
        return ngap.encode(NgapPdu("InitialContextSetup", "initiating", ies))

    @staticmethod
    def _ue_security_capabilities(ue: UeContext) -> dict[str, Any]:
        """TS 38.413 §9.3.1.86 from the UE's NAS capability (TS 24.501 §9.11.3.54)."""
        nea: list[int] = []
        nia: list[int] = []
        cap = ue.ue_sec_cap
        if cap is not None:
            try:
                ea, ia = ue_security_capability_sets(cap)
                nea, nia = sorted(a for a in ea if a), sorted(a for a in ia if a)
            except Exception:  # noqa: BLE001 - an odd capability must not stop the procedure
                pass
        return ngap.ue_security_capabilities(nea, nia)

    def _error_indication_pdu(
        self, gnb: GnbContext, amf_id: int | None, ran_id: int | None, cause: tuple[str, str]
    ) -> NgapSend:
        """TS 38.413 §8.7.5 / §9.2.7.5: Error Indication to the gNB."""
        ies: dict[str, Any] = {}
        if amf_id is not None and 0 <= amf_id <= AMF_UE_NGAP_ID_MAX:
            ies["AMF-UE-NGAP-ID"] = amf_id
        if ran_id is not None and 0 <= ran_id <= RAN_UE_NGAP_ID_MAX:
            ies["RAN-UE-NGAP-ID"] = ran_id
        ies["Cause"] = ngap.cause(*cause)
        self.ctx.count("ngap_error_indication_tx")
        try:
            data = ngap.encode(NgapPdu("ErrorIndication", "initiating", ies))
        except EncodeError:
            data = ngap.encode(NgapPdu("ErrorIndication", "initiating", {"Cause": ngap.cause(*cause)}))
        return NgapSend(gnb, 0, data)

    def overload(self, start: bool, reduction: int = 50) -> list[NgapSend]:
        """TS 38.413 §8.7.6 / §8.7.7: Overload Start (reject RRC connection requests for
        signalling, shed ``reduction`` %) or Overload Stop, to every ready gNB."""
        if start:
            pdu = NgapPdu("OverloadStart", "initiating", {
                "AMFOverloadResponse": ("overloadAction", "reject-rrc-cr-signalling"),
                "AMFTrafficLoadReductionIndication": max(1, min(99, reduction)),
            })
        else:
            pdu = NgapPdu("OverloadStop", "initiating", {})
        data = ngap.encode(pdu)
        self.ctx.count("overload_start" if start else "overload_stop")
        return [NgapSend(g, 0, data) for g in self.ctx.gnbs.values() if g.state == GnbState.READY]

    def error_indication(self, gnb: GnbContext, cause: tuple[str, str]) -> NgapSend:
        return self._error_indication_pdu(gnb, None, None, cause)
