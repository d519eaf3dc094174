"""N4 on the SMF side (TS 29.244): association, heartbeat, sessions, usage reports.

Two parts:

- **Rule building, sans-I/O.** :func:`session_establishment`, :func:`activate_downlink`,
  :func:`deactivate_downlink`, :func:`update_ambr`, :func:`session_deletion` build PFCP
  messages for an :class:`~fivecore.nf.smf.context.SmContext` the way a Rel-16 UPF expects
  (ARCHITECTURE.md, "PFCP as a Rel-16 UPF expects it"): Apply Action in 2 octets, each PDI
  with Source Interface *and* 3GPP Interface Type (N3 for uplink, N6 for downlink), each
  FAR's Forwarding Parameters with a Destination Interface (and Interface Type), the N3
  F-TEID chosen by the UPF (CH), one QER carrying the Session-AMBR as MBR and the QFI, one
  volume URR. :func:`parse_establishment_response` etc. read the answers.
- **The asyncio endpoint** :class:`N4` (UDP 8805): sends requests with T1/N1 retransmission
  (TS 29.244 §6.4), answers the UPF's Heartbeat and Session Report Requests, keeps one
  :class:`UpfPeer` per UPF and runs its heartbeat. A changed Recovery Time Stamp in a
  Heartbeat Response (or a new Association Setup from the UPF) means the UPF restarted and
  lost every session (§6.2.2, §19A): the endpoint re-associates and calls ``on_restart`` so
  the SMF restores or releases those sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fivecore.nf.smf.context import SmContext
from fivecore.transport import sockbuf
from fivecore.wire import pfcp
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.pfcp import (
    APPLY_BUFF,
    APPLY_FORW,
    APPLY_NOCP,
    IF_ACCESS,
    IF_CORE,
    IFTYPE_N3_3GPP,
    IFTYPE_N6,
    MEASURE_VOLUM,
    TRIGGER_VOLTH,
    Bitrate,
    CpPfcpEntityIp,
    Flags,
    FSeid,
    FTeid,
    GateStatus,
    Ies,
    NodeId,
    OuterHeaderCreation,
    OuterHeaderRemoval,
    PfcpMessage,
    UeIpAddress,
    Volume,
)
from fivecore.wire.template import TemplateCache

log = logging.getLogger("fivecore.smf.n4")

PDR_UL, PDR_DL = 1, 2
FAR_UL, FAR_DL = 1, 2
QER_SESSION = 1
URR_VOLUME = 1
#: TS 29.244 §8.2.25 UP Function Features / §8.2.58 CP Function Features (none needed)
CP_FEATURES = Flags(0, 1)


class PfcpFailure(Exception):
    """A PFCP request failed: no answer after N1 tries (``cause`` None) or a refusal cause."""

    def __init__(self, reason: str, cause: int | None = None) -> None:
        super().__init__(reason)
        self.cause = cause


# ---------------------------------------------------------------------------------------------
# session rules (sans-I/O)
# ---------------------------------------------------------------------------------------------


def _kbps(bps: int) -> int:
    return max(1, (bps + 999) // 1000)


def session_establishment(sm: SmContext, *, seq: int, node_id: str, cp_ip: str,
                          usage_volume: int = 1 << 30, ul_teid: int | None = None,
                          ul_ip: str | None = None) -> PfcpMessage:
    """TS 29.244 §7.5.2: Session Establishment Request for one PDU session, one QoS flow.

    Uplink: PDR 1 matches GTP-U on the N3 F-TEID (chosen by the UPF unless ``ul_teid`` is
    given, e.g. when restoring), removes the outer header and forwards to the core (FAR 1).
    Downlink: PDR 2 matches the UE address from N6; FAR 2 buffers until the gNB's tunnel is
    known (:func:`activate_downlink`). QER 1 enforces the Session-AMBR, URR 1 counts volume.
    """
    ni = sm.dnn
    if ul_teid is not None and ul_ip is not None:
        fteid = FTeid(ul_teid, ul_ip)
    else:
        fteid = FTeid.choose(v4=True, choose_id=1)
    # TS 29.244 §8.2.62: V6 with the /64 prefix in the IPv6 address field and neither IPv6D
    # nor IP6PL, which the UPF reads as "the default /64" (TS 23.501 §5.8.2.2.3)
    prefix = getattr(sm, "ue_ipv6_prefix", None)
    v6 = str(prefix.network_address) if prefix is not None else None
    ue_src = UeIpAddress(ipv4=sm.ue_ipv4, ipv6=v6, destination=False)
    ue_dst = UeIpAddress(ipv4=sm.ue_ipv4, ipv6=v6, destination=True)
    pdrs = [
        Ies(pdr_id=PDR_UL, precedence=255,
            pdi=Ies(source_interface=IF_ACCESS, f_teid=fteid, network_instance=ni,
                    ue_ip_address=ue_src, qfi=sm.qfi, tgpp_interface_type=IFTYPE_N3_3GPP),
            outer_header_removal=OuterHeaderRemoval(0, 1), far_id=FAR_UL,
            urr_id=URR_VOLUME, qer_id=QER_SESSION),
        Ies(pdr_id=PDR_DL, precedence=255,
            pdi=Ies(source_interface=IF_CORE, network_instance=ni, ue_ip_address=ue_dst,
                    tgpp_interface_type=IFTYPE_N6),
            far_id=FAR_DL, urr_id=URR_VOLUME, qer_id=QER_SESSION),
    ]
    fars = [
        Ies(far_id=FAR_UL, apply_action=Flags(APPLY_FORW, 2),
            forwarding_parameters=Ies(destination_interface=IF_CORE, network_instance=ni,
                                      tgpp_interface_type=IFTYPE_N6)),
        _dl_far(sm, create=True),
    ]
    qers = [Ies(qer_id=QER_SESSION, gate_status=GateStatus(0, 0),
                mbr=Bitrate(_kbps(sm.ambr_ul), _kbps(sm.ambr_dl)), qfi=sm.qfi)]
    urrs = [Ies(urr_id=URR_VOLUME, measurement_method=Flags(MEASURE_VOLUM, 1),
                reporting_triggers=Flags(TRIGGER_VOLTH, 3),
                volume_threshold=Volume(total=usage_volume))]
    return PfcpMessage.build(
        "SessionEstablishmentRequest", seq=seq, seid=0,
        node_id=NodeId.ipv4(node_id), f_seid=FSeid(sm.local_seid, cp_ip),
        create_pdr=pdrs, create_far=fars, create_urr=urrs, create_qer=qers,
        pdn_type=sm.pdu_type,
    )


def _dl_far(sm: SmContext, create: bool) -> Ies:
    """FAR 2: forward to the gNB's N3 tunnel when known, otherwise buffer (TS 23.502 §4.2.3)."""
    if sm.dl_teid is not None and sm.dl_ip is not None:
        params = Ies(destination_interface=IF_ACCESS, network_instance=sm.dnn,
                     outer_header_creation=OuterHeaderCreation.gtpu(sm.dl_teid, sm.dl_ip),
                     tgpp_interface_type=IFTYPE_N3_3GPP)
        if create:
            return Ies(far_id=FAR_DL, apply_action=Flags(APPLY_FORW, 2), forwarding_parameters=params)
        return Ies(far_id=FAR_DL, apply_action=Flags(APPLY_FORW, 2), update_forwarding_parameters=params)
    if create:
        return Ies(far_id=FAR_DL, apply_action=Flags(APPLY_BUFF, 2),
                   forwarding_parameters=Ies(destination_interface=IF_ACCESS, network_instance=sm.dnn,
                                             tgpp_interface_type=IFTYPE_N3_3GPP))
    return Ies(far_id=FAR_DL, apply_action=Flags(APPLY_BUFF, 2))


