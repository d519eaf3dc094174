"""Trust policy: loading, bad policy files, and the decisions of the shipped example."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrate_asn1dir import NGAP

from fivecore.errors import ConfigError
from fivecore.trust import Action, TrustPolicy, Zone
from fivecore.trust.decision import CAUSE_UNKNOWN_VENDOR, CAUSE_VENDOR_NOT_ALLOWED
from fivecore.trust.policy import gnb_subject, parse_plmn, parse_trust_config, parse_trust_yaml

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "trust-policy.yaml"
SHARED = REPO / ".." / "shared"

NF_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


@pytest.fixture(scope="module")
def example_data() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


# -- the shipped example ---------------------------------------------------------------------


def test_example_high_risk_nf_refused_for_core(policy: TrustPolicy) -> None:
    d = policy.check_nf(NF_ID, "AMF", "900003")
    assert d.action is Action.REFUSE
    assert d.zone is Zone.CORE
    assert d.vendor is not None and d.vendor.key == "dragonfly" and d.vendor.risk_class == "high-risk"
    assert d.rule_id == "zones.core.risk_classes.high-risk"
    assert not d.admitted
    assert d.http_status == 403
    assert d.nf_status is None
    pd = d.problem_details()
    assert pd is not None and pd["status"] == 403 and pd["cause"] == CAUSE_VENDOR_NOT_ALLOWED
    assert "Dragonfly Radio" in pd["detail"] and "core" in pd["detail"]
    # NGAP fields belong to gNB decisions only.
    assert d.ngap_cause is None and d.ngap_time_to_wait is None


def test_example_trusted_nf_admitted(policy: TrustPolicy) -> None:
    d = policy.check_nf(NF_ID, "SMF", "900001")
    assert d.action is Action.ALLOW and d.admitted
    assert d.http_status == 201 and d.nf_status == "REGISTERED"
    assert d.problem_details() is None
    assert d.rule_id == "zones.core.risk_classes.trusted"


def test_example_prohibited_nf_refused(policy: TrustPolicy) -> None:
    d = policy.check_nf(NF_ID, "UPF", "900005")
    assert d.action is Action.REFUSE
    assert d.rule_id == "zones.core.risk_classes (no entry for prohibited)"


@pytest.mark.parametrize("vendor_id", [None, "123456", "12345", "abcdef", "9000031", ""])
def test_example_unknown_or_malformed_vendor_refused_for_core(policy: TrustPolicy, vendor_id) -> None:
    d = policy.check_nf(NF_ID, "AUSF", vendor_id)
    assert d.action is Action.REFUSE
    assert d.vendor is None
    assert d.rule_id == "zones.core.unknown_vendor"
    assert d.problem_cause == CAUSE_UNKNOWN_VENDOR


def test_example_high_risk_gnb_accepted_for_ran_restricted(policy: TrustPolicy) -> None:
    d = policy.check_gnb(("00101", 0x150, 22), "site-17")
    assert d.action is Action.ALLOW_RESTRICTED and d.admitted
    assert d.zone is Zone.RAN
    assert d.vendor is not None and d.vendor.key == "dragonfly"
    assert d.rule_id == "zones.ran.risk_classes.high-risk"
    assert d.detail["resolved_by"] == "ran-dragonfly-001"
    prof = d.restricted_profile
    assert prof is not None and prof.name == "untrusted-ran"
    assert prof.forbid_nea0 and prof.require_up_integrity and prof.mask_imeisv
    assert d.ngap_cause is None and d.ngap_time_to_wait is None
    assert d.subject == "gnb:00101:0x150/22"


def test_example_trusted_gnb_allowed(policy: TrustPolicy) -> None:
    d = policy.check_gnb(("001/01", 0x01, 22), None)
    assert d.action is Action.ALLOW and d.restricted_profile is None
    assert d.vendor is not None and d.vendor.key == "tundra"


def test_example_gnb_of_vendor_allowed_nowhere_refused(policy: TrustPolicy) -> None:
    d = policy.check_gnb(("00101", 0x2AB, 22), None)
    assert d.action is Action.REFUSE and not d.admitted
    assert d.vendor is not None and d.vendor.key == "shadowline"
    assert d.ngap_cause == ("misc", "unspecified")
    assert d.ngap_time_to_wait is None
    assert d.problem_details() is None
    # Shadowline may serve no zone at all.
    for zone in Zone:
        assert policy.action_for(zone, d.vendor)[0] is Action.REFUSE


def test_gnb_id_length_is_part_of_the_match(policy: TrustPolicy) -> None:
    # Same integer, 24-bit gNB ID: another gNB, outside every range -> quarantine.
    d = policy.check_gnb(("00101", 0x150, 24), None)
    assert d.action is Action.QUARANTINE and d.vendor is None
    assert d.ngap_cause == ("misc", "om-intervention") and d.ngap_time_to_wait == "v60s"


def test_unknown_gnb_quarantined(policy: TrustPolicy) -> None:
    d = policy.check_gnb(("00101", 0x3000, 22), "some-gnb")
    assert d.action is Action.QUARANTINE
    assert d.rule_id == "zones.ran.unknown_vendor"


def test_name_hint_only_tightens(policy: TrustPolicy) -> None:
    # ID says trusted Tundra, name claims prohibited Shadowline: the stricter wins.
    d = policy.check_gnb(("00101", 0x20, 22), "SHDW-roof-3")
    assert d.action is Action.REFUSE and d.vendor is not None and d.vendor.key == "shadowline"
    # ID says prohibited Shadowline, name claims high-risk Dragonfly: still refused.
    d = policy.check_gnb(("00101", 0x250, 22), "DRGF-1")
    assert d.action is Action.REFUSE and d.vendor is not None and d.vendor.key == "shadowline"
    assert d.detail["name_hint"]["rule"] == "name-dragonfly"
    # Unknown ID, name of a prohibited vendor: refused rather than quarantined.
    d = policy.check_gnb(("00101", 0x3000, 22), "SHDW-x")
    assert d.action is Action.REFUSE
    # Unknown ID, name of an admitted vendor: the unknown default (quarantine) stands.
    d = policy.check_gnb(("00101", 0x3000, 22), "DRGF-x")
    assert d.action is Action.QUARANTINE and d.vendor is None


def test_nf_type_zone_mapping() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["trust"]["nf_type_zones"] = {"NWDAF": "management"}
    p = TrustPolicy.from_mapping(data)
    assert p.check_nf(NF_ID, "NWDAF", "900001").zone is Zone.MANAGEMENT
    assert p.check_nf(NF_ID, "NWDAF", "900003").rule_id == "zones.management.risk_classes (no entry for high-risk)"


def test_decision_audit_form_is_json(policy: TrustPolicy) -> None:
    for d in (policy.check_nf(NF_ID, "AMF", "900003"), policy.check_gnb(("00101", 0x150, 22), "DRGF-1")):
        rec = json.loads(json.dumps(d.to_dict()))
        assert rec["decision"] == d.action.value and rec["rule"] == d.rule_id and rec["reason"] == d.reason


# -- independent checks of the wire answers -----------------------------------------------------


def _problem_details_schema() -> dict:
    spec = yaml.safe_load((SHARED / "3gpp-openapi" / "TS29571_CommonData.yaml").read_text())
    schemas = spec["components"]["schemas"]
    # Resolve the local refs ProblemDetails uses, enough for jsonschema to check it.
    return {"$ref": "#/components/schemas/ProblemDetails", "components": {"schemas": schemas}}


def test_problem_details_validates_against_ts29571(policy: TrustPolicy) -> None:
    schema = _problem_details_schema()
    for vendor_id in ("900003", "900005", None):
        body = policy.check_nf(NF_ID, "AMF", vendor_id).problem_details()
        assert body is not None
        jsonschema.validate(body, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"status": "403"}, schema)


def test_ngap_cause_encodes_in_ng_setup_failure(policy: TrustPolicy) -> None:
    """The cause and Time to Wait are legal TS 38.413 values: pycrate's NGAP ASN.1 accepts them."""
    for d in (policy.check_gnb(("00101", 0x250, 22), None), policy.check_gnb(("00101", 0x3000, 22), None)):
        ies = [{"id": 15, "criticality": "ignore", "value": ("Cause", d.ngap_cause)}]
        if d.ngap_time_to_wait:
            ies.append({"id": 107, "criticality": "ignore", "value": ("TimeToWait", d.ngap_time_to_wait)})
        pdu = NGAP.NGAP_PDU_Descriptions.NGAP_PDU
        pdu.set_val(("unsuccessfulOutcome", {"procedureCode": 21, "criticality": "reject",
                                             "value": ("NGSetupFailure", {"protocolIEs": ies})}))
        wire = pdu.to_aper()
        pdu.from_aper(wire)
        got = pdu.get_val()[1]["value"][1]["protocolIEs"]
        assert got[0]["value"] == ("Cause", d.ngap_cause)


