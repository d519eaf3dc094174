"""RAN exposure ledger: scripted scenarios counted exactly, persistence, configuration findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.errors import ConfigError
from fivecore.trust import (
    AmfSecuritySettings,
    ExposureLedger,
    ExposureRecorder,
    Metric,
    SuciScheme,
    TrustPolicy,
    aggregate,
    config_findings,
    load_summary,
)
from fivecore.trust.exposure import ExposureError

DRAGONFLY_GNB = ("00101", 0x150, 22)
DRAGONFLY_GNB2 = ("00101", 0x151, 22)
TUNDRA_GNB = ("00101", 0x10, 22)


def _recorder(policy: TrustPolicy, *gnbs) -> ExposureRecorder:
    rec = ExposureRecorder()
    for g in gnbs:
        d = policy.check_gnb(g, None)
        assert d.admitted
        rec.gnb_admitted(d)
    return rec


def test_ten_null_scheme_of_hundred(policy: TrustPolicy) -> None:
    """10 UEs with null-scheme SUCI and 90 with Profile A: 10 exposed identities for that vendor."""
    rec = _recorder(policy, DRAGONFLY_GNB, TUNDRA_GNB)
    for i in range(100):
        scheme = SuciScheme.NULL if i < 10 else SuciScheme.PROFILE_A
        rec.registration(f"ue-{i}", DRAGONFLY_GNB, identity="suci", suci_scheme=scheme)
    s = aggregate(rec.drain())
    v = s.vendors["dragonfly"]
    assert v.total(Metric.PERMANENT_IDENTITY) == 10
    assert v.ue_count(Metric.PERMANENT_IDENTITY) == 10
    assert v.total(Metric.REGISTRATIONS) == 100 and len(v.ues) == 100
    assert v.vendor_name == "Dragonfly Radio" and v.risk_class == "high-risk"
    # The other vendor saw nothing of these UEs.
    t = s.vendors["tundra"]
    assert t.total(Metric.REGISTRATIONS) == 0 and not t.ues
    assert t.gnbs == {"gnb:00101:0x10/22"}


def test_full_scripted_scenario_counts_exactly(policy: TrustPolicy) -> None:
    rec = _recorder(policy, DRAGONFLY_GNB, DRAGONFLY_GNB2, TUNDRA_GNB)
    expected_df = dict.fromkeys(Metric, 0)
    expected_df_ues = {m: set() for m in Metric}

    def exp(metric: Metric, ue: str) -> None:
        expected_df[metric] += 1
        expected_df_ues[metric].add(ue)

    for i in range(40):
        ue = f"ue-{i:03d}"
        g = DRAGONFLY_GNB if i % 2 else DRAGONFLY_GNB2
        # first registration with SUCI, second one with GUTI
        scheme = "null" if i % 8 == 0 else ("profile-b" if i % 5 == 0 else "profile-a")
        rec.registration(ue, g, identity="suci", suci_scheme=scheme)
        exp(Metric.REGISTRATIONS, ue)
        if scheme == "null":
            exp(Metric.PERMANENT_IDENTITY, ue)
        nea, nia = (0, 2) if i % 10 == 3 else (2, 2)
        rec.nas_security(ue, g, nea=nea, nia=nia)
        if nea == 0:
            exp(Metric.NAS_UNCIPHERED, ue)
        rec.kgnb_delivered(ue, g)
        exp(Metric.KGNB_DELIVERED, ue)
        rec.imeisv_sent(ue, g, masked=i % 4 != 0)
        exp(Metric.IMEISV_MASKED if i % 4 else Metric.IMEISV_FULL, ue)
        rec.guti_assigned(ue, g, reallocated=True)
        rec.registration(ue, g, identity="guti")
        exp(Metric.REGISTRATIONS, ue)
        reused = i % 3 == 0
        rec.guti_assigned(ue, g, reallocated=not reused)
        if reused:
            exp(Metric.GUTI_REUSED, ue)
        for psi in (1, 2):
            integ = not (i % 2 and psi == 2)
            rec.pdu_session(ue, g, psi=psi, up_integrity=integ, up_ciphering=True)
            if not integ:
                exp(Metric.UP_INTEGRITY_OFF, ue)
        # handovers: within the vendor never count; to Tundra count unless keys refreshed
        other = DRAGONFLY_GNB2 if g == DRAGONFLY_GNB else DRAGONFLY_GNB
        rec.handover(ue, g, other, key_refresh=False)
        if i < 12:
            rec.handover(ue, other, TUNDRA_GNB, key_refresh=i >= 9)
            if i < 9:
                exp(Metric.KEYS_TO_OTHER_VENDOR, ue)
            rec.kgnb_delivered(ue, TUNDRA_GNB, procedure="handover")

    events = rec.drain()
    s = aggregate(events)
    v = s.vendors["dragonfly"]
    for m in Metric:
        assert v.total(m) == expected_df[m], m
        assert v.ue_count(m) == len(expected_df_ues[m]), m
    assert v.total(Metric.PERMANENT_IDENTITY) == 5  # i in 0, 8, 16, 24, 32
    assert v.total(Metric.KEYS_TO_OTHER_VENDOR) == 9
    t = s.vendors["tundra"]
    assert t.total(Metric.KGNB_DELIVERED) == 12 and len(t.ues) == 12
    assert t.total(Metric.KEYS_TO_OTHER_VENDOR) == 0
    # Per-UE view: ue-000 used the null scheme once and had a full IMEISV sent once.
    per_ue = v.per_ue()
    assert per_ue["ue-000"][Metric.PERMANENT_IDENTITY.value] == 1
    assert per_ue["ue-000"][Metric.IMEISV_FULL.value] == 1
    assert Metric.PERMANENT_IDENTITY.value not in per_ue["ue-001"]
    assert s.events == len(events) and s.malformed == 0


def test_events_from_unadmitted_gnb_are_unknown_vendor(policy: TrustPolicy) -> None:
    rec = _recorder(policy, DRAGONFLY_GNB)
    rec.registration("ue-1", ("00101", 0x3000, 22), identity="suci", suci_scheme="null")
    rec.gnb_removed(DRAGONFLY_GNB)
    rec.registration("ue-2", DRAGONFLY_GNB, identity="suci", suci_scheme="null")
    s = aggregate(rec.drain())
    assert s.vendors["unknown"].total(Metric.PERMANENT_IDENTITY) == 2


def test_recorder_rejects_bad_calls(policy: TrustPolicy) -> None:
    rec = ExposureRecorder()
    with pytest.raises(ExposureError):
        rec.registration("ue", DRAGONFLY_GNB, identity="suci")
    with pytest.raises(ExposureError):
        rec.nas_security("ue", DRAGONFLY_GNB, nea=4, nia=0)
    with pytest.raises(ValueError):
        rec.registration("ue", DRAGONFLY_GNB, identity="suci", suci_scheme="profile-z")
    assert SuciScheme.from_scheme_id(0) is SuciScheme.NULL
    assert SuciScheme.from_scheme_id(2) is SuciScheme.PROFILE_B
    with pytest.raises(ExposureError):
        SuciScheme.from_scheme_id(7)


def test_ledger_round_trip_and_pseudonyms(tmp_path: Path, policy: TrustPolicy) -> None:
    ledger = ExposureLedger(tmp_path)
    rec = _recorder(policy, DRAGONFLY_GNB)
    rec.amf_config(AmfSecuritySettings(integrity_order=(0, 2)))
    supis = [f"imsi-0010100000000{i:02d}" for i in range(20)]
    for i, supi in enumerate(supis):
        rec.registration(ledger.ue_ref(supi), DRAGONFLY_GNB, identity="suci", suci_scheme="null" if i < 3 else "profile-a")
    events = rec.drain()
    assert ledger.write(events) == len(events)
    assert rec.drain() == []
    ledger.close()
    raw = (tmp_path / "exposure.jsonl").read_text()
    assert all(s not in raw for s in supis)
    # Same data dir, new process: same pseudonyms; another data dir: different ones.
    again = ExposureLedger(tmp_path)
    assert again.ue_ref(supis[0]) == ExposureLedger(tmp_path).ue_ref(supis[0])
    assert ExposureLedger(tmp_path / "other").ue_ref(supis[0]) != again.ue_ref(supis[0])
    assert (tmp_path / "exposure.key").stat().st_mode & 0o777 == 0o600
    from_file = load_summary(tmp_path / "exposure.jsonl")
    in_memory = aggregate(events)
    assert from_file.to_dict() == in_memory.to_dict()
    assert from_file.vendors["dragonfly"].total(Metric.PERMANENT_IDENTITY) == 3
    assert [f.id for f in from_file.findings()] == ["NIA0-ENABLED"]


def test_malformed_ledger_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "exposure.jsonl"
    good = {"kind": "registration", "ue": "u", "gnb": "g", "vendor": "v", "data": {"identity": "suci", "suci_scheme": "null"}}
    lines = [
        json.dumps(good),
        "garbage",
        json.dumps({"kind": "registration", "ue": "u", "gnb": "g", "vendor": "v", "data": {"identity": "suci", "suci_scheme": "rot13"}}),
        json.dumps({"kind": "teleport", "ue": "u"}),
        json.dumps({"kind": "kgnb", "ue": None, "gnb": "g"}),
        json.dumps({"kind": "amf-config", "data": {"integrity_order": "zero"}}),
        json.dumps({"kind": 5}),
    ]
    path.write_text("\n".join(lines) + "\n")
    s = load_summary(path)
    assert s.events == 1 and s.malformed == 6
    assert s.vendors["v"].total(Metric.PERMANENT_IDENTITY) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(
    st.sampled_from(["kind", "ue", "gnb", "vendor", "data"]),
    st.one_of(
        st.none(), st.integers(), st.text(max_size=8),
        st.sampled_from(["registration", "nas-security", "kgnb", "imeisv", "guti", "pdu-session", "handover", "amf-config", "gnb"]),
        st.dictionaries(st.sampled_from(["identity", "suci_scheme", "nea", "nia", "masked", "reallocated", "up_integrity",
                                         "up_ciphering", "key_refresh", "target_vendor", "integrity_order"]),
                        st.one_of(st.none(), st.booleans(), st.integers(-2, 5), st.text(max_size=6),
                                  st.lists(st.integers(-1, 5), max_size=3)), max_size=6),
    ),
), max_size=12))
def test_aggregate_never_raises(events) -> None:
    s = aggregate(events)
    assert s.events + s.malformed == len(events)
    json.dumps(s.to_dict())


# -- configuration findings ---------------------------------------------------------------------


def _ids(cfg: AmfSecuritySettings) -> list[str]:
    return [f.id for f in config_findings(cfg)]


def test_default_config_has_no_findings() -> None:
    assert _ids(AmfSecuritySettings()) == []


@pytest.mark.parametrize(
    ("cfg", "finding", "clause"),
    [
        (AmfSecuritySettings(integrity_order=(2, 0)), "NIA0-ENABLED", "TS 33.512 §4.2.2.3.2"),
        (AmfSecuritySettings(null_scheme_suci_accepted=True), "NULL-SCHEME-SUCI-ACCEPTED", "TS 33.501 §6.12.2"),
        (AmfSecuritySettings(guti_reallocation=False), "GUTI-NOT-REALLOCATED", "TS 33.512 §4.2.2.5.1"),
        (AmfSecuritySettings(ciphering_order=(0, 2)), "NEA0-PREFERRED", "TS 33.501 §6.7.1.1"),
        (AmfSecuritySettings(ciphering_order=(2, 0)), "NEA0-ENABLED", "TS 33.501 §5.5.1"),
        (AmfSecuritySettings(imeisv_to_ran="full"), "IMEISV-FULL-TO-RAN", "TS 38.413 Masked IMEISV IE"),
        (AmfSecuritySettings(up_integrity="not-needed"), "UP-INTEGRITY-NOT-NEEDED", "TS 33.501 §6.6.1"),
        (AmfSecuritySettings(up_ciphering="not-needed"), "UP-CIPHERING-NOT-NEEDED", "TS 33.501 §6.6.1"),
    ],
)
def test_each_finding(cfg: AmfSecuritySettings, finding: str, clause: str) -> None:
    findings = config_findings(cfg)
    assert [f.id for f in findings] == [finding]
    f = findings[0]
    assert clause in f.clauses and f.fix and f.observed


def test_all_four_required_findings_together() -> None:
    cfg = AmfSecuritySettings(integrity_order=(0, 1), ciphering_order=(0, 2), null_scheme_suci_accepted=True, guti_reallocation=False)
    assert set(_ids(cfg)) == {"NIA0-ENABLED", "NULL-SCHEME-SUCI-ACCEPTED", "GUTI-NOT-REALLOCATED", "NEA0-PREFERRED"}


def test_amf_security_config_validation() -> None:
    assert AmfSecuritySettings.from_mapping({"integrity_order": [2, 1]}).integrity_order == (2, 1)
    assert AmfSecuritySettings.from_mapping(AmfSecuritySettings(ciphering_order=(0,)).to_dict()).ciphering_order == (0,)
    for bad in ({"integrity_order": []}, {"integrity_order": [4]}, {"ciphering_order": "2,1"},
                {"imeisv_to_ran": "half"}, {"nia0": True}, {"guti_reallocation": "no"}, {"up_integrity": "always"}):
        with pytest.raises(ConfigError) as exc:
            AmfSecuritySettings.from_mapping(bad)
        assert "\n" not in str(exc.value)
