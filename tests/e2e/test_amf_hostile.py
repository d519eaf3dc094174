"""A hostile gNB against the AMF, while honest gNBs keep registering their UEs.

Malformed NGAP -> Error Indication (protocol cause); NAS garbage inside Uplink NAS Transport ->
5GMM STATUS; wrong AMF UE NGAP IDs and another gNB's UE IDs -> Error Indication with
"unknown local UE NGAP ID". The victim UE's context is untouched and every honest UE registers.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from netkit import amf_core

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.gnb import Gnb
from fivecore.ran.ue import UeState
from fivecore.wire import ngap
from fivecore.wire.ngap import NgapPdu

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BASE = 1010000000700
N_HONEST = 60


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-hostile") as c:
        c.provision(N_HONEST + 10, first_imsi=f"{BASE:015d}")
        yield c


def uplink(amf_id: int, ran_id: int, nas: bytes) -> bytes:
    return ngap.encode(NgapPdu("UplinkNASTransport", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id, "NAS-PDU": nas,
        "UserLocationInformation": ngap.user_location_nr("00101", 1, 0x99)}))


async def wait_for(pred, timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return pred()


async def test_hostile_gnb_does_not_disturb_others(core: AmfCore) -> None:
    host, port = core.ngap
    honest = RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE + 10:015d}", scheme_cycle=[0, 1, 2])),
                    n_gnbs=2, n_ues=N_HONEST)
    victim_sim = RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE:015d}")), n_ues=1)
    hostile_sim = RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE + 1:015d}")), n_ues=1)
    hostile_sim.gnbs[0].cfg.gnb_id = 0x666
    victim_sim.gnbs[0].cfg.gnb_id = 0x777
    await honest.start()
    await victim_sim.start()
    await hostile_sim.start()
    hostile: Gnb = hostile_sim.gnbs[0]
    statuses: list[int] = []
    try:
        # the victim and the hostile gNB's own UE stay connected (follow-on request)
        victim = victim_sim.ues[0]
        mine = hostile_sim.ues[0]
        assert await victim_sim.register(victim, follow_on=True) == UeState.REGISTERED
        assert await hostile_sim.register(mine, follow_on=True) == UeState.REGISTERED
        c0 = await core.acounters()

        # honest UEs register while the attack runs
        honest_task = asyncio.create_task(honest.register_all(concurrency=30, timeout=60))
        rng = random.Random(6)
        ei0 = hostile.stats.error_indications_rx
        sent_malformed = 0
        for _ in range(30):
            garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
            hostile.send(garbage, 0)
            sent_malformed += 1
            await asyncio.sleep(0)
        valid = hostile.ng_setup_request()
        for cut in (3, 5, len(valid) - 1):
            hostile.send(valid[:cut], 0)
            sent_malformed += 1
        assert await wait_for(lambda: hostile.stats.error_indications_rx - ei0 >= sent_malformed)
        assert ("protocol", "transfer-syntax-error") in hostile.stats.last_error_causes

        # wrong AMF UE NGAP ID (a guess) and the victim's IDs used from the hostile gNB
        ei1 = hostile.stats.error_indications_rx
        hostile.send(uplink(rng.randrange(1 << 40), 1, b"\x7e\x00\x43"), 1)
        hostile.send(uplink(victim.amf_id, victim.ran_id, b"\x7e\x00\x43"), 1)
        hostile.send(uplink(victim.amf_id, mine.ran_id, b"\x7e\x00\x43"), 1)
        assert await wait_for(lambda: hostile.stats.error_indications_rx - ei1 >= 3)
        assert hostile.stats.last_error_causes[-3:] == [("radioNetwork", "unknown-local-UE-NGAP-ID")] * 3

        # NAS garbage for its own UE -> 5GMM STATUS, delivered to that UE
        st0 = mine.ue.nas_status_received
        for nas in (b"\x7e\x00\xff\x01\x02", b"\x7e\x00\x41", b"\x2e\x01\x02\xc1", b"\x01\x02\x03\x04"):
            hostile.send(uplink(mine.amf_id, mine.ran_id, nas), 1)
        assert await wait_for(lambda: mine.ue.nas_status_received - st0 >= 4)
        statuses.append(mine.ue.last_cause)
        assert mine.ue.last_cause in (96, 97)

        # mutated copies of real PDUs (bit flips, truncation) for its own UE and for the victim
        samples = [uplink(mine.amf_id, mine.ran_id, b"\x7e\x00\x43"), uplink(victim.amf_id, victim.ran_id, b"\x7e\x00\x43"),
                   hostile.ng_setup_request()]
        for _ in range(300):
            pdu = bytearray(rng.choice(samples))
            for _ in range(rng.randrange(1, 4)):
                pdu[rng.randrange(len(pdu))] ^= 1 << rng.randrange(8)
            if rng.random() < 0.2:
                del pdu[max(1, rng.randrange(len(pdu))):]
            hostile.send(bytes(pdu), rng.randrange(2))
            if rng.random() < 0.1:
                await asyncio.sleep(0)

        res = await honest_task
        assert res["ok"] == N_HONEST, res["failed"][:5]
        c1 = await core.acounters()
        assert c1.get("ngap_malformed", 0) - c0.get("ngap_malformed", 0) >= sent_malformed
        assert c1.get("ngap_unknown_ue", 0) - c0.get("ngap_unknown_ue", 0) >= 3
        assert c1.get("nas_malformed", 0) - c0.get("nas_malformed", 0) >= 4

        # the victim is untouched: it is still registered and de-registers normally
        assert victim.ue.state == UeState.REGISTERED and victim.ue.connected
        assert await victim_sim.deregister(victim) == UeState.DEREGISTERED
        assert hostile.ready, "the AMF keeps serving the hostile gNB's association"
        final = await core.acounters()
        assert final.get("ngap_internal_error", 0) == 0 and final.get("gmm_internal_error", 0) == 0
    finally:
        await honest.stop()
        await victim_sim.stop()
        await hostile_sim.stop()
