"""A UE-requested PDU session modification left pending when the UE's NG connection went away
(the case behind the Uplink-NAS trigger of tests/e2e/test_path_switch_hijack_e2e.py): the
Service Request must bring the session's user plane back although the session is
MODIFICATION PENDING, and the pending request is sent again on the new connection (TS 24.501 §5.6.1.4.1, §6.1.3.2.1, §6.4.2.5 a). Plain calls, no sockets
and no TUN devices: :class:`UserPlane`'s interface creation is recorded, not run."""

from __future__ import annotations

from typing import Any

import pytest

from fivecore.nf.amf import nas_io as amf_nas
from fivecore.nf.amf.nas_io import Guti
from fivecore.ran import nas_io as ue_nas
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import Ue, UeProfile, UeState
from fivecore.ran.userplane import EV_ESTABLISHED, Tunnel, UeSession, UeSm, UserPlane
from fivecore.ran.usim import Usim
from fivecore.wire import nas

KAMF = bytes(range(32))
PSI = 1


def _active_sm() -> UeSm:
    sm = UeSm()
    sm.sessions[PSI] = UeSession(PSI, "internet", (1, None), "ACTIVE", pti=1, ipv4="10.45.0.2")
    return sm


def _ue() -> tuple[Ue, Any]:
    """A registered UE with a NAS security context (NEA2/NIA2) and the AMF's copy of it."""
    ue = Ue(Usim("001010000000001", bytes(16), opc=bytes(16)), UeProfile())
    ue.sec = ue_nas.new_security_context(KAMF, 1, 2, 2)
    ue.kamf, ue.ngksi, ue.state = KAMF, 1, UeState.SERVICE_REQUEST_INITIATED
    ue.sm = _active_sm()
    return ue, amf_nas.new_security_context(KAMF, 1, 2, 2)


def _sm_sent(amf_sec: Any, uplink: bytes) -> Any:
    """The 5GSM message of an uplink UL NAS Transport, as the AMF reads it."""
    ul = amf_nas.decode_uplink(amf_nas.unprotect(amf_sec, uplink)).raw
    assert ul is not None and ul.message_type == "ULNASTransport"
    assert ul.payload_container_type == nas.PAYLOAD_N1_SM
    return nas.decode(ul.payload_container)


def test_session_with_a_pending_modification_is_still_established() -> None:
    """TS 24.501 §6.1.3.2.1: MODIFICATION / INACTIVE PENDING are states of an established
    session (its address unchanged until the network answers)."""
    sm = _active_sm()
    sm.modify(PSI)
    s = sm.sessions[PSI]
    assert s.state == "MODIFICATION_PENDING" and s.established
    assert not UeSession(2, None, None, "ACTIVE_PENDING").established


def test_service_accept_sends_the_pending_modification_again() -> None:
    """TS 24.501 §6.4.2.5 a: the same PDU SESSION MODIFICATION REQUEST, same PTI, on the new
    connection; the Modification Command then ends the procedure and nothing more is sent."""
    ue, amf_sec = _ue()
    first = nas.decode(ue.sm.modify(PSI))
    ups = ue.on_downlink(amf_nas.protect(amf_sec, amf_nas.service_accept(frozenset({PSI}))))
    assert ue.state == UeState.REGISTERED
    assert len(ups) == 1
    again = _sm_sent(amf_sec, ups[0])
    assert again.message_type == "PDUSessionModificationRequest"
    assert (again.pdu_session_id, again.pti) == (PSI, first.pti)
    # the network answers: the procedure is over, the next Service Accept resends nothing
    cmd = nas.encode(nas.PDUSessionModificationCommand(pdu_session_id=PSI, pti=first.pti))
    ue.sm.on_downlink(PSI, cmd)
    assert ue.sm.sessions[PSI].state == "ACTIVE" and ue.sm.pending_requests() == []
    ue.state = UeState.SERVICE_REQUEST_INITIATED
    assert ue.on_downlink(amf_nas.protect(amf_sec, amf_nas.service_accept(frozenset({PSI})))) == []


