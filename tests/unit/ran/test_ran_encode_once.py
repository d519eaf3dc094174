"""The simulator's encode-once paths against the reference encoders they replace.

- UE-side SUCI Profile A (:func:`fivecore.ran.usim.conceal_profile_a`) against the TS 33.501
  Annex C.4.3.1 test data (../shared/vectors/suci.json, read at test time) and against
  :func:`fivecore.security.suci.conceal_raw`, and recovered by the home network's deconceal;
- octet templates (:mod:`fivecore.wire.template`: Registration Request around the SUCI, Security
  Mode Complete around its container, the PDU Session Resource Setup Response Transfer around
  the TEID, the gNB's NGAP messages around pre-encoded IDs and NAS-PDUs) equal to what the
  NAS / NGAP codecs encode for the same values, and actually used (a template that the probes
  refused would also give equal octets, from the codec);
- the cached 5GSM Establishment Request and UL NAS Transport equal to fresh encodings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.ran import nas_io
from fivecore.ran.ue import Ue, UeProfile
from fivecore.ran.userplane import UeSm, _establishment_request
from fivecore.ran.usim import Usim, conceal_profile_a
from fivecore.security import suci
from fivecore.wire import nas, ngap
from fivecore.wire.nas import codec
from fivecore.wire.nas.ies import MobileIdentity
from fivecore.wire.template import TemplateCache

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SUCI_SETS = {e["id"]: e for e in json.loads((SHARED / "vectors" / "suci.json").read_text())["entries"]}


# --- SUCI Profile A (TS 33.501 Annex C.3.2, C.4.3) ---------------------------------------------


def test_profile_a_known_answer_c_4_3_1() -> None:
    v = SUCI_SETS["ts33501_c_4_3_1"]
    hn = x25519.X25519PublicKey.from_public_bytes(bytes.fromhex(v["hn_public_key"]))
    eph = x25519.X25519PrivateKey.from_private_bytes(bytes.fromhex(v["eph_private_key"]))
    out = conceal_profile_a(hn, bytes.fromhex(v["scheme_input"]), eph)
    assert out.hex() == v["scheme_output"]


@given(msin=st.text("0123456789", min_size=1, max_size=20), eph=st.binary(min_size=32, max_size=32))
@settings(max_examples=150, deadline=None)
def test_profile_a_equals_the_reference_conceal(msin: str, eph: bytes) -> None:
    _priv, pub = _HN
    si = suci.encode_msin_bcd(msin)
    key = x25519.X25519PrivateKey.from_private_bytes(eph)
    fast = conceal_profile_a(x25519.X25519PublicKey.from_public_bytes(pub), si, key)
    assert fast == suci.conceal_raw(si, 1, pub, ephemeral_private_key=eph)


_HN = suci.generate_hn_keypair(1)


@pytest.mark.parametrize("scheme", [0, 1, 2])
def test_usim_suci_is_fresh_and_recovered_by_the_home_network(scheme: int) -> None:
    priv, pub = (None, None) if scheme == 0 else (_HN if scheme == 1 else suci.generate_hn_keypair(2))
    usim = Usim("001010123456789", bytes(16), opc=bytes(16), protection_scheme=scheme, hn_public_key=pub,
                hn_key_id=7, routing_indicator="12")
    ids = [nas_io.suci_identity(usim) for _ in range(3)]
    if scheme:
        assert len({i.scheme_output for i in ids}) == 3  # a new ephemeral key every time (C.3.2)
    for mi in ids:
        assert (mi.type, mi.plmn, mi.routing_indicator, mi.protection_scheme) == ("suci", "00101", "12", scheme)
        assert mi.hn_key_id == (7 if scheme else 0)
        # what the AMF/UDM sees: the IE on the wire, parsed as a SUCI and de-concealed
        s = suci.SuciIdentity.decode(codec.encode(nas.IdentityResponse(mobile_identity=mi))[5:])
        assert s.to_supi({7: priv} if priv else None) == "imsi-001010123456789"
    made = usim.make_suci()
    assert made.to_supi({7: priv} if priv else None) == "imsi-001010123456789"


def test_usim_with_a_bad_routing_indicator_fails_at_its_first_suci() -> None:
    usim = Usim("001010123456789", bytes(16), opc=bytes(16), protection_scheme=1, hn_public_key=_HN[1],
                routing_indicator="12345")
    with pytest.raises(suci.SuciError):
        usim.scheme_output()


@given(out=st.binary(min_size=1, max_size=120), follow_on=st.booleans(), ngksi=st.integers(0, 7),
       nea=st.sampled_from([(0, 1, 2, 3), (0, 2), (1,)]), nia=st.sampled_from([(1, 2, 3), (2,)]),
       slices=st.sampled_from([[(1, None)], [(1, 0x010203), (2, None)], []]), scheme=st.integers(0, 2),
       ri=st.sampled_from(["0", "0000", "123"]))
@settings(max_examples=200, deadline=None)
def test_registration_request_template_equals_the_codec(out: bytes, follow_on: bool, ngksi: int,
                                                        nea: tuple[int, ...], nia: tuple[int, ...],
                                                        slices: list[tuple[int, int | None]], scheme: int,
                                                        ri: str) -> None:
    mi = MobileIdentity("suci", plmn="00101", routing_indicator=ri, protection_scheme=scheme,
                        hn_key_id=3 if scheme else 0, scheme_output=out)
    got = nas_io.registration_request_pair(1, follow_on, ngksi, mi, nea, nia, slices)
    assert got == nas_io._registration_request_pair(1, follow_on, ngksi, mi, nea, nia, slices)
    full = codec.decode(got[0])
    assert full.mobile_identity.scheme_output == out
    assert _templated(nas_io._TEMPLATES)


@given(container=st.one_of(st.none(), st.binary(min_size=1, max_size=300)),
       imeisv=st.sampled_from([None, "4370816125816151", "3534920106453201"]))
@settings(max_examples=200, deadline=None)
def test_security_mode_complete_template_equals_the_codec(container: bytes | None, imeisv: str | None) -> None:
    got = nas_io.security_mode_complete(container, imeisv)
    assert got == nas_io._security_mode_complete(container, imeisv)
    msg = codec.decode(got)
    assert msg.nas_message_container == container
    assert _templated(nas_io._TEMPLATES)


@given(res_star=st.binary(min_size=1, max_size=40))
@settings(max_examples=100, deadline=None)
def test_authentication_response_template_equals_the_codec(res_star: bytes) -> None:
    got = nas_io.authentication_response(res_star)
    assert got == nas_io._authentication_response(res_star)
    assert codec.decode(got).res_star == res_star
    assert _templated(nas_io._TEMPLATES)


@given(teid=st.integers(0, 2**32 - 1), qfis=st.lists(st.integers(1, 63), min_size=1, max_size=4),
       address=st.sampled_from(["127.0.0.1", "10.1.2.3", "127.90.1.1"]))
@settings(max_examples=200, deadline=None)
def test_response_transfer_template_equals_the_codec(teid: int, qfis: list[int], address: str) -> None:
    from fivecore.ran.userplane import GnbUserPlane

    class _Gnb:
        raw_listeners: list = []
        ics_sessions = None

    up = GnbUserPlane(_Gnb(), address)
    got = up._response_transfer(teid, qfis)
    want = ngap.encode_ie("PDUSessionResourceSetupResponseTransfer", {"dLQosFlowPerTNLInformation": {
        "uPTransportLayerInformation": ngap.gtp_tunnel(address, teid),
        "associatedQosFlowList": [{"qosFlowIdentifier": q} for q in qfis]}})
    assert got == want
    assert up._response_transfer(teid, qfis) == want  # the second call comes from the template
    assert _templated(up._transfer_templates)
    dec = ngap.decode_ie("PDUSessionResourceSetupResponseTransfer", got)
    assert ngap.gtp_tunnel_from(dec["dLQosFlowPerTNLInformation"]["uPTransportLayerInformation"]) == (address, teid)


def _templated(cache: TemplateCache) -> bool:
    """Every shape asked of ``cache`` so far got a template (none fell back to the codec)."""
    return bool(cache._t) and None not in cache._t.values()


# --- cached 5GSM / UL NAS Transport --------------------------------------------------------------


@pytest.mark.parametrize("psi,pti,pdu_type", [(1, 1, 1), (5, 254, 1), (15, 77, 3)])
def test_establishment_request_cache_equals_a_fresh_encoding(psi: int, pti: int, pdu_type: int) -> None:
    fresh = _establishment_request.__wrapped__(psi, pti, pdu_type)
    assert _establishment_request(psi, pti, pdu_type) == fresh
    msg = nas.decode(fresh)
    assert (msg.message_type, msg.pdu_session_id, msg.pti, msg.pdu_session_type) == (
        "PDUSessionEstablishmentRequest", psi, pti, pdu_type)
    sm = UeSm()
    out = sm.establish(psi, "internet", (1, None), pdu_type)
    assert nas.decode(out).pti == sm.sessions[psi].pti


def test_ul_nas_transport_cache_equals_a_fresh_encoding() -> None:
    sm = _establishment_request(1, 9, 1)
    for args in [(sm, 1, 1, "internet", (1, None)), (sm, 1, None, None, None), (b"\x2e\x01\x09\xd6", 2, 1, "ims", (2, 5))]:
        assert nas_io.ul_nas_transport(*args) == nas_io._ul_nas_transport.__wrapped__(*args)
    # a list slice or a bytearray payload (unhashable) still works
    assert nas_io.ul_nas_transport(bytearray(sm), 1, 1, "internet", [1, None]) == nas_io.ul_nas_transport(
        sm, 1, 1, "internet", (1, None))


def test_initial_registration_of_a_profile_a_ue_carries_a_fresh_suci() -> None:
    """The UE's first Registration Request (cleartext IEs only, TS 24.501 §4.4.6) from the
    template path: a new SUCI each time, recovered by the home network, full message kept."""
    priv, pub = _HN
    outs = set()
    for _ in range(3):
        ue = Ue(Usim("001010000000042", bytes(16), opc=bytes(16), protection_scheme=1, hn_public_key=pub,
                     hn_key_id=1), UeProfile())
        msg = codec.decode(ue.register(follow_on=True))
        mi = msg.mobile_identity
        outs.add(mi.scheme_output)
        assert suci.deconceal(mi.scheme_output, 1, priv) == "0000000042"
        assert msg.requested_nssai is None
        full = codec.decode(ue.full_request)
        assert full.mobile_identity == mi and [(s.sst, s.sd) for s in full.requested_nssai] == [(1, None)]
    assert len(outs) == 3


@given(data=st.binary(min_size=17, max_size=80), eph=st.binary(min_size=32, max_size=32))
@settings(max_examples=100, deadline=None)
def test_profile_a_long_inputs_equal_the_reference_also_where_the_counter_wraps(data: bytes, eph: bytes) -> None:
    """C.3.4.0: m = 32-bit counter; inputs of several blocks (NAI usernames) take the
    reference path exactly when the ICB's low 32 bits would wrap inside them."""
    _priv, pub = _HN
    key = x25519.X25519PrivateKey.from_private_bytes(eph)
    fast = conceal_profile_a(x25519.X25519PublicKey.from_public_bytes(pub), data, key)
    assert fast == suci.conceal_raw(data, 1, pub, ephemeral_private_key=eph)


