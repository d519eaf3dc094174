"""NAS-5GS codec: builders, typed IEs, round trips and malformed input (TS 24.501)."""

from __future__ import annotations

import pytest

from fivecore.wire import DecodeError, EncodeError, nas
from fivecore.wire.nas import codec

SAMPLES = {
    "u8": 5,
    "u16": 0x1234,
    "nibble": 1,
    "ngksi": nas.NgKsi(0, 1),
    "regtype": nas.RegistrationType(1, True),
    "deregtype": nas.DeregistrationType(True, False, 1),
    "mobile_identity": nas.MobileIdentity.suci_null("00101", "0123456789"),
    "ue_sec_cap": nas.UeSecurityCapability.of(nea=[0, 1, 2], nia=[1, 2], eea=[0, 1], eia=[1, 2]),
    "sec_algs": nas.NasSecurityAlgorithms(1, 2),
    "snssai": nas.SNssai(1, 0x010203),
    "nssai": (nas.SNssai(1), nas.SNssai(2, 3), nas.SNssai(1, 5, 1, 6)),
    "dnn": "internet.mnc001",
    "psi_bitmap": nas.PsiBitmap.of(1, 5, 15),
    "timer3": nas.GprsTimer3(1, 2),
    "timer2": nas.GprsTimer2(1, 3),
    "regresult": nas.RegistrationResult(3, sms_allowed=True),
    "tai_list": nas.TaiList.of(nas.Tai("00101", 1), nas.Tai("00101", 2), nas.Tai("310410", 7)),
    "qos_rules": (nas.QosRule(1, 1, True, (nas.PacketFilter.match_all(1),), 255, 1),
                  nas.QosRule(2, 2)),
    "pdu_address": nas.PduAddress.ipv4("10.45.0.2"),
    "session_ambr": nas.SessionAmbr(6, 100, 6, 50),
    "rand": bytes(range(16)),
}


def _sample(ie: codec._Ie) -> object:
    if ie.kind == "bytes":
        return bytes(range(1, ie.n + 1)) if ie.n else b"\x01\x02\x03"
    return SAMPLES[ie.kind]


def _full(name: str, optional: bool) -> nas.NasMessage:
    spec = codec._BY_NAME[name]
    ies = {ie.name: _sample(ie) for ie in spec.by_name.values() if optional or ie.iei is None}
    return nas.NasMessage(name, ies, pdu_session_id=5 if spec.epd == nas.EPD_5GSM else None,
                          pti=7 if spec.epd == nas.EPD_5GSM else 0)


ALL_TYPES = sorted(nas.message_types())


def test_every_required_message_type_exists() -> None:
    required = {
        "RegistrationRequest", "RegistrationAccept", "RegistrationComplete", "RegistrationReject",
        "AuthenticationRequest", "AuthenticationResponse", "AuthenticationResult",
        "AuthenticationFailure", "AuthenticationReject", "IdentityRequest", "IdentityResponse",
        "SecurityModeCommand", "SecurityModeComplete", "SecurityModeReject", "ServiceRequest",
        "ServiceAccept", "ServiceReject", "ConfigurationUpdateCommand",
        "ConfigurationUpdateComplete", "DeregistrationRequestUEOriginating",
        "DeregistrationAcceptUEOriginating", "DeregistrationRequestUETerminated",
        "DeregistrationAcceptUETerminated", "5GMMStatus", "ULNASTransport", "DLNASTransport",
        "PDUSessionEstablishmentRequest", "PDUSessionEstablishmentAccept",
        "PDUSessionEstablishmentReject", "PDUSessionModificationRequest",
        "PDUSessionModificationCommand", "PDUSessionModificationComplete",
        "PDUSessionModificationReject", "PDUSessionModificationCommandReject",
        "PDUSessionReleaseRequest", "PDUSessionReleaseCommand", "PDUSessionReleaseComplete",
        "PDUSessionReleaseReject", "5GSMStatus",
    }
    assert required <= set(ALL_TYPES)


@pytest.mark.parametrize("name", ALL_TYPES)
@pytest.mark.parametrize("optional", [False, True])
def test_build_encode_decode_every_message(name: str, optional: bool) -> None:
    msg = _full(name, optional)
    data = nas.encode(msg)
    back = nas.decode(data)
    assert back == msg
    assert back.message_type == name
    assert nas.encode(back) == data
    epd, code = nas.message_types()[name]
    assert data[0] == epd and data[3 if epd == nas.EPD_5GSM else 2] == code


