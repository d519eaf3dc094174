"""The HTML/JSON report and the `fivecore trust` / `fivecore audit` commands (in-process)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import yaml
from typer.testing import CliRunner

from fivecore.cli.main import app
from fivecore.trust import (
    AmfSecuritySettings,
    AuditLog,
    ExposureLedger,
    ExposureRecorder,
    TrustPolicy,
    aggregate,
)
from fivecore.trust.report import AuditReport

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "trust-policy.yaml"


def _scenario(policy: TrustPolicy, data_dir: Path) -> Path:
    """10 null-scheme + 90 Profile A UEs on a Dragonfly gNB; three decisions in the audit log."""
    audit_path = data_dir / "trust-audit.jsonl"
    log = AuditLog(audit_path, fsync=False, actor="amf")
    rec = ExposureRecorder()
    ledger = ExposureLedger(data_dir)
    rec.amf_config(AmfSecuritySettings(integrity_order=(0, 2), guti_reallocation=False))
    log.record_decision(policy.check_nf("nf-hr", "AMF", "900003"), event="nf-register", actor="nrf")
    for g in (("00101", 0x150, 22), ("00101", 0x10, 22), ("00101", 0x250, 22)):
        d = policy.check_gnb(g, None)
        log.record_decision(d, event="ng-setup")
        if d.admitted:
            rec.gnb_admitted(d)
    for i in range(100):
        ue = ledger.ue_ref(f"imsi-001010000000{i:03d}")
        rec.registration(ue, ("00101", 0x150, 22), identity="suci", suci_scheme="null" if i < 10 else "profile-a")
    ledger.write(rec.drain())
    ledger.close()
    log.close()
    return audit_path


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data.strip())


def test_html_is_self_contained_and_ordered(policy: TrustPolicy, tmp_path: Path) -> None:
    _scenario(policy, tmp_path)
    runner = CliRunner()
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["audit", "--data-dir", str(tmp_path), "--policy", str(EXAMPLE),
                              "--audit-log", str(tmp_path / "trust-audit.jsonl"), "--html", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text()
    p = _Collect()
    p.feed(html)
    assert p.h2 == ["Summary", "Vendor diversity (SM05)", "Per vendor", "Configuration findings"]
    for tag, attrs in p.tags:
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), tag
        for name in ("src", "href", "action"):
            if name in attrs:
                assert attrs[name].startswith("#"), (tag, attrs)
    assert "url(" not in html and "@import" not in html
    assert "Dragonfly Radio" in html and "NIA0-ENABLED" in html and "GUTI-NOT-REALLOCATED" in html


def test_html_escapes_everything(tmp_path: Path) -> None:
    events = [
        {"kind": "gnb", "ue": None, "gnb": "<b>g</b>", "vendor": "<script>alert(1)</script>",
         "data": {"vendor_name": "<img src=x onerror=alert(1)>", "risk_class": "<i>"}},
        {"kind": "registration", "ue": "<u>", "gnb": "<b>g</b>", "vendor": "<script>alert(1)</script>",
         "data": {"identity": "suci", "suci_scheme": "null"}},
    ]
    rep = AuditReport(generated="now", exposure=aggregate(events), ledger_path="<x>")
    html = rep.render_html()
    assert "<script" not in html and "<img" not in html and "<u>" not in html
    assert "&lt;script&gt;" in html


def test_audit_json_counts(policy: TrustPolicy, tmp_path: Path) -> None:
    _scenario(policy, tmp_path)
    res = CliRunner().invoke(app, ["audit", "--data-dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    df = next(v for v in out["exposure"]["vendors"] if v["vendor"] == "dragonfly")
    assert df["metrics"]["permanent-identity-exposed"] == {"ues": 10, "total": 10}
    assert df["metrics"]["registrations"] == {"ues": 100, "total": 100}
    assert len(df["per_ue"]) == 100
    assert {f["id"] for f in out["exposure"]["findings"]} == {"NIA0-ENABLED", "GUTI-NOT-REALLOCATED"}
    assert out["diversity"] is None


def test_audit_amf_security_override(policy: TrustPolicy, tmp_path: Path) -> None:
    _scenario(policy, tmp_path)
    cfg = tmp_path / "amf.yaml"
    cfg.write_text(yaml.safe_dump({"amf_security": {"ciphering_order": [0, 2], "null_scheme_suci_accepted": True}}))
    res = CliRunner().invoke(app, ["audit", "--data-dir", str(tmp_path), "--amf-security", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    ids = {f["id"] for f in json.loads(res.output)["exposure"]["findings"]}
    assert ids == {"NEA0-PREFERRED", "NULL-SCHEME-SUCI-ACCEPTED"}


def test_audit_human_output(policy: TrustPolicy, tmp_path: Path) -> None:
    _scenario(policy, tmp_path)
    res = CliRunner().invoke(app, ["audit", "--data-dir", str(tmp_path)], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    assert "Permanent identity exposed" in res.output and "10 / 10" in res.output
    assert "NAS null integrity (NIA0) is enabled" in res.output


def test_trust_report_flags_cap(policy: TrustPolicy, tmp_path: Path) -> None:
    audit_path = _scenario(policy, tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["trust", "report", "--policy", str(EXAMPLE), "--audit-log", str(audit_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    ran = next(z for z in out["zones"] if z["zone"] == "ran")
    assert ran["total"] == 2 and ran["risk_shares"]["high-risk"] == 0.5
    assert ran["flags"][0]["key"] == "high-risk"
    res = runner.invoke(app, ["trust", "report", "--policy", str(EXAMPLE), "--audit-log", str(audit_path), "--fail-on-cap"])
    assert res.exit_code == 1
    assert "CAP EXCEEDED" in res.output


def test_trust_report_needs_policy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FIVECORE_TRUST_POLICY", raising=False)
    res = CliRunner().invoke(app, ["trust", "report"])
    assert res.exit_code != 0
    assert "no trust policy" in str(res.exception)


def test_trust_check_json() -> None:
    res = CliRunner().invoke(app, ["trust", "check", str(EXAMPLE), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["vendors"]["dragonfly"]["zones"] == {"core": "refuse", "ran": "allow-restricted", "management": "refuse"}
    assert out["vendors"]["shadowline"]["zones"] == {"core": "refuse", "ran": "refuse", "management": "refuse"}
    assert out["vendors"]["aurora"]["vendor_id"] == "900001"
    assert out["unknown_vendor"] == {"core": "refuse", "ran": "quarantine", "management": "refuse"}
