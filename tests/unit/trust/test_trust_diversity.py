"""Vendor diversity (SM05): shares per zone and the cap flag."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fivecore.trust import (
    AuditLog,
    TrustPolicy,
    compute_diversity,
    current_subjects,
    read_audit_log,
)

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "trust-policy.yaml"


def _ran(policy: TrustPolicy, tmp_path: Path, high_risk: int, trusted: int, extra=()) -> list:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync=False, actor="amf") as log:
        for i in range(high_risk):
            log.record_decision(policy.check_gnb(("00101", 0x100 + i, 22), None), event="ng-setup")
        for i in range(trusted):
            log.record_decision(policy.check_gnb(("00101", 0x01 + i, 22), None), event="ng-setup")
        for fn in extra:
            fn(log)
    return current_subjects(read_audit_log(path).records)


def _ran_zone(report):
    return next(z for z in report.zones if z.zone == "ran")


def test_high_risk_above_cap_flagged(policy: TrustPolicy, tmp_path: Path) -> None:
    rep = compute_diversity(policy, _ran(policy, tmp_path, high_risk=2, trusted=2))
    z = _ran_zone(rep)
    assert z.total == 4
    assert z.risk_shares == {"high-risk": 0.5, "trusted": 0.5}
    assert [(f.cap_kind, f.key, f.cap) for f in z.flags] == [("risk-class", "high-risk", 0.35)]
    assert "ran zone: risk class high-risk holds 50.0%" in z.flags[0].message
    assert z.flags[0].rule == "zones.ran.diversity.max_share_by_risk_class.high-risk"


def test_below_and_at_cap_not_flagged(policy: TrustPolicy, tmp_path: Path) -> None:
    rep = compute_diversity(policy, _ran(policy, tmp_path, high_risk=1, trusted=2))
    assert _ran_zone(rep).flags == []  # 33.3%
    rep = compute_diversity(policy, _ran(policy, tmp_path / "b", high_risk=7, trusted=13))
    z = _ran_zone(rep)
    assert z.risk_shares["high-risk"] == pytest.approx(0.35)
    assert z.flags == []  # exactly 35% is allowed
    rep = compute_diversity(policy, _ran(policy, tmp_path / "c", high_risk=8, trusted=13))
    assert len(_ran_zone(rep).flags) == 1  # 38.1%


def test_refused_quarantined_and_removed_do_not_count(policy: TrustPolicy, tmp_path: Path) -> None:
    def extra(log: AuditLog) -> None:
        log.record_decision(policy.check_gnb(("00101", 0x250, 22), None), event="ng-setup")  # refused
        log.record_decision(policy.check_gnb(("00101", 0x3000, 22), None), event="ng-setup")  # quarantined
        log.record_removal(subject_kind="gnb", subject="gnb:00101:0x101/22", reason="N2 lost")

    rep = compute_diversity(policy, _ran(policy, tmp_path, high_risk=2, trusted=2, extra=[extra]))
    z = _ran_zone(rep)
    assert z.total == 3
    assert {v.vendor: v.count for v in z.vendors} == {"dragonfly": 1, "tundra": 2}
    assert z.flags == []  # 1 of 3 = 33.3%


def test_per_vendor_cap_in_core(policy: TrustPolicy, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync=False) as log:
        for i in range(4):
            log.record_decision(policy.check_nf(f"nf-{i}", "SMF", "900001"), event="nf-register")
        log.record_decision(policy.check_nf("nf-x", "SMF", "900002"), event="nf-register")
        log.record_decision(policy.check_nf("nf-y", "SMF", "900003"), event="nf-register")  # refused
    rep = compute_diversity(policy, current_subjects(read_audit_log(path).records))
    core = next(z for z in rep.zones if z.zone == "core")
    assert core.total == 5
    assert [(f.cap_kind, f.key) for f in core.flags] == [("vendor", "aurora")]  # 80% > 75%


def test_custom_class_cap_from_file(policy: TrustPolicy, tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["trust"]["zones"]["ran"]["diversity"] = {"max_share_by_risk_class": {"trusted": 0.6}}
    p = TrustPolicy.from_mapping(data)
    rep = compute_diversity(p, _ran(p, tmp_path, high_risk=1, trusted=3))
    assert [f.key for f in _ran_zone(rep).flags] == ["trusted"]
    d = rep.to_dict()
    assert d["flags"] and d["zones"][1]["vendors"][0]["vendor"] == "tundra"
