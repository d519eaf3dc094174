"""A registered UE survives a crash of the AMF (fivecore.nf.amf.persist).

Real processes: NRF, UDR, UDM, AUSF and the AMF (``fivecore nf``), the simulated gNB and UEs in
the test over userspace SCTP. UEs register (SUCI, 5G-AKA) and go CM-IDLE; the AMF writes their
5GMM contexts behind. Then the AMF is SIGKILLed and started again on the same configuration:
it reads the contexts back, the gNB sets N2 up again (NG Setup), and

- each UE's Service Request (its 5G-S-TMSI, integrity protected with the stored context) is
  accepted: Service Accept and Initial Context Setup with a KgNB from the stored KAMF, no
  #9 reject (TS 24.501 §5.6.1.5), no re-registration, no authentication at the AUSF (the
  restarted AMF never asks for one);
- the Service Accept's downlink NAS COUNT is above every COUNT the first AMF used
  (TS 33.501 §6.4.3.1: never reused under one key), and the UE follows it;
- a periodic registration update is accepted without authentication;
- a UE that de-registered before the next crash is not resumed by the AMF after it.

Wireshark decodes everything that went over N2 (NEA0, so NAS stays readable).
Run under ``flock /tmp/fivecore-bench.lock`` (no network slot: the AMF core uses free ports).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from netkit import amf_core
from ngap_capture import tshark_clean
from polling import await_until

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import UeState

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BASE = 1010000004700
N = 3


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-persist", needs_tshark=True,
                  amf={"security": {"ciphering_order": ["NEA0"]}, "persist_flush_ms": 50}) as c:
        c.provision(N, first_imsi=f"{BASE:015d}")
        yield c


async def _counter_at_least(core: AmfCore, name: str, n: int) -> bool:
    return (await core.acounters()).get(name, 0) >= n


async def _crash_and_restart(core: AmfCore, gnb: Any) -> None:
    """SIGKILL the AMF, start it again on the same configuration, wait for NG Setup."""
    amf = core.procs["amf"]
    lost = gnb.stats.associations_lost
    amf.kill()
    await asyncio.to_thread(amf.start)
    await await_until("the gNB noticed the old association is gone", lambda: gnb.stats.associations_lost > lost,
                      timeout=60, period=0.05)
    await await_until("NG Setup with the restarted AMF", lambda: gnb.ready, timeout=60, period=0.05)


def test_ue_contexts_survive_an_amf_crash(core: AmfCore, tmp_path) -> None:
    cfg = load_ran_config(core.ran_config(first_imsi=f"{BASE:015d}"))
    frames: list[tuple[str, bytes, int]] = []

    async def run() -> None:
        sim = RanSim(cfg, n_ues=N)
        gnb = sim.gnbs[0]
        gnb.reconnect_initial = 0.2
        gnb.reconnect_max = 1.0
        gnb.tap = lambda d, data, stream: frames.append((d, data, stream))
        sim.reregister_after_reject = False  # a #9 must show, not be papered over
        await sim.start()
        try:
            for ru in sim.ues:
                assert await sim.register(ru, timeout=30) == UeState.REGISTERED, ru.ue.last_cause
            await await_until("every UE CM-IDLE", lambda: _counter_at_least(core, "release_complete", N),
                              timeout=30, period=0.05)
            await await_until("the contexts written", lambda: _counter_at_least(core, "persist_written", N),
                              timeout=30, period=0.05)
            before = {ru.ue.supi: ru.ue.sec.dl_count for ru in sim.ues}  # next DL COUNT each expects
            assert all(ru.ran_id is None for ru in sim.ues)

            # --- crash 1: every UE comes back with a Service Request ---------------------------
            await _crash_and_restart(core, gnb)
            st = await core.acounters_full()
            c = st["counters"]
            assert c.get("persist_restored") == N, c
            assert st["persist"]["active"] and st["persist"]["file"].endswith(".db")
            assert st["ue_states"] == {"REGISTERED": N}, "restored as registered (CM-IDLE) UEs"
            for ru in sim.ues:
                assert await sim.service_request(ru, timeout=30) == UeState.REGISTERED, ru.ue.last_cause
                assert ru.ue.last_cause is None
                assert ru.ue.sec.last_dl_count >= before[ru.ue.supi], "a DL NAS COUNT used again"
            c = await core.acounters()
            assert c.get("service_request") == N and c.get("service_reject", 0) == 0, c
            assert c.get("ics_request") == N, "KgNB to the gNB for each UE"
            assert c.get("registration_request", 0) == 0, "no UE had to register again"
            assert sim.stats.get("service_reject", 0) == 0 and sim.stats.get("reregistrations", 0) == 0
            assert c.get("nas_bad_mac", 0) == 0 and c.get("nas_replay", 0) == 0
            assert sum(ru.ue.stats.get("nas_bad_mac", 0) for ru in sim.ues) == 0

            # the gNB lets them go idle again (user inactivity, TS 38.413 §8.3.2)
            for ru in sim.ues:
                gnb.release_request(ru)
            await await_until("every UE CM-IDLE", lambda: all(r.ran_id is None for r in sim.ues),
                              timeout=30, period=0.05)

            # --- a periodic registration update: no authentication -----------------------------
            ru = sim.ues[0]
            assert await sim.register(ru, timeout=30, reg_type=3) == UeState.REGISTERED, ru.ue.last_cause
            c = await core.acounters()
            assert c.get("registration_without_auth") == 1 and c.get("registration_request_initial", 0) == 0, c
            # the restarted AMF kept its NF instance ID, so the UDM did not tell it to drop the UE
            assert c.get("deregistration_nw", 0) == 0 and c.get("paging", 0) == 0, c

            # --- crash 2: a UE that de-registered is not resumed --------------------------------
            gone = sim.ues[1]
            assert await sim.deregister(gone, timeout=30) == UeState.DEREGISTERED
            await await_until("its context deleted", lambda: _counter_at_least(core, "persist_deleted", 1),
                              timeout=30, period=0.05)
            await await_until("every UE CM-IDLE", lambda: all(r.ran_id is None for r in sim.ues),
                              timeout=30, period=0.05)
            await await_until("the idle UEs' last COUNTs written", core.idle_and_stored, timeout=30, period=0.05)
            await _crash_and_restart(core, gnb)
            c = await core.acounters()
            assert c.get("persist_restored") == N - 1, c
            for ru in (sim.ues[0], sim.ues[2]):
                assert await sim.service_request(ru, timeout=30) == UeState.REGISTERED, ru.ue.last_cause
            c = await core.acounters()
            assert c.get("service_request") == 2 and c.get("service_reject", 0) == 0, c
        finally:
            await sim.stop()

    asyncio.run(run())

    text = tshark_clean(frames, tmp_path / "restart.pcap", core.ngap)
    for name in ("Service request", "Service accept", "Registration accept", "Registration complete"):
        assert f"Message type: {name}" in text, name
    assert text.count("Message type: Service accept") >= N + 2
    assert text.count("procedureCode: id-NGSetup") >= 3 * 2, "NG Setup with each of the three AMFs"
