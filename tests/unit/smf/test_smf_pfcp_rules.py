"""N4 messages the SMF builds (TS 29.244), checked after a round trip through the codec, and the
UPF's own procedures (fivecore.nf.upf) accepting them: the rules are shaped as a Rel-16 UPF
expects (ARCHITECTURE.md)."""

from __future__ import annotations

import pytest

from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import SmfContext
from fivecore.wire import pfcp


def _sm():
    ctx = SmfContext()
    sm = ctx.new("imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.ue_ipv4 = "10.45.0.9"
    sm.ambr_ul, sm.ambr_dl = 10_000_000, 20_000_000
    return sm


def test_establishment_rules_are_rel16_shaped() -> None:
    sm = _sm()
    req = pfcp.decode(pfcp.encode(smf_pfcp.session_establishment(sm, seq=7, node_id="127.0.0.4",
                                                                 cp_ip="127.0.0.4")))
    assert req.msg_type == "SessionEstablishmentRequest" and req.seid == 0 and req.seq == 7
    assert req.f_seid.seid == sm.local_seid and req.f_seid.ipv4 == "127.0.0.4"
    pdrs = {p.pdr_id: p for p in req.ies.all("create_pdr")}
    ul, dl = pdrs[1], pdrs[2]
    assert ul.pdi.source_interface == pfcp.IF_ACCESS and ul.pdi.tgpp_interface_type == pfcp.IFTYPE_N3_3GPP
    assert ul.pdi.f_teid.ch and ul.pdi.f_teid.ch_v4
    assert ul.pdi.ue_ip_address.ipv4 == "10.45.0.9" and not ul.pdi.ue_ip_address.destination
    assert ul.outer_header_removal.description == 0
    assert dl.pdi.source_interface == pfcp.IF_CORE and dl.pdi.tgpp_interface_type == pfcp.IFTYPE_N6
    assert dl.pdi.ue_ip_address.destination
    fars = {f.far_id: f for f in req.ies.all("create_far")}
    for f in fars.values():
        assert f.apply_action.octets == 2, "Apply Action is 2 octets since Rel-16"
        assert f.forwarding_parameters.destination_interface is not None
    assert fars[1].apply_action & pfcp.APPLY_FORW
    assert fars[2].apply_action & pfcp.APPLY_BUFF, "downlink buffers until the gNB tunnel is known"
    qer = req.ies.all("create_qer")[0]
    assert (qer.mbr.ul, qer.mbr.dl) == (10_000, 20_000) and qer.qfi == 1
    urr = req.ies.all("create_urr")[0]
    assert urr.measurement_method & pfcp.MEASURE_VOLUM


def test_activate_downlink_points_far2_at_the_gnb() -> None:
    sm = _sm()
    sm.upf_seid, sm.dl_teid, sm.dl_ip = 0x55, 0xABCD, "127.0.0.1"
    m = pfcp.decode(pfcp.encode(smf_pfcp.activate_downlink(sm, seq=3)))
    assert m.seid == 0x55
    far = m.ies.all("update_far")[0]
    assert far.far_id == 2 and far.apply_action & pfcp.APPLY_FORW and far.apply_action.octets == 2
    ohc = far.update_forwarding_parameters.outer_header_creation
    assert ohc.teid == 0xABCD and ohc.ipv4 == "127.0.0.1"
    assert far.update_forwarding_parameters.tgpp_interface_type == pfcp.IFTYPE_N3_3GPP


def test_establishment_response_parsing_and_refusal() -> None:
    ok = pfcp.PfcpMessage.build(
        "SessionEstablishmentResponse", seq=1, seid=9, node_id=pfcp.NodeId.ipv4("127.0.0.7"),
        cause=pfcp.CAUSE_ACCEPTED, f_seid=pfcp.FSeid(0x77, "127.0.0.7"),
        created_pdr=[pfcp.Ies(pdr_id=1, f_teid=pfcp.FTeid(0x1234, "127.0.0.7"))])
    assert smf_pfcp.parse_establishment_response(pfcp.decode(pfcp.encode(ok))) == (0x77, 0x1234, "127.0.0.7")
    bad = pfcp.PfcpMessage.build("SessionEstablishmentResponse", seq=1, seid=9,
                                 cause=pfcp.CAUSE_RULE_CREATION_FAILURE, offending_ie=1)
    with pytest.raises(smf_pfcp.PfcpFailure) as ei:
        smf_pfcp.parse_establishment_response(bad)
    assert ei.value.cause == pfcp.CAUSE_RULE_CREATION_FAILURE
    missing = pfcp.PfcpMessage.build("SessionEstablishmentResponse", seq=1, seid=9, cause=1,
                                     f_seid=pfcp.FSeid(1, "127.0.0.7"))
    with pytest.raises(smf_pfcp.PfcpFailure):
        smf_pfcp.parse_establishment_response(missing)


def test_the_upf_accepts_what_the_smf_builds() -> None:
    """The UPF's PFCP node (fivecore.nf.upf) takes our establishment and modification."""
    node_mod = pytest.importorskip("fivecore.nf.upf.pfcp_server")
    from fivecore.nf.upf.context import UpfContext

    ctx = UpfContext("127.0.0.7", 2152)
    node = node_mod.PfcpNode(ctx, "127.0.0.7")
    peer = ("127.0.0.4", 8805)
    assoc = pfcp.PfcpMessage.build("AssociationSetupRequest", seq=1, node_id=pfcp.NodeId.ipv4("127.0.0.4"),
                                   recovery_time_stamp=pfcp.ntp_now())
    outs = node.datagram_received(pfcp.encode(assoc), peer, 0.0)
    rsp = pfcp.decode(outs[0][0])
    assert rsp.cause == pfcp.CAUSE_ACCEPTED
    sm = _sm()
    outs = node.datagram_received(pfcp.encode(smf_pfcp.session_establishment(
        sm, seq=2, node_id="127.0.0.4", cp_ip="127.0.0.4")), peer, 0.0)
    rsp = pfcp.decode(outs[0][0])
    sm.upf_seid, sm.ul_teid, sm.ul_ip = smf_pfcp.parse_establishment_response(rsp)
    assert rsp.seid == sm.local_seid
    sm.dl_teid, sm.dl_ip = 0x99, "127.0.0.1"
    outs = node.datagram_received(pfcp.encode(smf_pfcp.activate_downlink(sm, seq=3)), peer, 0.0)
    rsp = pfcp.decode(outs[0][0])
    assert rsp.cause == pfcp.CAUSE_ACCEPTED
    outs = node.datagram_received(pfcp.encode(smf_pfcp.session_deletion(sm, seq=4)), peer, 0.0)
    rsp = pfcp.decode(outs[0][0])
    assert rsp.msg_type == "SessionDeletionResponse" and rsp.cause == pfcp.CAUSE_ACCEPTED
