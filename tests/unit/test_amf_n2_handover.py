"""N2 handover on the AMF (TS 38.413 §8.4.1-8.4.3, §8.4.5, TS 23.502 §4.9.1.3, TS 33.501
§6.9.2.3.3), sans-I/O: NGAP bytes into ``AmfNgap.on_message``, what the AMF sends recorded. The
SMF behind it is the real one (in-process binding), its N4 datagrams executed by the UPF's
sans-I/O PFCP node (the network of test_amf_path_switch)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from handoverkit import GNB_A, GNB_B, Net, annex_a10
from handoverkit import request as path_switch_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.amf.context import GnbContext
from fivecore.wire import ngap

CONTAINER = bytes.fromhex("40030000")  # the RRC container the AMF relays unread


def required(amf_id: int, ran_id: int = 7, *, target: int = 2, tac: int = 1, psis: tuple[int, ...] = (1,),
             ho_type: str = "intra5gs") -> bytes:
    """HANDOVER REQUIRED as a source gNB sends it (TS 38.413 §9.2.3.1)."""
    return ngap.encode(ngap.NgapPdu("HandoverPreparation", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id, "HandoverType": ho_type,
        "Cause": ngap.cause("radioNetwork", "handover-desirable-for-radio-reason"),
        "TargetID": ("targetRANNodeID", {"globalRANNodeID": ngap.global_gnb_id("00101", target, 22),
                                         "selectedTAI": ngap.tai("00101", tac)}),
        "PDUSessionResourceListHORqd": [
            {"pDUSessionID": p, "handoverRequiredTransfer": ngap.encode_ie("HandoverRequiredTransfer", {})}
            for p in psis],
        "SourceToTarget-TransparentContainer": CONTAINER}))


def acknowledge(amf_id: int, ran_id: int, *, psis: tuple[int, ...] = (1,), ip: str = GNB_B, teid: int = 0x2001,
                failed: tuple[int, ...] = (), qfi: int = 1) -> bytes:
    ies: dict[str, Any] = {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
        "PDUSessionResourceAdmittedList": [
            {"pDUSessionID": p, "handoverRequestAcknowledgeTransfer": ngap.encode_ie(
                "HandoverRequestAcknowledgeTransfer", {
                    "dL-NGU-UP-TNLInformation": ngap.gtp_tunnel(ip, teid + p - 1),
                    "qosFlowSetupResponseList": [{"qosFlowIdentifier": qfi}]})} for p in psis],
        "TargetToSource-TransparentContainer": CONTAINER}
    if failed:
        ies["PDUSessionResourceFailedToSetupListHOAck"] = [
            {"pDUSessionID": p, "handoverResourceAllocationUnsuccessfulTransfer": ngap.encode_ie(
                "HandoverResourceAllocationUnsuccessfulTransfer",
                {"cause": ngap.cause("radioNetwork", "radio-resources-not-available")})} for p in failed]
    return ngap.encode(ngap.NgapPdu("HandoverResourceAllocation", "successful", ies))


def notify(amf_id: int, ran_id: int, tac: int = 1) -> bytes:
    return ngap.encode(ngap.NgapPdu("HandoverNotification", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
        "UserLocationInformation": ngap.user_location_nr("00101", tac, 0x20)}))


async def feed(net: Net, gnb: GnbContext, data: bytes) -> list[tuple[GnbContext, Any]]:
    """One NGAP PDU in, the background steps settled: everything sent, (gNB, decoded PDU)."""
    net.sent.clear()
    net.sent.extend(net.amf.ngap.on_message(gnb, 1, data))
    await net.amf.n2_handover.settle()
    return [(x.gnb, ngap.decode(x.data)) for x in net.sent if hasattr(x, "data")]


def one(out: list[tuple[GnbContext, Any]], procedure: str, kind: str) -> tuple[GnbContext, Any]:
    got = [(g, p) for g, p in out if p.procedure == procedure and p.kind == kind]
    assert len(got) == 1, [(g.peer, p.procedure, p.kind) for g, p in out]
    return got[0]


def _stop(n: Net) -> None:
    for t in list(n.amf.n2_handover._bg):  # preparations still waiting for a target's answer
        t.cancel()


@pytest.fixture()
async def net() -> Any:
    n = await Net().start()
    yield n
    _stop(n)


@pytest.fixture()
async def timed() -> Any:
    """A factory of nets whose AMF runs with the given ``amf.handover`` settings."""
    made: list[Net] = []

    async def make(**handover: float) -> Net:
        made.append(await Net().start(amf={"handover": handover}))
        return made[-1]

    yield make
    for n in made:
        _stop(n)


async def prepared(net: Net, ran_b: int = 31) -> Any:
    """HANDOVER REQUIRED from A, HANDOVER REQUEST to B acknowledged: HANDOVER COMMAND to A."""
    amf_id = net.ue.amf_ue_ngap_id
    g, req = one(await feed(net, net.a, required(amf_id)), "HandoverResourceAllocation", "initiating")
    assert g is net.b
    g, cmd = one(await feed(net, net.b, acknowledge(amf_id, ran_b)), "HandoverPreparation", "successful")
    assert g is net.a
    return req, cmd


async def test_n2_handover_moves_ue_and_downlink_with_chained_nh(net: Net) -> None:
    ue, sm = net.ue, net.sms[0]
    amf_id = ue.amf_ue_ngap_id
    out = await feed(net, net.a, required(amf_id))
    g, req = one(out, "HandoverResourceAllocation", "initiating")
    assert g is net.b and len(out) == 1
    assert req["AMF-UE-NGAP-ID"] == amf_id and req["HandoverType"] == "intra5gs"
    # TS 33.501 §6.9.2.3.3 / Annex A.10: NCC 1, NH = KDF(KAMF, initial KgNB)
    nh1 = annex_a10(net.kamf, net.kgnb)
    sc = req["SecurityContext"]
    assert sc["nextHopChainingCount"] == 1 and sc["nextHopNH"] == (int.from_bytes(nh1, "big"), 256)
    (item,) = req["PDUSessionResourceSetupListHOReq"]
    setup = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", item["handoverRequestTransfer"])
    assert item["pDUSessionID"] == 1 and ngap.gtp_tunnel_from(setup["UL-NGU-UP-TNLInformation"]) == (sm.ul_ip, sm.ul_teid)
    assert req["SourceToTarget-TransparentContainer"] == CONTAINER
    assert ngap.guami_from(req["GUAMI"])[0] == "00101"
    # the UE stays on A until NOTIFY
    assert ue.gnb is net.a and ue.ran_ue_ngap_id == 7

    out = await feed(net, net.b, acknowledge(amf_id, 31))
    g, cmd = one(out, "HandoverPreparation", "successful")
    assert g is net.a and cmd["RAN-UE-NGAP-ID"] == 7 and cmd["TargetToSource-TransparentContainer"] == CONTAINER
    (h,) = cmd["PDUSessionResourceHandoverList"]
    assert h["pDUSessionID"] == 1 and ngap.decode_ie("HandoverCommandTransfer", h["handoverCommandTransfer"]) == {}
    assert (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1001) and net.wire.node.take_end_markers() == []

    out = await feed(net, net.b, notify(amf_id, 31))
    g, rel = one(out, "UEContextRelease", "initiating")
    assert g is net.a and rel["Cause"] == ("radioNetwork", "successful-handover")
    assert rel["UE-NGAP-IDs"] == ("uE-NGAP-ID-pair", {"aMF-UE-NGAP-ID": amf_id, "rAN-UE-NGAP-ID": 7})
    assert ue.gnb is net.b and ue.ran_ue_ngap_id == 31 and net.b.ues[31] is ue and 7 not in net.a.ues
    assert (sm.dl_ip, sm.dl_teid) == (GNB_B, 0x2001)
    assert net.wire.node.take_end_markers() == [(0x1001, (GNB_A, 2152))]
    # the source's Release Complete is expected: no Error Indication
    complete = ngap.encode(ngap.NgapPdu("UEContextRelease", "successful", {"AMF-UE-NGAP-ID": amf_id,
                                                                           "RAN-UE-NGAP-ID": 7}))
    assert await feed(net, net.a, complete) == []
    assert ue.gnb is net.b and ue.cm_connected

    # back to A by N2: NCC 2, NH chained from NH 1
    out = await feed(net, net.b, required(amf_id, 31, target=1))
    _, req = one(out, "HandoverResourceAllocation", "initiating")
    nh2 = annex_a10(net.kamf, nh1)
    assert req["SecurityContext"]["nextHopChainingCount"] == 2
    assert req["SecurityContext"]["nextHopNH"] == (int.from_bytes(nh2, "big"), 256)
    one(await feed(net, net.a, acknowledge(amf_id, 8, ip=GNB_A, teid=0x1101)), "HandoverPreparation", "successful")
    one(await feed(net, net.a, notify(amf_id, 8)), "UEContextRelease", "initiating")
    assert ue.gnb is net.a and (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1101)
    assert net.wire.node.take_end_markers() == [(0x2001, (GNB_B, 2152))]
    assert net.amf.gmm.ctx.stats["n2_handover_complete"] == 2


def cause_of(out: list[tuple[GnbContext, Any]]) -> Any:
    g, fail = one(out, "HandoverPreparation", "unsuccessful")
    return fail["Cause"]


async def test_unknown_target_and_unsupported_type(net: Net) -> None:
    amf_id = net.ue.amf_ue_ngap_id
    assert cause_of(await feed(net, net.a, required(amf_id, target=99))) == ("radioNetwork", "unknown-targetID")
    assert cause_of(await feed(net, net.a, required(amf_id, ho_type="fivegs-to-eps")))[0] == "radioNetwork"
    # the source itself as target
    assert cause_of(await feed(net, net.a, required(amf_id, target=1))) == ("radioNetwork", "ho-target-not-allowed")
    assert net.ue.gnb is net.a and net.ue.ncc == 0 and not net.amf.n2_handover.preps


async def test_hostile_source_cannot_move_another_gnbs_ue(net: Net) -> None:
    """Only the gNB serving the UE, with the UE's IDs there, may ask to hand it over."""
    amf_id = net.ue.amf_ue_ngap_id
    for gnb, ran in ((net.c, 7), (net.b, 7), (net.a, 8)):
        out = await feed(net, gnb, required(amf_id, ran))
        g, _ = one(out, "HandoverPreparation", "unsuccessful")
        assert g is gnb and cause_of(out) == ("radioNetwork", "unknown-local-UE-NGAP-ID")
    assert net.ue.gnb is net.a and net.ue.ncc == 0
    assert net.amf.gmm.ctx.stats["n2_handover_refused"] == 3


