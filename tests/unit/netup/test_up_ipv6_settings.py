"""What ``fivecore up`` hands its UPF for the Router Advertisements (the SMF DNNs' IPv6 DNS
servers and MTU), and how ``fivecore demo`` turns IPv6 on. No I/O."""

from __future__ import annotations

import pytest

from fivecore.config import load_config
from fivecore.netup import demo as demo_mod
from fivecore.netup.dn import DataNetwork, DnError
from fivecore.netup.network import dump_config, upf_nrf_settings, upf_ra_settings
from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.ndp import RaOptions


def test_up_hands_the_smf_dnns_ipv6_dns_and_mtu_to_the_upf() -> None:
    cfg = load_config({"smf": {"dnns": [
        {"dnn": "internet", "ipv4_pool": "10.45.0.0/16", "ipv6_prefix_pool": "2001:db8:cafe::/48",
         "dns": ["8.8.8.8", "2001:4860:4860::8888", "2001:4860:4860:0:0:0:0:8844"], "mtu": 1400},
        {"dnn": "v4only", "ipv4_pool": "10.46.0.0/16", "dns": ["2001:db8::53"]},
        {"dnn": "small", "ipv4_pool": "10.47.0.0/16", "ipv6_prefix_pool": "fd00:47::/48", "dns": ["1.1.1.1"],
         "mtu": 1000},
    ]}})
    upd = upf_ra_settings(cfg)
    assert [(e.dnn, e.mtu, e.dns) for e in upd["ipv6_ra"]] == [
        ("internet", 1400, ["2001:4860:4860::8888", "2001:4860:4860::8844"]),
        # an IPv6 link MTU is never below 1280 (RFC 8200 §5), whatever the IPv4 one
        ("small", 1280, []),
    ]
    # the same comes with what every caller hands the UPF it starts
    assert upf_nrf_settings(cfg, runs_nrf=True)["ipv6_ra"] == upd["ipv6_ra"]
    # the file the UPF process reads gives the datapath that policy
    doc = dump_config(cfg.model_copy(update={"upf": cfg.upf.model_copy(update=upd)}))
    policy = load_upf_config(data=doc).ra_policy()
    assert policy.per_dnn["internet"].mtu == 1400 and len(policy.per_dnn["internet"].dns) == 2
    assert policy.per_dnn["small"] == RaOptions(1280, ())


def test_what_the_file_sets_wins_and_ipv4_only_adds_nothing() -> None:
    cfg = load_config({"upf": {"ipv6_ra": []},
                       "smf": {"dnns": [{"dnn": "internet", "ipv6_prefix_pool": "fd00:45::/48"}]}})
    assert upf_ra_settings(cfg) == {}
    assert upf_ra_settings(load_config({})) == {}
    assert "ipv6_ra" not in upf_nrf_settings(load_config({}), runs_nrf=True)


def test_demo_gives_its_dnn_a_prefix_pool_and_an_ipv6_dns_server() -> None:
    d = demo_mod.Demo(None, 1, ipv6=True)
    assert d.ipv6 and "ping6" in d.steps and d.ipv6_note is None
    (dnn,) = d._dnns_with_ipv6()
    assert dnn["ipv6_prefix_pool"] == "2001:db8:cafe::/48"
    assert dnn["dns"] == ["8.8.8.8", demo_mod.DEMO_DNS6]
    cfg = load_config({"smf": {"dnns": d._dnns_with_ipv6()}})
    assert upf_ra_settings(cfg)["ipv6_ra"][0].dns == [demo_mod.DEMO_DNS6]


def test_demo_keeps_a_dnn_that_has_its_own_pool(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("smf:\n  dnns:\n    - {dnn: internet, ipv6_prefix_pool: 'fd00:99::/48', dns: ['9.9.9.9']}\n")
    d = demo_mod.Demo(path, 1, ipv6=True)
    (dnn,) = d._dnns_with_ipv6()
    assert dnn["ipv6_prefix_pool"] == "fd00:99::/48" and dnn["dns"] == ["9.9.9.9"]


def test_demo_without_ipv6_has_no_ping6_step() -> None:
    d = demo_mod.Demo(None, 1, ipv6=False)
    assert not d.ipv6 and "ping6" not in d.steps and "false" in (d.ipv6_note or "")


def test_demo_ipv6_default_follows_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    from fivecore.netup import dn

    monkeypatch.setattr(dn, "ipv6_forwarding_supported", lambda: False)
    on, note = demo_mod._want_ipv6(None)
    assert not on and note is not None and "force_forwarding" in note
    # asked for explicitly, it stays on: the data-network step then says why it cannot work
    assert demo_mod._want_ipv6(True) == (True, None)
    monkeypatch.setattr(dn, "ipv6_forwarding_supported", lambda: True)
    assert demo_mod._want_ipv6(None) == (True, None)


def test_dn_ipv6_addresses() -> None:
    net = DataNetwork("10.46.0.2", "10.45.0.0/16", ipv6_address="fd00:46:0:0::2",
                      ue_pools6=["2001:db8:cafe::/48"], n6_device="ogstun")
    assert (net.address6, net.gateway6, net.ue_pools6) == ("fd00:46::2", "fd00:46::1", ["2001:db8:cafe::/48"])
    assert DataNetwork("10.46.0.2", "10.45.0.0/16", ipv6_address="fd00:46::1", ue_pools6=["fd00::/48"],
                       n6_device="x").gateway6 == "fd00:46::2"
    assert DataNetwork("10.46.0.2", "10.45.0.0/16").address6 is None
    with pytest.raises(DnError):
        DataNetwork("10.46.0.2", "10.45.0.0/16", ipv6_address="fd00:46::2")


def test_dn_refuses_ipv6_without_per_device_forwarding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never host-wide forwarding instead: the refusal comes before anything is created."""
    from fivecore.netup import dn

    monkeypatch.setattr(dn, "ipv6_forwarding_supported", lambda: False)
    net = DataNetwork("10.46.0.2", "10.45.0.0/16", "fc-unit-none", ipv6_address="fd00:46::2",
                      ue_pools6=["2001:db8:cafe::/48"], n6_device="ogstun")
    with pytest.raises(DnError, match="force_forwarding"):
        net.create()
    assert not net._created and net._forward_before is None
