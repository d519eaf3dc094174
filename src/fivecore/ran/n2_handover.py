"""N2-based inter-gNB handover, the gNB side (TS 38.413 §8.4.1-8.4.3, §8.4.5; TS 23.502
§4.9.1.3; TS 33.501 §6.9.2.3.3): the NGAP messages the source and target gNBs send, the
transparent containers they exchange through the AMF, and the target's check of the {NH, NCC}
the AMF gives it.

The transparent containers carry RRC (TS 38.331 §11.2.2: HandoverPreparationInformation from
the source, HandoverCommand with an RRCReconfiguration from the target). The simulator's UE
has no RRC, so they are minimal but well-formed: the source's lists no UE capability, the
target's reconfiguration sets nothing; Wireshark decodes them down to the RRC.

Direct data forwarding (TS 23.502 §4.9.1.3.2-3, TS 38.300 §9.2.3.2.3,
:mod:`fivecore.ran.forwarding`): the source's Handover Required Transfer says a direct
forwarding path is available (the simulator's gNBs reach each other's N3 addresses); a target
whose setup transfer carries Direct Forwarding Path Availability (and not Data Forwarding Not
Possible) allocates a DL forwarding tunnel per session and accepts forwarding for its QoS flow
in the Handover Request Acknowledge Transfer; on HANDOVER COMMAND the source forwards the
downlink of every session whose Handover Command Transfer names that tunnel, until the UPF's
End Marker.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from fivecore.security import kdf
from fivecore.wire import ngap
from fivecore.wire.errors import DecodeError
from fivecore.wire.ngap import NgapPdu

if TYPE_CHECKING:
    from fivecore.ran.gnb import Gnb, GnbNode, RanUe

log = logging.getLogger("fivecore.ran.n2_handover")


@cache
def _rrc() -> Any:
    from pycrate_asn1dir import RRCNR

    return RRCNR


@cache
def handover_preparation_information() -> bytes:
    """TS 38.331 §11.2.2 HandoverPreparationInformation (UPER) with an empty capability list."""
    h = _rrc().NR_InterNodeDefinitions.HandoverPreparationInformation
    h.set_val({"criticalExtensions": ("c1", ("handoverPreparationInformation", {"ue-CapabilityRAT-List": []}))})
    return bytes(h.to_uper())


@cache
def handover_command_rrc() -> bytes:
    """TS 38.331 §11.2.2 HandoverCommand holding an RRCReconfiguration that changes nothing."""
    rrc = _rrc()
    r = rrc.NR_RRC_Definitions.RRCReconfiguration
    r.set_val({"rrc-TransactionIdentifier": 0, "criticalExtensions": ("rrcReconfiguration", {})})
    c = rrc.NR_InterNodeDefinitions.HandoverCommand
    c.set_val({"criticalExtensions": ("c1", ("handoverCommand", {"handoverCommandMessage": bytes(r.to_uper())}))})
    return bytes(c.to_uper())


def source_to_target_container(plmn: str, target_nci: int, source_nci: int) -> bytes:
    """TS 38.413 §9.3.1.29 Source NG-RAN Node to Target NG-RAN Node Transparent Container."""
    return ngap.encode_ie("SourceNGRANNode-ToTargetNGRANNode-TransparentContainer", {
        "rRCContainer": handover_preparation_information(),
        "targetCell-ID": ("nR-CGI", ngap.nr_cgi(plmn, target_nci)),
        "uEHistoryInformation": [{"lastVisitedCellInformation": ("nGRANCell", {
            "globalCellID": ("nR-CGI", ngap.nr_cgi(plmn, source_nci)),
            "cellType": {"cellSize": "small"}, "timeUEStayedInCell": 10})}]})


def target_to_source_container() -> bytes:
    """TS 38.413 §9.3.1.30 Target NG-RAN Node to Source NG-RAN Node Transparent Container."""
    return ngap.encode_ie("TargetNGRANNode-ToSourceNGRANNode-TransparentContainer",
                          {"rRCContainer": handover_command_rrc()})


def required_transfer(direct: bool = True) -> bytes:
    """TS 38.413 §9.3.4.14 Handover Required Transfer: ``direct`` says a direct forwarding
    path to the target is available (directForwardingPathAvailability)."""
    return ngap.encode_ie("HandoverRequiredTransfer",
                          {"directForwardingPathAvailability": "direct-path-available"} if direct else {})


def handover_required(amf_id: int, ran_id: int, target: tuple[str, int, int], tai: tuple[str, int],
                      psis: list[int], container: bytes, direct: bool = True) -> NgapPdu:
    """TS 38.413 §9.2.3.1 HANDOVER REQUIRED: ``target`` is (PLMN, gNB ID, bit length);
    ``direct``: the sessions' transfers offer direct data forwarding."""
    plmn, gnb_id, bits = target
    return NgapPdu("HandoverPreparation", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id, "HandoverType": "intra5gs",
        "Cause": ngap.cause("radioNetwork", "handover-desirable-for-radio-reason"),
        "TargetID": ("targetRANNodeID", {"globalRANNodeID": ngap.global_gnb_id(plmn, gnb_id, bits),
                                         "selectedTAI": ngap.tai(*tai)}),
        "PDUSessionResourceListHORqd": [
            {"pDUSessionID": p, "handoverRequiredTransfer": required_transfer(direct)} for p in psis],
        "SourceToTarget-TransparentContainer": container})


