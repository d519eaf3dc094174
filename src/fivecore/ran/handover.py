"""Xn-based inter-gNB handover in the simulator (TS 23.502 §4.9.1.2.2, TS 38.413 §8.4.4,
TS 33.501 §6.9.2.3.3).

Both gNBs live in this process, so Xn is modelled by function calls (no XnAP on the wire):
the source hands the UE's context to the target (Handover Request / Acknowledge, TS 38.423
§8.2.1, and the RRC reconfiguration the UE follows), the target prepares a tunnel of its own
per PDU session (:meth:`fivecore.ran.userplane.UserPlane.prepare_handover`) and sends the
AMF the one message of the procedure that crosses N2: PATH SWITCH REQUEST, with its RAN UE
NGAP ID, the source's AMF UE NGAP ID, its cell, the UE's security capabilities and a Path
Switch Request Transfer per session (its N3 address and new downlink TEID, the QoS flows it
accepted). On the Acknowledge the UE is the target's: its NG connection, NGAP IDs and user
plane (uplink from its interfaces now leaves through the target's GTP-U endpoint); the source
drops its context (UE Context Release over Xn). The UE checks the {NH, NCC} of the
Acknowledge's Security Context against its own derivation (Annex A.10 from its KgNB, then its
previous NH), as the gNB checks KgNB at Initial Context Setup; a mismatch is counted
(``GnbStats.nh_mismatch``) and makes the handover fail, since the UE could not derive the
keys of its next handover.
"""

from __future__ import annotations

import logging
from typing import Any

from fivecore.errors import FivecoreError
from fivecore.ran.gnb import Gnb, GnbNode, RanUe
from fivecore.security import kdf
from fivecore.wire import ngap
from fivecore.wire.errors import DecodeError
from fivecore.wire.ngap import NgapPdu

log = logging.getLogger("fivecore.ran.handover")


class HandoverFailed(FivecoreError):
    """The Xn handover did not complete (the UE stays with the source gNB)."""

    def __init__(self, msg: str, cause: Any = None) -> None:
        super().__init__(msg)
        self.cause = cause


def target_link(ru: RanUe, target: Gnb | GnbNode) -> Gnb:
    """The target's N2 endpoint towards the UE's AMF: an Xn handover keeps the AMF
    (TS 23.502 §4.9.1.2.2; AMF re-allocation would be an N2 handover)."""
    if isinstance(target, Gnb):
        return target
    src = ru.gnb.cfg
    for link in target.links:
        if (link.cfg.amf_host, link.cfg.amf_port) == (src.amf_host, src.amf_port):
            return link
    raise HandoverFailed("the target gNB has no NG connection to the UE's AMF")


def switch_transfer(n3_address: str, teid: int, qfi: int) -> bytes:
    """TS 38.413 §9.3.4.8 Path Switch Request Transfer: the target's downlink tunnel and the
    QoS flow it accepted."""
    return ngap.encode_ie("PathSwitchRequestTransfer", {
        "dL-NGU-UP-TNLInformation": ngap.gtp_tunnel(n3_address, teid),
        "qosFlowAcceptedList": [{"qosFlowIdentifier": qfi}]})


def check_security_context(ru: RanUe, sc: Any) -> tuple[bytes, int] | None:
    """TS 33.501 §6.9.2.3.3 on the UE side: the {NH, NCC} the AMF sent, if it equals the UE's
    own next NH (Annex A.10 from its stored SYNC-input) for the next NCC; else None."""
    kamf = ru.ue.kamf
    try:
        ncc = sc["nextHopChainingCount"]
        nh = sc["nextHopNH"][0].to_bytes(32, "big")
    except (KeyError, TypeError, IndexError, OverflowError, AttributeError):
        return None
    if kamf is None or ru.nh is None or ncc != (ru.ncc + 1) & 7:
        return None
    return (nh, ncc) if kdf.nh(kamf, ru.nh) == nh else None


def prepare_move(ru: RanUe, target: Gnb | GnbNode, what: str
                 ) -> tuple[Gnb, Gnb, Any, Any, Any, list[Any]]:
    """What an Xn and an N2 handover check before anything is sent, and the target's tunnels
    prepared for the UE's sessions: ``(source, target link, the UserPlane, the source's and
    the target's GnbUserPlane, (old, new) tunnel pairs)``. Raises :class:`HandoverFailed`
    (nothing prepared) when the UE or the target cannot take part; ``what`` ends the message
    for a UE without a session ("to switch", "to hand over")."""
    source = ru.gnb
    link = target_link(ru, target)
    if ru.ran_id is None or ru.amf_id is None or not ru.ue.connected:
        raise HandoverFailed("the UE has no NG connection (CM-IDLE)")
    if not ru.kgnb_ok or ru.nh is None:
        raise HandoverFailed("the UE has no AS security context")
    if link is source or (source.node is not None and source.node is link.node):
        raise HandoverFailed("the UE is already served by that gNB")
    if not link.ready:
        raise HandoverFailed("the target gNB has no NG connection")
    up_src, up_dst = source.user_plane, link.user_plane
    owner = up_src.owner if up_src is not None else None
    if owner is None or up_dst is None or up_dst.owner is not owner:
        raise HandoverFailed("both gNBs need a user plane of the same simulator")
    pairs = owner.prepare_handover(ru, up_dst)
    if not pairs:
        # TS 38.413 §9.2.3.8 / §9.2.3.1: a path switch or handover lists at least one session
        raise HandoverFailed(f"the UE has no PDU session with a user plane {what}")
    return source, link, owner, up_src, up_dst, pairs