def test_registration_update_from_idle_sends_the_pending_modification_again() -> None:
    """The Registration Accept of a mobility or periodic update is a new NAS signalling
    connection too: Registration Complete, then the pending request again (§6.4.2.5 a)."""
    ue, amf_sec = _ue()
    first = nas.decode(ue.sm.modify(PSI))
    ue.state = UeState.REGISTERED_INITIATED
    accept = amf_nas.registration_accept(guti=Guti("001", "01", 2, 1, 0, 5), tais=[("001", "01", 1)],
                                         allowed_nssai=[(1, None)], t3512=3240, pdu_session_status=frozenset({PSI}))
    ups = ue.on_downlink(amf_nas.protect(amf_sec, accept))
    assert ue.state == UeState.REGISTERED and len(ups) == 2
    assert amf_nas.decode_uplink(amf_nas.unprotect(amf_sec, ups[0])).raw.message_type == "RegistrationComplete"
    again = _sm_sent(amf_sec, ups[1])
    assert again.message_type == "PDUSessionModificationRequest" and again.pti == first.pti


def test_service_accept_with_nothing_pending_sends_nothing() -> None:
    ue, amf_sec = _ue()
    assert ue.on_downlink(amf_nas.protect(amf_sec, amf_nas.service_accept(frozenset({PSI})))) == []


def test_pending_release_is_sent_again_too() -> None:
    """TS 24.501 §6.4.3.5 a (T3582): a pending UE-requested release likewise."""
    sm = _active_sm()
    req = sm.release(PSI)
    assert sm.sessions[PSI].established and sm.pending_requests() == [(PSI, req)]


class _RecordingUserPlane(UserPlane):
    """UserPlane with its interface creation recorded instead of run (no TUN in a unit test)."""

    def __init__(self) -> None:
        super().__init__(use_namespace=False)
        self.made: list[tuple[int, str]] = []

    async def _make_tun(self, ru: Any, t: Tunnel, s: UeSession) -> None:
        self.made.append((t.dl_teid, s.state))


async def test_user_plane_comes_back_for_a_session_with_a_pending_modification() -> None:
    """TS 24.501 §5.6.1.4.1 / TS 23.502 §4.2.3.2 step 12: the Initial Context Setup of the
    Service Accept sets the session's N3 tunnel up again; the UE's interface for it follows
    even though its modification is pending (before the fix it did only for ACTIVE sessions,
    and ``UserPlane.resume`` waited for an interface that never came)."""
    sim = RanSim(load_ran_config({"ue": {"supi": "imsi-001010000000001", "key": "00" * 16,
                                         "op": "00" * 16, "opType": "OPC"}}), n_ues=1)
    ru = sim.ues[0]
    up = _RecordingUserPlane()
    sm = up.enable(ru)
    sm.sessions[PSI] = s = UeSession(PSI, "internet", (1, None), "ACTIVE", pti=1, ipv4="10.45.0.2")
    up._on_sm_event(ru, EV_ESTABLISHED, s)  # the session as established earlier
    sm.modify(PSI)                          # the modification that got lost
    t = Tunnel(ru, PSI, 0x1234, 0x5678, ("127.0.0.7", 2152), 1)
    up._tunnel_up(t)                        # the tunnel of the Service Request's ICS
    for task in list(up._bg):
        await task
    assert up.made == [(0x1234, "MODIFICATION_PENDING")]
    assert up.tunnel(ru, PSI) is t


def test_release_locally_forgets_the_connection_without_signalling() -> None:
    """The public form of the local release the hijack e2e tests need (TS 38.413 §10.6)."""
    sim = RanSim(load_ran_config({"ue": {"supi": "imsi-001010000000001", "key": "00" * 16,
                                         "op": "00" * 16, "opType": "OPC"}}), n_gnbs=2, n_ues=1)
    a, b = sim.gnbs
    for g in (a, b):
        g.reconnect = False
    ru = sim.ues[0]
    a.rrc_connect(ru)
    ran_id = ru.ran_id
    ru.amf_id = 7
    b.release_locally(ru)  # not b's UE: nothing happens
    assert ru.ran_id == ran_id and b.stats.local_releases == 0
    a.release_locally(ru)
    assert ru.ran_id is None and ru.amf_id is None and not ru.ue.connected
    assert ran_id not in a.connected and a.stats.local_releases == 1


@pytest.mark.parametrize("state", ["ACTIVE", "MODIFICATION_PENDING", "INACTIVE_PENDING"])
def test_established_states(state: str) -> None:
    assert UeSession(PSI, None, None, state).established