@pytest.mark.parametrize("name", ALL_TYPES)
def test_every_truncation_is_a_decode_error(name: str) -> None:
    data = nas.encode(_full(name, True))
    for cut in range(len(data)):
        try:
            nas.decode(data[:cut])
        except DecodeError as exc:
            assert 0 <= exc.offset <= len(data)
        # A cut at an IE boundary of the optional part is a valid shorter message.


def test_message_classes_and_attributes() -> None:
    msg = nas.RegistrationRequest(
        registration_type=nas.RegistrationType(nas.RegistrationType.INITIAL, follow_on=True),
        ngksi=nas.NgKsi(0, nas.NgKsi.NO_KEY),
        mobile_identity=nas.MobileIdentity.suci_null("00101", "0000000001"),
        ue_security_capability=nas.UeSecurityCapability.of(nea=[0, 1, 2], nia=[1, 2]))
    data = msg.to_bytes()
    assert data.hex() == "7e004179000d0100f1100000000000000000102e02e060"
    back = nas.decode(data)
    assert isinstance(back, nas.RegistrationRequest)
    assert back.mobile_identity.supi == "imsi-001010000000001"
    assert back.mobile_identity.suci_string() == "suci-0-001-01-0000-0-0-0000000001"
    assert back.requested_nssai is None
    assert back["ngksi"].ksi == 7 and "ngksi" in back
    with pytest.raises(AttributeError):
        _ = back.no_such_ie
    assert nas.FiveGMMStatus(cause=111).message_type == "5GMMStatus"


def test_builder_orders_optional_ies_as_the_spec() -> None:
    a = nas.RegistrationAccept(t3512_value=nas.GprsTimer3(0, 6),
                               registration_result=nas.RegistrationResult(1),
                               allowed_nssai=(nas.SNssai(1),))
    assert list(a.ies) == ["registration_result", "allowed_nssai", "t3512_value"]


def test_encode_errors() -> None:
    with pytest.raises(EncodeError):
        nas.NasMessage("NoSuchMessage")
    with pytest.raises(EncodeError):
        nas.RegistrationReject(bogus=1)
    with pytest.raises(EncodeError):
        nas.encode(nas.RegistrationReject())  # cause is mandatory
    with pytest.raises(EncodeError):
        nas.encode(nas.RegistrationReject(cause=300))
    with pytest.raises(EncodeError):
        nas.encode(nas.AuthenticationRequest(ngksi=nas.NgKsi(0, 0), abba=b"\0\0", rand=b"short"))
    with pytest.raises(EncodeError):
        nas.encode(nas.DLNASTransport(payload_container_type=1, payload_container="notbytes"))
    with pytest.raises(EncodeError):
        nas.encode(nas.SecurityProtectedNasMessage(5, b"\0" * 4, 0, b""))


# --- typed IEs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ident", [
    nas.MobileIdentity.suci_null("00101", "0000000001"),
    nas.MobileIdentity.suci_null("310410", "123456789", routing_indicator="17"),
    nas.MobileIdentity.suci_ecies("00101", 1, 3, bytes(32) + b"cipher" + bytes(8)),
    nas.MobileIdentity.suci_ecies("00101", 2, 27, b"\x02" + bytes(32) + b"x" * 5 + bytes(8), "1234"),
    nas.MobileIdentity("suci", supi_format=1, nai="user@example.org"),
    nas.MobileIdentity.guti("00101", 0xCA, 1016, 0, 1),
    nas.MobileIdentity.s_tmsi(1016, 63, 0xDEADBEEF),
    nas.MobileIdentity.imei("490154203237518"),
    nas.MobileIdentity.imeisv("8651160458202125"),
    nas.MobileIdentity.no_identity(),
])
def test_mobile_identity_round_trip(ident: nas.MobileIdentity) -> None:
    raw = nas.ies.enc_mobile_identity(ident)
    assert nas.ies.dec_mobile_identity(raw) == ident
    msg = nas.IdentityResponse(mobile_identity=ident)
    assert nas.decode(nas.encode(msg)) == msg


