"""The trust commands as a person runs them: separate processes, real files.

Stands in for the NRF and AMF until they exist: one process decides an NF registration the
way the NRF will, another decides two NG Setups the way the AMF will, both append to the
same audit log, and `fivecore trust report` reads it from a third process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "trust-policy.yaml"


def _fivecore(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fivecore.cli.main", *args],
                          capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


def test_bad_policy_fails_with_one_clear_line(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["trust"]["zones"]["radio"] = {"risk_classes": {"trusted": "allow"}}
    bad = tmp_path / "bad-zone.yaml"
    bad.write_text(yaml.safe_dump(data))
    res = _fivecore("trust", "check", str(bad))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines == [f"fivecore: error: {bad}: trust.zones.radio: unknown zone 'radio' (known: core, ran, management)"]
    assert res.stdout == ""

    data = yaml.safe_load(EXAMPLE.read_text())
    data["trust"]["ran_vendor_rules"]["gnb_id_ranges"][0]["vendor"] = "huawai"
    bad = tmp_path / "bad-vendor.yaml"
    bad.write_text(yaml.safe_dump(data))
    res = _fivecore("trust", "report", "--policy", str(bad))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "trust.ran_vendor_rules.gnb_id_ranges[0].vendor: unknown vendor 'huawai'" in res.stderr


_NRF = """
import sys
from fivecore.trust import AuditLog, TrustPolicy
policy = TrustPolicy.from_file(sys.argv[1])
audit = AuditLog(sys.argv[2], actor="nrf:test")
d = policy.check_nf("5b7f5e7a-0000-4000-8000-000000000001", "AMF", "900003")
audit.record_decision(d, event="nf-register")
print(d.http_status, d.problem_cause)
"""

_AMF = """
import sys
from fivecore.trust import AuditLog, TrustPolicy
policy = TrustPolicy.from_file(sys.argv[1])
audit = AuditLog(sys.argv[2], actor="amf:test")
for gnb in (("00101", 0x150, 22), ("00101", 0x250, 22)):
    d = policy.check_gnb(gnb, None)
    audit.record_decision(d, event="ng-setup")
    print(d.action.value, d.ngap_cause)
"""


def test_three_decisions_from_two_processes(tmp_path: Path) -> None:
    log = tmp_path / "trust-audit.jsonl"
    nrf = subprocess.run([sys.executable, "-c", textwrap.dedent(_NRF), str(EXAMPLE), str(log)],
                         capture_output=True, text=True, timeout=60, check=True)
    amf = subprocess.run([sys.executable, "-c", textwrap.dedent(_AMF), str(EXAMPLE), str(log)],
                         capture_output=True, text=True, timeout=60, check=True)
    assert nrf.stdout.split() == ["403", "VENDOR_NOT_ALLOWED"]
    assert amf.stdout.splitlines() == ["allow-restricted None", "refuse ('misc', 'unspecified')"]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["actor"], r["event"], r["decision"], r["vendor"]) for r in records] == [
        ("nrf:test", "nf-register", "refuse", "dragonfly"),
        ("amf:test", "ng-setup", "allow-restricted", "dragonfly"),
        ("amf:test", "ng-setup", "refuse", "shadowline"),
    ]
    res = _fivecore("trust", "report", "--policy", str(EXAMPLE), "--audit-log", str(log), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    zones = {z["zone"]: z for z in out["zones"]}
    assert zones["core"]["total"] == 0
    assert zones["ran"]["total"] == 1 and zones["ran"]["vendors"][0]["vendor"] == "dragonfly"
    # One high-risk gNB is 100% of the RAN: above the 35% cap.
    assert [f["key"] for f in zones["ran"]["flags"]] == ["high-risk"]
    res = _fivecore("trust", "report", "--policy", str(EXAMPLE), "--audit-log", str(log), "--fail-on-cap")
    assert res.returncode == 1 and "CAP EXCEEDED" in res.stdout
