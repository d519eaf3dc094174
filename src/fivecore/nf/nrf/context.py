"""NRF state: the registered NF profiles, status subscriptions, discovery (TS 29.510).

Sans-I/O: no sockets, no tasks, an injected clock. Operations return the notifications to send
(``(uri, NotificationData)`` pairs); the SBI layer delivers them. Vendor policy plugs in at
:attr:`NrfContext.admission`, called for every registration and profile update before it is
accepted.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from fivecore.nf.common.jsonpatch import PatchError, apply_patch
from fivecore.transport.http2 import HttpError
from fivecore.transport.http2.message import path_segment, validation_problem
from fivecore.wire.sbi import NFProfile, SubscriptionData

Notification = tuple[str, dict[str, Any]]

#: Admission hook: (profile, is_update) -> None to accept, or a reason string to refuse (403).
Admission = Callable[[NFProfile, bool], "str | None"]

# How many heartbeat periods of silence before an NF is SUSPENDED, and before it is removed.
SUSPEND_AFTER = 1.5
SUBSCRIPTION_MEMBERS = ("nfStatusNotificationUri", "reqNfInstanceId", "reqNotifEvents", "reqNfType")
NOTIF_EVENTS = {"NF_REGISTERED", "NF_DEREGISTERED", "NF_PROFILE_CHANGED", "SHARED_DATA_CHANGED"}
REMOVE_AFTER = 10.0


@dataclass
class Registered:
    profile: dict[str, Any]
    model: NFProfile
    last_seen: float
    heartbeat: int
    #: an nfStatus the vendor policy imposes (UNDISCOVERABLE for a quarantined vendor)
    forced_status: str | None = None


@dataclass
class Subscription:
    data: dict[str, Any]
    expires: float
    cond: dict[str, Any] = field(default_factory=dict)


def _default_admission(_profile: NFProfile, _update: bool) -> str | None:
    return None


class NrfContext:
    """Profiles, subscriptions and discovery of one NRF."""

    def __init__(
        self,
        *,
        heartbeat_timer: int = 10,
        validity_period: int = 3600,
        nrf_uri: str = "",
        clock: Callable[[], float] = time.monotonic,
        admission: Admission | None = None,
    ) -> None:
        self.heartbeat_timer = heartbeat_timer
        self.validity_period = validity_period
        self.nrf_uri = nrf_uri
        self.clock = clock
        self.nfs: dict[str, Registered] = {}
        self.subscriptions: dict[str, Subscription] = {}
        #: Vendor policy hook point (ARCHITECTURE.md "Trust boundaries"): called with the
        #: validated NFProfile (vendorId included) on register and update; a returned string
        #: refuses the registration with 403 and that reason.
        self.admission: Admission = admission or _default_admission
        self._disc_cache: dict[str, bytes] = {}
        #: heartbeats received per nfType (TS 29.510 §5.2.2.3.2), for the NRF's metrics
        self.heartbeats: dict[str, int] = {}
        #: NFStatusNotify requests handed to the SBI layer, per event (§5.2.2.6)
        self.notified: dict[str, int] = {}

    # -- NFManagement (TS 29.510 §5.2.2) ----------------------------------------------------------
    def instance_uri(self, nf_id: str) -> str:
        return f"{self.nrf_uri}/nnrf-nfm/v1/nf-instances/{path_segment(nf_id)}"

    def register(self, nf_id: str, body: Any) -> tuple[bool, dict[str, Any], list[Notification]]:
        """NFRegister / complete replacement (§5.2.2.2): returns (created, profile, notifications)."""
        if not isinstance(body, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "NFProfile must be a JSON object")
        model = self._validate(body)
        if model.nfInstanceId.lower() != nf_id.lower():
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "nfInstanceId differs from the URI",
                            invalid_params=[{"param": "/nfInstanceId", "reason": "must equal the URI's nfInstanceID"}])
        existing = self.nfs.get(nf_id)
        forced = self._admit(model, existing is not None)
        profile = copy.deepcopy(body)
        # TS 29.510 §5.2.2.2.2: the NRF decides the heartbeat timer and returns it in the profile.
        hb = self.heartbeat_timer
        profile["heartBeatTimer"] = hb
        if forced is not None:
            profile["nfStatus"] = forced
            model = model.model_copy(update={"nfStatus": forced})
        self.nfs[nf_id] = Registered(profile, model, self.clock(), hb, forced)
        self._changed()
        event = "NF_PROFILE_CHANGED" if existing else "NF_REGISTERED"
        return existing is None, profile, self._notify(event, nf_id, profile)

    def update(self, nf_id: str, patch: Any) -> tuple[dict[str, Any] | None, list[Notification]]:
        """NFUpdate with JSON Patch (§5.2.2.3). A bare heartbeat returns (None, []) -> 204."""
        reg = self.nfs.get(nf_id)
        if reg is None:
            raise HttpError(404, "RESOURCE_NOT_FOUND", f"no NF instance {nf_id}")
        try:
            new = apply_patch(reg.profile, patch)
        except PatchError as exc:
            raise HttpError(400, "INVALID_MSG_FORMAT" if not isinstance(patch, list) else "MANDATORY_IE_INCORRECT",
                            str(exc)) from None
        reg.last_seen = self.clock()
        if _only_status(patch):
            nf_type = str(reg.profile.get("nfType") or "UNKNOWN")
            self.heartbeats[nf_type] = self.heartbeats.get(nf_type, 0) + 1
        if reg.forced_status is not None and isinstance(new, dict) and new.get("nfStatus") == "REGISTERED":
            new = {**new, "nfStatus": reg.forced_status}  # a quarantined NF's heartbeat
        if new == reg.profile:
            return None, []  # a plain heartbeat (TS 29.510 §5.2.2.3.2): 204 No Content
        if not isinstance(new, dict) or new.get("nfInstanceId") != reg.profile.get("nfInstanceId"):
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "nfInstanceId cannot change")
        model = self._validate(new)
        forced = self._admit(model, True)
        if forced is not None and new.get("nfStatus") != forced:
            # A quarantined NF's heartbeat (nfStatus REGISTERED) must not make it discoverable.
            new = {**new, "nfStatus": forced}
            model = model.model_copy(update={"nfStatus": forced})
        reg.forced_status = forced
        # A heartbeat that brings a SUSPENDED NF back is still answered 204, but subscribers hear of it.
        heartbeat = _only_status(patch)
        reg.profile, reg.model = new, model
        reg.heartbeat = int(new.get("heartBeatTimer") or reg.heartbeat)
        self._changed()
        notes = self._notify("NF_PROFILE_CHANGED", nf_id, new)
        return (None if heartbeat else new), notes

    def deregister(self, nf_id: str) -> list[Notification]:
        """NFDeregister (§5.2.2.4)."""
        reg = self.nfs.pop(nf_id, None)
        if reg is None:
            raise HttpError(404, "RESOURCE_NOT_FOUND", f"no NF instance {nf_id}")
        self._changed()
        return self._notify("NF_DEREGISTERED", nf_id, reg.profile)

    def get(self, nf_id: str) -> dict[str, Any]:
        reg = self.nfs.get(nf_id)
        if reg is None:
            raise HttpError(404, "RESOURCE_NOT_FOUND", f"no NF instance {nf_id}")
        return reg.profile

    def expire(self) -> list[Notification]:
        """Heartbeat supervision (§5.2.2.3.2): a silent NF becomes SUSPENDED after 1.5 heartbeat
        periods (no longer discoverable), and is removed after 10."""
        now = self.clock()
        notes: list[Notification] = []
        for nf_id, reg in list(self.nfs.items()):
            silent = now - reg.last_seen
            if silent > REMOVE_AFTER * reg.heartbeat:
                del self.nfs[nf_id]
                self._changed()
                notes += self._notify("NF_DEREGISTERED", nf_id, reg.profile)
            elif silent > SUSPEND_AFTER * reg.heartbeat and reg.profile.get("nfStatus") == "REGISTERED":
                reg.profile = {**reg.profile, "nfStatus": "SUSPENDED"}
                reg.model = reg.model.model_copy(update={"nfStatus": "SUSPENDED"})
                self._changed()
                notes += self._notify("NF_PROFILE_CHANGED", nf_id, reg.profile)
        for sid, sub in list(self.subscriptions.items()):
            if sub.expires <= now:
                del self.subscriptions[sid]
        return notes

    def list_uris(self, nf_type: str | None, limit: int | None) -> list[str]:
        ids = [i for i, r in self.nfs.items() if nf_type is None or r.profile.get("nfType") == nf_type]
        if limit is not None:
            ids = ids[:limit]
        return [self.instance_uri(i) for i in ids]

    def _validate(self, body: dict[str, Any]) -> NFProfile:
        try:
            return NFProfile.model_validate(body)
        except ValidationError as exc:
            raise validation_problem(exc) from None

    def _admit(self, model: NFProfile, is_update: bool) -> str | None:
        """Vendor admission; returns the nfStatus the policy imposes (or None)."""
        reason = self.admission(model, is_update)
        if reason:
            # TS 29.510 §5.2.2.2.2 lets the NRF refuse a registration with 403 ProblemDetails.
            raise HttpError(403, "NF_REGISTRATION_NOT_ALLOWED", reason)
        status_for = getattr(self.admission, "nf_status_for", None)
        return status_for(str(model.nfInstanceId)) if status_for is not None else None

    def _changed(self) -> None:
        self._disc_cache.clear()

    # -- subscriptions (§5.2.2.5) ---------------------------------------------------------------
    def subscribe(self, body: Any, default_validity: float = 86400.0) -> tuple[str, dict[str, Any]]:
        if not isinstance(body, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "SubscriptionData must be a JSON object")
        body = {**body, "subscriptionId": body.get("subscriptionId") or "pending"}
        try:
            SubscriptionData.model_validate(body)
        except ValidationError as exc:
            raise validation_problem(exc) from None
        sid = uuid.uuid4().hex
        # Keep (and echo) only the members this NRF acts on; writeOnly ones such as
        # requesterFeatures must not come back (TS 29.510 §6.1.6.2.16).
        data = {k: body[k] for k in SUBSCRIPTION_MEMBERS if k in body}
        events = data.get("reqNotifEvents")
        if events is not None and (not isinstance(events, list) or not set(events) <= NOTIF_EVENTS):
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "reqNotifEvents: unknown event",
                            invalid_params=[{"param": "/reqNotifEvents"}])
        req_id = data.get("reqNfInstanceId")
        if req_id is not None and not (isinstance(req_id, str) and _UUID.match(req_id)):
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "reqNfInstanceId is not a UUID",
                            invalid_params=[{"param": "/reqNfInstanceId"}])
        # TS 29.510 §6.1.6.2.16: the consumer's validityTime is a hint; the NRF always answers
        # with the one it grants (never longer than its own default)
        validity = _granted_validity(body.get("validityTime"), default_validity)
        cond = _subscr_cond(body.get("subscrCond"))
        data["subscriptionId"] = sid
        data["validityTime"] = _date_time(validity)
        if cond:
            data["subscrCond"] = cond
        else:
            data.pop("subscrCond", None)
        self.subscriptions[sid] = Subscription(data, self.clock() + validity, cond)
        return sid, data

    def unsubscribe(self, sid: str) -> None:
        if self.subscriptions.pop(sid, None) is None:
            raise HttpError(404, "SUBSCRIPTION_NOT_FOUND", f"no subscription {sid}")

    def renew(self, sid: str, patch: Any, default_validity: float = 86400.0) -> dict[str, Any]:
        """TS 29.510 §5.2.2.5.6 update of a subscription (JSON Patch, RFC 6902), in practice a
        new ``validityTime``: the subscription lives on until the time granted in the answer
        (the hint capped at ``default_validity`` from now). 404 when the NRF does not know
        ``sid`` (e.g. it restarted): the consumer subscribes again."""
        sub = self.subscriptions.get(sid)
        if sub is None:
            raise HttpError(404, "SUBSCRIPTION_NOT_FOUND", f"no subscription {sid}")
        try:
            new = apply_patch(sub.data, patch)
        except PatchError as exc:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", str(exc)) from None
        if not isinstance(new, dict) or new.get("subscriptionId") != sid:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "subscriptionId cannot change")
        # what the patch leaves must still be a subscription this NRF can notify: a removed or
        # mangled nfStatusNotificationUri would otherwise break every later notification
        try:
            SubscriptionData.model_validate(new)
        except ValidationError as exc:
            raise validation_problem(exc) from None
        events = new.get("reqNotifEvents")
        if events is not None and not set(events) <= NOTIF_EVENTS:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "reqNotifEvents: unknown event",
                            invalid_params=[{"param": "/reqNotifEvents"}])
        cond = _subscr_cond(new.get("subscrCond"))
        validity = _granted_validity(new.get("validityTime"), default_validity)
        new = {k: new[k] for k in (*SUBSCRIPTION_MEMBERS, "subscriptionId") if k in new}
        new["validityTime"] = _date_time(validity)
        if cond:
            new["subscrCond"] = cond
        sub.data, sub.cond, sub.expires = new, cond, self.clock() + validity
        return new

    def _notify(self, event: str, nf_id: str, profile: dict[str, Any]) -> list[Notification]:
        out: list[Notification] = []
        for sub in self.subscriptions.values():
            events = sub.data.get("reqNotifEvents")
            if events and event not in events:
                continue
            if not _cond_matches(sub.cond, nf_id, profile):
                continue
            note: dict[str, Any] = {"event": event, "nfInstanceUri": self.instance_uri(nf_id)}
            if event != "NF_DEREGISTERED":
                note["nfProfile"] = profile
            out.append((sub.data["nfStatusNotificationUri"], note))
            self.notified[event] = self.notified.get(event, 0) + 1
        return out

    # -- NFDiscovery (TS 29.510 §5.3.2.2) ---------------------------------------------------------
    def discover_bytes(self, query_string: str, query: dict[str, list[str]]) -> bytes:
        """The SearchResult JSON for a query, memoised until the registry changes."""
        hit = self._disc_cache.get(query_string)
        if hit is not None:
            return hit
        result = self.discover(query)
        body = json.dumps({"validityPeriod": self.validity_period, "nfInstances": result},
                          separators=(",", ":")).encode()
        if len(self._disc_cache) > 4096:
            self._disc_cache.clear()
        self._disc_cache[query_string] = body
        return body

    def discover(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Profiles matching the query, best first (priority, then capacity, then locality)."""
        target = _one(query, "target-nf-type")
        requester = _one(query, "requester-nf-type")
        if not target or not requester:
            missing = "target-nf-type" if not target else "requester-nf-type"
            raise HttpError(400, "MANDATORY_QUERY_PARAM_MISSING", f"{missing} is required",
                            invalid_params=[{"param": missing}])
        services = _csv(query.get("service-names"))
        snssais = _json_list(query, "snssais")
        dnn = _one(query, "dnn")
        supi = _one(query, "supi")
        locality = _one(query, "preferred-locality")
        target_id = _one(query, "target-nf-instance-id")
        limit_s = _one(query, "limit")
        limit = None
        if limit_s is not None:
            if not limit_s.isdigit() or int(limit_s) < 1:
                raise HttpError(400, "INVALID_QUERY_PARAM", "limit must be a positive integer",
                                invalid_params=[{"param": "limit"}])
            limit = int(limit_s)
        supi_digits = None
        if supi is not None:
            m = re.fullmatch(r"imsi-(\d{5,15})", supi)
            supi_digits = m.group(1) if m else supi
        found: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        for nf_id, reg in self.nfs.items():
            p = reg.profile
            if p.get("nfType") != target or p.get("nfStatus") != "REGISTERED":
                continue
            if target_id and nf_id.lower() != target_id.lower():
                continue
            allowed = p.get("allowedNfTypes")
            if allowed and requester not in allowed:
                continue
            svcs = _services(p)
            if services:
                svcs = [s for s in svcs if s.get("serviceName") in services
                        and (not s.get("allowedNfTypes") or requester in s["allowedNfTypes"])]
                if not svcs:
                    continue
            if snssais and not _snssai_match(p, snssais):
                continue
            if dnn and not _dnn_match(p, dnn, snssais):
                continue
            if supi_digits is not None and not _supi_match(p, supi_digits):
                continue
            out = p
            if services:
                out = dict(p)
                if isinstance(p.get("nfServiceList"), dict):
                    out["nfServiceList"] = {k: v for k, v in p["nfServiceList"].items() if v in svcs}
                if p.get("nfServices"):
                    out["nfServices"] = svcs
            loc_rank = 0 if (locality and p.get("locality") == locality) else 1
            found.append(((loc_rank, int(p.get("priority", 0) or 0), -int(p.get("capacity", 0) or 0)), out))
        found.sort(key=lambda x: x[0])
        result = [p for _, p in found]
        return result[:limit] if limit is not None else result


