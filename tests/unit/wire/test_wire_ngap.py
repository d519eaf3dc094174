"""NGAP codec: builders, helpers, APER framing against pycrate, malformed input (TS 38.413)."""

from __future__ import annotations

import pytest
from pycrate_asn1dir import NGAP as PYCRATE_NGAP

from fivecore.wire import DecodeError, EncodeError, nas, ngap

NAS = nas.encode(nas.RegistrationComplete())


def _pycrate_encode(pdu: ngap.NgapPdu) -> bytes:
    """Reference encoding of the whole PDU by pycrate (independent of our hand-written framing)."""
    obj = PYCRATE_NGAP.NGAP_PDU_Descriptions.NGAP_PDU
    alt = {"initiating": "initiatingMessage", "successful": "successfulOutcome",
           "unsuccessful": "unsuccessfulOutcome"}[pdu.kind]
    from fivecore.wire.ngap.codec import _PROCS_BY_NAME, KINDS
    md = _PROCS_BY_NAME[pdu.procedure].messages[KINDS.index(pdu.kind)]
    ies = [{"id": md.by_name[k].id, "criticality": pdu.ie_criticality[k],
            "value": (md.by_name[k].type_name, v)} for k, v in pdu.ies.items()]
    obj.set_val((alt, {"procedureCode": pdu.procedure_code, "criticality": pdu.criticality,
                       "value": (md.name, {"protocolIEs": ies})}))
    return obj.to_aper()


