"""The AMF with the shipped vendor trust policy (examples/trust-policy.yaml): gNBs are admitted
or refused at NG Setup by vendor, every decision lands in the audit log, and registrations are
counted in the RAN exposure ledger (null-scheme SUCI = permanent identity seen by the RAN)."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.gnb import Gnb, GnbConfig, NgSetupFailed
from fivecore.ran.ue import UeState

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
BASE = 1010000001100


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    if os.geteuid() != 0:
        pytest.skip("userspace SCTP needs raw sockets (root)")
    work = tmp_path_factory.mktemp("amf-trust")
    policy = str(REPO / "examples" / "trust-policy.yaml")
    trusted = "900001"  # Aurora Core Networks: the example's trusted core vendor
    # The NRF enforces the same policy, so every core NF declares its vendor; NRF and AMF
    # share one working directory and so one audit log.
    c = AmfCore.launch(work, amf={"trust_policy": policy, "data_dir": str(work / "var"),
                                  "vendor_id": trusted},
                       nrf={"trust_policy": policy}, udr={"vendor_id": trusted},
                       udm={"vendor_id": trusted}, ausf={"vendor_id": trusted})
    c.provision(6, first_imsi=f"{BASE:015d}")
    yield c
    c.stop()


async def test_ng_setup_by_vendor_and_exposure(core: AmfCore) -> None:
    host, port = core.ngap
    refused = Gnb(GnbConfig(gnb_id=0x250, name="SHDW-1", amf_host=host, amf_port=port))
    with pytest.raises(NgSetupFailed):
        await refused.start()
    await refused.stop()
    restricted = Gnb(GnbConfig(gnb_id=0x150, amf_host=host, amf_port=port))
    await restricted.start()
    await restricted.stop()

    cfg = core.ran_config(first_imsi=f"{BASE:015d}", scheme_cycle=[0, 1, 2])
    cfg["gnb"]["idBase"] = 0x10
    sim = RanSim(load_ran_config(cfg), n_ues=6)
    await sim.start()
    try:
        res = await sim.register_all(concurrency=6, timeout=60)
        assert res["ok"] == 6, (res, sim.summary())
        assert {ru.ue.state for ru in sim.ues} == {UeState.REGISTERED}
    finally:
        await sim.stop()

    # A high-risk vendor's NF is refused by the NRF (issue 10: never the core).
    nrf_uri = core.config["udm"]["nrf_uri"]
    nf_id = "5b7f5e7a-0000-4000-8000-0000000000aa"
    body = json.dumps({"nfInstanceId": nf_id, "nfType": "SMF", "nfStatus": "REGISTERED",
                       "ipv4Addresses": ["127.0.0.4"], "vendorId": "900003"}).encode()
    req = urllib.request.Request(f"{nrf_uri}/nnrf-nfm/v1/nf-instances/{nf_id}", data=body,
                                 method="PUT", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused_nf:
        urllib.request.urlopen(req, timeout=5)  # noqa: S310 - loopback
    assert refused_nf.value.code == 403

    audit = core.procs["amf"].workdir / "var" / "trust-audit.jsonl"
    assert core.procs["nrf"].workdir == core.procs["amf"].workdir
    records = [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]
    setups = [r for r in records if r.get("event") == "ng-setup"]
    outcomes = {json.dumps(r.get("subject"), sort_keys=True): r for r in setups}
    assert len(setups) >= 3, records
    assert len(outcomes) >= 3
    # One audit log holds all three decisions the issue names.
    decided = {(r.get("event"), r.get("decision"), r.get("vendor")) for r in records}
    assert ("nf-register", "refuse", "dragonfly") in decided, decided
    assert ("ng-setup", "allow-restricted", "dragonfly") in decided, decided
    assert ("ng-setup", "refuse", "shadowline") in decided, decided
    assert ("nf-register", "allow", "aurora") in decided, decided

    from fivecore.trust.exposure import read_exposure_events

    ledger = Path(core.config["amf"]["data_dir"]) / "exposure.jsonl"
    regs: list[dict] = []
    for _ in range(200):  # the AMF appends its ledger once a second
        if ledger.exists():
            events, bad = read_exposure_events(ledger)
            assert bad == 0
            regs = [e for e in events if e["kind"] == "registration"]
            if len(regs) >= 6:
                break
        await asyncio.sleep(0.1)
    assert len(regs) == 6, regs
    assert sum(1 for e in regs if e["data"]["suci_scheme"] == "null") == 2
