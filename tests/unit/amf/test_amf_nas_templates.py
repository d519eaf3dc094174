"""The AMF's templated NAS messages (Registration Accept, 5G-AKA Authentication Request) and the
remembered Security Mode Commands are the octets of the IE-by-IE encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.amf import nas_io
from fivecore.nf.amf.nas_io import Guti
from fivecore.wire import nas
from fivecore.wire.errors import EncodeError
from fivecore.wire.nas.codec import NasMessage
from fivecore.wire.nas.ies import NgKsi, UeSecurityCapability

mcc = st.sampled_from(["001", "310", "999"])
mnc = st.sampled_from(["01", "260", "99"])
slices = st.lists(st.tuples(st.integers(0, 255), st.one_of(st.none(), st.integers(0, 0xFFFFFF))),
                  min_size=1, max_size=4, unique=True)


@settings(max_examples=200, deadline=None)
@given(mcc=mcc, mnc=mnc, region=st.integers(0, 255), set_id=st.integers(0, 1023), pointer=st.integers(0, 63),
       tmsi=st.integers(0, 2**32 - 1), tacs=st.lists(st.integers(0, 2**24 - 1), min_size=1, max_size=4, unique=True),
       nssai=slices, t3512=st.integers(0, 100000))
def test_registration_accept(mcc, mnc, region, set_id, pointer, tmsi, tacs, nssai, t3512) -> None:
    g = Guti(mcc, mnc, region, set_id, pointer, tmsi)
    tais = [(mcc, mnc, t) for t in tacs]
    fast = nas_io.registration_accept(guti=g, tais=tais, allowed_nssai=nssai, t3512=t3512)
    assert fast == nas_io._registration_accept(guti=g, tais=tais, allowed_nssai=nssai, t3512=t3512)
    assert nas.decode(fast).guti.tmsi == tmsi


@settings(max_examples=200, deadline=None)
@given(ngksi=st.integers(0, 7), abba=st.binary(min_size=2, max_size=4), rand=st.binary(min_size=16, max_size=16),
       autn=st.binary(min_size=16, max_size=16))
def test_authentication_request(ngksi, abba, rand, autn) -> None:
    ref = nas.encode(NasMessage("AuthenticationRequest", ngksi=NgKsi(0, ngksi), abba=abba, rand=rand, autn=autn))
    assert nas_io.authentication_request(ngksi, abba, rand, autn) == ref


def test_authentication_request_with_odd_values_uses_the_encoder() -> None:
    with pytest.raises(EncodeError):
        nas.encode(NasMessage("AuthenticationRequest", ngksi=NgKsi(0, 1), abba=b"\x00\x00", rand=b"x", autn=bytes(16)))
    with pytest.raises(EncodeError):
        nas_io.authentication_request(1, b"\x00\x00", b"x", bytes(16))


@given(integrity=st.integers(0, 3), ciphering=st.integers(0, 3), ngksi=st.integers(0, 6), rinmr=st.booleans(),
       imeisv=st.booleans(), ea=st.integers(0, 255), ia=st.integers(0, 255))
def test_security_mode_command_memo(integrity, ciphering, ngksi, rinmr, imeisv, ea, ia) -> None:
    cap = UeSecurityCapability(ea, ia)
    nas_io._SMC_MEMO.clear()
    first = nas_io.security_mode_command(integrity, ciphering, ngksi, cap, rinmr=rinmr, imeisv_request=imeisv)
    again = nas_io.security_mode_command(integrity, ciphering, ngksi, UeSecurityCapability(ea, ia), rinmr=rinmr,
                                         imeisv_request=imeisv)
    assert first == again
    msg = nas.decode(first)
    assert msg.replayed_ue_security_capabilities == cap and msg.ngksi.ksi == ngksi


caps = st.builds(UeSecurityCapability, st.integers(0, 255), st.integers(0, 255))


@settings(max_examples=150, deadline=None)
@given(amf_id=st.integers(0, 2**40 - 1), ran_id=st.integers(0, 2**32 - 1), allowed=slices, cap=caps,
       kgnb=st.binary(min_size=32, max_size=32), nas_pdu=st.binary(min_size=1, max_size=200))
def test_initial_context_setup_request_with_kept_ies(amf_id, ran_id, allowed, cap, kgnb, nas_pdu) -> None:
    """The GUAMI, Allowed NSSAI and UE Security Capabilities IEs the AMF keeps encode as built."""
    from fivecore.nf.amf.context import UeContext
    from fivecore.nf.amf.gmm import Gmm, GmmConfig
    from fivecore.nf.amf.ngap_handler import AmfNgap, NgapConfig
    from fivecore.wire import ngap

    amf = AmfNgap(NgapConfig(), Gmm(GmmConfig()))
    ue = UeContext(amf_ue_ngap_id=amf_id)
    ue.ran_ue_ngap_id, ue.allowed_nssai, ue.ue_sec_cap = ran_id, tuple(allowed), cap
    cfg = amf.cfg
    ref = ngap.encode(ngap.NgapPdu("InitialContextSetup", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
        "GUAMI": ngap.guami(cfg.plmn, cfg.region_id, cfg.set_id, cfg.pointer),
        "AllowedNSSAI": [{"s-NSSAI": ngap.s_nssai(sst, sd)} for sst, sd in allowed],
        "UESecurityCapabilities": amf._ue_security_capabilities(ue),
        "SecurityKey": ngap.security_key(kgnb), "NAS-PDU": nas_pdu}))
    for _ in range(2):  # the second time from what it kept
        assert amf._ics_request(ue, nas_pdu, kgnb) == ref
