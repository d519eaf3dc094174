"""5GS session management on the network side (TS 24.501 §6), sans-I/O.

Plain functions and one small class: N1 SM bytes in, decisions and N1 SM bytes out. Nothing
here touches a socket, a clock or a task; :mod:`fivecore.nf.smf.sbi` calls these and carries
out what they decide (UDM, PCF, PFCP, N1N2MessageTransfer).

- :func:`parse` decodes an uplink 5GSM message or raises :class:`GsmError` with the cause the
  network answers in 5GSM STATUS (TS 24.501 §7).
- :func:`check_establishment` applies TS 24.501 §6.4.1.3/§6.4.1.4 to a PDU Session
  Establishment Request against the subscription and what this SMF serves; it returns the
  accepted parameters or raises :class:`GsmReject` with the 5GSM cause.
- ``*_accept``/``*_command``/``*_reject`` build the downlink messages.
- :func:`on_uplink` classifies an uplink message for an existing session
  (release, modification, completion, status) into a :class:`GsmEvent`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from fivecore.nf.smf.context import SmContext, SmState
from fivecore.wire import nas
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.template import TemplateCache

# --- 5GSM causes, TS 24.501 §9.11.4.2 ----------------------------------------------------------
CAUSE_INSUFFICIENT_RESOURCES = 26
CAUSE_MISSING_OR_UNKNOWN_DNN = 27
CAUSE_UNKNOWN_PDU_SESSION_TYPE = 28
CAUSE_USER_AUTHENTICATION_FAILED = 29
CAUSE_REQUEST_REJECTED_UNSPECIFIED = 31
CAUSE_SERVICE_OPTION_NOT_SUPPORTED = 32
CAUSE_SERVICE_OPTION_NOT_SUBSCRIBED = 33
CAUSE_PTI_ALREADY_IN_USE = 35
CAUSE_REGULAR_DEACTIVATION = 36
CAUSE_NETWORK_FAILURE = 38
CAUSE_REACTIVATION_REQUESTED = 39
CAUSE_INVALID_PDU_SESSION_IDENTITY = 43
CAUSE_PTI_MISMATCH = 47
CAUSE_IPV4_ONLY_ALLOWED = 50
CAUSE_IPV6_ONLY_ALLOWED = 51
CAUSE_PDU_SESSION_DOES_NOT_EXIST = 54
CAUSE_INSUFFICIENT_RESOURCES_SLICE_DNN = 67
CAUSE_NOT_SUPPORTED_SSC_MODE = 68
CAUSE_MISSING_OR_UNKNOWN_DNN_IN_SLICE = 70
CAUSE_INVALID_PTI = 81
CAUSE_SEMANTICALLY_INCORRECT = 95
CAUSE_INVALID_MANDATORY_INFORMATION = 96
CAUSE_MESSAGE_TYPE_NON_EXISTENT = 97
CAUSE_MESSAGE_NOT_COMPATIBLE = 98
CAUSE_PROTOCOL_ERROR = 111

# TS 24.501 §9.11.4.11 PDU session type values.
PDU_IPV4, PDU_IPV6, PDU_IPV4V6, PDU_UNSTRUCTURED, PDU_ETHERNET = 1, 2, 3, 4, 5
_TYPE_NAMES = {"IPV4": PDU_IPV4, "IPV6": PDU_IPV6, "IPV4V6": PDU_IPV4V6,
               "UNSTRUCTURED": PDU_UNSTRUCTURED, "ETHERNET": PDU_ETHERNET}
_SSC_NAMES = {"SSC_MODE_1": 1, "SSC_MODE_2": 2, "SSC_MODE_3": 3}

# TS 24.008 §10.5.6.3 / TS 24.501 §9.11.4.6: PCO container identifiers.
PCO_DNS_IPV4 = 0x000D
PCO_DNS_IPV6 = 0x0003
PCO_MTU_IPV4 = 0x0010

UPLINK_TYPES = frozenset({
    "PDUSessionEstablishmentRequest", "PDUSessionModificationRequest",
    "PDUSessionModificationComplete", "PDUSessionModificationCommandReject",
    "PDUSessionReleaseRequest", "PDUSessionReleaseComplete", "5GSMStatus",
})


class GsmError(Exception):
    """An uplink 5GSM message the network cannot use; ``cause`` goes into 5GSM STATUS."""

    def __init__(self, cause: int, reason: str = "", psi: int = 0, pti: int = 0) -> None:
        super().__init__(reason or nas.SM_CAUSES.get(cause, str(cause)))
        self.cause = cause
        self.psi = psi
        self.pti = pti


class GsmReject(Exception):
    """TS 24.501 §6.4.1.4: the network rejects the establishment with ``cause``."""

    def __init__(self, cause: int, reason: str = "") -> None:
        super().__init__(reason or nas.SM_CAUSES.get(cause, str(cause)))
        self.cause = cause


def parse(data: bytes) -> nas.NasMessage:
    """Decode one uplink 5GSM message (TS 24.501 §8.3); malformed input raises GsmError.

    TS 24.501 §7.3/§7.4: an unknown message type is cause #97, a missing or undecodable
    mandatory IE #96; a 5GMM message where 5GSM is expected is #95.
    """
    if len(data) < 4 or data[0] != nas.EPD_5GSM:
        raise GsmError(CAUSE_SEMANTICALLY_INCORRECT, "not a 5GSM message")
    psi, pti = data[1], data[2]
    try:
        msg = nas.decode(data)
    except DecodeError as exc:
        unknown = "unknown" in str(exc).lower() and "message" in str(exc).lower()
        raise GsmError(CAUSE_MESSAGE_TYPE_NON_EXISTENT if unknown else CAUSE_INVALID_MANDATORY_INFORMATION,
                       str(exc), psi, pti) from None
    if not isinstance(msg, nas.NasMessage) or msg.message_type not in UPLINK_TYPES:
        raise GsmError(CAUSE_MESSAGE_NOT_COMPATIBLE, "not an uplink 5GSM message", psi, pti)
    return msg


# ---------------------------------------------------------------------------------------------
# PDU session establishment (TS 24.501 §6.4.1)
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DnnSubscription:
    """What the UDM's SessionManagementSubscriptionData says about one DNN (TS 29.503)."""

    allowed_types: tuple[int, ...] = (PDU_IPV4, PDU_IPV6, PDU_IPV4V6)
    default_type: int = PDU_IPV4
    allowed_ssc: tuple[int, ...] = (1,)
    default_ssc: int = 1
    five_qi: int = 9
    arp: int = 8
    ambr_ul: int = 1_000_000_000
    ambr_dl: int = 1_000_000_000

    @classmethod
    def from_sm_data(cls, sm_data: Any, dnn: str, snssai: dict[str, Any]) -> DnnSubscription | None:
        """The DnnConfiguration (TS 29.503 §6.1.6.2.9) for ``dnn`` in ``snssai``; None if absent."""
        items = sm_data if isinstance(sm_data, list) else [sm_data] if isinstance(sm_data, dict) else []
        for item in items:
            if not isinstance(item, dict):
                continue
            s = item.get("singleNssai") or {}
            if s.get("sst") != snssai.get("sst") or (s.get("sd") or "").lower() != (snssai.get("sd") or "").lower():
                continue
            conf = (item.get("dnnConfigurations") or {}).get(dnn)
            if not isinstance(conf, dict):
                continue
            sub = cls()
            types = conf.get("pduSessionTypes") or {}
            sub.default_type = _TYPE_NAMES.get(str(types.get("defaultSessionType", "IPV4")), PDU_IPV4)
            allowed = [_TYPE_NAMES[t] for t in types.get("allowedSessionTypes") or [] if t in _TYPE_NAMES]
            sub.allowed_types = tuple({sub.default_type, *allowed})
            ssc = conf.get("sscModes") or {}
            sub.default_ssc = _SSC_NAMES.get(str(ssc.get("defaultSscMode", "SSC_MODE_1")), 1)
            sub.allowed_ssc = tuple({sub.default_ssc, *(_SSC_NAMES[m] for m in ssc.get("allowedSscModes") or []
                                                        if m in _SSC_NAMES)})
            qos = conf.get("5gQosProfile") or {}
            sub.five_qi = int(qos.get("5qi", 9))
            sub.arp = int((qos.get("arp") or {}).get("priorityLevel", 8))
            ambr = conf.get("sessionAmbr") or {}
            sub.ambr_ul = parse_bitrate(ambr.get("uplink", "1 Gbps"))
            sub.ambr_dl = parse_bitrate(ambr.get("downlink", "1 Gbps"))
            return sub
        return None


