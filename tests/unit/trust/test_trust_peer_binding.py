"""A gNB ID range bound to the networks its vendor's gNBs connect from (``peers``): an NG Setup
claiming an ID of the range from another address is refused, whatever the vendor's standing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fivecore.errors import ConfigError
from fivecore.nf.amf.context import GnbContext
from fivecore.trust import AuditLog, TrustPolicy, read_audit_log
from fivecore.trust.decision import Action
from fivecore.trust.hooks import AmfGnbPolicy
from fivecore.trust.policy import peer_address

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "trust-policy.yaml"


def bound_policy(tmp_path: Path, peers: list[str]) -> TrustPolicy:
    doc = yaml.safe_load(EXAMPLE.read_text())
    for r in doc["trust"]["ran_vendor_rules"]["gnb_id_ranges"]:
        if r["vendor"] == "tundra":  # a trusted radio vendor
            r["peers"] = peers
    p = tmp_path / "policy.yaml"
    p.write_text(yaml.safe_dump(doc))
    return TrustPolicy.from_file(p)


def test_the_bound_range_admits_its_networks_only(tmp_path: Path) -> None:
    pol = bound_policy(tmp_path, ["10.20.0.0/16", "2001:db8:20::/48"])
    grid = ("00101", 0x42, 22)  # in ran-tundra-001
    assert pol.check_gnb(grid, None, "10.20.3.4:38412").action is Action.ALLOW
    assert pol.check_gnb(grid, None, "[2001:db8:20::9]:38412").action is Action.ALLOW
    assert pol.check_gnb(grid, None, "10.20.3.4").action is Action.ALLOW
    for peer in ("10.30.0.1:38412", "[2001:db8:99::1]:38412", None, "not-an-address"):
        d = pol.check_gnb(grid, None, peer)
        assert d.action is Action.REFUSE, peer
        assert d.ngap_cause == ("misc", "unspecified") and d.restricted_profile is None
        assert d.vendor is not None and d.vendor.key == "tundra"  # the claimed vendor, for the audit
        assert d.detail["peer_mismatch"] == ["10.20.0.0/16", "2001:db8:20::/48"]
        assert "bound to peers" in d.reason
    # ranges without peers ignore the address
    other = pol.check_gnb(("00101", 0x150, 22), None, "192.0.2.1:1")
    assert other.action is Action.ALLOW_RESTRICTED


def test_bad_peer_network_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gnb_id_ranges\[0\]\.peers\[1\]"):
        bound_policy(tmp_path, ["10.0.0.0/8", "10.0.0.300/8"])


def test_amf_hook_passes_the_sctp_peer(tmp_path: Path) -> None:
    pol = bound_policy(tmp_path, ["10.20.0.0/16"])
    log = tmp_path / "audit.jsonl"
    hook = AmfGnbPolicy(pol, AuditLog(log, fsync=False))
    good = GnbContext(1, "10.20.0.7:38412")
    good.global_ran_node_id = ("00101", 0x42, 22)
    spoof = GnbContext(2, "127.0.0.1:40000")
    spoof.global_ran_node_id = ("00101", 0x43, 22)
    assert hook(good) is None
    assert hook(spoof) == ("misc", "unspecified")
    recs = read_audit_log(log).records
    assert [r.get("decision") for r in recs] == ["allow", "refuse"]
    assert "127.0.0.1:40000" in recs[1]["reason"]


@given(st.text(max_size=60))
def test_peer_address_never_raises(text: str) -> None:
    peer_address(text)
