"""Network-triggered work while a UE's NG connection is being released (UE Context Release
Command sent, Complete not yet back; TS 23.502 §4.2.6): nothing more goes on that connection.
A de-registration (TS 24.501 §5.5.2.3) or an N1N2MessageTransfer (TS 29.518 §5.2.2.3.1) waits
and the UE is paged once it is CM-IDLE (TS 23.502 §4.2.3.3), by plain calls."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fivecore.nf.amf.context import GmmState
from fivecore.nf.amf.gmm import ReleaseUe
from fivecore.transport.http2 import Request
from fivecore.wire import ngap
from fivecore.wire.ngap import NgapPdu
from fivecore.wire.sbi import multipart

sys.path.insert(0, str(Path(__file__).parent))
from homenet import make  # noqa: E402

SUPI = "imsi-001010000000001"


def _releasing(app: Any, ue: Any) -> list[Any]:
    """The AMF sends UE Context Release Command; returns what went out."""
    ue.tmsi = 0x1234
    app.gmm.ctx.by_tmsi[0x1234] = ue
    out = app.ngap.translate([ReleaseUe(ue, ("radioNetwork", "user-inactivity"))])
    assert [ngap.decode(o.data).procedure for o in out] == ["UEContextRelease"]
    assert ue.releasing and ue.gnb is not None
    return out


def _release_complete(app: Any, ue: Any) -> list[str]:
    """The gNB's UE Context Release Complete; returns the procedures of what went out."""
    gnb = ue.gnb
    data = ngap.encode(NgapPdu("UEContextRelease", "successful", {
        "AMF-UE-NGAP-ID": ue.amf_ue_ngap_id, "RAN-UE-NGAP-ID": ue.ran_ue_ngap_id}))
    out = app.ngap.on_message(gnb, 0, data)
    assert ue.gnb is None and not ue.releasing
    return [ngap.decode(o.data).procedure for o in out if hasattr(o, "data")]


def test_deregistration_waits_for_the_release_then_pages(amf_with_ue: Any) -> None:
    app, ue = amf_with_ue()
    _releasing(app, ue)
    assert app.gmm.deregister(ue, None, False) == [], "nothing on the connection being released"
    assert ue.state == GmmState.REGISTERED and ue.after_release == ("deregister", None, False)
    assert app.gmm.ctx.stats["deferred_until_released"] == 1
    assert _release_complete(app, ue) == ["Paging"]
    assert ue.proc is not None and ue.proc.name == "paging" and ue.proc.request == ("deregister", None, False)
    assert ue.after_release is None


def test_ue_context_modification_refused_while_releasing(amf_with_ue: Any) -> None:
    app, ue = amf_with_ue()
    sent: list[Any] = []
    app._execute = sent.extend  # type: ignore[method-assign]
    assert app.modify_ue_context(SUPI, rfsp=3)
    _releasing(app, ue)
    assert not app.modify_ue_context(SUPI, rfsp=4)


async def test_n1n2_transfer_waits_for_the_release_then_pages(amf_with_ue: Any) -> None:
    app, ue = amf_with_ue()
    _releasing(app, ue)
    data = {"pduSessionId": 5, "n2InfoContainer": {"n2InformationClass": "SM", "smInfo": {
        "pduSessionId": 5, "n2InfoContent": {"ngapIeType": "PDU_RES_MOD_REQ", "ngapData": {"contentId": "n2"}}}}}
    req = Request("POST", f"/namf-comm/v1/ue-contexts/{SUPI}/n1-n2-messages", "", {}, b"",
                  multipart.Parts(data, {"n2": (multipart.NGAP, b"\x00\x01")}))
    rsp = await app.router.dispatch(req)
    assert rsp.status == 202 and rsp.json()["cause"] == "ATTEMPTING_TO_REACH_UE"
    assert 5 in app.sessions.pending[SUPI] and ue.after_release == ("n1n2",)
    assert _release_complete(app, ue) == ["Paging"]
    assert ue.proc is not None and ue.proc.request == ("n1n2",)
    assert 5 in app.sessions.pending[SUPI], "the message waits for the Service Request"


def test_deregistration_outranks_waiting_data(amf_with_ue: Any) -> None:
    app, ue = amf_with_ue()
    _releasing(app, ue)
    app.gmm.defer_until_released(ue, ("n1n2",))
    app.gmm.deregister(ue, 3, False)
    app.gmm.defer_until_released(ue, ("n1n2",))
    assert ue.after_release == ("deregister", 3, False)


def test_unpageable_after_release_fails_waiting_transfers(amf_with_ue: Any) -> None:
    app, ue = amf_with_ue()
    _releasing(app, ue)
    failed: list[Any] = []
    app.gmm.on_paging_failed = failed.append
    app.gmm.defer_until_released(ue, ("n1n2",))
    ue.state = GmmState.DEREGISTERED  # gone meanwhile: nothing to page
    assert _release_complete(app, ue) == []
    assert failed == [ue]


def test_association_loss_pages_what_waited_through_the_other_gnbs(amf_with_ue: Any) -> None:
    app, ue = amf_with_ue()
    gnb = ue.gnb
    _releasing(app, ue)
    app.gmm.deregister(ue)
    other = app.ngap.association_up(2, "other")
    other.state = gnb.state
    out = app.ngap.association_lost(gnb)
    assert ue.gnb is None and not ue.releasing
    sends = [o for o in out if hasattr(o, "data")]
    assert [(o.gnb, ngap.decode(o.data).procedure) for o in sends] == [(other, "Paging")]
    assert ue.proc is not None and ue.proc.name == "paging"


def test_service_request_before_the_release_ends_carries_out_the_deregistration() -> None:
    """The UE came back on a new connection before the old one's Release Complete."""
    from fivecore.ran.ue import UeState

    loop, (ue,) = make()
    amf_ue = loop.register(ue)  # CM-IDLE
    amf_ue.after_release = ("deregister", None, False)
    loop.initial(ue, ue.service_request())
    assert amf_ue.after_release is None
    assert ue.state == UeState.DEREGISTERED and amf_ue.state == GmmState.DEREGISTERED


def test_ng_reset_pages_what_waited(amf_with_ue: Any) -> None:
    app, ue = amf_with_ue()
    gnb = ue.gnb
    _releasing(app, ue)
    app.gmm.deregister(ue)
    data = ngap.encode(NgapPdu("NGReset", "initiating", {
        "Cause": ngap.cause("transport", "unspecified"), "ResetType": ("nG-Interface", "reset-all")}))
    out = app.ngap.on_message(gnb, 0, data)
    assert [ngap.decode(o.data).procedure for o in out if hasattr(o, "data")] == ["NGReset", "Paging"]
    assert ue.gnb is None and ue.proc is not None and ue.proc.name == "paging"