def test_mobile_identity_known_encodings() -> None:
    guti = nas.MobileIdentity.guti("00101", 0xCA, 1016, 0, 1)
    assert nas.ies.enc_mobile_identity(guti).hex() == "f200f110cafe0000000001"
    null = nas.MobileIdentity.suci_null("00101", "0123456789", "0000")
    assert nas.ies.enc_mobile_identity(null).hex() == "0100f110000000001032547698"
    assert nas.ies.dec_mobile_identity(bytes.fromhex("0100f110000000001032547698")).msin == "0123456789"
    odd = nas.MobileIdentity.suci_null("00101", "123")
    assert nas.ies.enc_mobile_identity(odd)[-2:] == bytes.fromhex("21f3")
    imei = nas.ies.enc_mobile_identity(nas.MobileIdentity.imei("490154203237518"))
    assert imei.hex() == "4b09510432327315"[:2] + imei.hex()[2:]
    assert imei[0] == 0x4B  # digit 1 = 4, odd, type 3
    profile_b = nas.MobileIdentity.suci_ecies("00101", 2, 27, b"\x03" + bytes(45))
    assert profile_b.msin is None and profile_b.supi is None
    key, ct, tag = profile_b.ecies_parts()
    assert (len(key), len(ct), len(tag)) == (33, 5, 8) and key[0] == 3
    a = nas.MobileIdentity.suci_ecies("00101", 1, 1, bytes(32) + b"12345" + b"T" * 8)
    assert a.ecies_parts() == (bytes(32), b"12345", b"T" * 8)
    assert null.ecies_parts() is None


@pytest.mark.parametrize("raw", [b"", b"\x01\x00\xf1", b"\x02\x00\xf1\x10", b"\x01\x0a\xf1\x10\x00\x00\x00\x00",
                                 b"\x01\x00\xf1\x10\xf0\x00\x00\x00", b"\x03", b"\x05\x11",
                                 b"\x04\x00\x00"])
