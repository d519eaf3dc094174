"""The simulated gNB recovers its N2 link: new association, NG Setup again (TS 38.413 §8.7.1).

Real processes and sockets: NRF, UDR, UDM, AUSF and AMF as processes, the simulator's gNB over
userspace SCTP (raw IP, root). The AMF is killed and restarted (its associations die with it;
the new process answers the gNB's next packet out of the blue with ABORT, RFC 9260 §8.4), and
separately the gNB's association is aborted under it. Either way the gNB must come back by
itself, a UE that never registered must register, and a UE whose context was lost must
register again.
"""

from __future__ import annotations

import asyncio

import pytest
from netkit import amf_core

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import UeState
from fivecore.transport import sctp

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "gnb-reconnect") as c:
        c.provision(20)
        yield c


async def _wait_reconnected(sim: RanSim, at_least: int, timeout: float = 60.0) -> None:
    gnb = sim.gnbs[0]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (gnb.ready and gnb.stats.reconnects >= at_least):
        if loop.time() > deadline:
            raise AssertionError(f"gNB did not come back: {sim.gnb_view(gnb)}")
        await asyncio.sleep(0.1)


def _sim(core: AmfCore, n_ues: int) -> RanSim:
    # a short HEARTBEAT interval so a dead peer is noticed within seconds, not 30 s
    cfg = sctp.SctpConfig(out_streams=16, heartbeat_interval=1.0)
    sim = RanSim(load_ran_config(core.ran_config()), n_gnbs=1, n_ues=n_ues, sctp_config=cfg)
    g = sim.gnbs[0]
    g.reconnect_initial = 0.2
    g.reconnect_max = 2.0
    return sim


async def test_gnb_reconnects_after_amf_restart(core: AmfCore) -> None:
    sim = _sim(core, 3)
    await sim.start()
    try:
        first, second, third = sim.ues
        assert await sim.register(first, 30) == UeState.REGISTERED
        assert first.ran_id is not None  # still RRC-connected: the AMF holds its NG connection
        before = await core.acounters()
        assert before.get("ng_setup", 0) >= 1

        await asyncio.to_thread(core.procs["amf"].stop)
        await asyncio.to_thread(core.procs["amf"].start, 30)
        await asyncio.to_thread(core.wait_registered, ("AMF",), 30)

        await _wait_reconnected(sim, 1)
        g = sim.gnbs[0]
        assert g.stats.associations_lost >= 1
        assert first.ran_id is None, "the lost association took the UE's NG connection with it"
        after = await core.acounters()  # a fresh AMF: it has seen this NG Setup only
        assert after.get("ng_setup", 0) == 1

        # a UE new to this AMF registers over the new association
        assert await sim.register(second, 30) == UeState.REGISTERED
        # the UE whose context the restart lost registers again (its GUTI is unknown now)
        assert await sim.register(first, 30) == UeState.REGISTERED
        assert third.ue.state == UeState.DEREGISTERED
        assert all(ru.kgnb_ok for ru in (first, second))
    finally:
        await sim.stop()


async def test_gnb_reconnects_after_abort_and_amf_forgets_the_old_association(core: AmfCore) -> None:
    sim = _sim(core, 2)
    await sim.start()
    try:
        g = sim.gnbs[0]
        ng0 = (await core.acounters()).get("ng_setup", 0)
        assert await sim.register(sim.ues[0], 30) == UeState.REGISTERED
        assert g.assoc is not None
        g.assoc.abort("test: association killed")
        await _wait_reconnected(sim, 1)
        # ng0 counted this gNB's first NG Setup; the reconnection ran one more
        assert await core.wait_counter("ng_setup", ng0 + 1, timeout=20) == ng0 + 1
        assert await sim.register(sim.ues[1], 30) == UeState.REGISTERED
        assert await sim.register(sim.ues[0], 30) == UeState.REGISTERED
        view = sim.gnb_view(g)
        assert view["associations_lost"] == 1 and view["reconnects"] == 1
    finally:
        await sim.stop()