def request_acknowledge_transfer(n3_address: str, teid: int, qfi: int, forwarding_teid: int | None = None) -> bytes:
    """TS 38.413 §9.3.4.11 Handover Request Acknowledge Transfer: the target's downlink tunnel
    and the QoS flow it set up; with ``forwarding_teid`` also its DL forwarding tunnel
    (dLForwardingUP-TNLInformation, on the same N3 address) and forwarding accepted for the
    flow (dataForwardingAccepted)."""
    if forwarding_teid is None:
        return ngap.encode_ie("HandoverRequestAcknowledgeTransfer", {
            "dL-NGU-UP-TNLInformation": ngap.gtp_tunnel(n3_address, teid),
            "qosFlowSetupResponseList": [{"qosFlowIdentifier": qfi}]})
    return ngap.encode_ie("HandoverRequestAcknowledgeTransfer", {
        "dL-NGU-UP-TNLInformation": ngap.gtp_tunnel(n3_address, teid),
        "dLForwardingUP-TNLInformation": ngap.gtp_tunnel(n3_address, forwarding_teid),
        "qosFlowSetupResponseList": [{"qosFlowIdentifier": qfi, "dataForwardingAccepted": "data-forwarding-accepted"}]})


def forwarding_allowed(setup: dict[str, Any]) -> bool:
    """TS 38.413 §8.4.2.2 / §9.3.4.1 on the target: the SMF's setup transfer says a direct
    forwarding path is available and does not say data forwarding is not possible."""
    return (setup.get("DirectForwardingPathAvailability") == "direct-path-available"
            and "DataForwardingNotPossible" not in setup)


def command_forwarding(cmd: NgapPdu) -> dict[int, tuple[str, int]]:
    """TS 38.413 §9.3.4.10 on the source: PSI -> the target's DL forwarding F-TEID of each
    Handover Command Transfer of HANDOVER COMMAND that names one and a QoS flow to forward.
    The transfers come from the SMF through the AMF; one that is unusable (not decodable,
    not IPv4, TEID 0) means no forwarding for that session, never a failed handover."""
    out: dict[int, tuple[str, int]] = {}
    for item in cmd.get("PDUSessionResourceHandoverList") or []:
        try:
            tr = ngap.decode_ie("HandoverCommandTransfer", bytes(item["handoverCommandTransfer"]))
            tnl = tr.get("dLForwardingUP-TNLInformation")
            if tnl is None or not tr.get("qosFlowToBeForwardedList"):
                continue
            ip, teid = ngap.gtp_tunnel_from(tnl)
            ipaddress.IPv4Address(ip)
        except (DecodeError, KeyError, TypeError, ValueError):
            continue
        if teid:
            out[item["pDUSessionID"]] = (ip, teid)
    return out