def activate_downlink(sm: SmContext, *, seq: int) -> PfcpMessage:
    """TS 29.244 §7.5.4, TS 23.502 §4.3.2.2.1 step 16a: point FAR 2 at the gNB's tunnel."""
    return PfcpMessage.build("SessionModificationRequest", seq=seq, seid=sm.upf_seid or 0,
                             update_far=[_dl_far(sm, create=False)])


#: TS 29.244 §8.2.58 PFCPSMReq-Flags: SNDEM (send end marker packets)
SMREQ_SNDEM = 0x02


def path_switch(sm: SmContext, *, seq: int, end_marker: bool = True) -> PfcpMessage:
    """TS 23.502 §4.9.1.2.2 step 3, TS 29.244 §5.2.1 / §7.5.4.3: FAR 2 forwards to the target
    gNB's tunnel (``sm.dl_ip`` / ``sm.dl_teid``, already the new one). With ``end_marker``
    the Update Forwarding Parameters carry PFCPSMReq-Flags SNDEM (§8.2.58), so the UPF sends
    GTP-U End Markers on the old tunnel before it switches (TS 29.281 §7.3.2: the source gNB
    knows its last downlink packet has passed)."""
    assert sm.dl_teid is not None and sm.dl_ip is not None
    params = Ies(destination_interface=IF_ACCESS, network_instance=sm.dnn,
                 outer_header_creation=OuterHeaderCreation.gtpu(sm.dl_teid, sm.dl_ip),
                 tgpp_interface_type=IFTYPE_N3_3GPP)
    if end_marker:
        params.add("pfcpsmreq_flags", Flags(SMREQ_SNDEM, 1))
    return PfcpMessage.build("SessionModificationRequest", seq=seq, seid=sm.upf_seid or 0,
                             update_far=[Ies(far_id=FAR_DL, apply_action=Flags(APPLY_FORW, 2),
                                             update_forwarding_parameters=params)])