@given(amf_id=st.integers(0, 2**40 - 1), ran_id=st.integers(0, 2**32 - 1), nas_pdu=st.binary(min_size=1, max_size=300),
       tac=st.integers(1, 2**24 - 1))
@settings(max_examples=200, deadline=None)
def test_uplink_nas_transport_template_equals_the_codec(amf_id: int, ran_id: int, nas_pdu: bytes, tac: int) -> None:
    """TS 38.413 §9.2.5.3: the gNB's templated Uplink NAS Transport is the codec's encoding."""
    from fivecore.ran.gnb import Gnb, GnbConfig, RanUe

    gnb = Gnb(GnbConfig(tac=tac))
    ru = RanUe(Ue(Usim("001010000000001", bytes(16), opc=bytes(16)), UeProfile()), gnb)
    want = ngap.encode(ngap.NgapPdu("UplinkNASTransport", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id, "NAS-PDU": nas_pdu,
        "UserLocationInformation": ngap.user_location_nr(gnb.cfg.plmn, tac, gnb.cfg.nci)}))
    for _ in range(2):  # the second one from the template and the connection's cached IDs
        assert gnb._uplink_nas_transport(amf_id, ran_id, nas_pdu, ru) == want
    pdu = ngap.decode(want)
    assert (pdu["AMF-UE-NGAP-ID"], pdu["RAN-UE-NGAP-ID"], pdu["NAS-PDU"]) == (amf_id, ran_id, nas_pdu)
    assert _templated(gnb._templates)


