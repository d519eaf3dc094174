"""N2-based inter-gNB handover on the SMF, without UPF re-allocation.

TS 23.502 §4.9.1.3.2 (preparation) and §4.9.1.3.3 (execution), TS 29.502 §5.2.2.3.4
(Nsmf_PDUSession_UpdateSMContext with ``hoState``). The AMF relays four kinds of request:

- ``hoState`` PREPARING, n2SmInfoType HANDOVER_REQUIRED (the source's Handover Required
  Transfer, TS 38.413 §9.3.4.14) and ``targetId``: the session can move when it has an N4
  session; the answer carries a PDU Session Resource Setup Request Transfer (§9.3.4.1: the
  same UPF uplink F-TEID and QoS flow -- the UPF is not re-allocated) with n2SmInfoType
  PDU_RES_SETUP_REQ (TS 29.502 §5.2.2.3.4.2; the N2SmInfoType enumeration has no
  "HANDOVER_REQ"). A session that cannot move gets SmContextUpdateError with
  HANDOVER_PREP_FAIL (a Handover Preparation Unsuccessful Transfer, §9.3.4.18).
- ``hoState`` PREPARED, HANDOVER_REQ_ACK (the target's Handover Request Acknowledge Transfer,
  §9.3.4.11): the target's downlink F-TEID is remembered, *not* applied (the UE is still on the
  source); the answer is HANDOVER_CMD with a Handover Command Transfer (§9.3.4.10).
  HANDOVER_RES_ALLOC_FAIL (§9.3.4.12, the target could not take the session) forgets it.
- **Direct data forwarding** (TS 23.502 §4.9.1.3.2, §4.9.1.3.3; TS 38.413 §8.4.1.2,
  §8.4.2.2): when the source's Handover Required Transfer says
  directForwardingPathAvailability, the setup transfer for the target carries Direct
  Forwarding Path Availability, and a target that accepts forwarding for the session's QoS
  flow (dataForwardingAccepted) and gives a dLForwardingUP-TNLInformation in its Acknowledge
  Transfer gets it relayed to the source in the Handover Command Transfer
  (dLForwardingUP-TNLInformation, qosFlowToBeForwardedList): the source then sends the
  downlink still reaching it to the target, gNB to gNB, until the UPF's End Marker. The UPF
  is not involved. Without a direct path the setup transfer says Data Forwarding Not
  Possible: this SMF sets up no indirect forwarding tunnels at the UPF, so downlink in
  flight at the source is then lost (§4.9.1.3.2 step 12 is optional). A forwarding tunnel
  that is not an IPv4 GTP tunnel with a non-zero TEID is the AMF's 400 INVALID_MSG_FORMAT,
  as a bad downlink tunnel is.
- ``hoState`` COMPLETED (no N2 part; TS 23.502 §4.9.1.3.3 step 6): the UPF's downlink FAR
  moves to the remembered tunnel with SNDEM (End Markers to the source, TS 29.244 §5.2.1),
  and the context is persisted.
- ``hoState`` CANCELLED (§4.9.1.3.4 / §4.9.1.3.2 failure): the prepared tunnel is forgotten;
  the user plane stays on the source.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

from fivecore.nf.smf import pfcp
from fivecore.nf.smf.context import SmContext, SmState
from fivecore.nf.smf.pfcp import PfcpFailure
from fivecore.nf.smf.sbi import session_setup_request_transfer, target_downlink
from fivecore.transport.http2 import HttpError, Response, json_response
from fivecore.wire import ngap
from fivecore.wire.errors import DecodeError

if TYPE_CHECKING:
    from fivecore.nf.smf.sbi import SmfService

log = logging.getLogger("fivecore.smf.handover")

#: the n2SmInfoTypes of an N2 handover (TS 29.502 §6.1.6.3.6)
N2_TYPES = frozenset({"HANDOVER_REQUIRED", "HANDOVER_REQ_ACK", "HANDOVER_RES_ALLOC_FAIL"})
HO_STATES = frozenset({"NONE", "PREPARING", "PREPARED", "COMPLETED", "CANCELLED"})


def command_transfer(forwarding: tuple[str, int] | None = None, qfis: tuple[int, ...] = ()) -> bytes:
    """TS 38.413 §9.3.4.10 Handover Command Transfer: with ``forwarding`` (the target's DL
    forwarding GTP tunnel) and the QoS flows to forward, the source forwards the downlink
    directly to the target (TS 23.502 §4.9.1.3.2); without, no forwarding."""
    if forwarding is None or not qfis:
        return ngap.encode_ie("HandoverCommandTransfer", {})
    return ngap.encode_ie("HandoverCommandTransfer", {
        "dLForwardingUP-TNLInformation": ngap.gtp_tunnel(*forwarding),
        "qosFlowToBeForwardedList": [{"qosFlowIdentifier": q} for q in qfis]})


def direct_path(n2: bytes) -> bool:
    """TS 38.413 §9.3.4.14: does the source's Handover Required Transfer say a direct
    forwarding path to the target is available? A transfer that does not decode is the AMF's
    400 INVALID_MSG_FORMAT."""
    try:
        tr = ngap.decode_ie("HandoverRequiredTransfer", n2)
    except DecodeError as exc:
        raise HttpError(400, "INVALID_MSG_FORMAT", f"bad HandoverRequiredTransfer: {exc}") from None
    return tr.get("directForwardingPathAvailability") == "direct-path-available"


def forwarding_offer(n2: bytes) -> tuple[tuple[str, int] | None, set[int]]:
    """TS 38.413 §9.3.4.11: the target's DL forwarding tunnel, if its Handover Request
    Acknowledge Transfer gives one, and the QFIs it accepted forwarding for
    (dataForwardingAccepted). The tunnel must be IPv4 with a non-zero TEID (TS 29.281 §5.1:
    TEID 0 is no tunnel) -- anything else from a gNB is the AMF's 400 INVALID_MSG_FORMAT,
    never an exception out of the SMF."""
    try:
        tr = ngap.decode_ie("HandoverRequestAcknowledgeTransfer", n2)
        accepted = {f["qosFlowIdentifier"] for f in tr.get("qosFlowSetupResponseList") or []
                    if f.get("dataForwardingAccepted") == "data-forwarding-accepted"}
        tnl = tr.get("dLForwardingUP-TNLInformation")
        if tnl is None:
            return None, accepted
        ip, teid = ngap.gtp_tunnel_from(tnl)
        ipaddress.IPv4Address(ip)
        if teid == 0:
            raise ValueError("forwarding TEID 0")
    except (DecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise HttpError(400, "INVALID_MSG_FORMAT",
                        f"bad dLForwardingUP-TNLInformation in HandoverRequestAcknowledgeTransfer: {exc}") from None
    return (ip, teid), accepted


def preparation_unsuccessful_transfer(group: str, value: str) -> bytes:
    """TS 38.413 §9.3.4.18 Handover Preparation Unsuccessful Transfer."""
    return ngap.encode_ie("HandoverPreparationUnsuccessfulTransfer", {"cause": ngap.cause(group, value)})


class SmfN2Handover:
    """The SMF side of N2 handover (module docstring); one per :class:`SmfService`."""

    def __init__(self, service: SmfService) -> None:
        self.s = service
        #: SM context ref -> the target gNB's downlink (ip, teid) prepared, not yet applied
        self.prepared: dict[str, tuple[str, int]] = {}
        #: SM context ref -> the target named at PREPARING (TS 29.502 NgRanTargetId)
        self.targets: dict[str, Any] = {}
        #: SM context refs whose source said a direct forwarding path is available
        self.direct: set[str] = set()

    def _refuse(self, sm: SmContext, why: str, group: str = "misc", value: str = "unspecified") -> Response:
        """TS 29.502 §5.2.2.3.4: SmContextUpdateError; the AMF leaves the session out of the
        HANDOVER REQUEST (or lists it in the command's release list)."""
        self.s.ctx.count("n2_handover_refused")
        log.info("event=n2_handover_refused psi=%d why=%s", sm.psi, why)
        self.forget(sm)
        return self.s._reply(403, {"error": {"status": 403, "cause": "UNSPECIFIED", "detail": why}},
                             n2=preparation_unsuccessful_transfer(group, value),
                             n2_type="HANDOVER_PREP_FAIL")

    def forget(self, sm: SmContext) -> None:
        self.prepared.pop(sm.ref, None)
        self.targets.pop(sm.ref, None)
        self.direct.discard(sm.ref)

    async def update(self, sm: SmContext, data: dict[str, Any], n2_type: str | None, n2: bytes | None) -> Response:
        """One UpdateSMContext of an N2 handover (module docstring)."""
        ho = data.get("hoState")
        if ho is not None and ho not in HO_STATES:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", f"hoState {ho!r}",
                            invalid_params=[{"param": "/hoState"}])
        if n2_type == "HANDOVER_REQUIRED":
            return self._preparing(sm, data, n2 or b"")
        if n2_type == "HANDOVER_REQ_ACK":
            return self._prepared(sm, n2 or b"")
        if n2_type == "HANDOVER_RES_ALLOC_FAIL":
            try:
                ngap.decode_ie("HandoverResourceAllocationUnsuccessfulTransfer", n2 or b"")
            except DecodeError as exc:
                raise HttpError(400, "INVALID_MSG_FORMAT",
                                f"bad HandoverResourceAllocationUnsuccessfulTransfer: {exc}") from None
            self.forget(sm)
            self.s.ctx.count("n2_handover_res_alloc_failed")
            return json_response({"hoState": "CANCELLED",
                                  "upCnxState": "ACTIVATED" if sm.up_active else "DEACTIVATED"})
        if n2_type is not None:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", f"n2SmInfoType {n2_type} not handled",
                            invalid_params=[{"param": "/n2SmInfoType"}])
        if ho == "COMPLETED":
            return await self._completed(sm)
        if ho == "CANCELLED":
            self.forget(sm)
            self.s.ctx.count("n2_handover_cancelled")
            return json_response({"hoState": "CANCELLED",
                                  "upCnxState": "ACTIVATED" if sm.up_active else "DEACTIVATED"})
        raise HttpError(400, "MANDATORY_IE_INCORRECT", f"hoState {ho} without N2 SM information",
                        invalid_params=[{"param": "/hoState"}])

    def _preparing(self, sm: SmContext, data: dict[str, Any], n2: bytes) -> Response:
        """TS 23.502 §4.9.1.3.2 steps 3-4 (no UPF change: steps 4-8 are skipped)."""
        direct = direct_path(n2)
        if data.get("hoState") != "PREPARING":
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "HANDOVER_REQUIRED needs hoState PREPARING",
                            invalid_params=[{"param": "/hoState"}])
        target = data.get("targetId")
        if not isinstance(target, dict) or "ranNodeId" not in target:
            raise HttpError(400, "MANDATORY_IE_MISSING", "targetId missing",
                            invalid_params=[{"param": "/targetId"}])
        if (sm.upf is None or sm.upf_seid is None or not sm.up_active
                or sm.state not in (SmState.ACTIVE, SmState.MODIFICATION_PENDING)):
            return self._refuse(sm, "no active user plane to hand over")
        self.prepared.pop(sm.ref, None)
        self.targets[sm.ref] = target
        if direct:
            self.direct.add(sm.ref)
        else:
            self.direct.discard(sm.ref)
        self.s.ctx.count("n2_handover_preparing")
        return self.s._reply(200, {"hoState": "PREPARING"}, n2=self.setup_transfer(sm, direct),
                             n2_type="PDU_RES_SETUP_REQ")

    @staticmethod
    def setup_transfer(sm: SmContext, direct: bool) -> bytes:
        """TS 38.413 §9.3.4.1 PDU Session Resource Setup Request Transfer for the target
        (§8.4.2.2): the session's, plus Direct Forwarding Path Availability when the source
        offered a direct path, else Data Forwarding Not Possible (no indirect forwarding
        here, module docstring)."""
        extra = ({"DirectForwardingPathAvailability": "direct-path-available"} if direct
                 else {"DataForwardingNotPossible": "data-forwarding-not-possible"})
        return session_setup_request_transfer(sm, extra)

    def _prepared(self, sm: SmContext, n2: bytes) -> Response:
        """TS 23.502 §4.9.1.3.2 steps 9-11: remember the target's downlink tunnel; relay its
        forwarding tunnel to the source when direct forwarding was offered (module docstring)."""
        ip, teid, accepted = target_downlink("HandoverRequestAcknowledgeTransfer", n2, "qosFlowSetupResponseList")
        forwarding, fwd_qfis = forwarding_offer(n2)
        if sm.ref not in self.targets:
            return self._refuse(sm, "no handover being prepared", "protocol",
                                "message-not-compatible-with-receiver-state")
        if sm.qfi not in accepted:
            return self._refuse(sm, "qos flow not accepted by the target", "radioNetwork", "unspecified")
        self.prepared[sm.ref] = (ip, teid)
        self.s.ctx.count("n2_handover_prepared")
        qfis: tuple[int, ...] = ()
        if forwarding is not None:
            if sm.ref in self.direct and sm.qfi in fwd_qfis:
                qfis = (sm.qfi,)
                self.s.ctx.count("n2_handover_direct_forwarding")
            else:
                # a tunnel nobody asked for (no direct path from the source) or for no
                # accepted flow: the source is not told, nothing is forwarded
                self.s.ctx.count("n2_handover_forwarding_ignored")
        return self.s._reply(200, {"hoState": "PREPARED"}, n2=command_transfer(forwarding, qfis),
                             n2_type="HANDOVER_CMD")

    async def _completed(self, sm: SmContext) -> Response:
        """TS 23.502 §4.9.1.3.3 steps 6-8: the downlink moves to the target, End Markers to the
        source."""
        tunnel = self.prepared.pop(sm.ref, None)
        self.targets.pop(sm.ref, None)
        if tunnel is None:
            raise HttpError(409, "HANDOVER_RESOURCE_ALLOCATION_FAILURE", "no handover prepared")
        if sm.upf is None or sm.upf_seid is None:
            raise HttpError(409, "UP_CONNECTION_ACTIVATION_FAILED", "no N4 session")
        old = (sm.dl_ip, sm.dl_teid)
        sm.dl_ip, sm.dl_teid = tunnel
        try:
            rsp = await self.s.n4.request(sm.upf, pfcp.path_switch(
                sm, seq=self.s.n4.next_seq(), end_marker=old[1] is not None and sm.up_active))
            pfcp.check_cause(rsp, "session modification (N2 handover)")
        except PfcpFailure as exc:
            sm.dl_ip, sm.dl_teid = old
            log.warning("event=n4_n2_handover_failed psi=%d err=%s", sm.psi, exc)
            raise HttpError(500, "SYSTEM_FAILURE", "user plane not switched") from None
        sm.up_active = True
        self.s.ctx.touch(sm)  # the new tunnel survives an SMF restart (smf/persist.py)
        self.s.ctx.count("n2_handover_completed")
        return json_response({"hoState": "COMPLETED", "upCnxState": "ACTIVATED"})


__all__ = ["HO_STATES", "N2_TYPES", "SmfN2Handover", "command_transfer", "direct_path", "forwarding_offer",
           "preparation_unsuccessful_transfer"]
