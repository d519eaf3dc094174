"""The RAN exposure ledger: what could each RAN vendor observe in the running network?

A gNB terminates the radio protocols, so its vendor's software sees whatever the core lets
reach it in clear or hands it: the permanent identity when a UE uses a null-scheme SUCI,
NAS when NEA0 is chosen, the AS keys (KgNB) at Initial Context Setup, the IMEISV, a
5G-GUTI that is never reallocated (linkable across registrations), user plane without
integrity or ciphering, and the keys of a UE that moves to another vendor's gNB without a
key refresh. The ledger counts these per RAN vendor, per UE and in total.

Three parts:

* :class:`ExposureRecorder` — sans-I/O. The AMF calls one method at each point of a UE's
  life; the recorder turns it into an :class:`ExposureEvent` keyed by gNB and vendor and
  queues it. No clock, no file: :meth:`ExposureRecorder.drain` hands the events out.
* :class:`ExposureLedger` — the I/O side: appends drained events to
  ``<data_dir>/exposure.jsonl`` (safe for several AMF processes) so ``fivecore audit`` can
  read them from another process.
* :func:`aggregate` — a pure function from events to an :class:`ExposureSummary`; and
  :func:`config_findings`, the TS 33.501 / TS 33.512 findings on an
  :class:`AmfSecuritySettings`.

UEs are identified by a pseudonym (:meth:`ExposureLedger.ue_ref`, an HMAC of the SUPI under a
per-deployment secret) so the ledger never holds a SUPI.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from fivecore.errors import ConfigError, FivecoreError
from fivecore.trust.audit_log import utc_timestamp
from fivecore.trust.decision import Decision
from fivecore.trust.jsonl import JsonlAppender, read_jsonl
from fivecore.trust.policy import gnb_subject

LEDGER_FILE = "exposure.jsonl"
SALT_FILE = "exposure.key"
UNKNOWN_VENDOR = "unknown"

GnbRef = str | tuple[str, int, int]


class ExposureError(FivecoreError):
    """An exposure event is malformed."""


class SuciScheme(enum.StrEnum):
    """SUCI protection schemes (TS 33.501 Annex C.1; scheme id in TS 24.501 §9.11.3.4)."""

    NULL = "null"
    PROFILE_A = "profile-a"
    PROFILE_B = "profile-b"

    @classmethod
    def from_scheme_id(cls, scheme_id: int) -> SuciScheme:
        """Map the Protection Scheme Identifier (0 null, 1 Profile A, 2 Profile B)."""
        try:
            return {0: cls.NULL, 1: cls.PROFILE_A, 2: cls.PROFILE_B}[scheme_id]
        except KeyError:
            raise ExposureError(f"unknown SUCI protection scheme id {scheme_id}") from None


class Metric(enum.StrEnum):
    """What a RAN vendor could observe, one counter each."""

    REGISTRATIONS = "registrations"
    PERMANENT_IDENTITY = "permanent-identity-exposed"
    NAS_UNCIPHERED = "nas-unciphered"
    NAS_INTEGRITY_OFF = "nas-integrity-off"
    KGNB_DELIVERED = "kgnb-delivered"
    IMEISV_FULL = "imeisv-full"
    IMEISV_MASKED = "imeisv-masked"
    GUTI_REUSED = "guti-reused"
    UP_INTEGRITY_OFF = "up-integrity-off"
    UP_CIPHERING_OFF = "up-ciphering-off"
    KEYS_TO_OTHER_VENDOR = "keys-carried-to-other-vendor"


@dataclass(frozen=True, slots=True)
class MetricInfo:
    title: str
    meaning: str
    clause: str
    exposure: bool  # False for context counters (registrations, masked IMEISV)
    inherent: bool = False  # True when every gNB gets it by design (configuration cannot avoid it)


METRIC_INFO: dict[Metric, MetricInfo] = {
    Metric.REGISTRATIONS: MetricInfo(
        "Registrations", "Registration requests that reached the core through this vendor's gNBs.",
        "TS 24.501 §5.5.1", False),
    Metric.PERMANENT_IDENTITY: MetricInfo(
        "Permanent identity exposed", "Registrations with a null-scheme SUCI: the SUPI crossed the gNB in clear.",
        "TS 33.501 §6.12.2", True),
    Metric.NAS_UNCIPHERED: MetricInfo(
        "NAS unciphered (NEA0)", "NAS security contexts using NEA0: every later NAS message is readable at the gNB.",
        "TS 33.501 §5.5.1, §6.7.1.1", True),
    Metric.NAS_INTEGRITY_OFF: MetricInfo(
        "NAS integrity off (NIA0)", "NAS security contexts using NIA0: the gNB could alter NAS undetected.",
        "TS 33.501 §5.5.2", True),
    Metric.KGNB_DELIVERED: MetricInfo(
        "KgNB handed over", "AS keys given to the gNB (Initial Context Setup, Handover): it holds the UE's RRC and user-plane keys.",
        "TS 33.501 §6.8.1, §6.9", True, inherent=True),
    Metric.IMEISV_FULL: MetricInfo(
        "Full IMEISV sent", "Full IMEISV sent to the gNB: device identity exposed.", "TS 38.413 Masked IMEISV IE", True),
    Metric.IMEISV_MASKED: MetricInfo(
        "Masked IMEISV sent", "Masked IMEISV sent to the gNB (serial number hidden).", "TS 38.413 Masked IMEISV IE", False),
    Metric.GUTI_REUSED: MetricInfo(
        "5G-GUTI reused", "Registrations accepted without a new 5G-GUTI: the UE is linkable across them.",
        "TS 33.501 §6.12.3", True),
    Metric.UP_INTEGRITY_OFF: MetricInfo(
        "User plane integrity off", "PDU sessions whose user plane has no integrity protection.",
        "TS 33.501 §6.6.1", True),
    Metric.UP_CIPHERING_OFF: MetricInfo(
        "User plane ciphering off", "PDU sessions whose user plane is not ciphered on the radio.",
        "TS 33.501 §6.6.1", True),
    Metric.KEYS_TO_OTHER_VENDOR: MetricInfo(
        "Keys carried to another vendor", "UE moved from this vendor's gNB to another vendor's without a key refresh: "
        "this vendor can derive the keys the UE uses there.", "TS 33.501 §6.9.2", True),
}


@dataclass(frozen=True, slots=True)
class ExposureEvent:
    """One fact about a UE and a gNB. ``vendor`` is the gNB's vendor when it happened."""

    kind: str
    ue: str | None
    gnb: str | None
    vendor: str | None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ue": self.ue, "gnb": self.gnb, "vendor": self.vendor, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExposureEvent:
        kind = d.get("kind")
        data = d.get("data", {})
        if not isinstance(kind, str) or not isinstance(data, Mapping):
            raise ExposureError("exposure event lacks a kind or its data is not an object")
        for k in ("ue", "gnb", "vendor"):
            if d.get(k) is not None and not isinstance(d.get(k), str):
                raise ExposureError(f"exposure event field {k!r} is not a string")
        return cls(kind=kind, ue=d.get("ue"), gnb=d.get("gnb"), vendor=d.get("vendor"), data=dict(data))