@dataclass(slots=True)
class EstablishmentDecision:
    """The parameters the network accepts (TS 24.501 §6.4.1.3)."""

    pdu_type: int
    ssc_mode: int
    #: 5GSM cause carried in the accept (#50/#51 when IPv4v6 was narrowed)
    cause: int | None = None
    wants_dns_v4: bool = False
    wants_mtu: bool = False


def check_establishment(msg: nas.NasMessage, *, psi: int, dnn: str | None, dnn_known: bool,
                        dnn_in_slice: bool, sub: DnnSubscription | None,
                        ipv6_available: bool) -> EstablishmentDecision:
    """TS 24.501 §6.4.1.3/§6.4.1.4: accept or reject a PDU Session Establishment Request.

    ``dnn_known`` says whether this SMF serves the DNN at all, ``dnn_in_slice`` whether it
    does in the requested slice, ``sub`` is the subscription for DNN and slice (None if the
    subscriber has none).
    """
    if msg.message_type != "PDUSessionEstablishmentRequest":
        raise GsmReject(CAUSE_MESSAGE_NOT_COMPATIBLE)
    if not 1 <= psi <= 15 or msg.pdu_session_id != psi:
        raise GsmReject(CAUSE_INVALID_PDU_SESSION_IDENTITY)
    if msg.pti in (0, 255):
        raise GsmReject(CAUSE_INVALID_PTI)
    if not dnn:
        raise GsmReject(CAUSE_MISSING_OR_UNKNOWN_DNN, "no DNN and no default")
    if not dnn_known:
        raise GsmReject(CAUSE_MISSING_OR_UNKNOWN_DNN)
    if not dnn_in_slice:
        raise GsmReject(CAUSE_MISSING_OR_UNKNOWN_DNN_IN_SLICE)
    if sub is None:
        raise GsmReject(CAUSE_SERVICE_OPTION_NOT_SUBSCRIBED, "DNN not subscribed in this slice")
    requested = msg.pdu_session_type or sub.default_type
    if requested in (PDU_UNSTRUCTURED, PDU_ETHERNET) or requested not in _TYPE_NAMES.values():
        raise GsmReject(CAUSE_UNKNOWN_PDU_SESSION_TYPE)
    cause = None
    v6_ok = ipv6_available and PDU_IPV6 in sub.allowed_types
    v4_ok = PDU_IPV4 in sub.allowed_types
    if requested == PDU_IPV4V6:
        if PDU_IPV4V6 in sub.allowed_types and v6_ok:
            chosen = PDU_IPV4V6
        elif v4_ok:
            chosen, cause = PDU_IPV4, CAUSE_IPV4_ONLY_ALLOWED
        elif v6_ok:
            chosen, cause = PDU_IPV6, CAUSE_IPV6_ONLY_ALLOWED
        else:
            raise GsmReject(CAUSE_UNKNOWN_PDU_SESSION_TYPE)
    elif requested == PDU_IPV6:
        if not v6_ok:
            raise GsmReject(CAUSE_IPV4_ONLY_ALLOWED)
        chosen = PDU_IPV6
    else:
        if not v4_ok:
            raise GsmReject(CAUSE_IPV6_ONLY_ALLOWED if v6_ok else CAUSE_UNKNOWN_PDU_SESSION_TYPE)
        chosen = PDU_IPV4
    ssc = msg.ssc_mode or sub.default_ssc
    if ssc not in sub.allowed_ssc or ssc != 1:
        # SSC modes 2 and 3 need UPF relocation, which this SMF does not do
        raise GsmReject(CAUSE_NOT_SUPPORTED_SSC_MODE)
    wants_dns = wants_mtu = False
    epco = msg.extended_pco
    if epco:
        for cid, _ in _pco_items(epco):
            wants_dns = wants_dns or cid == PCO_DNS_IPV4
            wants_mtu = wants_mtu or cid == PCO_MTU_IPV4
    return EstablishmentDecision(chosen, ssc, cause, wants_dns, wants_mtu)


