"""The simulated UE records what the UPF's Router Advertisement says besides the prefix: the
link MTU (RFC 4861 §4.6.4, taken as a host does, §6.3.4) and the DNS servers (RFC 8106 §5.1).
The advertisements are real octets from the encoder, decoded as the gNB side does. No I/O:
only MTUs that need no change of the interface are used here (the e2e test changes one)."""

from __future__ import annotations

import asyncio

from fivecore.ran.userplane import Tunnel, UeSession, UserPlane
from fivecore.wire import icmpv6

UPF_LL = icmpv6.link_local(bytes(7) + b"\x01")
UE_LL = icmpv6.link_local(bytes.fromhex("0000000000000001"))
DNS = ["2001:4860:4860::8888", "2001:db8::53"]


def _apply(ra_octets: bytes, mtu: int = 1400) -> tuple[UserPlane, UeSession]:
    up = UserPlane(mtu=mtu)
    t = Tunnel(object(), 1, 1, 2, ("127.0.0.7", 2152), 1)
    t.ra = icmpv6.decode_router_advertisement(ra_octets)
    s = UeSession(1, "internet", (1, None), state="ACTIVE", pdu_type=2, ipv6_iid=bytes(7) + b"\x01")
    asyncio.run(up._ra_options(t, s, "fcs0p1", ()))
    return up, s


def test_mtu_and_dns_are_recorded() -> None:
    up, s = _apply(icmpv6.router_advertisement(UPF_LL, UE_LL, 1, mtu=1400, dns=DNS))
    assert s.ipv6_mtu == 1400 and s.ipv6_dns == DNS and "ra_mtu_ignored" not in up.stats


def test_an_mtu_above_the_interfaces_is_recorded_not_applied() -> None:
    # 1456 from a UPF with an Ethernet N3; the TUN's own 1400 stays the limit (§6.3.4)
    _up, s = _apply(icmpv6.router_advertisement(UPF_LL, UE_LL, 1, mtu=1456))
    assert s.ipv6_mtu == 1456 and s.ipv6_dns == []


def test_an_mtu_below_1280_is_ignored() -> None:
    ra = bytearray(icmpv6.router_advertisement(UPF_LL, UE_LL, 1, mtu=1280))
    ra[-4:] = (1000).to_bytes(4, "big")  # the MTU option is the last one
    ra[42:44] = b"\0\0"
    ra[42:44] = icmpv6.checksum(UPF_LL, UE_LL, bytes(ra[40:])).to_bytes(2, "big")
    up, s = _apply(bytes(ra))
    assert s.ipv6_mtu is None and up.stats["ra_mtu_ignored"] == 1


def test_dns_with_lifetime_zero_is_not_used() -> None:
    _up, s = _apply(icmpv6.router_advertisement(UPF_LL, UE_LL, 1, dns=DNS, dns_lifetime=0))
    assert s.ipv6_dns == [] and s.ipv6_mtu is None