def _gnb_key(gnb: GnbRef) -> str:
    if isinstance(gnb, tuple):
        plmn, gnb_id, bits = gnb
        return gnb_subject(plmn, gnb_id, bits)
    return str(gnb)


# --------------------------------------------------------------------------------------------
# AMF security configuration and its findings
# --------------------------------------------------------------------------------------------

UpPolicy = Literal["required", "preferred", "not-needed"]


@dataclass(frozen=True, slots=True)
class AmfSecuritySettings:
    """The AMF's security settings that decide what the RAN can see.

    ``integrity_order`` and ``ciphering_order`` are the AMF's NIA/NEA algorithm lists,
    most preferred first (TS 33.501 §6.7.1.1: the AMF picks the highest-priority algorithm
    the UE supports). The UP policies are the defaults the SMF/AMF request in PDU Session
    Resource Setup (TS 33.501 §6.6.1).
    """

    integrity_order: tuple[int, ...] = (2, 1, 3)
    ciphering_order: tuple[int, ...] = (2, 1, 3)
    null_scheme_suci_accepted: bool = False
    guti_reallocation: bool = True
    imeisv_to_ran: Literal["masked", "full", "none"] = "masked"
    up_integrity: UpPolicy = "preferred"
    up_ciphering: UpPolicy = "required"

    def __post_init__(self) -> None:
        for name in ("integrity_order", "ciphering_order"):
            algs = getattr(self, name)
            if not algs or any(not isinstance(a, int) or not 0 <= a <= 3 for a in algs):
                raise ConfigError(f"amf security: {name}: algorithms are 0..3 and the list is not empty, got {algs!r}")
        if self.imeisv_to_ran not in ("masked", "full", "none"):
            raise ConfigError(f"amf security: imeisv_to_ran: one of masked, full, none, got {self.imeisv_to_ran!r}")
        for name in ("up_integrity", "up_ciphering"):
            if getattr(self, name) not in ("required", "preferred", "not-needed"):
                raise ConfigError(f"amf security: {name}: one of required, preferred, not-needed")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["integrity_order"] = list(self.integrity_order)
        d["ciphering_order"] = list(self.ciphering_order)
        return d

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> AmfSecuritySettings:
        """Build from a mapping (a YAML section or a ledger event); unknown keys are errors."""
        known = set(cls.__dataclass_fields__)
        extra = sorted(repr(k) for k in d if k not in known)
        if extra:
            raise ConfigError(f"amf security: {extra[0]}: unknown key")
        kw = dict(d)
        for name in ("integrity_order", "ciphering_order"):
            if name in kw:
                if not isinstance(kw[name], list | tuple):
                    raise ConfigError(f"amf security: {name}: must be a list of algorithm numbers")
                kw[name] = tuple(kw[name])
        for name in ("null_scheme_suci_accepted", "guti_reallocation"):
            if name in kw and not isinstance(kw[name], bool):
                raise ConfigError(f"amf security: {name}: must be true or false")
        return cls(**kw)


