"""The trust audit log: every admission decision, append-only, one JSON object per line.

Record (schema ``v: 1``)::

    {"v": 1, "ts": "2026-11-29T19:30:00.123Z", "actor": "nrf", "event": "nf-register",
     "decision": "refuse", "subject_kind": "nf", "subject": "<nfInstanceId>", "zone": "core",
     "vendor": "dragonfly", "vendor_name": "...", "vendor_pen": 900003, "risk_class": "high-risk",
     "rule": "zones.core.risk_classes.high-risk", "reason": "...", "http_status": 403, ...}

``actor`` is who decided (``nrf``, ``amf``, or with an instance: ``amf:amf-1``); ``event`` what
was asked (``nf-register``, ``nf-update``, ``ng-setup``, or ``removed`` when a registered
subject leaves: NFDeregister, heartbeat expiry, SCTP association lost). ``fivecore trust
report`` replays the log to know which subjects currently serve each zone.

Several processes (NRF, AMFs) may append to the same file: see :mod:`fivecore.trust.jsonl`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fivecore.trust.decision import Decision
from fivecore.trust.jsonl import JsonlAppender, JsonlContents, read_jsonl

SCHEMA_VERSION = 1

EVENT_NF_REGISTER = "nf-register"
EVENT_NF_UPDATE = "nf-update"
EVENT_NG_SETUP = "ng-setup"
EVENT_REMOVED = "removed"


def utc_timestamp(now: datetime | None = None) -> str:
    """RFC 3339 UTC timestamp with milliseconds (``2026-11-29T19:30:00.123Z``)."""
    t = (now or datetime.now(UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class AuditLog:
    """Writer of the trust audit log. Open one per process; safe across processes.

    ``fsync=True`` (the default) makes each decision durable before the NF answers the
    peer, at the cost of one fsync per NF registration or NG Setup (rare events).
    """

    def __init__(self, path: str | Path, *, fsync: bool = True, actor: str = "fivecore") -> None:
        self.path = Path(path)
        self.actor = actor
        self._out = JsonlAppender(self.path, fsync=fsync)

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append a raw record; ``v``, ``ts`` and ``actor`` are filled in when absent."""
        rec: dict[str, Any] = {"v": SCHEMA_VERSION, "ts": utc_timestamp(), "actor": self.actor}
        rec.update(record)
        self._out.append(rec)
        return rec

    def record_decision(
        self, decision: Decision, *, event: str, actor: str | None = None
    ) -> dict[str, Any]:
        """Write one policy decision (who decided, about what, which rule, the outcome)."""
        rec: dict[str, Any] = {"event": event}
        if actor is not None:
            rec["actor"] = actor
        rec.update(decision.to_dict())
        return self.append(rec)

    def record_removal(
        self, *, subject_kind: str, subject: str, reason: str, actor: str | None = None
    ) -> dict[str, Any]:
        """Write that a previously admitted subject no longer serves (deregistered, N2 lost)."""
        rec: dict[str, Any] = {
            "event": EVENT_REMOVED,
            "subject_kind": str(subject_kind),
            "subject": subject,
            "reason": reason,
        }
        if actor is not None:
            rec["actor"] = actor
        return self.append(rec)

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_audit_log(path: str | Path) -> JsonlContents:
    """All records of an audit log, oldest first, and the numbers of unparseable lines."""
    return read_jsonl(path)


@dataclass(frozen=True, slots=True)
class ServingSubject:
    """A subject whose latest audit record admits it (it serves its zone now)."""

    subject_kind: str
    subject: str
    zone: str
    vendor: str | None
    vendor_name: str | None
    risk_class: str | None
    decision: str
    rule: str
    ts: str


def current_subjects(records: Iterable[Mapping[str, Any]]) -> list[ServingSubject]:
    """Replay decisions: subjects whose last record is an admitting decision.

    A later ``refuse``/``quarantine`` or ``removed`` record for the same subject takes it out.
    """
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for rec in records:
        kind, subject = rec.get("subject_kind"), rec.get("subject")
        if not isinstance(kind, str) or not isinstance(subject, str):
            continue
        latest[(kind, subject)] = rec
    out: list[ServingSubject] = []
    for (kind, subject), rec in latest.items():
        if rec.get("event") == EVENT_REMOVED:
            continue
        if rec.get("decision") not in ("allow", "allow-restricted"):
            continue
        zone = rec.get("zone")
        if not isinstance(zone, str):
            continue
        out.append(
            ServingSubject(
                subject_kind=kind,
                subject=subject,
                zone=zone,
                vendor=rec.get("vendor"),
                vendor_name=rec.get("vendor_name"),
                risk_class=rec.get("risk_class"),
                decision=str(rec.get("decision")),
                rule=str(rec.get("rule", "")),
                ts=str(rec.get("ts", "")),
            )
        )
    return out
