"""The UPF's N4 endpoint as a sans-I/O state machine (TS 29.244).

:class:`PfcpNode` takes datagrams and a clock reading and returns datagrams to send; it
never touches a socket, a clock or a task, so every procedure is tested with plain calls.

- Node procedures: Heartbeat (§6.2.2), Association Setup (§6.2.6) and Release (§6.2.8).
  A CP node that re-associates with a new Recovery Time Stamp loses its old sessions.
- Session procedures: Establishment (§6.3.2), Modification (§6.3.3), Deletion (§6.3.4),
  and the UP-initiated Session Report (§6.3.5) for usage thresholds (USAR), the first
  downlink packet of an idle UE (DLDR) and Error Indications from gNBs (ERIR).
- Bad input (§7.6): a request that does not decode is answered with its response type and a
  cause (Invalid length / Mandatory IE incorrect + Offending IE); a missing mandatory IE
  gets Cause 66 with the Offending IE; an unknown version gets Version Not Supported; an
  unknown message type or a malformed response is dropped. Nothing escapes to the caller.
- Requests the CP retransmits (same peer and sequence number) get the cached response
  instead of being executed twice (§6.4).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fivecore.nf.upf import procedures as P
from fivecore.nf.upf.context import (
    IF_ACCESS,
    Far,
    Pdr,
    Qer,
    Session,
    UpfContext,
    Urr,
    UsageSnapshot,
    ipv4_to_int,
    prefix64,
)
from fivecore.nf.upf.fastpath import (
    MSG_ESTABLISHMENT,
    MSG_MODIFICATION,
    RequestShape,
    ResponseTemplates,
    ShapeBook,
    establishment_response,
    modification_response,
)
from fivecore.wire import DecodeError, EncodeError, pfcp
from fivecore.wire.pfcp import Ies, PfcpMessage

log = logging.getLogger("fivecore.upf.pfcp")

Addr = tuple[str, int]
Out = list[tuple[bytes, Addr]]

# TS 29.244 §8.2.25 UP Function Features (little-endian int as the codec's Flags):
# FTUP (octet 5 bit 5: the UP function allocates F-TEIDs), EMPU (octet 6 bit 1: End Marker
# packets on path switch).
UP_FEATURES = pfcp.Flags(0x0010 | 0x0100, 4)
# TS 29.244 §8.2.58 PFCPSMReq-Flags.
SMREQ_DROBU, SMREQ_SNDEM, SMREQ_QAURR = 0x01, 0x02, 0x04
# TS 29.244 §8.2.41 Usage Report Trigger bits, as the codec's little-endian Flags.
URT = {"PERIO": 0x01, "VOLTH": 0x02, "IMMER": 0x80, "TERMR": 0x0800, "VOLQU": 0x0100}

_RESPONSE_OF = {
    "HeartbeatRequest": "HeartbeatResponse",
    "AssociationSetupRequest": "AssociationSetupResponse",
    "AssociationUpdateRequest": "AssociationUpdateResponse",
    "AssociationReleaseRequest": "AssociationReleaseResponse",
    "NodeReportRequest": "NodeReportResponse",
    "SessionSetDeletionRequest": "SessionSetDeletionResponse",
    "PFDManagementRequest": "PFDManagementResponse",
    "SessionEstablishmentRequest": "SessionEstablishmentResponse",
    "SessionModificationRequest": "SessionModificationResponse",
    "SessionDeletionRequest": "SessionDeletionResponse",
    "SessionReportRequest": "SessionReportResponse",
}
_REQUEST_CODES = {pfcp.MESSAGE_CODES[k]: k for k in _RESPONSE_OF}
RESPONSE_CACHE = 4096
_LEARNABLE = frozenset((MSG_ESTABLISHMENT, MSG_MODIFICATION))


class _MissingIe(Exception):
    def __init__(self, ie_name: str, conditional: bool = False) -> None:
        super().__init__(ie_name)
        self.ie_type = pfcp.IE_NAMES[ie_name]
        self.cause = P.CAUSE_CONDITIONAL_IE_MISSING if conditional else P.CAUSE_MANDATORY_IE_MISSING


@dataclass
class _Pending:
    """A UP-initiated request awaiting its response (T1/N1 of TS 29.244 §6.4)."""

    data: bytes
    addr: Addr
    kind: str
    deadline: float
    tries: int
    session_seid: int | None = None
    node_id: str | None = None


class PfcpNode:
    """The UPF side of N4. Feed :meth:`datagram_received`; call :meth:`poll` periodically."""

    def __init__(self, ctx: UpfContext, node_id: str, *, recovery_ts: int | None = None,
                 heartbeat_interval: float = 10.0, heartbeat_retries: int = 3,
                 t1: float = 3.0, n1: int = 3, wall_clock: Any = time.time,
                 now: float | None = None, fast_path: bool = True,
                 cp_restart_grace: float = 0.0) -> None:
        """``fast_path``: answer the SMF's recurring Session Establishment / Modification
        shapes from learned templates (:mod:`fivecore.nf.upf.fastpath`); the answers are
        the same octets either way. ``cp_restart_grace``: how long the sessions of a CP node
        whose Heartbeat Response shows a new Recovery Time Stamp wait for its Association
        Setup with PFCP Session Retention Information before they are deleted (0: at once;
        the UPF process gives them the time a lost CP node gets, interval times retries)."""
        self.ctx = ctx
        self.node_id = pfcp.NodeId.ipv4(node_id)
        self.recovery_ts = recovery_ts if recovery_ts is not None else pfcp.ntp_now()
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_retries = heartbeat_retries
        self.t1 = t1
        self.n1 = n1
        mono = time.monotonic() if now is None else now
        # Converts the monotonic clock the node is fed into NTP seconds for Start/End Time.
        self._ntp_offset = wall_clock() + 2208988800 - mono
        self._seq = 1
        self._pending: dict[int, _Pending] = {}
        self._cache: OrderedDict[tuple[Addr, bytes], bytes] = OrderedDict()
        self._next_hb: dict[str, float] = {}
        self._hb_missed: dict[str, int] = {}
        self.cp_restart_grace = cp_restart_grace
        #: CP nodes seen restarted (Heartbeat): node ID -> when their old sessions go
        self._restarted: dict[str, float] = {}
        self._end_markers: list[tuple[int, Addr]] = []
        self._flushes: list[Session] = []
        self._handlers: dict[str, Any] = {
            "HeartbeatRequest": self._heartbeat,
            "AssociationSetupRequest": self._association_setup,
            "AssociationReleaseRequest": self._association_release,
            "AssociationUpdateRequest": self._association_update,
            "SessionEstablishmentRequest": self._session_establishment,
            "SessionModificationRequest": self._session_modification,
            "SessionDeletionRequest": self._session_deletion,
        }
        self.shapes = ShapeBook(self._changes) if fast_path else None
        self._responses = ResponseTemplates()

    # -- effects on the user plane, collected by the app ---------------------------------------

    @property
    def has_effects(self) -> bool:
        """True when end markers or buffer flushes wait to be taken."""
        return bool(self._end_markers or self._flushes)

    def take_end_markers(self) -> list[tuple[int, Addr]]:
        out, self._end_markers = self._end_markers, []
        return out

    def take_flushes(self) -> list[Session]:
        out, self._flushes = self._flushes, []
        return out

    # -- input ----------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Addr, now: float) -> Out:
        """One N4 datagram in; the datagrams to send out."""
        self.ctx.metrics.pfcp_rx += 1
        if len(data) >= 1 and data[0] >> 5 != 1 and len(data) >= 8:
            # TS 29.244 §7.2.2: answer an unsupported version with Version Not Supported.
            self.ctx.metrics.pfcp_malformed += 1
            seq = int.from_bytes(data[4:7] if not data[0] & 1 else data[12:15], "big")
            rsp = PfcpMessage.build("VersionNotSupportedResponse", seq=seq & 0xFFFFFF)
            return [(pfcp.encode(rsp), addr)]
        shapes = self.shapes
        if shapes is not None and type(data) is bytes:
            hit = shapes.find(data)
            if hit is not None:
                key = (addr, data)
                cached = self._cache.get(key)
                if cached is not None:
                    return [(cached, addr)]
                out = self._fast(hit[0], hit[1], data, addr, now)
                self._cache[key] = out
                if len(self._cache) > RESPONSE_CACHE:
                    self._cache.popitem(last=False)
                return [(out, addr)]
        try:
            msg = pfcp.decode(data)
        except DecodeError as exc:
            self.ctx.metrics.pfcp_malformed += 1
            return self._answer_malformed(data, addr, exc)
        name = msg.msg_type
        if name in _RESPONSE_OF:
            # A retransmission is byte-identical; keying on the bytes (not only the sequence
            # number) keeps a restarted CP node that reuses sequence numbers from getting an
            # answer meant for its previous life.
            key = (addr, data)
            cached = self._cache.get(key)
            if cached is not None:
                return [(cached, addr)]
            rsp = self._dispatch(msg, addr, now)
            if rsp is None:
                return []
            out = pfcp.encode(rsp)
            self._cache[key] = out
            if len(self._cache) > RESPONSE_CACHE:
                self._cache.popitem(last=False)
            if shapes is not None and data[1] in _LEARNABLE:
                shapes.consider(msg, data)
            return [(out, addr)]
        self._response(msg, addr, now)
        return []

    def _fast(self, shape: RequestShape, raw: dict[str, bytes], data: bytes, addr: Addr,
              now: float) -> bytes:
        """A request of a learned shape (:mod:`fivecore.nf.upf.fastpath`): the same
        procedure and answer as :meth:`_session_establishment` / :meth:`_session_modification`
        on its decoded form, whose rules the shape already holds."""
        seq = int.from_bytes(raw["seq"], "big")
        ctx = self.ctx
        try:
            if shape.msg_type == MSG_ESTABLISHMENT:
                assert shape.node_key is not None
                if shape.lean:
                    pdrs, fars, qers, urrs, cp_seid, cp_ip = shape.rules(raw)
                    result = P.establish_checked(ctx, shape.node_key, cp_seid, cp_ip, pdrs, fars,
                                                 qers, urrs, now)
                else:
                    ch, cp_seid, cp_ip = shape.changes(raw)
                    result = P.establish_session(ctx, shape.node_key, cp_seid, cp_ip, ch, now)
                created = result.created_pdrs
                up_seid = result.session.seid
                out = self._responses.establishment(seq, cp_seid, self.node_id, up_seid, created)
                if out is None:
                    out = pfcp.encode(establishment_response(seq, cp_seid, self.node_id, up_seid,
                                                             created))
                return out
            session = ctx.sessions.get(int.from_bytes(raw["seid"], "big"))
            if session is None:
                raise P.ProcedureError(P.CAUSE_SESSION_NOT_FOUND,
                                       f"no session {int.from_bytes(raw['seid'], 'big')}")
            if shape.lean:
                result = P.modify_fars(ctx, session.seid, shape.far_updates(raw),
                                       shape.send_end_marker, now)
            else:
                result = P.modify_session(ctx, session.seid, shape.changes(raw)[0], now)
            for em in result.end_markers:
                self._end_markers.append((em.teid, em.peer))
            if result.flush_buffer:
                self._flushes.append(session)
            if not result.created_pdrs and not result.usage_reports:
                out = self._responses.modification(seq, session.cp_seid)
                if out is not None:
                    return out
            return pfcp.encode(modification_response(
                seq, session.cp_seid, result.created_pdrs,
                [self._usage_ies(u) for u in result.usage_reports]))
        except (_MissingIe, P.ProcedureError, EncodeError, ValueError, TypeError,
                AttributeError) as exc:
            msg = pfcp.decode(data)
            return pfcp.encode(self._refused(msg, addr, exc))

    def _dispatch(self, msg: PfcpMessage, addr: Addr, now: float) -> PfcpMessage | None:
        handler = self._handlers.get(msg.msg_type)
        rsp_name = _RESPONSE_OF[msg.msg_type]
        try:
            if handler is None:
                return self._reject(msg, rsp_name, P.CAUSE_SERVICE_NOT_SUPPORTED)
            return handler(msg, addr, now)
        except (_MissingIe, P.ProcedureError, EncodeError, ValueError, TypeError,
                AttributeError) as exc:
            return self._refused(msg, addr, exc)

    def _refused(self, msg: PfcpMessage, addr: Addr, exc: Exception) -> PfcpMessage:
        """TS 29.244 §7.6 — the response carrying the cause of a refused request."""
        rsp_name = _RESPONSE_OF[msg.msg_type]
        if isinstance(exc, _MissingIe):
            log.info("pfcp %s from %s: missing IE %d", msg.msg_type, addr, exc.ie_type)
            return self._reject(msg, rsp_name, exc.cause, exc.ie_type)
        if isinstance(exc, P.ProcedureError):
            log.info("pfcp %s from %s refused: cause=%d %s", msg.msg_type, addr, exc.cause,
                     exc.reason)
            return self._reject(msg, rsp_name, exc.cause, exc.offending_ie)
        # Values that decode but make no sense (e.g. an IPv6-only F-SEID we cannot use).
        log.info("pfcp %s from %s: incorrect IE: %s", msg.msg_type, addr, exc)
        return self._reject(msg, rsp_name, P.CAUSE_MANDATORY_IE_INCORRECT)

    def _reject(self, msg: PfcpMessage, rsp_name: str, cause: int,
                offending: int | None = None) -> PfcpMessage:
        seid = None
        if pfcp.MESSAGE_CODES[rsp_name] >= 50:
            s = self.ctx.sessions.get(msg.seid or 0)
            seid = s.cp_seid if s is not None else 0
            if msg.msg_type == "SessionEstablishmentRequest" and msg.f_seid is not None:
                seid = msg.f_seid.seid
        ies: dict[str, Any] = {}
        if pfcp.MESSAGE_CODES[rsp_name] < 50 and rsp_name != "HeartbeatResponse":
            ies["node_id"] = self.node_id
        if rsp_name == "HeartbeatResponse":
            ies["recovery_time_stamp"] = self.recovery_ts
        else:
            ies["cause"] = cause
            if offending is not None:
                ies["offending_ie"] = offending
        return PfcpMessage.build(rsp_name, seq=msg.seq, seid=seid, **ies)

    def _answer_malformed(self, data: bytes, addr: Addr, exc: DecodeError) -> Out:
        """TS 29.244 §7.6: a request we can frame but not decode gets a cause, never silence."""
        log.info("pfcp malformed from %s: %s", addr, exc)
        if len(data) < 8:
            return []
        flags, code = data[0], data[1]
        name = _REQUEST_CODES.get(code)
        if name is None or name == "SessionReportRequest":
            return []  # unknown type, a response, or a request only a UPF sends: discard
        s_flag = flags & 1
        if bool(s_flag) != (code >= 50):
            return []
        hdr = 16 if s_flag else 8
        if len(data) < hdr:
            return []
        seq_off = 12 if s_flag else 4
        seq = int.from_bytes(data[seq_off:seq_off + 3], "big")
        length_ok = int.from_bytes(data[2:4], "big") + 4 == len(data)
        cause = P.CAUSE_MANDATORY_IE_INCORRECT if length_ok else P.CAUSE_INVALID_LENGTH
        offending = None
        if length_ok and hdr <= exc.offset <= len(data) - 2:
            offending = int.from_bytes(data[exc.offset:exc.offset + 2], "big") & 0x7FFF
        rsp_name = _RESPONSE_OF[name]
        seid = None
        if code >= 50:
            s = self.ctx.sessions.get(int.from_bytes(data[4:12], "big"))
            seid = s.cp_seid if s is not None else 0
        ies: dict[str, Any] = {}
        if rsp_name == "HeartbeatResponse":
            ies["recovery_time_stamp"] = self.recovery_ts
        else:
            if code < 50:
                ies["node_id"] = self.node_id
            ies["cause"] = cause
            if offending is not None and offending in pfcp.IE_TABLE:
                ies["offending_ie"] = offending
        rsp = PfcpMessage.build(rsp_name, seq=seq, seid=seid, **ies)
        return [(pfcp.encode(rsp), addr)]

    # -- node procedures ------------------------------------------------------------------------

    def _heartbeat(self, msg: PfcpMessage, addr: Addr, now: float) -> PfcpMessage:
        """TS 29.244 §6.2.2 — Heartbeat Response with our Recovery Time Stamp."""
        _need(msg.ies, "recovery_time_stamp")
        for assoc in self.ctx.associations.values():
            if assoc.peer[0] == addr[0]:
                assoc.last_heard = now
        return PfcpMessage.build("HeartbeatResponse", seq=msg.seq,
                                 recovery_time_stamp=self.recovery_ts)

    def _association_setup(self, msg: PfcpMessage, addr: Addr, now: float) -> PfcpMessage:
        """TS 29.244 §6.2.6.2 — CP-initiated Association Setup.

        With the PFCP Session Retention Information (§6.2.6.2, Rel-16) the sessions of the
        node's existing association whose CP F-SEID address is one of its CP PFCP Entity IP
        Addresses stay, and the answer carries PFCPASRsp-Flags with PSREI; with no existing
        association there is nothing to retain and PSREI is not set."""
        node = _need(msg.ies, "node_id")
        ts = _need(msg.ies, "recovery_time_stamp")
        key = _node_key(node)
        info = msg.ies.get("pfcp_session_retention_information")
        retain: list[str] | None = None
        if isinstance(info, pfcp.Ies):
            retain = [ip.ipv4 for ip in info.all("cp_pfcp_entity_ip_address")
                      if isinstance(ip, pfcp.CpPfcpEntityIp) and ip.ipv4]
        retained = retain is not None and key in self.ctx.associations
        dropped = P.associate(self.ctx, key, int(ts), addr, now, retain)
        for s in dropped:
            self._forget_session(s)
        self._restarted.pop(key, None)
        self._next_hb[key] = now + self.heartbeat_interval
        self._hb_missed[key] = 0
        assoc = self.ctx.associations[key]
        if retained:
            self.ctx.metrics.pfcp_sessions_retained += len(assoc.sessions)
        log.info("pfcp association node=%s peer=%s (%d stale sessions removed, %s)",
                 key, addr, len(dropped),
                 f"{len(assoc.sessions)} retained" if retained else "no retention")
        return PfcpMessage.build(
            "AssociationSetupResponse", seq=msg.seq, node_id=self.node_id,
            cause=P.CAUSE_ACCEPTED, recovery_time_stamp=self.recovery_ts,
            up_function_features=UP_FEATURES,
            pfcpasrsp_flags=pfcp.Flags(pfcp.ASRSP_PSREI, 1) if retained else None)

    def _association_update(self, msg: PfcpMessage, addr: Addr, now: float) -> PfcpMessage:
        """TS 29.244 §6.2.7 — accepted when associated; nothing we act on is carried."""
        node = _need(msg.ies, "node_id")
        if _node_key(node) not in self.ctx.associations:
            raise P.ProcedureError(P.CAUSE_NO_ASSOCIATION, "not associated", P.IE_NODE_ID)
        return PfcpMessage.build("AssociationUpdateResponse", seq=msg.seq, node_id=self.node_id,
                                 cause=P.CAUSE_ACCEPTED)

    def _association_release(self, msg: PfcpMessage, addr: Addr, now: float) -> PfcpMessage:
        """TS 29.244 §6.2.8 — CP-initiated Association Release."""
        node = _need(msg.ies, "node_id")
        for s in P.release_association(self.ctx, _node_key(node)):
            self._forget_session(s)
        self._next_hb.pop(_node_key(node), None)
        self._restarted.pop(_node_key(node), None)
        return PfcpMessage.build("AssociationReleaseResponse", seq=msg.seq, node_id=self.node_id,
                                 cause=P.CAUSE_ACCEPTED)

    # -- session procedures ---------------------------------------------------------------------

    def _session_establishment(self, msg: PfcpMessage, addr: Addr, now: float) -> PfcpMessage:
        """TS 29.244 §6.3.2, §7.5.2 — Session Establishment Request -> Response."""
        ies = msg.ies
        node = _need(ies, "node_id")
        fseid = _need(ies, "f_seid")
        if not ies.all("create_pdr"):
            raise _MissingIe("create_pdr")
        if not ies.all("create_far"):
            raise _MissingIe("create_far")
        if not fseid.ipv4:
            raise P.ProcedureError(P.CAUSE_MANDATORY_IE_INCORRECT, "F-SEID without IPv4",
                                   P.IE_F_SEID)
        changes = self._changes(ies, establishment=True)
        result = P.establish_session(self.ctx, _node_key(node), fseid.seid, fseid.ipv4, changes,
                                     now)
        created = [
            Ies(pdr_id=c.pdr_id, f_teid=pfcp.FTeid(c.teid, c.ipv4)) for c in result.created_pdrs
        ]
        return PfcpMessage.build(
            "SessionEstablishmentResponse", seq=msg.seq, seid=fseid.seid, node_id=self.node_id,
            cause=P.CAUSE_ACCEPTED,
            f_seid=pfcp.FSeid(result.session.seid, self.node_id.value),
            created_pdr=created)

    def _session_modification(self, msg: PfcpMessage, addr: Addr, now: float) -> PfcpMessage:
        """TS 29.244 §6.3.3, §7.5.4 — Session Modification Request -> Response."""
        session = self.ctx.sessions.get(msg.seid or 0)
        if session is None:
            raise P.ProcedureError(P.CAUSE_SESSION_NOT_FOUND, f"no session {msg.seid}")
        changes = self._changes(msg.ies, establishment=False)
        fseid = msg.f_seid
        result = P.modify_session(self.ctx, session.seid, changes, now)
        if fseid is not None and fseid.ipv4:
            # §7.5.4: the CP function may move the session to another F-SEID.
            self.ctx.by_cp_fseid.pop((session.cp_ipv4, session.cp_seid), None)
            session.cp_seid, session.cp_ipv4 = fseid.seid, fseid.ipv4
            self.ctx.by_cp_fseid[(session.cp_ipv4, session.cp_seid)] = session.seid
        for em in result.end_markers:
            self._end_markers.append((em.teid, em.peer))
        if result.flush_buffer:
            self._flushes.append(session)
        created = [
            Ies(pdr_id=c.pdr_id, f_teid=pfcp.FTeid(c.teid, c.ipv4)) for c in result.created_pdrs
        ]
        return PfcpMessage.build(
            "SessionModificationResponse", seq=msg.seq, seid=session.cp_seid,
            cause=P.CAUSE_ACCEPTED, created_pdr=created,
            usage_report_modification=[self._usage_ies(u) for u in result.usage_reports])

    def _session_deletion(self, msg: PfcpMessage, addr: Addr, now: float) -> PfcpMessage:
        """TS 29.244 §6.3.4, §7.5.6 — Session Deletion; final usage in the response."""
        session = self.ctx.sessions.get(msg.seid or 0)
        if session is None:
            raise P.ProcedureError(P.CAUSE_SESSION_NOT_FOUND, f"no session {msg.seid}")
        _, reports, markers = P.delete_session(self.ctx, session.seid, now)
        for em in markers:
            self._end_markers.append((em.teid, em.peer))
        self._forget_session(session)
        return PfcpMessage.build(
            "SessionDeletionResponse", seq=msg.seq, seid=session.cp_seid, cause=P.CAUSE_ACCEPTED,
            usage_report_deletion=[self._usage_ies(u) for u in reports])

    def _forget_session(self, session: Session) -> None:
        for k, p in list(self._pending.items()):
            if p.session_seid == session.seid:
                del self._pending[k]

    # -- PFCP IEs -> rule model -----------------------------------------------------------------

    def _changes(self, ies: Ies, establishment: bool) -> P.SessionChanges:
        ch = P.SessionChanges()
        for t, g in ies.items:
            if t == _CREATE_PDR:
                ch.create_pdrs.append(_pdr(g))
            elif t == _CREATE_FAR:
                ch.create_fars.append(_far(g))
            elif t == _CREATE_QER:
                ch.create_qers.append(_qer(g))
            elif t == _CREATE_URR:
                ch.create_urrs.append(_urr(g))
            elif establishment:
                continue
            elif t == _UPDATE_PDR:
                v = _view(g)
                ch.update_pdrs.append((_need(v, "pdr_id"), _pdr_update(g, v)))
            elif t == _UPDATE_FAR:
                v = _view(g)
                far_id = _need(v, "far_id")
                upd = _far_update(v)
                if upd.pop("_sndem", False):
                    ch.send_end_marker.add(far_id)
                ch.update_fars.append((far_id, upd))
            elif t == _UPDATE_QER:
                v = _view(g)
                ch.update_qers.append((_need(v, "qer_id"), _qer_fields(v)))
            elif t == _UPDATE_URR:
                v = _view(g)
                ch.update_urrs.append((_need(v, "urr_id"), _urr_fields(v)))
            elif t == _REMOVE_PDR:
                ch.remove_pdrs.append(_need(_view(g), "pdr_id"))
            elif t == _REMOVE_FAR:
                ch.remove_fars.append(_need(_view(g), "far_id"))
            elif t == _REMOVE_QER:
                ch.remove_qers.append(_need(_view(g), "qer_id"))
            elif t == _REMOVE_URR:
                ch.remove_urrs.append(_need(_view(g), "urr_id"))
            elif t == _QUERY_URR:
                ch.query_urrs.append(_need(_view(g), "urr_id"))
            elif t == _SMREQ_FLAGS:
                ch.query_all_urrs = bool(g & SMREQ_QAURR)
        return ch

    def _usage_ies(self, u: UsageSnapshot) -> Ies:
        """TS 29.244 §7.5.8.3 Usage Report (the same IEs in all three report IE types)."""
        trig = 0
        for name in u.trigger.split("|"):
            trig |= URT.get(name, 0)
        return Ies(
            urr_id=u.urr_id, ur_seqn=u.seqn,
            usage_report_trigger=pfcp.Flags(trig, 3),
            start_time=int(u.start_time + self._ntp_offset) & 0xFFFFFFFF,
            end_time=int(u.end_time + self._ntp_offset) & 0xFFFFFFFF,
            volume_measurement=pfcp.Volume(
                total=u.total_bytes, ul=u.ul_bytes, dl=u.dl_bytes,
                total_packets=u.ul_pkts + u.dl_pkts, ul_packets=u.ul_pkts,
                dl_packets=u.dl_pkts),
        )

    # -- UP-initiated requests and timers -------------------------------------------------------

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = seq + 1 if seq < 0xFFFFFF else 1
        return seq

    def _request(self, msg: PfcpMessage, addr: Addr, kind: str, now: float,
                 session_seid: int | None = None, node_id: str | None = None) -> Out:
        data = pfcp.encode(msg)
        self._pending[msg.seq] = _Pending(data, addr, kind, now + self.t1, 1, session_seid,
                                          node_id)
        return [(data, addr)]

    def session_report(self, session: Session, now: float, *,
                       usage: list[UsageSnapshot] | None = None,
                       dl_data_pdr: int | None = None,
                       error_indication: tuple[int, str] | None = None) -> Out:
        """TS 29.244 §6.3.5 / §7.5.8 — Session Report Request towards the session's SMF."""
        report_type = 0
        ies: dict[str, Any] = {}
        if usage:
            report_type |= pfcp.REPORT_USAR
            ies["usage_report"] = [self._usage_ies(u) for u in usage]
        if dl_data_pdr is not None:
            report_type |= pfcp.REPORT_DLDR
            ies["downlink_data_report"] = Ies(pdr_id=dl_data_pdr)
        if error_indication is not None:
            report_type |= pfcp.REPORT_ERIR
            teid, peer = error_indication
            ies["error_indication_report"] = Ies(f_teid=pfcp.FTeid(teid, peer))
        msg = PfcpMessage.build("SessionReportRequest", seq=self._next_seq(),
                                seid=session.cp_seid, report_type=pfcp.Flags(report_type, 1),
                                **ies)
        return self._request(msg, (session.cp_ipv4, pfcp.PFCP_PORT), "report", now,
                             session_seid=session.seid)

    def poll(self, now: float) -> Out:
        """Timers and datapath events: heartbeats, retransmissions, Session Reports."""
        out: Out = []
        ctx = self.ctx
        while ctx.urr_events:
            session, urr = ctx.urr_events.popleft()
            if session.seid in ctx.sessions and session.urrs.get(urr.urr_id) is urr:
                out += self.session_report(session, now, usage=[urr.take("VOLTH", now)])
        while ctx.dl_data_events:
            session = ctx.dl_data_events.popleft()
            if session.seid in ctx.sessions:
                pdr = next((p.pdr_id for p in session.pdrs.values()
                            if p.source_interface != IF_ACCESS), None)
                out += self.session_report(session, now, dl_data_pdr=pdr)
        while ctx.error_indication_events:
            session, teid, peer = ctx.error_indication_events.popleft()
            if session.seid in ctx.sessions:
                out += self.session_report(session, now, error_indication=(teid, peer))
        for seq, p in list(self._pending.items()):
            if now < p.deadline:
                continue
            if p.tries >= self.n1:
                del self._pending[seq]
                if p.kind == "heartbeat" and p.node_id is not None:
                    out += self._heartbeat_lost(p.node_id, now)
                continue
            p.tries += 1
            p.deadline = now + self.t1
            out.append((p.data, p.addr))
        for node_id, due in list(self._restarted.items()):
            if now >= due:
                # no Association Setup with session retention came: §6.2.2, its sessions go
                del self._restarted[node_id]
                log.warning("pfcp peer %s restarted and did not re-associate: dropping its sessions", node_id)
                try:
                    for s in P.release_association(ctx, node_id):
                        self._forget_session(s)
                except P.ProcedureError:
                    pass
        for node_id, due in list(self._next_hb.items()):
            if now >= due and node_id in ctx.associations:
                self._next_hb[node_id] = now + self.heartbeat_interval
                assoc = ctx.associations[node_id]
                msg = PfcpMessage.build("HeartbeatRequest", seq=self._next_seq(),
                                        recovery_time_stamp=self.recovery_ts)
                out += self._request(msg, (assoc.peer[0], pfcp.PFCP_PORT), "heartbeat", now,
                                     node_id=node_id)
        return out

    def _heartbeat_lost(self, node_id: str, now: float) -> Out:
        """TS 29.244 §6.2.2: the CP node stopped answering; after ``heartbeat_retries``
        lost heartbeats the association and its sessions are released locally."""
        missed = self._hb_missed.get(node_id, 0) + 1
        self._hb_missed[node_id] = missed
        if missed < self.heartbeat_retries:
            return []
        log.warning("pfcp peer %s lost (%d heartbeats unanswered): releasing association",
                    node_id, missed)
        try:
            for s in P.release_association(self.ctx, node_id):
                self._forget_session(s)
        except P.ProcedureError:
            pass
        self._next_hb.pop(node_id, None)
        return []

    def _response(self, msg: PfcpMessage, addr: Addr, now: float) -> None:
        p = self._pending.pop(msg.seq, None)
        if p is None:
            return
        if p.kind == "heartbeat" and p.node_id is not None:
            self._hb_missed[p.node_id] = 0
            assoc = self.ctx.associations.get(p.node_id)
            if assoc is not None:
                assoc.last_heard = now
                ts = msg.recovery_time_stamp
                if ts is not None and int(ts) != assoc.recovery_ts and p.node_id not in self._restarted:
                    # §6.2.2: the CP function restarted. A Rel-16 CP function may come back
                    # with its sessions and ask us to retain them (§6.2.6.2, PFCP Session
                    # Retention Information): they wait cp_restart_grace for that, then go.
                    self._next_hb.pop(p.node_id, None)
                    if self.cp_restart_grace <= 0:
                        log.warning("pfcp peer %s restarted: dropping its sessions", p.node_id)
                        for s in P.release_association(self.ctx, p.node_id):
                            self._forget_session(s)
                        return
                    log.warning("pfcp peer %s restarted: its %d sessions wait %.0f s for a re-association",
                                p.node_id, len(assoc.sessions), self.cp_restart_grace)
                    self._restarted[p.node_id] = now + self.cp_restart_grace
        elif (p.kind == "report" and msg.msg_type == "SessionReportResponse"
              and msg.cause == P.CAUSE_SESSION_NOT_FOUND and p.session_seid is not None):
            # §6.3.5: the SMF has no such session; it must not linger here either.
            s = self.ctx.sessions.get(p.session_seid)
            if s is not None:
                P.delete_session(self.ctx, s.seid, now)