async def test_target_outside_registration_area_or_undeclared_tai(net: Net) -> None:
    amf_id = net.ue.amf_ue_ngap_id
    # C declared TAC 7, which is not in the UE's registration area; B never declared 7
    for target in (3, 2):
        assert cause_of(await feed(net, net.a, required(amf_id, target=target, tac=7))) == (
            "radioNetwork", "ho-target-not-allowed")
    assert net.ue.ncc == 0 and net.sms[0].ref not in net.smf.service.n2_handover.targets


async def test_hostile_target_cannot_answer_for_a_ue(net: Net) -> None:
    amf_id = net.ue.amf_ue_ngap_id
    await feed(net, net.a, required(amf_id))
    # C was not asked: its Acknowledge and Notify get Error Indications, nothing moves
    g, err = one(await feed(net, net.c, acknowledge(amf_id, 41)), "ErrorIndication", "initiating")
    assert g is net.c
    one(await feed(net, net.c, notify(amf_id, 41)), "ErrorIndication", "initiating")
    # B's Notify before the command: refused too
    one(await feed(net, net.b, notify(amf_id, 31)), "ErrorIndication", "initiating")
    assert net.ue.gnb is net.a
    one(await feed(net, net.b, acknowledge(amf_id, 31)), "HandoverPreparation", "successful")
    one(await feed(net, net.b, notify(amf_id, 32)), "ErrorIndication", "initiating")  # wrong RAN ID
    assert net.ue.gnb is net.a


