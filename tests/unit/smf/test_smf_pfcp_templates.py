"""The PFCP request templates of the SMF (establishment, downlink activation) write exactly the
octets of the generic builder + encoder, for any session values, and step aside (None) where
they do not apply."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.smf import pfcp as n4
from fivecore.nf.smf.context import SmfContext
from fivecore.wire import pfcp
from fivecore.wire.errors import EncodeError

ipv4 = st.integers(0, 2**32 - 1).map(lambda i: str(ipaddress.IPv4Address(i)))
bitrate = st.integers(1, 10**13)


def _sm(dnn: str = "internet", ip: str | None = "10.45.0.2", qfi: int = 1, ul: int = 10**9, dl: int = 2 * 10**9,
        pdu_type: int = 1):
    sm = SmfContext().new("imsi-001010000000001", 1, dnn, {"sst": 1})
    sm.ue_ipv4, sm.qfi, sm.ambr_ul, sm.ambr_dl, sm.pdu_type = ip, qfi, ul, dl, pdu_type
    return sm


@settings(max_examples=300, deadline=None)
@given(seq=st.integers(1, 2**24 - 1), seid=st.integers(0, 2**64 - 1), ip=ipv4,
       dnn=st.sampled_from(["internet", "ims", "a.b.c"]), qfi=st.integers(0, 63), ul=bitrate, dl=bitrate,
       pdu_type=st.sampled_from([1, 3]), node=ipv4, cp=ipv4, volume=st.integers(0, 2**64 - 1))
def test_establishment_template_matches_the_generic_encoder(seq, seid, ip, dnn, qfi, ul, dl, pdu_type, node, cp,
                                                            volume) -> None:
    sm = _sm(dnn, ip, qfi, ul, dl, pdu_type)
    sm.local_seid = seid
    fast = n4.establishment_request(sm, seq=seq, node_id=node, cp_ip=cp, usage_volume=volume)
    ref = pfcp.encode(n4.session_establishment(sm, seq=seq, node_id=node, cp_ip=cp, usage_volume=volume))
    assert fast == ref
    # and the UPF's side reads it as the same message
    assert pfcp.decode(fast).ies == pfcp.decode(ref).ies


@settings(max_examples=300, deadline=None)
@given(seq=st.integers(1, 2**24 - 1), seid=st.integers(0, 2**64 - 1), teid=st.integers(0, 2**32 - 1), ip=ipv4,
       dnn=st.sampled_from(["internet", "ims"]))
def test_activate_downlink_template_matches_the_generic_encoder(seq, seid, teid, ip, dnn) -> None:
    sm = _sm(dnn)
    sm.upf_seid, sm.dl_teid, sm.dl_ip = seid, teid, ip
    assert n4.activate_downlink_request(sm, seq=seq) == pfcp.encode(n4.activate_downlink(sm, seq=seq))


def test_templates_step_aside_where_they_do_not_apply() -> None:
    sm = _sm(ip=None)  # an IPv6-only session: no UE IPv4 address to write
    assert n4.establishment_request(sm, seq=1, node_id="127.0.0.4", cp_ip="127.0.0.4") is None
    sm = _sm()
    sm.dl_teid, sm.dl_ip = 5, "127.0.0.1"  # restoring a session with a known gNB tunnel
    assert n4.establishment_request(sm, seq=1, node_id="127.0.0.4", cp_ip="127.0.0.4") is None
    sm = _sm()
    assert n4.activate_downlink_request(sm, seq=1) is None  # no gNB tunnel yet


@pytest.mark.parametrize("seq", [0x1000000, -1])
def test_values_out_of_range_go_to_the_generic_encoder_which_refuses_them(seq: int) -> None:
    sm = _sm()
    assert n4.establishment_request(sm, seq=seq, node_id="127.0.0.4", cp_ip="127.0.0.4") is None
    with pytest.raises(EncodeError):
        pfcp.encode(n4.session_establishment(sm, seq=seq, node_id="127.0.0.4", cp_ip="127.0.0.4"))


def test_a_malformed_address_is_not_written_into_a_template() -> None:
    sm = _sm(ip="10.45.0.300")
    assert n4.establishment_request(sm, seq=1, node_id="127.0.0.4", cp_ip="127.0.0.4") is None
    sm = _sm()
    sm.upf_seid, sm.dl_teid, sm.dl_ip = 1, 2, "not-an-ip"
    assert n4.activate_downlink_request(sm, seq=1) is None
