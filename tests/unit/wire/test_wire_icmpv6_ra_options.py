"""The Router Advertisement's MTU (RFC 4861 §4.6.4) and Recursive DNS Server (RFC 8106 §5.1)
options: round trip, the octets of the RDNSS option, what a receiver skips, and fuzzing of the
option parser (typed errors only). No I/O."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.wire import icmpv6
from fivecore.wire.errors import DecodeError, EncodeError

SRC = icmpv6.link_local(bytes(7) + b"\x01")
DST = icmpv6.link_local(bytes.fromhex("0011223344556677"))
PREFIX64 = 0x2001_0DB8_CAFE_0001
DNS = ("2001:4860:4860::8888", "2001:4860:4860::8844")


def _reframe(icmp: bytes) -> bytes:
    """An RA packet around the ICMPv6 message ``icmp`` (its checksum recomputed)."""
    body = bytearray(icmp)
    body[2:4] = b"\0\0"
    struct.pack_into("!H", body, 2, icmpv6.checksum(SRC, DST, bytes(body)))
    return struct.pack("!IHBB16s16s", 0x6000_0000, len(body), 58, 255, SRC, DST) + bytes(body)


def test_mtu_and_dns_round_trip() -> None:
    pkt = icmpv6.router_advertisement(SRC, DST, PREFIX64, mtu=1400, dns=DNS, dns_lifetime=600)
    ra = icmpv6.decode_router_advertisement(pkt)
    assert ra.mtu == 1400
    assert ra.dns == tuple(ipaddress.IPv6Address(a) for a in DNS)
    assert ra.dns_lifetime == 600
    assert [p.prefix for p in ra.prefixes] == [ipaddress.IPv6Network("2001:db8:cafe:1::/64")]
    assert [t for t, _ in ra.options] == [icmpv6.OPT_PREFIX_INFORMATION, icmpv6.OPT_MTU, icmpv6.OPT_RDNSS]


def test_rdnss_octets() -> None:
    """RFC 8106 §5.1: type 25, Length 1 + 2n (8-octet units), 2 reserved, Lifetime, addresses."""
    opt = icmpv6.rdnss_option(["2001:db8::53"], 0xFFFFFFFF)
    assert opt == bytes.fromhex("1903 0000 ffffffff 20010db8000000000000000000000053".replace(" ", ""))
    assert icmpv6.rdnss_option(DNS, 7)[:8] == bytes.fromhex("1905000000000007")


def test_no_options_unless_asked() -> None:
    ra = icmpv6.decode_router_advertisement(icmpv6.router_advertisement(SRC, DST, PREFIX64))
    assert ra.mtu is None and ra.dns == () and ra.dns_lifetime is None
    assert [t for t, _ in ra.options] == [icmpv6.OPT_PREFIX_INFORMATION]


def test_several_rdnss_options_are_all_read() -> None:
    pkt = icmpv6.router_advertisement(SRC, DST, PREFIX64, dns=DNS[:1], dns_lifetime=900)
    icmp = pkt[40:] + icmpv6.rdnss_option(DNS[1:], 300)
    ra = icmpv6.decode_router_advertisement(_reframe(icmp))
    assert ra.dns == tuple(ipaddress.IPv6Address(a) for a in DNS)
    assert ra.dns_lifetime == 300  # the shortest lifetime bounds the list


@pytest.mark.parametrize("length", [1, 2, 4])
def test_an_invalid_rdnss_option_is_skipped_not_the_advertisement(length: int) -> None:
    """RFC 8106 §5.1: Length is odd and at least 3; an option that is not carries no address
    the host may use, while the prefix of the same advertisement still counts."""
    pkt = icmpv6.router_advertisement(SRC, DST, PREFIX64, mtu=1300)
    bad = struct.pack("!BBHI", icmpv6.OPT_RDNSS, length, 0, 600) + bytes(8 * length - 8)
    ra = icmpv6.decode_router_advertisement(_reframe(pkt[40:] + bad))
    assert ra.dns == () and ra.dns_lifetime is None
    assert ra.mtu == 1300 and ra.prefixes[0].prefix.prefixlen == 64


def test_malformed_mtu_option_is_refused() -> None:
    pkt = icmpv6.router_advertisement(SRC, DST, PREFIX64)
    with pytest.raises(DecodeError):
        icmpv6.decode_router_advertisement(_reframe(pkt[40:] + struct.pack("!BBH", 5, 2, 0) + bytes(12)))


def test_encoder_refuses_what_it_cannot_say() -> None:
    with pytest.raises(EncodeError):
        icmpv6.router_advertisement(SRC, DST, PREFIX64, mtu=1279)
    with pytest.raises(EncodeError):
        icmpv6.router_advertisement(SRC, DST, PREFIX64, dns=["10.0.0.1"])
    with pytest.raises(EncodeError):
        icmpv6.router_advertisement(SRC, DST, PREFIX64, dns=[b"\x20\x01"])
    with pytest.raises(EncodeError):
        icmpv6.rdnss_option([])
    with pytest.raises(EncodeError):
        icmpv6.rdnss_option([f"2001:db8::{i:x}" for i in range(icmpv6.MAX_RDNSS + 1)])
    with pytest.raises(EncodeError):
        icmpv6.rdnss_option(DNS, 1 << 32)
    # the largest list still fits the Length octet
    opt = icmpv6.rdnss_option([f"2001:db8::{i:x}" for i in range(icmpv6.MAX_RDNSS)])
    assert opt[1] == 255 and len(opt) == 255 * 8


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 40), st.binary(max_size=330)), max_size=6))
def test_option_parser_raises_only_decode_error(opts: list[tuple[int, int, bytes]]) -> None:
    """Bad input is normal input: any option list after a valid RA header, with a correct
    checksum (so the options themselves are what the decoder meets), decodes or raises
    DecodeError, and whatever decodes has a consistent DNS list."""
    icmp = bytearray(icmpv6.router_advertisement(SRC, DST, PREFIX64)[40:56])
    for t, ln, body in opts:
        icmp += bytes((t, ln)) + body[: max(0, ln * 8 - 2)]
    try:
        ra = icmpv6.decode_router_advertisement(_reframe(bytes(icmp)))
    except DecodeError:
        return
    if ra.dns:  # an address only ever comes with the lifetime of its option
        assert ra.dns_lifetime is not None
        assert all(isinstance(a, ipaddress.IPv6Address) for a in ra.dns)
    assert len(ra.dns) <= sum((len(body) - 8) // 16 for t, body in ra.options if t == icmpv6.OPT_RDNSS)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 200), st.binary(min_size=1, max_size=8),
       st.lists(st.sampled_from(DNS), min_size=1, max_size=3), st.integers(1280, 9000))
def test_mutated_advertisements_with_options_raise_only_decode_error(pos: int, junk: bytes,
                                                                     dns: list[str], mtu: int) -> None:
    pkt = bytearray(icmpv6.router_advertisement(SRC, DST, PREFIX64, mtu=mtu, dns=dns))
    pos %= len(pkt)
    pkt[pos:pos + len(junk)] = junk
    for candidate in (bytes(pkt), _reframe(bytes(pkt[40:]))):
        try:
            icmpv6.decode_router_advertisement(candidate)
        except DecodeError:
            pass
