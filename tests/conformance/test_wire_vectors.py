"""Known-answer vectors: ../shared/vectors/messages.json (srsRAN 4G unit-test dumps).

Every entry decodes, the fields its source asserts (translated by hand below, one function per
entry) match, and re-encoding gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fivecore.wire import nas, ngap

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
ENTRIES = {e["id"]: e for e in json.loads((SHARED / "vectors" / "messages.json").read_text())["entries"]}

CHECKS: dict[str, Callable[[Any], None]] = {}


def check(entry_id: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    def deco(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        CHECKS[entry_id] = fn
        return fn

    return deco


def _plmn_num(b: bytes) -> int:
    return int.from_bytes(b, "big")  # srsRAN's plmn_id.to_number() of the 3 octets


# --- NGAP ------------------------------------------------------------------------------------


@check("srsran4g_ngap_amf_upd")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality) == ("initiating", 0, "reject")
    assert p.message == "AMFConfigurationUpdate"
    assert list(p.ies) == ["AMFName"]
    assert ngap.ie_names("AMFConfigurationUpdate") and p.ie_criticality["AMFName"] == "reject"
    assert p["AMFName"] == "srsran"


@check("srsran4g_ngap_ngsetup_request")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality, p.message) == (
        "initiating", 21, "reject", "NGSetupRequest")
    assert p.ie_criticality["GlobalRANNodeID"] == "reject"
    alt, gnb = p["GlobalRANNodeID"]
    assert alt == "globalGNB-ID" and _plmn_num(gnb["pLMNIdentity"]) == 0xF110
    assert gnb["gNB-ID"][0] == "gNB-ID" and gnb["gNB-ID"][1][0] == 1
    assert "RANNodeName" in p
    ta = p["SupportedTAList"]
    assert p.ie_criticality["SupportedTAList"] == "reject" and len(ta) == 1
    assert int.from_bytes(ta[0]["tAC"], "big") == 0x75
    bc = ta[0]["broadcastPLMNList"]
    assert len(bc) == 1 and _plmn_num(bc[0]["pLMNIdentity"]) == 0xF110
    assert bc[0]["tAISliceSupportList"][0]["s-NSSAI"]["sST"] == b"\x01"
    assert p.ie_criticality["DefaultPagingDRX"] == "ignore" and p["DefaultPagingDRX"] == "v256"


@check("srsran4g_ngap_ngsetup_response")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality, p.message) == (
        "successful", 21, "reject", "NGSetupResponse")
    assert p.ie_criticality["AMFName"] == "reject"
    assert len(p["AMFName"]) == 56
    assert p["AMFName"] == "amf1.cluster1.net2.amf.5gc.mnc001.mcc001.3gppnetwork.org"
    assert p.ie_criticality["ServedGUAMIList"] == "reject" and len(p["ServedGUAMIList"]) == 1
    g = p["ServedGUAMIList"][0]["gUAMI"]
    assert _plmn_num(g["pLMNIdentity"]) == 0xF110
    assert ngap.guami_from(g)[1:] == (0b111000, 0b100010, 0b10111)


@check("srsran4g_ngap_init_ue_msg")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality, p.message) == (
        "initiating", 15, "ignore", "InitialUEMessage")
    assert p.ie_criticality["RAN-UE-NGAP-ID"] == "reject" and p["RAN-UE-NGAP-ID"] == 1
    assert len(p["NAS-PDU"]) == 124
    alt, uli = p["UserLocationInformation"]
    assert alt == "userLocationInformationNR"
    assert _plmn_num(uli["nR-CGI"]["pLMNIdentity"]) == 0xF110
    inner = nas.decode(p["NAS-PDU"])  # and the NAS inside decodes too
    assert inner.message_type == "RegistrationRequest"


@check("srsran4g_ngap_dl_nas_transport")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality, p.message) == (
        "initiating", 4, "ignore", "DownlinkNASTransport")
    assert len(p["NAS-PDU"]) == 42


@check("srsran4g_ngap_dl_nas_transport2")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality, p.message) == (
        "initiating", 4, "ignore", "DownlinkNASTransport")
    assert p["AMF-UE-NGAP-ID"] == 12948813776
    assert len(p["NAS-PDU"]) == 42


@check("srsran4g_ngap_ue_context_release")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality, p.message) == (
        "initiating", 41, "reject", "UEContextReleaseCommand")


@check("srsran4g_ngap_ue_context_release_complete")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality, p.message) == (
        "successful", 41, "reject", "UEContextReleaseComplete")


@check("srsran4g_ngap_session_res_setup_request")
def _(p: ngap.NgapPdu) -> None:
    assert (p.kind, p.procedure_code, p.criticality, p.message) == (
        "initiating", 29, "reject", "PDUSessionResourceSetupRequest")
    lst = p["PDUSessionResourceSetupListSUReq"]
    assert len(lst) == 1
    item = lst[0]
    assert item["pDUSessionID"] == 1 and item["s-NSSAI"]["sST"] == b"\x00"
    transfer = item["pDUSessionResourceSetupRequestTransfer"]
    assert transfer.hex() == "000003008b000a01f0c0a811d20000000100860001100088000700010000090000"
    req = ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", transfer)
    alt, tun = req["UL-NGU-UP-TNLInformation"]  # IE id 139
    assert alt == "gTPTunnel"
    val, bits = tun["transportLayerAddress"]
    assert format(val, f"0{bits}b") == "11000000101010000001000111010010"
    assert ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", req) == transfer


# --- NAS -------------------------------------------------------------------------------------


def _plain(m: Any, sht: int = 0, mac: int | None = None, sqn: int | None = None) -> nas.NasMessage:
    if sht == 0:
        assert isinstance(m, nas.NasMessage) and m.epd == nas.EPD_5GMM
        return m
    assert isinstance(m, nas.SecurityProtectedNasMessage)
    assert m.security_header_type == sht
    assert m.mac_int == mac and m.sqn == sqn
    inner = m.plain()
    assert inner.epd == nas.EPD_5GMM  # inner header: 5GMM, plain
    assert nas.encode(inner) == m.payload
    return inner


def _caps(cap: nas.UeSecurityCapability, nea: list[int], nia: list[int]) -> None:
    assert [i for i in range(8) if cap.supports_nea(i)] == nea
    assert [i for i in range(8) if cap.supports_nia(i)] == nia


@check("srsran4g_nas5gs_registration_request")
def _(m: Any) -> None:
    r = _plain(m)
    assert r.message_type == "RegistrationRequest"
    assert r.registration_type == nas.RegistrationType(1, follow_on=True)
    assert r.ngksi == nas.NgKsi(0, 7)  # native, no key available
    g = r.mobile_identity
    assert g.type == "guti" and (g.amf_pointer, g.amf_region_id, g.amf_set_id) == (0, 0, 0)
    assert g.plmn == "000000"  # MCC digits 0,0,0 and MNC digits 0,0,0
    cap = r.ue_security_capability
    _caps(cap, [0, 1, 2, 3], [0, 1, 2, 3])
    assert cap.eea is None  # eps_caps_present == false
    # S1 UE network capability (TS 24.301 §9.9.3.34), octet by octet as srsRAN asserts it.
    eea, eia, uea, uia, o7, o8, o9 = r.s1_ue_network_capability
    assert eea == 0xF0 and eia == 0xF0  # EEA0-3 and EIA0-3 true, 4-7 false
    assert uea == 0xC0  # UEA0, UEA1 true; UEA2-7 false
    assert uia == 0xC0  # UCS2 support, UIA1 true; UIA2-7 false
    assert o7 == 0x01  # NF capability true; ProSe-dd, ProSe, H.245-ASH, ACC-CSFB, LPP, LCS, SRVCC false
    assert o8 == 0x80  # ePCO true; HC-CP/ERw/oPDN/S1-U data/UP/CP CIoT, ProSe relay/dc false
    assert o9 == 0x30  # N1 mode and DCNR true; 15 bearers, SGC, CP backoff, ... false


@check("srsran4g_nas5gs_registration_request_2")
def _(m: Any) -> None:
    r = _plain(m)
    assert r.message_type == "RegistrationRequest"
    assert r.registration_type == nas.RegistrationType(1, follow_on=True)
    assert r.ngksi == nas.NgKsi(0, 7)
    s = r.mobile_identity
    assert s.type == "suci" and s.supi_format == 0
    assert s.plmn == "00101"  # mcc 0,0,1 / mnc 0,1,F
    assert s.routing_indicator == "17"  # 1,7,F,F
    assert s.protection_scheme == 2  # ECIES profile B
    assert s.hn_key_id == 27


@check("srsran4g_nas5gs_deregistration_request")
def _(m: Any) -> None:
    d = _plain(m, 1, 0x6F0325F5, 2)
    assert d.message_type == "DeregistrationRequestUEOriginating"
    assert d.deregistration_type == nas.DeregistrationType(switch_off=True,
                                                           re_registration_required=False,
                                                           access_type=1)
    assert d.ngksi == nas.NgKsi(0, 0)
    g = d.mobile_identity
    assert g.type == "guti"
    assert (g.amf_pointer, g.amf_region_id, g.amf_set_id, g.tmsi) == (0, 202, 1016, 1)
    assert g.plmn == "00101"


@check("srsran4g_nas5gs_authentication_request")
def _(m: Any) -> None:
    a = _plain(m)
    assert a.message_type == "AuthenticationRequest"
    assert a.ngksi == nas.NgKsi(0, 0)
    assert a.abba == b"\x00\x00"
    assert a.rand[0] == 0x16 and a.rand[15] == 0x71
    assert len(a.autn) == 16 and a.autn[0] == 0xA3 and a.autn[15] == 0xED


@check("srsran4g_nas5gs_authentication_resp_request")
def _(m: Any) -> None:
    a = _plain(m)
    assert a.message_type == "AuthenticationResponse"
    assert len(a.res_star) == 16 and a.res_star[0] == 0xA1 and a.res_star[15] == 0x08


@check("srsran4g_nas5gs_security_command")
def _(m: Any) -> None:
    c = _plain(m, 3, 0x533FCB29, 0)
    assert c.message_type == "SecurityModeCommand"
    assert c.ngksi == nas.NgKsi(0, 0)
    assert c.selected_nas_security_algorithms == nas.NasSecurityAlgorithms(ciphering=0, integrity=2)
    cap = c.replayed_ue_security_capabilities
    _caps(cap, [0, 1, 2, 3], [1, 2, 3])
    assert cap.eea is not None  # eps_caps_present
    assert [i for i in range(8) if cap.supports_eea(i)] == [0, 1, 2, 3]
    assert [i for i in range(8) if cap.supports_eia(i)] == [1, 2, 3]
    assert c.imeisv_request == 1
    assert c.additional_5g_security_information == b"\x00"  # RINMR and HDP false


@check("srsran4g_nas5gs_security_complete")
def _(m: Any) -> None:
    c = _plain(m, 4, 0x4088E4E4, 0)
    assert c.message_type == "SecurityModeComplete"
    i = c.imeisv
    assert i.type == "imeisv" and i.digits == "8651160458202125"
    assert len(c.nas_message_container) == 87
    assert nas.decode(c.nas_message_container).message_type == "RegistrationRequest"


@check("srsran4g_nas5gs_registration_accept")
def _(m: Any) -> None:
    a = _plain(m, 2, 0xD2B078F7, 1)
    assert a.message_type == "RegistrationAccept"


@check("srsran4g_nas5gs_registration_complete")
def _(m: Any) -> None:
    a = _plain(m, 2, 0xA0B88817, 1)
    assert a.message_type == "RegistrationComplete"


@check("srsran4g_nas5gs_pdu_session_establishment_request")
def _(m: Any) -> None:
    u = _plain(m, 2, 0xDCF91D1B, 2)
    assert u.message_type == "ULNASTransport"
    assert u.payload_container_type == nas.PAYLOAD_N1_SM
    pc = u.payload_container
    assert len(pc) == 6 and pc[0] == 0x2E and pc[5] == 0xFF
    sm = nas.decode(pc)
    assert sm.epd == nas.EPD_5GSM and sm.pdu_session_id == 10 and sm.pti == 0
    assert sm.message_type == "PDUSessionEstablishmentRequest"
    assert sm.integrity_protection_max_data_rate == b"\xff\xff"  # full data rate UL and DL
    assert u.pdu_session_id == 10
    assert u.request_type == 1  # initial request
    assert u.s_nssai == nas.SNssai(1, 66051)
    assert u.dnn == "internet"
    assert nas.ies.enc_dnn(u.dnn) == b"\x08internet"  # dnn_value[0] == 0x08 ... [8] == 0x74


def test_every_entry_has_a_check() -> None:
    assert set(CHECKS) == set(ENTRIES)


@pytest.mark.parametrize("entry_id", sorted(ENTRIES))
def test_vector(entry_id: str) -> None:
    e = ENTRIES[entry_id]
    data = bytes.fromhex(e["hex"])
    assert len(data) == e["length_octets"]
    if e["protocol"].startswith("NGAP"):
        msg: Any = ngap.decode(data)
        assert ngap.encode(msg) == data
    else:
        msg = nas.decode(data)
        assert nas.encode(msg) == data
    CHECKS[entry_id](msg)