# ---------------------------------------------------------------------------------------------
# IE -> model helpers (TS 29.244 §7.5.2)
# ---------------------------------------------------------------------------------------------


def _node_key(node: pfcp.NodeId) -> str:
    return node.value


_N = pfcp.IE_NAMES
_CREATE_PDR, _CREATE_FAR, _CREATE_QER, _CREATE_URR = (
    _N["create_pdr"], _N["create_far"], _N["create_qer"], _N["create_urr"])
_UPDATE_PDR, _UPDATE_FAR, _UPDATE_QER, _UPDATE_URR = (
    _N["update_pdr"], _N["update_far"], _N["update_qer"], _N["update_urr"])
_REMOVE_PDR, _REMOVE_FAR, _REMOVE_QER, _REMOVE_URR = (
    _N["remove_pdr"], _N["remove_far"], _N["remove_qer"], _N["remove_urr"])
_QUERY_URR, _SMREQ_FLAGS = _N["query_urr"], _N["pfcpsmreq_flags"]
_QER_ID, _URR_ID, _SDF_FILTER = _N["qer_id"], _N["urr_id"], _N["sdf_filter"]


def _view(ies: Ies) -> dict[str, Any]:
    """One pass over a grouped IE: name -> first value. Rules are read field by field,
    and ``Ies.get`` scans the list each time; at thousands of sessions a second the
    difference shows (this is the establishment hot path)."""
    out: dict[str, Any] = {}
    names = _IE_NAME
    for t, v in ies.items:
        name = names.get(t)
        if name is not None and name not in out:
            out[name] = v
    return out