def default_qos_rule(qfi: int = 1) -> nas.QosRule:
    """TS 24.501 §9.11.4.13: the default QoS rule, match-all, lowest precedence."""
    return nas.QosRule(1, operation=1, dqr=True, packet_filters=(nas.PacketFilter.match_all(),),
                       precedence=255, qfi=qfi)


def qos_flow_description(qfi: int, five_qi: int) -> bytes:
    """TS 24.501 §9.11.4.12: one 'create new QoS flow description' with its 5QI."""
    return bytes((qfi & 0x3F, 0x20, 0x40 | 1, 0x01, 1, five_qi & 0xFF))


def establishment_accept(sm: SmContext, decision: EstablishmentDecision,
                         dns: list[str] | None = None, mtu: int | None = None) -> bytes:
    """TS 24.501 §8.3.2: PDU Session Establishment Accept for ``sm``.

    An IPv4 session's accept differs from the next one's only in PSI, PTI and address: it is
    written into a template of the session's shape (the octets :func:`_establishment_accept`
    gives, see :mod:`fivecore.wire.template`)."""
    if sm.pdu_type == PDU_IPV4 and sm.ue_ipv4 is not None:
        shape = _AcceptShape(sm, decision, dns, mtu)
        t = _TEMPLATES.get(shape.key(), shape.build, _ACCEPT_FIELDS)
        if t is not None:
            try:
                return t.fill({"psi": sm.psi, "pti": sm.pti, "ip": sm.ue_ipv4})
            except (OverflowError, OSError, TypeError):
                pass  # the generic encoder says what is wrong
    return _establishment_accept(sm, decision, dns, mtu)


