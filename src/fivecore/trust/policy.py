"""Vendor trust policy: typed configuration, loading, and the two checks the core makes.

The policy answers one question for the NRF (an NF registers, TS 29.510 §5.2.2.2) and one
for the AMF (a gNB sets up N2, TS 38.413 §8.7.1): may this vendor serve this zone? It
encodes the EU 5G Security Toolbox measures SM03 (restrictions on high-risk suppliers for
key assets, i.e. the core) and SM05 (supplier diversity, caps per zone).

Configuration lives under a ``trust:`` key of the main YAML configuration, or in a
standalone file with the same content (with or without the ``trust:`` key); see
``examples/trust-policy.yaml``. Every reference is checked at load time: an unknown zone,
vendor or risk class raises :class:`fivecore.errors.ConfigError` with one line naming the
key, e.g. ``policy.yaml: trust.zones.rna: unknown zone 'rna' (known: core, ran, management)``.

The checks are pure functions of the configuration and their arguments (no I/O, no
clock), so they are safe to call from any task or process.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fivecore.errors import ConfigError
from fivecore.trust.decision import (
    Action,
    Decision,
    RestrictedProfile,
    SubjectKind,
    VendorRef,
    Zone,
)

#: Risk classes every policy knows; a file may describe them and declare more.
BUILTIN_RISK_CLASSES: tuple[str, ...] = ("trusted", "high-risk")

#: Longest peer-supplied string kept in a decision (peers choose names; logs must stay small).
_MAX_PEER_TEXT = 150

_VENDOR_ID_RE = re.compile(r"[0-9]{6}\Z")
_PLMN_RE = re.compile(r"([0-9]{3})[-/.]?([0-9]{2,3})\Z")


# --------------------------------------------------------------------------------------------
# Configuration models
# --------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskClassConfig(_Model):
    """A risk class (``trusted``, ``high-risk`` or one the file declares)."""

    description: str = ""


class VendorConfig(_Model):
    """A vendor: display name, IANA Private Enterprise Number, risk class."""

    name: str = Field(min_length=1)
    # TS 29.510 VendorId is six digits, so the PEN must fit in six digits.
    pen: int = Field(ge=0, le=999_999)
    risk: str


class DiversityConfig(_Model):
    """SM05 caps for one zone, as shares in [0, 1] of the zone's admitted subjects."""

    max_share_by_risk_class: dict[str, float] = Field(default_factory=dict)
    max_share_per_vendor: float | None = Field(default=None, ge=0.0, le=1.0)


class ZoneConfig(_Model):
    """What may serve one zone.

    ``risk_classes`` maps a risk class to an action; a class not listed is refused.
    ``vendors`` overrides the class for named vendors. ``unknown_vendor`` applies when the
    vendor cannot be resolved. ``restricted_profile`` names the profile used by
    ``allow-restricted`` (RAN zone only).
    """

    risk_classes: dict[str, Action] = Field(default_factory=dict)
    vendors: dict[str, Action] = Field(default_factory=dict)
    unknown_vendor: Action = Action.REFUSE
    restricted_profile: str | None = None
    diversity: DiversityConfig = Field(default_factory=DiversityConfig)


class RestrictedProfileConfig(_Model):
    """See :class:`fivecore.trust.decision.RestrictedProfile` for the meaning of each flag."""

    forbid_nea0: bool = True
    require_up_integrity: bool = True
    require_up_ciphering: bool = True
    mask_imeisv: bool = True
    forbid_null_scheme_suci: bool = True
    refresh_keys_on_vendor_change: bool = True
    max_ues: int | None = Field(default=None, ge=0)


class GnbIdRangeRule(_Model):
    """Global RAN Node ID range owned by one vendor (TS 38.413 §9.3.1.6 Global gNB ID).

    A gNB ID is a BIT STRING of 22..32 bits; the same integer with another length is
    another gNB, so the length is part of the match.
    """

    id: str = Field(min_length=1)
    vendor: str
    plmn: str
    gnb_id_bits: int = Field(ge=22, le=32)
    first: int = Field(ge=0)
    last: int = Field(ge=0)
    #: networks (CIDR, IPv4 or IPv6) the vendor's gNBs connect from. A Global RAN Node ID is
    #: whatever the gNB writes in its NG Setup Request; binding the range to the SCTP peer
    #: address the operator assigned that vendor keeps one vendor's gNB from claiming another's
    #: IDs. Empty: any address.
    peers: list[str] = Field(default_factory=list)