def test_mobile_identity_bad(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        nas.ies.dec_mobile_identity(raw)


def test_ue_security_capability() -> None:
    cap = nas.UeSecurityCapability.of(nea=[0, 1, 2, 3], nia=[1, 2, 3], eea=[0, 1, 2, 3], eia=[1, 2, 3])
    assert nas.ies.enc_ue_sec_cap(cap).hex() == "f070f070"
    assert cap.supports_nea(0) and not cap.supports_nia(0) and cap.supports_eia(3)
    assert cap.nia_list == [1, 2, 3]
    for bad in (b"", b"\x01", bytes(9)):
        with pytest.raises(DecodeError):
            nas.ies.dec_ue_sec_cap(bad)


@pytest.mark.parametrize("s", [nas.SNssai(1), nas.SNssai(1, mapped_sst=2), nas.SNssai(1, 0xFFFFFF),
                               nas.SNssai(1, 1, 2), nas.SNssai(1, 1, 2, 3)])
def test_snssai_lengths(s: nas.SNssai) -> None:
    assert nas.ies.dec_snssai(nas.ies.enc_snssai(s)) == s


def test_nssai_dnn_bad() -> None:
    with pytest.raises(DecodeError):
        nas.ies.dec_snssai(b"\x01\x02\x03")
    with pytest.raises(DecodeError):
        nas.ies.dec_nssai(b"\x04\x01")
    with pytest.raises(DecodeError):
        nas.ies.dec_dnn(b"\x09internet")
    with pytest.raises(DecodeError):
        nas.ies.dec_dnn(b"")
    assert nas.ies.dec_dnn(b"\x08internet\x03com") == "internet.com"
    with pytest.raises(EncodeError):
        nas.ies.enc_dnn("a..b")


def test_tai_list_types() -> None:
    t0 = bytes.fromhex("0100f110000001000002")        # type 0, two TACs
    t1 = bytes.fromhex("2200f110000010")              # type 1, three consecutive from 16
    t2 = bytes.fromhex("4100f11000000113001400000a")  # type 2, two TAIs
    for raw in (t0, t1, t2, t0 + t1 + t2):
        tl = nas.ies.dec_tai_list(raw)
        assert nas.ies.enc_tai_list(tl) == raw
    assert [t.tac for t in nas.ies.dec_tai_list(t1).all()] == [16, 17, 18]
    assert nas.Tai("310410", 10) in nas.ies.dec_tai_list(t2)
    for bad in (b"", b"\x60\x00\xf1\x10\x00\x00\x01", b"\x01\x00\xf1\x10\x00\x00\x01"):
        with pytest.raises(DecodeError):
            nas.ies.dec_tai_list(bad)


def test_qos_rules_known_encoding() -> None:
    # srsRAN's PDU session establishment accept: rule 1, create, DQR, no filters, prec 1, QFI 1.
    rules = nas.ies.dec_qos_rules(bytes.fromhex("010003300101"))
    assert rules == (nas.QosRule(1, 1, True, (), 1, 1),)
    rich = (nas.QosRule(1, 1, True, (nas.PacketFilter(1, 3, b"\x01"), nas.PacketFilter(2, 2, b"\x10\x0a\x00\x00\x01\xff\xff\xff\xff")), 255, 9, True),
            nas.QosRule(2, 5, False, (nas.PacketFilter(1, 0, None),), 10, 2),
            nas.QosRule(3, 2))
    raw = nas.ies.enc_qos_rules(rich)
    assert nas.ies.dec_qos_rules(raw) == rich
    for bad in (b"\x01\x00", b"\x01\x00\x05\x31\x01", b"\x01\x00\x02\x31\x01\x00"):
        with pytest.raises(DecodeError):
            nas.ies.dec_qos_rules(bad)


def test_pdu_address_ambr_timers() -> None:
    v4 = nas.PduAddress.ipv4("192.168.12.123")
    assert nas.ies.enc_pdu_address(v4).hex() == "01c0a80c7b"
    assert nas.ies.dec_pdu_address(bytes.fromhex("01c0a80c7b")).ipv4_address == "192.168.12.123"
    v6 = nas.ies.dec_pdu_address(b"\x02" + bytes(range(8)))
    assert v6.ipv6_interface_id == bytes(range(8)) and v6.ipv4_address is None
    both = nas.PduAddress(3, bytes(8) + bytes((10, 45, 0, 9)))
    assert nas.ies.dec_pdu_address(nas.ies.enc_pdu_address(both)).ipv4_address == "10.45.0.9"
    with pytest.raises(DecodeError):
        nas.ies.dec_pdu_address(b"\x01\x01\x02")
    ambr = nas.SessionAmbr.from_bps(100_000_000, 50_000_000)
    assert (ambr.dl_unit, ambr.dl, ambr.dl_bps, ambr.ul_bps) == (7, 25, 100_000_000, 50_000_000)
    assert nas.ies.dec_session_ambr(bytes.fromhex("0603e80603e8")).dl_bps == 1_000_000_000
    assert nas.GprsTimer3.from_seconds(3240).seconds == 3600  # rounds up to a representable value
    assert nas.GprsTimer3.from_seconds(120).seconds == 120
    assert nas.GprsTimer3(0, 6).seconds == 3600
    assert nas.GprsTimer3.deactivated().seconds is None
    assert nas.GprsTimer2.from_seconds(720).seconds == 720


def test_psi_bitmap_and_plmn() -> None:
    bm = nas.PsiBitmap.of(1, 10)
    assert nas.ies.enc_psi_bitmap(bm) == bytes((0x02, 0x04))
    assert nas.ies.dec_psi_bitmap(b"\x02\x04\x00") == nas.PsiBitmap(frozenset({1, 10}), b"\x00")
    assert nas.plmn_to_bytes("00101") == bytes.fromhex("00f110")
    assert nas.plmn_to_bytes("310410") == bytes.fromhex("130014")
    assert nas.plmn_from_bytes(bytes.fromhex("130014")) == "310410"
    with pytest.raises(DecodeError):
        nas.plmn_from_bytes(bytes.fromhex("0af110"))
    with pytest.raises(EncodeError):
        nas.plmn_to_bytes("0010")


# --- security header, 5GSM in transport, unknown IEs ------------------------------------------


def test_security_protected_round_trip() -> None:
    inner = nas.encode(nas.RegistrationComplete())
    prot = nas.SecurityProtectedNasMessage(2, b"\x01\x02\x03\x04", 9, inner)
    data = nas.encode(prot)
    assert data == bytes.fromhex("7e020102030409") + inner
    back = nas.decode(data)
    assert isinstance(back, nas.SecurityProtectedNasMessage)
    assert back.ciphered and not back.new_context and back.mac_int == 0x01020304
    assert back.mac_input == bytes((9,)) + inner
    assert back.plain().message_type == "RegistrationComplete"
    with pytest.raises(DecodeError):
        nas.decode(bytes.fromhex("7e05010203040900"))
    with pytest.raises(DecodeError):
        nas.decode(bytes.fromhex("7e0101020304"))
    garbage = nas.SecurityProtectedNasMessage(2, bytes(4), 0, b"\x99\x88\x77")
    with pytest.raises(DecodeError):
        garbage.plain()


def test_5gsm_inside_ul_nas_transport() -> None:
    sm = nas.PDUSessionEstablishmentRequest(pdu_session_id=1, pti=3,
                                            integrity_protection_max_data_rate=b"\xff\xff",
                                            pdu_session_type=1)
    ul = nas.ULNASTransport(payload_container_type=nas.PAYLOAD_N1_SM, payload_container=sm.to_bytes(),
                            pdu_session_id=1, request_type=1, s_nssai=nas.SNssai(1), dnn="internet")
    back = nas.decode(nas.encode(ul))
    # In a 5GMM message pdu_session_id is the IE (IEI 0x12), not a header field.
    assert back.pdu_session_id == 1 and back.ies["pdu_session_id"] == 1
    assert b"\x12\x01" in nas.encode(ul)
    inner = nas.decode(back.payload_container)
    assert inner == sm and inner.pdu_session_id == 1 and inner.pti == 3
    assert inner.is_5gsm and inner.epd == 0x2E


def test_unknown_and_repeated_optional_ies_are_kept() -> None:
    base = nas.encode(nas.RegistrationComplete())
    extra = bytes.fromhex("6602aabb") + bytes.fromhex("7f0003010203") + bytes.fromhex("9a")
    rep = bytes.fromhex("730001ff") + bytes.fromhex("730001ee")
    data = base + rep + extra
    msg = nas.decode(data)
    assert msg.sor_transparent_container == b"\xff"
    raws = [v for v in msg.ies.values() if isinstance(v, nas.RawIe)]
    assert [r.iei for r in raws] == [0x73, 0x66, 0x7F, 0x9A]
    assert nas.encode(msg) == data


def test_bad_optional_ie_is_treated_as_absent() -> None:
    # TS 24.501 §7.7.2: a Registration Accept whose T3512 IE has 2 octets instead of 1.
    data = nas.encode(nas.RegistrationAccept(registration_result=nas.RegistrationResult(1)))
    data += bytes.fromhex("5e020101") + bytes.fromhex("5e0106")
    msg = nas.decode(data)
    bad = [v for v in msg.ies.values() if isinstance(v, nas.RawIe)]
    assert len(bad) == 1 and bad[0].iei == 0x5E and "t3512_value" in bad[0].reason
    assert msg.t3512_value == nas.GprsTimer3(0, 6)  # the later, valid copy is used
    assert nas.encode(msg) == data


@pytest.mark.parametrize("hexdata, reason", [
    ("", "shorter"),
    ("7e00", "shorter"),
    ("7e0099", "unknown 5GMM message type"),
    ("2e0101ee", "unknown 5GSM message type"),
    ("2e0101", "5GSM header truncated"),
    ("1200410000", "extended protocol discriminator"),
    ("7e0044", "mandatory IE cause missing"),
    ("7e00417900", "mandatory IE mobile_identity missing"),
    ("7e0041790005f2", "overruns"),
    ("7e004300", "unknown TLV IE truncated"),
    ("7e00437300", "IE sor_transparent_container truncated"),
    ("7e0043730005ff", "overruns"),
    ("7e00422701", "overruns"),
    ("7e005c000101", "mobile_identity"),
    ("7e0042010177000bf200f11", "odd"),
])
def test_decode_errors(hexdata: str, reason: str) -> None:
    if len(hexdata) % 2:
        hexdata = hexdata[:-1]
        reason = ""
    with pytest.raises(DecodeError) as exc:
        nas.decode(bytes.fromhex(hexdata))
    assert reason.lower() in str(exc.value).lower()
    assert exc.value.protocol == "NAS"