@dataclass(frozen=True, slots=True)
class Finding:
    """A configuration weakness with the clause it breaks and how to fix it."""

    id: str
    severity: Literal["high", "medium", "low"]
    title: str
    observed: str
    clauses: tuple[str, ...]
    fix: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["clauses"] = list(self.clauses)
        return d


def config_findings(cfg: AmfSecuritySettings) -> list[Finding]:
    """Check an AMF security configuration against TS 33.501 and the AMF SCAS (TS 33.512)."""
    out: list[Finding] = []
    if 0 in cfg.integrity_order:
        out.append(Finding(
            "NIA0-ENABLED", "high", "NAS null integrity (NIA0) is enabled",
            f"integrity_order = {list(cfg.integrity_order)}",
            ("TS 33.501 §5.5.2", "TS 33.512 §4.2.2.3.2"),
            "Remove 0 from the NIA list. NIA0 is only for unauthenticated emergency sessions; "
            "with it a gNB can inject or alter NAS undetected.",
        ))
    if cfg.null_scheme_suci_accepted:
        out.append(Finding(
            "NULL-SCHEME-SUCI-ACCEPTED", "high", "Null-scheme SUCI is accepted",
            "null_scheme_suci_accepted = true",
            ("TS 33.501 §6.12.2", "TS 33.501 §5.2.5"),
            "Provision a home network public key on the USIMs and accept only Profile A or B; "
            "the null scheme sends the SUPI in clear through the gNB and is meant for "
            "unauthenticated emergency sessions only.",
        ))
    if not cfg.guti_reallocation:
        out.append(Finding(
            "GUTI-NOT-REALLOCATED", "medium", "5G-GUTI is not reallocated",
            "guti_reallocation = false",
            ("TS 33.501 §6.12.3", "TS 33.512 §4.2.2.5.1"),
            "Assign a new 5G-GUTI in every Registration Accept (initial, mobility and periodic "
            "registration) and after a paging-triggered Service Request.",
        ))
    if cfg.ciphering_order and cfg.ciphering_order[0] == 0:
        out.append(Finding(
            "NEA0-PREFERRED", "high", "Null ciphering (NEA0) is the preferred NAS algorithm",
            f"ciphering_order = {list(cfg.ciphering_order)}",
            ("TS 33.501 §5.5.1", "TS 33.501 §6.7.1.1", "TS 33.512 §4.2.2.3.3"),
            "Put NEA2 (or NEA1/NEA3) first; the AMF selects the highest-priority algorithm "
            "the UE supports, so NEA0 first leaves NAS readable at every gNB.",
        ))
    elif 0 in cfg.ciphering_order:
        out.append(Finding(
            "NEA0-ENABLED", "low", "Null ciphering (NEA0) is enabled as a fallback",
            f"ciphering_order = {list(cfg.ciphering_order)}",
            ("TS 33.501 §5.5.1", "TS 33.501 §6.7.1.1"),
            "Keep NEA0 last or remove it unless regulation requires unciphered service; a UE "
            "offering only NEA0 would be served in clear.",
        ))
    if cfg.imeisv_to_ran == "full":
        out.append(Finding(
            "IMEISV-FULL-TO-RAN", "medium", "Full IMEISV is sent to the RAN",
            "imeisv_to_ran = full",
            ("TS 38.413 Masked IMEISV IE", "TS 33.501 §5.2.5"),
            "Send the Masked IMEISV IE (last digits of the serial number masked); the gNB "
            "needs the TAC and SV, not the device serial.",
        ))
    if cfg.up_integrity == "not-needed":
        out.append(Finding(
            "UP-INTEGRITY-NOT-NEEDED", "medium", "User plane integrity protection is never requested",
            "up_integrity = not-needed",
            ("TS 33.501 §6.6.1", "TS 33.501 §5.3.3"),
            "Set the UP integrity policy to preferred (or required for sessions through "
            "restricted-profile gNBs).",
        ))
    if cfg.up_ciphering == "not-needed":
        out.append(Finding(
            "UP-CIPHERING-NOT-NEEDED", "high", "User plane ciphering is never requested",
            "up_ciphering = not-needed",
            ("TS 33.501 §6.6.1", "TS 33.501 §5.3.2"),
            "Set the UP confidentiality policy to required.",
        ))
    return out


