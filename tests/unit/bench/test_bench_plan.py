"""The benchmark network's configuration is one the real config schema accepts."""

from __future__ import annotations

from pathlib import Path

from fivecore.benchkit.network import NetPlan, pool_for
from fivecore.config import load_config


def test_pool_grows_with_ues() -> None:
    assert pool_for(10) == "10.88.0.0/16"
    assert pool_for(65_000) == "10.88.0.0/16"
    assert pool_for(100_000) == "10.88.0.0/15"
    assert pool_for(300_000) == "10.88.0.0/13"


def test_plan_config_validates(tmp_path: Path) -> None:
    plan = NetPlan(prefix="127.99.0", tun="fcbenchT", pool="10.98.0.0/15", log_level="error")
    cfg = load_config(plan.config(tmp_path / "data", "ab" * 32))
    assert cfg.amf.ngap.address == "127.99.0.5" and cfg.nrf.sbi.address == "127.99.0.10"
    assert cfg.upf.tun_name == "fcbenchT" and cfg.upf.subnet == "10.98.0.0/15"
    assert cfg.smf.dnns[0].ipv4_pool == "10.98.0.0/15"
    assert cfg.smf.upfs[0].address == cfg.upf.pfcp_address == "127.99.0.7"
    assert all(cfg.section(n).nrf_uri == "http://127.99.0.10:7777" for n in ("amf", "smf", "udm", "ausf", "udr"))
    assert cfg.home_network_keys[0].scheme == "A" and cfg.up.data_dir == tmp_path / "data"


def test_slots_do_not_overlap() -> None:
    import ipaddress

    plans = [NetPlan.slot(i) for i in range(8)]
    assert len({p.prefix for p in plans}) == 8 and len({p.tun for p in plans}) == 8
    nets = [ipaddress.ip_network(p.pool) for p in plans]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    big = [ipaddress.ip_network(NetPlan.slot(i, 100_000).pool) for i in range(8)]
    assert all(n.num_addresses >= 100_000 for n in big)
    assert not any(a.overlaps(b) for i, a in enumerate(big + nets) for b in (big + nets)[i + 1:])