def deactivate_downlink(sm: SmContext, *, seq: int) -> PfcpMessage:
    """TS 23.502 §4.2.6 (AN release): buffer downlink again, the gNB tunnel is gone; NOCP so
    the UPF reports the first buffered packet (§4.2.3.3 step 2a, TS 29.244 §5.2.3.1)."""
    return PfcpMessage.build("SessionModificationRequest", seq=seq, seid=sm.upf_seid or 0,
                             update_far=[Ies(far_id=FAR_DL, apply_action=Flags(APPLY_BUFF | APPLY_NOCP, 2))])


class _Fields:
    """The SmContext attributes the request builders read (a template's stand-in session)."""

    __slots__ = ("dnn", "ue_ipv4", "qfi", "ambr_ul", "ambr_dl", "local_seid", "pdu_type",
                 "dl_teid", "dl_ip", "upf_seid")

    def __init__(self, **kw: Any) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


_TEMPLATES = TemplateCache()
_EST_FIELDS = {"seq": ("int", 3), "seid": ("int", 8), "ue_ipv4": ("ipv4", 4)}
_MOD_FIELDS = {"seq": ("int", 3), "seid": ("int", 8), "teid": ("int", 4), "ip": ("ipv4", 4)}


def establishment_request(sm: SmContext, *, seq: int, node_id: str, cp_ip: str,
                          usage_volume: int = 1 << 30) -> bytes | None:
    """TS 29.244 §7.5.2: the octets of :func:`session_establishment` for a new session, or
    None when the session's shape has no template (then use the generic path).

    Identical to ``pfcp.encode(session_establishment(...))``; per-session values (sequence
    number, CP F-SEID, UE address) are written into a template of the session's shape (DNN,
    QFI, PDU type, Session-AMBR, ...) instead of building and encoding some 40 IEs each time.
    """
    if sm.ue_ipv4 is None or sm.dl_teid is not None or sm.dl_ip is not None \
            or sm.ue_ipv6_prefix is not None:  # IPv4v6: the prefix is not a template field
        return None
    dnn, qfi, pdu_type, ul, dl = sm.dnn, sm.qfi, sm.pdu_type, sm.ambr_ul, sm.ambr_dl

    def build(v: dict[str, Any]) -> bytes:
        f = _Fields(dnn=dnn, ue_ipv4=v["ue_ipv4"], qfi=qfi, ambr_ul=ul, ambr_dl=dl,
                    local_seid=v["seid"], pdu_type=pdu_type, dl_teid=None, dl_ip=None)
        return pfcp.encode(session_establishment(f, seq=v["seq"], node_id=node_id, cp_ip=cp_ip,  # type: ignore[arg-type]
                                                 usage_volume=usage_volume))

    t = _TEMPLATES.get(("est", node_id, cp_ip, dnn, qfi, pdu_type, ul, dl, usage_volume), build, _EST_FIELDS)
    if t is None:
        return None
    try:
        return t.fill({"seq": seq, "seid": sm.local_seid, "ue_ipv4": sm.ue_ipv4})
    except (OverflowError, OSError, TypeError):
        return None  # out of range or malformed: the generic encoder says what is wrong


