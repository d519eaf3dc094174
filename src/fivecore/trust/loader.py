"""Where an NF finds its vendor policy: a per-NF policy file, else the main config's ``trust:``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fivecore.trust.audit_log import AuditLog
from fivecore.trust.policy import TrustPolicy


def policy_from_config(config: Any, policy_file: str | Path | None) -> TrustPolicy | None:
    """The NF's TrustPolicy, or None when no policy is configured (everything admitted)."""
    if policy_file is not None:
        return TrustPolicy.from_file(policy_file)
    mapping = getattr(config, "trust", None)
    if mapping:
        return TrustPolicy.from_mapping(mapping)
    return None


def audit_log_for(policy: TrustPolicy) -> AuditLog:
    """The append-only audit log the policy names (shared by every NF that decides)."""
    return AuditLog(policy.config.audit_log.path, fsync=policy.config.audit_log.fsync)
