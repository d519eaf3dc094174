"""Nsmf_PDUSession_SMContextStatusNotify at the AMF (TS 29.502 §5.2.2.10) when the UE reuses
a PDU session ID at once (TS 23.502 §4.3.4.2, then §4.3.2.2.1 with the same PSI): the SMF's
RELEASED notification about the old SM context may arrive after the AMF created the new one;
it must end the old context only.

Before the fix the AMF identified the context by SUPI and PSI alone, forgot the new session,
dropped the gNB's PDU Session Resource Setup Response (``n2_unknown_session``), so the SMF
never learnt the gNB's N3 F-TEID and the UPF buffered the session's downlink for ever (the
intermittent "second PDU session after release gets no ping replies").

The AMF's real session relay and router are driven with plain calls; the SMF side is a
router in the in-process registry that records what the AMF sends it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from fivecore.nf.amf.app import AmfApp
from fivecore.nf.amf.sessions import AmfSmSession
from fivecore.nf.common.client import LocalRegistry
from fivecore.transport.http2 import Request, Response, Router, json_response
from fivecore.wire.sbi import multipart

SUPI = "imsi-001010000000001"
EST_REQ = bytes((0x2E, 0x01, 0x01, 0xC1, 0xFF, 0xFF, 0x91))  # opaque to the AMF


class SmfSide:
    """The nsmf-pdusession service as the AMF sees it: Create and Release SM Context."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.released: list[str] = []
        self.router = Router("smf")
        self.router.add("POST", "/nsmf-pdusession/v1/sm-contexts", self.create)
        self.router.add("POST", "/nsmf-pdusession/v1/sm-contexts/{ref}/release", self.release)

    def create(self, req: Request) -> Response:
        if isinstance(req.body_obj, multipart.Parts):  # the in-process binding keeps the parts
            data = req.body_obj.data
        else:
            data, _parts = multipart.decode(req.headers["content-type"], req.body)
        self.created.append(data)
        ref = f"ref{len(self.created)}"
        return json_response({"pduSessionId": data["pduSessionId"], "upCnxState": "ACTIVATING"}, 201,
                             {"location": f"http://smf.invalid/nsmf-pdusession/v1/sm-contexts/{ref}"})

    def release(self, req: Request) -> Response:
        self.released.append(req.path_params["ref"])
        return Response(204)


@pytest.fixture()
def amf(amf_with_ue: Any) -> tuple[AmfApp, Any, SmfSide]:
    smf = SmfSide()
    local = LocalRegistry()
    local.register(["nsmf-pdusession"], smf.router)
    app, ue = amf_with_ue(local=local)
    app._execute = lambda acts: None  # type: ignore[method-assign]
    return app, ue, smf


async def _notify(app: AmfApp, uri: str, status: str = "RELEASED") -> int:
    body = json.dumps({"statusInfo": {"resourceStatus": status}}).encode()
    rsp = await app.router.dispatch(Request("POST", urlsplit(uri).path, "",
                                            {"content-type": "application/json"}, body))
    return rsp.status


async def test_late_released_notify_leaves_the_new_session_with_the_same_psi(amf: Any) -> None:
    app, ue, smf = amf
    s = app.sessions
    await s._create(ue, SUPI, 1, EST_REQ, {"sst": 1}, "internet", None)
    old = s.by_supi[SUPI][1]
    assert old.sm_ref == "ref1"
    # The UE's Release Complete is still on its way to the SMF when its new Establishment
    # Request for PSI 1 arrives: the AMF releases what it still holds and creates anew.
    await s._create(ue, SUPI, 1, EST_REQ, {"sst": 1}, "internet", old)
    new = s.by_supi[SUPI][1]
    assert new is not old and new.sm_ref == "ref2" and smf.released == ["ref1"]
    old_uri, new_uri = (c["smContextStatusUri"] for c in smf.created)
    # the SMF's notification about the first context arrives late
    assert await _notify(app, old_uri) == 204
    assert s.by_supi[SUPI].get(1) is new, "the old context's RELEASED ended the new session"
    assert old_uri != new_uri, "each SM context gets a status URI of its own"
    assert await _notify(app, new_uri, "UPDATED") == 204
    assert s.by_supi[SUPI].get(1) is new
    assert await _notify(app, new_uri) == 204
    assert 1 not in s.by_supi[SUPI], "its own RELEASED ends it"


async def test_status_uri_names_supi_psi_and_context(amf: Any) -> None:
    app, _ue, _smf = amf
    a = AmfSmSession(5, None, None, {"sst": 1}, "internet")
    b = AmfSmSession(5, None, None, {"sst": 1}, "internet")
    assert a.status_token != b.status_token
    uri = app.sessions.create_data(SUPI, 5, {"sst": 1}, "internet", 1, a.status_token)["smContextStatusUri"]
    assert urlsplit(uri).path == f"/namf-callback/v1/{SUPI}/sm-context-status/5/{a.status_token}"
    # the form without a context part still ends whatever holds the PSI
    app.sessions.by_supi[SUPI] = {5: a}
    assert await _notify(app, f"http://amf.invalid/namf-callback/v1/{SUPI}/sm-context-status/5") == 204
    assert 5 not in app.sessions.by_supi[SUPI]
