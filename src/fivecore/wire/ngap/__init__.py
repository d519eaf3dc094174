"""NGAP codec (TS 38.413), APER, plain-data values; pycrate stays inside.

Parse::

    from fivecore.wire import ngap
    pdu = ngap.decode(data)
    pdu.procedure, pdu.kind, pdu.message   # "InitialUEMessage", "initiating", "InitialUEMessage"
    pdu["RAN-UE-NGAP-ID"]                  # 1
    nas_pdu = pdu["NAS-PDU"]               # bytes
    loc = ngap.user_location_from(pdu["UserLocationInformation"])  # {"plmn", "tac", "nci", ...}

Build (criticalities and IE ids come from the ASN.1 definitions; the constructor sorts the IEs
into the order of the message's table, TS 38.413 §9.2)::

    pdu = ngap.NgapPdu("DownlinkNASTransport", "initiating", {
        "AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 1, "NAS-PDU": nas_bytes})
    data = ngap.encode(pdu)
    rsp = ngap.NgapPdu.for_message("NGSetupResponse", {
        "AMFName": "amf1", "ServedGUAMIList": ngap.served_guami_list([("00101", 1, 1, 0)]),
        "RelativeAMFCapacity": 255, "PLMNSupportList": ngap.plmn_support_list([("00101", [(1, None)])])})

Values use pycrate's ASN.1 value notation: INTEGER -> int, OCTET STRING -> bytes, BIT STRING ->
``(value, nbits)``, ENUMERATED -> str, CHOICE -> ``(alternative, value)``, SEQUENCE -> dict,
SEQUENCE OF -> list. IEs not defined for a message decode as :class:`RawIe`. Transfer
containers (``PDUSessionResourceSetupRequestTransfer`` ...) use :func:`decode_ie` / :func:`encode_ie`.
``encode(pdu)`` refuses PDUs missing a mandatory IE (``strict=False`` to send one on purpose);
``pdu.missing_mandatory()`` lists them on the receive side.
"""

from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.ngap.codec import (
    CRITICALITIES,
    KINDS,
    NgapPdu,
    RawIe,
    decode,
    decode_ie,
    downlink_nas_transport,
    encode,
    encode_ie,
    ie_names,
    message_names,
    pre_encoded,
    procedures,
)
from fivecore.wire.ngap.helpers import (
    cause,
    five_g_s_tmsi,
    global_gnb_id,
    global_gnb_id_from,
    gtp_tunnel,
    gtp_tunnel_from,
    guami,
    guami_from,
    nr_cgi,
    nr_cgi_from,
    plmn,
    plmn_str,
    plmn_support_list,
    s_nssai,
    s_nssai_from,
    security_key,
    served_guami_list,
    supported_ta_list,
    tac,
    tai,
    tai_from,
    ue_security_capabilities,
    ue_security_capabilities_from,
    user_location_from,
    user_location_nr,
)

__all__ = [
    "CRITICALITIES", "KINDS", "DecodeError", "EncodeError", "NgapPdu", "RawIe", "cause",
    "decode", "decode_ie", "downlink_nas_transport", "encode", "encode_ie", "five_g_s_tmsi", "global_gnb_id",
    "global_gnb_id_from", "gtp_tunnel", "gtp_tunnel_from", "guami", "guami_from", "ie_names",
    "message_names", "nr_cgi", "nr_cgi_from", "plmn", "plmn_str", "plmn_support_list",
    "pre_encoded", "procedures", "s_nssai", "s_nssai_from", "security_key", "served_guami_list",
    "supported_ta_list", "tac", "tai", "tai_from", "ue_security_capabilities",
    "ue_security_capabilities_from", "user_location_from", "user_location_nr",
]