# -- bad policy files --------------------------------------------------------------------------


def _mutate(data: dict, fn) -> dict:
    d = copy.deepcopy(data)
    fn(d["trust"])
    return d


BAD_CASES = [
    ("unknown zone", lambda t: t["zones"].__setitem__("rna", {"risk_classes": {"trusted": "allow"}}),
     "trust.zones.rna: unknown zone 'rna'"),
    ("unknown vendor in range", lambda t: t["ran_vendor_rules"]["gnb_id_ranges"][0].__setitem__("vendor", "acme"),
     "trust.ran_vendor_rules.gnb_id_ranges[0].vendor: unknown vendor 'acme'"),
    ("unknown vendor in hint", lambda t: t["ran_vendor_rules"]["name_hints"][1].__setitem__("vendor", "acme"),
     "trust.ran_vendor_rules.name_hints[1].vendor: unknown vendor 'acme'"),
    ("unknown vendor override", lambda t: t["zones"]["core"].__setitem__("vendors", {"acme": "allow"}),
     "trust.zones.core.vendors.acme: unknown vendor 'acme'"),
    ("unknown risk class of vendor", lambda t: t["vendors"]["aurora"].__setitem__("risk", "trustworthy"),
     "trust.vendors.aurora.risk: unknown risk class 'trustworthy'"),
    ("unknown risk class in zone", lambda t: t["zones"]["ran"]["risk_classes"].__setitem__("medium", "allow"),
     "trust.zones.ran.risk_classes.medium: unknown risk class 'medium'"),
    ("unknown risk class in cap", lambda t: t["zones"]["ran"]["diversity"]["max_share_by_risk_class"].__setitem__("hr", 0.3),
     "trust.zones.ran.diversity.max_share_by_risk_class.hr: unknown risk class 'hr'"),
    ("bad action", lambda t: t["zones"]["core"].__setitem__("unknown_vendor", "maybe"),
     "trust.zones.core.unknown_vendor: Input should be"),
    ("typo key", lambda t: t["zones"]["core"].__setitem__("unknwon_vendor", "refuse"),
     "trust.zones.core.unknwon_vendor: unknown key"),
    ("duplicate PEN", lambda t: t["vendors"]["borealis"].__setitem__("pen", 900001),
     "trust.vendors.borealis.pen: PEN 900001 already used by vendor 'aurora'"),
    ("PEN too long", lambda t: t["vendors"]["borealis"].__setitem__("pen", 1_000_000),
     "trust.vendors.borealis.pen:"),
    ("overlap", lambda t: t["ran_vendor_rules"]["gnb_id_ranges"][1].__setitem__("first", 0x80),
     "trust.ran_vendor_rules.gnb_id_ranges[1]: range overlaps"),
    ("range too wide", lambda t: t["ran_vendor_rules"]["gnb_id_ranges"][2].__setitem__("last", 1 << 22),
     "trust.ran_vendor_rules.gnb_id_ranges[2].last:"),
    ("bad plmn", lambda t: t["ran_vendor_rules"]["gnb_id_ranges"][0].__setitem__("plmn", "1"),
     "trust.ran_vendor_rules.gnb_id_ranges[0].plmn: not a PLMN"),
    ("bad bits", lambda t: t["ran_vendor_rules"]["gnb_id_ranges"][0].__setitem__("gnb_id_bits", 21),
     "trust.ran_vendor_rules.gnb_id_ranges[0].gnb_id_bits:"),
    ("bad regex", lambda t: t["ran_vendor_rules"]["name_hints"][0].__setitem__("pattern", "(["),
     "trust.ran_vendor_rules.name_hints[0].pattern: bad regular expression"),
    ("restricted in core", lambda t: t["zones"]["core"]["risk_classes"].__setitem__("high-risk", "allow-restricted"),
     "trust.zones.core: allow-restricted applies only to the ran zone"),
    ("missing profile", lambda t: t["zones"]["ran"].pop("restricted_profile"),
     "trust.zones.ran.restricted_profile: required"),
    ("unknown profile", lambda t: t["zones"]["ran"].__setitem__("restricted_profile", "nope"),
     "trust.zones.ran.restricted_profile: unknown restricted profile 'nope'"),
    ("unknown zone for nf type", lambda t: t.__setitem__("nf_type_zones", {"NWDAF": "mgmt"}),
     "trust.nf_type_zones.NWDAF: unknown zone 'mgmt'"),
    ("cap above one", lambda t: t["zones"]["ran"]["diversity"]["max_share_by_risk_class"].__setitem__("high-risk", 35),
     "trust.zones.ran.diversity.max_share_by_risk_class.high-risk: share 35"),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_policy_file_fails_with_one_line(tmp_path: Path, example_data: dict, name, mutate, expected) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(_mutate(example_data, mutate)))
    with pytest.raises(ConfigError) as exc:
        TrustPolicy.from_file(path)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: "), msg
    assert expected in msg, msg


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("trust:\n  vendors:\n    a: [\n")
    with pytest.raises(ConfigError) as exc:
        TrustPolicy.from_file(path)
    assert "\n" not in str(exc.value) and " line " in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read trust policy"):
        TrustPolicy.from_file(tmp_path / "absent.yaml")


