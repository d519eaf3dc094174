"""Realistic example messages of every type the wire codecs build.

Used by the Wireshark conformance test (one pcap holding every message type), by
``bench/codec.py`` and as copy-paste starting points. Values follow the test network of
ARCHITECTURE.md (PLMN 001/01, TAC 1, SST 1, DNN ``internet``, UE pool 10.45.0.0/16).
"""

from __future__ import annotations

from fivecore.wire import gtpu, nas, pfcp

PLMN = "00101"
MSIN = "0000000001"
RAND = bytes.fromhex("1646243275b8b9c718b605c6ff039671")
AUTN = bytes.fromhex("a30926e42eea8000f687d5baa2d956ed")
RES_STAR = bytes.fromhex("a11f51a41da9b529b33b043ae1e20208")
AUTS = bytes(range(14))
EAP = bytes.fromhex("01010008" + "17010000")  # EAP-Request/AKA' header-only (RFC 9048)
CAPS = nas.UeSecurityCapability.of(nea=[0, 1, 2, 3], nia=[1, 2, 3], eea=[0, 1, 2, 3], eia=[1, 2, 3])
GUTI = nas.MobileIdentity.guti(PLMN, 0xCA, 0x3F8, 0, 0x00000001)
S_TMSI = nas.MobileIdentity.s_tmsi(0x3F8, 0, 0x00000001)
SUCI_NULL = nas.MobileIdentity.suci_null(PLMN, MSIN)
SUCI_PROFILE_A = nas.MobileIdentity.suci_ecies(PLMN, 1, 1, bytes(range(32)) + bytes(5) + bytes(8))
QOS_RULES = (nas.QosRule(1, 1, True, (nas.PacketFilter.match_all(1),), 255, 1),)
QOS_FLOWS = bytes.fromhex("012041010109")  # QFI 1, create, E=1, one parameter: 5QI (id 1) = 9


def _sm(**ies: object) -> dict[str, object]:
    return ies


