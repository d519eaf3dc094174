"""Registration updates that bring user planes back, and implicit de-registration, end to end.

The network of tests/e2e/test_session_e2e.py (NRF, UDR, UDM, AUSF, PCF, NSSF, SMF and AMF as
processes, the UPF in its own, a data-network namespace, one namespace per UE), NEA0 so tshark
reads the NAS:

- UEs register, open a PDU session each, ping the data network and go CM-IDLE. Then they have
  uplink data and a registration update to do (one mobility, one periodic): the Registration
  Request names the session in Uplink data status (TS 24.501 §5.5.1.3.2), the AMF has the SMF
  activate it and the Initial Context Setup carries the Registration Accept with the PDU
  session reactivation result and the PDU Session Resource Setup (TS 23.502 §4.2.2.2.2): same
  address, ping with 0 % loss, and no Service Request at all. tshark reads every NGAP and NAS
  message of it, the new IEs among them.
- The AMF is restarted with short mobile reachable and implicit de-registration timers
  (TS 24.501 §5.3.7): the UEs it reads back from disk are CM-IDLE, their timers run out, and
  the AMF de-registers them implicitly -- SM contexts released at the SMF, stored contexts
  deleted. A UE that then has data gets Service Reject #9, registers again and gets a new
  session that works.

Run under ``flock /tmp/fivecore-bench.lock``; needs root (raw-IP SCTP, TUN, namespaces).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from netkit import (
    DN_HOST,
    SessionCore,
    Sim,
    established_and_pinging,
    go_idle,
    ping,
    restart,
    session_network,
)
from ngap_capture import tshark_clean
from polling import await_until

from fivecore.nf.amf import nas_io
from fivecore.ran import nas_io as ue_nas_io
from fivecore.ran.ue import UeState
from fivecore.wire import ngap

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

N = 2
FIRST = 84  # IMSI offset and UE namespace index of this module's UEs


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionCore]:
    yield from session_network(tmp_path_factory, "reg-reactivation", FIRST + N + 1,
                               amf={"persist_flush_ms": 50, "security": {"ciphering_order": ["NEA0"]}})


async def test_registration_update_with_uplink_data_brings_the_user_plane_back(core: SessionCore,
                                                                                tmp_path: Path) -> None:
    async with Sim(core, N, FIRST) as s:
        frames: list[tuple[str, bytes, int]] = []
        s.sim.gnbs[0].tap = lambda d, data, stream: frames.append((d, data, stream))
        addr = await established_and_pinging(s)
        await go_idle(core, s)
        c0 = await core.acounters()

        for ru, reg_type in zip(s.sim.ues, (2, 3), strict=True):  # mobility, periodic
            await s.up.resume(ru, timeout=30, reg_type=reg_type)
            sess = s.up.session(ru)
            assert sess is not None and sess.state == "ACTIVE" and sess.ipv4 == addr[id(ru)]
            assert s.up.tunnel(ru) is not None and ru.ue.state == UeState.REGISTERED
            assert ru.ran_id is not None, "the UE has data: the AMF keeps the connection"
        for ru in s.sim.ues:
            loss, out = await ping(s.up.namespace(ru), DN_HOST, 3)
            assert loss == 0, out

        c = await core.acounters()
        assert c.get("registration_reactivation", 0) - c0.get("registration_reactivation", 0) == N, c
        assert c.get("service_request", 0) == c0.get("service_request", 0), "no Service Request"
        assert c.get("sm_service_ics", 0) - c0.get("sm_service_ics", 0) == N, c
        assert c.get("sm_reactivation_failed", 0) == 0 and c.get("reactivation_result_failed", 0) == 0, c
        assert s.sim.stats.get("reactivation_requested") == N and not s.sim.stats.get("reactivation_failed")
        assert all(ru.ue.reactivation_failed == {} for ru in s.sim.ues)

    text = tshark_clean(frames, tmp_path / "reg-reactivation.pcap", core.ngap)
    for want in ("Uplink data status", "PDU session reactivation result", "PDU session status",
                 "id-PDUSessionResourceSetupListCxtReq", "id-PDUSessionResourceSetupListCxtRes",
                 "Message type: Registration accept", "Message type: Registration complete"):
        assert want in text, want
    assert "mobility registration updating" in text and "periodic registration updating" in text
    assert "Message type: Service request" not in text


async def test_restored_idle_ues_are_deregistered_implicitly(core: SessionCore) -> None:
    async with Sim(core, N, FIRST) as s:
        gnb = s.sim.gnbs[0]
        gnb.reconnect_initial, gnb.reconnect_max = 0.2, 1.0
        await s.register()
        await s.establish_all()
        refs = {x["smContextRef"] for x in (await core.asmf_info())["sessions"]
                if x["ueIpv4Address"] in {s.up.session(ru).ipv4 for ru in s.sim.ues}}
        assert len(refs) == N
        await go_idle(core, s)

        amf = core.procs["amf"]
        amf.config["amf"]["timers"] = {"mobile_reachable": 1.0, "implicit_deregistration": 1.0}
        try:
            await restart(core, s, ("amf",))
            c = await core.acounters()
            assert c.get("persist_restored") == N, c
            # TS 24.501 §5.3.7: restored CM-IDLE UEs have their mobile reachable timer running
            assert await core.wait_counter("implicit_deregistration", N, timeout=30) == N
            c = await core.acounters()
            assert c.get("mobile_reachable_expiry") == N, c
            st = await core.acounters_full()
            assert st["ues"] == 0, st["ue_states"]

            async def released() -> bool:
                live = {x["smContextRef"] for x in (await core.asmf_info())["sessions"]}
                return not (refs & live)

            await await_until("the SM contexts released at the SMF", released, timeout=30, period=0.1)
            await await_until("the stored contexts deleted", core.idle_and_stored, timeout=30, period=0.05)
            assert (await core.acounters()).get("persist_deleted", 0) >= N

            # the UE does not know: its Service Request gets #9, it registers again and its
            # session comes back, with a new address (TS 24.501 §5.6.1.5)
            ru = s.sim.ues[0]
            await s.up.resume(ru, timeout=60)
            sess = s.up.session(ru)
            assert sess is not None and sess.state == "ACTIVE" and ru.ue.state == UeState.REGISTERED
            assert s.sim.stats.get("service_reject", 0) >= 1
            loss, out = await ping(s.up.namespace(ru), DN_HOST, 3)
            assert loss == 0, out
        finally:
            del amf.config["amf"]["timers"]


def test_failure_ies_decode_in_tshark(tmp_path: Path) -> None:
    """What the network above never needs to send: a Registration Accept whose reactivation
    failed for two sessions, one with an error cause (TS 24.501 §9.11.3.43, #92), and a
    Registration Request with Uplink data status, as plain NAS in NGAP: tshark reads them."""
    accept = nas_io.with_reactivation_result(
        nas_io.registration_accept(guti=nas_io.Guti("001", "01", 2, 1, 0, 0xC0FFEE), tais=[("001", "01", 1)],
                                   allowed_nssai=[(1, None)], t3512=3240),
        frozenset({1}), frozenset({3, 5}), {5: 92})
    request = ue_nas_io.registration_request(
        3, False, 0, ue_nas_io.MobileIdentity.guti("00101", 2, 1, 0, 0xC0FFEE), (0, 1, 2), (1, 2),
        requested_nssai=[(1, None)], pdu_session_status=frozenset({1, 3, 5}), uplink_data_status=frozenset({3, 5}))
    ids = {"AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": 1}
    frames = [
        ("ul", ngap.encode(ngap.NgapPdu("UplinkNASTransport", ies={
            **ids, "NAS-PDU": request, "UserLocationInformation": ngap.user_location_nr("00101", 1, 0x10)})), 1),
        ("dl", ngap.encode(ngap.NgapPdu("DownlinkNASTransport", ies={**ids, "NAS-PDU": accept})), 1),
    ]
    text = tshark_clean(frames, tmp_path / "reactivation-ies.pcap", ("127.0.0.5", 38412))
    assert "Message type: Registration request" in text and "Message type: Registration accept" in text
    assert "PSI(5): uplink data are pending" in text and "PSI(3): uplink data are pending" in text
    assert "PDU session reactivation result error cause" in text
    assert "Insufficient user-plane resources for the PDU session" in text
