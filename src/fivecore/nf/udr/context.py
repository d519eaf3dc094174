"""UDR state: the subscriber store mapped onto TS 29.505 resources, plus change notification.

Sans-I/O except for the store calls: data-change notifications are returned as
``(callback uri, DataChangeNotify)`` pairs for the SBI layer to deliver.
"""

from __future__ import annotations

import uuid
from typing import Any

from fivecore.nf.common.jsonpatch import PatchError, PatchTestFailed, apply_patch
from fivecore.security.milenage import compute_opc
from fivecore.store import NotFound, StoreDatabaseError, StoreError, SubscriberStore, normalise_supi
from fivecore.transport.http2 import HttpError

Notification = tuple[str, dict[str, Any]]

SUBS_TO_NOTIFY = "subs-to-notify"
#: the effective-data sections each provisioned resource is built from
_SECTIONS_OF = {"am": ("am", "msisdn")}


def ue_id(raw: str) -> str:
    """The SUPI of a ``{ueId}`` path segment (VarUeId, TS 29.571); 400 if it is not an IMSI SUPI."""
    try:
        return normalise_supi(raw)
    except StoreError:
        raise HttpError(400, "MANDATORY_IE_INCORRECT", "ueId must be an IMSI-based SUPI (imsi-<digits>)",
                        invalid_params=[{"param": "ueId", "reason": "not imsi-<5..15 digits>"}]) from None


