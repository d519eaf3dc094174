"""Service Request user-plane reactivation and network-triggered Service Request, sans-I/O
(TS 23.502 §4.2.3.2 / §4.2.3.3): the 5GMM part with the simulator's UE, and the AMF's session
relay (fivecore.nf.amf.sessions) with plain calls and the real NGAP codec."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from homenet import make

from fivecore.nf.amf.app import AmfApp
from fivecore.nf.amf.context import GmmState
from fivecore.nf.amf.gmm import SendIcs, subscribed_ue_ambr
from fivecore.nf.amf.sessions import AmfSmSession
from fivecore.nf.smf.clients import n1n2_body
from fivecore.ran.ue import UeState
from fivecore.transport.http2 import Request
from fivecore.wire import nas, ngap
from fivecore.wire.sbi import multipart

SUPI = "imsi-001010000000001"


def test_service_request_uplink_data_status_reaches_the_ics() -> None:
    loop, (ue,) = make()
    loop.register(ue)
    for ran_id, (uplink, want) in enumerate([(frozenset({1, 5}), {1, 5}), (None, set())], 100):
        ue.connected = False
        amf_ue, acts = loop.gmm.initial_ue_message(loop.gnb, ran_id, ue.service_request(1, uplink), 1)
        assert amf_ue.state == GmmState.REGISTERED
        ics = [a for a in acts if isinstance(a, SendIcs)]
        assert len(ics) == 1 and ics[0].reactivate == frozenset(want)
        loop.ue_of[id(ue)] = amf_ue
        loop.run(ue, acts)
        assert ue.state == UeState.REGISTERED
        loop.gmm.ran_released(amf_ue)


def _transfer() -> bytes:
    return ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", {
        "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": 10**8,
                                              "pDUSessionAggregateMaximumBitRateUL": 10**8},
        "UL-NGU-UP-TNLInformation": ngap.gtp_tunnel("127.0.0.7", 0x42), "PDUSessionType": "ipv4",
        "QosFlowSetupRequestList": [{"qosFlowIdentifier": 1, "qosFlowLevelQosParameters": {
            "qosCharacteristics": ("nonDynamic5QI", {"fiveQI": 9}),
            "allocationAndRetentionPriority": {"priorityLevelARP": 8,
                                               "pre-emptionCapability": "shall-not-trigger-pre-emption",
                                               "pre-emptionVulnerability": "not-pre-emptable"}}}]})


@pytest.fixture()
def amf(amf_with_ue: Any) -> tuple[AmfApp, Any, list[Any]]:
    app, ue = amf_with_ue()
    sent: list[Any] = []
    app._execute = sent.extend  # type: ignore[method-assign]
    ue.tmsi = 0x1234
    app.gmm.ctx.by_tmsi[ue.tmsi] = ue
    ue.ue_ambr = (10**9, 2 * 10**9)
    app.sessions.by_supi[SUPI] = {1: AmfSmSession(1, None, "ref1", {"sst": 1}, "internet")}
    return app, ue, sent


async def test_n1n2_for_idle_ue_pages_then_rides_in_the_ics(amf: Any) -> None:
    app, ue, sent = amf
    gnb = ue.gnb
    app.gmm.ctx.detach_ran(ue)
    accept = b"\x2e\x01\x00\xcb\x00"  # carried opaquely by the AMF
    data, parts = n1n2_body(1, accept, _transfer(), "PDU_RES_SETUP_REQ", {"sst": 1})
    body, ctype = multipart.encode(data, parts)
    rsp = await app.router.dispatch(Request("POST", f"/namf-comm/v1/ue-contexts/{SUPI}/n1-n2-messages", "",
                                            {"content-type": ctype}, body))
    assert rsp.status == 202 and rsp.json()["cause"] == "ATTEMPTING_TO_REACH_UE"
    frames = [x for x in sent if hasattr(x, "data")]
    paging = ngap.decode(frames[-1].data)
    assert paging.procedure == "Paging" and frames[-1].stream == 0
    assert ue.proc is not None and ue.proc.name == "paging"
    # the UE answers: the ICS of its Service Request carries the waiting PDU session
    app.gmm.ctx.attach_ran(ue, gnb, 8)
    out = app.ngap.translate([SendIcs(ue, b"\x7e\x00\x4e", bytes(32), frozenset())])
    assert out == [], "the session relay sends the ICS itself"
    for _ in range(20):
        if hasattr(sent[-1], "data") and ngap.decode(sent[-1].data).procedure == "InitialContextSetup":
            break
        await asyncio.sleep(0)
    ics = ngap.decode(sent[-1].data)
    assert (ics.procedure, ics.kind) == ("InitialContextSetup", "initiating")
    item = ics["PDUSessionResourceSetupListCxtReq"][0]
    assert item["pDUSessionID"] == 1 and nas.decode(item["nAS-PDU"]).payload_container == accept
    assert ics["NAS-PDU"] == b"\x7e\x00\x4e"
    assert ics["UEAggregateMaximumBitRate"]["uEAggregateMaximumBitRateDL"] == 2 * 10**9
    assert app.sessions.pending.get(SUPI) is None


def test_ics_without_reactivation_goes_out_directly(amf: Any) -> None:
    app, ue, _ = amf
    out = app.ngap.translate([SendIcs(ue, b"\x7e\x00\x4e", bytes(32), frozenset())])
    assert len(out) == 1 and ngap.decode(out[0].data).get("PDUSessionResourceSetupListCxtReq") is None
    out = app.ngap.translate([SendIcs(ue, b"\x7e\x00\x4e", bytes(32), frozenset({9}))])
    assert len(out) == 1, "a PSI the AMF does not know is not reactivated"


async def test_n1n2_for_idle_ue_without_guti_is_409(amf: Any) -> None:
    app, ue, _ = amf
    app.gmm.ctx.detach_ran(ue)
    ue.tmsi = None
    data, parts = n1n2_body(1, b"\x2e\x01\x00\xcb\x00", None, None, {"sst": 1})
    body, ctype = multipart.encode(data, parts)
    rsp = await app.router.dispatch(Request("POST", f"/namf-comm/v1/ue-contexts/{SUPI}/n1-n2-messages", "",
                                            {"content-type": ctype}, body))
    assert rsp.status == 409


async def test_unreachable_smf_shows_in_the_reactivation_result(amf: Any) -> None:
    """TS 24.501 §5.6.1.4.1: a session whose SMF gives no N2 SM information is flagged in the
    PDU session reactivation result; the PDU session status lists the AMF's sessions."""
    app, ue, sent = amf
    app.sessions.by_supi[SUPI][1].smf_uri = "http://127.0.0.1:9"  # nothing listens there
    app.client.local = None
    out = app.ngap.translate([SendIcs(ue, b"\x7e\x00\x4e", bytes(32), frozenset({1}))])
    assert out == []
    for _ in range(200):
        if sent and hasattr(sent[-1], "data"):
            break
        await asyncio.sleep(0.01)
    ics = ngap.decode(sent[-1].data)
    assert ics.procedure == "InitialContextSetup" and ics.get("PDUSessionResourceSetupListCxtReq") is None
    accept = nas.decode(ics["NAS-PDU"])
    assert accept.message_type == "ServiceAccept"
    assert accept.pdu_session_status.psis == {1} and accept.pdu_session_reactivation_result.psis == {1}


def test_subscribed_ue_ambr() -> None:
    assert subscribed_ue_ambr({"uplink": "1 Gbps", "downlink": "2.5 Mbps"}) == (10**9, 2_500_000)
    for bad in (None, {}, {"uplink": "1 Gbps"}, {"uplink": "fast", "downlink": "1 Gbps"},
                {"uplink": "1 parsecs", "downlink": "1 Gbps"}):
        assert subscribed_ue_ambr(bad) is None