_TEMPLATES = TemplateCache()
_ACCEPT_FIELDS = {"psi": ("int", 1), "pti": ("int", 1), "ip": ("ipv4", 4)}


class _AcceptShape:
    """What an establishment accept depends on besides PSI, PTI and the UE address."""

    __slots__ = ("dnn", "snssai", "pdu_type", "ssc_mode", "qfi", "five_qi", "ambr_ul", "ambr_dl",
                 "decision", "dns", "mtu", "psi", "pti", "ue_ipv4", "local_seid")

    def __init__(self, sm: SmContext, decision: EstablishmentDecision, dns: list[str] | None,
                 mtu: int | None) -> None:
        self.dnn, self.snssai, self.pdu_type, self.ssc_mode = sm.dnn, sm.snssai, sm.pdu_type, sm.ssc_mode
        self.qfi, self.five_qi, self.ambr_ul, self.ambr_dl = sm.qfi, sm.five_qi, sm.ambr_ul, sm.ambr_dl
        self.decision, self.dns, self.mtu = decision, dns, mtu
        self.local_seid = 0

    def key(self) -> tuple[Any, ...]:
        s = self.snssai
        d = self.decision
        return (self.dnn, s.get("sst", 1), s.get("sd"), self.pdu_type, self.ssc_mode, self.qfi, self.five_qi,
                self.ambr_ul, self.ambr_dl, d.pdu_type, d.ssc_mode, d.cause, d.wants_dns_v4, d.wants_mtu,
                tuple(self.dns) if self.dns else None, self.mtu)

    def build(self, v: dict[str, Any]) -> bytes:
        self.psi, self.pti, self.ue_ipv4 = v["psi"], v["pti"], v["ip"]
        return _establishment_accept(self, self.decision, self.dns, self.mtu)  # type: ignore[arg-type]


def _establishment_accept(sm: SmContext, decision: EstablishmentDecision,
                          dns: list[str] | None = None, mtu: int | None = None) -> bytes:
    """:func:`establishment_accept` built IE by IE (the reference encoding)."""
    if sm.pdu_type == PDU_IPV4:
        addr = nas.PduAddress.ipv4(sm.ue_ipv4 or "0.0.0.0")
    elif sm.pdu_type == PDU_IPV6:
        addr = nas.PduAddress(PDU_IPV6, interface_identifier(sm))
    else:
        addr = nas.PduAddress(PDU_IPV4V6, interface_identifier(sm)
                              + ipaddress.IPv4Address(sm.ue_ipv4 or "0.0.0.0").packed)
    epco = None
    containers: list[tuple[int, bytes]] = []
    if decision.wants_dns_v4 and dns:
        containers += [(PCO_DNS_IPV4, ipaddress.IPv4Address(d).packed) for d in dns
                       if ipaddress.ip_address(d).version == 4]
    if decision.wants_mtu and mtu:
        containers.append((PCO_MTU_IPV4, mtu.to_bytes(2, "big")))
    if containers:
        epco = _pco_build(containers)
    s = sm.snssai
    acc = nas.PDUSessionEstablishmentAccept(
        pdu_session_id=sm.psi, pti=sm.pti,
        selected_pdu_session_type=sm.pdu_type, selected_ssc_mode=sm.ssc_mode,
        authorized_qos_rules=(default_qos_rule(sm.qfi),),
        session_ambr=nas.SessionAmbr.from_bps(sm.ambr_dl, sm.ambr_ul),
        cause=decision.cause,
        pdu_address=addr,
        s_nssai=nas.SNssai(s.get("sst", 1), int(s["sd"], 16) if s.get("sd") else None),
        authorized_qos_flow_descriptions=qos_flow_description(sm.qfi, sm.five_qi),
        extended_pco=epco,
        dnn=sm.dnn,
    )
    return nas.encode(acc)