class UdrContext:
    """Reads and writes of subscription, policy and context data (TS 29.504/29.505/29.519)."""

    def __init__(self, store: SubscriberStore) -> None:
        self.store = store

    def _sub(self, supi: str) -> Any:
        try:
            return self.store.get(supi)
        except NotFound:
            raise HttpError(404, "USER_NOT_FOUND", "no such subscriber") from None

    def _known(self, supi: str) -> None:
        """404 USER_NOT_FOUND unless ``supi`` is provisioned (context data needs no profile read)."""
        if not self.store.exists(supi):
            raise HttpError(404, "USER_NOT_FOUND", "no such subscriber")

    # -- authentication data (TS 29.505 §5.2.2.2) ---------------------------------------------------
    def auth_subscription(self, supi: str) -> dict[str, Any]:
        sub = self._sub(supi)
        opc = sub.opc
        if opc is None:
            op = sub.op
            if op is None and sub.profile:
                prof_op = self.store.get_profile(sub.profile).get("op")
                op = bytes.fromhex(prof_op) if prof_op else None
            if op is None:
                raise HttpError(500, "SYSTEM_FAILURE", "subscriber has neither OPc nor OP")
            opc = compute_opc(sub.k, op)
        return {
            "authenticationMethod": sub.auth_method,
            "encPermanentKey": sub.k.hex(),
            "protectionParameterId": "none",
            "sequenceNumber": {"sqnScheme": "NON_TIME_BASED", "sqn": f"{sub.sqn:012x}",
                               "lastIndexes": {"ausf": 0}},
            "authenticationManagementField": sub.amf.hex(),
            "algorithmId": "milenage",
            "encOpcKey": opc.hex(),
            "supi": sub.supi,
        }

    def patch_auth_subscription(self, supi: str, patch: Any) -> None:
        """JSON Patch on the authentication subscription; only the SQN may change.

        A ``test`` of ``/sequenceNumber/sqn`` followed by a ``replace`` is executed as one
        compare-and-swap in the store, so concurrent UDMs never hand out the same SQN; a failed
        test is 409 Conflict (the UDM re-reads and retries).
        """
        if not isinstance(patch, list) or not patch:
            raise HttpError(400, "INVALID_MSG_FORMAT", "body must be a non-empty JSON Patch array")
        if len(patch) == 2:
            # What every UDM sends (test, then replace, of /sequenceNumber/sqn): the swap
            # needs no patch document; anything else takes the general path below.
            t, r = patch
            if (isinstance(t, dict) and isinstance(r, dict) and t.get("op") == "test"
                    and r.get("op") == "replace" and t.get("path") == r.get("path") == "/sequenceNumber/sqn"
                    and len(t) == len(r) == 3 and _is_sqn(t.get("value")) and _is_sqn(r.get("value"))):
                self._swap(supi, int(t["value"], 16), int(r["value"], 16))
                return
        expected = None
        for op in patch:
            if not isinstance(op, dict) or not str(op.get("path", "")).startswith("/sequenceNumber"):
                raise HttpError(403, "MODIFICATION_NOT_ALLOWED", "only /sequenceNumber may be patched")
            if op.get("op") == "test" and op.get("path") == "/sequenceNumber/sqn":
                expected = op.get("value")
        current = {"sequenceNumber": {"sqnScheme": "NON_TIME_BASED", "sqn": "000000000000", "lastIndexes": {"ausf": 0}}}
        try:
            new = apply_patch(current, [o for o in patch if o.get("op") != "test"])
        except PatchError as exc:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", str(exc)) from None
        try:
            new_sqn = int(str(new["sequenceNumber"]["sqn"]), 16)
        except (KeyError, TypeError, ValueError):
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "sequenceNumber.sqn must be 12 hex digits") from None
        if expected is not None:
            try:
                old = int(str(expected), 16)
            except ValueError:
                raise HttpError(400, "MANDATORY_IE_INCORRECT", "test value must be 12 hex digits") from None
            self._swap(supi, old, new_sqn)
            return
        try:
            self.store.set_sqn(supi, new_sqn)
        except NotFound:
            raise HttpError(404, "USER_NOT_FOUND", "no such subscriber") from None
        except StoreDatabaseError:
            raise  # the database failed, not the request: the router's 500 and a log line
        except StoreError as exc:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", str(exc)) from None

    def _swap(self, supi: str, old: int, new: int) -> None:
        """The SQN compare-and-swap; 409 when another UDM took ``old`` first."""
        try:
            ok = self.store.cas_sqn(supi, old, new)
        except NotFound:
            raise HttpError(404, "USER_NOT_FOUND", "no such subscriber") from None
        except StoreDatabaseError:
            raise  # the database failed, not the request: the router's 500 and a log line
        except StoreError as exc:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", str(exc)) from None
        if not ok:
            raise HttpError(409, "MODIFICATION_NOT_ALLOWED", "sequence number changed meanwhile")

    # -- provisioned data (TS 29.505 §5.2.?) ----------------------------------------------------------
    def provisioned(self, supi: str, section: str) -> Any:
        try:
            data = self.store.sections(supi, _SECTIONS_OF.get(section, (section,)))
        except NotFound:
            raise HttpError(404, "USER_NOT_FOUND", "no such subscriber") from None
        value = data.get(section)
        if section == "am":
            am = dict(value or {})
            if data.get("msisdn"):
                am.setdefault("gpsis", [f"msisdn-{data['msisdn']}"])
            if not am.get("gpsis"):
                am.pop("gpsis", None)
            return am
        if section == "sm":
            return list(value or [])
        return value or {}

    # -- context data (TS 29.505 §5.2.?) --------------------------------------------------------------
    def put_context(self, supi: str, kind: str, key: str, data: dict[str, Any] | None, *,
                    text: str | None = None) -> bool:
        """Store a context document of a provisioned UE (``text``: the same as JSON, when the
        caller has it already); True when it was created."""
        try:
            return self.store.put_context(supi, kind, key, data, subscriber=True, text=text)
        except NotFound:
            raise HttpError(404, "USER_NOT_FOUND", "no such subscriber") from None

    def find_context(self, supi: str, kind: str, key: str = "") -> dict[str, Any] | None:
        """The context document, None if there is none; 404 USER_NOT_FOUND for an unknown UE."""
        try:
            return self.store.get_context(supi, kind, key, subscriber=True)
        except NotFound:
            raise HttpError(404, "USER_NOT_FOUND", "no such subscriber") from None

    def get_context(self, supi: str, kind: str, key: str = "") -> dict[str, Any]:
        data = self.find_context(supi, kind, key)
        if data is None:
            raise HttpError(404, "CONTEXT_NOT_FOUND", f"no {kind} data")
        return data

    def patch_context(self, supi: str, kind: str, key: str, patch: Any) -> dict[str, Any]:
        data = self.get_context(supi, kind, key)
        try:
            new = apply_patch(data, patch)
        except PatchTestFailed as exc:
            raise HttpError(409, "MODIFICATION_NOT_ALLOWED", str(exc)) from None
        except PatchError as exc:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", str(exc)) from None
        self.store.put_context(supi, kind, key, new)
        return new

    def delete_context(self, supi: str, kind: str, key: str = "") -> None:
        self._known(supi)
        if not self.store.delete_context(supi, kind, key):
            raise HttpError(404, "CONTEXT_NOT_FOUND", f"no {kind} data")

    def list_context(self, supi: str, kind: str) -> dict[str, dict[str, Any]]:
        self._known(supi)
        return self.store.list_context(supi, kind)

    # -- data-change subscriptions (TS 29.505 subs-to-notify) --------------------------------------
    def subscribe(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        sid = uuid.uuid4().hex
        data = {**body, "subscriptionId": sid}
        self.store.put_context("*", SUBS_TO_NOTIFY, sid, data)
        return sid, data

    def unsubscribe(self, sid: str) -> None:
        if not self.store.delete_context("*", SUBS_TO_NOTIFY, sid):
            raise HttpError(404, "SUBSCRIPTION_NOT_FOUND", f"no subscription {sid}")

    def changed(self, supi: str, sections: list[str], plmn: str) -> list[Notification]:
        """DataChangeNotify (TS 29.505) for every subs-to-notify watching ``supi``'s changed data."""
        paths = {"am": "am-data", "sm": "sm-data", "smf_selection": "smf-selection-subscription-data"}
        out: list[Notification] = []
        subs = self.store.list_context("*", SUBS_TO_NOTIFY)
        for sub in subs.values():
            if sub.get("ueId") not in (None, supi):
                continue
            items = []
            for sec in sections:
                if sec not in paths:
                    continue
                rid = f"/subscription-data/{supi}/{plmn}/provisioned-data/{paths[sec]}"
                monitored = sub.get("monitoredResourceUris") or []
                if monitored and not any(_covers(m, rid) for m in monitored):
                    continue
                new = self.provisioned(supi, sec)
                items.append({"resourceId": rid, "changes": [{"op": "REPLACE", "path": "", "newValue": new}]})
            if items:
                out.append((sub["callbackReference"], {"ueId": supi, "notifyItems": items,
                                                       "originalCallbackReference": [sub["callbackReference"]]}))
        return out


def _is_sqn(v: Any) -> bool:
    """12 hex digits (TS 29.505 SequenceNumber.sqn)."""
    return isinstance(v, str) and len(v) == 12 and all(c in _HEX for c in v)


_HEX = frozenset("0123456789abcdefABCDEF")


def _covers(monitored: str, rid: str) -> bool:
    """Does a monitored resource URI (absolute or relative, a prefix or the leaf) cover ``rid``?"""
    path = "/" + monitored.split("://", 1)[1].split("/", 1)[1] if "://" in monitored else monitored
    path = path.removeprefix("/nudr-dr/v2").rstrip("/")
    return rid.startswith(path) or path.endswith(rid) or path.rsplit("/", 1)[-1] == rid.rsplit("/", 1)[-1]