# --------------------------------------------------------------------------------------------
# The sans-I/O recorder
# --------------------------------------------------------------------------------------------


class ExposureRecorder:
    """Turns AMF procedure outcomes into exposure events (sans-I/O: no clock, no file).

    Every method returns the event it queued; :meth:`drain` hands the queue out for the
    I/O side to persist. The recorder remembers which vendor owns each admitted gNB and
    on which gNB each UE was last seen.
    """

    def __init__(self) -> None:
        self._gnbs: dict[str, tuple[str, str | None, str | None]] = {}
        self._outbox: list[ExposureEvent] = []

    def _vendor(self, gnb: str) -> str:
        entry = self._gnbs.get(gnb)
        return entry[0] if entry else UNKNOWN_VENDOR

    def _emit(self, kind: str, ue: str | None, gnb: GnbRef | None, data: Mapping[str, Any]) -> ExposureEvent:
        key = _gnb_key(gnb) if gnb is not None else None
        ev = ExposureEvent(kind, ue, key, self._vendor(key) if key else None, dict(data))
        self._outbox.append(ev)
        return ev

    def vendor_of(self, gnb: GnbRef) -> str:
        """Vendor key of an admitted gNB, ``unknown`` otherwise."""
        return self._vendor(_gnb_key(gnb))

    def drain(self) -> list[ExposureEvent]:
        """Return and forget the queued events."""
        out, self._outbox = self._outbox, []
        return out

    # -- gNB lifecycle (TS 38.413 §8.7.1 NG Setup) ------------------------------------------

    def gnb_admitted(self, decision: Decision) -> ExposureEvent:
        """A gNB passed NG Setup under ``decision`` (from TrustPolicy.check_gnb)."""
        vendor = decision.vendor.key if decision.vendor else UNKNOWN_VENDOR
        name = decision.vendor.name if decision.vendor else None
        risk = decision.vendor.risk_class if decision.vendor else None
        self._gnbs[decision.subject] = (vendor, name, risk)
        data = {"vendor_name": name, "risk_class": risk, "decision": decision.action.value}
        return self._emit("gnb", None, decision.subject, data)

    def gnb_removed(self, gnb: GnbRef) -> None:
        """The gNB's N2 association is gone; later events through it count as unknown vendor."""
        self._gnbs.pop(_gnb_key(gnb), None)

    # -- UE lifecycle ------------------------------------------------------------------------

    def registration(
        self, ue: str, gnb: GnbRef, *, identity: Literal["suci", "guti", "other"],
        suci_scheme: SuciScheme | str | None = None,
    ) -> ExposureEvent:
        """Registration Request received (TS 24.501 §5.5.1), with the identity the UE sent.

        ``suci_scheme`` is required for ``identity='suci'`` (TS 33.501 §6.12.2).
        """
        if identity not in ("suci", "guti", "other"):
            raise ExposureError(f"identity must be suci, guti or other, not {identity!r}")
        scheme = SuciScheme(suci_scheme) if suci_scheme is not None else None
        if identity == "suci" and scheme is None:
            raise ExposureError("a SUCI registration needs its protection scheme")
        return self._emit("registration", ue, gnb, {"identity": identity, "suci_scheme": scheme.value if scheme else None})

    def nas_security(self, ue: str, gnb: GnbRef, *, nea: int, nia: int) -> ExposureEvent:
        """NAS Security Mode Command completed with these algorithms (TS 33.501 §6.7.2)."""
        if not (0 <= nea <= 3 and 0 <= nia <= 3):
            raise ExposureError(f"NEA/NIA out of range: NEA{nea} NIA{nia}")
        return self._emit("nas-security", ue, gnb, {"nea": nea, "nia": nia})

    def kgnb_delivered(self, ue: str, gnb: GnbRef, *, procedure: str = "initial-context-setup") -> ExposureEvent:
        """KgNB (Security Key IE) sent to a gNB: Initial Context Setup or Handover Request."""
        return self._emit("kgnb", ue, gnb, {"procedure": procedure})

    def imeisv_sent(self, ue: str, gnb: GnbRef, *, masked: bool) -> ExposureEvent:
        """IMEISV sent to the gNB, masked or full (TS 38.413 Masked IMEISV IE)."""
        return self._emit("imeisv", ue, gnb, {"masked": bool(masked)})

    def guti_assigned(self, ue: str, gnb: GnbRef, *, reallocated: bool) -> ExposureEvent:
        """Registration Accept sent: with a new 5G-GUTI, or keeping the old (TS 33.501 §6.12.3)."""
        return self._emit("guti", ue, gnb, {"reallocated": bool(reallocated)})

    def pdu_session(
        self, ue: str, gnb: GnbRef, *, psi: int, up_integrity: bool, up_ciphering: bool
    ) -> ExposureEvent:
        """PDU Session Resource Setup towards the gNB with the UP security it activates (TS 33.501 §6.6.1)."""
        return self._emit("pdu-session", ue, gnb, {"psi": int(psi), "up_integrity": bool(up_integrity), "up_ciphering": bool(up_ciphering)})

    def handover(self, ue: str, source_gnb: GnbRef, target_gnb: GnbRef, *, key_refresh: bool) -> ExposureEvent:
        """UE moved from one gNB to another (Xn or N2 handover, TS 33.501 §6.9.2).

        ``key_refresh`` is True when the target got keys the source cannot derive (a fresh
        NH / vertical derivation, or a new KAMF); False when the target's KgNB* came from
        the source's KgNB (horizontal derivation).
        """
        src, dst = _gnb_key(source_gnb), _gnb_key(target_gnb)
        data = {
            "target_gnb": dst,
            "target_vendor": self._vendor(dst),
            "key_refresh": bool(key_refresh),
        }
        return self._emit("handover", ue, src, data)

    def amf_config(self, cfg: AmfSecuritySettings) -> ExposureEvent:
        """Record the AMF's security configuration (at start and on reload) for the findings."""
        return self._emit("amf-config", None, None, cfg.to_dict())


