"""PFCP procedures of the UPF on its own rule model (TS 29.244 §6.2, §6.3), wire-free.

Each function takes the decoded intent of one request (rules as
:mod:`fivecore.nf.upf.context` objects, field updates as dicts) and changes the
:class:`~fivecore.nf.upf.context.UpfContext`, or raises :class:`ProcedureError` with the
PFCP cause (§8.2.1) and the offending IE type before changing anything visible to the
datapath. :mod:`fivecore.nf.upf.pfcp_server` turns PFCP messages into these calls and
their results back into PFCP messages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from fivecore.nf.upf.context import (
    IF_ACCESS,
    Association,
    Far,
    Pdr,
    Qer,
    Session,
    UpfContext,
    Urr,
    UsageSnapshot,
)

log = logging.getLogger("fivecore.upf.pfcp")

# TS 29.244 §8.2.1 Cause values.
CAUSE_ACCEPTED = 1
CAUSE_REJECTED = 64
CAUSE_SESSION_NOT_FOUND = 65
CAUSE_MANDATORY_IE_MISSING = 66
CAUSE_CONDITIONAL_IE_MISSING = 67
CAUSE_INVALID_LENGTH = 68
CAUSE_MANDATORY_IE_INCORRECT = 69
CAUSE_INVALID_FORWARDING_POLICY = 70
CAUSE_INVALID_FTEID_ALLOCATION = 71
CAUSE_NO_ASSOCIATION = 72
CAUSE_RULE_FAILURE = 73
CAUSE_NO_RESOURCES = 75
CAUSE_SERVICE_NOT_SUPPORTED = 76
CAUSE_SYSTEM_FAILURE = 77

# TS 29.244 §8.2.19 IE types used as Offending IE.
IE_CREATE_PDR = 1
IE_PDI = 2
IE_CREATE_FAR = 3
IE_CREATE_URR = 6
IE_CREATE_QER = 7
IE_UPDATE_PDR = 9
IE_UPDATE_FAR = 10
IE_UPDATE_URR = 13
IE_UPDATE_QER = 14
IE_F_TEID = 21
IE_PDR_ID = 56
IE_F_SEID = 57
IE_NODE_ID = 60
IE_FAR_ID = 108
IE_QER_ID = 109
IE_URR_ID = 81


class ProcedureError(Exception):
    """A request the UPF refuses: ``cause`` per §8.2.1 and the ``offending_ie`` type."""

    def __init__(self, cause: int, reason: str, offending_ie: int | None = None) -> None:
        super().__init__(reason)
        self.cause = cause
        self.reason = reason
        self.offending_ie = offending_ie


@dataclass
class CreatedPdr:
    """TS 29.244 §7.5.3.2 Created PDR: the F-TEID the UP function chose."""

    pdr_id: int
    teid: int
    ipv4: str


@dataclass
class EndMarker:
    """A GTP-U End Marker to send on an old downlink tunnel (TS 29.281 §7.3.2)."""

    teid: int
    peer: tuple[str, int]


@dataclass
class SessionChanges:
    """What one Establishment / Modification asks for (TS 29.244 §7.5.2, §7.5.4)."""

    create_pdrs: list[Pdr] = field(default_factory=list)
    create_fars: list[Far] = field(default_factory=list)
    create_qers: list[Qer] = field(default_factory=list)
    create_urrs: list[Urr] = field(default_factory=list)
    update_pdrs: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    update_fars: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    update_qers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    update_urrs: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    remove_pdrs: list[int] = field(default_factory=list)
    remove_fars: list[int] = field(default_factory=list)
    remove_qers: list[int] = field(default_factory=list)
    remove_urrs: list[int] = field(default_factory=list)
    query_urrs: list[int] = field(default_factory=list)
    query_all_urrs: bool = False
    # FAR ids whose update carried PFCPSMReq-Flags SNDEM (§8.2.58): send an end marker.
    send_end_marker: set[int] = field(default_factory=set)


@dataclass
class SessionResult:
    session: Session
    created_pdrs: list[CreatedPdr] = field(default_factory=list)
    usage_reports: list[UsageSnapshot] = field(default_factory=list)
    end_markers: list[EndMarker] = field(default_factory=list)
    flush_buffer: bool = False


# ---------------------------------------------------------------------------------------------
# Node-level procedures (TS 29.244 §6.2)
# ---------------------------------------------------------------------------------------------


def associate(ctx: UpfContext, node_id: str, recovery_ts: int, peer: tuple[str, int],
              now: float, retain: Iterable[str] | None = None) -> list[Session]:
    """TS 29.244 §6.2.6.2 — Association Setup from a CP node.

    A node that is already associated keeps its sessions when its Recovery Time Stamp is
    unchanged (a retransmitted or repeated setup); a new stamp means the CP function
    restarted, so its old sessions are deleted (§6.2.6.2.2, §19A) -- unless the request
    carried the PFCP Session Retention Information (Rel-16, §6.2.6.2): ``retain`` holds its
    CP PFCP Entity IP Addresses, and the sessions whose CP F-SEID has one of them (all of the
    node's, when it names none) stay with the new association. Returns the deleted sessions.
    """
    dropped: list[Session] = []
    old = ctx.associations.get(node_id)
    if old is not None and old.recovery_ts != recovery_ts:
        keep = None if retain is None else frozenset(retain)
        for seid in list(old.sessions):
            s = ctx.sessions.get(seid)
            if s is not None and keep is not None and (not keep or s.cp_ipv4 in keep):
                continue
            s = ctx.remove_session(seid)
            if s is not None:
                dropped.append(s)
        log.info("pfcp re-association node=%s new recovery ts: %d sessions removed, %d retained",
                 node_id, len(dropped), len(old.sessions))
    if old is not None and old.recovery_ts == recovery_ts:
        old.peer = peer
        old.last_heard = now
        return dropped
    assoc = Association(node_id=node_id, recovery_ts=recovery_ts, peer=peer, up_since=now,
                        last_heard=now)
    if old is not None:
        assoc.sessions = old.sessions  # what is left: the retained ones (removal discards)
    ctx.associations[node_id] = assoc
    return dropped


def release_association(ctx: UpfContext, node_id: str) -> list[Session]:
    """TS 29.244 §6.2.8 — Association Release: the node's sessions go with it."""
    assoc = ctx.associations.pop(node_id, None)
    if assoc is None:
        raise ProcedureError(CAUSE_NO_ASSOCIATION, f"no association with {node_id}", IE_NODE_ID)
    dropped = []
    for seid in list(assoc.sessions):
        s = ctx.remove_session(seid)
        if s is not None:
            dropped.append(s)
    return dropped


# ---------------------------------------------------------------------------------------------
# Session procedures (TS 29.244 §6.3)
# ---------------------------------------------------------------------------------------------


def establish_session(ctx: UpfContext, node_id: str, cp_seid: int, cp_ipv4: str,
                      changes: SessionChanges, now: float,
                      ue_ipv4: int | None = None) -> SessionResult:
    """TS 29.244 §6.3.2 / §7.5.2 — Session Establishment."""
    begun = _begin_establishment(ctx, node_id, cp_seid, cp_ipv4, changes.create_pdrs, changes.create_fars)
    if isinstance(begun, SessionResult):
        return begun
    _apply_changes(ctx, begun, changes, now)
    if ue_ipv4 is not None:
        begun.ue_ipv4 = ue_ipv4
    return _finish_establishment(ctx, begun)


def _begin_establishment(ctx: UpfContext, node_id: str, cp_seid: int, cp_ipv4: str, pdrs: list[Pdr],
                         fars: list[Far]) -> Session | SessionResult:
    """§6.3.2: the checks before a new session, and the session (or, for a CP SEID already
    served, the answer that session gives)."""
    if ctx.associations.get(node_id) is None:
        raise ProcedureError(CAUSE_NO_ASSOCIATION, f"no association with {node_id}", IE_NODE_ID)
    if not pdrs:
        raise ProcedureError(CAUSE_MANDATORY_IE_MISSING, "no Create PDR", IE_CREATE_PDR)
    if not fars:
        raise ProcedureError(CAUSE_MANDATORY_IE_MISSING, "no Create FAR", IE_CREATE_FAR)
    # A repeated request for a CP SEID we already serve replaces nothing: the same session
    # answers (the SMF retransmitted after losing our response, §6.4).
    existing = ctx.sessions.get(ctx.by_cp_fseid.get((cp_ipv4, cp_seid), 0))
    if existing is not None and existing.node_id == node_id:
        return SessionResult(existing, created_pdrs=_created_pdrs(ctx, existing))
    return Session(ctx.allocate_seid(), cp_seid, cp_ipv4, node_id)


def _finish_establishment(ctx: UpfContext, session: Session) -> SessionResult:
    """The new session's UE address, Created PDRs, and its entries in the datapath tables."""
    _derive_ue_ip(session)
    created = _created_pdrs(ctx, session)
    ctx.add_session(session)
    ctx.compile(session)
    return SessionResult(session, created_pdrs=created)


def _take_teid(ctx: UpfContext, session: Session, pdr: Pdr, chosen: dict[int, int], taken: set[int],
               check_owner: bool) -> None:
    """TS 29.244 §5.5.3: an access PDR with CH set gets a TEID of ours (one per CHOOSE ID in a
    session); a TEID the CP chose must not belong to another session."""
    if pdr.source_interface == IF_ACCESS and pdr.teid is None and pdr.choose:
        if pdr.choose_id is not None and pdr.choose_id in chosen:
            pdr.teid = chosen[pdr.choose_id]
        else:
            pdr.teid = ctx.allocate_teid(exclude=taken)
            if pdr.choose_id is not None:
                chosen[pdr.choose_id] = pdr.teid
        taken.add(pdr.teid)
        pdr.up_chosen = True
    elif pdr.teid is not None and check_owner:
        owner = ctx.teid_owner(pdr.teid)
        if owner is not None and owner is not session:
            raise ProcedureError(CAUSE_INVALID_FTEID_ALLOCATION,
                                 f"TEID {pdr.teid:#x} is in use by another session", IE_F_TEID)


def modify_session(ctx: UpfContext, seid: int, changes: SessionChanges,
                   now: float) -> SessionResult:
    """TS 29.244 §6.3.3 / §7.5.4 — Session Modification.

    Rules are changed on a copy and checked before the live session is touched, so a
    refused request leaves the datapath exactly as it was (§7.5.5: rejected = no change).
    """
    session = ctx.sessions.get(seid)
    if session is None:
        raise ProcedureError(CAUSE_SESSION_NOT_FOUND, f"no session {seid:#x}")
    old_tunnels = _tunnels(ctx, session.fars)
    had_buffering = session.has_buffered or session.dl_data_reported
    result = SessionResult(session)
    reports: list[UsageSnapshot] = []
    # Removed URRs report their final usage (§5.2.2.3.1).
    for urr_id in changes.remove_urrs:
        urr = session.urrs.get(urr_id)
        if urr is not None:
            reports.append(urr.take("TERMR", now))
    _apply_changes(ctx, session, changes, now)
    _derive_ue_ip(session)
    if changes.create_pdrs:
        created_ids = {p.pdr_id for p in changes.create_pdrs}
        result.created_pdrs = [c for c in _created_pdrs(ctx, session) if c.pdr_id in created_ids]
    ctx.compile(session)
    # TS 29.244 §5.2.2.3.2 / §7.5.4 — Query URR: report the usage so far.
    query = list(session.urrs) if changes.query_all_urrs else changes.query_urrs
    for urr_id in query:
        urr = session.urrs.get(urr_id)
        if urr is not None:
            reports.append(urr.take("IMMER", now))
    result.usage_reports = reports
    _after_far_changes(ctx, session, result, old_tunnels, changes.send_end_marker, had_buffering)
    return result


def _tunnels(ctx: UpfContext, fars: dict[int, Far]) -> dict[int, tuple[int, str, int]]:
    """The downlink GTP-U tunnel (TEID, peer, port) of each FAR that has one."""
    gtpu_port = ctx.gtpu_port
    return {far_id: (far.ohc_teid, far.ohc_ipv4, far.ohc_port or gtpu_port)
            for far_id, far in fars.items() if far.ohc_teid is not None and far.ohc_ipv4}


def _after_far_changes(ctx: UpfContext, session: Session, result: SessionResult,
                       old_tunnels: dict[int, tuple[int, str, int]], send_end_marker: Any,
                       had_buffering: bool) -> None:
    """End markers and the buffer flush a committed modification calls for."""
    # TS 23.501 §5.8.2.9 / TS 29.281 §7.3.2 — path switch: end marker on the old tunnel
    # when the SMF asks (SNDEM) or when a downlink tunnel moved to another TEID/peer.
    gtpu_port = ctx.gtpu_port
    for far_id, (teid, ip, port) in old_tunnels.items():
        far = session.fars.get(far_id)
        moved = far is None or (far.ohc_teid, far.ohc_ipv4, far.ohc_port or gtpu_port) != (
            teid, ip, port)
        if far_id in send_end_marker or (moved and far is not None):
            result.end_markers.append(EndMarker(teid, (ip, port)))
    # Looked at again after compile(): the datapath thread may have buffered a packet on
    # the old BUFF path after had_buffering was taken; left there it would wait for a
    # modification that never comes (a new session's first downlink packets, lost).
    if had_buffering or session.has_buffered:
        result.flush_buffer = any(p.action == 1 for p in _dl_paths(ctx, session))
    elif session.ue_ipv6_prefix is not None:
        # TS 23.501 §5.8.2.2.3: the flush also sends the session's first Router
        # Advertisement once its downlink tunnel is there, and one that fell due while the
        # session was idle (the datapath's clock decides: Datapath.flush_buffer)
        result.flush_buffer = any(p.action == 1 and p.peer is not None for p in _dl_paths(ctx, session))


def establish_checked(ctx: UpfContext, node_id: str, cp_seid: int, cp_ipv4: str,
                      pdrs: list[Pdr], fars: list[Far], qers: list[Qer], urrs: list[Urr],
                      now: float) -> SessionResult:
    """:func:`establish_session` for fresh rules whose references to each other (PDR -> FAR,
    QER, URR) are known to hold — the rules of a request shape whose copy already passed
    :func:`_apply_changes` (:mod:`fivecore.nf.upf.fastpath`). The same session, TEIDs,
    datapath entries and refusals as :func:`establish_session`; only the reference checks,
    which cannot fail for such rules, are left out."""
    session = _begin_establishment(ctx, node_id, cp_seid, cp_ipv4, pdrs, fars)
    if isinstance(session, SessionResult):
        return session
    # as _apply_changes: a later rule with the same ID replaces an earlier one
    s_pdrs = {p.pdr_id: p for p in pdrs}
    s_fars = {f.far_id: f for f in fars}
    s_qers = {q.qer_id: q for q in qers}
    for urr in urrs:
        urr.start_time = now
        urr.rearm()
    s_urrs = {u.urr_id: u for u in urrs}
    chosen: dict[int, int] = {}
    taken: set[int] = set()
    for pdr in s_pdrs.values():
        _take_teid(ctx, session, pdr, chosen, taken, True)
    for qer in qers:
        qer.sync_buckets(now)
    session.pdrs, session.fars, session.qers, session.urrs = s_pdrs, s_fars, s_qers, s_urrs
    return _finish_establishment(ctx, session)


def modify_fars(ctx: UpfContext, seid: int, updates: list[tuple[int, dict[str, Any]]],
                send_end_marker: set[int] | frozenset[int], now: float) -> SessionResult:
    """:func:`modify_session` for a request that only updates FARs (TS 29.244 §7.5.4.3),
    as the SMF's downlink activation and deactivation do. The rules a committed session holds
    always passed :func:`_apply_changes`, and FAR updates add and remove none, so its checks
    cannot fail here and are left out; the result is the one :func:`modify_session` gives."""
    session = ctx.sessions.get(seid)
    if session is None:
        raise ProcedureError(CAUSE_SESSION_NOT_FOUND, f"no session {seid:#x}")
    fars = dict(session.fars)
    old_tunnels = _tunnels(ctx, fars)
    had_buffering = session.has_buffered or session.dl_data_reported
    for far_id, upd in updates:
        if far_id not in fars:
            raise ProcedureError(CAUSE_RULE_FAILURE, f"Update FAR {far_id}: unknown", IE_FAR_ID)
        fars[far_id] = _updated(fars[far_id], upd, _FAR_FIELDS)
    session.fars = fars
    ctx.compile(session)
    result = SessionResult(session)
    _after_far_changes(ctx, session, result, old_tunnels, send_end_marker, had_buffering)
    return result


def delete_session(ctx: UpfContext, seid: int, now: float) -> tuple[Session, list[UsageSnapshot],
                                                                  list[EndMarker]]:
    """TS 29.244 §6.3.4 / §7.5.6 — Session Deletion: final usage of every URR."""
    session = ctx.remove_session(seid)
    if session is None:
        raise ProcedureError(CAUSE_SESSION_NOT_FOUND, f"no session {seid:#x}")
    reports = [urr.take("TERMR", now) for urr in session.urrs.values()]
    # The gNB learns no more downlink data will come on the tunnel (TS 29.281 §7.3.2).
    markers = [
        EndMarker(far.ohc_teid, (far.ohc_ipv4, far.ohc_port or ctx.gtpu_port))
        for far in session.fars.values()
        if far.ohc_teid is not None and far.ohc_ipv4 and far.destination_interface == IF_ACCESS
    ]
    return session, reports, markers


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _dl_paths(ctx: UpfContext, session: Session) -> list[Any]:
    return [ctx.dl_by_ue[u] for u in session.dl_ues if u in ctx.dl_by_ue]


def _created_pdrs(ctx: UpfContext, session: Session) -> list[CreatedPdr]:
    return [
        CreatedPdr(p.pdr_id, p.teid, p.local_ipv4 or ctx.n3_ipv4)
        for p in session.pdrs.values()
        if p.teid is not None and p.up_chosen
    ]


def _derive_ue_ip(session: Session) -> None:
    if session.ue_ipv4 is None:
        for p in session.pdrs.values():
            if p.ue_ipv4 is not None:
                session.ue_ipv4 = p.ue_ipv4
                break
    if session.ue_ipv6_prefix is None:
        for p in session.pdrs.values():
            if p.ue_ipv6_prefix is not None:
                session.ue_ipv6_prefix = p.ue_ipv6_prefix
                return


_RULE_FIELDS: dict[type, tuple[tuple[str, ...], Any]] = {
    cls: (names, attrgetter(*names))
    for cls in (Pdr, Far, Qer) for names in [tuple(cls.__dataclass_fields__)]}
_PDR_FIELDS = {f for f in Pdr.__dataclass_fields__ if f != "pdr_id"}
_FAR_FIELDS = {f for f in Far.__dataclass_fields__ if f != "far_id"}
_QER_FIELDS = {"gate_ul", "gate_dl", "mbr_ul_kbps", "mbr_dl_kbps", "qfi"}
_URR_FIELDS = {"measurement_method", "reporting_triggers", "threshold_total", "threshold_ul",
               "threshold_dl"}


def _apply_changes(ctx: UpfContext, session: Session, ch: SessionChanges, now: float) -> None:
    """Validate every rule change against a scratch copy, then commit them all."""
    pdrs = dict(session.pdrs)
    fars = dict(session.fars)
    qers = dict(session.qers)
    urrs = dict(session.urrs)

    # Most requests carry one or two kinds of change: the empty ones cost one test each.
    for far in ch.create_fars:
        fars[far.far_id] = far
    if ch.update_fars:
        for far_id, upd in ch.update_fars:
            if far_id not in fars:
                raise ProcedureError(CAUSE_RULE_FAILURE, f"Update FAR {far_id}: unknown",
                                     IE_FAR_ID)
            fars[far_id] = _updated(fars[far_id], upd, _FAR_FIELDS)
    for far_id in ch.remove_fars:
        fars.pop(far_id, None)

    new_qers: list[Qer] = []
    for qer in ch.create_qers:
        qers[qer.qer_id] = qer
        new_qers.append(qer)
    if ch.update_qers:
        for qer_id, upd in ch.update_qers:
            if qer_id not in qers:
                raise ProcedureError(CAUSE_RULE_FAILURE, f"Update QER {qer_id}: unknown",
                                     IE_QER_ID)
            # The copy shares the live token buckets, which sync_buckets re-rates on commit.
            qers[qer_id] = _updated(qers[qer_id], upd, _QER_FIELDS)
            new_qers.append(qers[qer_id])
    for qer_id in ch.remove_qers:
        qers.pop(qer_id, None)

    for urr in ch.create_urrs:
        urr.start_time = now
        urr.rearm()
        urrs[urr.urr_id] = urr
    if ch.update_urrs:
        for urr_id, upd in ch.update_urrs:
            if urr_id not in urrs:
                raise ProcedureError(CAUSE_RULE_FAILURE, f"Update URR {urr_id}: unknown",
                                     IE_URR_ID)
            for k, v in upd.items():
                if k in _URR_FIELDS:
                    setattr(urrs[urr_id], k, v)
            urrs[urr_id].rearm()
    for urr_id in ch.remove_urrs:
        urrs.pop(urr_id, None)

    chosen: dict[int, int] = {}
    taken: set[int] = set()
    for pdr in ch.create_pdrs:
        pdrs[pdr.pdr_id] = pdr
    if ch.update_pdrs:
        for pdr_id, upd in ch.update_pdrs:
            if pdr_id not in pdrs:
                raise ProcedureError(CAUSE_RULE_FAILURE, f"Update PDR {pdr_id}: unknown",
                                     IE_PDR_ID)
            pdrs[pdr_id] = _updated(pdrs[pdr_id], upd, _PDR_FIELDS)
    for pdr_id in ch.remove_pdrs:
        pdrs.pop(pdr_id, None)

    for pdr in pdrs.values():
        if pdr.far_id is not None and pdr.far_id not in fars:
            raise ProcedureError(CAUSE_RULE_FAILURE,
                                 f"PDR {pdr.pdr_id} refers to unknown FAR {pdr.far_id}",
                                 IE_CREATE_PDR)
        for q in pdr.qer_ids:
            if q not in qers:
                raise ProcedureError(CAUSE_RULE_FAILURE,
                                     f"PDR {pdr.pdr_id} refers to unknown QER {q}", IE_CREATE_PDR)
        for u in pdr.urr_ids:
            if u not in urrs:
                raise ProcedureError(CAUSE_RULE_FAILURE,
                                     f"PDR {pdr.pdr_id} refers to unknown URR {u}", IE_CREATE_PDR)
        # a CP-chosen TEID is checked for PDRs this request creates (an updated one was checked)
        _take_teid(ctx, session, pdr, chosen, taken, pdr.teid is not None and pdr in ch.create_pdrs)

    for qer in new_qers:
        qer.sync_buckets(now)
    session.pdrs, session.fars, session.qers, session.urrs = pdrs, fars, qers, urrs


def _updated(obj: Any, upd: dict[str, Any], allowed: set[str]) -> Any:
    """A copy of a rule with the present fields of an Update IE applied."""
    cls = type(obj)
    fields = _RULE_FIELDS.get(cls)
    if fields is not None and allowed.issuperset(upd):
        # the rule classes are slotted dataclasses whose slots are their fields: read them
        # all in one C call and build the copy with the updates in through the constructor
        vals = dict(zip(fields[0], fields[1](obj), strict=True))
        vals.update(upd)
        return cls(**vals)
    slots = cls.__dict__.get("__slots__")
    if slots is None:
        import copy

        new = copy.copy(obj)
    else:
        # The rule classes are slotted dataclasses; copying the slots directly is several
        # times cheaper than copy.copy's reduce protocol, and this runs on every modification.
        new = cls.__new__(cls)
        for name in slots:
            setattr(new, name, getattr(obj, name))
    for k, v in upd.items():
        if k in allowed:
            setattr(new, k, v)
    return new


def want_choose(pdr: Pdr, choose_id: int | None = None) -> Pdr:
    """Mark a PDR whose F-TEID had CH set: the UPF picks the TEID (§8.2.3)."""
    pdr.choose = True
    pdr.teid = None
    pdr.choose_id = choose_id
    return pdr