def nas_samples() -> list[nas.NasMessage]:
    """One plain message of every NAS type (TS 24.501 §8), with typical IEs filled in."""
    sm_hdr = {"pdu_session_id": 1, "pti": 1}
    return [
        nas.RegistrationRequest(
            registration_type=nas.RegistrationType(1, follow_on=True), ngksi=nas.NgKsi(0, 7),
            mobile_identity=SUCI_NULL, ue_security_capability=CAPS,
            requested_nssai=(nas.SNssai(1),), mm_capability=b"\x00",
            pdu_session_status=nas.PsiBitmap.of(1)),
        nas.RegistrationAccept(
            registration_result=nas.RegistrationResult(1), guti=GUTI,
            tai_list=nas.TaiList.of(nas.Tai(PLMN, 1)), allowed_nssai=(nas.SNssai(1),),
            t3512_value=nas.GprsTimer3(5, 30), t3502_value=nas.GprsTimer2(1, 12)),
        nas.RegistrationComplete(),
        nas.RegistrationReject(cause=7, t3346_value=nas.GprsTimer2(1, 1)),
        nas.DeregistrationRequestUEOriginating(
            deregistration_type=nas.DeregistrationType(True, False, 1), ngksi=nas.NgKsi(0, 0),
            mobile_identity=GUTI),
        nas.DeregistrationAcceptUEOriginating(),
        nas.DeregistrationRequestUETerminated(
            deregistration_type=nas.DeregistrationType(False, True, 1), cause=10),
        nas.DeregistrationAcceptUETerminated(),
        nas.ServiceRequest(ngksi=nas.NgKsi(0, 0), service_type=1, s_tmsi=S_TMSI,
                           uplink_data_status=nas.PsiBitmap.of(1)),
        nas.ServiceReject(cause=9),
        nas.ServiceAccept(pdu_session_status=nas.PsiBitmap.of(1)),
        nas.ConfigurationUpdateCommand(configuration_update_indication=1, guti=GUTI,
                                       tai_list=nas.TaiList.of(nas.Tai(PLMN, 1))),
        nas.ConfigurationUpdateComplete(),
        nas.AuthenticationRequest(ngksi=nas.NgKsi(0, 0), abba=b"\x00\x00", rand=RAND, autn=AUTN),
        nas.AuthenticationResponse(res_star=RES_STAR),
        nas.AuthenticationReject(),
        nas.AuthenticationFailure(cause=21, auth_failure_parameter=AUTS),
        nas.AuthenticationResult(ngksi=nas.NgKsi(0, 0), eap_message=bytes.fromhex("03010004"),
                                 abba=b"\x00\x00"),
        nas.IdentityRequest(identity_type=1),
        nas.IdentityResponse(mobile_identity=SUCI_PROFILE_A),
        nas.SecurityModeCommand(
            selected_nas_security_algorithms=nas.NasSecurityAlgorithms(0, 2), ngksi=nas.NgKsi(0, 0),
            replayed_ue_security_capabilities=CAPS, imeisv_request=1,
            additional_5g_security_information=b"\x00"),
        nas.SecurityModeComplete(imeisv=nas.MobileIdentity.imeisv("8651160458202125")),
        nas.SecurityModeReject(cause=24),
        nas.FiveGMMStatus(cause=96),
        nas.Notification(access_type=2),
        nas.NotificationResponse(pdu_session_status=nas.PsiBitmap.of(1)),
        nas.ULNASTransport(payload_container_type=1, payload_container=bytes.fromhex("2e0101c1ffff91"),
                           pdu_session_id=1, request_type=1, s_nssai=nas.SNssai(1), dnn="internet"),
        nas.DLNASTransport(payload_container_type=1, payload_container=bytes.fromhex("2e0101d61a"),
                           pdu_session_id=1),
        nas.PDUSessionEstablishmentRequest(**sm_hdr, integrity_protection_max_data_rate=b"\xff\xff",
                                           pdu_session_type=1, ssc_mode=1),
        nas.PDUSessionEstablishmentAccept(
            **sm_hdr, selected_pdu_session_type=1, selected_ssc_mode=1,
            authorized_qos_rules=QOS_RULES, session_ambr=nas.SessionAmbr(6, 100, 6, 100),
            pdu_address=nas.PduAddress.ipv4("10.45.0.2"), s_nssai=nas.SNssai(1),
            authorized_qos_flow_descriptions=QOS_FLOWS, dnn="internet"),
        nas.PDUSessionEstablishmentReject(**sm_hdr, cause=27),
        nas.PDUSessionModificationRequest(**sm_hdr, cause=31),
        nas.PDUSessionModificationReject(**sm_hdr, cause=31),
        nas.PDUSessionModificationCommand(**sm_hdr, session_ambr=nas.SessionAmbr(6, 200, 6, 200),
                                          authorized_qos_rules=QOS_RULES),
        nas.PDUSessionModificationComplete(**sm_hdr),
        nas.PDUSessionModificationCommandReject(**sm_hdr, cause=83),
        nas.PDUSessionReleaseRequest(**sm_hdr, cause=36),
        nas.PDUSessionReleaseReject(**sm_hdr, cause=35),
        nas.PDUSessionReleaseCommand(**sm_hdr, cause=36),
        nas.PDUSessionReleaseComplete(**sm_hdr),
        nas.FiveGSMStatus(**sm_hdr, cause=98),
    ]


# Direction of each NAS message: True = uplink (UE -> network).
NAS_UPLINK = {
    "RegistrationRequest", "RegistrationComplete", "DeregistrationRequestUEOriginating",
    "DeregistrationAcceptUETerminated", "ServiceRequest", "ConfigurationUpdateComplete",
    "AuthenticationResponse", "AuthenticationFailure", "IdentityResponse", "SecurityModeComplete",
    "SecurityModeReject", "5GMMStatus", "NotificationResponse", "ULNASTransport", "PDUSessionEstablishmentRequest",
    "PDUSessionModificationRequest", "PDUSessionModificationComplete",
    "PDUSessionModificationCommandReject", "PDUSessionReleaseRequest",
    "PDUSessionReleaseComplete", "5GSMStatus",
}