def activate_downlink_request(sm: SmContext, *, seq: int) -> bytes | None:
    """TS 29.244 §7.5.4: the octets of :func:`activate_downlink` from a template, as
    :func:`establishment_request` (None: use the generic path)."""
    if sm.dl_teid is None or sm.dl_ip is None:
        return None
    dnn = sm.dnn

    def build(v: dict[str, Any]) -> bytes:
        f = _Fields(dnn=dnn, upf_seid=v["seid"], dl_teid=v["teid"], dl_ip=v["ip"])
        return pfcp.encode(activate_downlink(f, seq=v["seq"]))  # type: ignore[arg-type]

    t = _TEMPLATES.get(("mod", dnn), build, _MOD_FIELDS)
    if t is None:
        return None
    try:
        return t.fill({"seq": seq, "seid": sm.upf_seid or 0, "teid": sm.dl_teid, "ip": sm.dl_ip})
    except (OverflowError, OSError, TypeError):
        return None


def is_downlink_data_report(msg: PfcpMessage) -> bool:
    """TS 29.244 §8.2.21: Report Type with DLDR set."""
    rt = msg.ies.get("report_type")
    return rt is not None and bool(int(rt) & pfcp.REPORT_DLDR)


def update_ambr(sm: SmContext, *, seq: int) -> PfcpMessage:
    """TS 29.244 §7.5.4.5: a new Session-AMBR in QER 1."""
    return PfcpMessage.build("SessionModificationRequest", seq=seq, seid=sm.upf_seid or 0,
                             update_qer=[Ies(qer_id=QER_SESSION,
                                             mbr=Bitrate(_kbps(sm.ambr_ul), _kbps(sm.ambr_dl)))])


def session_deletion(sm: SmContext, *, seq: int) -> PfcpMessage:
    """TS 29.244 §7.5.6: Session Deletion Request."""
    return PfcpMessage.build("SessionDeletionRequest", seq=seq, seid=sm.upf_seid or 0)


def check_cause(rsp: PfcpMessage, what: str) -> None:
    """Raise :class:`PfcpFailure` unless the response's Cause is Request accepted (§8.2.1)."""
    cause = rsp.cause
    if cause != pfcp.CAUSE_ACCEPTED:
        raise PfcpFailure(f"{what} refused: cause {cause} offending IE {rsp.offending_ie}", cause)


def parse_establishment_response(rsp: PfcpMessage) -> tuple[int, int, str]:
    """TS 29.244 §7.5.3: (UPF SEID, uplink TEID, uplink N3 address) from the response."""
    check_cause(rsp, "session establishment")
    fseid = rsp.f_seid
    if fseid is None:
        raise PfcpFailure("session establishment response without F-SEID", pfcp.CAUSE_MANDATORY_IE_MISSING)
    for created in rsp.ies.all("created_pdr"):
        if created.pdr_id == PDR_UL and created.f_teid is not None and created.f_teid.ipv4:
            return fseid.seid, created.f_teid.teid, created.f_teid.ipv4
    raise PfcpFailure("no Created PDR with the uplink F-TEID", pfcp.CAUSE_MANDATORY_IE_MISSING)


def usage_from(ies: Ies) -> dict[str, int]:
    """Octet counts of a Usage Report (TS 29.244 §7.5.8.3 / §7.5.7.2)."""
    vol = ies.volume_measurement
    if vol is None:
        return {"ul": 0, "dl": 0, "total": 0}
    return {"ul": vol.ul or 0, "dl": vol.dl or 0, "total": vol.total or 0}


def add_usage(sm: SmContext, reports: list[Ies]) -> None:
    for r in reports:
        u = usage_from(r)
        for k in ("ul", "dl", "total"):
            sm.usage[k] += u[k]
        sm.usage["reports"] += 1