def handover_request_acknowledge(amf_id: int, ran_id: int, admitted: list[tuple[int, bytes]],
                                 failed: list[tuple[int, tuple[str, str]]] = ()) -> NgapPdu:  # type: ignore[assignment]
    """TS 38.413 §9.2.3.5 HANDOVER REQUEST ACKNOWLEDGE."""
    ies: dict[str, Any] = {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
        "PDUSessionResourceAdmittedList": [{"pDUSessionID": p, "handoverRequestAcknowledgeTransfer": t}
                                           for p, t in admitted],
        "TargetToSource-TransparentContainer": target_to_source_container()}
    if failed:
        ies["PDUSessionResourceFailedToSetupListHOAck"] = [
            {"pDUSessionID": p, "handoverResourceAllocationUnsuccessfulTransfer": ngap.encode_ie(
                "HandoverResourceAllocationUnsuccessfulTransfer", {"cause": ngap.cause(*c)})} for p, c in failed]
    return NgapPdu("HandoverResourceAllocation", "successful", ies)


def handover_failure(amf_id: int, cause: tuple[str, str]) -> NgapPdu:
    """TS 38.413 §9.2.3.6 HANDOVER FAILURE."""
    return NgapPdu("HandoverResourceAllocation", "unsuccessful",
                   {"AMF-UE-NGAP-ID": amf_id, "Cause": ngap.cause(*cause)})


def handover_notify(amf_id: int, ran_id: int, plmn: str, tac: int, nci: int) -> NgapPdu:
    """TS 38.413 §9.2.3.7 HANDOVER NOTIFY: the UE arrived in the target's cell."""
    return NgapPdu("HandoverNotification", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
        "UserLocationInformation": ngap.user_location_nr(plmn, tac, nci)})


def handover_cancel(amf_id: int, ran_id: int) -> NgapPdu:
    """TS 38.413 §9.2.3.11 HANDOVER CANCEL."""
    return NgapPdu("HandoverCancel", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
        "Cause": ngap.cause("radioNetwork", "handover-cancelled")})


def check_n2_security_context(kamf: bytes | None, nh: bytes | None, ncc: int, sc: Any) -> tuple[bytes, int] | None:
    """TS 33.501 §6.9.2.3.3 / Annex A.10 on the UE side of an N2 handover: the {NH, NCC} of
    HANDOVER REQUEST (relayed to the UE in the HandoverCommand), if the UE reaches it by
    chaining NH from its stored SYNC-input (``nh``, at ``ncc``). Unlike a path switch the AMF
    may have spent pairs on handovers that were cancelled, so the UE chains forward as many
    steps as the NCCs differ (at most 7, the NCC being 3 bits); None when it cannot match."""
    try:
        want_ncc = int(sc["nextHopChainingCount"])
        want = int(sc["nextHopNH"][0]).to_bytes(32, "big")
    except (KeyError, TypeError, IndexError, OverflowError, AttributeError, ValueError):
        return None
    if kamf is None or nh is None:
        return None
    steps = (want_ncc - ncc) & 7
    if steps == 0:
        return None  # a pair already used: the AMF never sends one twice
    cur = nh
    for _ in range(steps):
        cur = kdf.nh(kamf, cur)
    return (cur, want_ncc) if cur == want else None


# --- the simulator's procedure -------------------------------------------------------------------


@dataclass(eq=False)
class _Incoming:
    """A UE the target expects by HANDOVER REQUEST (the source's preparation, simulated: the UE's
    context would reach the target in the Source to Target Transparent Container)."""

    ru: RanUe
    pairs: list[Any]
    up: Any
    new_id: int | None = None
    pair: tuple[bytes, int] | None = None
    uplink: dict[int, tuple[str, int]] = field(default_factory=dict)
    released: frozenset[int] = frozenset()
    #: direct data forwarding offered (module docstring)
    forwarding: bool = True


