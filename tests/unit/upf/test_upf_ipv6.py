"""IPv6 and IPv4v6 PDU sessions on N4 and in the UPF's rule tables (TS 23.501 §5.8.2.2.3,
TS 29.244 §8.2.62), and the Router Solicitation / Advertisement codec (RFC 4861).

The SMF's own rule builder makes the Session Establishment; it goes through the PFCP codec as
octets into the UPF's PFCP node, exactly as on N4. No I/O.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.smf import gsm
from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import Ipv6PrefixPool, SmfContext
from fivecore.nf.upf.context import (
    ACT_BUFFER,
    ACT_FORWARD,
    V6_KEY,
    UpfContext,
    dl_key,
    ipv4_to_int,
    prefix64,
)
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.wire import icmpv6, pfcp
from fivecore.wire.errors import DecodeError, EncodeError

PEER = ("127.0.0.4", 8805)
POOL = "2001:db8:cafe::/48"


def _sm(pdu_type: int, seid_hint: int = 1):
    ctx = SmfContext()
    sm = ctx.new(f"imsi-00101000000000{seid_hint}", 1, "internet", {"sst": 1})
    sm.pdu_type = pdu_type
    if pdu_type in (gsm.PDU_IPV4, gsm.PDU_IPV4V6):
        sm.ue_ipv4 = f"10.45.0.{seid_hint + 8}"
    if pdu_type in (gsm.PDU_IPV6, gsm.PDU_IPV4V6):
        pool = Ipv6PrefixPool(POOL)
        for _ in range(seid_hint):
            sm.ue_ipv6_prefix = pool.allocate()
    sm.ambr_ul, sm.ambr_dl = 10_000_000, 20_000_000
    return sm


def _ueips(msg: pfcp.PfcpMessage) -> list[pfcp.UeIpAddress]:
    return [pdr["pdi"]["ue_ip_address"] for pdr in msg.ies.all("create_pdr")]


def _upf() -> tuple[UpfContext, PfcpNode]:
    ctx = UpfContext("127.0.0.7", 2152)
    node = PfcpNode(ctx, "127.0.0.7")
    assoc = pfcp.PfcpMessage.build("AssociationSetupRequest", seq=1,
                                   node_id=pfcp.NodeId.ipv4(PEER[0]),
                                   recovery_time_stamp=pfcp.ntp_now())
    assert pfcp.decode(node.datagram_received(pfcp.encode(assoc), PEER, 0.0)[0][0]).cause == 1
    return ctx, node


def _establish(node: PfcpNode, sm, seq: int) -> pfcp.PfcpMessage:
    out = node.datagram_received(pfcp.encode(smf_pfcp.session_establishment(
        sm, seq=seq, node_id=PEER[0], cp_ip=PEER[0])), PEER, 0.0)
    return pfcp.decode(out[0][0])


@pytest.mark.parametrize("pdu_type", [gsm.PDU_IPV6, gsm.PDU_IPV4V6])
def test_upf_tables_match_the_prefix(pdu_type: int) -> None:
    """Uplink by TEID (with the /64 for anti-spoofing), downlink by the destination's /64;
    an IPv4v6 session's downlink PDR answers for its IPv4 address too (one path)."""
    ctx, node = _upf()
    sm = _sm(pdu_type)
    rsp = _establish(node, sm, 2)
    assert rsp.cause == pfcp.CAUSE_ACCEPTED
    sm.upf_seid, sm.ul_teid, sm.ul_ip = smf_pfcp.parse_establishment_response(rsp)
    key = V6_KEY | prefix64("2001:db8:cafe:1::")
    path = ctx.dl_by_ue[key]
    assert path.action == ACT_BUFFER
    ul = ctx.ul_by_teid[sm.ul_teid]
    assert ul.ue_prefix6 == 0x20010DB8CAFE0001
    session = ctx.sessions[sm.upf_seid]
    assert session.ue_ipv6_prefix == 0x20010DB8CAFE0001
    if pdu_type == gsm.PDU_IPV4V6:
        assert ctx.dl_by_ue[ipv4_to_int(sm.ue_ipv4)] is path and ul.ue_ip == ipv4_to_int(sm.ue_ipv4)
    else:
        assert len(ctx.dl_by_ue) == 1 and ul.ue_ip is None
    sm.dl_teid, sm.dl_ip = 0x99, "127.0.0.1"
    rsp = pfcp.decode(node.datagram_received(pfcp.encode(smf_pfcp.activate_downlink(sm, seq=3)),
                                             PEER, 0.0)[0][0])
    assert rsp.cause == pfcp.CAUSE_ACCEPTED
    assert ctx.dl_by_ue[key].action == ACT_FORWARD and ctx.dl_by_ue[key].peer == ("127.0.0.1", 2152)
    # a packet to any address of the /64 finds it, one to the next /64 does not
    pkt = bytes((0x60,)) + bytes(23) + ipaddress.IPv6Address("2001:db8:cafe:1:abcd::7").packed
    assert dl_key(pkt) == key
    other = bytes((0x60,)) + bytes(23) + ipaddress.IPv6Address("2001:db8:cafe:2::7").packed
    assert dl_key(other) not in ctx.dl_by_ue
    rsp = pfcp.decode(node.datagram_received(pfcp.encode(smf_pfcp.session_deletion(sm, seq=4)),
                                             PEER, 0.0)[0][0])
    assert rsp.cause == pfcp.CAUSE_ACCEPTED
    assert not ctx.dl_by_ue and not ctx.ul_by_teid