def test_standalone_section_without_trust_key(example_data: dict) -> None:
    p = TrustPolicy.from_mapping(example_data["trust"])
    assert p.check_nf(NF_ID, "AMF", "900003").action is Action.REFUSE


def test_plmn_forms() -> None:
    assert parse_plmn("00101") == parse_plmn("001/01") == parse_plmn("001-01") == "00101"
    assert parse_plmn("310410") == "310410"
    assert parse_plmn("0010") is None and parse_plmn("abc01") is None
    assert gnb_subject("001/01", 0x150, 22) == "gnb:00101:0x150/22"


# -- hostile input never escapes as anything but a decision -------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    plmn=st.one_of(st.text(max_size=12), st.from_regex(r"\A[0-9]{5,6}\Z")),
    gnb_id=st.integers(min_value=-(1 << 40), max_value=1 << 40),
    bits=st.integers(min_value=-4, max_value=64),
    name=st.one_of(st.none(), st.text(max_size=400)),
)
def test_check_gnb_total(policy: TrustPolicy, plmn, gnb_id, bits, name) -> None:
    d = policy.check_gnb((plmn, gnb_id, bits), name)
    assert d.action in set(Action)
    assert len(d.subject) < 200
    json.dumps(d.to_dict())


@settings(max_examples=200, deadline=None)
@given(nf_id=st.text(max_size=300), nf_type=st.text(max_size=40), vendor_id=st.one_of(st.none(), st.text(max_size=20)))
def test_check_nf_total(policy: TrustPolicy, nf_id, nf_type, vendor_id) -> None:
    d = policy.check_nf(nf_id, nf_type, vendor_id)
    assert d.action in set(Action)
    json.dumps(d.to_dict())


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=12), c, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(_json, st.dictionaries(st.sampled_from(["vendors", "zones", "risk_classes", "ran_vendor_rules"]), _json)))
def test_parse_raises_only_config_error(data) -> None:
    try:
        parse_trust_config(data)
    except ConfigError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(
    st.text(max_size=300),
    st.builds(lambda body: "trust:\n" + body, st.text(alphabet=st.sampled_from(list(" \n:-[]{}'\"#&*!|>abz019.")), max_size=200)),
))
def test_policy_yaml_text_raises_only_one_line_config_error(text) -> None:
    try:
        parse_trust_yaml(text, source="fuzz.yaml")
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.yaml")


def test_example_yaml_text_mutations_stay_one_line(example_data: dict) -> None:
    text = EXAMPLE.read_text()
    for i in range(0, len(text), 97):
        mutated = text[:i] + "\x00:[" + text[i + 3:]
        try:
            parse_trust_yaml(mutated, source="m.yaml")
        except ConfigError as exc:
            assert "\n" not in str(exc)