@dataclass(eq=False)
class GnbN2State:
    """Per gNB endpoint (``Gnb.n2``): what its handovers wait for."""

    #: AMF UE NGAP ID -> the UE this gNB, as target, expects
    incoming: dict[int, _Incoming] = field(default_factory=dict)
    #: RAN UE NGAP ID -> the HANDOVER COMMAND / PREPARATION FAILURE this gNB, as source, awaits
    commands: dict[int, asyncio.Future[NgapPdu]] = field(default_factory=dict)
    #: RAN UE NGAP ID -> the HANDOVER CANCEL ACKNOWLEDGE it awaits
    cancels: dict[int, asyncio.Future[NgapPdu]] = field(default_factory=dict)


#: the procedures :func:`on_gnb_pdu` takes
PROCEDURES = frozenset({"HandoverPreparation", "HandoverResourceAllocation", "HandoverCancel"})


def on_gnb_pdu(gnb: Gnb, pdu: NgapPdu) -> None:
    """An N2 handover PDU from the AMF to ``gnb`` (called by ``Gnb.on_ngap``)."""
    st: GnbN2State = gnb.n2
    key = (pdu.procedure, pdu.kind)
    if key == ("HandoverResourceAllocation", "initiating"):
        _on_handover_request(gnb, st, pdu)
        return
    ran_id = pdu.get("RAN-UE-NGAP-ID")
    waiting = st.cancels if pdu.procedure == "HandoverCancel" else st.commands
    fut = waiting.get(ran_id) if isinstance(ran_id, int) and pdu.procedure != "HandoverResourceAllocation" else None
    if fut is not None and not fut.done():
        fut.set_result(pdu)


def _on_handover_request(gnb: Gnb, st: GnbN2State, pdu: NgapPdu) -> None:
    """TS 38.413 §8.4.2.2 on the target: check the {NH, NCC}, allocate a RAN UE NGAP ID and
    answer with the downlink tunnels prepared for the UE, or HANDOVER FAILURE."""
    amf_id = pdu.get("AMF-UE-NGAP-ID")
    inc = st.incoming.get(amf_id) if isinstance(amf_id, int) else None

    def fail(cause: tuple[str, str]) -> None:
        gnb.send(ngap.encode(handover_failure(amf_id if isinstance(amf_id, int) else 0, cause)), 0)

    if inc is None:
        fail(("radioNetwork", "unknown-local-UE-NGAP-ID"))
        return
    ru = inc.ru
    pair = check_n2_security_context(ru.ue.kamf, ru.nh, ru.ncc, pdu.get("SecurityContext"))
    if pair is None:
        gnb.stats.nh_mismatch += 1
        log.warning("event=nh_mismatch gnb_id=%d amf_ue_ngap_id=%s", gnb.cfg.gnb_id, amf_id)
        fail(("radioNetwork", "unspecified"))
        return
    admitted: list[tuple[int, bytes]] = []
    wanted: set[int] = set()
    direct: set[int] = set()
    for item in pdu.get("PDUSessionResourceSetupListHOReq") or []:
        psi = item["pDUSessionID"]
        try:
            tr = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", bytes(item["handoverRequestTransfer"]))
            inc.uplink[psi] = ngap.gtp_tunnel_from(tr["UL-NGU-UP-TNLInformation"])
        except (DecodeError, KeyError, TypeError, ValueError):
            continue
        wanted.add(psi)
        if inc.forwarding and forwarding_allowed(tr):
            direct.add(psi)
    for _t, t2 in inc.pairs:
        if t2.psi in wanted:
            fwd = inc.up.prepare_forwarding(t2) if t2.psi in direct else None
            admitted.append((t2.psi, request_acknowledge_transfer(inc.up.n3_address, t2.dl_teid, t2.qfi, fwd)))
    if not admitted:
        fail(("radioNetwork", "unspecified"))
        return
    inc.released = frozenset(t.psi for t, _t2 in inc.pairs if t.psi not in wanted)
    inc.pair = pair
    inc.new_id = new_id = gnb.take_ran_id()
    gnb.connected[new_id] = ru  # the target holds the UE's context from here
    gnb.send(ngap.encode(handover_request_acknowledge(amf_id, new_id, admitted)), 1)