_IE_NAME: dict[int, str] = {t: entry[0] for t, entry in pfcp.IE_TABLE.items()}


def _need(view: dict[str, Any] | Ies, name: str) -> Any:
    v = view.get(name)
    if v is None:
        raise _MissingIe(name)
    return v


def _ue_ip(v: pfcp.UeIpAddress | None) -> int | None:
    if v is None or not v.ipv4:
        return None
    return ipv4_to_int(v.ipv4)


def _ni(v: Any) -> str:
    return v if isinstance(v, str) else bytes(getattr(v, "data", v)).hex()


def _pdi_fields(pdi: Ies, out: dict[str, Any]) -> None:
    v = _view(pdi)
    out["source_interface"] = _need(v, "source_interface")
    fteid = v.get("f_teid")
    if fteid is not None:
        if fteid.ch:
            out["choose"] = True
            out["choose_id"] = fteid.choose_id
            out["teid"] = None
        else:
            out["teid"] = fteid.teid
            out["local_ipv4"] = fteid.ipv4
    ueip = v.get("ue_ip_address")
    ue = _ue_ip(ueip)
    if ue is not None:
        out["ue_ipv4"] = ue
    if ueip is not None and ueip.ipv6:
        # TS 29.244 §8.2.62: without IPv6D / IP6PL the address field carries a /64 prefix;
        # the datapath routes by /64, so that is what is kept (prefix delegation not served)
        out["ue_ipv6_prefix"] = prefix64(ueip.ipv6)
    ni = v.get("network_instance")
    if ni is not None:
        out["network_instance"] = _ni(ni)
    if v.get("qfi") is not None:
        out["qfi"] = v["qfi"]
    if "sdf_filter" in v:
        out["sdf_filters"] = [bytes(getattr(x, "data", x)) for t, x in pdi.items
                              if t == _SDF_FILTER]


