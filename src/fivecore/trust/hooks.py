"""Ready-made adapters for the policy hooks the NRF and the AMF expose.

The NRF (``fivecore.nf.nrf``) takes ``admission: Callable[[NFProfile, bool], str | None]``
(None accepts; a string refuses with 403 and that reason). The AMF (``fivecore.nf.amf``)
takes ``gnb_policy: Callable[[GnbContext], tuple[str, str] | None]`` (None accepts; an NGAP
cause refuses in NG SETUP FAILURE). These classes are such callables, so wiring is::

    policy = TrustPolicy.from_file(path)                     # or from_mapping(config)
    audit = AuditLog(policy.config.audit_log.path, fsync=policy.config.audit_log.fsync)
    NrfApp(..., admission=NrfAdmission(policy, audit, actor="nrf"))
    AmfApp(..., gnb_policy=AmfGnbPolicy(policy, audit, exposure_recorder, actor="amf"))

They only read attributes (``nfInstanceId``, ``nfType``, ``vendorId`` of the profile;
``global_ran_node_id``, ``name`` and the ``vendor`` slot of the gNB context), so this module
imports nothing from the NFs (ARCHITECTURE.md: no NF imports another; trust sits beside them).
"""

from __future__ import annotations

from typing import Any

from fivecore.trust.audit_log import EVENT_NF_REGISTER, EVENT_NF_UPDATE, EVENT_NG_SETUP, AuditLog
from fivecore.trust.decision import Action, Decision, RestrictedProfile
from fivecore.trust.exposure import ExposureRecorder
from fivecore.trust.policy import TrustPolicy


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


class NrfAdmission:
    """NRF admission hook: TrustPolicy.check_nf + audit record, 403 reason when not admitted.

    A ``quarantine`` decision admits the NF but :meth:`nf_status_for` tells the NRF to keep
    it UNDISCOVERABLE (TS 29.510 NFStatus): registered and audited, never handed to a peer
    until an operator changes the policy.
    """

    def __init__(self, policy: TrustPolicy, audit: AuditLog | None = None, *, actor: str = "nrf") -> None:
        self.policy = policy
        self.audit = audit
        self.actor = actor
        self.decisions: dict[str, Decision] = {}

    def __call__(self, profile: Any, is_update: bool) -> str | None:
        """TS 29.510 §5.2.2.2.2 (NFRegister) and §5.2.2.3 (NFUpdate): vendor admission."""
        nf_id = _text(profile.nfInstanceId)
        d = self.policy.check_nf(nf_id, _text(profile.nfType), getattr(profile, "vendorId", None))
        self.decisions[nf_id] = d
        if self.audit is not None:
            self.audit.record_decision(d, event=EVENT_NF_UPDATE if is_update else EVENT_NF_REGISTER, actor=self.actor)
        if d.admitted or d.action is Action.QUARANTINE:
            return None
        return d.reason

    def nf_status_for(self, nf_instance_id: str) -> str | None:
        """The nfStatus the NRF must impose: UNDISCOVERABLE while quarantined, else None."""
        d = self.decisions.get(nf_instance_id)
        return d.nf_status if d is not None and d.action is Action.QUARANTINE else None

    def removed(self, nf_instance_id: str, reason: str = "NFDeregister") -> None:
        """Call on NFDeregister or heartbeat expiry so diversity counts stay current."""
        self.decisions.pop(nf_instance_id, None)
        if self.audit is not None:
            self.audit.record_removal(subject_kind="nf", subject=nf_instance_id, reason=reason, actor=self.actor)


class AmfGnbPolicy:
    """AMF NG Setup hook: TrustPolicy.check_gnb + audit record + exposure ledger registration.

    Returns None (admit) or the TS 38.413 §9.3.1.2 cause for NG SETUP FAILURE. Sets the gNB
    context's ``vendor`` to the vendor key. The restricted profile, when any, is available
    from :meth:`profile_for` while the gNB is connected.
    """

    def __init__(
        self,
        policy: TrustPolicy,
        audit: AuditLog | None = None,
        recorder: ExposureRecorder | None = None,
        *,
        actor: str = "amf",
    ) -> None:
        self.policy = policy
        self.audit = audit
        self.recorder = recorder
        self.actor = actor
        #: per N2 association (the gNB context object), never per Global RAN Node ID: two
        #: associations may claim one ID, and the end of one must not lift the other's profile
        self.decisions: dict[int, Decision] = {}

    def __call__(self, gnb: Any) -> tuple[str, str] | None:
        """TS 38.413 §8.7.1.2: decide the NG Setup of ``gnb`` (its Global RAN Node ID is decoded)."""
        grid = gnb.global_ran_node_id
        d = self.policy.check_gnb(grid, getattr(gnb, "name", None), getattr(gnb, "peer", None) or None)
        if self.audit is not None:
            self.audit.record_decision(d, event=EVENT_NG_SETUP, actor=self.actor)
        if hasattr(gnb, "vendor"):
            gnb.vendor = d.vendor_key
        #: the NG Setup Failure's Time to Wait for the decision just made (None: omit the IE)
        self.time_to_wait = d.ngap_time_to_wait
        if not d.admitted:
            self.decisions.pop(id(gnb), None)
            return d.ngap_cause
        self.decisions[id(gnb)] = d
        if self.recorder is not None:
            self.recorder.gnb_admitted(d)
        return None

    def decision_for(self, gnb: Any) -> Decision | None:
        return self.decisions.get(id(gnb))

    def profile_for(self, gnb: Any) -> RestrictedProfile | None:
        """The restricted profile the AMF must enforce for UEs behind ``gnb`` (None: none)."""
        d = self.decision_for(gnb)
        return d.restricted_profile if d else None

    def removed(self, gnb: Any, reason: str = "N2 association lost") -> None:
        """Call when the gNB's association ends, so diversity and the ledger stay current."""
        d = self.decisions.pop(id(gnb), None)
        if d is None:
            return
        if any(o.subject == d.subject for o in self.decisions.values()):
            return  # another association still holds this gNB identity: it has not gone
        if self.recorder is not None:
            self.recorder.gnb_removed(d.subject)
        if self.audit is not None:
            self.audit.record_removal(subject_kind="gnb", subject=d.subject, reason=reason, actor=self.actor)
