"""NG Setup over real SCTP with gNB ID ranges bound to peer networks (trust policy ``peers``):
a gNB claiming a range's ID from outside the range's networks gets NG SETUP FAILURE, one
connecting from inside is admitted, and both decisions land in the audit log with the peer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.gnb import Gnb, GnbConfig, NgSetupFailed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    if os.geteuid() != 0:
        pytest.skip("userspace SCTP needs raw sockets (root)")
    work = tmp_path_factory.mktemp("amf-trust-peers")
    doc = yaml.safe_load((REPO / "examples" / "trust-policy.yaml").read_text())
    for r in doc["trust"]["ran_vendor_rules"]["gnb_id_ranges"]:
        if r["vendor"] == "tundra":
            r["peers"] = ["10.99.0.0/16"]      # tundra's radio network, not this host's loopback
        if r["vendor"] == "dragonfly":
            r["peers"] = ["127.0.0.0/8"]
    policy = work / "policy.yaml"
    policy.write_text(yaml.safe_dump(doc))
    c = AmfCore.launch(work, amf={"trust_policy": str(policy), "data_dir": str(work / "var")})
    yield c
    c.stop()


async def test_ng_setup_bound_to_peer_networks(core: AmfCore) -> None:
    host, port = core.ngap
    spoof = Gnb(GnbConfig(gnb_id=0x42, name="tundra-claim", amf_host=host, amf_port=port))
    with pytest.raises(NgSetupFailed) as failed:
        await spoof.start()
    await spoof.stop()
    assert "unspecified" in str(failed.value.cause)
    bound_ok = Gnb(GnbConfig(gnb_id=0x150, amf_host=host, amf_port=port))
    await bound_ok.start()
    await bound_ok.stop()
    audit = core.procs["amf"].workdir / "var" / "trust-audit.jsonl"
    recs = [json.loads(ln) for ln in audit.read_text().splitlines() if ln.strip()]
    ng = [r for r in recs if r.get("event") == "ng-setup"]
    assert [r["decision"] for r in ng] == ["refuse", "allow-restricted"]
    assert "bound to peers 10.99.0.0/16" in ng[0]["reason"] and "127.0.0.1" in ng[0]["reason"]