def interface_identifier(sm: SmContext) -> bytes:
    """TS 23.501 §5.8.2.2.3: the IPv6 interface identifier the UE uses for its link-local
    address; derived from the SEID so it is stable for the session and unique per SMF."""
    return (sm.local_seid & 0xFFFFFFFFFFFFFFFF | 1).to_bytes(8, "big")


def establishment_reject(psi: int, pti: int, cause: int) -> bytes:
    """TS 24.501 §8.3.3: PDU Session Establishment Reject."""
    return nas.encode(nas.PDUSessionEstablishmentReject(pdu_session_id=psi, pti=pti, cause=cause))


# ---------------------------------------------------------------------------------------------
# modification (§6.3.2 network-requested, §6.4.2 UE-requested) and release (§6.3.3, §6.4.3)
# ---------------------------------------------------------------------------------------------


def modification_command(sm: SmContext, pti: int = 0, *, ambr: bool = True,
                         cause: int | None = None) -> bytes:
    """TS 24.501 §8.3.9: PDU Session Modification Command (new Session-AMBR, QoS rules)."""
    return nas.encode(nas.PDUSessionModificationCommand(
        pdu_session_id=sm.psi, pti=pti, cause=cause,
        session_ambr=nas.SessionAmbr.from_bps(sm.ambr_dl, sm.ambr_ul) if ambr else None,
        authorized_qos_rules=(nas.QosRule(1, operation=6, dqr=True, precedence=255, qfi=sm.qfi),),
    ))


def modification_reject(psi: int, pti: int, cause: int) -> bytes:
    """TS 24.501 §8.3.8: PDU Session Modification Reject."""
    return nas.encode(nas.PDUSessionModificationReject(pdu_session_id=psi, pti=pti, cause=cause))


def release_command(psi: int, pti: int, cause: int) -> bytes:
    """TS 24.501 §8.3.14: PDU Session Release Command (PTI 0 when network-requested)."""
    return nas.encode(nas.PDUSessionReleaseCommand(pdu_session_id=psi, pti=pti, cause=cause))


def release_reject(psi: int, pti: int, cause: int) -> bytes:
    """TS 24.501 §8.3.13: PDU Session Release Reject."""
    return nas.encode(nas.PDUSessionReleaseReject(pdu_session_id=psi, pti=pti, cause=cause))


def status(psi: int, pti: int, cause: int) -> bytes:
    """TS 24.501 §8.3.16: 5GSM STATUS."""
    return nas.encode(nas.FiveGSMStatus(pdu_session_id=psi, pti=pti, cause=cause))


@dataclass(slots=True)
class GsmEvent:
    """What an uplink 5GSM message asks of an existing session.

    ``kind``: ``release`` (UE-requested release, send a Release Command), ``released``
    (Release Complete: delete the session), ``modify`` (UE-requested modification),
    ``modified`` (Modification Complete), ``modify_rejected``, ``status`` (5GSM STATUS from
    the UE), ``reply`` (answer ``n1`` only, state unchanged), ``local_release``.
    """

    kind: str
    pti: int = 0
    cause: int | None = None
    n1: bytes | None = None