class NameHintRule(_Model):
    """A RAN node name pattern (TS 38.413 RAN Node Name IE) suggesting a vendor.

    The gNB chooses its own name, so a hint can only make a decision stricter.
    """

    id: str = Field(min_length=1)
    vendor: str
    pattern: str


class RanVendorRules(_Model):
    gnb_id_ranges: list[GnbIdRangeRule] = Field(default_factory=list)
    name_hints: list[NameHintRule] = Field(default_factory=list)


class HandoverSideConfig(_Model):
    """Which gNBs one side of a handover rule names: a gNB matches when its vendor is listed,
    its vendor's risk class is listed, or (``unknown_vendor``) the policy could not resolve it."""

    vendors: list[str] = Field(default_factory=list)
    risk_classes: list[str] = Field(default_factory=list)
    unknown_vendor: bool = False

    def empty(self) -> bool:
        return not (self.vendors or self.risk_classes or self.unknown_vendor)


class HandoverRuleConfig(_Model):
    """UEs may not move by Path Switch (Xn handover, TS 23.502 §4.9.1.2.2) from a ``source``
    gNB to a ``target`` gNB (both sides must match)."""

    id: str = Field(min_length=1)
    source: HandoverSideConfig
    target: HandoverSideConfig


class HandoverConfig(_Model):
    """Xn handovers between vendors: ``refuse`` rules, first match wins; none: allowed."""

    refuse: list[HandoverRuleConfig] = Field(default_factory=list)


class AuditLogConfig(_Model):
    path: str = "var/trust-audit.jsonl"
    fsync: bool = True


class TrustConfig(_Model):
    """The ``trust:`` section."""

    risk_classes: dict[str, RiskClassConfig] = Field(default_factory=dict)
    vendors: dict[str, VendorConfig] = Field(default_factory=dict)
    zones: dict[str, ZoneConfig] = Field(default_factory=dict)
    restricted_profiles: dict[str, RestrictedProfileConfig] = Field(default_factory=dict)
    ran_vendor_rules: RanVendorRules = Field(default_factory=RanVendorRules)
    #: NF type (TS 29.510 NFType) -> zone; types not listed belong to the core zone.
    nf_type_zones: dict[str, str] = Field(default_factory=dict)
    #: which gNB may take a UE over from which by Path Switch (default: any)
    handover: HandoverConfig = Field(default_factory=HandoverConfig)
    audit_log: AuditLogConfig = Field(default_factory=AuditLogConfig)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _loc(loc: tuple[int | str, ...]) -> str:
    out = "trust"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _pydantic_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key missing"
    return f"{_loc(tuple(err['loc']))}: {msg}"


def parse_plmn(plmn: str) -> str | None:
    """Normalise a PLMN written ``00101``, ``001/01``, ``001-01`` or ``001.01`` to MCC+MNC digits.

    TS 23.003 §2.2: MCC is 3 digits, MNC 2 or 3. Returns None when malformed.
    """
    m = _PLMN_RE.match(plmn.strip()) if isinstance(plmn, str) else None
    return m.group(1) + m.group(2) if m else None


