"""PFCP codec (TS 29.244), hand-written: N4 between SMF and UPF.

Build::

    from fivecore.wire import pfcp
    from fivecore.wire.pfcp import Ies, FTeid, FSeid, NodeId

    req = pfcp.PfcpMessage.build(
        "SessionEstablishmentRequest", seq=7, seid=0,
        node_id=NodeId.ipv4("127.0.0.4"), f_seid=FSeid(1, "127.0.0.4"),
        create_pdr=[Ies(pdr_id=1, precedence=255,
                        pdi=Ies(source_interface=pfcp.IF_ACCESS, f_teid=FTeid.choose(),
                                network_instance="internet", qfi=1,
                                tgpp_interface_type=pfcp.IFTYPE_N3_3GPP),
                        outer_header_removal=pfcp.OuterHeaderRemoval(0), far_id=1, qer_id=1)],
        create_far=[Ies(far_id=1, apply_action=pfcp.APPLY_FORW,
                        forwarding_parameters=Ies(destination_interface=pfcp.IF_CORE))],
        create_qer=[Ies(qer_id=1, gate_status=pfcp.GateStatus(), mbr=pfcp.Bitrate(10**6, 10**6),
                        qfi=1)])
    data = pfcp.encode(req)

Parse::

    msg = pfcp.decode(data)       # PfcpMessage; msg.msg_type == "SessionEstablishmentRequest"
    msg.f_seid.seid, [p.pdr_id for p in msg.ies.all("create_pdr")]

IE names are the snake_case type names of TS 29.244 Table 8.1.2-1 (``f_teid``, ``pdi``,
``apply_action``; 3GPP Interface Type is ``tgpp_interface_type``; the three Usage Report types
are ``usage_report`` (in Session Report Request), ``usage_report_modification`` and
``usage_report_deletion``). Bit-mask IEs decode as :class:`Flags` (an ``int`` remembering its
octet count; Apply Action is 2 octets by default, as Rel-16 UPFs expect). Unknown and vendor IEs
decode as :class:`RawIe` and re-encode unchanged. Decoding checks syntax only;
:func:`missing_mandatory` lists absent mandatory IEs (answer with Cause 66 and the Offending IE).
"""

from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.pfcp.codec import (
    MESSAGE_CODES,
    MESSAGE_TYPES,
    PFCP_PORT,
    Ies,
    PfcpMessage,
    RawIe,
    decode,
    encode,
    missing_mandatory,
)
from fivecore.wire.pfcp.ies import *  # noqa: F403
from fivecore.wire.pfcp.ies import (
    IE_NAMES,
    IE_TABLE,
    Bitrate,
    CpPfcpEntityIp,
    Flags,
    FSeid,
    FTeid,
    GateStatus,
    NodeId,
    OuterHeaderCreation,
    OuterHeaderRemoval,
    UeIpAddress,
    Volume,
)


def ntp_now() -> int:
    """Seconds since 1900-01-01 (NTP era 0), the Recovery Time Stamp format (TS 29.244 §8.2.65)."""
    import time

    return (int(time.time()) + 2208988800) & 0xFFFFFFFF


__all__ = [
    "IE_NAMES", "IE_TABLE", "MESSAGE_CODES", "MESSAGE_TYPES", "PFCP_PORT", "Bitrate", "CpPfcpEntityIp",
    "DecodeError", "EncodeError", "FSeid", "FTeid", "Flags", "GateStatus", "Ies", "NodeId",
    "OuterHeaderCreation", "OuterHeaderRemoval", "PfcpMessage", "RawIe", "UeIpAddress", "Volume",
    "decode", "encode", "missing_mandatory", "ntp_now",
]