def test_many_v6_sessions_each_get_their_own_prefix() -> None:
    """The UPF's shape learning must not freeze one session's prefix (fastpath.py): every
    session's downlink entry is its own /64."""
    ctx, node = _upf()
    keys = set()
    for i in range(1, 25):
        sm = _sm(gsm.PDU_IPV4V6, i)
        sm.local_seid = 1000 + i
        assert _establish(node, sm, 10 + i).cause == pfcp.CAUSE_ACCEPTED
        keys.add(V6_KEY | prefix64(str(sm.ue_ipv6_prefix.network_address)))
        assert ctx.dl_by_ue[ipv4_to_int(sm.ue_ipv4)] is ctx.dl_by_ue[
            V6_KEY | prefix64(str(sm.ue_ipv6_prefix.network_address))]
    assert keys <= set(ctx.dl_by_ue) and len(keys) == 24


def test_dl_key() -> None:
    assert dl_key(b"\x45" + bytes(15) + bytes((10, 45, 0, 2))) == ipv4_to_int("10.45.0.2")
    assert dl_key(b"\x45" + bytes(10)) is None
    assert dl_key(b"\x60" + bytes(30)) is None
    assert dl_key(b"\x70" + bytes(60)) is None


# --- RFC 4861 codec ---------------------------------------------------------------------------

UE_LL = icmpv6.link_local(bytes.fromhex("0000000000000123"))
UPF_LL = icmpv6.link_local(bytes(7) + b"\x01")


def test_router_advertisement_round_trip() -> None:
    ra = icmpv6.router_advertisement(UPF_LL, UE_LL, 0x20010DB8CAFE0001, mtu=1400)
    assert ra[7] == 255 and ra[6] == 58 and ra[40] == 134
    d = icmpv6.decode_router_advertisement(ra)
    assert d.src == UPF_LL and d.dst == UE_LL and d.mtu == 1400 and d.router_lifetime == 9000
    assert not d.managed and not d.other
    (p,) = d.prefixes
    assert p.prefix == ipaddress.IPv6Network("2001:db8:cafe:1::/64")
    assert p.autonomous and not p.on_link and p.valid_lifetime == icmpv6.INFINITE


def test_router_solicitation_round_trip() -> None:
    rs = icmpv6.router_solicitation(UE_LL)
    assert len(rs) == 48 and rs[40] == 133 and rs[24:40] == icmpv6.ALL_ROUTERS
    assert icmpv6.decode_router_solicitation(rs) == UE_LL
    assert icmpv6.decode_router_solicitation(icmpv6.router_solicitation(icmpv6.UNSPECIFIED)) \
        == icmpv6.UNSPECIFIED