# ---------------------------------------------------------------------------------------------
# the asyncio endpoint
# ---------------------------------------------------------------------------------------------


@dataclass
class UpfPeer:
    """One UPF as the SMF sees it (TS 29.244 §6.2.6 association)."""

    address: str
    port: int = pfcp.PFCP_PORT
    dnns: tuple[str, ...] = ("internet",)
    slices: tuple[tuple[int, int | None], ...] = ((1, None),)
    associated: bool = False
    recovery_ts: int | None = None
    node_id: str | None = None
    missed: int = 0
    restarts: int = 0
    features: int = 0
    associated_event: asyncio.Event = field(default_factory=asyncio.Event)
    #: the SMF restarted with sessions on this UPF (fivecore.nf.smf.persist): the next
    #: Association Setup asks the UPF to retain them (TS 29.244 §6.2.6.2)
    retain_sessions: bool = False
    #: the NRF reported it deregistered (fivecore.nf.smf.upf_nrf): selected for nothing new;
    #: N4 drops it once no session is left on it
    withdrawn: bool = False

    @property
    def addr(self) -> tuple[str, int]:
        return (self.address, self.port)

    def serves(self, dnn: str, snssai: tuple[int, int | None]) -> bool:
        return dnn in self.dnns and (snssai in self.slices or (snssai[0], None) in self.slices)


