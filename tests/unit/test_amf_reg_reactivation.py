"""A mobility or periodic registration update with Uplink data status brings user planes back
(TS 24.501 §5.5.1.3.2 / §5.5.1.3.4, TS 23.502 §4.2.2.2.2 "PDU Session(s) to be re-activated").

The AMF side is the real 5GMM entity, and for the SMF part the real AMF application with its
session relay talking to a real SMF application in process (its SM context set up directly,
as ``amf_with_ue`` sets up the AMF's); the UE is the simulator's, so both ends of every NAS
message run through the real codec and NAS security.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.nf.amf import nas_io
from fivecore.nf.amf.context import GmmState
from fivecore.nf.amf.gmm import Reactivate, ReleaseUe, SbiCall, SendIcs, SendNas
from fivecore.nf.amf.ngap_handler import NgapSend
from fivecore.ran import nas_io as ue_nas_io
from fivecore.ran.ue import UeState
from fivecore.ran.userplane import UeSession, UeSm
from fivecore.security.nas_context import NasSecurityContext, Role
from fivecore.wire import nas, ngap
from fivecore.wire.errors import EncodeError

sys.path.insert(0, str(Path(__file__).parent / "amf"))
from homenet import Loop, make  # noqa: E402


def _with_sessions(ue: Any, *psis: int) -> None:
    ue.sm = UeSm()
    for psi in psis:
        ue.sm.sessions[psi] = UeSession(psi, "internet", (1, None), "ACTIVE", 5, 1, f"10.45.0.{psi}")


def _hooks(loop: Any, amf_side: frozenset[int]) -> None:
    loop.gmm.session_psis = lambda ue: amf_side
    loop.gmm.on_sessions_gone = lambda ue, psis: None


def _through_udm(loop: Any, amf_ue: Any, acts: list[Any]) -> list[Any]:
    """The registration's Nudm_UECM / SDM step answered by the home network: the actions of
    the Registration Accept."""
    call = next(a for a in acts if isinstance(a, SbiCall))
    return loop.gmm.sbi_result(amf_ue, call.token, call.op, loop.hn.handle(call.op, call.args))


def _accept_of(amf_ue: Any, pdu: bytes) -> Any:
    """Read a protected downlink message as the UE does, with a UE-side context of the key."""
    sec = amf_ue.sec
    reader = NasSecurityContext.from_kamf(Role.UE, amf_ue.kamf, int_alg=sec.int_alg, enc_alg=sec.enc_alg,
                                          dl_count=sec.last_dl_count)
    return nas.decode(reader.unprotect(pdu).message)


# --- the UE's request -------------------------------------------------------------------------


def test_ue_names_pending_sessions_only_in_an_update_from_idle() -> None:
    loop, (ue,) = make()
    amf_ue = loop.register(ue)
    _with_sessions(ue, 1, 2)
    ue.uplink_pending = frozenset({2, 9})  # 9: no such session in the UE, never named
    assert not ue.connected
    ue.register(reg_type=2)
    full = nas.decode(ue.full_request)
    assert full.uplink_data_status.psis == {2} and full.pdu_session_status.psis == {1, 2}
    # an initial registration never carries it (§5.5.1.2.2: the UE has no sessions then)
    ue.register(reg_type=1)
    assert nas.decode(ue.full_request).uplink_data_status is None
    # neither does an update on a connection that is up (no Initial Context Setup to carry it)
    ue.connected = True
    pdu = ue.register(reg_type=3)
    assert nas.decode(ue.full_request).uplink_data_status is None
    loop.run(ue, loop.gmm.uplink_nas(amf_ue, pdu))
    assert ue.state == UeState.REGISTERED and ue.uplink_pending == frozenset()


# --- 5GMM --------------------------------------------------------------------------------------


def test_update_with_uplink_data_status_asks_for_the_sessions_in_the_ics() -> None:
    loop, (ue,) = make()
    loop.register(ue)
    _hooks(loop, frozenset({1, 2}))
    _with_sessions(ue, 1, 2, 3)
    ue.uplink_pending = frozenset({1, 3})  # 3: unknown to the AMF
    amf_ue, acts = loop.gmm.initial_ue_message(loop.gnb, 50, ue.register(reg_type=2), 1)
    acts = _through_udm(loop, amf_ue, acts)
    ics = [a for a in acts if isinstance(a, SendIcs)]
    assert len(ics) == 1 and ics[0].reactivate == frozenset({1, 3}) and ics[0].registration
    accept = _accept_of(amf_ue, ics[0].pdu)
    assert accept.message_type == "RegistrationAccept"
    # before the SMFs answer: what the AMF knows cannot come back already shows
    assert accept.pdu_session_status.psis == {1, 2} and accept.pdu_session_reactivation_result.psis == {3}
    assert loop.gmm.ctx.stats["registration_reactivation"] == 1
    loop.ue_of[id(ue)] = amf_ue
    releases = len(loop.releases)
    loop.run(ue, acts)
    assert ue.state == UeState.REGISTERED and amf_ue.state == GmmState.REGISTERED
    assert ue.reactivation_failed == {3: 0} and ue.uplink_pending == frozenset()
    assert set(ue.sm.sessions) == {1, 2}  # 3 released locally: the AMF does not hold it
    assert ue.stats["reactivation_requested"] == 1 and ue.stats["reactivation_failed"] == 1
    # the UE has data to send: the connection stays after Registration Complete
    assert len(loop.releases) == releases and amf_ue.gnb is not None


@pytest.mark.parametrize(("uplink", "follow_on", "released"), [
    (frozenset(), False, True), (frozenset(), True, False), (frozenset({1}), False, False),
    (frozenset({1}), True, False),
])
def test_connection_after_the_update(uplink: frozenset[int], follow_on: bool, released: bool) -> None:
    """TS 23.502 §4.2.2.2.2 steps 21-22: the NG connection is released after Registration
    Complete unless the UE asked to follow on, or user planes came back for its data."""
    loop, (ue,) = make()
    loop.register(ue)
    _hooks(loop, frozenset({1}))
    _with_sessions(ue, 1)
    ue.uplink_pending = uplink
    before = len(loop.releases)
    amf_ue = loop.register(ue, reg_type=3, follow_on=follow_on)
    assert amf_ue.state == GmmState.REGISTERED and ue.state == UeState.REGISTERED
    assert (len(loop.releases) > before) == released
    ics = loop.ics[-1]
    assert ics[0] is amf_ue


def test_update_without_uplink_data_status_has_no_reactivation_result() -> None:
    loop, (ue,) = make()
    loop.register(ue)
    _hooks(loop, frozenset({1}))
    _with_sessions(ue, 1)
    amf_ue, acts = loop.gmm.initial_ue_message(loop.gnb, 60, ue.register(reg_type=3), 1)
    acts = _through_udm(loop, amf_ue, acts)
    ics = next(a for a in acts if isinstance(a, SendIcs))
    assert ics.reactivate is None and not ics.registration
    assert _accept_of(amf_ue, ics.pdu).pdu_session_reactivation_result is None


def _connected_update(ue: Any, uplink: frozenset[int]) -> bytes:
    """A mobility registration update sent on the UE's NG connection, with Uplink data
    status (the simulated UE only sends one from CM-IDLE)."""
    p = ue.profile
    req = ue_nas_io.registration_request(2, False, ue.ngksi, ue.guti, p.nea, p.nia, requested_nssai=[(1, None)],
                                         pdu_session_status=frozenset(ue.sm.sessions), uplink_data_status=uplink)
    return ue._protect(req, 2)


def test_update_on_a_connected_ue_hands_the_sessions_to_the_relay() -> None:
    """On a connection that already has its AS context there is no Initial Context Setup:
    the accept goes to the session relay as a Reactivate (PDU Session Resource Setup after
    it); without a relay it goes out as it is."""
    loop, (ue,) = make()
    loop.register(ue, follow_on=True)
    amf_ue = loop.ue_of[id(ue)]
    _hooks(loop, frozenset({1}))
    _with_sessions(ue, 1, 4)
    acts = _through_udm(loop, amf_ue, loop.gmm.uplink_nas(amf_ue, _connected_update(ue, frozenset({1, 4}))))
    assert not [a for a in acts if isinstance(a, SendIcs | SendNas)]
    react = [a for a in acts if isinstance(a, Reactivate)]
    assert len(react) == 1 and react[0].reactivate == frozenset({1, 4})
    accept = _accept_of(amf_ue, react[0].pdu)
    assert accept.pdu_session_reactivation_result.psis == {4} and accept.pdu_session_status.psis == {1}
    assert loop.gmm.ctx.stats["registration_reactivation_connected"] == 1


# --- the accept, rebuilt once the SMFs answered -------------------------------------------------


def test_reactivation_result_and_error_cause_round_trip() -> None:
    base = nas_io.registration_accept(guti=nas_io.Guti("001", "01", 2, 1, 0, 0x1234), tais=[("001", "01", 1)],
                                      allowed_nssai=[(1, None)], t3512=3240)
    plain = nas_io.with_reactivation_result(base, frozenset({1, 5}), frozenset({5, 7}), {5: 92, 1: 43})
    msg = nas.decode(plain)
    assert msg.pdu_session_status.psis == {1, 5} and msg.pdu_session_reactivation_result.psis == {5, 7}
    # TS 24.501 §9.11.3.43: (PSI, cause) pairs, only for sessions that failed
    assert msg.pdu_session_reactivation_result_error_cause == bytes((5, 92))
    # the IEs are in the order of the message's table whatever order they were added in
    order = [name for name in msg.ies if name in ("pdu_session_status", "pdu_session_reactivation_result",
                                                   "pdu_session_reactivation_result_error_cause", "t3512_value")]
    assert order == ["pdu_session_status", "pdu_session_reactivation_result",
                     "pdu_session_reactivation_result_error_cause", "t3512_value"]
    d = ue_nas_io.decode_downlink(plain)
    assert d.reactivation_failed == {5, 7} and d.reactivation_causes == {5: 92}
    # nothing failed: the result is there with no bit set; a Service Accept works the same way
    ok = nas.decode(nas_io.with_reactivation_result(nas_io.service_accept(), frozenset({1}), frozenset()))
    assert ok.message_type == "ServiceAccept" and ok.pdu_session_reactivation_result.psis == frozenset()
    assert ok.pdu_session_reactivation_result_error_cause is None
    with pytest.raises(EncodeError):
        nas_io.with_reactivation_result(nas_io.gmm_status(98), frozenset(), frozenset())
    with pytest.raises(EncodeError):
        nas_io.with_reactivation_result(b"\x7e\x00", frozenset(), frozenset())
    with pytest.raises(EncodeError):
        nas_io.reactivation_error_cause({16: 92})


@settings(max_examples=200, deadline=None)
@given(cause=st.binary(max_size=40), result=st.binary(min_size=0, max_size=34))
def test_fuzz_ue_reads_any_reactivation_ies(cause: bytes, result: bytes) -> None:
    """Hostile or odd reactivation IEs in an Accept: the UE's decoder gives a view or raises
    its typed error, nothing else."""
    base = nas.decode(nas_io.service_accept(frozenset({1})))
    raw = nas.encode(base)
    extra = b""
    if 2 <= len(result) <= 32:
        extra += bytes((0x26, len(result))) + result
    extra += bytes((0x72,)) + len(cause).to_bytes(2, "big") + cause
    try:
        d = ue_nas_io.decode_downlink(raw + extra)
    except ue_nas_io.NasInvalid:
        return
    assert all(1 <= p <= 15 for p in d.reactivation_causes)
    assert d.reactivation_failed is None or all(1 <= p <= 15 for p in d.reactivation_failed)


# --- with the session relay and a real SMF -------------------------------------------------------


def _amf_and_smf(tmp_path: Path) -> tuple[Any, Any, Loop, Any]:
    from fivecore.nf.amf.app import AmfApp
    from fivecore.nf.common.client import LocalRegistry
    from fivecore.nf.smf.app import SmfApp

    cfg = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db", "amf": {"nrf_uri": None, "persist": False},
                       "smf": {"nrf_uri": None}})
    smf = SmfApp(cfg)
    local = LocalRegistry()
    local.register(["nsmf-pdusession"], smf.router)
    app = AmfApp(cfg, local=local)
    hn_loop, (ue,) = make()
    return app, smf, Loop(app.gmm, hn_loop.hn), ue


async def _settle(app: Any) -> None:
    while app.sessions._bg:
        await asyncio.gather(*app.sessions._bg)


async def test_registration_update_reactivates_through_the_smf(tmp_path: Path) -> None:
    """Session 1 is active at the SMF (its PDU Session Resource Setup Request Transfer goes
    into the ICS), session 2's SMF no longer has it (404: forgotten, flagged), session 3 the
    AMF never had (flagged). The Registration Accept inside the ICS says so, and its copy
    for T3550 says the same."""
    from fivecore.nf.amf.sessions import AmfSmSession

    app, smf, loop, ue = _amf_and_smf(tmp_path)
    amf_ue = loop.register(ue)
    supi = amf_ue.supi
    sm = smf.ctx.new(supi, 1, "internet", {"sst": 1})
    sm.ul_ip, sm.ul_teid = "127.0.0.7", 0x4242
    app.sessions.by_supi[supi] = {1: AmfSmSession(1, None, sm.ref, {"sst": 1}, "internet"),
                                  2: AmfSmSession(2, None, "ref-gone", {"sst": 1}, "internet")}
    _with_sessions(ue, 1, 2, 3)
    ue.uplink_pending = frozenset({1, 2, 3})
    sent: list[Any] = []
    app._execute = sent.extend  # type: ignore[method-assign]
    back, acts = app.gmm.initial_ue_message(loop.gnb, 9, ue.register(reg_type=2), 1)
    assert back is amf_ue and back.state == GmmState.REGISTERED
    acts = _through_udm(loop, amf_ue, acts)
    assert not [x for x in app.ngap.translate(acts) if isinstance(x, NgapSend)], "the ICS waits for the SMF"
    await _settle(app)
    assert set(app.sessions.by_supi[supi]) == {1}
    ics = ngap.decode(sent[-1].data)
    assert ics.procedure == "InitialContextSetup"
    items = ics["PDUSessionResourceSetupListCxtReq"]
    assert [i["pDUSessionID"] for i in items] == [1]
    tr = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", items[0]["pDUSessionResourceSetupRequestTransfer"])
    assert ngap.gtp_tunnel_from(tr["UL-NGU-UP-TNLInformation"]) == ("127.0.0.7", 0x4242)
    accept = _accept_of(amf_ue, ics["NAS-PDU"])
    assert accept.message_type == "RegistrationAccept"
    assert accept.pdu_session_status.psis == {1} and accept.pdu_session_reactivation_result.psis == {2, 3}
    assert app.gmm.ctx.stats["sm_reactivation_failed"] == 1 and app.gmm.ctx.stats["sm_service_ics"] == 1
    # T3550 runs out before the Registration Complete: the retransmission is the rebuilt one
    proc = amf_ue.proc
    retx = app.gmm.timer_expired(amf_ue, "T3550", proc.token)
    again = _accept_of(amf_ue, next(a for a in retx if isinstance(a, SendNas)).pdu)
    assert again.pdu_session_reactivation_result.psis == {2, 3} and again.pdu_session_status.psis == {1}
    # the UE takes the (first) Accept: session 1 stays, 2 and 3 go and are to be asked for again
    ups = ue.on_downlink(ics["NAS-PDU"])
    assert ue.state == UeState.REGISTERED and ue.reactivation_failed == {2: 0, 3: 0}
    assert set(ue.sm.sessions) == {1} and {p for p, _, _ in ue.sm.to_restore} == {2, 3}
    outs = app.gmm.uplink_nas(amf_ue, ups[0])
    assert not [a for a in outs if isinstance(a, ReleaseUe)] and amf_ue.proc is None
    assert amf_ue.state == GmmState.REGISTERED


async def test_rebuilt_accept_is_dropped_when_the_registration_went_away(tmp_path: Path) -> None:
    """The UE's connection went before the SMF answered: nothing is sent."""
    from fivecore.nf.amf.sessions import AmfSmSession

    app, smf, loop, ue = _amf_and_smf(tmp_path)
    amf_ue = loop.register(ue)
    sm = smf.ctx.new(amf_ue.supi, 1, "internet", {"sst": 1})
    app.sessions.by_supi[amf_ue.supi] = {1: AmfSmSession(1, None, sm.ref, {"sst": 1}, "internet")}
    _with_sessions(ue, 1)
    ue.uplink_pending = frozenset({1})
    sent: list[Any] = []
    app._execute = sent.extend  # type: ignore[method-assign]
    _, acts = app.gmm.initial_ue_message(loop.gnb, 9, ue.register(reg_type=2), 1)
    app.ngap.translate(_through_udm(loop, amf_ue, acts))
    app.gmm.ran_released(amf_ue)
    await _settle(app)
    assert not [x for x in sent if isinstance(x, NgapSend)]
    assert app.gmm.ctx.stats["sm_reactivation_connection_gone"] == 1
    assert app.gmm.reactivation_accept(amf_ue, True, frozenset(), frozenset()) is None