def transfer_setup_request(upf_ip: str = "127.0.0.7", teid: int = 0x100) -> bytes:
    """A PDUSessionResourceSetupRequestTransfer (TS 38.413 §9.3.4.1) as the SMF sends it."""
    from fivecore.wire import ngap

    return ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", {
        "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": 10**8,
                                              "pDUSessionAggregateMaximumBitRateUL": 10**8},
        "UL-NGU-UP-TNLInformation": ngap.gtp_tunnel(upf_ip, teid),
        "PDUSessionType": "ipv4",
        "QosFlowSetupRequestList": [{"qosFlowIdentifier": 1, "qosFlowLevelQosParameters": {
            "qosCharacteristics": ("nonDynamic5QI", {"fiveQI": 9}),
            "allocationAndRetentionPriority": {
                "priorityLevelARP": 8, "pre-emptionCapability": "shall-not-trigger-pre-emption",
                "pre-emptionVulnerability": "not-pre-emptable"}}}]})


def transfer_setup_response(gnb_ip: str = "127.0.0.1", teid: int = 0x200) -> bytes:
    """A PDUSessionResourceSetupResponseTransfer (TS 38.413 §9.3.4.2) as the gNB answers."""
    from fivecore.wire import ngap

    return ngap.encode_ie("PDUSessionResourceSetupResponseTransfer", {
        "dLQosFlowPerTNLInformation": {
            "uPTransportLayerInformation": ngap.gtp_tunnel(gnb_ip, teid),
            "associatedQosFlowList": [{"qosFlowIdentifier": 1}]}})


def ngap_samples(nas_pdu: bytes | None = None) -> list[object]:
    """Typical NGAP PDUs of every procedure the AMF and the gNB simulator use."""
    from fivecore.wire import ngap

    nas_pdu = nas_pdu or nas.encode(nas_samples()[0])
    uli = ngap.user_location_nr(PLMN, 1, 0x10)
    ids = {"AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": 1}
    return [
        ngap.NgapPdu("NGSetup", "initiating", {
            "GlobalRANNodeID": ngap.global_gnb_id(PLMN, 1, 22), "RANNodeName": "gnb1",
            "SupportedTAList": ngap.supported_ta_list([(1, PLMN, [(1, None)])]),
            "DefaultPagingDRX": "v128"}),
        ngap.NgapPdu("NGSetup", "successful", {
            "AMFName": "amf1", "ServedGUAMIList": ngap.served_guami_list([(PLMN, 0xCA, 0x3F8, 0)]),
            "RelativeAMFCapacity": 255, "PLMNSupportList": ngap.plmn_support_list([(PLMN, [(1, None)])])}),
        ngap.NgapPdu("NGSetup", "unsuccessful", {"Cause": ngap.cause("misc", "unknown-PLMN-or-SNPN")}),
        ngap.NgapPdu("InitialUEMessage", "initiating", {
            "RAN-UE-NGAP-ID": 1, "NAS-PDU": nas_pdu, "UserLocationInformation": uli,
            "RRCEstablishmentCause": "mo-Signalling", "UEContextRequest": "requested"}),
        ngap.NgapPdu("DownlinkNASTransport", "initiating", {**ids, "NAS-PDU": nas_pdu}),
        ngap.NgapPdu("UplinkNASTransport", "initiating", {**ids, "NAS-PDU": nas_pdu,
                                                          "UserLocationInformation": uli}),
        ngap.NgapPdu("InitialContextSetup", "initiating", {
            **ids, "GUAMI": ngap.guami(PLMN, 0xCA, 0x3F8, 0),
            "AllowedNSSAI": [{"s-NSSAI": ngap.s_nssai(1)}],
            "UESecurityCapabilities": ngap.ue_security_capabilities([1, 2, 3], [1, 2, 3]),
            "SecurityKey": ngap.security_key(bytes(32)), "NAS-PDU": nas_pdu}),
        ngap.NgapPdu("InitialContextSetup", "successful", dict(ids)),
        ngap.NgapPdu("InitialContextSetup", "unsuccessful", {
            **ids, "Cause": ngap.cause("radioNetwork", "unspecified")}),
        ngap.NgapPdu("UEContextReleaseRequest", "initiating", {
            **ids, "Cause": ngap.cause("radioNetwork", "user-inactivity")}),
        ngap.NgapPdu("UEContextRelease", "initiating", {
            "UE-NGAP-IDs": ("uE-NGAP-ID-pair", {"aMF-UE-NGAP-ID": 1, "rAN-UE-NGAP-ID": 1}),
            "Cause": ngap.cause("nas", "normal-release")}),
        ngap.NgapPdu("UEContextRelease", "successful", dict(ids)),
        ngap.NgapPdu("PDUSessionResourceSetup", "initiating", {
            **ids, "PDUSessionResourceSetupListSUReq": [{
                "pDUSessionID": 1, "s-NSSAI": ngap.s_nssai(1), "pDUSessionNAS-PDU": nas_pdu,
                "pDUSessionResourceSetupRequestTransfer": transfer_setup_request()}]}),
        ngap.NgapPdu("PDUSessionResourceSetup", "successful", {
            **ids, "PDUSessionResourceSetupListSURes": [{
                "pDUSessionID": 1,
                "pDUSessionResourceSetupResponseTransfer": transfer_setup_response()}]}),
        ngap.NgapPdu("PDUSessionResourceRelease", "initiating", {
            **ids, "PDUSessionResourceToReleaseListRelCmd": [{
                "pDUSessionID": 1, "pDUSessionResourceReleaseCommandTransfer":
                    ngap.encode_ie("PDUSessionResourceReleaseCommandTransfer",
                                   {"cause": ngap.cause("nas", "normal-release")})}]}),
        ngap.NgapPdu("ErrorIndication", "initiating", {
            "Cause": ngap.cause("protocol", "abstract-syntax-error-reject")}),
        ngap.NgapPdu("Paging", "initiating", {
            "UEPagingIdentity": ("fiveG-S-TMSI", ngap.five_g_s_tmsi(0x3F8, 0, 1)),
            "TAIListForPaging": [{"tAI": ngap.tai(PLMN, 1)}]}),
    ]