RestartHandler = Callable[[UpfPeer], Awaitable[None]]
ReportHandler = Callable[[int, PfcpMessage], None]


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, n4: N4) -> None:
        self.n4 = n4

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.n4.datagram_received(data, addr)
        except Exception:  # a bug in one message must not stop N4
            log.exception("event=n4_internal_error peer=%s", addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("n4 socket error: %s", exc)


_NO_ASSOCIATION = pfcp.CAUSE_NO_ESTABLISHED_ASSOCIATION


def _t1_expired(fut: asyncio.Future[PfcpMessage | None]) -> None:
    """TS 29.244 §6.4: T1 ran out; the requester retransmits or gives up."""
    if not fut.done():
        fut.set_result(None)


class N4:
    """The SMF's PFCP endpoint (see module docstring)."""

    def __init__(self, address: str, port: int, peers: list[UpfPeer], *,
                 heartbeat_interval: float = 5.0, t1: float = 3.0, n1: int = 3,
                 on_restart: RestartHandler | None = None,
                 on_report: ReportHandler | None = None,
                 on_not_retained: RestartHandler | None = None) -> None:
        self.address = address
        self.port = port
        self.peers = peers
        self.heartbeat_interval = heartbeat_interval
        self.t1 = t1
        self.n1 = n1
        self.on_restart = on_restart
        self.on_report = on_report
        #: the UPF did not retain the sessions of a restarted SMF (no PSREI): set them up again
        self.on_not_retained = on_not_retained
        #: set by the SMF: whether any session lives on the peer (a withdrawn peer without
        #: sessions is dropped instead of being associated and heartbeated for ever)
        self.has_sessions: Callable[[UpfPeer], bool] | None = None
        self.recovery_ts = pfcp.ntp_now()
        self.transport: asyncio.DatagramTransport | None = None
        self._seq = 1
        self._pending: dict[int, asyncio.Future[PfcpMessage | None]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._bg: set[asyncio.Task[Any]] = set()
        self.stats: dict[str, int] = {}
        self.tap: Callable[[bytes, tuple[str, int], tuple[str, int]], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1

    def next_seq(self) -> int:
        s = self._seq
        self._seq = (s % 0xFFFFFF) + 1
        return s

    def peer_at(self, addr: tuple[str, int]) -> UpfPeer | None:
        for p in self.peers:
            if p.address == addr[0]:
                return p
        return None

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Proto(self), local_addr=(self.address, self.port))
        sock = self.transport.get_extra_info("sockname")
        if sock:
            self.port = sock[1]
        raw = self.transport.get_extra_info("socket")
        if raw is not None:
            # UPF responses queue here while the control plane is busy (a saturated attach
            # burst); a dropped one costs its session a whole T1.
            sockbuf.grow(raw, socket.SO_RCVBUF, sockbuf.PFCP_RCVBUF)
        for peer in self.peers:
            self._tasks.append(asyncio.create_task(self._peer_loop(peer), name=f"n4-{peer.address}"))

    def add_peer(self, peer: UpfPeer) -> None:
        """A UPF found after start (NRF discovery, TS 23.501 §6.3.3.3): keep it and, once the
        endpoint runs, associate with it and heartbeat it like the configured ones."""
        self.peers.append(peer)
        if self._loop is not None:
            self._tasks.append(asyncio.create_task(self._peer_loop(peer), name=f"n4-{peer.address}"))

    async def stop(self) -> None:
        for t in self._tasks + list(self._bg):
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self._pending.clear()
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self._loop = None

    # --- sending --------------------------------------------------------------------------

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None:
            self.count("send_without_socket")
            return
        if self.tap is not None:
            self.tap(data, (self.address, self.port), addr)
        self.transport.sendto(data, addr)

    async def request(self, peer: UpfPeer, msg: PfcpMessage, *, n1: int | None = None) -> PfcpMessage:
        """Send a request and wait for its response (TS 29.244 §6.4: T1 x N1 retransmissions)."""
        if not msg.seq:
            msg.seq = self.next_seq()
        try:
            data = pfcp.encode(msg)
        except EncodeError as exc:
            raise PfcpFailure(f"cannot encode {msg.msg_type}: {exc}") from None
        return await self.request_encoded(peer, data, msg.seq, msg.msg_type, n1=n1)

    async def request_encoded(self, peer: UpfPeer, data: bytes, seq: int, what: str, *,
                              n1: int | None = None) -> PfcpMessage:
        """:meth:`request` for a request already encoded (``data``, sequence number ``seq``;
        ``what`` names it in errors), e.g. by :func:`establishment_request`."""
        if self.transport is None:
            raise PfcpFailure("N4 endpoint not started")
        # the loop from start(): asyncio.get_running_loop() costs a getpid() system call
        loop = self._loop or asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None
        try:
            for attempt in range(n1 or self.n1):
                if attempt:
                    self.count("retransmissions")
                # T1 expiry wakes the waiter with None: one future and one timer handle per
                # transmission instead of wait_for(shield(...))'s extra futures and callbacks.
                fut: asyncio.Future[PfcpMessage | None] = loop.create_future()
                self._pending[seq] = fut
                self._send(data, peer.addr)
                timer = loop.call_later(self.t1, _t1_expired, fut)
                rsp = await fut
                timer.cancel()
                if rsp is not None:
                    if rsp.cause == _NO_ASSOCIATION and peer.associated:
                        # §6.2.6.1: the UPF holds no association with us, so none of our
                        # sessions either: it restarted before a heartbeat could tell. Set
                        # the association up again now and restore or release the sessions.
                        self._restarted(peer, None)
                    return rsp
            raise PfcpFailure(f"no answer to {what} from {peer.address}")
        finally:
            if timer is not None:
                timer.cancel()
            self._pending.pop(seq, None)

    # --- receiving ------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.tap is not None:
            self.tap(data, addr, (self.address, self.port))
        try:
            msg = pfcp.decode(data)
        except DecodeError as exc:
            self.count("malformed")
            log.info("event=n4_malformed peer=%s err=%s", addr, exc)
            return
        if msg.msg_type.endswith("Response"):
            fut = self._pending.get(msg.seq)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            else:
                self.count("unexpected_response")
            return
        self._on_request(msg, addr)

    def _on_request(self, msg: PfcpMessage, addr: tuple[str, int]) -> None:
        t = msg.msg_type
        peer = self.peer_at(addr)
        if t == "HeartbeatRequest":
            # §6.2.2: answer with our own Recovery Time Stamp; a changed peer stamp = restart
            rsp = PfcpMessage.build("HeartbeatResponse", seq=msg.seq, recovery_time_stamp=self.recovery_ts)
            self._send(pfcp.encode(rsp), addr)
            if peer is not None and msg.recovery_time_stamp is not None:
                self._check_recovery(peer, msg.recovery_time_stamp)
            return
        if t == "AssociationSetupRequest":
            # §6.2.6.2.2: UP-initiated association (e.g. after a UPF restart)
            rsp = PfcpMessage.build("AssociationSetupResponse", seq=msg.seq,
                                    node_id=NodeId.ipv4(self.address),
                                    cause=pfcp.CAUSE_ACCEPTED if peer else pfcp.CAUSE_REJECTED,
                                    recovery_time_stamp=self.recovery_ts,
                                    cp_function_features=CP_FEATURES)
            self._send(pfcp.encode(rsp), addr)
            if peer is not None:
                ts = msg.recovery_time_stamp
                restarted = peer.associated and ts is not None and peer.recovery_ts not in (None, ts)
                peer.associated = True
                peer.associated_event.set()
                peer.node_id = msg.node_id.value if msg.node_id else addr[0]
                if restarted:
                    self._restarted(peer, ts)
                elif ts is not None:
                    peer.recovery_ts = ts
            return
        if t == "SessionReportRequest":
            # §7.5.8: usage reports (and downlink data reports) for one session
            seid = msg.seid or 0
            cause = pfcp.CAUSE_ACCEPTED
            if self.on_report is not None:
                try:
                    ok = self.on_report(seid, msg)
                except Exception:
                    log.exception("event=n4_report_handler_failed")
                    ok = True
                if ok is False:
                    cause = pfcp.CAUSE_SESSION_CONTEXT_NOT_FOUND
            rsp = PfcpMessage.build("SessionReportResponse", seq=msg.seq,
                                    seid=self._upf_seid_for(seid), cause=cause)
            self._send(pfcp.encode(rsp), addr)
            return
        if t == "AssociationReleaseRequest":
            rsp = PfcpMessage.build("AssociationReleaseResponse", seq=msg.seq,
                                    node_id=NodeId.ipv4(self.address), cause=pfcp.CAUSE_ACCEPTED)
            self._send(pfcp.encode(rsp), addr)
            if peer is not None:
                peer.associated = False
                peer.associated_event.clear()
            return
        if t == "NodeReportRequest":
            rsp = PfcpMessage.build("NodeReportResponse", seq=msg.seq,
                                    node_id=NodeId.ipv4(self.address), cause=pfcp.CAUSE_ACCEPTED)
            self._send(pfcp.encode(rsp), addr)
            return
        self.count("unhandled_request")

    #: set by the SMF: local SEID -> the UPF's SEID (the header of our answer carries it)
    upf_seid_lookup: Callable[[int], int] | None = None

    def _upf_seid_for(self, local_seid: int) -> int:
        if self.upf_seid_lookup is not None:
            return self.upf_seid_lookup(local_seid)
        return 0

    # --- association and heartbeat --------------------------------------------------------

    def association_setup(self, peer: UpfPeer) -> PfcpMessage:
        """TS 29.244 §7.4.4.1: our Association Setup Request; after a restart with sessions on
        ``peer`` it carries the PFCP Session Retention Information naming our CP PFCP entity
        address (the address of our F-SEIDs) so the UPF keeps those sessions (§6.2.6.2, Rel-16)."""
        retention = Ies(cp_pfcp_entity_ip_address=CpPfcpEntityIp(self.address)) if peer.retain_sessions else None
        return PfcpMessage.build("AssociationSetupRequest", seq=self.next_seq(),
                                 node_id=NodeId.ipv4(self.address),
                                 recovery_time_stamp=self.recovery_ts,
                                 cp_function_features=CP_FEATURES,
                                 pfcp_session_retention_information=retention)

    async def associate(self, peer: UpfPeer) -> None:
        """TS 29.244 §6.2.6.2.1: CP-initiated Association Setup."""
        retain = peer.retain_sessions
        req = self.association_setup(peer)
        rsp = await self.request(peer, req, n1=1)
        check_cause(rsp, "association setup")
        if retain:
            # §6.2.6.2: PSREI says the UPF kept the sessions of our previous association;
            # without it (it restarted too, or released us meanwhile) they are gone there
            peer.retain_sessions = False
            flags = rsp.ies.get("pfcpasrsp_flags")
            retained = flags is not None and bool(int(flags) & pfcp.ASRSP_PSREI)
            self.count("sessions_retained" if retained else "sessions_not_retained")
            log.info("event=pfcp_session_retention upf=%s retained=%s", peer.address, retained)
            if not retained and self.on_not_retained is not None:
                self._spawn(self.on_not_retained(peer))
        ts = rsp.recovery_time_stamp
        peer.node_id = rsp.node_id.value if rsp.node_id else peer.address
        uf = rsp.up_function_features
        peer.features = int(uf) if uf is not None else 0
        restarted = peer.recovery_ts is not None and ts is not None and ts != peer.recovery_ts
        peer.recovery_ts = ts
        peer.associated = True
        peer.missed = 0
        peer.associated_event.set()
        self.count("associations")
        log.info("event=pfcp_associated upf=%s recovery_ts=%s", peer.address, ts)
        if restarted:
            peer.restarts += 1
            self._fire_restart(peer)

    def _check_recovery(self, peer: UpfPeer, ts: int) -> None:
        if peer.recovery_ts is not None and ts != peer.recovery_ts and peer.associated:
            self._restarted(peer, ts)

    def _restarted(self, peer: UpfPeer, ts: int | None) -> None:
        """§6.2.2 / §19A: the UPF lost its sessions; re-associate, then tell the SMF."""
        log.warning("event=upf_restart_detected upf=%s old_ts=%s new_ts=%s", peer.address, peer.recovery_ts, ts)
        self.count("upf_restarts")
        peer.restarts += 1
        peer.associated = False
        peer.associated_event.clear()
        peer.recovery_ts = ts

        async def reassociate() -> None:
            try:
                await self.associate(peer)
            except PfcpFailure as exc:
                log.info("event=pfcp_reassociation_failed upf=%s err=%s", peer.address, exc)
            self._fire_restart(peer)

        self._spawn(reassociate())

    def _fire_restart(self, peer: UpfPeer) -> None:
        if self.on_restart is not None:
            self._spawn(self.on_restart(peer))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        t = asyncio.ensure_future(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    def _retire(self, peer: UpfPeer) -> bool:
        """Drop a peer the NRF reported deregistered once no session is left on it: nothing
        will be set up there again, so associating and heartbeating it has no purpose. It
        comes back as a new peer if it registers again (NF_REGISTERED, discovery)."""
        if not peer.withdrawn or self.has_sessions is None or self.has_sessions(peer):
            return False
        if peer in self.peers:
            self.peers.remove(peer)
        peer.associated = False
        peer.associated_event.clear()
        self.count("upfs_retired")
        log.info("event=upf_retired upf=%s reason=deregistered_no_sessions", peer.address)
        return True

    async def _peer_loop(self, peer: UpfPeer) -> None:
        """Associate, then heartbeat every interval (TS 29.244 §6.2.2); re-associate on loss."""
        delay = 0.2
        while True:
            if self._retire(peer):
                task = asyncio.current_task()
                if task in self._tasks:
                    self._tasks.remove(task)
                return
            if not peer.associated:
                try:
                    await self.associate(peer)
                    delay = 0.2
                except PfcpFailure as exc:
                    log.debug("event=pfcp_association_pending upf=%s err=%s", peer.address, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.heartbeat_interval)
                    continue
            await asyncio.sleep(self.heartbeat_interval)
            if not peer.associated:
                continue
            hb = PfcpMessage.build("HeartbeatRequest", seq=self.next_seq(),
                                   recovery_time_stamp=self.recovery_ts)
            started = time.monotonic()
            try:
                rsp = await self.request(peer, hb)
            except PfcpFailure:
                peer.missed += 1
                self.count("heartbeat_lost")
                log.warning("event=upf_heartbeat_lost upf=%s", peer.address)
                # §6.2.2: the path is down; sessions cannot be trusted any more. Try to set
                # the association up again; when it answers, its stamp tells us whether
                # it restarted (a fresh stamp always means it did).
                peer.associated = False
                peer.associated_event.clear()
                continue
            peer.missed = 0
            ts = rsp.recovery_time_stamp
            log.debug("event=heartbeat upf=%s rtt_ms=%.1f", peer.address, (time.monotonic() - started) * 1e3)
            if ts is not None:
                self._check_recovery(peer, ts)