async def test_target_failure_and_smf_cancel(net: Net) -> None:
    amf_id = net.ue.amf_ue_ngap_id
    await feed(net, net.a, required(amf_id))
    assert net.sms[0].ref in net.smf.service.n2_handover.targets
    failure = ngap.encode(ngap.NgapPdu("HandoverResourceAllocation", "unsuccessful", {
        "AMF-UE-NGAP-ID": amf_id, "Cause": ngap.cause("radioNetwork", "no-radio-resources-available-in-target-cell")}))
    out = await feed(net, net.b, failure)
    assert cause_of(out) == ("radioNetwork", "no-radio-resources-available-in-target-cell")
    assert not [p for _, p in out if p.procedure == "UEContextRelease"], "the target kept nothing"
    assert net.sms[0].ref not in net.smf.service.n2_handover.targets
    assert net.ue.gnb is net.a and not net.amf.n2_handover.preps and amf_id not in net.amf.handover.busy
    # TS 33.501 §6.9.2.3.3: the pair sent stays spent; the next handover sends NCC 2
    _, req = one(await feed(net, net.a, required(amf_id)), "HandoverResourceAllocation", "initiating")
    assert req["SecurityContext"]["nextHopChainingCount"] == 2


async def test_no_session_admitted_releases_the_target(net: Net) -> None:
    amf_id = net.ue.amf_ue_ngap_id
    await feed(net, net.a, required(amf_id))
    # the target admitted the session without its QoS flow: its SMF refuses it
    out = await feed(net, net.b, acknowledge(amf_id, 31, qfi=5))
    assert cause_of(out)[1] == "ho-failure-in-target-5GC-ngran-node-or-target-system"
    g, rel = one(out, "UEContextRelease", "initiating")
    assert g is net.b and rel["UE-NGAP-IDs"][1]["rAN-UE-NGAP-ID"] == 31
    assert net.ue.gnb is net.a and (net.sms[0].dl_ip, net.sms[0].dl_teid) == (GNB_A, 0x1001)
    complete = ngap.encode(ngap.NgapPdu("UEContextRelease", "successful", {"AMF-UE-NGAP-ID": amf_id,
                                                                           "RAN-UE-NGAP-ID": 31}))
    assert await feed(net, net.b, complete) == []
    assert net.ue.gnb is net.a and net.ue.cm_connected