def peer_address(peer: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address of an SCTP peer written ``addr``, ``addr:port`` or ``[v6addr]:port``."""
    if not peer:
        return None
    text = peer.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    else:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            text = text.rpartition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def gnb_subject(plmn: str, gnb_id: int, gnb_id_bits: int) -> str:
    """Stable text key of a Global gNB ID, used in decisions, the audit log and the ledger."""
    p = parse_plmn(plmn) or _clip(str(plmn))
    return f"gnb:{p}:{gnb_id:#x}/{gnb_id_bits}"


def _one_line(text: str) -> str:
    """Escape control characters (keys come from the file) so an error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_PEER_TEXT else text[:_MAX_PEER_TEXT] + "…"


def _check_references(cfg: TrustConfig) -> None:
    """Cross-reference checks pydantic cannot express; raise the first problem as one line."""
    risk = set(BUILTIN_RISK_CLASSES) | set(cfg.risk_classes)
    known_zones = [z.value for z in Zone]

    def fail(path: str, msg: str) -> None:
        raise ConfigError(_one_line(f"trust.{path}: {msg}"))

    def check_risk(path: str, name: str) -> None:
        if name not in risk:
            fail(path, f"unknown risk class {name!r} (declared: {', '.join(sorted(risk))})")

    def check_vendor(path: str, name: str) -> None:
        if name not in cfg.vendors:
            fail(path, f"unknown vendor {name!r} (declared: {', '.join(sorted(cfg.vendors)) or 'none'})")

    pens: dict[int, str] = {}
    for key, v in cfg.vendors.items():
        check_risk(f"vendors.{key}.risk", v.risk)
        if v.pen in pens:
            fail(f"vendors.{key}.pen", f"PEN {v.pen} already used by vendor {pens[v.pen]!r}")
        pens[v.pen] = key

    for zname, z in cfg.zones.items():
        if zname not in known_zones:
            fail(f"zones.{zname}", f"unknown zone {zname!r} (known: {', '.join(known_zones)})")
        restricted_used = False
        for rc, action in z.risk_classes.items():
            check_risk(f"zones.{zname}.risk_classes.{rc}", rc)
            restricted_used |= action is Action.ALLOW_RESTRICTED
        for vk, action in z.vendors.items():
            check_vendor(f"zones.{zname}.vendors.{vk}", vk)
            restricted_used |= action is Action.ALLOW_RESTRICTED
        restricted_used |= z.unknown_vendor is Action.ALLOW_RESTRICTED
        if restricted_used and zname != Zone.RAN.value:
            fail(f"zones.{zname}", "allow-restricted applies only to the ran zone (a restricted profile is enforced by the AMF for UEs behind a gNB)")
        if restricted_used and z.restricted_profile is None:
            fail(f"zones.{zname}.restricted_profile", "required when an action is allow-restricted")
        if z.restricted_profile is not None and z.restricted_profile not in cfg.restricted_profiles:
            fail(
                f"zones.{zname}.restricted_profile",
                f"unknown restricted profile {z.restricted_profile!r} (declared: {', '.join(sorted(cfg.restricted_profiles)) or 'none'})",
            )
        for rc, share in z.diversity.max_share_by_risk_class.items():
            check_risk(f"zones.{zname}.diversity.max_share_by_risk_class.{rc}", rc)
            if not 0.0 <= share <= 1.0:
                fail(f"zones.{zname}.diversity.max_share_by_risk_class.{rc}", f"share {share} is not in [0, 1]")

    for nf_type, zname in cfg.nf_type_zones.items():
        if zname not in known_zones:
            fail(f"nf_type_zones.{nf_type}", f"unknown zone {zname!r} (known: {', '.join(known_zones)})")

    ho_ids: set[str] = set()
    for i, rule in enumerate(cfg.handover.refuse):
        path = f"handover.refuse[{i}]"
        if rule.id in ho_ids:
            fail(f"{path}.id", f"duplicate rule id {rule.id!r}")
        ho_ids.add(rule.id)
        for side_name, side in (("source", rule.source), ("target", rule.target)):
            if side.empty():
                fail(f"{path}.{side_name}", "names no gNB (list vendors, risk_classes or set unknown_vendor)")
            for k, vk in enumerate(side.vendors):
                check_vendor(f"{path}.{side_name}.vendors[{k}]", vk)
            for k, rc in enumerate(side.risk_classes):
                check_risk(f"{path}.{side_name}.risk_classes[{k}]", rc)

    ids: set[str] = set()
    ranges = cfg.ran_vendor_rules.gnb_id_ranges
    for i, r in enumerate(ranges):
        path = f"ran_vendor_rules.gnb_id_ranges[{i}]"
        if r.id in ids:
            fail(f"{path}.id", f"duplicate rule id {r.id!r}")
        ids.add(r.id)
        check_vendor(f"{path}.vendor", r.vendor)
        if parse_plmn(r.plmn) is None:
            fail(f"{path}.plmn", f"not a PLMN (MCC+MNC, e.g. '00101' or '001/01'): {r.plmn!r}")
        if r.first > r.last:
            fail(f"{path}.first", f"first {r.first:#x} is above last {r.last:#x}")
        if r.last >= 1 << r.gnb_id_bits:
            fail(f"{path}.last", f"{r.last:#x} does not fit in {r.gnb_id_bits} bits")
        for k, net in enumerate(r.peers):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                fail(f"{path}.peers[{k}]", f"not an IP network (CIDR such as '10.20.0.0/16'): {net!r}")
        for j, o in enumerate(ranges[:i]):
            if (
                parse_plmn(o.plmn) == parse_plmn(r.plmn)
                and o.gnb_id_bits == r.gnb_id_bits
                and o.first <= r.last
                and r.first <= o.last
                and o.vendor != r.vendor
            ):
                fail(path, f"range overlaps ran_vendor_rules.gnb_id_ranges[{j}] ({o.id!r}) of another vendor")
    for i, h in enumerate(cfg.ran_vendor_rules.name_hints):
        path = f"ran_vendor_rules.name_hints[{i}]"
        if h.id in ids:
            fail(f"{path}.id", f"duplicate rule id {h.id!r}")
        ids.add(h.id)
        check_vendor(f"{path}.vendor", h.vendor)
        try:
            re.compile(h.pattern)
        except re.error as exc:
            fail(f"{path}.pattern", f"bad regular expression: {exc}")


def parse_trust_config(data: Any) -> TrustConfig:
    """Validate a mapping (the ``trust:`` section or a whole config holding one).

    Raises :class:`ConfigError` with one line naming the offending key.
    """
    if isinstance(data, Mapping) and "trust" in data:
        data = data["trust"]
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("trust: must be a mapping")
    try:
        cfg = TrustConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_one_line(_pydantic_line(exc))) from None
    _check_references(cfg)
    return cfg


