"""AMF end to end: NRF, UDR, UDM, AUSF and AMF as five processes; gNBs and UEs from the simulator.

Everything crosses real sockets: NGAP over userspace SCTP (raw IP, needs root) between the
simulated gNBs and the AMF, HTTP/2 between the AMF and the AUSF/UDM (and on to the UDR).
``FIVECORE_E2E_UES`` sets how many UEs register concurrently (default 1000).
"""

from __future__ import annotations

import os

import pytest
from netkit import amf_core

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.gnb import Gnb, GnbConfig, NgSetupFailed
from fivecore.ran.ue import UeState

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

N_UES = int(os.environ.get("FIVECORE_E2E_UES", "1000"))


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-reg") as c:
        c.provision(N_UES + 20)
        yield c


async def test_ng_setup_succeeds(core: AmfCore) -> None:
    host, port = core.ngap
    gnb = Gnb(GnbConfig(gnb_id=0x101, amf_host=host, amf_port=port))
    await gnb.start()
    try:
        assert gnb.ready
        assert gnb.amf_name == "fivecore-amf"
    finally:
        await gnb.stop()


@pytest.mark.parametrize(
    ("cfg", "why"),
    [
        ({"mcc": "999", "mnc": "99"}, "PLMN"),
        ({"tac": 77}, "TAC"),
        ({"slices": ((9, 0x123456),)}, "slice"),
    ],
)
async def test_ng_setup_failure(core: AmfCore, cfg: dict, why: str) -> None:
    """TS 38.413 §8.7.1.4: a gNB whose PLMN, TAC or slices we do not serve is refused."""
    host, port = core.ngap
    gnb = Gnb(GnbConfig(gnb_id=0x202, amf_host=host, amf_port=port, **cfg))
    with pytest.raises(NgSetupFailed) as ei:
        await gnb.start()
    await gnb.stop()
    assert ei.value.cause == ("misc", "unknown-PLMN-or-SNPN"), why


async def test_many_ues_register_and_deregister(core: AmfCore) -> None:
    """N UEs, null-scheme / Profile A / Profile B SUCI in turn, over two gNBs, all at once."""
    before = await core.acounters()
    sim = RanSim(load_ran_config(core.ran_config(scheme_cycle=[0, 1, 2])), n_gnbs=2, n_ues=N_UES)
    await sim.start()
    try:
        res = await sim.register_all(concurrency=min(64, N_UES), timeout=60)
        states = {ru.ue.state for ru in sim.ues}
        assert res["ok"] == N_UES, (res["failed"][:5], sim.summary(), await core.acounters())
        assert states == {UeState.REGISTERED}
        assert all(ru.ue.guti is not None for ru in sim.ues)
        assert all(ru.kgnb_ok for ru in sim.ues), "the AMF's KgNB must match the UE's derivation"
        # each UE is REGISTERED once it sends Registration Complete; the AMF once that arrives
        await core.wait_counter("registered", before.get("registered", 0) + N_UES)
        after = await core.acounters()
        for scheme in (0, 1, 2):
            got = after.get(f"suci_scheme_{scheme}", 0) - before.get(f"suci_scheme_{scheme}", 0)
            assert got == len([i for i in range(N_UES) if i % 3 == scheme])
        assert after.get("registered", 0) - before.get("registered", 0) == N_UES
        tmsis = {ru.ue.guti.tmsi for ru in sim.ues}
        assert len(tmsis) == N_UES, "every UE gets its own 5G-TMSI"

        res = await sim.deregister_all(concurrency=min(64, N_UES), timeout=60)
        assert res["ok"] == N_UES, res["failed"][:5]
        assert {ru.ue.state for ru in sim.ues} == {UeState.DEREGISTERED}
        after2 = await core.acounters()
        assert after2.get("deregistration", 0) - after.get("deregistration", 0) == N_UES
        assert after2.get("nas_bad_mac", 0) == before.get("nas_bad_mac", 0)
    finally:
        await sim.stop()