class _Tap:
    """A gNB's N2 association that keeps what is sent."""

    out_streams = 16
    is_closed = False
    close_reason = None

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send_nowait(self, data: bytes, stream: int = 0, ppid: int = 60, unordered: bool = False) -> None:
        self.sent.append(bytes(data))


@given(ran_next=st.integers(1, 2**32 - 1), amf_id=st.integers(0, 2**40 - 1), nas_pdu=st.binary(min_size=1, max_size=200),
       cause=st.sampled_from(["mo-Signalling", "mo-Data"]))
@settings(max_examples=100, deadline=None)
def test_initial_ue_message_and_context_setup_response_templates_equal_the_codec(
        ran_next: int, amf_id: int, nas_pdu: bytes, cause: str) -> None:
    """TS 38.413 §9.2.5.1 Initial UE Message (SUCI case) and §9.2.2.2 Initial Context Setup
    Response without PDU sessions, from templates, against the codec's encoding."""
    from fivecore.ran.gnb import Gnb, GnbConfig, RanUe

    gnb = Gnb(GnbConfig())
    tap = _Tap()
    gnb.assoc = tap  # type: ignore[assignment]
    uli = ngap.user_location_nr(gnb.cfg.plmn, gnb.cfg.tac, gnb.cfg.nci)
    for k in range(2):
        gnb._next_ran_id = ran_next
        ru = RanUe(Ue(Usim("001010000000001", bytes(16), opc=bytes(16)), UeProfile()), gnb)
        gnb.initial_nas(ru, nas_pdu, cause)
        assert tap.sent[-1] == ngap.encode(ngap.NgapPdu("InitialUEMessage", "initiating", {
            "RAN-UE-NGAP-ID": ru.ran_id, "NAS-PDU": nas_pdu, "UserLocationInformation": uli,
            "RRCEstablishmentCause": cause, "UEContextRequest": "requested"}))
        ru.amf_id = amf_id
        ru.ue.kamf = bytes(32)
        from fivecore.security import kdf

        ics = ngap.encode(ngap.NgapPdu("InitialContextSetup", "initiating", {
            "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ru.ran_id,
            "GUAMI": ngap.guami("00101", 2, 1, 0),
            "AllowedNSSAI": [{"s-NSSAI": ngap.s_nssai(1)}],
            "UESecurityCapabilities": ngap.ue_security_capabilities(),
            "SecurityKey": (int.from_bytes(kdf.kgnb(bytes(32), 0), "big"), 256)}))
        gnb.on_ngap(ics)
        assert ru.kgnb_ok, k
        assert tap.sent[-1] == ngap.encode(ngap.NgapPdu("InitialContextSetup", "successful", {
            "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ru.ran_id}))
        gnb._drop(ru)
    assert _templated(gnb._templates)


_SETUP_TRANSFER = bytes.fromhex(
    "0000040082000a0c77359400303b9aca00008b000a01f07f5a00070000000100860001000088000700010000091c00")


@given(amf_id=st.integers(0, 2**40 - 1), ran_id=st.integers(1, 2**32 - 1), psi=st.integers(1, 15))
@settings(max_examples=100, deadline=None)
def test_pdu_session_resource_setup_response_template_equals_the_codec(amf_id: int, ran_id: int, psi: int) -> None:
    """TS 38.413 §9.2.1.2 PDU Session Resource Setup Response from the gNB's template."""
    from fivecore.ran.gnb import Gnb, GnbConfig, RanUe
    from fivecore.ran.userplane import GnbUserPlane

    gnb = Gnb(GnbConfig())
    tap = _Tap()
    gnb.assoc = tap  # type: ignore[assignment]
    up = GnbUserPlane(gnb, "127.0.0.9")
    for _ in range(2):
        ru = RanUe(Ue(Usim("001010000000001", bytes(16), opc=bytes(16)), UeProfile()), gnb)
        gnb._next_ran_id = ran_id
        gnb.rrc_connect(ru)
        req = ngap.encode(ngap.NgapPdu("PDUSessionResourceSetup", "initiating", {
            "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
            "PDUSessionResourceSetupListSUReq": [{
                "pDUSessionID": psi, "s-NSSAI": ngap.s_nssai(1),
                "pDUSessionResourceSetupRequestTransfer": _SETUP_TRANSFER}]}))
        gnb.on_ngap(req)
        sent = ngap.decode(tap.sent[-1])
        items = sent["PDUSessionResourceSetupListSURes"]
        assert [i["pDUSessionID"] for i in items] == [psi]
        assert tap.sent[-1] == ngap.encode(ngap.NgapPdu("PDUSessionResourceSetup", "successful", {
            "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id, "PDUSessionResourceSetupListSURes": [
                {"pDUSessionID": psi,
                 "pDUSessionResourceSetupResponseTransfer": items[0]["pDUSessionResourceSetupResponseTransfer"]}]}))
        gnb._drop(ru)
        up.drop_ue(ru)
    assert _templated(gnb._templates) and _templated(up._transfer_templates)