def load_trust_config(path: str | Path) -> TrustConfig:
    """Read a policy file (standalone or the main config with a ``trust:`` section)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(_one_line(f"{p}: cannot read trust policy: {why}")) from None
    return parse_trust_yaml(text, source=str(p))


def parse_trust_yaml(text: str, *, source: str = "<policy>") -> TrustConfig:
    """Parse policy YAML text; every failure is one :class:`ConfigError` line prefixed by ``source``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(_one_line(f"{source}:{where}: {problem}")) from None
    except RecursionError:
        raise ConfigError(_one_line(f"{source}: YAML nested too deeply")) from None
    try:
        return parse_trust_config(data)
    except ConfigError as exc:
        raise ConfigError(_one_line(f"{source}: {exc}")) from None


# --------------------------------------------------------------------------------------------
# The policy engine
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Range:
    rule_id: str
    vendor: str
    plmn: str
    bits: int
    first: int
    last: int
    peers: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


class TrustPolicy:
    """Decisions for NFs (NRF) and gNBs (AMF) under one :class:`TrustConfig`."""

    def __init__(self, config: TrustConfig) -> None:
        _check_references(config)
        self.config = config
        self._vendors = {
            k: VendorRef(key=k, name=v.name, pen=v.pen, risk_class=v.risk)
            for k, v in config.vendors.items()
        }
        self._by_vendor_id = {v.vendor_id: v for v in self._vendors.values()}
        self._ranges = [
            _Range(r.id, r.vendor, parse_plmn(r.plmn) or "", r.gnb_id_bits, r.first, r.last,
                   tuple(ipaddress.ip_network(n, strict=False) for n in r.peers))
            for r in config.ran_vendor_rules.gnb_id_ranges
        ]
        self._hints = [(h.id, h.vendor, re.compile(h.pattern)) for h in config.ran_vendor_rules.name_hints]
        self._profiles = {
            name: RestrictedProfile(name=name, **p.model_dump())
            for name, p in config.restricted_profiles.items()
        }

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> TrustPolicy:
        return cls(load_trust_config(path))

    @classmethod
    def from_mapping(cls, data: Any) -> TrustPolicy:
        return cls(parse_trust_config(data))

    # -- look-ups --------------------------------------------------------------------------

    @property
    def vendors(self) -> dict[str, VendorRef]:
        return dict(self._vendors)

    def vendor(self, key: str) -> VendorRef | None:
        return self._vendors.get(key)

    def vendor_by_id(self, vendor_id: str) -> VendorRef | None:
        """Vendor whose IANA PEN, as the six-digit TS 29.510 VendorId, is ``vendor_id``."""
        return self._by_vendor_id.get(vendor_id)

    def zone_of_nf_type(self, nf_type: str) -> Zone:
        """Zone an NF type serves: ``nf_type_zones`` or, by default, the core."""
        z = self.config.nf_type_zones.get(str(nf_type).upper()) or self.config.nf_type_zones.get(str(nf_type))
        return Zone(z) if z else Zone.CORE

    def resolve_gnb_vendor(self, plmn: str, gnb_id: int, gnb_id_bits: int) -> tuple[VendorRef, str] | None:
        """Vendor owning a Global gNB ID by the configured ranges, with the rule id."""
        r = self._range_of(plmn, gnb_id, gnb_id_bits)
        return (self._vendors[r.vendor], r.rule_id) if r is not None else None

    def _range_of(self, plmn: str, gnb_id: int, gnb_id_bits: int) -> _Range | None:
        p = parse_plmn(plmn)
        if p is None:
            return None
        for r in self._ranges:
            if r.plmn == p and r.bits == gnb_id_bits and r.first <= gnb_id <= r.last:
                return r
        return None

    def name_hint(self, ran_node_name: str | None) -> tuple[VendorRef, str] | None:
        """Vendor suggested by a RAN node name, with the rule id (first matching hint)."""
        if not ran_node_name:
            return None
        for rule_id, vendor, rx in self._hints:
            if rx.search(ran_node_name):
                return self._vendors[vendor], rule_id
        return None

    # -- decisions -------------------------------------------------------------------------

    def action_for(self, zone: Zone, vendor: VendorRef) -> tuple[Action, str]:
        """Action for a known vendor in a zone, with the id (dotted policy path) of the rule."""
        zc = self.config.zones.get(zone.value)
        if zc is None:
            return Action.REFUSE, f"zones.{zone.value} (not configured)"
        if vendor.key in zc.vendors:
            return zc.vendors[vendor.key], f"zones.{zone.value}.vendors.{vendor.key}"
        if vendor.risk_class in zc.risk_classes:
            return zc.risk_classes[vendor.risk_class], f"zones.{zone.value}.risk_classes.{vendor.risk_class}"
        return Action.REFUSE, f"zones.{zone.value}.risk_classes (no entry for {vendor.risk_class})"

    def _handover_side(self, side: HandoverSideConfig, vendor_key: str | None) -> bool:
        v = self._vendors.get(vendor_key) if vendor_key is not None else None
        if v is None:
            return side.unknown_vendor
        return v.key in side.vendors or v.risk_class in side.risk_classes

    def handover_refusal(self, source_vendor: str | None, target_vendor: str | None) -> str | None:
        """TS 23.502 §4.9.1.2.2: may a gNB of ``target_vendor`` take a UE over by Path Switch
        from a gNB of ``source_vendor`` (vendor keys as resolved at NG Setup, None: unknown)?
        None when allowed, else the id of the refusing rule (``trust.handover.refuse[i]``)."""
        for i, rule in enumerate(self.config.handover.refuse):
            if self._handover_side(rule.source, source_vendor) and self._handover_side(rule.target, target_vendor):
                return f"handover.refuse[{i}] ({rule.id})"
        return None

    def handover_rules(self) -> list[dict[str, Any]]:
        """The ``handover.refuse`` rules as plain data (``fivecore trust check``): id, and for
        each side the vendors, risk classes and whether an unresolved vendor matches."""
        return [{"id": r.id, "rule": f"handover.refuse[{i}]", "source": r.source.model_dump(),
                 "target": r.target.model_dump()} for i, r in enumerate(self.config.handover.refuse)]

    def unknown_vendor_action(self, zone: Zone) -> tuple[Action, str]:
        """Action for a vendor the policy cannot resolve in a zone, with the rule id."""
        zc = self.config.zones.get(zone.value)
        if zc is None:
            return Action.REFUSE, f"zones.{zone.value} (not configured)"
        return zc.unknown_vendor, f"zones.{zone.value}.unknown_vendor"

    def _profile(self, zone: Zone, action: Action) -> RestrictedProfile | None:
        if action is not Action.ALLOW_RESTRICTED:
            return None
        zc = self.config.zones[zone.value]
        assert zc.restricted_profile is not None  # enforced at load
        return self._profiles[zc.restricted_profile]

    @staticmethod
    def _vendor_text(v: VendorRef) -> str:
        return f"vendor {v.name} (PEN {v.pen}, {v.risk_class})"

    @staticmethod
    def _verb(action: Action, zone: Zone, plural: bool = False) -> str:
        return {
            Action.ALLOW: f"may serve the {zone.value} zone",
            Action.ALLOW_RESTRICTED: f"may serve the {zone.value} zone under a restricted profile",
            Action.QUARANTINE: f"{'are' if plural else 'is'} quarantined in the {zone.value} zone pending operator review",
            Action.REFUSE: f"may not serve the {zone.value} zone",
        }[action]

    def check_nf(self, nf_instance_id: str, nf_type: str, vendor_id: str | None) -> Decision:
        """Decide an NF registration (TS 29.510 §5.2.2.2.2 NFRegister).

        ``vendor_id`` is NFProfile.vendorId: the vendor's IANA PEN as six digits
        (``^[0-9]{6}$``), or None when the profile carries none. A malformed value is treated
        as an unknown vendor, never trusted.
        """
        zone = self.zone_of_nf_type(nf_type)
        subject = _clip(str(nf_instance_id))
        detail: dict[str, Any] = {"nf_type": _clip(str(nf_type))}
        vendor: VendorRef | None = None
        if vendor_id is not None:
            detail["vendor_id"] = _clip(str(vendor_id))
            if isinstance(vendor_id, str) and _VENDOR_ID_RE.match(vendor_id):
                vendor = self._by_vendor_id.get(vendor_id)
        who = f"NF {detail['nf_type']} {subject}"
        if vendor is not None:
            action, rule = self.action_for(zone, vendor)
            reason = f"{who}: {self._vendor_text(vendor)} {self._verb(action, zone)}"
        else:
            action, rule = self.unknown_vendor_action(zone)
            if vendor_id is None:
                why = "NFProfile carries no vendorId"
            elif not (isinstance(vendor_id, str) and _VENDOR_ID_RE.match(vendor_id)):
                why = f"vendorId {detail['vendor_id']!r} is not six digits (TS 29.510 VendorId)"
            else:
                why = f"vendorId {vendor_id} is not a vendor of the policy"
            reason = f"{who}: {why}; unknown vendors {self._verb(action, zone, plural=True)}"
        return Decision(
            action=action,
            subject_kind=SubjectKind.NF,
            subject=subject,
            zone=zone,
            vendor=vendor,
            rule_id=rule,
            reason=reason,
            restricted_profile=self._profile(zone, action),
            detail=detail,
        )

    def check_gnb(
        self,
        global_ran_node_id: tuple[str, int, int],
        ran_node_name: str | None = None,
        peer: str | None = None,
    ) -> Decision:
        """Decide an NG Setup (TS 38.413 §8.7.1) from the Global RAN Node ID and RAN Node Name.

        ``global_ran_node_id`` is ``(plmn, gnb_id, gnb_id_bits)``: the PLMN Identity as MCC+MNC
        digits (``'00101'``), the gNB ID as an integer and its bit length (22..32, TS 38.413
        §9.3.1.6). The vendor comes from the configured ID ranges. The node name is chosen by
        the gNB itself, so a name hint can only make the decision stricter: when the ID is
        unknown the decision is the stricter of the unknown-vendor default and the hinted
        vendor's; when the name points at another vendor than the ID, the stricter of both.

        ``peer`` is the SCTP peer address the NG Setup came from (``"10.20.0.7"``, or with a
        port: ``"10.20.0.7:38412"``, ``"[2001:db8::7]:38412"``). When the matching ID range
        lists ``peers`` and the address is outside them (or unknown), the ID is not the gNB's to
        claim: the NG Setup is refused whatever the vendor's standing.
        """
        plmn, gnb_id, bits = global_ran_node_id
        zone = Zone.RAN
        valid = (
            isinstance(gnb_id, int)
            and isinstance(bits, int)
            and 22 <= bits <= 32
            and 0 <= gnb_id < (1 << bits)
            and parse_plmn(plmn) is not None
        )
        subject = gnb_subject(str(plmn), int(gnb_id), int(bits)) if valid else _clip(f"gnb:{plmn}:{gnb_id}/{bits}")
        name = _clip(ran_node_name) if ran_node_name else None
        detail: dict[str, Any] = {}
        if name is not None:
            detail["ran_node_name"] = name
        rng = self._range_of(str(plmn), int(gnb_id), int(bits)) if valid else None
        # The name is the peer's choice: match the clipped text so a hint regex sees bounded input.
        hint = self.name_hint(name)

        if peer is not None:
            detail["peer"] = _clip(peer)
        if rng is not None:
            vendor, id_rule = self._vendors[rng.vendor], rng.rule_id
            addr = peer_address(peer)
            if rng.peers and (addr is None or not any(addr in n for n in rng.peers
                                                                          if n.version == addr.version)):
                detail["resolved_by"] = id_rule
                detail["peer_mismatch"] = [str(n) for n in rng.peers]
                return Decision(
                    action=Action.REFUSE, subject_kind=SubjectKind.GNB, subject=subject, zone=zone,
                    vendor=vendor, rule_id=id_rule,
                    reason=(f"gNB {subject}: ID range {id_rule} ({vendor.name}) is bound to peers "
                            f"{', '.join(str(n) for n in rng.peers)}, but this NG Setup came from "
                            f"{_clip(peer) if peer else 'an unknown address'}: refused as an identity it cannot claim"),
                    restricted_profile=None, detail=detail)
            action, rule = self.action_for(zone, vendor)
            detail["resolved_by"] = id_rule
            reason = f"gNB {subject}: {self._vendor_text(vendor)} by rule {id_rule} {self._verb(action, zone)}"
            if hint is not None and hint[0].key != vendor.key:
                h_vendor, h_rule = hint
                h_action, h_zone_rule = self.action_for(zone, h_vendor)
                detail["name_hint"] = {"rule": h_rule, "vendor": h_vendor.key}
                if h_action.severity > action.severity:
                    action, rule = h_action, h_zone_rule
                    reason = (
                        f"gNB {subject}: ID range {id_rule} says {vendor.name} but name {name!r} matches "
                        f"{h_rule} ({h_vendor.name}); a name can only tighten, and {self._vendor_text(h_vendor)} "
                        f"{self._verb(action, zone)}"
                    )
                    vendor = h_vendor
                else:
                    reason += f"; name {name!r} matches {h_rule} ({h_vendor.name}), which does not tighten it"
        else:
            action, rule = self.unknown_vendor_action(zone)
            vendor = None
            why = "Global RAN Node ID is malformed" if not valid else "no gNB ID range matches"
            reason = f"gNB {subject}: {why}; unknown vendors {self._verb(action, zone, plural=True)}"
            if hint is not None:
                h_vendor, h_rule = hint
                h_action, h_zone_rule = self.action_for(zone, h_vendor)
                detail["name_hint"] = {"rule": h_rule, "vendor": h_vendor.key}
                if h_action.severity > action.severity:
                    action, rule, vendor = h_action, h_zone_rule, h_vendor
                    reason = (
                        f"gNB {subject}: {why}, but name {name!r} matches {h_rule}: "
                        f"{self._vendor_text(h_vendor)} {self._verb(action, zone)}"
                    )
                else:
                    reason += f" (name {name!r} matches {h_rule}, {h_vendor.name}; a name hint alone never loosens)"
        return Decision(
            action=action,
            subject_kind=SubjectKind.GNB,
            subject=subject,
            zone=zone,
            vendor=vendor,
            rule_id=rule,
            reason=reason,
            restricted_profile=self._profile(zone, action),
            detail=detail,
        )

    def zone_config(self, zone: Zone | str) -> ZoneConfig | None:
        return self.config.zones.get(Zone(zone).value)
