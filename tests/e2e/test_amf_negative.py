"""AMF end to end, the refusals: wrong K, stale SQN, NIA0-only UE, replayed uplink NAS.

Same five processes as ``test_amf_registration.py`` (NRF, UDR, UDM, AUSF, AMF) and the simulator
in the test process, over userspace SCTP and HTTP/2.
"""

from __future__ import annotations

import pytest
from netkit import amf_core

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import UeState
from fivecore.wire import ngap

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BASE = 1010000000500


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-neg") as c:
        c.provision(20, first_imsi=f"{BASE:015d}")
        c.provision(5, first_imsi=f"{BASE + 50:015d}", auth_method="EAP_AKA_PRIME")
        yield c


def imsi(i: int) -> str:
    return f"{BASE + i:015d}"


async def one_ue(core: AmfCore, i: int, **ue: object) -> RanSim:
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=imsi(i), **ue)), n_ues=1)
    await sim.start()
    return sim


async def test_wrong_k_is_rejected(core: AmfCore) -> None:
    """TS 33.102 §6.3.3: the USIM sees a MAC failure (#20); the AMF answers Authentication Reject."""
    sim = await one_ue(core, 1, key="00112233445566778899aabbccddeeff")
    try:
        c1 = await core.acounters()
        ru = sim.ues[0]
        assert await sim.register(ru, timeout=20) == UeState.DEREGISTERED
        assert ru.ue.last_cause == 20
        assert sim.stats.get("authentication_reject") == 1
        assert ru.ue.guti is None and ru.ue.sec is None
        c2 = await core.acounters()
        assert c2.get("auth_failure_20", 0) == c1.get("auth_failure_20", 0) + 1
        assert c2.get("registered", 0) == c1.get("registered", 0)
    finally:
        await sim.stop()


async def test_stale_sqn_recovers_through_resync(core: AmfCore) -> None:
    """TS 33.102 §6.3.5: synch failure with AUTS -> the UDM re-synchronises -> success."""
    sim = await one_ue(core, 2, sqn=0x0000_4000_0000)
    try:
        c1 = await core.acounters()
        ru = sim.ues[0]
        assert await sim.register(ru, timeout=20) == UeState.REGISTERED
        assert sim.stats.get("synch_failure_sent") == 1
        assert ru.ue.usim.sqn_ms > 0x0000_4000_0000
        c2 = await core.acounters()
        assert c2.get("auth_resync", 0) == c1.get("auth_resync", 0) + 1
        assert c2.get("auth_failure_21", 0) == c1.get("auth_failure_21", 0) + 1
    finally:
        await sim.stop()


async def test_nia0_only_ue_is_rejected(core: AmfCore) -> None:
    """TS 33.501 §5.5.2: NIA0 is never selected; a UE with nothing else gets cause #23."""
    sim = await one_ue(core, 3, integrity={"IA0": True, "IA1": False, "IA2": False, "IA3": False})
    try:
        c1 = await core.acounters()
        ru = sim.ues[0]
        assert ru.ue.profile.nia == (0,)
        assert await sim.register(ru, timeout=20) == UeState.DEREGISTERED
        assert ru.ue.last_cause == 23
        c2 = await core.acounters()
        assert c2.get("registration_reject_23", 0) == c1.get("registration_reject_23", 0) + 1
        assert c2.get("auth_resync", 0) == c1.get("auth_resync", 0)
    finally:
        await sim.stop()


