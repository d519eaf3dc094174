"""The SMF's templated messages (PDU Session Establishment Accept, PDU Session Resource Setup
Request Transfer) are the octets of the IE-by-IE encoding for any session."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.smf import gsm
from fivecore.nf.smf import sbi as smf_sbi
from fivecore.nf.smf.context import SmfContext
from fivecore.wire import nas, ngap

ipv4 = st.integers(0, 2**32 - 1).map(lambda i: str(ipaddress.IPv4Address(i)))


def _sm(psi: int, pti: int, ip: str | None, pdu_type: int = 1, **kw):
    sm = SmfContext().new("imsi-001010000000001", psi, kw.pop("dnn", "internet"), kw.pop("snssai", {"sst": 1}))
    sm.pti, sm.ue_ipv4, sm.pdu_type = pti, ip, pdu_type
    for k, v in kw.items():
        setattr(sm, k, v)
    return sm


@settings(max_examples=300, deadline=None)
@given(psi=st.integers(1, 15), pti=st.integers(0, 255), ip=ipv4, pdu_type=st.sampled_from([1, 2, 3]),
       ssc=st.sampled_from([1, 2, 3]), qfi=st.integers(1, 63), five_qi=st.integers(1, 255),
       ul=st.integers(1, 10**12), dl=st.integers(1, 10**12), seid=st.integers(0, 2**64 - 1),
       snssai=st.sampled_from([{"sst": 1}, {"sst": 2, "sd": "0000ff"}]), dnn=st.sampled_from(["internet", "ims"]),
       cause=st.sampled_from([None, 50, 51]), dns=st.sampled_from([None, ["8.8.8.8"], ["8.8.8.8", "1.1.1.1"]]),
       mtu=st.sampled_from([None, 1400]), wants=st.tuples(st.booleans(), st.booleans()))
def test_establishment_accept(psi, pti, ip, pdu_type, ssc, qfi, five_qi, ul, dl, seid, snssai, dnn, cause, dns, mtu,
                              wants) -> None:
    sm = _sm(psi, pti, ip, pdu_type, dnn=dnn, snssai=snssai, ssc_mode=ssc, qfi=qfi, five_qi=five_qi, ambr_ul=ul,
             ambr_dl=dl, local_seid=seid)
    d = gsm.EstablishmentDecision(pdu_type, ssc, cause, *wants)
    fast = gsm.establishment_accept(sm, d, dns, mtu)
    assert fast == gsm._establishment_accept(sm, d, dns, mtu)
    msg = nas.decode(fast)
    assert (msg.pdu_session_id, msg.pti) == (psi, pti)


def test_establishment_accept_without_an_address_uses_the_encoder() -> None:
    sm = _sm(1, 1, None)
    d = gsm.EstablishmentDecision(1, 1)
    assert gsm.establishment_accept(sm, d) == gsm._establishment_accept(sm, d)


@settings(max_examples=300, deadline=None)
@given(ip=st.one_of(st.none(), ipv4), teid=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       ul=st.integers(0, 4000000000000), dl=st.integers(0, 4000000000000), pdu_type=st.sampled_from([1, 2, 3]),
       qfi=st.integers(0, 63), five_qi=st.integers(0, 255), arp=st.integers(1, 15))
def test_setup_request_transfer(ip, teid, ul, dl, pdu_type, qfi, five_qi, arp) -> None:
    sm = _sm(1, 1, "10.45.0.2", pdu_type, ul_ip=ip, ul_teid=teid, ambr_ul=ul, ambr_dl=dl, qfi=qfi, five_qi=five_qi,
             arp=arp)
    svc = smf_sbi.SmfService.__new__(smf_sbi.SmfService)
    fast = svc.setup_request_transfer(sm)
    assert fast == smf_sbi._setup_request_transfer(ip or "0.0.0.0", teid or 0, dl, ul, pdu_type, qfi, five_qi, arp)
    tr = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", fast)
    assert ngap.gtp_tunnel_from(tr["UL-NGU-UP-TNLInformation"]) == (ip or "0.0.0.0", teid or 0)
