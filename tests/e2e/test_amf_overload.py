"""NGAP Overload Start/Stop (TS 38.413 §8.7.6-8.7.7): when more SBI calls wait than the AMF's
``overload_threshold``, it tells every gNB to hold back new signalling connections, and lifts
it once the backlog halves; the simulator's gNBs obey and every UE still registers."""

from __future__ import annotations

import pytest
from netkit import amf_core

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import UeState

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BASE = 1010000001300
N = 150


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-overload", amf={"overload_threshold": 8}) as c:
        c.provision(N, first_imsi=f"{BASE:015d}")
        yield c


async def test_overload_start_stop_and_everyone_registers(core: AmfCore) -> None:
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE:015d}")), n_gnbs=2, n_ues=N)
    seen: list[str] = []
    for g in sim.gnbs:
        g.raw_listeners.append(lambda pdu: seen.append(pdu.procedure) if pdu.procedure.startswith("Overload") else None)
    await sim.start()
    try:
        res = await sim.register_all(concurrency=N, timeout=120)
        assert res["ok"] == N, res["failed"][:5]
        assert {ru.ue.state for ru in sim.ues} == {UeState.REGISTERED}
        c = await core.acounters()
        assert c.get("overload_start", 0) >= 1
        assert c.get("overload_stop", 0) >= 1
        assert "OverloadStart" in seen and "OverloadStop" in seen
        assert not any(g.overloaded for g in sim.gnbs)
    finally:
        await sim.stop()