def _date_time(seconds: float) -> str:
    """TS 29.571 DateTime (RFC 3339, UTC) ``seconds`` from now."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _granted_validity(hint: Any, default: float) -> float:
    """Seconds the NRF grants a subscription: the consumer's ``validityTime`` hint when it is
    sooner than ``default`` from now (TS 29.510 §6.1.6.2.16), else ``default``. A hint that is
    not a date-time, or lies in the past, is refused with 400."""
    if hint is None:
        return default
    bad = HttpError(400, "MANDATORY_IE_INCORRECT", "validityTime must be a future RFC 3339 date-time",
                    invalid_params=[{"param": "/validityTime"}])
    if not isinstance(hint, str):
        raise bad
    try:
        at = datetime.fromisoformat(hint)
    except ValueError:
        raise bad from None
    if at.tzinfo is None:
        raise bad  # RFC 3339 requires an offset; guessing the zone would shift the expiry
    left = (at - datetime.now(UTC)).total_seconds()
    if left <= 0:
        raise bad
    return min(left, default)


def _only_status(patch: Any) -> bool:
    return isinstance(patch, list) and all(isinstance(o, dict) and o.get("path") in ("/nfStatus", "/load") for o in patch)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")  # match() + \Z, not "$"


def _subscr_cond(raw: Any) -> dict[str, Any]:
    """The subscription condition (TS 29.510 §6.1.6.2.22 SubscrCond) this NRF supports:
    NfInstanceIdCond, NfInstanceIdListCond, NfTypeCond, ServiceNameCond; 400 otherwise."""
    if raw is None:
        return {}
    bad = HttpError(400, "MANDATORY_IE_INCORRECT",
                    "subscrCond: supported are nfInstanceId, nfInstanceIdList, nfType, serviceName",
                    invalid_params=[{"param": "/subscrCond"}])
    if not isinstance(raw, dict):
        raise bad
    keys = set(raw) - {"conditionType"}
    if len(keys) != 1:
        raise bad
    key = keys.pop()
    val = raw[key]
    ok = ((key == "nfInstanceId" and isinstance(val, str) and _UUID.match(val))
          or (key == "nfInstanceIdList" and isinstance(val, list) and val
              and all(isinstance(v, str) and _UUID.match(v) for v in val))
          or (key in ("nfType", "serviceName") and isinstance(val, str) and val))
    if not ok:
        raise bad
    out = {key: val}
    if isinstance(raw.get("conditionType"), str):
        out["conditionType"] = raw["conditionType"]
    return out


def _cond_matches(cond: dict[str, Any], nf_id: str, profile: dict[str, Any]) -> bool:
    if not cond:
        return True
    if "nfInstanceId" in cond:
        return str(cond["nfInstanceId"]).lower() == nf_id.lower()
    if "nfInstanceIdList" in cond:
        return nf_id.lower() in {str(i).lower() for i in cond["nfInstanceIdList"]}
    if "nfType" in cond:
        return cond["nfType"] == profile.get("nfType")
    if "serviceName" in cond:
        return any(s.get("serviceName") == cond["serviceName"] for s in _services(profile))
    return True


def _one(query: dict[str, list[str]], name: str) -> str | None:
    v = query.get(name)
    return v[0] if v else None


def _csv(values: list[str] | None) -> set[str]:
    out: set[str] = set()
    for v in values or []:
        out.update(x for x in v.split(",") if x)
    return out


def _json_list(query: dict[str, list[str]], name: str) -> list[dict[str, Any]]:
    """``snssais`` is a JSON array in one parameter (TS 29.510 Table 6.2.3.2.3.1-1)."""
    raw = query.get(name)
    if not raw:
        return []
    out: list[dict[str, Any]] = []
    for v in raw:
        try:
            data = json.loads(v)
        except ValueError:
            raise HttpError(400, "INVALID_QUERY_PARAM", f"{name} is not JSON",
                            invalid_params=[{"param": name}]) from None
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("sst"), int):
                raise HttpError(400, "INVALID_QUERY_PARAM", f"{name} entries need an integer sst",
                                invalid_params=[{"param": name}])
            out.append(item)
    return out


def _services(p: dict[str, Any]) -> list[dict[str, Any]]:
    lst = p.get("nfServiceList")
    if isinstance(lst, dict):
        return [s for s in lst.values() if isinstance(s, dict)]
    return [s for s in (p.get("nfServices") or []) if isinstance(s, dict)]


def _same_snssai(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("sst") == b.get("sst") and (a.get("sd") or "").lower() == (b.get("sd") or "").lower()


def _snssai_match(p: dict[str, Any], wanted: list[dict[str, Any]]) -> bool:
    offered: list[dict[str, Any]] = list(p.get("sNssais") or [])
    smf = p.get("smfInfo") or {}
    offered += [i.get("sNssai", {}) for i in smf.get("sNssaiSmfInfoList") or []]
    for s in _services(p):
        offered += s.get("sNssais") or []
    if not offered:
        return True  # no slice restriction advertised: serves every slice
    return any(_same_snssai(w, o) for w in wanted for o in offered)


def _dnn_match(p: dict[str, Any], dnn: str, snssais: list[dict[str, Any]] | None = None) -> bool:
    """TS 29.510 Table 6.2.3.2.3.1-1 ``dnn``: "Dnn supported by the BSF, SMF or UPF".

    An SMF matches through ``smfInfo.sNssaiSmfInfoList[].dnnSmfInfoList[].dnn``, a UPF through
    ``upfInfo.sNssaiUpfInfoList[].dnnUpfInfoList[].dnn`` (UpfInfo, §6.1.6.2.13); an SMF or UPF
    that advertises no such list serves no DNN it can be selected for. For a UPF the DNN must
    be offered in one of the queried ``snssais`` when they are given, since a UPF serves a DNN
    per slice (TS 23.501 §6.3.3.2). Other NF types are not restricted by ``dnn``.
    """
    nf_type = p.get("nfType")
    if nf_type == "UPF":
        return _upf_dnn_match(p.get("upfInfo"), dnn, snssais or [])
    smf = p.get("smfInfo")
    if not smf:
        return nf_type != "SMF"
    for item in smf.get("sNssaiSmfInfoList") or []:
        for d in item.get("dnnSmfInfoList") or []:
            if d.get("dnn") in (dnn, "*"):
                return True
    return False


def _upf_dnn_match(info: Any, dnn: str, snssais: list[dict[str, Any]]) -> bool:
    # the stored profile passed NFProfile validation, but the checks stay defensive: a
    # discovery must never raise on what some NF chose to register
    if not isinstance(info, dict):
        return False
    items = info.get("sNssaiUpfInfoList")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        slice_ = item.get("sNssai")
        if snssais and not (isinstance(slice_, dict) and any(_same_snssai(w, slice_) for w in snssais)):
            continue
        dnn_items = item.get("dnnUpfInfoList")
        for d in dnn_items if isinstance(dnn_items, list) else []:
            # "*" as the SMF side (nf/smf/upf_nrf.py) reads it: a UPF that serves any DNN
            if isinstance(d, dict) and isinstance(d.get("dnn"), str) and d["dnn"] in (dnn, "*"):
                return True
    return False


def _supi_match(p: dict[str, Any], digits: str) -> bool:
    ranges: list[dict[str, Any]] = []
    for key in ("udmInfo", "ausfInfo", "udrInfo", "pcfInfo", "chfInfo"):
        info = p.get(key)
        if isinstance(info, dict):
            ranges += info.get("supiRanges") or []
    if not ranges:
        return True
    for r in ranges:
        start, end, pattern = r.get("start"), r.get("end"), r.get("pattern")
        if pattern:
            try:
                if re.fullmatch(pattern, f"imsi-{digits}") or re.fullmatch(pattern, digits):
                    return True
            except re.error:
                continue
        elif start and end and len(start) == len(digits) == len(end) and start <= digits <= end:
            return True
    return False
