"""How ``up.amf_set_size`` lays out the members of an AMF Set (fivecore.netup.amf_set)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from fivecore.config import load_config
from fivecore.errors import ConfigError
from fivecore.netup import amf_set
from fivecore.netup.network import dump_config, endpoints


def test_member_addresses_move_by_ten_in_the_third_octet() -> None:
    assert amf_set.member_address("127.0.0.5", 1) == "127.0.10.5"
    assert amf_set.member_address("127.88.0.4", 3) == "127.88.30.4"
    with pytest.raises(ConfigError, match="loopback"):
        amf_set.member_address("10.0.0.5", 1)
    with pytest.raises(ConfigError, match="no room"):
        amf_set.member_address("127.0.250.5", 1)


def test_pool_shares_are_disjoint_and_cover_the_pool_in_order() -> None:
    shares = amf_set.pool_shares("10.45.0.0/16", 3)
    assert shares == ["10.45.0.0/18", "10.45.64.0/18", "10.45.128.0/18"]
    assert amf_set.pool_shares("10.45.0.0/16", 2) == ["10.45.0.0/17", "10.45.128.0/17"]
    with pytest.raises(ConfigError, match="too small"):
        amf_set.pool_shares("10.45.0.0/29", 4)


def test_check_refuses_what_cannot_be_laid_out() -> None:
    amf_set.check(load_config({"up": {"amf_set_size": 4}}))
    with pytest.raises(ConfigError, match="AMF Pointer"):
        amf_set.check(load_config({"up": {"amf_set_size": 2}, "amf": {"guami": {"pointer": 63}}}))
    with pytest.raises(ConfigError, match="loopback"):
        amf_set.check(load_config({"up": {"amf_set_size": 2}, "amf": {"sbi": {"address": "192.0.2.5"}}}))
    amf_set.check(load_config({"amf": {"sbi": {"address": "192.0.2.5"}}}))  # one member: anything goes


def test_member_config_is_a_complete_member_of_the_same_set(tmp_path: Path) -> None:
    cfg = load_config({"up": {"amf_set_size": 2}, "amf": {"guami": {"pointer": 4}, "nf_instance_id":
                                                          "8e0ff7b4-1d53-4f53-9d8c-5b5b5e7c1a11"}})
    pools = [amf_set.pool_shares(d.ipv4_pool, 2) for d in cfg.smf.dnns]
    first = amf_set.first_member(cfg, pools)
    assert first.smf.dnns[0].ipv4_pool == "10.45.0.0/17"
    doc = amf_set.member_config(dump_config(first), pools, 1, "http://127.0.0.10:7777", tmp_path / "m1")
    member = load_config(doc)  # a valid configuration as it stands
    assert member.amf.guami.pointer == 5
    assert (member.amf.guami.region_id, member.amf.guami.set_id) == (cfg.amf.guami.region_id, cfg.amf.guami.set_id)
    # NF instances of its own (not copies of up's), fixed in its configuration so that a
    # restarted member replaces its NRF registrations instead of adding new ones
    ids = [member.section(n).nf_instance_id for n in amf_set.MEMBER_NFS]
    assert all(ids) and len(set(ids)) == len(ids) and cfg.amf.nf_instance_id not in ids
    other = load_config(amf_set.member_config(dump_config(first), pools, 1, "http://127.0.0.10:7777", tmp_path))
    assert not set(ids) & {other.section(n).nf_instance_id for n in amf_set.MEMBER_NFS}
    # ...and the same ones when `up` starts again on the same data (the UDM's registrations of
    # the UEs the member's AMF kept on disk name that AMF)
    again = load_config(amf_set.member_config(dump_config(first), pools, 1, "http://127.0.0.10:7777", tmp_path / "m1"))
    assert [again.section(n).nf_instance_id for n in amf_set.MEMBER_NFS] == ids
    assert member.amf.ngap.address == "127.0.10.5" and member.smf.pfcp.address == "127.0.10.4"
    for n in amf_set.MEMBER_NFS:
        assert member.section(n).sbi.address.startswith("127.0.10.")
        assert member.section(n).nrf_uri == "http://127.0.0.10:7777"
    assert member.smf.dnns[0].ipv4_pool == "10.45.128.0/17"
    assert ipaddress.ip_network(member.smf.dnns[0].ipv4_pool).subnet_of(ipaddress.ip_network(cfg.upf.subnet))
    assert [u.address for u in member.smf.upfs] == [u.address for u in cfg.smf.upfs]  # the one UPF
    assert member.db_uri == cfg.db_uri
    assert member.amf.data_dir == tmp_path / "m1"


def test_preflight_checks_the_members_sockets_too() -> None:
    cfg = load_config({"up": {"amf_set_size": 2}})
    eps = endpoints(cfg, ["nrf", "amf", "smf"], with_upf=False)
    member = [e for e in eps if e[0].startswith("AMF Set member 1")]
    assert ("AMF Set member 1 amf SBI", "tcp", "127.0.10.5", 7777) in member
    assert ("AMF Set member 1 smf PFCP", "udp", "127.0.10.4", 8805) in member