def _pdr(g: Ies) -> Pdr:
    """Create PDR, TS 29.244 §7.5.2.2."""
    v = _view(g)
    fields: dict[str, Any] = {}
    pdr_id = _need(v, "pdr_id")
    precedence = _need(v, "precedence")
    _pdi_fields(_need(v, "pdi"), fields)
    pdr = Pdr(pdr_id=pdr_id, precedence=precedence, **fields)
    ohr = v.get("outer_header_removal")
    pdr.outer_header_removal = ohr.description if ohr is not None else None
    pdr.far_id = v.get("far_id")
    if "qer_id" in v:
        pdr.qer_ids = [x for t, x in g.items if t == _QER_ID]
    if "urr_id" in v:
        pdr.urr_ids = [x for t, x in g.items if t == _URR_ID]
    return pdr


def _pdr_update(g: Ies, v: dict[str, Any]) -> dict[str, Any]:
    """Update PDR, TS 29.244 §7.5.4.2: only the IEs present change."""
    out: dict[str, Any] = {}
    if v.get("pdi") is not None:
        _pdi_fields(v["pdi"], out)
    if v.get("precedence") is not None:
        out["precedence"] = v["precedence"]
    if v.get("outer_header_removal") is not None:
        out["outer_header_removal"] = v["outer_header_removal"].description
    if v.get("far_id") is not None:
        out["far_id"] = v["far_id"]
    if "qer_id" in v:
        out["qer_ids"] = [x for t, x in g.items if t == _QER_ID]
    if "urr_id" in v:
        out["urr_ids"] = [x for t, x in g.items if t == _URR_ID]
    return out