async def _until_ended(net: Net) -> None:
    """Wait for the AMF's timer to end the handover: an event, neither a fixed sleep (on a
    loaded host the SMF round trips before the timer starts may outlast it) nor a clock of the
    test's own (pytest's timeout ends a test whose handover never ends)."""
    while net.amf.n2_handover.preps:
        await asyncio.sleep(0.01)


async def test_preparation_timer_expiry(timed: Any) -> None:
    net = await timed(n2_prep_timeout=0.05)
    assert net.amf.n2_handover.prep_timeout == 0.05  # amf.handover.n2_prep_timeout
    amf_id = net.ue.amf_ue_ngap_id
    await feed(net, net.a, required(amf_id))  # B never answers
    await _until_ended(net)
    await net.amf.n2_handover.settle()
    out = [(x.gnb, ngap.decode(x.data)) for x in net.sent if hasattr(x, "data")]
    assert cause_of(out) == ("radioNetwork", "tngrelocprep-expiry")
    assert net.ue.gnb is net.a and not net.amf.n2_handover.preps
    assert net.sms[0].ref not in net.smf.service.n2_handover.targets
    # a late Acknowledge is refused
    one(await feed(net, net.b, acknowledge(amf_id, 31)), "ErrorIndication", "initiating")


async def test_cancel_after_command(net: Net) -> None:
    amf_id = net.ue.amf_ue_ngap_id
    await prepared(net)
    assert net.sms[0].ref in net.smf.service.n2_handover.prepared
    cancel = ngap.encode(ngap.NgapPdu("HandoverCancel", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": 7, "Cause": ngap.cause("radioNetwork", "handover-cancelled")}))
    out = await feed(net, net.a, cancel)
    g, _ = one(out, "HandoverCancel", "successful")
    assert g is net.a
    g, rel = one(out, "UEContextRelease", "initiating")
    assert g is net.b and rel["Cause"] == ("radioNetwork", "handover-cancelled")
    assert net.sms[0].ref not in net.smf.service.n2_handover.prepared
    assert net.ue.gnb is net.a and (net.sms[0].dl_ip, net.sms[0].dl_teid) == (GNB_A, 0x1001)
    # a Notify after the cancel is refused; the source keeps the UE
    one(await feed(net, net.b, notify(amf_id, 31)), "ErrorIndication", "initiating")
    assert net.ue.gnb is net.a
    # cancel of nothing is acknowledged; from the wrong gNB, an Error Indication
    one(await feed(net, net.a, cancel), "HandoverCancel", "successful")
    one(await feed(net, net.c, cancel), "ErrorIndication", "initiating")


async def test_concurrent_procedures_are_refused(net: Net) -> None:
    amf_id = net.ue.amf_ue_ngap_id
    await feed(net, net.a, required(amf_id))
    # a second HANDOVER REQUIRED, and a Path Switch by C, while the first runs
    assert cause_of(await feed(net, net.a, required(amf_id))) == ("radioNetwork", "interaction-with-other-procedure")
    net.sent.clear()
    pdus = await net.path_switch(net.c, path_switch_request(41, amf_id, ip="127.0.0.3"))
    fail = [p for p in pdus if p.procedure == "PathSwitchRequest"]
    assert fail and fail[0].kind == "unsuccessful"
    assert net.ue.gnb is net.a


@pytest.fixture(scope="module")
def loop_net() -> Any:
    loop = asyncio.new_event_loop()
    n = loop.run_until_complete(Net().start())
    yield loop, n
    loop.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 2), i=st.integers(0, 200), x=st.integers(0, 255), cut=st.integers(0, 200))
