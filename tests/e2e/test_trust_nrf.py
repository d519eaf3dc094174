"""Issue 10 at the NRF: with the shipped example policy, NFRegister from a high-risk vendor
is refused with 403 ProblemDetails, a trusted vendor's NF is registered, and both decisions
are in the append-only audit log."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from fivecore.nf.common.launch import NfProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]


def _register(uri: str, nf_type: str, vendor_id: str | None) -> tuple[int, dict]:
    nf_id = str(uuid.uuid4())
    profile = {"nfInstanceId": nf_id, "nfType": nf_type, "nfStatus": "REGISTERED",
               "ipv4Addresses": ["127.0.0.99"]}
    if vendor_id is not None:
        profile["vendorId"] = vendor_id
    req = urllib.request.Request(
        f"{uri}/nnrf-nfm/v1/nf-instances/{nf_id}", data=json.dumps(profile).encode(),
        method="PUT", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_nrf_refuses_high_risk_core_vendor(tmp_path: Path) -> None:
    port = free_port("127.0.0.1")
    nrf = NfProcess("nrf", {
        "logging": {"level": "warning"},
        "nrf": {"sbi": {"address": "127.0.0.1", "port": port},
                "trust_policy": str(REPO / "examples" / "trust-policy.yaml")},
    }, tmp_path).start()
    try:
        status, body = _register(nrf.uri, "AMF", "900003")  # Dragonfly Radio, high-risk
        assert status == 403
        assert body.get("status") == 403 and body.get("cause")
        assert "core" in body.get("detail", "")

        status, body = _register(nrf.uri, "SMF", "900001")  # Aurora Core Networks, trusted
        assert status in (200, 201), body
        assert body["vendorId"] == "900001"

        status, _ = _register(nrf.uri, "UDM", None)  # unknown vendor: refused for the core
        assert status == 403
        assert nrf.alive()
    finally:
        nrf.stop()

    lines = [json.loads(x) for x in (tmp_path / "var" / "trust-audit.jsonl").read_text().splitlines()]
    decisions = [(x.get("decision") or x.get("action"), x.get("vendor")) for x in lines]
    assert len(lines) == 3, lines
    assert any(d == "refuse" and v == "dragonfly" for d, v in decisions), decisions
    assert any(d == "allow" and v == "aurora" for d, v in decisions), decisions


def test_nrf_keeps_a_quarantined_vendor_undiscoverable(tmp_path: Path) -> None:
    """unknown_vendor: quarantine for the core zone: the NF registers (201) but as
    UNDISCOVERABLE, discovery never returns it, and its heartbeats do not change that."""
    import yaml

    policy = yaml.safe_load((REPO / "examples" / "trust-policy.yaml").read_text())
    policy["trust"]["zones"]["core"]["unknown_vendor"] = "quarantine"
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    port = free_port("127.0.0.1")
    nrf = NfProcess("nrf", {
        "logging": {"level": "warning"},
        "nrf": {"sbi": {"address": "127.0.0.1", "port": port}, "trust_policy": str(tmp_path / "policy.yaml")},
    }, tmp_path).start()
    try:
        status, body = _register(nrf.uri, "UDM", None)
        assert status in (200, 201), body
        assert body["nfStatus"] == "UNDISCOVERABLE"
        nf_id = body["nfInstanceId"]
        patch = urllib.request.Request(
            f"{nrf.uri}/nnrf-nfm/v1/nf-instances/{nf_id}", method="PATCH",
            data=json.dumps([{"op": "replace", "path": "/nfStatus", "value": "REGISTERED"}]).encode(),
            headers={"Content-Type": "application/json-patch+json"})
        with urllib.request.urlopen(patch, timeout=5) as resp:  # noqa: S310 - loopback
            assert resp.status in (200, 204)
        with urllib.request.urlopen(f"{nrf.uri}/nnrf-nfm/v1/nf-instances/{nf_id}", timeout=5) as resp:  # noqa: S310
            assert json.loads(resp.read())["nfStatus"] == "UNDISCOVERABLE"
        url = f"{nrf.uri}/nnrf-disc/v1/nf-instances?target-nf-type=UDM&requester-nf-type=AMF"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
            assert json.loads(resp.read()).get("nfInstances", []) == []
    finally:
        nrf.stop()
    lines = [json.loads(x) for x in (tmp_path / "var" / "trust-audit.jsonl").read_text().splitlines()]
    assert [x["decision"] for x in lines] == ["quarantine"]
