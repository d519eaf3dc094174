"""Vendor trust zones and the RAN exposure audit.

The core knows which vendor built each NF and each gNB; a policy says which vendors may
serve which zone (core, ran, management). The NRF checks it at NF registration, the AMF at
NG Setup, and every decision goes to an append-only audit log. The exposure ledger counts
what each RAN vendor could observe. Modules:

* :mod:`.policy` — configuration (``trust:`` section), loading, :class:`TrustPolicy`.
* :mod:`.decision` — :class:`Decision` and the NGAP / HTTP answers it implies.
* :mod:`.audit_log` — :class:`AuditLog` (JSON lines, multi-process append) and its reader.
* :mod:`.exposure` — :class:`ExposureRecorder` (sans-I/O), :class:`ExposureLedger` (file),
  :func:`aggregate`, :class:`AmfSecuritySettings` and :func:`config_findings`.
* :mod:`.diversity` — SM05 shares per zone and cap flags.
* :mod:`.report` — the ``fivecore audit`` JSON and HTML report.
* :mod:`.hooks` — :class:`.hooks.NrfAdmission` and :class:`.hooks.AmfGnbPolicy`, the NF hooks.

Integration in three lines (the NF hooks that exist today)
--------------------------------------------------------

The NRF takes ``admission=`` (``Callable[[NFProfile, bool], str | None]``) and the AMF takes
``gnb_policy=`` (``Callable[[GnbContext], tuple[str, str] | None]``); :mod:`.hooks` provides
both, with the audit record and the exposure ledger already wired::

    from fivecore.trust import AuditLog, TrustPolicy
    from fivecore.trust.hooks import AmfGnbPolicy, NrfAdmission
    policy = TrustPolicy.from_file(path)      # or TrustPolicy.from_mapping(raw_config_dict)
    audit = AuditLog(policy.config.audit_log.path, fsync=policy.config.audit_log.fsync)
    nrf = NrfApp(..., admission=NrfAdmission(policy, audit, actor="nrf"))
    amf = AmfApp(..., gnb_policy=AmfGnbPolicy(policy, audit, exposure_recorder, actor="amf"))

A bad policy raises :class:`fivecore.errors.ConfigError` with one line naming the key, so
the NF refuses to start. ``fivecore.config.Config`` forbids unknown keys: to keep the policy
in the main file it needs a ``trust: dict[str, Any] | None = None`` field (then
``TrustPolicy.from_mapping(raw_dict)`` reads that section), otherwise use a separate file.

Integration: NRF (``fivecore.nf.nrf``), the full contract
----------------------------------------------------------

NFRegister (``PUT /nnrf-nfm/v1/nf-instances/{nfInstanceId}``, TS 29.510 §5.2.2.2.2), after
the body is validated as an NFProfile and before it is stored; the same on a full
replacement and on a PATCH that changes ``vendorId`` or ``nfType`` (``event="nf-update"``)::

    decision = policy.check_nf(profile.nfInstanceId, profile.nfType, profile.vendorId)
    audit.record_decision(decision, event="nf-register")
    if decision.http_status == 403:
        return problem_response(403, decision.problem_details())  # application/problem+json
    profile.nfStatus = decision.nf_status   # "REGISTERED", or "UNDISCOVERABLE" when quarantined

A quarantined NF is stored (201, heartbeats accepted) but must never appear in NFDiscover
results, and the NRF must keep ``nfStatus`` at ``UNDISCOVERABLE`` whatever the NF sends in
NFUpdate: an NF cannot lift its own quarantine. (:class:`.hooks.NrfAdmission` cannot express
this through a str-or-None hook and refuses quarantined NFs instead: fail closed.) On
NFDeregister or heartbeat expiry::

    audit.record_removal(subject_kind="nf", subject=nf_instance_id, reason="NFDeregister")
    # or NrfAdmission.removed(nf_instance_id)

Integration: AMF (``fivecore.nf.amf``), the full contract
----------------------------------------------------------

At start-up::

    from fivecore.trust import (AmfSecuritySettings, AuditLog, ExposureLedger,
                                ExposureRecorder, SuciScheme, TrustPolicy)
    exposure = ExposureRecorder()
    ledger = ExposureLedger(data_dir)          # <data_dir>/exposure.jsonl, read by `fivecore audit`
    exposure.amf_config(AmfSecuritySettings(
        integrity_order=cfg.amf.security.integrity_ids(),   # fivecore.config.AmfSecurityConfig
        ciphering_order=cfg.amf.security.ciphering_ids(),
        null_scheme_suci_accepted=..., guti_reallocation=..., imeisv_to_ran="masked",
        up_integrity="preferred", up_ciphering="required"))

NG Setup Request (TS 38.413 §8.7.1.2), after decoding the Global RAN Node ID (``plmn`` as
MCC+MNC digits such as ``"00101"``, the gNB ID BIT STRING as ``(value, length)``) — this is
what :class:`.hooks.AmfGnbPolicy` does::

    decision = policy.check_gnb((plmn, gnb_id_value, gnb_id_length), ran_node_name)
    audit.record_decision(decision, event="ng-setup")
    if not decision.admitted:
        # NG SETUP FAILURE: Cause = decision.ngap_cause, e.g. ("misc", "unspecified");
        # include Time to Wait only when decision.ngap_time_to_wait is not None ("v60s").
        ...
    else:
        exposure.gnb_admitted(decision)
        # decision.restricted_profile: None, or what to enforce for this gNB's UEs
        # (AmfGnbPolicy.profile_for(gnb) returns it)

When the N2 association goes away (SCTP loss, NG Reset of the whole interface):
``AmfGnbPolicy.removed(gnb)``, or by hand ``exposure.gnb_removed(decision.subject)`` and
``audit.record_removal(subject_kind="gnb", subject=decision.subject, reason="N2 association lost")``.

UE procedures — ``ue = ledger.ue_ref(supi)`` (a pseudonym; the ledger never holds a SUPI),
``gnb = gnb_ctx.global_ran_node_id`` (the ``(plmn, gnb_id, bits)`` tuple) or ``decision.subject``:

* once the SUPI is known after authentication of a Registration Request (TS 24.501
  §5.5.1): ``exposure.registration(ue, gnb, identity="suci",
  suci_scheme=SuciScheme.from_scheme_id(protection_scheme_id))``; ``identity="guti"`` when the
  UE identified itself with a 5G-GUTI;
* NAS Security Mode Complete (TS 33.501 §6.7.2): ``exposure.nas_security(ue, gnb, nea=..., nia=...)``;
* Initial Context Setup Request sent (KgNB in Security Key IE): ``exposure.kgnb_delivered(ue, gnb)``,
  and if it carries an IMEISV: ``exposure.imeisv_sent(ue, gnb, masked=True|False)``;
* Registration Accept sent: ``exposure.guti_assigned(ue, gnb, reallocated=<new 5G-GUTI included>)``;
* PDU Session Resource Setup Request sent: ``exposure.pdu_session(ue, gnb, psi=...,
  up_integrity=<UP integrity activated>, up_ciphering=<UP ciphering activated>)``;
* handover completed (Path Switch Request for Xn, Handover Notify for N2)::

      exposure.handover(ue, source_gnb, target_gnb, key_refresh=...)

  ``key_refresh=False`` for an Xn handover (the target's KgNB* comes from the source's
  KgNB, TS 33.501 §6.9.2) and for an N2 handover without a fresh NH; ``True`` for an N2
  handover with a new {NH, NCC} pair (vertical derivation) or after a new KAMF. For an
  N2 handover also call ``exposure.kgnb_delivered(ue, target_gnb, procedure="handover")``.

After each procedure (or on a timer), persist: ``ledger.write(exposure.drain())`` (the
recorder is sans-I/O; the ledger does the file append). ``fivecore audit`` and
``fivecore trust report`` read the files from another process.
"""

