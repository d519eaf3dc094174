"""The trust policy's Xn handover rule (``handover.refuse``): parsing, its one-line errors,
the decision (:meth:`TrustPolicy.handover_refusal`) and what ``fivecore trust`` shows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fivecore.cli.main import app as cli_app
from fivecore.errors import ConfigError
from fivecore.trust import TrustPolicy
from fivecore.trust.report import handover_events

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "trust-policy.yaml"


def _example_with_rules() -> dict[str, Any]:
    """The example policy with its commented-out ``handover:`` block switched on, so the rules
    the file shows operators are checked to parse and to mean what their comments say."""
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("  # handover:")
    block = []
    for line in lines[start:]:
        if not line.startswith("  #   ") and line != "  # handover:":
            break
        block.append("  " + line[4:])
    data = yaml.safe_load("\n".join(lines))
    data["trust"].update(yaml.safe_load("\n".join(x[2:] for x in block)))
    return data


@pytest.fixture(scope="module")
def ruled() -> TrustPolicy:
    return TrustPolicy.from_mapping(_example_with_rules())


def test_default_allows_every_handover(policy: TrustPolicy) -> None:
    for a in [*policy.vendors, None]:
        for b in [*policy.vendors, None]:
            assert policy.handover_refusal(a, b) is None
    assert policy.handover_rules() == []


def test_example_rules(ruled: TrustPolicy) -> None:
    # a high-risk vendor's gNB may not take UEs over from a trusted vendor's gNB
    assert ruled.handover_refusal("tundra", "dragonfly") == "handover.refuse[0] (no-high-risk-takeover)"
    assert ruled.handover_refusal("aurora", "dragonfly") == "handover.refuse[0] (no-high-risk-takeover)"
    # vendor X into vendor Y, one direction only
    assert ruled.handover_refusal("dragonfly", "tundra") == "handover.refuse[1] (no-dragonfly-to-tundra)"
    assert ruled.handover_refusal("dragonfly", "borealis") is None
    # within a vendor, between trusted vendors, and gNBs of unresolved vendors: not named
    for a, b in (("tundra", "tundra"), ("dragonfly", "dragonfly"), ("tundra", "borealis"), (None, "dragonfly"),
                 ("tundra", None), (None, None), ("no-such-key", "dragonfly")):
        assert ruled.handover_refusal(a, b) is None, (a, b)


def test_unknown_vendor_side() -> None:
    data = _example_with_rules()
    data["trust"]["handover"] = {"refuse": [
        {"id": "no-unknown-takeover", "source": {"risk_classes": ["trusted"]}, "target": {"unknown_vendor": True}}]}
    p = TrustPolicy.from_mapping(data)
    assert p.handover_refusal("tundra", None) == "handover.refuse[0] (no-unknown-takeover)"
    assert p.handover_refusal("tundra", "dragonfly") is None and p.handover_refusal(None, None) is None


def _error(refuse: Any) -> str:
    data = _example_with_rules()
    data["trust"]["handover"] = {"refuse": refuse} if refuse is not ... else {"refuse": [], "allow": []}
    with pytest.raises(ConfigError) as exc:
        TrustPolicy.from_mapping(data)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


RULE = {"id": "r", "source": {"vendors": ["tundra"]}, "target": {"vendors": ["dragonfly"]}}


@pytest.mark.parametrize("refuse, expected", [
    ([{**RULE, "source": {"vendors": ["nokla"]}}],
     "trust.handover.refuse[0].source.vendors[0]: unknown vendor 'nokla' (declared: aurora, borealis, dragonfly, shadowline, tundra)"),
    ([{**RULE, "target": {"risk_classes": ["medium"]}}],
     "trust.handover.refuse[0].target.risk_classes[0]: unknown risk class 'medium' (declared: high-risk, prohibited, trusted)"),
    ([{**RULE, "target": {}}],
     "trust.handover.refuse[0].target: names no gNB (list vendors, risk_classes or set unknown_vendor)"),
    ([RULE, RULE], "trust.handover.refuse[1].id: duplicate rule id 'r'"),
    ([{**RULE, "sorce": {"vendors": ["tundra"]}}], "trust.handover.refuse[0].sorce: unknown key"),
    ([{"id": "r", "target": {"vendors": ["tundra"]}}], "trust.handover.refuse[0].source: required key missing"),
    ([{**RULE, "source": {"vendor": ["tundra"]}}], "trust.handover.refuse[0].source.vendor: unknown key"),
    ("tundra", "trust.handover.refuse: "),
    (..., "trust.handover.allow: unknown key"),
])
def test_bad_rules_fail_with_one_line_naming_the_key(refuse: Any, expected: str) -> None:
    assert _error(refuse).startswith(expected)


def test_bad_rule_in_a_file_names_the_file(tmp_path: Path) -> None:
    data = _example_with_rules()
    data["trust"]["handover"]["refuse"][1]["target"]["vendors"] = ["tundar"]
    f = tmp_path / "policy.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=re.escape(
            f"{f}: trust.handover.refuse[1].target.vendors[0]: unknown vendor 'tundar'")):
        TrustPolicy.from_file(f)


def test_trust_check_shows_the_rules(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(yaml.safe_dump(_example_with_rules()))
    runner = CliRunner()
    res = runner.invoke(cli_app, ["trust", "check", str(f), "--json"])
    assert res.exit_code == 0, res.output
    rules = json.loads(res.output)["handover_refuse"]
    assert [r["id"] for r in rules] == ["no-high-risk-takeover", "no-dragonfly-to-tundra"]
    assert rules[1]["source"] == {"vendors": ["dragonfly"], "risk_classes": [], "unknown_vendor": False}
    res = runner.invoke(cli_app, ["trust", "check", str(f)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "no-high-risk-takeover" in res.output and "risk class high-risk" in res.output
    res = runner.invoke(cli_app, ["trust", "check", str(EXAMPLE)], env={"COLUMNS": "200"})
    assert "allowed between any admitted gNBs" in res.output


def test_trust_report_counts_handover_events(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    recs = [{"event": "path-switch-refused", "vendor": "dragonfly", "source_vendor": "tundra", "subject": "gnb:1"},
            {"event": "path-switch-refused", "vendor": "dragonfly", "source_vendor": "tundra", "subject": "gnb:1"},
            {"event": "path-switch-suspected-hijack", "vendor": "dragonfly", "source_vendor": "tundra"},
            {"event": "ng-setup", "vendor": "tundra"}]
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert handover_events(recs) == [
        {"event": "path-switch-refused", "vendor": "dragonfly", "source_vendor": "tundra", "count": 2},
        {"event": "path-switch-suspected-hijack", "vendor": "dragonfly", "source_vendor": "tundra", "count": 1}]
    runner = CliRunner()
    res = runner.invoke(cli_app, ["trust", "report", "--policy", str(EXAMPLE), "--audit-log", str(log), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["handover_events"][1]["event"] == "path-switch-suspected-hijack"
    res = runner.invoke(cli_app, ["trust", "report", "--policy", str(EXAMPLE), "--audit-log", str(log)],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "path-switch-suspected-hijack" in res.output


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                     max_leaves=8)
_side = st.fixed_dictionaries({}, optional={"vendors": _json | st.lists(st.sampled_from(["tundra", "x"])),
                                            "risk_classes": _json | st.lists(st.sampled_from(["trusted", "y"])),
                                            "unknown_vendor": _json})


@settings(max_examples=150, deadline=None)
@given(refuse=_json | st.lists(st.fixed_dictionaries({"id": _json | st.text(max_size=4)},
                                                     optional={"source": _side | _json, "target": _side,
                                                               "extra": _json}), max_size=3))
def test_fuzzed_handover_sections_raise_only_config_error(refuse: Any) -> None:
    data = _example_with_rules()
    data["trust"]["handover"] = {"refuse": refuse}
    try:
        p = TrustPolicy.from_mapping(data)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    for a, b in (("tundra", "dragonfly"), (None, None), ("dragonfly", "tundra")):
        assert p.handover_refusal(a, b) is None or p.handover_refusal(a, b).startswith("handover.refuse[")
