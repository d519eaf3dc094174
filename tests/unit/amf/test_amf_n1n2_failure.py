"""N1N2 transfer failure (TS 29.518 §5.2.2.3.2, TS 23.502 §4.2.3.3 step 4b): paging for a
waiting N1N2MessageTransfer gives up, and the SMF that asked is told, by plain calls."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fivecore.transport.http2 import Request, Response
from fivecore.wire.sbi import multipart

sys.path.insert(0, str(Path(__file__).parent))
from homenet import make  # noqa: E402

SUPI = "imsi-001010000000001"


def test_gmm_reports_paging_failure_for_a_waiting_transfer_only() -> None:
    loop, (ue,) = make()
    amf_ue = loop.register(ue)  # released after registration: CM-IDLE
    failed: list[Any] = []
    loop.gmm.on_paging_failed = failed.append
    loop.run(ue, loop.gmm.page(amf_ue, then=("n1n2",)))
    ue.connected = True  # the UE is out of coverage: it never answers
    for _ in range(loop.gmm.cfg.max_paging + 1):
        loop.fire(ue, amf_ue, "T3513")
    assert failed == [amf_ue]
    assert loop.gmm.ctx.stats["paging_failed"] == 1


async def test_amf_notifies_the_smf_and_forgets_the_transfer(amf_with_ue: Any) -> None:
    app, ue = amf_with_ue()
    app._execute = lambda acts: None  # type: ignore[method-assign]
    app.ngap.translate = lambda acts: []  # type: ignore[method-assign]  # no NGAP encoding here
    ue.tmsi = 0x1234
    ue.gnb = None  # CM-IDLE
    sent: list[tuple[str, str, Any, str | None]] = []

    async def call(method: str, path: str, *, body: Any = None, base_uri: str | None = None,
                   **kw: Any) -> Response:
        sent.append((method, path, body, base_uri))
        return Response(204)

    app.sessions.client.call = call  # type: ignore[method-assign]
    data = {"pduSessionId": 5, "n1n2FailureTxfNotifURI": "http://127.0.0.4:7777/nsmf-callback/v1/sm-contexts/r1/n1n2-failure",
            "n2InfoContainer": {"n2InformationClass": "SM", "smInfo": {
                "pduSessionId": 5, "n2InfoContent": {"ngapIeType": "PDU_RES_SETUP_REQ", "ngapData": {"contentId": "n2"}}}}}
    req = Request("POST", f"/namf-comm/v1/ue-contexts/{SUPI}/n1-n2-messages", "", {}, b"",
                  multipart.Parts(data, {"n2": (multipart.NGAP, b"\x00\x01")}))
    rsp = await app.router.dispatch(req)
    assert rsp.status == 202 and rsp.json()["cause"] == "ATTEMPTING_TO_REACH_UE"
    assert app.sessions.pending[SUPI][5].failure_uri == data["n1n2FailureTxfNotifURI"]
    app.gmm.on_paging_failed(ue)  # what the last T3513 expiry calls
    for t in list(app.sessions._bg):
        await t
    assert SUPI not in app.sessions.pending
    ((method, path, body, base),) = sent
    assert (method, path, base) == ("POST", "/nsmf-callback/v1/sm-contexts/r1/n1n2-failure", "http://127.0.0.4:7777")
    assert body["cause"] == "UE_NOT_RESPONDING" and body["n1n2MsgDataUri"].endswith(f"/{SUPI}/n1-n2-messages/5")
    assert app.sessions.stats["n1n2_paging_failed"] == 1