def _fwd_fields(fp: Ies, out: dict[str, Any]) -> None:
    v = _view(fp)
    if v.get("destination_interface") is not None:
        out["destination_interface"] = v["destination_interface"]
    ni = v.get("network_instance")
    if ni is not None:
        out["network_instance"] = _ni(ni)
    ohc = v.get("outer_header_creation")
    if ohc is not None:
        if not ohc.description & pfcp.OHC_GTPU_UDP_IPV4 or not ohc.ipv4:
            raise P.ProcedureError(P.CAUSE_RULE_FAILURE,
                                   "only GTP-U/UDP/IPv4 outer headers are supported",
                                   pfcp.IE_NAMES["outer_header_creation"])
        out["ohc_description"] = ohc.description
        out["ohc_teid"] = ohc.teid
        out["ohc_ipv4"] = ohc.ipv4
        out["ohc_port"] = ohc.port
    flags = v.get("pfcpsmreq_flags")
    if flags is not None and flags & SMREQ_SNDEM:
        out["_sndem"] = True


def _far(g: Ies) -> Far:
    """Create FAR, TS 29.244 §7.5.2.3."""
    v = _view(g)
    far = Far(far_id=_need(v, "far_id"), apply_action=int(_need(v, "apply_action")))
    fp = v.get("forwarding_parameters")
    if fp is not None:
        fields: dict[str, Any] = {}
        _fwd_fields(fp, fields)
        fields.pop("_sndem", None)
        for k, x in fields.items():
            setattr(far, k, x)
    return far


