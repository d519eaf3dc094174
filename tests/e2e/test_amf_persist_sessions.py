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

from collections.abc import Iterator

import pytest
from netkit import SessionCore, Sim, back_as_they_were, idle_on_disk, restart, session_network

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

N = 3
FIRST = 70  # IMSI offset and UE namespace index of this test's UEs


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionCore]:
    yield from session_network(tmp_path_factory, "persist-sessions", FIRST + N + 1, amf={"persist_flush_ms": 50})


async def test_idle_ues_sessions_come_back_after_an_amf_crash(core: SessionCore) -> None:
    async with Sim(core, N, FIRST) as s:
        # registered, a session each, pinged, CM-IDLE (user plane deactivated at the SMF), on disk
        addr = await idle_on_disk(core, s, smf=False)

        await restart(core, s, ("amf",))
        c = await core.acounters()
        assert c.get("persist_restored") == N, c

        await back_as_they_were(core, s, addr)
        assert s.sim.stats.get("service_reject", 0) == 0 and s.sim.stats.get("reregistrations", 0) == 0
