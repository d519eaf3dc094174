"""PDU sessions survive a restart of the control plane, the UPF keeping their PFCP sessions.

The network of tests/e2e/test_session_e2e.py (NRF, UDR, UDM, AUSF, PCF, NSSF, SMF and AMF as
processes, the UPF in its own, a data-network namespace, one namespace per UE): UEs register,
open a PDU session each, ping the data network and go CM-IDLE (the SMF deactivates their user
plane, TS 23.502 §4.2.6). Then the control plane crashes -- AMF, SMF, PCF and UDM SIGKILLed --
and comes back; the UPF keeps running. The restarted SMF reads its SM contexts back
(fivecore.nf.smf.persist) and associates with the UPF asking it to retain their PFCP sessions
(PFCP Session Retention Information, TS 29.244 §6.2.6.2); the UPF answers PSREI and keeps them.
Each UE then has uplink data: its Service Request (TS 23.502 §4.2.3.2) is accepted by the
restarted AMF (its own file), the SMF finds the SM context the AMF names, the gNB's new tunnel
goes to the UPF's retained session: same address, ping with 0 % loss, no new registration and
no new PDU session establishment. The PCF restarted without the SM policy associations; nothing
on this path needs them.

A third test restarts only the SMF and the PCF under CM-CONNECTED UEs: their user plane never
stops (ping before and after, same tunnels), and a UE-requested release afterwards works
although the restarted PCF answers 404 for the SM policy association it lost (the SMF carries
on, fivecore.nf.smf.persist); a new session then works too.

With ``smf.persist: false`` (second test, same network) the restarted SMF has nothing: the UPF
drops the old sessions on the SMF's new association, the Service Accept names the sessions
inactive (PDU session status, TS 24.501 §5.6.1.4.1), and the simulated UE establishes them
again -- ping works, through a new PDU session.

Run under ``flock /tmp/fivecore-bench.lock``; needs root (raw-IP SCTP, TUN, namespaces).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from netkit import (
    DN_HOST,
    SessionCore,
    Sim,
    back_as_they_were,
    idle_on_disk,
    ping,
    restart,
    session_network,
)
from polling import await_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

N = 3
FIRST = 90  # IMSI offset and UE namespace index of this module's UEs (three tests: 90.., 94.., 98..)
RESTARTED = ("smf", "pcf", "udm", "amf")  # the control plane; NRF and UDR (the store) stay


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionCore]:
    yield from session_network(tmp_path_factory, "smf-persist", FIRST + 3 * (N + 1) + 1,
                               amf={"persist_flush_ms": 50})


async def test_sessions_survive_a_control_plane_restart_with_the_same_addresses(core: SessionCore) -> None:
    upf_before = core.upf_stats().get("fivecore_upf_pfcp_sessions_retained_total", 0)
    async with Sim(core, N, FIRST) as s:
        addr = await idle_on_disk(core, s)
        await restart(core, s, RESTARTED)

        async def retained() -> bool:
            return (await core.asmf_info())["n4"].get("sessions_retained", 0) >= 1

        await await_until("the UPF retained the SMF's PFCP sessions (PSREI)", retained, timeout=30, period=0.05)
        info = await core.asmf_info()
        assert info["counters"].get("persist_restored", 0) >= N, info["counters"]
        assert not info["n4"].get("sessions_not_retained"), info["n4"]
        assert {x["ueIpv4Address"] for x in info["sessions"]} >= set(addr.values())
        await await_until("the UPF counted them retained", lambda: core.upf_stats().get(
            "fivecore_upf_pfcp_sessions_retained_total", 0) >= upf_before + N, timeout=10, period=0.1)
        assert (await core.acounters()).get("persist_restored", 0) >= N

        await back_as_they_were(core, s, addr)
        smf = (await core.asmf_info())["counters"]
        assert smf.get("create_requests", 0) == 0, "no new PDU session establishment"
        assert smf.get("up_activated") == N and not smf.get("restored"), smf
        assert s.sim.stats.get("service_reject", 0) == 0 and s.sim.stats.get("reregistrations", 0) == 0
        assert s.up.stats.get("restored", 0) == 0, "the UE did not have to ask for its session again"


async def test_without_smf_persistence_the_sessions_are_established_again(core: SessionCore) -> None:
    async with Sim(core, N, FIRST + N + 1) as s:
        await idle_on_disk(core, s)
        core.config["smf"]["persist"] = False  # the restarted SMF keeps nothing
        try:
            await restart(core, s, RESTARTED)
            for ru in s.sim.ues:
                await s.up.resume(ru, timeout=60)
            await await_until("the sessions are back", lambda: s.up.stats.get("restored", 0) >= N
                              or s.up.stats.get("restore_failed", 0), timeout=60, period=0.05)
            assert s.up.stats.get("restored", 0) == N and not s.up.stats.get("restore_failed")
            for ru in s.sim.ues:
                sess = s.up.session(ru)
                assert sess is not None and sess.state == "ACTIVE" and s.up.tunnel(ru) is not None
                loss, out = await ping(s.up.namespace(ru), DN_HOST, 3)
                assert loss == 0, out
            info = await core.asmf_info()
            smf = info["counters"]
            assert smf.get("create_requests", 0) == N and not smf.get("persist_restored"), smf
            assert info["persist"] is None
        finally:
            # the next SMF persists again; the file the non-persisting one left is stale and was
            # moved aside when it started (fivecore.nf.smf.persist.discard_stale)
            core.config["smf"]["persist"] = True
            core.procs["smf"].stop()
            await asyncio.to_thread(core.procs["smf"].start)
    assert list(core.workdir.glob("smf-sm-contexts-*.db.unusable-*")), "the stale file moved aside"


async def test_connected_ues_keep_their_user_plane_over_an_smf_restart(core: SessionCore) -> None:
    async with Sim(core, N, FIRST + 2 * (N + 1)) as s:
        await s.register()
        await s.establish_all()
        before = {id(ru): (s.up.session(ru).ipv4, s.up.tunnel(ru).dl_teid) for ru in s.sim.ues}
        for ru in s.sim.ues:
            loss, out = await ping(s.up.namespace(ru), DN_HOST, 2)
            assert loss == 0, out

        async def stored() -> bool:
            info = await core.asmf_info()
            mine = [x for x in info["sessions"] if x["ueIpv4Address"] in {a for a, _ in before.values()}]
            p = info["persist"]
            return len(mine) == N and all(x["dlTeid"] is not None for x in mine) and p["active"] and not p["pending"]

        await await_until("the active sessions on the SMF's disk", stored, timeout=30, period=0.05)
        retained0 = (await core.asmf_info())["n4"].get("sessions_retained", 0)  # 0: a new process
        for name in ("smf", "pcf"):
            core.procs[name].kill()
        for ru in s.sim.ues:  # the user plane does not need the SMF
            loss, out = await ping(s.up.namespace(ru), DN_HOST, 2)
            assert loss == 0, out
        for name in ("smf", "pcf"):
            await asyncio.to_thread(core.procs[name].start)

        async def retained() -> bool:
            return (await core.asmf_info())["n4"].get("sessions_retained", 0) > 0

        await await_until("the UPF retained the sessions", retained, timeout=30, period=0.05)
        assert retained0 == 0
        for ru in s.sim.ues:
            assert (s.up.session(ru).ipv4, s.up.tunnel(ru).dl_teid) == before[id(ru)]
            loss, out = await ping(s.up.namespace(ru), DN_HOST, 3)
            assert loss == 0, out
        # UE-requested release (TS 23.502 §4.3.4.2): N4 deletion of the retained session, the
        # lost SM policy association answered 404 by the restarted PCF, nothing in the way
        ru = s.sim.ues[0]
        upf_before = core.upf_stats().get("fivegs_upffunction_upf_sessionnbr")
        rel = await s.up.release(ru)
        assert rel.state == "INACTIVE" and rel.cause == 36

        async def released() -> bool:
            info = await core.asmf_info()
            return not any(x["ueIpv4Address"] == before[id(ru)][0] for x in info["sessions"])

        await await_until("the SMF released it", released, timeout=30, period=0.05)
        await await_until("the UPF deleted it", lambda: core.upf_stats().get(
            "fivegs_upffunction_upf_sessionnbr") == upf_before - 1, timeout=30, period=0.1)
        again = await s.up.establish(ru)
        assert again.state == "ACTIVE"
        loss, out = await ping(s.up.namespace(ru), DN_HOST, 3)
        assert loss == 0, out
        c = (await core.asmf_info())["counters"]
        assert c.get("persist_restored", 0) >= N and c.get("create_requests") == 1, c