def test_fuzzed_handover_pdus_never_escape(loop_net: Any, which: int, i: int, x: int, cut: int) -> None:
    """Mutated HANDOVER REQUIRED / ACKNOWLEDGE / NOTIFY: answered or refused, never an exception."""
    loop, n = loop_net
    amf_id = n.ue.amf_ue_ngap_id
    base = (required(amf_id), acknowledge(amf_id, 31), notify(amf_id, 31))[which]
    data = (base[:i] + bytes([x]) + base[i + 1:])[: max(cut, 1)] if cut < len(base) else base[:i] + bytes([x]) + base[i + 1:]
    gnb = n.a if which == 0 else n.b
    n.amf.n2_handover.prep_timeout = 0.01
    loop.run_until_complete(feed(n, gnb, data))


async def test_ue_side_check_of_nh_ncc_follows_annex_a10(net: Net) -> None:
    """The target's check (fivecore.ran.n2_handover) of the AMF's {NH, NCC}: the UE reaches it
    from its initial KgNB by Annex A.10, also over a pair spent on a cancelled handover."""
    from fivecore.ran.n2_handover import check_n2_security_context

    amf_id = net.ue.amf_ue_ngap_id
    _, req = one(await feed(net, net.a, required(amf_id)), "HandoverResourceAllocation", "initiating")
    nh1 = annex_a10(net.kamf, net.kgnb)
    assert check_n2_security_context(net.kamf, net.kgnb, 0, req["SecurityContext"]) == (nh1, 1)
    cancel = ngap.encode(ngap.NgapPdu("HandoverCancel", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": 7, "Cause": ngap.cause("radioNetwork", "handover-cancelled")}))
    await feed(net, net.a, cancel)
    _, req = one(await feed(net, net.a, required(amf_id)), "HandoverResourceAllocation", "initiating")
    nh2 = annex_a10(net.kamf, nh1)
    assert check_n2_security_context(net.kamf, net.kgnb, 0, req["SecurityContext"]) == (nh2, 2)
    # a pair already used, a wrong NH, a wrong KAMF: refused
    assert check_n2_security_context(net.kamf, nh2, 2, req["SecurityContext"]) is None
    bad = dict(req["SecurityContext"], nextHopNH=(int.from_bytes(nh1, "big"), 256))
    assert check_n2_security_context(net.kamf, net.kgnb, 0, bad) is None
    assert check_n2_security_context(bytes(32), net.kgnb, 0, req["SecurityContext"]) is None
    assert check_n2_security_context(net.kamf, net.kgnb, 0, {"nextHopChainingCount": "x"}) is None


def test_amf_update_bodies_follow_the_openapi_schema() -> None:
    """TS 29.502 SmContextUpdateData as the AMF builds it for PREPARING (its targetId, TS 29.518
    NgRanTargetId, from the target's Global gNB ID and the Selected TAI)."""
    from pathlib import Path

    spec = Path(__file__).resolve().parents[2] / ".." / "shared" / "3gpp-openapi"
    if not (spec / "TS29502_Nsmf_PDUSession.yaml").exists():
        pytest.skip("3GPP OpenAPI files not found beside the repository")
    from fivecore.config import load_config
    from fivecore.nf.amf.app import AmfApp
    from fivecore.nf.amf.n2_handover import Prep
    from fivecore.wire.sbi.schema import validator_for

    app = AmfApp(load_config({"amf": {"nrf_uri": None}}))
    a, b = app.ngap.association_up(1, GNB_A), app.ngap.association_up(2, GNB_B)
    b.global_ran_node_id = ("00101", 0x2ABCD, 22)
    prep = Prep(app.gmm.ctx.new_ue(a, 7), a, 7, b, ("00101", 0x123))
    body = {"hoState": "PREPARING", "n2SmInfoType": "HANDOVER_REQUIRED", "n2SmInfo": {"contentId": "n2msg"},
            "targetId": app.n2_handover._target_id(prep)}
    assert body["targetId"]["ranNodeId"]["gNbId"] == {"bitLength": 22, "gNBValue": "02abcd"}
    assert validator_for(str(spec)).schema_errors("TS29502_Nsmf_PDUSession.yaml", "SmContextUpdateData", body) == []


async def test_no_notify_in_time_lets_the_target_go(timed: Any) -> None:
    net = await timed(n2_overall_timeout=0.05)
    assert net.amf.n2_handover.overall_timeout == 0.05  # amf.handover.n2_overall_timeout
    amf_id = net.ue.amf_ue_ngap_id
    await prepared(net)
    net.sent.clear()
    await _until_ended(net)
    await net.amf.n2_handover.settle()
    out = [(x.gnb, ngap.decode(x.data)) for x in net.sent if hasattr(x, "data")]
    g, rel = one(out, "UEContextRelease", "initiating")
    assert g is net.b and rel["Cause"] == ("radioNetwork", "tngrelocoverall-expiry")
    assert net.ue.gnb is net.a and not net.amf.n2_handover.preps and amf_id not in net.amf.handover.busy
    assert net.sms[0].ref not in net.smf.service.n2_handover.prepared
    one(await feed(net, net.b, notify(amf_id, 31)), "ErrorIndication", "initiating")


async def test_a_lost_gnb_ends_the_handover(net: Net) -> None:
    amf_id = net.ue.amf_ue_ngap_id
    # the target goes while the AMF waits for its answer: nothing to release there
    await feed(net, net.a, required(amf_id))
    net.sent.clear()
    net.amf._execute(net.amf.ngap.association_lost(net.b))
    await net.amf.n2_handover.settle()
    assert not net.amf.n2_handover.preps and amf_id not in net.amf.handover.busy
    assert net.sms[0].ref not in net.smf.service.n2_handover.targets
    assert not [x for x in net.sent if hasattr(x, "data") and x.gnb is net.b]
    # the source goes after the command: the target's prepared connection is released
    net.b = net.gnb(4, GNB_B, 2, [1])
    await prepared(net)
    net.sent.clear()
    net.amf._execute(net.amf.ngap.association_lost(net.a))
    await net.amf.n2_handover.settle()
    out = [(x.gnb, ngap.decode(x.data)) for x in net.sent if hasattr(x, "data")]
    g, _ = one(out, "UEContextRelease", "initiating")
    assert g is net.b and not net.amf.n2_handover.preps and not net.ue.cm_connected


@settings(max_examples=100, deadline=None)
@given(i=st.integers(0, 400), x=st.integers(0, 255))
def test_target_gnb_answers_any_handover_request(i: int, x: int) -> None:
    """The simulator's target (fivecore.ran.n2_handover) on a HANDOVER REQUEST whose transfer
    octets are mutated: an Acknowledge or a HANDOVER FAILURE, never an exception; a correct
    one is acknowledged with the prepared tunnel."""
    from types import SimpleNamespace

    from fivecore.ran import n2_handover as ran
    from fivecore.ran.gnb import Gnb, GnbConfig

    kamf, kgnb = bytes(range(32)), bytes(range(32, 64))
    g = Gnb(GnbConfig(gnb_id=2, tac=1, nci=0x20))
    sent: list[bytes] = []
    g.send = lambda data, stream: sent.append(data)  # type: ignore[method-assign]
    ru = SimpleNamespace(ue=SimpleNamespace(kamf=kamf), nh=kgnb, ncc=0)
    t = SimpleNamespace(psi=1, dl_teid=0x77, qfi=1)
    g.n2.incoming[5] = ran._Incoming(ru, [(t, t)], SimpleNamespace(n3_address="127.0.0.2"))  # type: ignore[arg-type]
    setup = ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", {
        "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": 1, "pDUSessionAggregateMaximumBitRateUL": 1},
        "UL-NGU-UP-TNLInformation": ngap.gtp_tunnel("127.0.0.7", 0x42), "PDUSessionType": "ipv4",
        "QosFlowSetupRequestList": [{"qosFlowIdentifier": 1, "qosFlowLevelQosParameters": {
            "qosCharacteristics": ("nonDynamic5QI", {"fiveQI": 9}), "allocationAndRetentionPriority": {
                "priorityLevelARP": 8, "pre-emptionCapability": "shall-not-trigger-pre-emption",
                "pre-emptionVulnerability": "not-pre-emptable"}}}]})
    good = i >= len(setup)
    tr = setup if good else setup[:i] + bytes([x]) + setup[i + 1:]
    nh1 = annex_a10(kamf, kgnb)
    pdu = ngap.NgapPdu("HandoverResourceAllocation", "initiating", {
        "AMF-UE-NGAP-ID": 5, "SecurityContext": {"nextHopChainingCount": 1, "nextHopNH": ngap.security_key(nh1)},
        "PDUSessionResourceSetupListHOReq": [{"pDUSessionID": 1, "s-NSSAI": ngap.s_nssai(1), "handoverRequestTransfer": tr}]})
    ran.on_gnb_pdu(g, pdu)
    (answer,) = [ngap.decode(d) for d in sent]
    assert answer.procedure == "HandoverResourceAllocation"
    if good:
        assert answer.kind == "successful" and g.n2.incoming[5].pair == (nh1, 1)
        item = answer["PDUSessionResourceAdmittedList"][0]
        ack = ngap.decode_ie("HandoverRequestAcknowledgeTransfer", item["handoverRequestAcknowledgeTransfer"])
        assert ngap.gtp_tunnel_from(ack["dL-NGU-UP-TNLInformation"]) == ("127.0.0.2", 0x77)