def _far_update(v: dict[str, Any]) -> dict[str, Any]:
    """Update FAR, TS 29.244 §7.5.4.3 (with Update Forwarding Parameters)."""
    out: dict[str, Any] = {}
    if v.get("apply_action") is not None:
        out["apply_action"] = int(v["apply_action"])
    fp = v.get("update_forwarding_parameters") or v.get("forwarding_parameters")
    if fp is not None:
        _fwd_fields(fp, out)
    return out


def _qer_fields(v: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gate = v.get("gate_status")
    if gate is not None:
        out["gate_ul"], out["gate_dl"] = gate.ul, gate.dl
    mbr = v.get("mbr")
    if mbr is not None:
        out["mbr_ul_kbps"], out["mbr_dl_kbps"] = mbr.ul, mbr.dl
    if v.get("qfi") is not None:
        out["qfi"] = v["qfi"]
    return out


def _qer(g: Ies) -> Qer:
    """Create QER, TS 29.244 §7.5.2.5 (Gate Status is mandatory)."""
    v = _view(g)
    qer = Qer(qer_id=_need(v, "qer_id"))
    _need(v, "gate_status")
    for k, x in _qer_fields(v).items():
        setattr(qer, k, x)
    return qer


def _urr_fields(v: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if v.get("measurement_method") is not None:
        out["measurement_method"] = int(v["measurement_method"])
    if v.get("reporting_triggers") is not None:
        out["reporting_triggers"] = int(v["reporting_triggers"])
    vt = v.get("volume_threshold")
    if vt is not None:
        out["threshold_total"], out["threshold_ul"], out["threshold_dl"] = vt.total, vt.ul, vt.dl
    return out


def _urr(g: Ies) -> Urr:
    """Create URR, TS 29.244 §7.5.2.4."""
    v = _view(g)
    urr = Urr(_need(v, "urr_id"))
    _need(v, "measurement_method")
    _need(v, "reporting_triggers")
    for k, x in _urr_fields(v).items():
        setattr(urr, k, x)
    if not urr.reporting_triggers & pfcp.TRIGGER_VOLTH:
        urr.threshold_total = urr.threshold_ul = urr.threshold_dl = None
    return urr
