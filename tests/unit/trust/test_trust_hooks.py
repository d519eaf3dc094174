"""The NRF/AMF hook adapters, driven with the real NFProfile model and the AMF's GnbContext."""

from __future__ import annotations

from pathlib import Path

from fivecore.nf.amf.context import GnbContext
from fivecore.trust import AuditLog, ExposureRecorder, TrustPolicy, aggregate, read_audit_log
from fivecore.trust.hooks import AmfGnbPolicy, NrfAdmission
from fivecore.wire.sbi import NFProfile


def _profile(vendor_id: str | None, nf_id: str = "5b7f5e7a-0000-4000-8000-000000000001") -> NFProfile:
    body = {"nfInstanceId": nf_id, "nfType": "AMF", "nfStatus": "REGISTERED", "ipv4Addresses": ["127.0.0.5"]}
    if vendor_id is not None:
        body["vendorId"] = vendor_id
    return NFProfile.model_validate(body)


def test_nrf_admission(policy: TrustPolicy, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    hook = NrfAdmission(policy, AuditLog(log, fsync=False), actor="nrf:t")
    refused = hook(_profile("900003"), False)
    assert refused is not None and "Dragonfly Radio" in refused and "may not serve the core zone" in refused
    assert hook(_profile("900001", nf_id="5b7f5e7a-0000-4000-8000-000000000002"), False) is None
    assert hook(_profile(None, nf_id="5b7f5e7a-0000-4000-8000-000000000003"), True) is not None
    hook.removed("5b7f5e7a-0000-4000-8000-000000000002")
    recs = read_audit_log(log).records
    assert [(r["event"], r.get("decision")) for r in recs] == [
        ("nf-register", "refuse"), ("nf-register", "allow"), ("nf-update", "refuse"), ("removed", None)]
    assert all(r["actor"] == "nrf:t" for r in recs)


def test_amf_gnb_policy(policy: TrustPolicy, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    rec = ExposureRecorder()
    hook = AmfGnbPolicy(policy, AuditLog(log, fsync=False), rec)
    ok = GnbContext(1, "127.0.0.1:1")
    ok.global_ran_node_id, ok.name = ("00101", 0x150, 22), "DRGF-7"
    bad = GnbContext(2, "127.0.0.1:2")
    bad.global_ran_node_id = ("00101", 0x250, 22)
    unknown = GnbContext(3, "127.0.0.1:3")
    unknown.global_ran_node_id = ("00101", 0x3000, 22)
    assert hook(ok) is None
    assert ok.vendor == "dragonfly"
    prof = hook.profile_for(ok)
    assert prof is not None and prof.name == "untrusted-ran"
    assert hook(bad) == ("misc", "unspecified") and bad.vendor == "shadowline"
    assert hook(unknown) == ("misc", "om-intervention") and unknown.vendor is None
    assert hook.profile_for(bad) is None
    rec.registration("ue-1", ok.global_ran_node_id, identity="suci", suci_scheme="null")
    hook.removed(ok)
    assert hook.decision_for(ok) is None
    s = aggregate(rec.drain())
    assert s.vendors["dragonfly"].gnbs == {"gnb:00101:0x150/22"}
    recs = read_audit_log(log).records
    assert [r.get("decision") for r in recs] == ["allow-restricted", "refuse", "quarantine", None]
    assert recs[-1]["event"] == "removed" and recs[-1]["subject"] == "gnb:00101:0x150/22"


def test_amf_gnb_policy_is_per_association(policy: TrustPolicy, tmp_path: Path) -> None:
    """Two N2 associations claiming one Global RAN Node ID: the end of one must not lift the
    restricted profile of the other (nor mark the gNB removed in the audit log)."""
    log = tmp_path / "audit.jsonl"
    hook = AmfGnbPolicy(policy, AuditLog(log, fsync=False), ExposureRecorder())
    first, second = GnbContext(1, "127.0.0.1:1"), GnbContext(2, "127.0.0.1:2")
    for g in (first, second):
        g.global_ran_node_id, g.name = ("00101", 0x150, 22), "DRGF-7"
        assert hook(g) is None
    hook.removed(first)
    assert hook.decision_for(first) is None
    prof = hook.profile_for(second)
    assert prof is not None and prof.name == "untrusted-ran"
    assert [r["event"] for r in read_audit_log(log).records].count("removed") == 0
    hook.removed(second)
    assert hook.profile_for(second) is None
    assert [r["event"] for r in read_audit_log(log).records].count("removed") == 1