def _messages() -> list[ngap.NgapPdu]:
    uli = ngap.user_location_nr("00101", 1, 0x10)
    return [
        ngap.NgapPdu("NGSetup", "initiating", {
            "GlobalRANNodeID": ngap.global_gnb_id("00101", 1, 22),
            "RANNodeName": "gnb1",
            "SupportedTAList": ngap.supported_ta_list([(1, "00101", [(1, None), (1, 0x010203)])]),
            "DefaultPagingDRX": "v128"}),
        ngap.NgapPdu.for_message("NGSetupResponse", {
            "AMFName": "amf1", "ServedGUAMIList": ngap.served_guami_list([("00101", 2, 1, 0)]),
            "RelativeAMFCapacity": 255,
            "PLMNSupportList": ngap.plmn_support_list([("00101", [(1, None)])])}),
        ngap.NgapPdu("NGSetup", "unsuccessful", {"Cause": ngap.cause("misc", "unspecified"),
                                                 "TimeToWait": "v10s"}),
        ngap.NgapPdu("InitialUEMessage", "initiating", {
            "RAN-UE-NGAP-ID": 1, "NAS-PDU": NAS, "UserLocationInformation": uli,
            "RRCEstablishmentCause": "mo-Signalling", "UEContextRequest": "requested",
            "FiveG-S-TMSI": ngap.five_g_s_tmsi(1016, 0, 0xC0FFEE)}),
        ngap.NgapPdu("DownlinkNASTransport", "initiating", {
            "AMF-UE-NGAP-ID": (1 << 40) - 1, "RAN-UE-NGAP-ID": 0xFFFFFFFF, "NAS-PDU": NAS}),
        ngap.NgapPdu("UplinkNASTransport", "initiating", {
            "AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 1, "NAS-PDU": NAS, "UserLocationInformation": uli}),
        ngap.NgapPdu("InitialContextSetup", "initiating", {
            "AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 1,
            "GUAMI": ngap.guami("00101", 2, 1, 0),
            "AllowedNSSAI": [{"s-NSSAI": ngap.s_nssai(1)}],
            "UESecurityCapabilities": ngap.ue_security_capabilities([1, 2], [1, 2]),
            "SecurityKey": ngap.security_key(bytes(range(32))), "NAS-PDU": NAS}),
        ngap.NgapPdu("InitialContextSetup", "successful", {"AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 1}),
        ngap.NgapPdu("UEContextRelease", "initiating", {
            "UE-NGAP-IDs": ("uE-NGAP-ID-pair", {"aMF-UE-NGAP-ID": 7, "rAN-UE-NGAP-ID": 1}),
            "Cause": ngap.cause("nas", "normal-release")}),
        ngap.NgapPdu("UEContextRelease", "successful", {"AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 1}),
        ngap.NgapPdu("UEContextReleaseRequest", "initiating", {
            "AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 1,
            "Cause": ngap.cause("radioNetwork", "user-inactivity")}),
        ngap.NgapPdu("PDUSessionResourceSetup", "initiating", {
            "AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 1,
            "PDUSessionResourceSetupListSUReq": [{
                "pDUSessionID": 1, "s-NSSAI": ngap.s_nssai(1), "pDUSessionNAS-PDU": NAS,
                "pDUSessionResourceSetupRequestTransfer": b"\x00\x00\x00"}]}),
        ngap.NgapPdu("PDUSessionResourceSetup", "successful", {
            "AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 1,
            "PDUSessionResourceSetupListSURes": [{
                "pDUSessionID": 1, "pDUSessionResourceSetupResponseTransfer": b"\x00\x01"}]}),
        ngap.NgapPdu("ErrorIndication", "initiating", {
            "Cause": ngap.cause("protocol", "abstract-syntax-error-falsely-constructed-message")}),
        ngap.NgapPdu("Paging", "initiating", {
            "UEPagingIdentity": ("fiveG-S-TMSI", ngap.five_g_s_tmsi(1, 0, 5)),
            "TAIListForPaging": [{"tAI": ngap.tai("00101", 1)}]}),
    ]


@pytest.mark.parametrize("pdu", _messages(), ids=lambda p: f"{p.procedure}-{p.kind}")
def test_build_round_trip_matches_pycrate(pdu: ngap.NgapPdu) -> None:
    data = ngap.encode(pdu)
    assert data == _pycrate_encode(pdu)
    back = ngap.decode(data)
    assert back == pdu
    assert ngap.encode(back) == data
    assert back.missing_mandatory() == []


def test_attributes_and_defaults() -> None:
    pdu = _messages()[3]
    assert pdu.procedure_code == 15 and pdu.message == "InitialUEMessage"
    assert pdu.criticality == "ignore"
    assert pdu.ie_criticality["RAN-UE-NGAP-ID"] == "reject"
    assert pdu["NAS-PDU"] == NAS and "FiveG-S-TMSI" in pdu and pdu.get("AMFSetID") is None
    assert ngap.procedures()["NGSetup"] == 21
    assert ngap.message_names()["NGSetupFailure"] == ("NGSetup", "unsuccessful")
    assert ngap.ie_names("InitialUEMessage")["NAS-PDU"] == "mandatory"


def test_helpers_round_trip() -> None:
    assert ngap.plmn("00101") == bytes.fromhex("00f110") and ngap.plmn_str(b"\x00\xf1\x10") == "00101"
    assert ngap.tai_from(ngap.tai("310410", 0x10203)) == ("310410", 0x10203)
    loc = ngap.user_location_from(ngap.user_location_nr("00101", 7, 0x123456789))
    assert loc == {"plmn": "00101", "tac": 7, "nci": 0x123456789, "cell_plmn": "00101"}
    assert ngap.guami_from(ngap.guami("00101", 202, 1016, 3)) == ("00101", 202, 1016, 3)
    assert ngap.s_nssai_from(ngap.s_nssai(1, 0xABCDEF)) == (1, 0xABCDEF)
    assert ngap.global_gnb_id_from(ngap.global_gnb_id("00101", 5, 32)) == ("00101", 5, 32)
    caps = ngap.ue_security_capabilities(nea=[0, 1, 2], nia=[2])
    assert caps["nRencryptionAlgorithms"] == (0xC000, 16)
    assert ngap.ue_security_capabilities_from(caps)["nea"] == [1, 2]
    assert ngap.gtp_tunnel_from(ngap.gtp_tunnel("127.0.0.7", 0x1234)) == ("127.0.0.7", 0x1234)
    assert ngap.gtp_tunnel_from(ngap.gtp_tunnel("::1", 9)) == ("::1", 9)
    with pytest.raises(EncodeError):
        ngap.nr_cgi("00101", 1 << 36)
    with pytest.raises(EncodeError):
        ngap.global_gnb_id("00101", 1, 40)
    with pytest.raises(DecodeError):
        ngap.user_location_from(("userLocationInformationEUTRA", {}))


def test_transfer_containers() -> None:
    value = {
        "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": 10**8,
                                              "pDUSessionAggregateMaximumBitRateUL": 10**8},
        "UL-NGU-UP-TNLInformation": ngap.gtp_tunnel("127.0.0.7", 5),
        "PDUSessionType": "ipv4",
        "QosFlowSetupRequestList": [{"qosFlowIdentifier": 1, "qosFlowLevelQosParameters": {
            "qosCharacteristics": ("nonDynamic5QI", {"fiveQI": 9}),
            "allocationAndRetentionPriority": {
                "priorityLevelARP": 8, "pre-emptionCapability": "shall-not-trigger-pre-emption",
                "pre-emptionVulnerability": "not-pre-emptable"}}}]}
    raw = ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", value)
    assert ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", raw) == value
    with pytest.raises(DecodeError):
        ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", raw[:-3])
    with pytest.raises(DecodeError):
        ngap.decode_ie("NoSuchType", raw)
    with pytest.raises(EncodeError):
        ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", {"Bogus": 1})


def test_fragmented_pdu_over_16k_round_trips() -> None:
    big = bytes(range(256)) * 100  # 25.6 KiB NAS-PDU -> X.691 fragmented lengths
    pdu = ngap.NgapPdu("DownlinkNASTransport", "initiating",
                       {"AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": 2, "NAS-PDU": big})
    data = ngap.encode(pdu)
    assert data == _pycrate_encode(pdu)
    assert data[3] & 0xC0 == 0xC0  # the outer open type is fragmented
    assert ngap.decode(data) == pdu
    for cut in (len(data) - 1, 20000, 16390, 5):
        with pytest.raises(DecodeError):
            ngap.decode(data[:cut])


def test_encode_errors() -> None:
    with pytest.raises(EncodeError):
        ngap.NgapPdu("NoSuchProcedure")
    with pytest.raises(EncodeError):
        ngap.NgapPdu("NGSetup", "sideways")
    with pytest.raises(EncodeError):
        ngap.NgapPdu("ErrorIndication", "successful")
    with pytest.raises(EncodeError):
        ngap.NgapPdu("DownlinkNASTransport", ies={"Bogus": 1})
    with pytest.raises(EncodeError):
        ngap.encode(ngap.NgapPdu("DownlinkNASTransport", ies={"RAN-UE-NGAP-ID": 1}))
    with pytest.raises(EncodeError):
        ngap.encode(ngap.NgapPdu("DownlinkNASTransport",
                                 ies={"AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": -1, "NAS-PDU": b""}))
    lax = ngap.encode(ngap.NgapPdu("DownlinkNASTransport", ies={"RAN-UE-NGAP-ID": 1}), strict=False)
    assert ngap.decode(lax).missing_mandatory() == ["AMF-UE-NGAP-ID", "NAS-PDU"]


def test_unknown_ie_kept_and_duplicate_rejected() -> None:
    data = bytearray(ngap.encode(ngap.NgapPdu("UEContextRelease", "successful",
                                              {"AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": 2})))
    # Append an IE id 999 with 2 octets and bump the IE count and lengths.
    extra = bytes.fromhex("03e7400201ff")
    body = bytes(data[4:])
    count = int.from_bytes(body[1:3], "big") + 1
    body = body[:1] + count.to_bytes(2, "big") + body[3:] + extra
    pdu_bytes = bytes(data[:3]) + bytes((len(body),)) + body
    pdu = ngap.decode(pdu_bytes)
    raw = pdu["IE-999"]
    assert isinstance(raw, ngap.RawIe) and raw.id == 999 and raw.data == b"\x01\xff"
    assert pdu.ie_criticality["IE-999"] == "ignore"
    assert ngap.encode(pdu) == pdu_bytes
    dup = bytes(data[:3]) + bytes((len(body),)) + body[:1] + count.to_bytes(2, "big") + \
        body[3:-len(extra)] + body[3:3 + 6]
    dup = dup[:3] + bytes((len(dup) - 4,)) + dup[4:]
    with pytest.raises(DecodeError, match="repeated"):
        ngap.decode(dup)


def _frame(value_hex: str) -> str:
    """InitialUEMessage header + a correct length for ``value_hex`` (the message container)."""
    return "000f40" + bytes((len(bytes.fromhex(value_hex)),)).hex() + value_hex


@pytest.mark.parametrize("hexdata, reason", [
    ("", "shorter"),
    ("000f40", "shorter"),
    ("800f4000", "extension"),
    ("010f4000", "padding"),
    ("600f4000", "choice index"),
    ("00ff4000", "unknown procedure code"),
    ("200f4000", "no successful"),
    ("000fc000", "criticality"),
    ("000f4005000000", "overruns"),
    ("000f40030000000000", "trailing"),
    ("000f40c500", "fragment multiplier"),
    ("000f40bf", "length determinant truncated"),
    (_frame("0000"), "container truncated"),
    (_frame("000001"), "IE header truncated"),
    (_frame("800000"), "extension additions"),
    (_frame("000001005500050001"), "overruns"),
    (_frame("000001005500020001ff"), "trailing"),
    (_frame("00000100550001ff"), "IE RAN-UE-NGAP-ID"),
    (_frame("0000010055c0020001"), "criticality"),
    (_frame("00000100550002000100550002"), "trailing"),
])
def test_decode_errors(hexdata: str, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        ngap.decode(bytes.fromhex(hexdata))
    assert reason.lower() in str(exc.value).lower()
    assert exc.value.protocol == "NGAP"


def test_builder_sorts_ies_into_table_order_but_decode_keeps_wire_order() -> None:
    pdu = ngap.NgapPdu("DownlinkNASTransport", ies={"NAS-PDU": NAS, "RAN-UE-NGAP-ID": 1,
                                                     "AMF-UE-NGAP-ID": 2})
    assert list(pdu.ies) == ["AMF-UE-NGAP-ID", "RAN-UE-NGAP-ID", "NAS-PDU"]
    data = ngap.encode(pdu)
    # Swap the first two IEs on the wire: still decodable, and re-encodes as received.
    body = data[4:]
    ie1 = body[3:3 + 3 + 1 + body[6]]
    rest = body[3 + len(ie1):]
    ie2 = rest[:3 + 1 + rest[3]]
    swapped = data[:4] + body[:3] + ie2 + ie1 + rest[len(ie2):]
    back = ngap.decode(swapped)
    assert list(back.ies) == ["RAN-UE-NGAP-ID", "AMF-UE-NGAP-ID", "NAS-PDU"]
    assert ngap.encode(back) == swapped
