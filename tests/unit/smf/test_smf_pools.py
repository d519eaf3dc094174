"""UE address pools (TS 23.501 §5.8.2.2): allocation, release, exhaustion, reuse order."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.smf.context import Ipv4Pool, Ipv6PrefixPool, PoolExhausted, SmfContext


def test_first_host_is_reserved_and_addresses_are_unique() -> None:
    pool = Ipv4Pool("10.45.0.0/16")
    got = [pool.allocate() for _ in range(1000)]
    assert got[0] == "10.45.0.2", "10.45.0.1 belongs to the UPF's N6 interface"
    assert len(set(got)) == 1000 and pool.in_use == 1000
    assert all(ipaddress.IPv4Address(a) in ipaddress.IPv4Network("10.45.0.0/16") for a in got)


def test_exhaustion_and_release() -> None:
    pool = Ipv4Pool("10.0.0.0/29")  # hosts .1-.6, .1 reserved -> 5 addresses
    assert pool.size == 5
    got = [pool.allocate() for _ in range(5)]
    with pytest.raises(PoolExhausted):
        pool.allocate()
    assert pool.release(got[2]) and not pool.release(got[2]), "double release is harmless"
    assert not pool.release("10.0.0.1")
    assert pool.allocate() == got[2]
    with pytest.raises(PoolExhausted):
        pool.allocate()


def test_released_addresses_are_reused_oldest_first() -> None:
    pool = Ipv4Pool("10.0.0.0/29")
    a = [pool.allocate() for _ in range(5)]
    pool.release(a[3])
    pool.release(a[1])
    assert [pool.allocate(), pool.allocate()] == [a[3], a[1]]


def test_wanted_address_for_restoration() -> None:
    pool = Ipv4Pool("10.0.0.0/24")
    assert pool.allocate("10.0.0.50") == "10.0.0.50"
    got = {pool.allocate() for _ in range(100)}
    assert "10.0.0.50" not in got
    assert pool.allocate("10.0.0.50") != "10.0.0.50", "an address in use is not handed out twice"


def test_context_returns_addresses_on_remove() -> None:
    ctx = SmfContext()
    ctx.pools["internet"] = Ipv4Pool("10.0.0.0/29")
    sms = []
    for psi in range(1, 6):
        sm = ctx.new("imsi-001010000000001", psi, "internet", {"sst": 1})
        sm.pool, sm.ue_ipv4 = "internet", ctx.pools["internet"].allocate()
        sms.append(sm)
    assert len({sm.local_seid for sm in sms}) == 5
    for sm in sms:
        ctx.remove(sm)
    assert ctx.pools["internet"].in_use == 0 and not ctx.by_ref and not ctx.by_seid


def test_ipv6_prefixes() -> None:
    pool = Ipv6PrefixPool("2001:db8:cafe::/62")
    got = [pool.allocate() for _ in range(3)]
    assert all(p.prefixlen == 64 for p in got) and len(set(got)) == 3
    with pytest.raises(PoolExhausted):
        pool.allocate()
    assert pool.release(got[0])
    assert pool.allocate() == got[0]


@given(st.lists(st.booleans(), max_size=300))
@settings(max_examples=100, deadline=None)
def test_pool_invariants(ops: list[bool]) -> None:
    pool = Ipv4Pool("10.1.0.0/26")
    held: list[str] = []
    for alloc in ops:
        if alloc:
            try:
                a = pool.allocate()
            except PoolExhausted:
                assert len(held) == pool.size
                continue
            assert a not in held
            held.append(a)
        elif held:
            assert pool.release(held.pop(0))
        assert pool.in_use == len(held)