def on_uplink(sm: SmContext, msg: nas.NasMessage) -> GsmEvent:
    """TS 24.501 §6.3/§6.4: classify an uplink 5GSM message for an established session."""
    t = msg.message_type
    pti = msg.pti
    if msg.pdu_session_id != sm.psi:
        return GsmEvent("reply", pti, CAUSE_INVALID_PDU_SESSION_IDENTITY,
                        status(msg.pdu_session_id, pti, CAUSE_INVALID_PDU_SESSION_IDENTITY))
    if t == "PDUSessionReleaseRequest":
        # §6.4.3.2: PTI 0/255 are reserved for UE-requested procedures
        if pti in (0, 255):
            return GsmEvent("reply", pti, CAUSE_INVALID_PTI, release_reject(sm.psi, pti, CAUSE_INVALID_PTI))
        if sm.state == SmState.INACTIVE_PENDING:
            # §6.3.3.5 e): a release is already running; the command will be retransmitted
            return GsmEvent("reply", pti, None, release_command(sm.psi, pti, sm.release_cause or CAUSE_REGULAR_DEACTIVATION))
        return GsmEvent("release", pti, CAUSE_REGULAR_DEACTIVATION)
    if t == "PDUSessionReleaseComplete":
        if sm.state != SmState.INACTIVE_PENDING:
            return GsmEvent("reply", pti, CAUSE_MESSAGE_NOT_COMPATIBLE,
                            status(sm.psi, pti, CAUSE_MESSAGE_NOT_COMPATIBLE))
        return GsmEvent("released", pti)
    if t == "PDUSessionModificationRequest":
        if pti in (0, 255):
            return GsmEvent("reply", pti, CAUSE_INVALID_PTI, modification_reject(sm.psi, pti, CAUSE_INVALID_PTI))
        if sm.state != SmState.ACTIVE:
            return GsmEvent("reply", pti, CAUSE_MESSAGE_NOT_COMPATIBLE,
                            modification_reject(sm.psi, pti, CAUSE_MESSAGE_NOT_COMPATIBLE))
        if msg.requested_qos_rules:
            for rule in msg.requested_qos_rules:
                if rule.operation not in (1, 2, 3, 4, 5, 6):
                    return GsmEvent("reply", pti, 83, modification_reject(sm.psi, pti, 83))
        return GsmEvent("modify", pti)
    if t == "PDUSessionModificationComplete":
        return GsmEvent("modified", pti)
    if t == "PDUSessionModificationCommandReject":
        return GsmEvent("modify_rejected", pti, msg.cause)
    if t == "5GSMStatus":
        # §6.5.3: #43 / #54 from the UE means it has no such session: release it locally
        if msg.cause in (CAUSE_INVALID_PDU_SESSION_IDENTITY, CAUSE_PDU_SESSION_DOES_NOT_EXIST):
            return GsmEvent("local_release", pti, msg.cause)
        return GsmEvent("status", pti, msg.cause)
    if t == "PDUSessionEstablishmentRequest":
        # §6.4.1.7 b): a new request for an existing PSI; the caller releases the old one
        return GsmEvent("reestablish", pti)
    return GsmEvent("reply", pti, CAUSE_MESSAGE_NOT_COMPATIBLE,
                    status(sm.psi, pti, CAUSE_MESSAGE_NOT_COMPATIBLE))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

_UNITS = {"bps": 1, "kbps": 1_000, "mbps": 1_000_000, "gbps": 1_000_000_000,
          "tbps": 1_000_000_000_000}


def parse_bitrate(s: Any) -> int:
    """TS 29.571 §5.5.2 BitRate (``"100 Mbps"``) -> bit/s; ValueError on garbage."""
    if isinstance(s, int | float):
        return int(s)
    parts = str(s).strip().split()
    if len(parts) != 2 or parts[1].lower() not in _UNITS:
        raise ValueError(f"bad bit rate {s!r}")
    return int(float(parts[0]) * _UNITS[parts[1].lower()])


def format_bitrate(bps: int) -> str:
    """bit/s -> TS 29.571 BitRate string, exact when possible."""
    for unit, mul in (("Gbps", 10**9), ("Mbps", 10**6), ("Kbps", 10**3)):
        if bps >= mul and bps % mul == 0:
            return f"{bps // mul} {unit}"
    return f"{bps} bps"


def _pco_items(epco: bytes) -> list[tuple[int, bytes]]:
    """TS 24.008 §10.5.6.3: (container id, contents) pairs of a (extended) PCO value."""
    out = []
    i = 1  # octet 3: ext bit + configuration protocol
    n = len(epco)
    while i + 3 <= n:
        cid = int.from_bytes(epco[i:i + 2], "big")
        ln = epco[i + 2]
        out.append((cid, bytes(epco[i + 3:i + 3 + ln])))
        i += 3 + ln
    return out


def _pco_build(items: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(b"\x80")
    for cid, val in items:
        out += cid.to_bytes(2, "big") + bytes((len(val),)) + val
    return bytes(out)


def encode_safe(build: Any, *args: Any, **kw: Any) -> bytes | None:
    """Call a builder; None instead of an EncodeError (a value out of range must not crash)."""
    try:
        return build(*args, **kw)
    except EncodeError:
        return None
