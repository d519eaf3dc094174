"""NAS-5GS codec (TS 24.501): 5GMM and 5GSM messages, security-protected headers, typed IEs.

Parse::

    from fivecore.wire import nas
    msg = nas.decode(data)                 # NasMessage or SecurityProtectedNasMessage
    if isinstance(msg, nas.SecurityProtectedNasMessage):
        # verify msg.mac over msg.mac_input (fivecore.security), decipher if msg.ciphered
        msg = msg.plain()                  # or msg.plain(deciphered_payload)
    if msg.message_type == "RegistrationRequest":
        ident = msg.mobile_identity        # MobileIdentity(type="suci", plmn="00101", ...)
        caps = msg.ue_security_capability  # UeSecurityCapability or None if absent

Build (keyword arguments are the IE names; optional IEs are ordered as in the spec)::

    acc = nas.RegistrationAccept(
        registration_result=nas.RegistrationResult(1),
        guti=nas.MobileIdentity.guti("00101", 0xCA, 0x3F8, 0, 1),
        tai_list=nas.TaiList.of(nas.Tai("00101", 1)),
        allowed_nssai=(nas.SNssai(1),),
        t3512_value=nas.GprsTimer3.from_seconds(3240))
    data = nas.encode(acc)
    est = nas.PDUSessionEstablishmentAccept(pdu_session_id=1, pti=1, ...)
    wrapped = nas.encode(nas.SecurityProtectedNasMessage(2, mac, sqn, data))

``nas.message_types()`` lists every supported message, ``nas.ie_names(t)`` its IEs. Message
classes are named like their ``message_type`` (``FiveGMMStatus``/``FiveGSMStatus`` for the two
status messages whose type strings start with a digit). Unknown, repeated and syntactically
incorrect optional IEs are kept as :class:`RawIe` (read as absent, TS 24.501 §7.6/§7.7.2) and
re-encoded unchanged; overrunning lengths, bad or missing mandatory IEs and unknown message
types raise :class:`fivecore.wire.DecodeError`.
"""

from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.nas.codec import (
    MESSAGE_CLASSES,
    SECURITY_HEADER_TYPES,
    NasMessage,
    RawIe,
    SecurityProtectedNasMessage,
    decode,
    encode,
    ie_names,
    message_types,
)
from fivecore.wire.nas.ies import (
    DeregistrationType,
    GprsTimer2,
    GprsTimer3,
    MobileIdentity,
    NasSecurityAlgorithms,
    NgKsi,
    PacketFilter,
    PduAddress,
    PsiBitmap,
    QosRule,
    RegistrationResult,
    RegistrationType,
    SessionAmbr,
    SNssai,
    Tai,
    TaiList,
    TaiListPart,
    UeSecurityCapability,
    bcd_decode,
    bcd_encode,
    plmn_from_bytes,
    plmn_to_bytes,
)
from fivecore.wire.nas.messages import EPD_5GMM, EPD_5GSM, MM_CAUSES, SM_CAUSES

globals().update({cls.__name__: cls for cls in MESSAGE_CLASSES.values()})

# Payload container types, TS 24.501 §9.11.3.40.
PAYLOAD_N1_SM = 1
PAYLOAD_SMS = 2
PAYLOAD_LPP = 3
PAYLOAD_SOR = 4
PAYLOAD_UE_POLICY = 5

__all__ = [
    "EPD_5GMM", "EPD_5GSM", "MESSAGE_CLASSES", "MM_CAUSES", "SECURITY_HEADER_TYPES", "SM_CAUSES",
    "DecodeError", "DeregistrationType", "EncodeError", "GprsTimer2", "GprsTimer3",
    "MobileIdentity", "NasMessage", "NasSecurityAlgorithms", "NgKsi", "PacketFilter",
    "PduAddress", "PsiBitmap", "QosRule", "RawIe", "RegistrationResult", "RegistrationType",
    "SNssai", "SecurityProtectedNasMessage", "SessionAmbr", "Tai", "TaiList", "TaiListPart",
    "UeSecurityCapability", "bcd_decode", "bcd_encode", "decode", "encode", "ie_names",
    "message_types", "plmn_from_bytes", "plmn_to_bytes",
    *(cls.__name__ for cls in MESSAGE_CLASSES.values()),
]
