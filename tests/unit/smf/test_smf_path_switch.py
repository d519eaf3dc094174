"""Xn handover on the SMF (TS 23.502 §4.9.1.2.2, TS 29.502 §5.2.2.3.x): UpdateSMContext with
PATH_SWITCH_REQ / PATH_SWITCH_SETUP_FAIL, by plain calls to the SMF's router.

No sockets: the SMF's N4 datagrams go to the UPF's own sans-I/O PFCP node
(:class:`fivecore.nf.upf.pfcp_server.PfcpNode`) and its answers come back as the UDP protocol
would deliver them, so the PFCP the SMF builds is executed by the real UPF procedures (which
report the End Markers they would send)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from handoverkit import (
    GNB_A,
    GNB_B,
    answer,
    smf_with_session,
    switch_transfer,
    update,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.smf import persist
from fivecore.wire import ngap, pfcp
from fivecore.wire.sbi import multipart


async def test_path_switch_moves_the_downlink_with_end_markers() -> None:
    app, wire, sm = await smf_with_session()
    app.ctx.dirty = set()
    ul = (sm.ul_ip, sm.ul_teid)
    rsp = await update(app, sm, "PATH_SWITCH_REQ", switch_transfer())
    data, n2 = answer(rsp)
    assert rsp.status == 200 and data["n2SmInfoType"] == "PATH_SWITCH_REQ_ACK" and n2 is not None
    ack = ngap.decode_ie("PathSwitchRequestAcknowledgeTransfer", n2)
    assert ngap.gtp_tunnel_from(ack["uL-NGU-UP-TNLInformation"]) == ul, "the uplink F-TEID stays"
    # TS 29.244 §5.2.1 / §8.2.58: FAR 2 to the target's tunnel with SNDEM
    req = wire.last_request()
    assert req.msg_type == "SessionModificationRequest" and req.seid == sm.upf_seid
    far = req.ies.all("update_far")[0]
    fp = far.update_forwarding_parameters
    assert far.far_id == 2 and far.apply_action & pfcp.APPLY_FORW
    assert (fp.outer_header_creation.teid, fp.outer_header_creation.ipv4) == (0x2002, GNB_B)
    assert int(fp.pfcpsmreq_flags) & 0x02
    # the UPF sends an End Marker on the old tunnel, to the old gNB
    assert wire.node.take_end_markers() == [(0x1001, (GNB_A, 2152))]
    assert (sm.dl_ip, sm.dl_teid) == (GNB_B, 0x2002) and sm.up_active
    # smf/persist.py keeps the new tunnel: the context is marked and its record names it
    assert sm.ref in app.ctx.dirty
    rec = persist.record_of(sm)
    assert rec is not None and rec.body["dl"] == [0x2002, GNB_B]


async def test_a_second_switch_chains_from_the_new_tunnel() -> None:
    app, wire, sm = await smf_with_session()
    assert (await update(app, sm, "PATH_SWITCH_REQ", switch_transfer())).status == 200
    wire.node.take_end_markers()
    assert (await update(app, sm, "PATH_SWITCH_REQ", switch_transfer(GNB_A, 0x3003))).status == 200
    assert wire.node.take_end_markers() == [(0x2002, (GNB_B, 2152))]


async def test_refusals_keep_the_old_tunnel() -> None:
    app, wire, sm = await smf_with_session()
    # the session's QoS flow was not accepted by the target: nothing to switch
    rsp = await update(app, sm, "PATH_SWITCH_REQ", switch_transfer(qfis=(5,)))
    data, n2 = answer(rsp)
    assert rsp.status == 403 and data["n2SmInfoType"] == "PATH_SWITCH_REQ_FAIL" and n2 is not None
    assert ngap.decode_ie("PathSwitchRequestUnsuccessfulTransfer", n2)["cause"][0] == "radioNetwork"
    assert (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1001)
    # the UPF lost the session (PFCP refusal): the SMF answers the same way, nothing changed
    wire.node.ctx.sessions.clear()
    rsp = await update(app, sm, "PATH_SWITCH_REQ", switch_transfer())
    assert rsp.status == 403 and answer(rsp)[0]["n2SmInfoType"] == "PATH_SWITCH_REQ_FAIL"
    assert (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1001)
    # an undecodable transfer is the AMF's mistake: 400
    assert (await update(app, sm, "PATH_SWITCH_REQ", b"\x00\x01")).status == 400
    assert (await update(app, sm, "PATH_SWITCH_REQ", switch_transfer(ip="::1"))).status == 400


async def test_setup_failed_at_target_deactivates_the_user_plane() -> None:
    """TS 23.502 §4.9.1.2.2 step 2: the session stays, downlink is buffered and reported."""
    app, wire, sm = await smf_with_session()
    failed = ngap.encode_ie("PathSwitchRequestSetupFailedTransfer",
                            {"cause": ngap.cause("radioNetwork", "radio-resources-not-available")})
    rsp = await update(app, sm, "PATH_SWITCH_SETUP_FAIL", failed)
    assert rsp.status == 200 and rsp.json()["upCnxState"] == "DEACTIVATED"
    far = wire.last_request().ies.all("update_far")[0]
    assert far.apply_action & pfcp.APPLY_BUFF and far.apply_action & pfcp.APPLY_NOCP
    assert not sm.up_active and sm.dl_teid is None and sm.ref in app.ctx.by_ref
    assert (await update(app, sm, "PATH_SWITCH_SETUP_FAIL", b"\xff")).status == 400


@pytest.fixture(scope="module")
def loop_and_session() -> Any:
    loop = asyncio.new_event_loop()
    app, wire, sm = loop.run_until_complete(smf_with_session())
    yield loop, app, sm
    loop.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=64),
    st.builds(lambda b, i, x: b[:i] + bytes([x]) + b[i + 1:], st.just(switch_transfer()),
              st.integers(0, 20), st.integers(0, 255))))
def test_fuzzed_path_switch_transfers_get_a_protocol_answer(loop_and_session: Any, data: bytes) -> None:
    """Whatever the N2 part holds, the SMF answers 200, 400 or 403; it never fails inside."""
    loop, app, sm = loop_and_session
    rsp = loop.run_until_complete(update(app, sm, "PATH_SWITCH_REQ", data))
    assert rsp.status in (200, 400, 403)


SPEC = Path(__file__).resolve().parents[3] / ".." / "shared" / "3gpp-openapi"
SMF_API = "TS29502_Nsmf_PDUSession.yaml"


async def test_bodies_follow_the_openapi_schemas() -> None:
    """TS 29.502: the AMF's SmContextUpdateData and the SMF's SmContextUpdatedData /
    SmContextUpdateError of a path switch, as they would cross HTTP/2."""
    if not (SPEC / SMF_API).exists():
        pytest.skip("3GPP OpenAPI files not found beside the repository")
    from fivecore.wire.sbi.schema import validator_for

    v = validator_for(str(SPEC))
    for kind in ("PATH_SWITCH_REQ", "PATH_SWITCH_SETUP_FAIL"):
        assert v.schema_errors(SMF_API, "SmContextUpdateData",
                               {"n2SmInfo": {"contentId": "n2msg"}, "n2SmInfoType": kind}) == []
    app, _, sm = await smf_with_session()
    for n2, schema in ((switch_transfer(), "SmContextUpdatedData"),
                       (switch_transfer(qfis=(7,)), "SmContextUpdateError")):
        rsp = await update(app, sm, "PATH_SWITCH_REQ", n2)
        body = rsp.encoded()  # the octets HTTP/2 would carry (in-process it keeps the parts)
        data, parts = multipart.decode(rsp.headers["content-type"], body)
        assert v.schema_errors(SMF_API, schema, data) == [], data
        assert multipart.ref(data, "n2SmInfo", parts) is not None