async def test_replayed_uplink_nas_is_dropped(core: AmfCore) -> None:
    """TS 33.501 §6.4.3.2: an uplink NAS message with an already used COUNT is discarded."""
    sim = await one_ue(core, 4)
    uplinks: list[bytes] = []

    def tap(direction: str, data: bytes, stream: int) -> None:
        if direction == "ul":
            pdu = ngap.decode(data)
            if pdu.procedure == "UplinkNASTransport":
                uplinks.append(pdu["NAS-PDU"])

    sim.gnbs[0].tap = tap
    try:
        ru = sim.ues[0]
        c0 = await core.acounters()
        # follow-on request: the AMF keeps the NG connection, so the replay reaches the same UE
        assert await sim.register(ru, follow_on=True) == UeState.REGISTERED
        assert ru.ue.connected
        await core.wait_counter("registered", c0.get("registered", 0) + 1)
        c1 = await core.acounters()
        registration_complete = uplinks[-1]
        ru.gnb.uplink_nas(ru, registration_complete)
        smc_complete = uplinks[-2]
        ru.gnb.uplink_nas(ru, smc_complete)
        assert await core.wait_counter("nas_replay", c1.get("nas_replay", 0) + 2) == c1.get("nas_replay", 0) + 2
        c2 = await core.acounters()
        assert c2.get("registered", 0) == c1.get("registered", 0), "the replay changed nothing"
        # the genuine UE carries on: a fresh message still verifies
        assert await sim.deregister(ru) == UeState.DEREGISTERED
        c3 = await core.acounters()
        assert c3.get("deregistration", 0) == c2.get("deregistration", 0) + 1
        assert c3.get("nas_bad_mac", 0) == c1.get("nas_bad_mac", 0)
    finally:
        await sim.stop()


async def test_replayed_initial_message_is_dropped(core: AmfCore) -> None:
    """A RAN node re-sending a captured Service Request (an initial, integrity-only message)
    gets nothing: its COUNT was used (TS 33.501 §6.4.3.2)."""
    from fivecore.ran.gnb import RanUe
    from fivecore.ran.ue import Ue

    sim = await one_ue(core, 5)
    initial: list[bytes] = []

    def tap(direction: str, data: bytes, stream: int) -> None:
        if direction == "ul":
            pdu = ngap.decode(data)
            if pdu.procedure == "InitialUEMessage":
                initial.append(pdu["NAS-PDU"])

    gnb = sim.gnbs[0]
    gnb.tap = tap
    try:
        ru = sim.ues[0]
        c0 = await core.acounters()
        assert await sim.register(ru) == UeState.REGISTERED
        await core.wait_counter("release_complete", c0.get("release_complete", 0) + 1)
        # Service Request from idle (TS 24.501 §5.6.1), then the gNB releases the UE again
        assert await sim.service_request(ru) == UeState.REGISTERED
        assert ru.kgnb_ok
        await core.wait_counter("service_request", c0.get("service_request", 0) + 1)
        gnb.release_request(ru)
        await core.wait_counter("release_complete", c0.get("release_complete", 0) + 2)
        c1 = await core.acounters()
        ghost = RanUe(Ue(ru.ue.usim, ru.ue.profile), gnb)
        gnb.initial_nas(ghost, initial[-1])
        assert await core.wait_counter("nas_replay", c1.get("nas_replay", 0) + 1) == c1.get("nas_replay", 0) + 1
        c2 = await core.acounters()
        assert c2.get("service_request", 0) == c1.get("service_request", 0)
        # the genuine UE is unaffected
        assert await sim.service_request(ru) == UeState.REGISTERED
    finally:
        await sim.stop()


async def test_eap_aka_prime_registration_and_resync(core: AmfCore) -> None:
    """TS 33.501 §6.1.3.1: EAP-AKA' through the AUSF, EAP-Success in the Security Mode Command;
    a stale SQN recovers through AKA'-Synchronization-Failure."""
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=imsi(50), scheme_cycle=[1, 2, 0])), n_ues=3)
    await sim.start()
    try:
        sim.ues[2].ue.usim.sqn_ms = 0x0000_4000_0000
        c1 = await core.acounters()
        res = await sim.register_all(concurrency=3, timeout=20)
        assert res["ok"] == 3, (res, sim.stats)
        assert sim.stats.get("eap_challenge_answered", 0) == 3
        assert sim.stats.get("synch_failure_sent", 0) == 1
        c2 = await core.acounters()
        assert c2.get("eap_challenge", 0) - c1.get("eap_challenge", 0) == 4
        assert await sim.deregister(sim.ues[0]) == UeState.DEREGISTERED
    finally:
        await sim.stop()


async def test_eap_aka_prime_wrong_k_rejected(core: AmfCore) -> None:
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=imsi(54), key="00" * 16)), n_ues=1)
    await sim.start()
    try:
        ru = sim.ues[0]
        assert await sim.register(ru, timeout=20) == UeState.DEREGISTERED
        assert ru.ue.last_cause == 20 and sim.stats.get("authentication_reject") == 1
    finally:
        await sim.stop()
