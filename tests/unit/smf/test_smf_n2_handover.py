"""N2 handover on the SMF (TS 23.502 §4.9.1.3, TS 29.502 §5.2.2.3.4): UpdateSMContext with
hoState PREPARING / PREPARED / COMPLETED / CANCELLED, by plain calls to the SMF's router; the
PFCP goes to the UPF's own sans-I/O node (see test_smf_path_switch)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from handoverkit import GNB_A, GNB_B, answer, smf_with_session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.smf.app import SmfApp
from fivecore.nf.smf.context import SmContext
from fivecore.transport.http2 import Request, Response
from fivecore.wire import ngap, pfcp
from fivecore.wire.sbi import multipart

TARGET = {"ranNodeId": {"plmnId": {"mcc": "001", "mnc": "01"}, "gNbId": {"bitLength": 22, "gNBValue": "000002"}},
          "tai": {"plmnId": {"mcc": "001", "mnc": "01"}, "tac": "000001"}}


async def update(app: SmfApp, sm: SmContext, body: dict[str, Any], n2: bytes | None = None) -> Response:
    """UpdateSMContext as the AMF sends it: multipart/related with the N2 part, or JSON."""
    if n2 is None:
        req = Request("POST", f"/nsmf-pdusession/v1/sm-contexts/{sm.ref}/modify", "",
                      {"content-type": "application/json"}, json.dumps(body).encode())
    else:
        data, ctype = multipart.encode(dict(body, n2SmInfo={"contentId": "n2msg"}),
                                       {"n2msg": (multipart.NGAP, n2)})
        req = Request("POST", f"/nsmf-pdusession/v1/sm-contexts/{sm.ref}/modify", "",
                      {"content-type": ctype}, data)
    return await app.router.dispatch(req)


def required_transfer() -> bytes:
    return ngap.encode_ie("HandoverRequiredTransfer", {})


def ack_transfer(ip: str = GNB_B, teid: int = 0x2002, qfis: tuple[int, ...] = (1,)) -> bytes:
    return ngap.encode_ie("HandoverRequestAcknowledgeTransfer", {
        "dL-NGU-UP-TNLInformation": ngap.gtp_tunnel(ip, teid),
        "qosFlowSetupResponseList": [{"qosFlowIdentifier": q} for q in qfis]})


PREPARING = {"hoState": "PREPARING", "n2SmInfoType": "HANDOVER_REQUIRED", "targetId": TARGET}
PREPARED = {"hoState": "PREPARED", "n2SmInfoType": "HANDOVER_REQ_ACK"}


async def test_prepare_then_complete_moves_the_downlink_with_end_markers() -> None:
    app, wire, sm = await smf_with_session()
    ul = (sm.ul_ip, sm.ul_teid)
    rsp = await update(app, sm, PREPARING, required_transfer())
    data, n2 = answer(rsp)
    assert rsp.status == 200 and data["hoState"] == "PREPARING" and data["n2SmInfoType"] == "PDU_RES_SETUP_REQ"
    assert n2 is not None
    setup = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", n2)
    assert ngap.gtp_tunnel_from(setup["UL-NGU-UP-TNLInformation"]) == ul, "same UPF, same uplink F-TEID"
    n_requests = len(wire.sent)
    rsp = await update(app, sm, PREPARED, ack_transfer())
    data, n2 = answer(rsp)
    assert rsp.status == 200 and data["hoState"] == "PREPARED" and data["n2SmInfoType"] == "HANDOVER_CMD"
    assert n2 is not None and ngap.decode_ie("HandoverCommandTransfer", n2) == {}
    # nothing moves before the UE arrives at the target
    assert len(wire.sent) == n_requests and (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1001)
    app.ctx.dirty = set()
    rsp = await update(app, sm, {"hoState": "COMPLETED"})
    assert rsp.status == 200 and rsp.json()["hoState"] == "COMPLETED"
    far = wire.last_request().ies.all("update_far")[0]
    fp = far.update_forwarding_parameters
    assert (fp.outer_header_creation.teid, fp.outer_header_creation.ipv4) == (0x2002, GNB_B)
    assert int(fp.pfcpsmreq_flags) & 0x02
    assert wire.node.take_end_markers() == [(0x1001, (GNB_A, 2152))]
    assert (sm.dl_ip, sm.dl_teid) == (GNB_B, 0x2002) and sm.ref in app.ctx.dirty
    # a second COMPLETED has nothing prepared: refused, nothing moves
    assert (await update(app, sm, {"hoState": "COMPLETED"})).status == 409
    assert (sm.dl_ip, sm.dl_teid) == (GNB_B, 0x2002)


async def test_cancel_and_resource_allocation_failure_keep_the_source() -> None:
    app, wire, sm = await smf_with_session()
    for cancel in ({"hoState": "CANCELLED"}, None):
        assert (await update(app, sm, PREPARING, required_transfer())).status == 200
        assert (await update(app, sm, PREPARED, ack_transfer())).status == 200
        if cancel is not None:
            rsp = await update(app, sm, cancel)
        else:
            fail = ngap.encode_ie("HandoverResourceAllocationUnsuccessfulTransfer",
                                  {"cause": ngap.cause("radioNetwork", "radio-resources-not-available")})
            rsp = await update(app, sm, {"hoState": "CANCELLED", "n2SmInfoType": "HANDOVER_RES_ALLOC_FAIL"}, fail)
        assert rsp.status == 200 and rsp.json()["hoState"] == "CANCELLED"
        assert sm.ref not in app.service.n2_handover.prepared
        assert (await update(app, sm, {"hoState": "COMPLETED"})).status == 409
        assert (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1001) and wire.node.take_end_markers() == []


async def test_refusals() -> None:
    app, wire, sm = await smf_with_session()
    # the target did not accept the session's QoS flow: HANDOVER_PREP_FAIL
    assert (await update(app, sm, PREPARING, required_transfer())).status == 200
    rsp = await update(app, sm, PREPARED, ack_transfer(qfis=(5,)))
    data, n2 = answer(rsp)
    assert rsp.status == 403 and data["n2SmInfoType"] == "HANDOVER_PREP_FAIL" and n2 is not None
    assert ngap.decode_ie("HandoverPreparationUnsuccessfulTransfer", n2)["cause"][0] == "radioNetwork"
    # an Acknowledge without a preparation
    rsp = await update(app, sm, PREPARED, ack_transfer())
    assert rsp.status == 403 and answer(rsp)[0]["n2SmInfoType"] == "HANDOVER_PREP_FAIL"
    # malformed: 400
    assert (await update(app, sm, PREPARING, b"\xff\xff")).status == 400
    assert (await update(app, sm, {"hoState": "PREPARING", "n2SmInfoType": "HANDOVER_REQUIRED"},
                         required_transfer())).status == 400  # no targetId
    assert (await update(app, sm, {"hoState": "BOGUS"})).status == 400
    assert (await update(app, sm, {"hoState": "PREPARING"})).status == 400
    assert (await update(app, sm, PREPARING, required_transfer())).status == 200
    assert (await update(app, sm, PREPARED, ack_transfer(ip="::1"))).status == 400
    # a session without an active user plane cannot be handed over
    sm.up_active = False
    rsp = await update(app, sm, PREPARING, required_transfer())
    assert rsp.status == 403 and answer(rsp)[0]["n2SmInfoType"] == "HANDOVER_PREP_FAIL"


async def test_pfcp_refusal_at_completion_keeps_the_old_tunnel() -> None:
    app, wire, sm = await smf_with_session()
    assert (await update(app, sm, PREPARING, required_transfer())).status == 200
    assert (await update(app, sm, PREPARED, ack_transfer())).status == 200
    wire.node.ctx.sessions.clear()
    assert (await update(app, sm, {"hoState": "COMPLETED"})).status == 500
    assert (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1001)
    assert wire.last_request().msg_type == "SessionModificationRequest"
    assert pfcp.decode(wire.sent[-1]).seid == sm.upf_seid


@pytest.fixture(scope="module")
def loop_and_session() -> Any:
    loop = asyncio.new_event_loop()
    app, wire, sm = loop.run_until_complete(smf_with_session())
    loop.run_until_complete(update(app, sm, PREPARING, required_transfer()))
    yield loop, app, sm
    loop.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["HANDOVER_REQUIRED", "HANDOVER_REQ_ACK", "HANDOVER_RES_ALLOC_FAIL"]),
       data=st.one_of(
           st.binary(max_size=64),
           st.builds(lambda b, i, x: b[:i] + bytes([x]) + b[i + 1:], st.just(ack_transfer()),
                     st.integers(0, 20), st.integers(0, 255))))
def test_fuzzed_handover_transfers_get_a_protocol_answer(loop_and_session: Any, kind: str, data: bytes) -> None:
    """Whatever the N2 part holds, the SMF answers 200, 400 or 403; it never fails inside."""
    loop, app, sm = loop_and_session
    ho = {"HANDOVER_REQUIRED": "PREPARING", "HANDOVER_REQ_ACK": "PREPARED"}.get(kind, "CANCELLED")
    rsp = loop.run_until_complete(update(app, sm, {"hoState": ho, "n2SmInfoType": kind, "targetId": TARGET}, data))
    assert rsp.status in (200, 400, 403)


SPEC = Path(__file__).resolve().parents[3] / ".." / "shared" / "3gpp-openapi"
SMF_API = "TS29502_Nsmf_PDUSession.yaml"


async def test_bodies_follow_the_openapi_schemas() -> None:
    """TS 29.502: every SmContextUpdateData the AMF sends in an N2 handover, and the SMF's
    SmContextUpdatedData / SmContextUpdateError, as they would cross HTTP/2."""
    if not (SPEC / SMF_API).exists():
        pytest.skip("3GPP OpenAPI files not found beside the repository")
    from fivecore.wire.sbi.schema import validator_for

    v = validator_for(str(SPEC))
    n2 = {"n2SmInfo": {"contentId": "n2msg"}}
    for body in (dict(PREPARING, **n2), dict(PREPARED, **n2), {"hoState": "COMPLETED"}, {"hoState": "CANCELLED"},
                 {"hoState": "CANCELLED", "n2SmInfoType": "HANDOVER_RES_ALLOC_FAIL", **n2}):
        assert v.schema_errors(SMF_API, "SmContextUpdateData", body) == [], body
    app, _, sm = await smf_with_session()

    def body_of(rsp: Response) -> dict[str, Any]:
        if isinstance(rsp.obj, multipart.Parts):
            body = rsp.encoded()  # the octets HTTP/2 would carry (sets the content type)
            data, _parts = multipart.decode(rsp.headers["content-type"], body)
            return data
        return rsp.json()

    for req, n2b, schema in ((PREPARING, required_transfer(), "SmContextUpdatedData"),
                             (PREPARED, ack_transfer(qfis=(9,)), "SmContextUpdateError"),
                             (PREPARING, required_transfer(), "SmContextUpdatedData"),
                             (PREPARED, ack_transfer(), "SmContextUpdatedData"),
                             ({"hoState": "COMPLETED"}, None, "SmContextUpdatedData")):
        rsp = await update(app, sm, req, n2b)
        assert v.schema_errors(SMF_API, schema, body_of(rsp)) == [], body_of(rsp)


# --- direct data forwarding (TS 23.502 §4.9.1.3.2-3; TS 38.413 §9.3.4.1, §9.3.4.10,
# §9.3.4.11, §9.3.4.14) ----------------------------------------------------------------------------

FWD = (GNB_B, 0x3003)


def direct_required_transfer() -> bytes:
    return ngap.encode_ie("HandoverRequiredTransfer", {"directForwardingPathAvailability": "direct-path-available"})


def forwarding_ack_transfer(fwd: Any = ngap.gtp_tunnel(*FWD), qfi: int = 1, accepted: bool = True) -> bytes:
    flow: dict[str, Any] = {"qosFlowIdentifier": qfi}
    if accepted:
        flow["dataForwardingAccepted"] = "data-forwarding-accepted"
    return ngap.encode_ie("HandoverRequestAcknowledgeTransfer", {
        "dL-NGU-UP-TNLInformation": ngap.gtp_tunnel(GNB_B, 0x2002), "dLForwardingUP-TNLInformation": fwd,
        "qosFlowSetupResponseList": [flow]})


async def test_direct_forwarding_tunnel_goes_to_the_source_in_the_command() -> None:
    app, wire, sm = await smf_with_session()
    rsp = await update(app, sm, PREPARING, direct_required_transfer())
    data, n2 = answer(rsp)
    assert rsp.status == 200 and n2 is not None
    setup = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", n2)
    # the target learns a direct path exists (TS 38.413 §8.4.2.2)
    assert setup.get("DirectForwardingPathAvailability") == "direct-path-available"
    assert "DataForwardingNotPossible" not in setup
    n_requests = len(wire.sent)
    rsp = await update(app, sm, PREPARED, forwarding_ack_transfer())
    data, n2 = answer(rsp)
    assert rsp.status == 200 and data["n2SmInfoType"] == "HANDOVER_CMD" and n2 is not None
    cmd = ngap.decode_ie("HandoverCommandTransfer", n2)
    assert ngap.gtp_tunnel_from(cmd["dLForwardingUP-TNLInformation"]) == FWD
    assert [f["qosFlowIdentifier"] for f in cmd["qosFlowToBeForwardedList"]] == [sm.qfi]
    # direct forwarding needs nothing of the UPF, and nothing moves before the UE arrives
    assert len(wire.sent) == n_requests and (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1001)
    rsp = await update(app, sm, {"hoState": "COMPLETED"})
    assert rsp.status == 200 and (sm.dl_ip, sm.dl_teid) == (GNB_B, 0x2002)
    # the End Marker on the old path is what ends the source's forwarding
    assert wire.node.take_end_markers() == [(0x1001, (GNB_A, 2152))]
    assert app.ctx.stats.get("n2_handover_direct_forwarding") == 1


async def test_no_forwarding_without_a_direct_path_or_an_accepted_flow() -> None:
    app, wire, sm = await smf_with_session()
    # the source offers no direct path: this SMF has no indirect forwarding either
    rsp = await update(app, sm, PREPARING, required_transfer())
    setup = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", answer(rsp)[1] or b"")
    assert setup.get("DataForwardingNotPossible") == "data-forwarding-not-possible"
    assert "DirectForwardingPathAvailability" not in setup
    rsp = await update(app, sm, PREPARED, forwarding_ack_transfer())  # a tunnel nobody asked for
    assert rsp.status == 200 and ngap.decode_ie("HandoverCommandTransfer", answer(rsp)[1] or b"") == {}
    assert app.ctx.stats.get("n2_handover_forwarding_ignored") == 1
    # a direct path, but the target did not accept forwarding for the flow
    assert (await update(app, sm, PREPARING, direct_required_transfer())).status == 200
    rsp = await update(app, sm, PREPARED, forwarding_ack_transfer(accepted=False))
    assert rsp.status == 200 and ngap.decode_ie("HandoverCommandTransfer", answer(rsp)[1] or b"") == {}
    # a direct path and a target without a forwarding tunnel: the command has none
    assert (await update(app, sm, PREPARING, direct_required_transfer())).status == 200
    rsp = await update(app, sm, PREPARED, ack_transfer())
    assert rsp.status == 200 and ngap.decode_ie("HandoverCommandTransfer", answer(rsp)[1] or b"") == {}


@pytest.mark.parametrize("fwd", [
    ngap.gtp_tunnel("::1", 0x3003),                                                   # not IPv4
    ngap.gtp_tunnel(GNB_B, 0),                                                        # TEID 0: no tunnel
    ("gTPTunnel", {"transportLayerAddress": (1, 40), "gTP-TEID": b"\x00\x00\x30\x03"}),  # 40-bit address
])
async def test_a_malformed_forwarding_tunnel_is_refused_not_a_crash(fwd: Any) -> None:
    app, wire, sm = await smf_with_session()
    assert (await update(app, sm, PREPARING, direct_required_transfer())).status == 200
    rsp = await update(app, sm, PREPARED, forwarding_ack_transfer(fwd))
    assert rsp.status == 400 and rsp.json()["cause"] == "INVALID_MSG_FORMAT"
    assert sm.ref not in app.service.n2_handover.prepared
    # the SMF carries on: the same handover with a good Acknowledge goes through
    rsp = await update(app, sm, PREPARED, forwarding_ack_transfer())
    assert rsp.status == 200 and answer(rsp)[0]["n2SmInfoType"] == "HANDOVER_CMD"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(i=st.integers(0, 60), x=st.integers(0, 255), cut=st.integers(1, 70))
def test_fuzzed_forwarding_acknowledge_gets_a_protocol_answer(loop_and_session: Any, i: int, x: int, cut: int) -> None:
    """Any octet of an Acknowledge Transfer with a forwarding tunnel changed, or the transfer
    cut short: 200, 400 or 403, never an exception out of the SMF."""
    loop, app, sm = loop_and_session
    good = forwarding_ack_transfer()
    data = (good[:i] + bytes([x]) + good[i + 1:])[:cut]
    loop.run_until_complete(update(app, sm, PREPARING, direct_required_transfer()))
    rsp = loop.run_until_complete(update(app, sm, PREPARED, data))
    assert rsp.status in (200, 400, 403)