async def test_reregistration_with_guti_needs_no_suci(core: AmfCore) -> None:
    """TS 24.501 §5.5.1.2.2: a UE with a 5G-GUTI and a NAS security context registers with it."""
    first = f"{int('001010000000001') + N_UES:015d}"
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=first)), n_ues=1)
    await sim.start()
    try:
        ru = sim.ues[0]
        assert await sim.register(ru) == UeState.REGISTERED
        guti1 = ru.ue.guti
        c1 = await core.acounters()
        assert await sim.deregister(ru) == UeState.DEREGISTERED
        assert await sim.register(ru) == UeState.REGISTERED
        c2 = await core.acounters()
        suci_sent = sum(c2.get(f"suci_scheme_{s}", 0) - c1.get(f"suci_scheme_{s}", 0) for s in (0, 1, 2))
        assert suci_sent == 0, "no new SUCI on re-registration with the 5G-GUTI"
        assert c2.get("registration_without_auth", 0) == c1.get("registration_without_auth", 0) + 1
        assert ru.ue.guti is not None and ru.ue.guti.tmsi != guti1.tmsi, "a fresh 5G-GUTI every time"
    finally:
        await sim.stop()


async def test_unknown_guti_triggers_identity(core: AmfCore) -> None:
    """TS 24.501 §5.5.1.2.2 / §5.4.3: a 5G-GUTI the AMF does not know -> Identity (SUCI)."""
    from fivecore.wire.nas.ies import MobileIdentity

    first = f"{int('001010000000001') + N_UES + 1:015d}"
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=first)), n_ues=1)
    await sim.start()
    try:
        ru = sim.ues[0]
        ru.ue.guti = MobileIdentity.guti("00101", 2, 1, 0, 0x0BADCAFE)
        c1 = await core.acounters()
        assert await sim.register(ru) == UeState.REGISTERED
        c2 = await core.acounters()
        assert c2.get("identity_procedure", 0) == c1.get("identity_procedure", 0) + 1
        assert ru.ue.guti.tmsi != 0x0BADCAFE
    finally:
        await sim.stop()


@pytest.mark.parametrize("connected", [True, False], ids=["connected", "idle-paged"])
async def test_network_initiated_deregistration_via_udm_notification(core: AmfCore, connected: bool) -> None:
    """TS 29.503 §5.3.2.3.2 DeregistrationNotification to the AMF's callback URI ->
    TS 24.501 §5.5.2.3 network-initiated de-registration of the UE."""
    import asyncio
    import json
    import urllib.request

    first = f"{int('001010000000001') + N_UES + (2 if connected else 3):015d}"
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=first)), n_ues=1)
    await sim.start()
    try:
        ru = sim.ues[0]
        registered = (await core.acounters()).get("registered", 0)
        assert await sim.register(ru, follow_on=connected) == UeState.REGISTERED
        # the UE is REGISTERED once it sends Registration Complete; the AMF once that arrives
        # (TS 24.501 §5.5.1.2.4: it waits for it when it assigned a new 5G-GUTI)
        assert await core.wait_counter("registered", registered + 1) == registered + 1
        if not connected:
            for _ in range(100):
                if ru.ran_id is None:
                    break
                await asyncio.sleep(0.05)
            assert ru.ran_id is None, "released to CM-IDLE after registration"
        url = f"{core.procs['amf'].uri}/namf-callback/v1/{ru.ue.supi}/dereg-notify"
        body = json.dumps({"deregReason": "SUBSCRIPTION_WITHDRAWN", "accessType": "3GPP_ACCESS"}).encode()

        def post() -> int:
            req = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 - loopback
                return r.status

        assert await asyncio.to_thread(post) == 204
        for _ in range(100):
            if ru.ue.state == UeState.DEREGISTERED:
                break
            await asyncio.sleep(0.05)
        assert ru.ue.state == UeState.DEREGISTERED
        assert sim.stats.get("deregistered_by_network") == 1
        assert await core.wait_counter("deregistration_nw", 1) >= 1
        if not connected:
            assert sim.stats.get("paged") == 1
    finally:
        await sim.stop()