async def test_connected_update_brings_user_planes_back_with_pdu_session_resource_setup(tmp_path: Path) -> None:
    """TS 23.502 §4.2.2.2.2 on a connection with its AS context: the Registration Accept with
    the result (session 2's SMF no longer has it), then a PDU Session Resource Setup Request
    (TS 38.413 §8.2.1) with the SMF's transfer for session 1."""
    from fivecore.nf.amf.sessions import AmfSmSession

    app, smf, loop, ue = _amf_and_smf(tmp_path)
    amf_ue = loop.register(ue, follow_on=True)
    assert amf_ue.gnb is not None and amf_ue.kgnb_sent
    sm = smf.ctx.new(amf_ue.supi, 1, "internet", {"sst": 1})
    sm.ul_ip, sm.ul_teid = "127.0.0.7", 0x77
    app.sessions.by_supi[amf_ue.supi] = {1: AmfSmSession(1, None, sm.ref, {"sst": 1}, "internet"),
                                         2: AmfSmSession(2, None, "ref-gone", {"sst": 1}, "internet")}
    _with_sessions(ue, 1, 2)
    sent: list[Any] = []
    app._execute = sent.extend  # type: ignore[method-assign]
    acts = _through_udm(loop, amf_ue, app.gmm.uplink_nas(amf_ue, _connected_update(ue, frozenset({1, 2}))))
    assert not [x for x in app.ngap.translate(acts) if isinstance(x, NgapSend)], "the accept waits for the SMF"
    await _settle(app)
    frames = [ngap.decode(x.data) for x in sent if isinstance(x, NgapSend)]
    assert [f.procedure for f in frames] == ["DownlinkNASTransport", "PDUSessionResourceSetup"]
    accept = _accept_of(amf_ue, frames[0]["NAS-PDU"])
    assert accept.message_type == "RegistrationAccept"
    assert accept.pdu_session_status.psis == {1} and accept.pdu_session_reactivation_result.psis == {2}
    item = frames[1]["PDUSessionResourceSetupListSUReq"][0]
    assert item["pDUSessionID"] == 1 and "pDUSessionNAS-PDU" not in item
    tr = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", item["pDUSessionResourceSetupRequestTransfer"])
    assert ngap.gtp_tunnel_from(tr["UL-NGU-UP-TNLInformation"]) == ("127.0.0.7", 0x77)
    assert app.gmm.ctx.stats["sm_reactivation_connected"] == 1
    ups = ue.on_downlink(frames[0]["NAS-PDU"])
    assert ue.state == UeState.REGISTERED and ue.reactivation_failed == {2: 0} and set(ue.sm.sessions) == {1}
    outs = app.gmm.uplink_nas(amf_ue, ups[0])
    assert not [a for a in outs if isinstance(a, ReleaseUe)] and amf_ue.state == GmmState.REGISTERED