async def n2_handover(ru: RanUe, target: Gnb | GnbNode, timeout: float = 10.0, cancel: bool = False,
                      forwarding: bool = True) -> NgapPdu:
    """Hand the CM-CONNECTED UE ``ru`` from its gNB to ``target`` by N2 (TS 23.502 §4.9.1.3):
    HANDOVER REQUIRED from the source, the target's answer to the AMF's HANDOVER REQUEST, and
    on HANDOVER COMMAND the UE "moves" (its user plane goes through the target) and the target
    sends HANDOVER NOTIFY; the source answers the AMF's UE Context Release Command. Returns the
    HANDOVER COMMAND. With ``cancel`` the source cancels after the command instead (HANDOVER
    CANCEL) and the UE stays. With ``forwarding`` (the default) the source offers direct data
    forwarding and, when the command gives a forwarding tunnel, sends the target the downlink
    that still reaches it (module docstring); without, that downlink is lost as before.
    Raises :class:`fivecore.ran.handover.HandoverFailed`."""
    from fivecore.ran.handover import HandoverFailed, prepare_move

    source, link, owner, up_src, up_dst, pairs = prepare_move(ru, target, "to hand over")
    amf_id, old_id = ru.amf_id, ru.ran_id
    inc = _Incoming(ru, pairs, up_dst, forwarding=forwarding)
    link.n2.incoming[amf_id] = inc
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[NgapPdu] = loop.create_future()
    source.n2.commands[old_id] = fut
    c, t = source.cfg, link.cfg
    required = handover_required(amf_id, old_id, (t.plmn, t.gnb_id, t.gnb_id_bits), (t.plmn, t.tac),
                                 [t2.psi for _t, t2 in pairs], source_to_target_container(t.plmn, t.nci, c.nci),
                                 direct=forwarding)

    def undo() -> None:
        owner.abort_handover(up_dst, pairs)
        if inc.new_id is not None and link.connected.get(inc.new_id) is ru:
            del link.connected[inc.new_id]

    try:
        source.send(ngap.encode(required), 1)
        try:
            cmd = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            undo()
            raise HandoverFailed("no answer to HANDOVER REQUIRED") from None
        if cmd.kind != "successful" or inc.new_id is None or inc.pair is None:
            undo()
            source.stats.path_switch_failures += 1
            raise HandoverFailed(f"handover preparation failed: {cmd.get('Cause')}", cmd.get("Cause"))
        if cancel:
            cfut: asyncio.Future[NgapPdu] = loop.create_future()
            source.n2.cancels[old_id] = cfut
            try:
                source.send(ngap.encode(handover_cancel(amf_id, old_id)), 1)
                await asyncio.wait_for(cfut, timeout)
            finally:
                source.n2.cancels.pop(old_id, None)
            # the AMF releases the target's connection (UE Context Release Command to it)
            owner.abort_handover(up_dst, pairs)
            return cmd
        # the UE follows the command (simulated RRC) and arrives at the target
        ru.ran_id, ru.gnb, ru.ids = inc.new_id, link, None
        ru.nh, ru.ncc = inc.pair
        # TS 38.300 §9.2.3.2.3: from the command on, the source forwards what still reaches it
        fwd = command_forwarding(cmd) if forwarding else {}
        owner.commit_handover(ru, up_src, up_dst, pairs, inc.released, inc.uplink, fwd)
        link.send(ngap.encode(handover_notify(amf_id, inc.new_id, t.plmn, t.tac, t.nci)), 1)
        source.stats.handovers_out += 1
        link.stats.handovers_in += 1
        log.info("event=n2_handover from_gnb=%d to_gnb=%d amf_ue_ngap_id=%d ncc=%d",
                 c.gnb_id, t.gnb_id, amf_id, ru.ncc)
        return cmd
    finally:
        source.n2.commands.pop(old_id, None)
        link.n2.incoming.pop(amf_id, None)


__all__ = ["GnbN2State", "n2_handover", "on_gnb_pdu", "check_n2_security_context", "command_forwarding",
           "forwarding_allowed", "handover_cancel", "handover_command_rrc", "handover_failure",
           "handover_notify", "handover_preparation_information", "handover_request_acknowledge",
           "handover_required", "request_acknowledge_transfer", "required_transfer", "source_to_target_container",
           "target_to_source_container"]
