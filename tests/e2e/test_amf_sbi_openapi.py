"""Every SBI request the AMF sends, and every answer it gets, checked against the 3GPP OpenAPI
files in ../shared/3gpp-openapi (TS 29.509 Nausf_UEAuthentication, TS 29.503 Nudm_UECM and
Nudm_SDM): the AMF runs in this process with a validating HTTP/2 client, NRF/UDR/UDM/AUSF as
processes, UEs from the simulator over SCTP (5G-AKA, EAP-AKA', resync, de-registration)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fivecore.config import load_config
from fivecore.nf.amf.app import AmfApp
from fivecore.nf.amf.launch import AmfCore
from fivecore.nf.common.validating import ValidatingHttp2Client
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import UeState
from fivecore.wire.sbi.schema import OpenApiValidator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
BASE = 1010000001200


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    if os.geteuid() != 0:
        pytest.skip("userspace SCTP needs raw sockets (root)")
    c = AmfCore(tmp_path_factory.mktemp("amf-openapi"))
    c.ORDER = ("nrf", "udr", "udm", "ausf")  # the AMF runs inside the test
    for n in c.ORDER:
        c.procs[n].start()
    c.wait_registered(("UDR", "UDM", "AUSF"))
    c.provision(4, first_imsi=f"{BASE:015d}")
    c.provision(2, first_imsi=f"{BASE + 10:015d}", auth_method="EAP_AKA_PRIME")
    yield c
    c.stop()


async def test_amf_sbi_traffic_conforms(core: AmfCore) -> None:
    client = ValidatingHttp2Client(OpenApiValidator(SHARED / "3gpp-openapi"), timeout=10)
    cfg = {k: v for k, v in core.config.items()}
    amf = AmfApp(load_config(cfg), http=client)
    await amf.start()
    try:
        sims = [
            RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE:015d}", scheme_cycle=[0, 1, 2])), n_ues=4),
            RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE + 10:015d}")), n_ues=2),
        ]
        sims[0].ues[3].ue.usim.sqn_ms = 0x0000_4000_0000  # forces a resynchronisation
        for sim in sims:
            await sim.start()
        try:
            for sim in sims:
                res = await sim.register_all(concurrency=4, timeout=30)
                assert res["ok"] == len(sim.ues), res
            res = await sims[0].deregister_all(timeout=30)
            assert res["ok"] == 4
        finally:
            for sim in sims:
                await sim.stop()
        seen = {(m, p.split("/")[1], s) for m, p, s in client.seen}
        assert ("POST", "nausf-auth", 201) in seen
        assert ("PUT", "nausf-auth", 200) in seen
        assert ("POST", "nausf-auth", 200) in seen, "EAP-AKA' eap-session round trips"
        assert ("PUT", "nudm-uecm", 201) in seen or ("PUT", "nudm-uecm", 200) in seen
        assert ("GET", "nudm-sdm", 200) in seen
        assert client.errors == [], "\n".join(client.errors[:10])
        assert amf.gmm.ctx.stats.get("auth_resync") == 1
        assert {ru.ue.state for ru in sims[1].ues} == {UeState.REGISTERED}
    finally:
        await amf.stop()
