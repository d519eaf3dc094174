"""The UPF's N4 state machine with plain calls: PFCP bytes in, PFCP bytes out (TS 29.244)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.upf.context import ACT_DROP, ACT_FORWARD, UpfContext, ipv4_to_int
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.wire import pfcp
from fivecore.wire.pfcp import FSeid, FTeid, Ies, NodeId, PfcpMessage

CP = ("127.0.0.4", 8805)
UE = "10.45.0.2"
UE_INT = ipv4_to_int(UE)


class Smf:
    """A CP node driving the UPF with encoded PFCP, as an SMF would."""

    def __init__(self, node: PfcpNode, recovery: int = 1000) -> None:
        self.node = node
        self.seq = 0
        self.recovery = recovery
        self.now = 0.0

    def send(self, msg: PfcpMessage) -> list[PfcpMessage]:
        self.now += 0.001
        out = self.node.datagram_received(pfcp.encode(msg), CP, self.now)
        return [pfcp.decode(d) for d, addr in out if addr == CP]

    def request(self, name: str, seid: int | None = None, **ies: object) -> PfcpMessage:
        self.seq += 1
        rsp = self.send(PfcpMessage.build(name, seq=self.seq, seid=seid, **ies))
        assert len(rsp) == 1 and rsp[0].seq == self.seq
        return rsp[0]

    def associate(self) -> PfcpMessage:
        return self.request("AssociationSetupRequest", node_id=NodeId.ipv4(CP[0]),
                            recovery_time_stamp=self.recovery)

    def establish(self, cp_seid: int = 1, ue: str = UE, mbr_kbps: int | None = None,
                  threshold: int | None = None, dl_teid: int = 0x2000) -> PfcpMessage:
        return self.request(
            "SessionEstablishmentRequest", seid=0, node_id=NodeId.ipv4(CP[0]),
            f_seid=FSeid(cp_seid, CP[0]),
            create_pdr=[
                Ies(pdr_id=1, precedence=255,
                    pdi=Ies(source_interface=pfcp.IF_ACCESS, f_teid=FTeid.choose(),
                            network_instance="internet",
                            ue_ip_address=pfcp.UeIpAddress(ipv4=ue), qfi=1,
                            tgpp_interface_type=pfcp.IFTYPE_N3_3GPP),
                    outer_header_removal=pfcp.OuterHeaderRemoval(0), far_id=1, qer_id=1,
                    urr_id=1),
                Ies(pdr_id=2, precedence=255,
                    pdi=Ies(source_interface=pfcp.IF_CORE, network_instance="internet",
                            ue_ip_address=pfcp.UeIpAddress(ipv4=ue, destination=True),
                            tgpp_interface_type=pfcp.IFTYPE_N6),
                    far_id=2, qer_id=1, urr_id=1)],
            create_far=[
                Ies(far_id=1, apply_action=pfcp.APPLY_FORW,
                    forwarding_parameters=Ies(destination_interface=pfcp.IF_CORE,
                                              tgpp_interface_type=pfcp.IFTYPE_N6)),
                Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                    forwarding_parameters=Ies(
                        destination_interface=pfcp.IF_ACCESS,
                        outer_header_creation=pfcp.OuterHeaderCreation.gtpu(dl_teid, "10.200.1.2"),
                        tgpp_interface_type=pfcp.IFTYPE_N3_3GPP))],
            create_qer=[Ies(qer_id=1, gate_status=pfcp.GateStatus(), qfi=1,
                            mbr=pfcp.Bitrate(mbr_kbps, mbr_kbps) if mbr_kbps else None)],
            create_urr=[Ies(urr_id=1, measurement_method=pfcp.MEASURE_VOLUM,
                            reporting_triggers=pfcp.Flags(
                                pfcp.TRIGGER_VOLTH if threshold else 0, 3),
                            volume_threshold=pfcp.Volume(total=threshold) if threshold else None)],
            pdn_type=1)


@pytest.fixture
def ctx() -> UpfContext:
    return UpfContext("10.200.1.1")


@pytest.fixture
def smf(ctx: UpfContext) -> Smf:
    return Smf(PfcpNode(ctx, "127.0.0.7", recovery_ts=5555, now=0.0))


def test_association_setup_advertises_ftup(smf: Smf) -> None:
    rsp = smf.associate()
    assert rsp.msg_type == "AssociationSetupResponse"
    assert rsp.cause == pfcp.CAUSE_ACCEPTED
    assert rsp.node_id == NodeId.ipv4("127.0.0.7")
    assert rsp.recovery_time_stamp == 5555
    assert rsp.up_function_features & 0x10  # FTUP


def test_heartbeat(smf: Smf) -> None:
    rsp = smf.request("HeartbeatRequest", recovery_time_stamp=1)
    assert rsp.msg_type == "HeartbeatResponse" and rsp.recovery_time_stamp == 5555


def test_establishment_creates_pdrs_fars_qers(smf: Smf, ctx: UpfContext) -> None:
    smf.associate()
    rsp = smf.establish(cp_seid=42, mbr_kbps=10_000)
    assert rsp.msg_type == "SessionEstablishmentResponse"
    assert rsp.seid == 42 and rsp.cause == pfcp.CAUSE_ACCEPTED
    up_seid = rsp.f_seid.seid
    session = ctx.sessions[up_seid]
    assert set(session.pdrs) == {1, 2} and set(session.fars) == {1, 2}
    assert set(session.qers) == {1} and set(session.urrs) == {1}
    created = rsp.ies.all("created_pdr")
    assert len(created) == 1 and created[0].pdr_id == 1
    teid = created[0].f_teid.teid
    assert created[0].f_teid.ipv4 == "10.200.1.1"
    ul = ctx.ul_by_teid[teid]
    assert ul.action == ACT_FORWARD and ul.ue_ip == UE_INT
    assert ul.buckets[0].rate_bps == 10_000_000
    assert ctx.dl_by_ue[UE_INT].peer == ("10.200.1.2", 2152)


def test_establishment_without_association(smf: Smf) -> None:
    rsp = smf.establish()
    assert rsp.cause == pfcp.CAUSE_NO_ESTABLISHED_ASSOCIATION


def test_missing_mandatory_ie_gets_cause_66_with_offending_ie(smf: Smf) -> None:
    smf.associate()
    rsp = smf.request("SessionEstablishmentRequest", seid=0, node_id=NodeId.ipv4(CP[0]),
                      create_pdr=[Ies(pdr_id=1)])
    assert rsp.cause == pfcp.CAUSE_MANDATORY_IE_MISSING
    assert rsp.offending_ie == pfcp.IE_NAMES["f_seid"]
    rsp = smf.request("AssociationSetupRequest", node_id=NodeId.ipv4(CP[0]))
    assert rsp.cause == pfcp.CAUSE_MANDATORY_IE_MISSING
    assert rsp.offending_ie == pfcp.IE_NAMES["recovery_time_stamp"]


def test_modification_updates_downlink_far_and_queues_end_marker(smf: Smf,
                                                                 ctx: UpfContext) -> None:
    smf.associate()
    up_seid = smf.establish(cp_seid=9).f_seid.seid
    rsp = smf.request(
        "SessionModificationRequest", seid=up_seid,
        update_far=[Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                        update_forwarding_parameters=Ies(
                            destination_interface=pfcp.IF_ACCESS,
                            outer_header_creation=pfcp.OuterHeaderCreation.gtpu(0x3000, "10.200.1.9"),
                            pfcpsmreq_flags=pfcp.Flags(0x02, 1)))])
    assert rsp.msg_type == "SessionModificationResponse"
    assert rsp.seid == 9 and rsp.cause == pfcp.CAUSE_ACCEPTED
    dl = ctx.dl_by_ue[UE_INT]
    assert dl.peer == ("10.200.1.9", 2152) and dl.teid == 0x3000
    assert smf.node.take_end_markers() == [(0x2000, ("10.200.1.2", 2152))]


def test_modification_of_unknown_session(smf: Smf) -> None:
    smf.associate()
    rsp = smf.request("SessionModificationRequest", seid=0xBAD)
    assert rsp.cause == pfcp.CAUSE_SESSION_CONTEXT_NOT_FOUND and rsp.seid == 0


def test_deletion_returns_usage_report(smf: Smf, ctx: UpfContext) -> None:
    smf.associate()
    up_seid = smf.establish(cp_seid=3).f_seid.seid
    urr = ctx.sessions[up_seid].urrs[1]
    urr.ul_bytes, urr.ul_pkts, urr.dl_bytes, urr.dl_pkts = 1500, 3, 600, 2
    rsp = smf.request("SessionDeletionRequest", seid=up_seid)
    assert rsp.msg_type == "SessionDeletionResponse" and rsp.cause == pfcp.CAUSE_ACCEPTED
    assert rsp.seid == 3
    rep = rsp.ies.all("usage_report_deletion")
    assert len(rep) == 1 and rep[0].urr_id == 1
    vol = rep[0].volume_measurement
    assert (vol.total, vol.ul, vol.dl, vol.ul_packets, vol.dl_packets) == (2100, 1500, 600, 3, 2)
    assert rep[0].usage_report_trigger & 0x0800  # TERMR
    assert not ctx.sessions and not ctx.ul_by_teid and not ctx.dl_by_ue
    assert smf.node.take_end_markers() == [(0x2000, ("10.200.1.2", 2152))]


def test_volume_threshold_triggers_session_report(smf: Smf, ctx: UpfContext) -> None:
    smf.associate()
    up_seid = smf.establish(cp_seid=77, threshold=1000).f_seid.seid
    session = ctx.sessions[up_seid]
    urr = session.urrs[1]
    assert urr.armed
    urr.ul_bytes = 1200  # what the datapath does, then it queues the event:
    urr.armed = False
    ctx.urr_events.append((session, urr))
    out = smf.node.poll(1.0)
    assert len(out) == 1 and out[0][1] == CP
    req = pfcp.decode(out[0][0])
    assert req.msg_type == "SessionReportRequest" and req.seid == 77
    assert req.report_type & pfcp.REPORT_USAR
    ur = req.ies.all("usage_report")[0]
    assert ur.volume_measurement.ul == 1200 and ur.usage_report_trigger & pfcp.TRIGGER_VOLTH
    assert urr.armed and urr.ul_bytes == 0
    # Unanswered, it is retransmitted after T1; answered, it stops.
    again = smf.node.poll(1.0 + smf.node.t1 + 0.1)
    assert [d for d, _ in again] == [out[0][0]]
    ack = PfcpMessage.build("SessionReportResponse", seq=req.seq, seid=up_seid,
                            cause=pfcp.CAUSE_ACCEPTED)
    assert smf.node.datagram_received(pfcp.encode(ack), CP, 5.0) == []
    assert smf.node.poll(6.0) == []  # before the first heartbeat is due


def test_reassociation_with_new_recovery_timestamp_drops_sessions(smf: Smf,
                                                                  ctx: UpfContext) -> None:
    smf.associate()
    smf.establish(cp_seid=1)
    smf.associate()  # same stamp: a repeated setup keeps the sessions
    assert len(ctx.sessions) == 1
    smf.recovery = 2000
    assert smf.associate().cause == pfcp.CAUSE_ACCEPTED
    assert not ctx.sessions and not ctx.ul_by_teid


def test_retransmitted_request_gets_cached_response(smf: Smf, ctx: UpfContext) -> None:
    smf.associate()
    msg = PfcpMessage.build("SessionDeletionRequest", seq=900, seid=12345)
    a = smf.node.datagram_received(pfcp.encode(msg), CP, 1.0)
    b = smf.node.datagram_received(pfcp.encode(msg), CP, 1.1)
    assert a == b


def test_association_release(smf: Smf, ctx: UpfContext) -> None:
    smf.associate()
    smf.establish()
    rsp = smf.request("AssociationReleaseRequest", node_id=NodeId.ipv4(CP[0]))
    assert rsp.cause == pfcp.CAUSE_ACCEPTED and not ctx.sessions


def test_gate_closed_by_update_qer(smf: Smf, ctx: UpfContext) -> None:
    smf.associate()
    rsp = smf.establish()
    teid = rsp.ies.all("created_pdr")[0].f_teid.teid
    smf.request("SessionModificationRequest", seid=rsp.f_seid.seid,
                update_qer=[Ies(qer_id=1, gate_status=pfcp.GateStatus(ul=1, dl=1))])
    assert ctx.ul_by_teid[teid].action == ACT_DROP
    assert ctx.dl_by_ue[UE_INT].action == ACT_DROP


# -- malformed input ---------------------------------------------------------------------------


def _establishment_bytes(smf: Smf) -> bytes:
    smf.associate()
    return pfcp.encode(PfcpMessage.build(
        "SessionEstablishmentRequest", seq=4242, seid=0, node_id=NodeId.ipv4(CP[0]),
        f_seid=FSeid(1, CP[0]),
        create_pdr=[Ies(pdr_id=1, precedence=1, pdi=Ies(source_interface=0), far_id=1)],
        create_far=[Ies(far_id=1, apply_action=pfcp.APPLY_FORW)]))


def test_bad_ie_length_gets_cause_and_offending_ie(smf: Smf) -> None:
    data = bytearray(_establishment_bytes(smf))
    # Node ID is the first IE after the 16-octet header: make its IPv4 value 3 octets long.
    assert struct.unpack_from("!H", data, 16)[0] == pfcp.IE_NAMES["node_id"]
    struct.pack_into("!H", data, 18, 4)
    del data[24]
    struct.pack_into("!H", data, 2, len(data) - 4)
    out = smf.node.datagram_received(bytes(data), CP, 1.0)
    assert len(out) == 1
    rsp = pfcp.decode(out[0][0])
    assert rsp.msg_type == "SessionEstablishmentResponse" and rsp.seq == 4242
    assert rsp.cause == pfcp.CAUSE_MANDATORY_IE_INCORRECT
    assert rsp.offending_ie == pfcp.IE_NAMES["node_id"]


def test_wrong_message_length_gets_invalid_length(smf: Smf) -> None:
    data = _establishment_bytes(smf) + b"\x00\x00"
    rsp = pfcp.decode(smf.node.datagram_received(data, CP, 1.0)[0][0])
    assert rsp.cause == pfcp.CAUSE_INVALID_LENGTH and rsp.seq == 4242


def test_unsupported_version_gets_version_not_supported(smf: Smf) -> None:
    data = bytearray(pfcp.encode(PfcpMessage.build("HeartbeatRequest", seq=7,
                                                   recovery_time_stamp=1)))
    data[0] = (data[0] & 0x1F) | (2 << 5)
    out = smf.node.datagram_received(bytes(data), CP, 1.0)
    rsp = pfcp.decode(out[0][0])
    assert rsp.msg_type == "VersionNotSupportedResponse" and rsp.seq == 7


def test_garbage_is_dropped_and_node_keeps_serving(smf: Smf) -> None:
    for junk in (b"", b"\x21", b"\x20\x01\x00", b"\xff" * 40, b"\x20\x63\x00\x04\x00\x00\x01\x00"):
        smf.node.datagram_received(junk, CP, 1.0)
    assert smf.request("HeartbeatRequest", recovery_time_stamp=1).msg_type == "HeartbeatResponse"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=255))
def test_fuzz_never_raises(data: bytes, mtype: int) -> None:
    node = PfcpNode(UpfContext("10.200.1.1"), "127.0.0.7", recovery_ts=1, now=0.0)
    for blob in (data, bytes((0x21, mtype)) + len(data).to_bytes(2, "big") + data,
                 bytes((0x20, mtype)) + len(data).to_bytes(2, "big") + data):
        for d, _ in node.datagram_received(blob, CP, 0.0):
            pfcp.decode(d)  # whatever it answers must itself be valid PFCP


# -- UP-initiated heartbeats (TS 29.244 §6.2.2) ------------------------------------------------


def _heartbeats(out: list[tuple[bytes, tuple[str, int]]]) -> list[PfcpMessage]:
    return [m for m in (pfcp.decode(d) for d, _ in out) if m.msg_type == "HeartbeatRequest"]


def test_upf_sends_heartbeats_and_releases_a_silent_peer(ctx: UpfContext) -> None:
    node = PfcpNode(ctx, "127.0.0.7", recovery_ts=5, heartbeat_interval=10, heartbeat_retries=2,
                    t1=1, n1=2, now=0.0)
    smf = Smf(node)
    smf.associate()
    smf.establish()
    hb = _heartbeats(node.poll(11.0))
    assert len(hb) == 1 and hb[0].recovery_time_stamp == 5
    assert _heartbeats(node.poll(12.1))[0].seq == hb[0].seq  # retransmitted after T1
    node.poll(13.2)  # N1 exhausted: one heartbeat lost
    assert ctx.sessions
    node.poll(21.5)  # next heartbeat ...
    node.poll(22.6)
    node.poll(23.7)  # ... lost too: the association and its sessions go
    assert not ctx.sessions and not ctx.associations


def test_answered_heartbeat_keeps_the_peer_and_detects_its_restart(ctx: UpfContext) -> None:
    node = PfcpNode(ctx, "127.0.0.7", recovery_ts=5, heartbeat_interval=10, now=0.0)
    smf = Smf(node)
    smf.associate()
    smf.establish()
    hb = _heartbeats(node.poll(11.0))[0]
    rsp = PfcpMessage.build("HeartbeatResponse", seq=hb.seq, recovery_time_stamp=smf.recovery)
    node.datagram_received(pfcp.encode(rsp), CP, 11.1)
    assert ctx.sessions and node.poll(12.0) == []
    hb = _heartbeats(node.poll(21.2))[0]
    rsp = PfcpMessage.build("HeartbeatResponse", seq=hb.seq, recovery_time_stamp=smf.recovery + 1)
    node.datagram_received(pfcp.encode(rsp), CP, 21.3)
    assert not ctx.sessions  # the SMF restarted: its sessions are gone on both sides
