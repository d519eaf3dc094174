"""Vendor diversity per zone (EU 5G Security Toolbox SM05) and cap checks.

Share is counted in admitted subjects: NF instances in the core and management zones,
gNBs in the RAN zone (the UK cap of 35% for high-risk vendors applied to the access
network). Quarantined and refused subjects do not serve, so they do not count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fivecore.trust.audit_log import ServingSubject
from fivecore.trust.decision import Zone
from fivecore.trust.policy import TrustPolicy

UNKNOWN = "unknown"
# Shares are ratios of small integers; a share equal to its cap must not flag on rounding.
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class VendorShare:
    vendor: str
    vendor_name: str
    risk_class: str
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class CapFlag:
    """A zone above a configured cap."""

    zone: str
    cap_kind: str  # "risk-class" or "vendor"
    key: str
    share: float
    cap: float
    rule: str

    @property
    def message(self) -> str:
        what = f"risk class {self.key}" if self.cap_kind == "risk-class" else f"vendor {self.key}"
        return (
            f"{self.zone} zone: {what} holds {self.share:.1%} of admitted subjects, "
            f"above the cap of {self.cap:.0%} ({self.rule})"
        )


@dataclass
class ZoneDiversity:
    zone: str
    total: int
    vendors: list[VendorShare] = field(default_factory=list)
    risk_shares: dict[str, float] = field(default_factory=dict)
    flags: list[CapFlag] = field(default_factory=list)


@dataclass
class DiversityReport:
    zones: list[ZoneDiversity]

    @property
    def flags(self) -> list[CapFlag]:
        return [f for z in self.zones for f in z.flags]

    def to_dict(self) -> dict[str, Any]:
        return {
            "zones": [
                {
                    "zone": z.zone,
                    "total": z.total,
                    "vendors": [
                        {
                            "vendor": v.vendor,
                            "vendor_name": v.vendor_name,
                            "risk_class": v.risk_class,
                            "count": v.count,
                            "share": round(v.share, 6),
                        }
                        for v in z.vendors
                    ],
                    "risk_shares": {k: round(v, 6) for k, v in z.risk_shares.items()},
                    "flags": [
                        {
                            "cap_kind": f.cap_kind,
                            "key": f.key,
                            "share": round(f.share, 6),
                            "cap": f.cap,
                            "rule": f.rule,
                            "message": f.message,
                        }
                        for f in z.flags
                    ],
                }
                for z in self.zones
            ],
            "flags": [f.message for f in self.flags],
        }


def compute_diversity(policy: TrustPolicy, serving: Iterable[ServingSubject]) -> DiversityReport:
    """Each zone's share per vendor and per risk class, and the caps it breaks.

    A share is strictly above its cap to be flagged (a 35% cap allows exactly 35%). Vendor
    names and risk classes come from the policy when it knows the vendor, else from the
    audit record.
    """
    by_zone: dict[str, list[ServingSubject]] = {z.value: [] for z in Zone}
    for s in serving:
        by_zone.setdefault(s.zone, []).append(s)
    zones: list[ZoneDiversity] = []
    for zone, subjects in by_zone.items():
        total = len(subjects)
        counts: Counter[str] = Counter()
        names: dict[str, str] = {}
        risks: dict[str, str] = {}
        for s in subjects:
            key = s.vendor or UNKNOWN
            counts[key] += 1
            ref = policy.vendor(key) if s.vendor else None
            names[key] = ref.name if ref else (s.vendor_name or key)
            risks[key] = ref.risk_class if ref else (s.risk_class or UNKNOWN)
        zd = ZoneDiversity(zone=zone, total=total)
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            zd.vendors.append(VendorShare(key, names[key], risks[key], n, n / total))
        risk_counts: Counter[str] = Counter()
        for v in zd.vendors:
            risk_counts[v.risk_class] += v.count
        zd.risk_shares = {k: n / total for k, n in sorted(risk_counts.items())} if total else {}
        zc = policy.config.zones.get(zone)
        if zc is not None and total:
            for rc, cap in zc.diversity.max_share_by_risk_class.items():
                share = zd.risk_shares.get(rc, 0.0)
                if share - cap > _EPS:
                    zd.flags.append(
                        CapFlag(zone, "risk-class", rc, share, cap, f"zones.{zone}.diversity.max_share_by_risk_class.{rc}")
                    )
            cap_v = zc.diversity.max_share_per_vendor
            if cap_v is not None:
                for v in zd.vendors:
                    if v.share - cap_v > _EPS:
                        zd.flags.append(
                            CapFlag(zone, "vendor", v.vendor, v.share, cap_v, f"zones.{zone}.diversity.max_share_per_vendor")
                        )
        zones.append(zd)
    return DiversityReport(zones=zones)
