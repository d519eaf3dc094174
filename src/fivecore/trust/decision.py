"""Trust decisions: what the policy says about one NF or one gNB, and how to answer on the wire.

A :class:`Decision` carries everything its caller needs to act without a second look at
the policy: the action, who the vendor is, which zone and which rule decided, a reason a
person can read, and the protocol answer for the NF that enforces it:

* the AMF (NG Setup, TS 38.413 §8.7.1) uses :attr:`Decision.ngap_cause` and
  :attr:`Decision.ngap_time_to_wait` in NG SETUP FAILURE when :attr:`Decision.admitted`
  is false, and applies :attr:`Decision.restricted_profile` to the UEs it serves through an
  admitted gNB;
* the NRF (NFRegister, TS 29.510 §5.2.2.2.2) answers :attr:`Decision.http_status` with
  :meth:`Decision.problem_details` when not admitted, and stores the profile with
  :attr:`Decision.nf_status` when admitted.

Choice of NGAP cause (TS 38.413 §9.3.1.2, Cause IE): a vendor-policy refusal is not a
radio-network, transport, NAS or protocol problem. The Protocol group is reserved for
ASN.1 and procedure errors (§10) and using it would send the peer's error handling down the
wrong path, so the cause is in the Misc group:

* ``refuse`` → ``misc: unspecified`` with no Time to Wait. §9.3.1.2 defines *unspecified*
  as "none of the above cause values applies and the cause is not related to any of the
  categories Radio Network Layer, Transport Network Layer, NAS or Protocol", which is
  exactly this case; it also tells a possibly hostile peer nothing about the policy.
  No Time to Wait: the answer will not change by itself.
* ``quarantine`` → ``misc: om-intervention`` with Time to Wait ``v60s``: the setup is held
  back by an operator decision pending review, and §8.7.1.3 obliges the NG-RAN node to wait
  at least that long before it retries, so an accepted review takes effect on its next try.

HTTP answer for the NRF: ``refuse`` is 403 Forbidden (TS 29.500 §5.2.7.2: the request is
understood but not allowed) with a ProblemDetails (TS 29.571 §5.2.4.1) whose ``cause`` is
``VENDOR_NOT_ALLOWED`` or ``UNKNOWN_VENDOR_NOT_ALLOWED``. ``quarantine`` registers the NF
(201) with ``nfStatus: UNDISCOVERABLE`` (TS 29.510 NFStatus enumeration) so it keeps its
heartbeat but no consumer discovers it until an operator adds its vendor to the policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Action(enum.StrEnum):
    """What the policy does with a subject, from most to least permissive."""

    ALLOW = "allow"
    ALLOW_RESTRICTED = "allow-restricted"
    QUARANTINE = "quarantine"
    REFUSE = "refuse"

    @property
    def severity(self) -> int:
        """Ordering used when two rules apply: the stricter one wins."""
        return _SEVERITY[self]

    @property
    def admitted(self) -> bool:
        """True when the subject may serve (NG Setup Response / NFRegister 201 discoverable)."""
        return self in (Action.ALLOW, Action.ALLOW_RESTRICTED)


_SEVERITY = {Action.ALLOW: 0, Action.ALLOW_RESTRICTED: 1, Action.QUARANTINE: 2, Action.REFUSE: 3}


def stricter(a: Action, b: Action) -> Action:
    """Return the stricter of two actions (ties keep ``a``)."""
    return b if b.severity > a.severity else a


class Zone(enum.StrEnum):
    """Trust zones of the EU 5G Toolbox reading: the core, the access network, management."""

    CORE = "core"
    RAN = "ran"
    MANAGEMENT = "management"


class SubjectKind(enum.StrEnum):
    NF = "nf"
    GNB = "gnb"


@dataclass(frozen=True, slots=True)
class RestrictedProfile:
    """What the AMF must enforce for UEs served through a gNB admitted as ``allow-restricted``.

    Each flag closes one thing the gNB's vendor could otherwise observe (see
    :mod:`fivecore.trust.exposure`):

    * ``forbid_nea0`` — NAS must be ciphered (NEA1..3) for UEs on this gNB, TS 33.501 §6.7.1.1.
    * ``require_up_integrity`` / ``require_up_ciphering`` — set the UP security policy to
      REQUIRED in PDU Session Resource Setup (TS 33.501 §6.6.1; TS 38.413 Security Indication IE).
    * ``mask_imeisv`` — send Masked IMEISV, never the full IMEISV (TS 38.413 Masked IMEISV IE).
    * ``forbid_null_scheme_suci`` — reject null-scheme SUCI arriving through this gNB
      (TS 33.501 §6.12.2), 5GMM cause #111 or per operator choice.
    * ``refresh_keys_on_vendor_change`` — on handover to a gNB of another vendor, take a fresh
      NH (vertical key derivation, TS 33.501 §6.9.2) instead of KgNB*.
    * ``max_ues`` — cap on UE-associated contexts through this gNB (None: no cap).
    """

    name: str
    forbid_nea0: bool = True
    require_up_integrity: bool = True
    require_up_ciphering: bool = True
    mask_imeisv: bool = True
    forbid_null_scheme_suci: bool = True
    refresh_keys_on_vendor_change: bool = True
    max_ues: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "forbid_nea0": self.forbid_nea0,
            "require_up_integrity": self.require_up_integrity,
            "require_up_ciphering": self.require_up_ciphering,
            "mask_imeisv": self.mask_imeisv,
            "forbid_null_scheme_suci": self.forbid_null_scheme_suci,
            "refresh_keys_on_vendor_change": self.refresh_keys_on_vendor_change,
            "max_ues": self.max_ues,
        }


@dataclass(frozen=True, slots=True)
class VendorRef:
    """A vendor as the policy knows it (``key`` is the policy's identifier for it)."""

    key: str
    name: str
    pen: int
    risk_class: str

    @property
    def vendor_id(self) -> str:
        """The TS 29.510 ``VendorId`` form: the IANA PEN as six digits."""
        return f"{self.pen:06d}"


# ProblemDetails causes the NRF returns (application-specific causes, TS 29.500 §5.2.7.1).
CAUSE_VENDOR_NOT_ALLOWED = "VENDOR_NOT_ALLOWED"
CAUSE_UNKNOWN_VENDOR = "UNKNOWN_VENDOR_NOT_ALLOWED"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one policy check (NF registration or NG Setup)."""

    action: Action
    subject_kind: SubjectKind
    subject: str
    zone: Zone
    vendor: VendorRef | None
    rule_id: str
    reason: str
    restricted_profile: RestrictedProfile | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def admitted(self) -> bool:
        """True when the subject may serve: NG Setup Response, or a discoverable NF."""
        return self.action.admitted

    @property
    def vendor_key(self) -> str | None:
        return self.vendor.key if self.vendor else None

    # -- NGAP (AMF) ------------------------------------------------------------------------

    @property
    def ngap_cause(self) -> tuple[str, str] | None:
        """TS 38.413 §9.3.1.2 Cause for NG SETUP FAILURE, as ``(group, value)``.

        The tuple uses the ASN.1 identifiers of NGAP-IEs (``('misc', 'unspecified')``), the
        form pycrate takes for the ``Cause`` CHOICE. None when the gNB is admitted.
        """
        if self.subject_kind is not SubjectKind.GNB:
            return None
        if self.action is Action.REFUSE:
            return ("misc", "unspecified")
        if self.action is Action.QUARANTINE:
            return ("misc", "om-intervention")
        return None

    @property
    def ngap_time_to_wait(self) -> str | None:
        """TS 38.413 Time to Wait IE for NG SETUP FAILURE (``'v60s'``, §8.7.1.3), or None."""
        if self.subject_kind is not SubjectKind.GNB:
            return None
        return "v60s" if self.action is Action.QUARANTINE else None

    # -- SBI (NRF) -------------------------------------------------------------------------

    @property
    def http_status(self) -> int:
        """Status of the NFRegister answer (TS 29.510 §5.2.2.2.2): 201 admitted/quarantined, 403 refused."""
        return 403 if self.action is Action.REFUSE else 201

    @property
    def nf_status(self) -> str | None:
        """NFStatus the NRF stores (TS 29.510 NFStatus enumeration), None when refused."""
        if self.action is Action.REFUSE:
            return None
        if self.action is Action.QUARANTINE:
            return "UNDISCOVERABLE"
        return "REGISTERED"

    @property
    def problem_cause(self) -> str | None:
        """ProblemDetails ``cause`` for a refused NFRegister, or None."""
        if self.action is not Action.REFUSE or self.subject_kind is not SubjectKind.NF:
            return None
        return CAUSE_VENDOR_NOT_ALLOWED if self.vendor else CAUSE_UNKNOWN_VENDOR

    def problem_details(self) -> dict[str, Any] | None:
        """TS 29.571 §5.2.4.1 ProblemDetails body for a refused NFRegister, or None.

        ``detail`` names the vendor and the rule, never the rest of the policy.
        """
        if self.action is not Action.REFUSE or self.subject_kind is not SubjectKind.NF:
            return None
        return {
            "title": f"NF vendor not allowed in the {self.zone.value} zone",
            "status": 403,
            "detail": self.reason,
            "cause": self.problem_cause,
        }

    # -- audit -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as written to the audit log."""
        out: dict[str, Any] = {
            "decision": self.action.value,
            "subject_kind": self.subject_kind.value,
            "subject": self.subject,
            "zone": self.zone.value,
            "vendor": self.vendor.key if self.vendor else None,
            "vendor_name": self.vendor.name if self.vendor else None,
            "vendor_pen": self.vendor.pen if self.vendor else None,
            "risk_class": self.vendor.risk_class if self.vendor else None,
            "rule": self.rule_id,
            "reason": self.reason,
        }
        if self.restricted_profile is not None:
            out["restricted_profile"] = self.restricted_profile.name
        if self.subject_kind is SubjectKind.GNB and self.ngap_cause is not None:
            out["ngap_cause"] = list(self.ngap_cause)
        if self.subject_kind is SubjectKind.NF:
            out["http_status"] = self.http_status
            if self.problem_cause:
                out["problem_cause"] = self.problem_cause
        if self.detail:
            out["detail"] = dict(self.detail)
        return out
