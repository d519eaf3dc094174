"""The split benchmark network hands its UPF what ``fivecore up`` hands its own
(``fivecore.netup.network.upf_nrf_settings``): this network's NRF URI and the SMF's slices."""

from __future__ import annotations

from pathlib import Path

from fivecore.benchkit.network import NetPlan, SplitNetwork
from fivecore.config import load_config
from fivecore.nf.upf.config import load_upf_config


def test_split_upf_registers_with_the_networks_nrf(tmp_path: Path) -> None:
    net = SplitNetwork(NetPlan.slot(6), workdir=tmp_path)
    cfg = net.split_config()
    eff = load_config(cfg)
    assert eff.upf.nrf_uri == eff.nrf.sbi.uri == "http://127.100.0.10:7777"
    # the file the UPF process reads is what it uses
    upf = load_upf_config(data=cfg)
    assert upf.nrf_uri == "http://127.100.0.10:7777"
    assert [(s.sst, s.dnns) for s in upf.slices] == [(sl.sst, [d.dnn]) for d in eff.smf.dnns for sl in d.slices]
    assert cfg["upf"]["tun_name"] == "fcbench6" and cfg["upf"]["pfcp_address"] == "127.100.0.7"


def test_split_keeps_an_nrf_uri_the_plan_sets(tmp_path: Path) -> None:
    plan = NetPlan.slot(6, extra={"upf": {"nrf_uri": None}})
    cfg = SplitNetwork(plan, workdir=tmp_path).split_config()
    assert load_upf_config(data=cfg).nrf_uri is None


def test_split_config_is_yaml_with_an_ipv6_dnn(tmp_path: Path) -> None:
    """A DNN with an IPv6 pool gives the UPF per-DNN Router Advertisement options: the file the
    split network writes must hold them as plain YAML, not as config objects."""
    import yaml

    plan = NetPlan.slot(6, extra={"smf": {"dnns": [{"dnn": "internet", "ipv4_pool": "10.46.0.0/16",
                                                   "ipv6_prefix_pool": "fd00:46::/48", "mtu": 1400,
                                                   "dns": ["8.8.8.8", "2001:4860:4860::8888"]}]}})
    cfg = SplitNetwork(plan, workdir=tmp_path).split_config()
    again = yaml.safe_load(yaml.safe_dump(cfg))
    ra = load_upf_config(data=again).ipv6_ra
    assert [(e.dnn, e.mtu, list(e.dns)) for e in ra] == [("internet", 1400, ["2001:4860:4860::8888"])]