async def xn_handover(ru: RanUe, target: Gnb | GnbNode, timeout: float = 10.0) -> NgapPdu:
    """Hand the CM-CONNECTED UE ``ru`` from its gNB to ``target`` (module docstring); returns
    the Path Switch Request Acknowledge. Raises :class:`HandoverFailed` (the UE stays with
    the source) when the UE or the target cannot, or the AMF refuses the path switch."""
    source, link, owner, up_src, up_dst, pairs = prepare_move(ru, target, "to switch")
    new_id = link.take_ran_id()
    link.connected[new_id] = ru  # the target holds the UE's context from the Xn preparation
    p = ru.ue.profile
    items = [{"pDUSessionID": t2.psi, "pathSwitchRequestTransfer": switch_transfer(up_dst.n3_address, t2.dl_teid, t2.qfi)}
             for _t, t2 in pairs]
    try:
        pdu = await link.path_switch(new_id, ru.amf_id, items, tuple(p.nea), tuple(p.nia), timeout)
    except TimeoutError:
        pdu = None
    ok = pdu is not None and pdu.kind == "successful"
    pair = check_security_context(ru, pdu["SecurityContext"]) if ok and pdu is not None else None
    if not ok or pair is None:
        owner.abort_handover(up_dst, pairs)
        if link.connected.get(new_id) is ru:
            del link.connected[new_id]
        if ok:
            link.stats.nh_mismatch += 1
            log.warning("event=nh_mismatch gnb_id=%d amf_ue_ngap_id=%s", link.cfg.gnb_id, ru.amf_id)
            raise HandoverFailed("the AMF's {NH, NCC} does not match the UE's derivation")
        cause = _failure_cause(pdu)
        link.stats.path_switch_failures += 1
        raise HandoverFailed(f"path switch refused: {cause}" if pdu is not None else "no answer to the path switch",
                             cause)
    assert pdu is not None
    released = frozenset(i["pDUSessionID"] for i in pdu.get("PDUSessionResourceReleasedListPSAck") or [])
    uplink: dict[int, tuple[str, int]] = {}
    for item in pdu["PDUSessionResourceSwitchedList"]:
        try:
            tr = ngap.decode_ie("PathSwitchRequestAcknowledgeTransfer", _octets(item["pathSwitchRequestAcknowledgeTransfer"]))
            tnl = tr.get("uL-NGU-UP-TNLInformation")
            if tnl is not None:
                uplink[item["pDUSessionID"]] = ngap.gtp_tunnel_from(tnl)
        except (DecodeError, KeyError, TypeError, ValueError):
            link.stats.path_switch_bad_transfer += 1
    # the UE is the target's: NG connection, keys for the next handover, user plane
    old_id = ru.ran_id
    if source.connected.get(old_id) is ru:
        del source.connected[old_id]
    ru.ran_id, ru.amf_id, ru.gnb, ru.ids = new_id, pdu["AMF-UE-NGAP-ID"], link, None
    ru.nh, ru.ncc = pair
    owner.commit_handover(ru, up_src, up_dst, pairs, released, uplink)
    source.stats.handovers_out += 1
    link.stats.handovers_in += 1
    log.info("event=xn_handover from_gnb=%d to_gnb=%d amf_ue_ngap_id=%d ncc=%d released=%s",
             source.cfg.gnb_id, link.cfg.gnb_id, ru.amf_id, ru.ncc, sorted(released))
    return pdu


def _octets(v: Any) -> bytes:
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    raise DecodeError("transfer is not an OCTET STRING", -1, "NGAP")


def _failure_cause(pdu: NgapPdu | None) -> Any:
    """The cause of the first released session of a PATH SWITCH REQUEST FAILURE."""
    if pdu is None:
        return None
    try:
        item = pdu["PDUSessionResourceReleasedListPSFail"][0]
        return ngap.decode_ie("PathSwitchRequestUnsuccessfulTransfer",
                              _octets(item["pathSwitchRequestUnsuccessfulTransfer"]))["cause"]
    except (DecodeError, KeyError, TypeError, IndexError):
        return None
