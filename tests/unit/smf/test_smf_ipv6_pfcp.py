"""The SMF's N4 Session Establishment for IPv6 and IPv4v6 PDU sessions: the UE IP Address IE
with the session's /64 (TS 29.244 §8.2.62, TS 23.501 §5.8.2.2.3), through the PFCP codec.
The UPF's side of the same messages: tests/unit/upf/test_upf_ipv6.py. No I/O."""

from __future__ import annotations

import ipaddress

import pytest

from fivecore.nf.smf import gsm
from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import Ipv6PrefixPool, SmfContext
from fivecore.wire import pfcp

POOL = "2001:db8:cafe::/48"


def _sm(pdu_type: int):
    sm = SmfContext().new("imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.pdu_type = pdu_type
    if pdu_type in (gsm.PDU_IPV4, gsm.PDU_IPV4V6):
        sm.ue_ipv4 = "10.45.0.9"
    if pdu_type in (gsm.PDU_IPV6, gsm.PDU_IPV4V6):
        sm.ue_ipv6_prefix = Ipv6PrefixPool(POOL).allocate()
    sm.ambr_ul, sm.ambr_dl = 10_000_000, 20_000_000
    return sm


def _ueips(msg: pfcp.PfcpMessage) -> list[pfcp.UeIpAddress]:
    return [pdr["pdi"]["ue_ip_address"] for pdr in msg.ies.all("create_pdr")]


@pytest.mark.parametrize("pdu_type", [gsm.PDU_IPV6, gsm.PDU_IPV4V6])
def test_establishment_carries_the_prefix(pdu_type: int) -> None:
    """TS 29.244 §8.2.62: V6 set, the /64 prefix in the IPv6 field, no IPv6D and no IP6PL
    (so the UPF takes the default /64); S/D 0 in the uplink PDR, 1 in the downlink PDR."""
    sm = _sm(pdu_type)
    assert sm.ue_ipv6_prefix == ipaddress.IPv6Network("2001:db8:cafe:1::/64")
    raw = pfcp.encode(smf_pfcp.session_establishment(sm, seq=2, node_id="127.0.0.4",
                                                     cp_ip="127.0.0.4"))
    # the generic encoder, not a template that would freeze one session's prefix
    assert smf_pfcp.establishment_request(sm, seq=2, node_id="127.0.0.4", cp_ip="127.0.0.4") is None
    ul, dl = _ueips(pfcp.decode(raw))
    for ie, dest in ((ul, False), (dl, True)):
        assert ie.ipv6 == "2001:db8:cafe:1::" and ie.destination is dest
        assert ie.ipv6_prefix_delegation_bits is None and ie.ipv6_prefix_length is None
        assert ie.ipv4 == (sm.ue_ipv4 if pdu_type == gsm.PDU_IPV4V6 else None)
    # the octets themselves: flags (V6=1, V4=2, S/D=4), [IPv4], IPv6 (§8.2.62 figure)
    v4 = pdu_type == gsm.PDU_IPV4V6
    want_dl = bytes((0x07 if v4 else 0x05,)) + (bytes((10, 45, 0, 9)) if v4 else b"") \
        + ipaddress.IPv6Address("2001:db8:cafe:1::").packed
    assert pfcp.ies._enc_ueip(dl) == want_dl  # noqa: SLF001 - the IE's octets, not the message's
    assert want_dl in raw


def test_ipv4_session_still_uses_the_template() -> None:
    sm = _sm(gsm.PDU_IPV4)
    fast = smf_pfcp.establishment_request(sm, seq=5, node_id="127.0.0.4", cp_ip="127.0.0.4")
    slow = pfcp.encode(smf_pfcp.session_establishment(sm, seq=5, node_id="127.0.0.4",
                                                      cp_ip="127.0.0.4"))
    assert fast == slow
    assert all(ie.ipv6 is None for ie in _ueips(pfcp.decode(slow)))


def test_restoring_establishment_keeps_the_prefix() -> None:
    """After a UPF restart the SMF re-creates the session with its old N3 F-TEID
    (``smf.upf_restart: restore``): the /64 comes along."""
    sm = _sm(gsm.PDU_IPV6)
    msg = pfcp.decode(pfcp.encode(smf_pfcp.session_establishment(
        sm, seq=9, node_id="127.0.0.4", cp_ip="127.0.0.4", ul_teid=0x42, ul_ip="127.0.0.7")))
    assert [ie.ipv6 for ie in _ueips(msg)] == ["2001:db8:cafe:1::"] * 2