def pfcp_samples(recovery: int = 3_900_000_000) -> list[pfcp.PfcpMessage]:
    """N4 messages of a PDU session's life (TS 29.244 §7), as the SMF and UPF exchange them."""
    from fivecore.wire.pfcp import FSeid, FTeid, Ies, NodeId

    smf, upf = NodeId.ipv4("127.0.0.4"), NodeId.ipv4("127.0.0.7")
    est = pfcp.PfcpMessage.build(
        "SessionEstablishmentRequest", seq=3, seid=0, node_id=smf,
        f_seid=FSeid(0x1001, "127.0.0.4"),
        create_pdr=[
            Ies(pdr_id=1, precedence=255,
                pdi=Ies(source_interface=pfcp.IF_ACCESS, f_teid=FTeid.choose(),
                        network_instance="internet",
                        ue_ip_address=pfcp.UeIpAddress(ipv4="10.45.0.2"), qfi=1,
                        tgpp_interface_type=pfcp.IFTYPE_N3_3GPP),
                outer_header_removal=pfcp.OuterHeaderRemoval(0, 1), far_id=1, qer_id=1, urr_id=1),
            Ies(pdr_id=2, precedence=255,
                pdi=Ies(source_interface=pfcp.IF_CORE, network_instance="internet",
                        ue_ip_address=pfcp.UeIpAddress(ipv4="10.45.0.2", destination=True),
                        tgpp_interface_type=pfcp.IFTYPE_N6),
                far_id=2, qer_id=1, urr_id=1)],
        create_far=[
            Ies(far_id=1, apply_action=pfcp.APPLY_FORW,
                forwarding_parameters=Ies(destination_interface=pfcp.IF_CORE,
                                          network_instance="internet")),
            Ies(far_id=2, apply_action=pfcp.APPLY_BUFF | pfcp.APPLY_NOCP)],
        create_urr=[Ies(urr_id=1, measurement_method=pfcp.MEASURE_VOLUM,
                        reporting_triggers=pfcp.TRIGGER_VOLTH,
                        volume_threshold=pfcp.Volume(total=10**9))],
        create_qer=[Ies(qer_id=1, gate_status=pfcp.GateStatus(),
                        mbr=pfcp.Bitrate(100_000, 100_000), qfi=1)],
        pdn_type=1)
    return [
        pfcp.PfcpMessage.build("HeartbeatRequest", seq=1, recovery_time_stamp=recovery),
        pfcp.PfcpMessage.build("HeartbeatResponse", seq=1, recovery_time_stamp=recovery),
        pfcp.PfcpMessage.build("AssociationSetupRequest", seq=2, node_id=smf,
                               recovery_time_stamp=recovery, cp_function_features=0),
        pfcp.PfcpMessage.build("AssociationSetupResponse", seq=2, node_id=upf,
                               cause=pfcp.CAUSE_ACCEPTED, recovery_time_stamp=recovery,
                               up_function_features=pfcp.Flags(0x0100, 2)),
        est,
        pfcp.PfcpMessage.build(
            "SessionEstablishmentResponse", seq=3, seid=0x1001, node_id=upf,
            cause=pfcp.CAUSE_ACCEPTED, f_seid=FSeid(0x2002, "127.0.0.7"),
            created_pdr=[Ies(pdr_id=1, f_teid=FTeid(0x100, "127.0.0.7"))]),
        pfcp.PfcpMessage.build(
            "SessionModificationRequest", seq=4, seid=0x2002,
            update_far=[Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                            update_forwarding_parameters=Ies(
                                destination_interface=pfcp.IF_ACCESS,
                                outer_header_creation=pfcp.OuterHeaderCreation.gtpu(0x200, "127.0.0.1")))]),
        pfcp.PfcpMessage.build("SessionModificationResponse", seq=4, seid=0x1001,
                               cause=pfcp.CAUSE_ACCEPTED),
        pfcp.PfcpMessage.build(
            "SessionReportRequest", seq=5, seid=0x1001, report_type=pfcp.REPORT_USAR,
            usage_report=[Ies(urr_id=1, ur_seqn=1, usage_report_trigger=pfcp.Flags(0x02, 3),
                              volume_measurement=pfcp.Volume(total=2000, ul=1000, dl=1000))]),
        pfcp.PfcpMessage.build("SessionReportResponse", seq=5, seid=0x2002, cause=pfcp.CAUSE_ACCEPTED),
        pfcp.PfcpMessage.build("SessionDeletionRequest", seq=6, seid=0x2002),
        pfcp.PfcpMessage.build(
            "SessionDeletionResponse", seq=6, seid=0x1001, cause=pfcp.CAUSE_ACCEPTED,
            usage_report_deletion=[Ies(urr_id=1, ur_seqn=2, usage_report_trigger=pfcp.Flags(0x0800, 3),
                                       volume_measurement=pfcp.Volume(total=10, ul=4, dl=6))]),
        pfcp.PfcpMessage.build("SessionEstablishmentResponse", seq=7, seid=0x1001, node_id=upf,
                               cause=pfcp.CAUSE_MANDATORY_IE_MISSING, offending_ie=57),
        pfcp.PfcpMessage.build("AssociationReleaseRequest", seq=8, node_id=smf),
        pfcp.PfcpMessage.build("AssociationReleaseResponse", seq=8, node_id=upf,
                               cause=pfcp.CAUSE_ACCEPTED),
    ]


ICMP_ECHO = bytes.fromhex("4500001c00010000400160a20a2d000208080808" "0800f7ff00000000")


def gtpu_samples() -> list[bytes]:
    """G-PDUs (with and without PDU Session Container, UL and DL), echo, error indication, end marker."""
    return [
        gtpu.encap(0x100, ICMP_ECHO, qfi=1, pdu_type=gtpu.PDU_TYPE_UL),
        gtpu.encap(0x200, ICMP_ECHO, qfi=1, pdu_type=gtpu.PDU_TYPE_DL),
        gtpu.encap(0x300, ICMP_ECHO),
        gtpu.build_echo_request(1),
        gtpu.build_echo_response(1, recovery=0),
        gtpu.build_error_indication(0x400, "127.0.0.7"),
        gtpu.build_end_marker(0x200, qfi=1),
    ]
