"""Vendor trust zones and the RAN exposure audit.

The core knows which vendor built each NF and each gNB; a policy says which vendors may
serve which zone (core, ran, management). The NRF checks it at NF registration, the AMF at
NG Setup, and every decision goes to an append-only audit log. The exposure ledger counts
what each RAN vendor could observe. Modules:

* :mod:`.policy` — configuration (``trust:`` section), loading, :class:`TrustPolicy`.
* :mod:`.decision` — :class:`Decision` and the NGAP / HTTP answers it implies.
* :mod:`.audit_log` — :class:`AuditLog` (JSON lines, multi-process append) and its reader.
* :mod:`.exposure` — :class:`ExposureRecorder` (sans-I/O), :class:`ExposureLedger` (file),
  :func:`aggregate`, :class:`AmfSecurityConfig` and :func:`config_findings`.
* :mod:`.diversity` — SM05 shares per zone and cap flags.
* :mod:`.report` — the ``fivecore audit`` JSON and HTML report.

Integration: NRF (``fivecore.nf.nrf``)
--------------------------------------

``app.py``, at start-up (a bad policy raises :class:`fivecore.errors.ConfigError` with one
line naming the key, so the NRF refuses to start)::

    from fivecore.trust import AuditLog, TrustPolicy
    policy = TrustPolicy.from_mapping(main_config_mapping)   # reads its "trust:" section
    #   or TrustPolicy.from_file(path_to_policy_yaml)
    audit = AuditLog(policy.config.audit_log.path, fsync=policy.config.audit_log.fsync,
                     actor=f"nrf:{nrf_instance_id}")

``sbi.py``, NFRegister (``PUT /nnrf-nfm/v1/nf-instances/{nfInstanceId}``, TS 29.510
§5.2.2.2.2), after the body is decoded and validated as an NFProfile, before it is stored;
the same on a full-replacement update and on a PATCH that changes ``vendorId`` or
``nfType`` (use ``event="nf-update"``)::

    decision = policy.check_nf(profile.nfInstanceId, profile.nfType, profile.vendorId)
    audit.record_decision(decision, event="nf-register")
    if decision.http_status == 403:
        return problem_response(403, decision.problem_details())  # application/problem+json
    profile.nfStatus = decision.nf_status   # "REGISTERED", or "UNDISCOVERABLE" when quarantined

A quarantined NF is stored (201, heartbeats accepted) but must never appear in NFDiscover
results, and the NRF must keep ``nfStatus`` at ``UNDISCOVERABLE`` whatever the NF sends in
NFUpdate: an NF cannot lift its own quarantine. On NFDeregister or heartbeat expiry::

    audit.record_removal(subject_kind="nf", subject=nf_instance_id, reason="NFDeregister")

Integration: AMF (``fivecore.nf.amf``)
--------------------------------------

``app.py``, at start-up::

    from fivecore.trust import (AmfSecurityConfig, AuditLog, ExposureLedger,
                                ExposureRecorder, SuciScheme, TrustPolicy)
    policy = TrustPolicy.from_mapping(main_config_mapping)
    audit = AuditLog(policy.config.audit_log.path, fsync=policy.config.audit_log.fsync,
                     actor=f"amf:{amf_name}")
    exposure = ExposureRecorder()
    ledger = ExposureLedger(data_dir)          # <data_dir>/exposure.jsonl, read by `fivecore audit`
    exposure.amf_config(AmfSecurityConfig(
        integrity_order=(2, 1, 3), ciphering_order=(2, 1, 3),   # from the AMF config
        null_scheme_suci_accepted=..., guti_reallocation=..., imeisv_to_ran="masked",
        up_integrity="preferred", up_ciphering="required"))

NG Setup Request handler (TS 38.413 §8.7.1.2), after decoding the Global RAN Node ID
(``plmn`` as MCC+MNC digits such as ``"00101"``, the gNB ID BIT STRING as ``(value, length)``)::

    decision = policy.check_gnb((plmn, gnb_id_value, gnb_id_length), ran_node_name)
    audit.record_decision(decision, event="ng-setup")
    if not decision.admitted:
        # NG SETUP FAILURE: Cause = decision.ngap_cause, e.g. ("misc", "unspecified");
        # include Time to Wait only when decision.ngap_time_to_wait is not None ("v60s").
        ...
    else:
        gnb_ctx.trust = decision                 # keep it with the gNB context
        gnb_ctx.profile = decision.restricted_profile   # None, or what to enforce for its UEs
        exposure.gnb_admitted(decision)

When the N2 association goes away (SCTP loss, NG Reset of the whole interface)::

    exposure.gnb_removed(decision.subject)
    audit.record_removal(subject_kind="gnb", subject=decision.subject, reason="N2 association lost")

UE procedures — ``ue = ledger.ue_ref(supi)`` (a pseudonym; the ledger never holds a SUPI),
``gnb = gnb_ctx.trust.subject`` (or the ``(plmn, gnb_id, bits)`` tuple):

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

After each procedure (or on a timer), persist: ``ledger.write(exposure.drain())``.
``fivecore audit`` and ``fivecore trust report`` then read the files from another process.
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
    AmfSecurityConfig,
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
    "AmfSecurityConfig",
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