from fivecore.trust.audit_log import (
    EVENT_NF_REGISTER,
    EVENT_NF_UPDATE,
    EVENT_NG_SETUP,
    EVENT_REMOVED,
    AuditLog,
    current_subjects,
    read_audit_log,
)
from fivecore.trust.decision import (
    Action,
    Decision,
    RestrictedProfile,
    SubjectKind,
    VendorRef,
    Zone,
)
from fivecore.trust.diversity import DiversityReport, compute_diversity
from fivecore.trust.exposure import (
    AmfSecuritySettings,
    ExposureEvent,
    ExposureLedger,
    ExposureRecorder,
    ExposureSummary,
    Finding,
    Metric,
    SuciScheme,
    aggregate,
    config_findings,
    load_summary,
)
from fivecore.trust.policy import (
    TrustConfig,
    TrustPolicy,
    gnb_subject,
    load_trust_config,
    parse_trust_config,
)

__all__ = [
    "EVENT_NF_REGISTER",
    "EVENT_NF_UPDATE",
    "EVENT_NG_SETUP",
    "EVENT_REMOVED",
    "Action",
    "AmfSecuritySettings",
    "AuditLog",
    "Decision",
    "DiversityReport",
    "ExposureEvent",
    "ExposureLedger",
    "ExposureRecorder",
    "ExposureSummary",
    "Finding",
    "Metric",
    "RestrictedProfile",
    "SubjectKind",
    "SuciScheme",
    "TrustConfig",
    "TrustPolicy",
    "VendorRef",
    "Zone",
    "aggregate",
    "compute_diversity",
    "config_findings",
    "current_subjects",
    "gnb_subject",
    "load_summary",
    "load_trust_config",
    "parse_trust_config",
    "read_audit_log",
]
