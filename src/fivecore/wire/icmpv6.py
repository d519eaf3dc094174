"""IPv6 Neighbor Discovery for a PDU session: Router Solicitation and Router Advertisement.

A PDU session of type IPv6 or IPv4v6 is a point-to-point link between the UE and the UPF
(TS 23.501 §5.8.2.2.3, TS 29.061 §11.2.1.3): the UE learns its /64 prefix from a Router
Advertisement (RFC 4861 §4.2) with one Prefix Information option (§4.6.2), sent by the
network unsolicited after establishment and in answer to the UE's Router Solicitation
(§4.1). The link has no link-layer addresses, so neither message carries a link-layer
address option (§4.6.1: those are for links that have link-layer addresses). The
advertisement may carry the link MTU (MTU option, §4.6.4; TS 23.501 §5.6.10.4: the IPv6 link
MTU reaches the UE this way) and the DNN's DNS servers (Recursive DNS Server option,
RFC 8106 §5.1).

Sans-I/O: whole IPv6 packets (fixed header + ICMPv6) in and out; the decoders check what
RFC 4861 §6.1.1 / §6.1.2 tell a node to check (hop limit 255, code 0, checksum, lengths,
option lengths) and raise :class:`~fivecore.wire.errors.DecodeError` on anything else.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from fivecore.wire.errors import DecodeError, EncodeError

NEXT_HEADER_ICMPV6 = 58
ROUTER_SOLICITATION = 133
ROUTER_ADVERTISEMENT = 134
OPT_PREFIX_INFORMATION = 3
OPT_MTU = 5
#: RFC 8106 §5.1 Recursive DNS Server option
OPT_RDNSS = 25
#: the smallest link MTU IPv6 allows (RFC 8200 §5)
MIN_MTU = 1280
#: RFC 8106 §5.1: the Length octet is 1 + 2 per address, so at most 127 addresses
MAX_RDNSS = 127
#: ff02::2, all-routers (RFC 4291 §2.7.1): where a host sends its solicitation
ALL_ROUTERS = bytes.fromhex("ff020000000000000000000000000002")
#: ff02::1, all-nodes: where an unsolicited advertisement goes
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
UNSPECIFIED = bytes(16)
#: the top 64 bits of fe80::/64 (RFC 4291 §2.5.6)
LINK_LOCAL_PREFIX64 = 0xFE80_0000_0000_0000
INFINITE = 0xFFFFFFFF

_IP6 = struct.Struct("!IHBB16s16s")
_RA = struct.Struct("!BBHBBHII")
_PIO = struct.Struct("!BBBBIII16s")
_PROTO = "ICMPv6"


def checksum(src: bytes, dst: bytes, icmp: bytes) -> int:
    """RFC 4443 §2.3 / RFC 8200 §8.1: one's complement sum over the pseudo-header
    (source, destination, upper-layer length, next header) and the ICMPv6 message."""
    data = src + dst + struct.pack("!I3xB", len(icmp), NEXT_HEADER_ICMPV6) + icmp
    if len(data) & 1:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _packet(src: bytes, dst: bytes, icmp: bytearray) -> bytes:
    """An IPv6 header (RFC 8200 §3: hop limit 255 as RFC 4861 §4 demands) around ``icmp``,
    whose checksum field (octets 2-3) is filled in here."""
    if len(src) != 16 or len(dst) != 16:
        raise EncodeError("IPv6 addresses are 16 octets")
    struct.pack_into("!H", icmp, 2, checksum(src, dst, bytes(icmp)))
    return _IP6.pack(0x6000_0000, len(icmp), NEXT_HEADER_ICMPV6, 255, src, dst) + bytes(icmp)


def link_local(interface_id: bytes) -> bytes:
    """fe80::<interface identifier> (RFC 4291 §2.5.6), 16 octets."""
    if len(interface_id) != 8:
        raise EncodeError("an interface identifier is 8 octets")
    return LINK_LOCAL_PREFIX64.to_bytes(8, "big") + interface_id


def router_solicitation(src: bytes) -> bytes:
    """RFC 4861 §4.1: a Router Solicitation to all-routers, no options (no link layer)."""
    return _packet(src, ALL_ROUTERS, bytearray((ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0)))


@dataclass(frozen=True, slots=True)
class PrefixInfo:
    """RFC 4861 §4.6.2 Prefix Information: ``prefix`` as an ``IPv6Network``."""

    prefix: ipaddress.IPv6Network
    on_link: bool = False
    autonomous: bool = True
    valid_lifetime: int = INFINITE
    preferred_lifetime: int = INFINITE


@dataclass(frozen=True, slots=True)
class RouterAdvertisement:
    """RFC 4861 §4.2, as decoded (``src``/``dst`` as 16 octets)."""

    src: bytes
    dst: bytes
    cur_hop_limit: int = 64
    managed: bool = False
    other: bool = False
    router_lifetime: int = 9000
    reachable_time: int = 0
    retrans_timer: int = 0
    prefixes: tuple[PrefixInfo, ...] = ()
    mtu: int | None = None
    options: tuple[tuple[int, bytes], ...] = field(default=())
    #: RFC 8106 §5.1: the recursive DNS servers of every well-formed RDNSS option, in order
    dns: tuple[ipaddress.IPv6Address, ...] = ()
    #: the smallest Lifetime of those options (0xFFFFFFFF: infinity, 0: stop using them)
    dns_lifetime: int | None = None


def _ipv6(addr: bytes | str | ipaddress.IPv6Address) -> bytes:
    if isinstance(addr, bytes):
        if len(addr) != 16:
            raise EncodeError("IPv6 addresses are 16 octets")
        return addr
    try:
        return ipaddress.IPv6Address(addr).packed
    except ValueError as exc:
        raise EncodeError(f"not an IPv6 address: {addr!r}") from exc


def rdnss_option(servers: Iterable[bytes | str | ipaddress.IPv6Address], lifetime: int = INFINITE) -> bytes:
    """RFC 8106 §5.1 Recursive DNS Server option: type 25, Length 1 + 2 per address, two
    reserved octets, Lifetime (s; all ones is infinity), the addresses."""
    addrs = [_ipv6(a) for a in servers]
    if not 1 <= len(addrs) <= MAX_RDNSS:
        raise EncodeError(f"an RDNSS option holds 1..{MAX_RDNSS} addresses (RFC 8106 §5.1)")
    if not 0 <= lifetime <= INFINITE:
        raise EncodeError("RDNSS lifetime is 32 bits")
    return struct.pack("!BBHI", OPT_RDNSS, 1 + 2 * len(addrs), 0, lifetime) + b"".join(addrs)


def router_advertisement(src: bytes, dst: bytes, prefix64: int, *, mtu: int | None = None,
                         router_lifetime: int = 9000,
                         dns: Iterable[bytes | str | ipaddress.IPv6Address] = (),
                         dns_lifetime: int = INFINITE) -> bytes:
    """RFC 4861 §4.2 for one PDU session (TS 29.061 §11.2.1.3.4 / TS 23.501 §5.8.2.2.3):
    M = O = 0 (stateless autoconfiguration, nothing from DHCPv6), one Prefix Information
    option with the session's /64, L = 0 (the link is point-to-point: everything goes to the
    router), A = 1, infinite lifetimes (the prefix lives as long as the session); an MTU
    option (§4.6.4) when ``mtu`` is given; one RDNSS option (RFC 8106 §5.1) with the ``dns``
    servers when there are any. ``router_lifetime`` at most 9000 s (§6.2.1)."""
    if not 0 <= prefix64 < 1 << 64:
        raise EncodeError("prefix64 is the top 64 bits of the prefix")
    if not 0 <= router_lifetime <= 9000:
        raise EncodeError("router lifetime 0..9000 s (RFC 4861 §6.2.1)")
    icmp = bytearray(_RA.pack(ROUTER_ADVERTISEMENT, 0, 0, 64, 0, router_lifetime, 0, 0))
    icmp += _PIO.pack(OPT_PREFIX_INFORMATION, 4, 64, 0x40, INFINITE, INFINITE, 0,
                      prefix64.to_bytes(8, "big") + bytes(8))
    if mtu is not None:
        if not MIN_MTU <= mtu <= 0xFFFFFFFF:
            raise EncodeError("IPv6 MTU below 1280 (RFC 8200 §5)")
        icmp += struct.pack("!BBHI", OPT_MTU, 1, 0, mtu)
    servers = list(dns)
    if servers:
        icmp += rdnss_option(servers, dns_lifetime)
    return _packet(src, dst, icmp)


def _icmp(pkt: bytes, want_type: int, min_len: int) -> tuple[bytes, bytes, bytes]:
    """The checks of RFC 4861 §6.1.1 / §6.1.2 common to RS and RA; (src, dst, ICMPv6 octets)."""
    if len(pkt) < 40:
        raise DecodeError("IPv6 header truncated", 0, _PROTO)
    vtf, plen, nh, hlim, src, dst = _IP6.unpack_from(pkt, 0)
    if vtf >> 28 != 6:
        raise DecodeError("not IPv6", 0, _PROTO)
    if nh != NEXT_HEADER_ICMPV6:
        raise DecodeError(f"next header {nh}, not ICMPv6", 6, _PROTO)
    if 40 + plen != len(pkt):
        raise DecodeError("IPv6 payload length does not match the packet", 4, _PROTO)
    if hlim != 255:
        raise DecodeError("hop limit is not 255 (RFC 4861 §6.1)", 7, _PROTO)
    icmp = bytes(pkt[40:])
    if len(icmp) < min_len:
        raise DecodeError("ICMPv6 message too short", 40, _PROTO)
    if icmp[0] != want_type:
        raise DecodeError(f"ICMPv6 type {icmp[0]}, expected {want_type}", 40, _PROTO)
    if icmp[1] != 0:
        raise DecodeError("ICMPv6 code is not 0", 41, _PROTO)
    if checksum(src, dst, icmp) != 0:
        raise DecodeError("ICMPv6 checksum wrong", 42, _PROTO)
    return src, dst, icmp


def _options(icmp: bytes, start: int) -> list[tuple[int, bytes]]:
    """RFC 4861 §4.6: type, length in 8-octet units (never 0), contents."""
    out = []
    i = start
    while i < len(icmp):
        if i + 2 > len(icmp):
            raise DecodeError("option truncated", 40 + i, _PROTO)
        t, ln = icmp[i], icmp[i + 1] * 8
        if ln == 0:
            raise DecodeError("option of length 0 (RFC 4861 §4.6)", 40 + i, _PROTO)
        if i + ln > len(icmp):
            raise DecodeError("option runs past the message", 40 + i, _PROTO)
        out.append((t, icmp[i:i + ln]))
        i += ln
    return out


def decode_router_solicitation(pkt: bytes) -> bytes:
    """RFC 4861 §6.1.1: validate a Router Solicitation; returns its source address. An
    unspecified source must not carry a Source Link-Layer Address option."""
    src, _dst, icmp = _icmp(pkt, ROUTER_SOLICITATION, 8)
    opts = _options(icmp, 8)
    if src == UNSPECIFIED and any(t == 1 for t, _ in opts):
        raise DecodeError("source link-layer option from the unspecified address", 48, _PROTO)
    return src


def decode_router_advertisement(pkt: bytes) -> RouterAdvertisement:
    """RFC 4861 §6.1.2: validate a Router Advertisement (link-local source) and read it."""
    src, dst, icmp = _icmp(pkt, ROUTER_ADVERTISEMENT, 16)
    if int.from_bytes(src[:8], "big") != LINK_LOCAL_PREFIX64:
        raise DecodeError("Router Advertisement from a non-link-local source", 8, _PROTO)
    _t, _c, _ck, hop, flags, lifetime, reachable, retrans = _RA.unpack_from(icmp, 0)
    prefixes: list[PrefixInfo] = []
    mtu = None
    dns: list[ipaddress.IPv6Address] = []
    dns_lifetime: int | None = None
    opts = _options(icmp, 16)
    for t, body in opts:
        if t == OPT_PREFIX_INFORMATION:
            if len(body) != 32:
                raise DecodeError("Prefix Information option is not 32 octets", -1, _PROTO)
            _, _, plen, pflags, valid, preferred, _, raw = _PIO.unpack(body)
            if plen > 128:
                raise DecodeError(f"prefix length {plen}", -1, _PROTO)
            net = ipaddress.IPv6Network((int.from_bytes(raw, "big") >> (128 - plen) << (128 - plen), plen))
            prefixes.append(PrefixInfo(net, bool(pflags & 0x80), bool(pflags & 0x40), valid, preferred))
        elif t == OPT_MTU:
            if len(body) != 8:
                raise DecodeError("MTU option is not 8 octets", -1, _PROTO)
            mtu = int.from_bytes(body[4:8], "big")
        elif t == OPT_RDNSS:
            # RFC 8106 §5.1: Length is 1 + 2 per address, at least 3. One that is not is an
            # invalid option the host skips (§5.3.1 has it check the options' validity); the
            # rest of the advertisement still counts (RFC 4861 §6.3.4)
            if len(body) < 24 or (len(body) // 8) % 2 == 0:
                continue
            life = int.from_bytes(body[4:8], "big")
            dns_lifetime = life if dns_lifetime is None else min(dns_lifetime, life)
            dns += (ipaddress.IPv6Address(body[i:i + 16]) for i in range(8, len(body), 16))
    return RouterAdvertisement(src, dst, hop, bool(flags & 0x80), bool(flags & 0x40), lifetime,
                               reachable, retrans, tuple(prefixes), mtu, tuple(opts), tuple(dns),
                               dns_lifetime)
