"""``upf.ipv6_subnet``: the IPv6 prefix pool(s) a standalone UPF routes into the N6 TUN it
creates (TS 23.501 §5.8.2.2.3), Open5GS-style ``subnet: 2001:db8:cafe::/48``."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fivecore.errors import ConfigError
from fivecore.netup.network import n6_ipv6_address
from fivecore.nf.smf.context import Ipv6PrefixPool
from fivecore.nf.upf.config import load_upf_config


def _cfg(**kw: object):
    return load_upf_config(data={"upf": kw})


def test_default_is_ipv4_only() -> None:
    cfg = _cfg()
    assert cfg.ipv6_subnet == [] and cfg.tun_ipv6_addresses == []
    assert _cfg(ipv6_subnet=None).ipv6_subnet == []


def test_one_prefix_or_a_list() -> None:
    assert _cfg(ipv6_subnet="2001:db8:cafe::/48").tun_ipv6_addresses == ["2001:db8:cafe::1/48"]
    cfg = _cfg(ipv6_subnet=["2001:DB8:cafe::/48", "2001:db8:beef:100::5/56"])
    assert cfg.ipv6_subnet == ["2001:db8:cafe::/48", "2001:db8:beef:100::/56"]  # normalised
    assert cfg.tun_ipv6_addresses == ["2001:db8:cafe::1/48", "2001:db8:beef:100::1/56"]


@pytest.mark.parametrize("value", ["10.45.0.0/16", "2001:db8::/80", "not-a-prefix", ["2001:db8::/48", 7],
                                   ["2001:db8::/48", "2001:db8:0:5::/64"], 42])
def test_bad_values_are_config_errors(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^upf\.ipv6_subnet"):
        _cfg(ipv6_subnet=value)


@given(prefix=st.integers(0, (1 << 64) - 1), plen=st.integers(16, 64))
def test_n6_address_agrees_with_fivecore_up_and_is_never_a_session_prefix(prefix: int, plen: int) -> None:
    net = ipaddress.IPv6Network((prefix << 64, plen), strict=False)
    cfg = _cfg(ipv6_subnet=str(net))
    (addr,) = cfg.tun_ipv6_addresses
    assert addr == n6_ipv6_address(str(net))  # what `fivecore up` gives the TUN it creates
    pool = Ipv6PrefixPool(str(net))
    if plen < 64:  # a /64 pool has no session prefix at all
        assert ipaddress.IPv6Interface(addr).ip not in pool.allocate()
