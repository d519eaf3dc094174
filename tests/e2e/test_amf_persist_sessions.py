"""Idle UEs' PDU sessions come back after a crash of the AMF alone (fivecore.nf.amf.persist).

The network of tests/e2e/test_session_e2e.py (NRF, UDR, UDM, AUSF, PCF, NSSF, SMF and AMF as
processes, the UPF in its own, a data-network namespace, one namespace per UE): UEs register,
open a PDU session each, ping the data network and go CM-IDLE (the SMF deactivates their user
plane, TS 23.502 §4.2.6). The AMF is SIGKILLed and started again; the SMF and the UPF keep
running. Each UE then has uplink data: its Service Request (TS 23.502 §4.2.3.2) names its
session in Uplink data status, the restarted AMF -- which read the UE's 5GMM context and the
session's SMF reference back from its file -- asks the SMF to activate it, and the Initial
Context Setup brings the tunnel back: same address, ping with 0 % loss, no new registration.

Run under ``flock /tmp/fivecore-bench.lock``; needs root (raw-IP SCTP, TUN, namespaces).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from typing import Any

import pytest
from test_session_e2e import (
    DN_HOST,
    SessionCore,
    Sim,
    make_dn,
    ping,
    remove_dn,
    remove_ue_namespaces,
    start_core,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

N = 3
FIRST = 70  # IMSI offset and UE namespace index of this test's UEs


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-socket SCTP, TUN devices, network namespaces")
    if shutil.which("ping") is None:
        pytest.skip("iputils-ping is not installed")
    c = start_core(tmp_path_factory, "persist-sessions", amf={"persist_flush_ms": 50})
    try:
        c.provision(FIRST + N + 1)
        c.make_upf_tun()
        c.start_upf()
        make_dn()
        yield c
    finally:
        c.stop()
        remove_dn()
        remove_ue_namespaces()


async def _until(what: str, cond: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_idle_ues_sessions_come_back_after_an_amf_crash(core: SessionCore) -> None:
    async with Sim(core, N, FIRST) as s:
        gnb = s.sim.gnbs[0]
        gnb.reconnect_initial, gnb.reconnect_max = 0.2, 1.0
        s.sim.reregister_after_reject = False  # a #9 must show, not be papered over
        await s.register()
        await s.establish_all()
        addr = {id(ru): s.up.session(ru).ipv4 for ru in s.sim.ues}
        for ru in s.sim.ues:
            loss, out = await ping(s.up.namespace(ru), DN_HOST, 2)
            assert loss == 0, out
        for ru in s.sim.ues:  # user inactivity: CM-IDLE, user plane deactivated at the SMF
            gnb.release_request(ru)
        await _until("every UE CM-IDLE", lambda: all(ru.ran_id is None and s.up.tunnel(ru) is None
                                                     for ru in s.sim.ues))
        await asyncio.sleep(0.5)  # several flush periods: the idle UEs are on disk

        amf = core.procs["amf"]
        lost = gnb.stats.associations_lost
        amf.kill()
        await asyncio.to_thread(amf.start)
        await _until("the gNB noticed the old association is gone", lambda: gnb.stats.associations_lost > lost, 60)
        await _until("NG Setup with the restarted AMF", lambda: gnb.ready, 60)
        c = await core.acounters()
        assert c.get("persist_restored") == N, c

        for ru in s.sim.ues:  # uplink data: Service Request with Uplink data status
            await s.up.resume(ru, timeout=30)
            sess = s.up.session(ru)
            assert sess is not None and sess.state == "ACTIVE" and sess.ipv4 == addr[id(ru)]
            assert s.up.tunnel(ru) is not None
        for ru in s.sim.ues:
            loss, out = await ping(s.up.namespace(ru), DN_HOST, 3)
            assert loss == 0, out
        c = await core.acounters()
        assert c.get("service_request") == N and c.get("service_reject", 0) == 0, c
        assert c.get("registration_request", 0) == 0, "no UE registered again"
        assert c.get("sm_reactivation_failed", 0) == 0 and c.get("sm_service_ics") == N, c
        assert s.sim.stats.get("service_reject", 0) == 0 and s.sim.stats.get("reregistrations", 0) == 0
