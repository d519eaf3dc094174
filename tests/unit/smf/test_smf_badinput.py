"""Hostile input to the SMF: malformed Nsmf_PDUSession requests get ProblemDetails or a 5GSM
reject, malformed N4 datagrams are counted and dropped; nothing escapes (ARCHITECTURE.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.nf.smf.app import SmfApp
from fivecore.nf.smf.pfcp import N4
from fivecore.transport.http2 import Request
from fivecore.wire import nas, pfcp
from fivecore.wire.sbi import multipart

CREATE = "/nsmf-pdusession/v1/sm-contexts"


@pytest.fixture()
def smf() -> SmfApp:
    return SmfApp(load_config({"smf": {"nrf_uri": None}}))


def _create(data: Any, n1: bytes | None) -> Request:
    body, ctype = multipart.encode(data, {"n1": (multipart.NAS_5G, n1)} if n1 is not None else {})
    return Request("POST", CREATE, "", {"content-type": ctype}, body)


GOOD = {"supi": "imsi-001010000000001", "pduSessionId": 1, "dnn": "internet", "sNssai": {"sst": 1},
        "servingNfId": "amf", "servingNetwork": {"mcc": "001", "mnc": "01"}, "anType": "3GPP_ACCESS",
        "smContextStatusUri": "http://127.0.0.5:7777/cb", "n1SmMsg": {"contentId": "n1"}}


async def test_missing_ies_and_bad_json(smf: SmfApp) -> None:
    r = await smf.router.dispatch(Request("POST", CREATE, "", {"content-type": "application/json"}, b"{nope"))
    assert r.status == 400
    r = await smf.router.dispatch(_create({"supi": "x"}, b"\x2e"))
    assert r.status == 400 and json.loads(r.body)["cause"] == "MANDATORY_IE_MISSING"
    r = await smf.router.dispatch(_create({**GOOD, "n1SmMsg": {"contentId": "other"}}, b"\x2e\x01\x01\xc1"))
    assert r.status == 400
    bad = Request("POST", CREATE, "", {"content-type": 'multipart/related; boundary="b"'}, b"--b\r\ngarbage")
    assert (await smf.router.dispatch(bad)).status == 400


@pytest.mark.parametrize(("n1", "cause"), [
    (b"\x7e\x00\x41", 95),                     # a 5GMM message where 5GSM belongs
    (b"\x2e\x01\x05\xee\x00", 97),             # unknown 5GSM message type
    (b"\x2e\x01\x05\xc1", 96),                 # Establishment Request with its mandatory IE cut
])
async def test_malformed_n1_gets_a_5gsm_reject(smf: SmfApp, n1: bytes, cause: int) -> None:
    r = await smf.router.dispatch(_create(GOOD, n1))
    assert r.status == 403
    body = r.encoded()  # the octets HTTP/2 would carry (in-process it keeps the parts)
    data, parts = multipart.decode(r.headers["content-type"], body)
    rej = nas.decode(multipart.ref(data, "n1SmMsg", parts))
    assert rej.message_type == "PDUSessionEstablishmentReject" and rej.cause == cause


async def test_unknown_sm_context(smf: SmfApp) -> None:
    r = await smf.router.dispatch(Request("POST", CREATE + "/nope/modify", "", {"content-type": "application/json"},
                                          b'{"upCnxState": "DEACTIVATED"}'))
    assert r.status == 404 and json.loads(r.body)["cause"] == "CONTEXT_NOT_FOUND"


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_n4_survives_garbage(data: bytes) -> None:
    n4 = N4("127.0.0.4", 8805, [])
    n4.datagram_received(data, ("127.0.0.7", 8805))


def test_n4_answers_a_heartbeat_without_its_socket_counting_it() -> None:
    n4 = N4("127.0.0.4", 8805, [])
    hb = pfcp.PfcpMessage.build("HeartbeatRequest", seq=5, recovery_time_stamp=pfcp.ntp_now())
    n4.datagram_received(pfcp.encode(hb), ("127.0.0.7", 8805))
    assert n4.stats.get("send_without_socket") == 1