# --------------------------------------------------------------------------------------------
# Aggregation (pure)
# --------------------------------------------------------------------------------------------


@dataclass
class VendorExposure:
    vendor: str
    vendor_name: str | None = None
    risk_class: str | None = None
    gnbs: set[str] = field(default_factory=set)
    ues: set[str] = field(default_factory=set)
    per_metric: dict[Metric, Counter[str]] = field(default_factory=lambda: {m: Counter() for m in Metric})

    def add(self, metric: Metric, ue: str | None) -> None:
        self.per_metric[metric][ue or "-"] += 1

    def total(self, metric: Metric) -> int:
        return sum(self.per_metric[metric].values())

    def ue_count(self, metric: Metric) -> int:
        return len(self.per_metric[metric])

    def per_ue(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for metric, counter in self.per_metric.items():
            for ue, n in counter.items():
                out.setdefault(ue, {})[metric.value] = n
        return dict(sorted(out.items()))

    def to_dict(self, *, include_per_ue: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "vendor": self.vendor,
            "vendor_name": self.vendor_name,
            "risk_class": self.risk_class,
            "gnbs": sorted(self.gnbs),
            "ues_seen": len(self.ues),
            "metrics": {m.value: {"ues": self.ue_count(m), "total": self.total(m)} for m in Metric},
        }
        if include_per_ue:
            d["per_ue"] = self.per_ue()
        return d


@dataclass
class ExposureSummary:
    vendors: dict[str, VendorExposure] = field(default_factory=dict)
    amf_config: AmfSecuritySettings | None = None
    events: int = 0
    malformed: int = 0

    def vendor(self, key: str) -> VendorExposure:
        if key not in self.vendors:
            self.vendors[key] = VendorExposure(vendor=key)
        return self.vendors[key]

    def findings(self) -> list[Finding]:
        return config_findings(self.amf_config) if self.amf_config else []

    def to_dict(self, *, include_per_ue: bool = True) -> dict[str, Any]:
        return {
            "events": self.events,
            "malformed_events": self.malformed,
            "vendors": [v.to_dict(include_per_ue=include_per_ue) for _, v in sorted(self.vendors.items())],
            "amf_config": self.amf_config.to_dict() if self.amf_config else None,
            "findings": [f.to_dict() for f in self.findings()],
        }


def aggregate(events: Iterable[ExposureEvent | Mapping[str, Any]]) -> ExposureSummary:
    """Count, for each RAN vendor, what it could observe: per UE and in total.

    Events of an unknown kind or with bad fields are counted as malformed and skipped, so a
    ledger written by a newer version still reads.
    """
    s = ExposureSummary()
    for raw in events:
        try:
            ev = raw if isinstance(raw, ExposureEvent) else ExposureEvent.from_dict(raw)
            _apply(s, ev)
        except (ExposureError, ConfigError, TypeError, ValueError, KeyError):
            s.malformed += 1
            continue
        s.events += 1
    return s


def _apply(s: ExposureSummary, ev: ExposureEvent) -> None:
    d = ev.data
    if ev.kind == "amf-config":
        s.amf_config = AmfSecuritySettings.from_mapping(d)
        return
    vendor = ev.vendor or UNKNOWN_VENDOR
    if ev.kind == "gnb":
        v = s.vendor(vendor)
        if ev.gnb:
            v.gnbs.add(ev.gnb)
        name, risk = d.get("vendor_name"), d.get("risk_class")
        if name is not None and not isinstance(name, str) or risk is not None and not isinstance(risk, str):
            raise ExposureError("gnb event with a non-text vendor name or risk class")
        v.vendor_name = name or v.vendor_name
        v.risk_class = risk or v.risk_class
        return
    if not ev.ue:
        raise ExposureError(f"{ev.kind} event without a UE")
    v = s.vendor(vendor)
    if ev.gnb:
        v.gnbs.add(ev.gnb)
    v.ues.add(ev.ue)
    if ev.kind == "registration":
        v.add(Metric.REGISTRATIONS, ev.ue)
        if d.get("identity") == "suci" and SuciScheme(d["suci_scheme"]) is SuciScheme.NULL:
            v.add(Metric.PERMANENT_IDENTITY, ev.ue)
    elif ev.kind == "nas-security":
        if int(d["nea"]) == 0:
            v.add(Metric.NAS_UNCIPHERED, ev.ue)
        if int(d["nia"]) == 0:
            v.add(Metric.NAS_INTEGRITY_OFF, ev.ue)
    elif ev.kind == "kgnb":
        v.add(Metric.KGNB_DELIVERED, ev.ue)
    elif ev.kind == "imeisv":
        v.add(Metric.IMEISV_MASKED if d["masked"] else Metric.IMEISV_FULL, ev.ue)
    elif ev.kind == "guti":
        if not d["reallocated"]:
            v.add(Metric.GUTI_REUSED, ev.ue)
    elif ev.kind == "pdu-session":
        if not d["up_integrity"]:
            v.add(Metric.UP_INTEGRITY_OFF, ev.ue)
        if not d["up_ciphering"]:
            v.add(Metric.UP_CIPHERING_OFF, ev.ue)
    elif ev.kind == "handover":
        target_vendor = d.get("target_vendor") or UNKNOWN_VENDOR
        # Keys derived horizontally from the source KgNB are known to the source's vendor.
        if target_vendor != vendor and not d["key_refresh"]:
            v.add(Metric.KEYS_TO_OTHER_VENDOR, ev.ue)
    else:
        raise ExposureError(f"unknown exposure event kind {ev.kind!r}")


# --------------------------------------------------------------------------------------------
# Persistence (the I/O side)
# --------------------------------------------------------------------------------------------


class ExposureLedger:
    """Appends exposure events to ``<data_dir>/exposure.jsonl``; several AMFs may share it.

    ``fsync`` is off by default: these are statistics, written at UE-procedure rate, and
    losing the last events on a crash changes a count, not a security decision.
    """

    def __init__(self, data_dir: str | Path, *, fsync: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LEDGER_FILE
        self._out = JsonlAppender(self.path, fsync=fsync)
        self._key: bytes | None = None

    def write(self, events: Iterable[ExposureEvent]) -> int:
        """Append events (from :meth:`ExposureRecorder.drain`) with a timestamp each."""
        n = 0
        for ev in events:
            rec = ev.to_dict()
            rec["ts"] = utc_timestamp()
            self._out.append(rec)
            n += 1
        return n

    def ue_ref(self, supi: str) -> str:
        """Pseudonym of a SUPI, stable for this data dir: ``ue-`` + 16 hex of HMAC-SHA256.

        The key lives in ``<data_dir>/exposure.key`` (mode 0600), created on first use, so the
        ledger can count per UE without holding a SUPI.
        """
        if self._key is None:
            self._key = load_or_create_key(self.data_dir / SALT_FILE)
        return "ue-" + hmac.new(self._key, supi.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    def close(self) -> None:
        self._out.close()


def load_or_create_key(path: Path) -> bytes:
    """Read the 32-byte pseudonym key, creating it when absent.

    The key is written to a private temporary file and hard-linked into place, so a
    concurrent reader sees either no file or the whole key, and of two racing creators
    exactly one wins.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) != 32:
        raise ExposureError(f"{path}: pseudonym key must be 32 bytes, found {len(key)}")
    return key


def read_exposure_events(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """Raw event records of a ledger file and the number of unparseable lines."""
    contents = read_jsonl(path)
    return contents.records, len(contents.malformed_lines)


def load_summary(path: str | Path) -> ExposureSummary:
    """Aggregate a ledger file (missing file: empty summary)."""
    records, bad = read_exposure_events(path)
    s = aggregate(records)
    s.malformed += bad
    return s