def test_checksum_known_answer() -> None:
    """RFC 1071 arithmetic by hand: an ICMPv6 message whose checksum field holds the sum makes
    the whole sum 0xFFFF (checksum() of it is 0)."""
    ra = icmpv6.router_advertisement(UPF_LL, UE_LL, 1)
    assert icmpv6.checksum(ra[8:24], ra[24:40], ra[40:]) == 0
    words = ra[8:40] + len(ra[40:]).to_bytes(4, "big") + bytes((0, 0, 0, 58)) + ra[40:42] + b"\0\0" + ra[44:]
    total = sum(int.from_bytes(words[i:i + 2], "big") for i in range(0, len(words), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert int.from_bytes(ra[42:44], "big") == ~total & 0xFFFF


@pytest.mark.parametrize("mutate", [
    lambda b: b[:39],                                     # header truncated
    lambda b: b[:7] + b"\x40" + b[8:],                    # hop limit 64, not 255
    lambda b: b[:40] + b"\x87" + b[41:],                  # another ICMPv6 type
    lambda b: b[:41] + b"\x01" + b[42:],                  # code 1
    lambda b: b[:-1] + bytes((b[-1] ^ 1,)),               # checksum wrong
    lambda b: b[:5] + bytes((b[5] + 8,)) + b[6:],         # payload length lies
    lambda b: b"\x40" + b[1:],                            # IPv4 version nibble
    lambda b: b[:6] + b"\x11" + b[7:],                    # UDP, not ICMPv6
])
def test_malformed_advertisements_are_refused(mutate) -> None:
    ra = icmpv6.router_advertisement(UPF_LL, UE_LL, 0x20010DB8CAFE0001)
    with pytest.raises(DecodeError):
        icmpv6.decode_router_advertisement(mutate(ra))


def test_advertisement_from_a_global_source_is_refused() -> None:
    ra = icmpv6.router_advertisement(ipaddress.IPv6Address("2001:db8::1").packed, UE_LL, 5)
    with pytest.raises(DecodeError):
        icmpv6.decode_router_advertisement(ra)


def test_encoder_limits() -> None:
    with pytest.raises(EncodeError):
        icmpv6.router_advertisement(UPF_LL, UE_LL, 1 << 64)
    with pytest.raises(EncodeError):
        icmpv6.router_advertisement(UPF_LL, UE_LL, 1, mtu=1000)
    with pytest.raises(EncodeError):
        icmpv6.router_advertisement(UPF_LL, UE_LL, 1, router_lifetime=9001)
    with pytest.raises(EncodeError):
        icmpv6.link_local(b"\x01")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_decoders_raise_only_decode_error(data: bytes) -> None:
    for dec in (icmpv6.decode_router_advertisement, icmpv6.decode_router_solicitation):
        try:
            dec(data)
        except DecodeError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, (1 << 64) - 1), st.integers(0, 120), st.binary(min_size=1, max_size=40))
def test_mutated_advertisements_raise_only_decode_error(prefix: int, pos: int, junk: bytes) -> None:
    """Valid header and checksum around garbage options: only DecodeError, never another one."""
    ra = bytearray(icmpv6.router_advertisement(UPF_LL, UE_LL, prefix))
    body = bytearray(ra[40:])
    body[16 + pos % 32:16 + pos % 32 + len(junk)] = junk
    body[2:4] = b"\0\0"
    body[2:4] = icmpv6.checksum(UPF_LL, UE_LL, bytes(body)).to_bytes(2, "big")
    pkt = bytes(ra[:4]) + len(body).to_bytes(2, "big") + bytes(ra[6:40]) + bytes(body)
    try:
        d = icmpv6.decode_router_advertisement(pkt)
    except DecodeError:
        return
    assert all(p.prefix.prefixlen <= 128 for p in d.prefixes)


# --- the UE IP Address IE itself (TS 29.244 §8.2.62) ------------------------------------------

_V6 = st.integers(0, (1 << 128) - 1).map(lambda i: str(ipaddress.IPv6Address(i)))
_V4 = st.integers(0, (1 << 32) - 1).map(lambda i: str(ipaddress.IPv4Address(i)))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), _V4), st.one_of(st.none(), _V6), st.booleans(),
       st.one_of(st.none(), st.integers(0, 255)), st.one_of(st.none(), st.integers(0, 128)))
def test_ue_ip_address_round_trip(v4, v6, dest, pd_bits, plen) -> None:
    ie = pfcp.UeIpAddress(ipv4=v4, ipv6=v6, destination=dest,
                          ipv6_prefix_delegation_bits=pd_bits if v6 else None,
                          ipv6_prefix_length=plen if v6 else None)
    raw = pfcp.ies._enc_ueip(ie)  # noqa: SLF001 - the IE codec, below the message level
    assert pfcp.ies._dec_ueip(raw) == ie  # noqa: SLF001
    if v6:
        assert raw[0] & 1 and prefix64(v6) == int.from_bytes(raw[1 + (4 if v4 else 0):][:8], "big")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40))
def test_ue_ip_address_decoder_raises_only_decode_error(data: bytes) -> None:
    try:
        ie = pfcp.ies._dec_ueip(data)  # noqa: SLF001
    except DecodeError:
        return
    if ie.ipv6:
        assert 0 <= prefix64(ie.ipv6) < 1 << 64
