"""The AMF's 5GSM relay (fivecore.nf.amf.sessions) with plain calls: what it sends the gNB for
UL NAS Transport it cannot forward and for N1N2MessageTransfer from the SMF."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fivecore.nf.amf.app import AmfApp
from fivecore.nf.smf.clients import n1n2_body
from fivecore.transport.http2 import Request
from fivecore.wire import nas, ngap
from fivecore.wire.sbi import multipart

SUPI = "imsi-001010000000001"


@pytest.fixture()
def amf(amf_with_ue: Any) -> tuple[AmfApp, Any, list[Any]]:
    app, ue = amf_with_ue()
    sent: list[Any] = []
    app._execute = sent.extend  # type: ignore[method-assign]
    return app, ue, sent


def _ul(psi: int | None, sm: bytes, request_type: int | None = 1, sst: int | None = None) -> nas.NasMessage:
    return nas.decode(nas.encode(nas.ULNASTransport(
        payload_container_type=nas.PAYLOAD_N1_SM, payload_container=sm, pdu_session_id=psi,
        request_type=request_type, s_nssai=nas.SNssai(sst) if sst is not None else None)))


def _dl_nas(sent: list[Any]) -> nas.NasMessage:
    pdu = ngap.decode(sent[-1].data)
    assert pdu.procedure == "DownlinkNASTransport"
    return nas.decode(pdu["NAS-PDU"])


EST = nas.encode(nas.PDUSessionEstablishmentRequest(pdu_session_id=1, pti=1,
                                                    integrity_protection_max_data_rate=b"\xff\xff"))


def test_no_psi_comes_back_with_cause_90(amf: Any) -> None:
    app, ue, sent = amf
    assert app.sessions.ul_nas_transport(ue, _ul(None, EST), True) == []
    dl = _dl_nas(sent)
    assert dl.message_type == "DLNASTransport" and dl.cause == 90 and dl.payload_container == EST


def test_unknown_session_and_disallowed_slice(amf: Any) -> None:
    app, ue, sent = amf
    rel = nas.encode(nas.PDUSessionReleaseRequest(pdu_session_id=3, pti=2))
    app.sessions.ul_nas_transport(ue, _ul(3, rel, request_type=None), True)
    assert _dl_nas(sent).cause == 90
    app.sessions.ul_nas_transport(ue, _ul(1, EST, sst=7), True)
    assert _dl_nas(sent).cause == 90, "an S-NSSAI outside the allowed NSSAI is not forwarded"


def test_unregistered_or_unverified_gets_5gmm_status(amf: Any) -> None:
    app, ue, _ = amf
    acts = app.sessions.ul_nas_transport(ue, _ul(1, EST), False)
    assert len(acts) == 1 and nas.decode(acts[0].pdu).cause == 98


async def test_n1n2_setup_becomes_pdu_session_resource_setup(amf: Any) -> None:
    app, ue, sent = amf
    transfer = ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", {
        "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": 10**8,
                                              "pDUSessionAggregateMaximumBitRateUL": 10**8},
        "UL-NGU-UP-TNLInformation": ngap.gtp_tunnel("127.0.0.7", 0x42), "PDUSessionType": "ipv4",
        "QosFlowSetupRequestList": [{"qosFlowIdentifier": 1, "qosFlowLevelQosParameters": {
            "qosCharacteristics": ("nonDynamic5QI", {"fiveQI": 9}),
            "allocationAndRetentionPriority": {"priorityLevelARP": 8,
                                               "pre-emptionCapability": "shall-not-trigger-pre-emption",
                                               "pre-emptionVulnerability": "not-pre-emptable"}}}]})
    accept = b"\x2e\x01\x01\xc2\x11\x00\x00"  # carried opaquely by the AMF
    data, parts = n1n2_body(1, accept, transfer, "PDU_RES_SETUP_REQ", {"sst": 1})
    body, ctype = multipart.encode(data, parts)
    req = Request("POST", f"/namf-comm/v1/ue-contexts/{SUPI}/n1-n2-messages", "", {"content-type": ctype}, body)
    rsp = await app.router.dispatch(req)
    assert rsp.status == 200 and rsp.json()["cause"] == "N1_N2_TRANSFER_INITIATED"
    pdu = ngap.decode(sent[-1].data)
    assert (pdu.procedure, pdu.kind) == ("PDUSessionResourceSetup", "initiating")
    item = pdu["PDUSessionResourceSetupListSUReq"][0]
    assert item["pDUSessionID"] == 1
    dl = nas.decode(item["pDUSessionNAS-PDU"])
    assert dl.message_type == "DLNASTransport" and dl.payload_container == accept and dl.pdu_session_id == 1
    # a UE without an NG connection cannot be reached (no paging here)
    app.gmm.ctx.detach_ran(ue)
    rsp = await app.router.dispatch(Request("POST", f"/namf-comm/v1/ue-contexts/{SUPI}/n1-n2-messages", "",
                                            {"content-type": ctype}, body))
    assert rsp.status == 409
    rsp = await app.router.dispatch(Request("POST", "/namf-comm/v1/ue-contexts/imsi-999/n1-n2-messages", "",
                                            {"content-type": ctype}, body))
    assert rsp.status == 404
    rsp = await app.router.dispatch(Request("POST", f"/namf-comm/v1/ue-contexts/{SUPI}/n1-n2-messages", "",
                                            {"content-type": "application/json"}, json.dumps({"x": 1}).encode()))
    assert rsp.status == 400


def test_profile_offers_namf_comm(amf: Any) -> None:
    app, _, _ = amf
    names = [s["serviceName"] for s in app.profile()["nfServiceList"].values()]
    assert "namf-comm" in names
