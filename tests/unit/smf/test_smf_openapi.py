"""The JSON the session NFs build, checked against the 3GPP OpenAPI schemas (TS 29.502,
TS 29.512, TS 29.518, TS 29.531, TS 29.503), read from ``../shared/3gpp-openapi`` at test
time. Bodies come from the same functions the NFs use on the wire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fivecore.config import load_config
from fivecore.nf.nssf.sbi import build_router as nssf_router
from fivecore.nf.pcf.sbi import decide
from fivecore.nf.smf import gsm
from fivecore.nf.smf.clients import n1n2_body
from fivecore.nf.smf.context import SmState
from fivecore.transport.http2 import Request
from fivecore.wire.sbi import multipart

SPEC = Path(__file__).resolve().parents[3] / ".." / "shared" / "3gpp-openapi"
SMF_API = "TS29502_Nsmf_PDUSession.yaml"


@pytest.fixture(scope="module")
def v() -> Any:
    if not (SPEC / SMF_API).exists():
        pytest.skip("3GPP OpenAPI files not found beside the repository")
    from fivecore.wire.sbi.schema import validator_for

    return validator_for(str(SPEC))


@pytest.fixture(scope="module")
def apps() -> Any:
    cfg = load_config({"smf": {"nrf_uri": None}, "amf": {"nrf_uri": None}})
    from fivecore.nf.amf.app import AmfApp
    from fivecore.nf.smf.app import SmfApp

    return AmfApp(cfg), SmfApp(cfg)


def _sm(smf: Any) -> Any:
    sm = smf.ctx.new("imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.ue_ipv4, sm.state, sm.pti = "10.45.0.2", SmState.ACTIVE, 3
    return sm


def test_create_sm_context_data(v: Any, apps: Any) -> None:
    amf, _ = apps
    data = amf.sessions.create_data("imsi-001010000000001", 1, {"sst": 1, "sd": "000001"}, "internet", 1)
    assert v.schema_errors(SMF_API, "SmContextCreateData", data) == []


def test_smf_answers(v: Any, apps: Any) -> None:
    _, smf = apps
    sm = _sm(smf)
    assert v.schema_errors(SMF_API, "SmContextCreatedData",
                           {"pduSessionId": 1, "sNssai": sm.snssai, "upCnxState": "ACTIVATING"}) == []
    rsp = smf.service._create_error(1, 3, gsm.CAUSE_MISSING_OR_UNKNOWN_DNN, "DNN_DENIED")
    body = rsp.encoded()  # the octets HTTP/2 would carry (in-process it keeps the parts)
    data, parts = multipart.decode(rsp.headers["content-type"], body)
    assert v.schema_errors(SMF_API, "SmContextCreateError", data) == []
    assert multipart.ref(data, "n1SmMsg", parts) is not None
    rsp = smf.service._reply(200, {"upCnxState": "DEACTIVATED"}, n1=b"\x2e", n2=b"\x00", n2_type="PDU_RES_REL_CMD")
    body = rsp.encoded()  # the octets HTTP/2 would carry (in-process it keeps the parts)
    data, _ = multipart.decode(rsp.headers["content-type"], body)
    assert v.schema_errors(SMF_API, "SmContextUpdatedData", data) == []


def test_amf_update_and_release_bodies(v: Any) -> None:
    for body in ({"n2SmInfo": {"contentId": "n2msg"}, "n2SmInfoType": "PDU_RES_SETUP_RSP"},
                 {"n1SmMsg": {"contentId": "n1msg"}}, {"upCnxState": "DEACTIVATED"}):
        assert v.schema_errors(SMF_API, "SmContextUpdateData", body) == []
    assert v.schema_errors(SMF_API, "SmContextReleaseData", {"cause": "REL_DUE_TO_DUPLICATE_SESSION_ID"}) == []
    assert v.schema_errors(SMF_API, "SmContextStatusNotification",
                           {"statusInfo": {"resourceStatus": "RELEASED"}}) == []


def test_n1n2_message_transfer(v: Any) -> None:
    data, parts = n1n2_body(1, b"\x2e", b"\x00", "PDU_RES_SETUP_REQ", {"sst": 1})
    assert set(parts) == {"n1msg", "n2msg"}
    assert v.schema_errors("TS29518_Namf_Communication.yaml", "N1N2MessageTransferReqData", data) == []


def test_sm_policy(v: Any, apps: Any) -> None:
    _, smf = apps
    ctx = smf.service.policy_context(_sm(smf))
    assert v.schema_errors("TS29512_Npcf_SMPolicyControl.yaml", "SmPolicyContextData", ctx) == []
    dec = decide(load_config({}).pcf, ctx)
    assert v.schema_errors("TS29512_Npcf_SMPolicyControl.yaml", "SmPolicyDecision", dec) == []


def test_uecm_smf_registration(v: Any, apps: Any) -> None:
    _, smf = apps
    body = {"smfInstanceId": smf.instance_id, "pduSessionId": 1, "singleNssai": {"sst": 1},
            "plmnId": smf.clients.plmn, "dnn": "internet"}
    assert v.schema_errors("TS29503_Nudm_UECM.yaml", "SmfRegistration", body) == []


async def test_nssf_answer(v: Any) -> None:
    import json
    from urllib.parse import urlencode

    r = nssf_router(load_config({}).nssf, lambda: "http://127.0.0.10:7777", {})
    q = urlencode({"nf-type": "AMF", "nf-id": "x", "slice-info-request-for-registration": json.dumps(
        {"subscribedNssai": [{"subscribedSnssai": {"sst": 1}, "defaultIndication": True}]})})
    rsp = await r.dispatch(Request("GET", "/nnssf-nsselection/v2/network-slice-information", q))
    assert v.schema_errors("TS29531_Nnssf_NSSelection.yaml", "AuthorizedNetworkSliceInfo", rsp.json()) == []
    q = urlencode({"nf-type": "AMF", "nf-id": "x", "slice-info-request-for-pdu-session": json.dumps(
        {"sNssai": {"sst": 1}, "roamingIndication": "NON_ROAMING"})})
    rsp = await r.dispatch(Request("GET", "/nnssf-nsselection/v2/network-slice-information", q))
    assert v.schema_errors("TS29531_Nnssf_NSSelection.yaml", "AuthorizedNetworkSliceInfo", rsp.json()) == []


async def test_n1n2_failure_notification(v: Any, apps: Any) -> None:
    """TS 29.518 §5.2.2.3.2: the transfer names the SMF's callback; the AMF's notification
    fits N1N2MsgTxfrFailureNotification, and the SMF takes it (204), refuses junk (400)."""
    amf, smf = apps
    sm = _sm(smf)
    data, _ = n1n2_body(1, None, b"\x00", "PDU_RES_SETUP_REQ", {"sst": 1})
    data["n1n2FailureTxfNotifURI"] = f"http://127.0.0.4:7777/nsmf-callback/v1/sm-contexts/{sm.ref}/n1n2-failure"
    assert v.schema_errors("TS29518_Namf_Communication.yaml", "N1N2MessageTransferReqData", data) == []
    note = {"cause": "UE_NOT_RESPONDING",
            "n1n2MsgDataUri": "http://127.0.0.5:7777/namf-comm/v1/ue-contexts/imsi-001010000000001/n1-n2-messages/1"}
    assert v.schema_errors("TS29518_Namf_Communication.yaml", "N1N2MsgTxfrFailureNotification", note) == []
    path = f"/nsmf-callback/v1/sm-contexts/{sm.ref}/n1n2-failure"
    rsp = await smf.router.dispatch(Request("POST", path, "", {}, b"", note))
    assert rsp.status == 204 and smf.ctx.stats["n1n2_transfer_failures"] == 1
    rsp = await smf.router.dispatch(Request("POST", path, "", {}, b"", {"cause": 1}))
    assert rsp.status == 400
    rsp = await smf.router.dispatch(Request("POST", "/nsmf-callback/v1/sm-contexts/nope/n1n2-failure", "", {}, b"", note))
    assert rsp.status == 404
