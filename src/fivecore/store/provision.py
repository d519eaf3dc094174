"""Turning operator input (CLI flags, CSV rows, YAML/JSON documents, REST bodies) into
:class:`Subscriber` records. One parser for every front end, so they accept the same fields:

``imsi`` or ``supi`` (required), ``k`` (required), ``opc`` or ``op`` (one required unless the
profile has ``op``), ``amf`` (4 hex), ``sqn`` (hex or int), ``auth_method`` (``5G_AKA`` or
``EAP_AKA_PRIME``), ``profile`` (template name, default ``default``), ``msisdn``, and whole
data sections ``am``, ``sm``, ``smf_selection``, ``policy`` overriding the profile's.
"""

from __future__ import annotations

from typing import Any

from .models import Subscriber
from .repository import StoreError, normalise_supi

FIELDS = {"imsi", "supi", "k", "opc", "op", "amf", "sqn", "auth_method", "profile", "msisdn",
          "am", "sm", "smf_selection", "policy"}
AUTH_METHODS = ("5G_AKA", "EAP_AKA_PRIME")


def _hexbytes(name: str, v: Any, n: int) -> bytes | None:
    if v is None or v == "":
        return None
    s = str(v).strip().lower()
    if len(s) != 2 * n:
        raise StoreError(f"{name} must be {n} bytes ({2 * n} hex digits)")
    try:
        return bytes.fromhex(s)
    except ValueError:
        raise StoreError(f"{name} is not hex") from None


def subscriber_from_dict(d: dict[str, Any], defaults: dict[str, Any] | None = None) -> Subscriber:
    """Validate one subscriber description; StoreError names the bad field."""
    if not isinstance(d, dict):
        raise StoreError("a subscriber must be a mapping")
    merged = {**(defaults or {}), **{k: v for k, v in d.items() if v is not None and v != ""}}
    unknown = set(merged) - FIELDS
    if unknown:
        raise StoreError(f"unknown field(s): {', '.join(sorted(unknown))}")
    ident = merged.get("supi") or merged.get("imsi")
    if not ident:
        raise StoreError("imsi is required")
    supi = normalise_supi(str(ident))
    k = _hexbytes("k", merged.get("k"), 16)
    if k is None:
        raise StoreError(f"{supi}: k is required")
    amf = _hexbytes("amf", merged.get("amf", "8000"), 2) or b"\x80\x00"
    sqn_raw = merged.get("sqn", 0)
    try:
        sqn = int(sqn_raw, 16) if isinstance(sqn_raw, str) else int(sqn_raw)
    except (TypeError, ValueError):
        raise StoreError(f"{supi}: sqn must be hex or an integer") from None
    if not 0 <= sqn < (1 << 48):
        raise StoreError(f"{supi}: sqn must fit 48 bits")
    method = str(merged.get("auth_method", "5G_AKA")).upper().replace("EAP-AKA'", "EAP_AKA_PRIME")
    if method not in AUTH_METHODS:
        raise StoreError(f"{supi}: auth_method must be one of {', '.join(AUTH_METHODS)}")
    data = {sec: merged[sec] for sec in ("am", "sm", "smf_selection", "policy", "msisdn") if sec in merged}
    if "msisdn" in data:
        data["msisdn"] = str(data["msisdn"])
        if not data["msisdn"].isdigit():
            raise StoreError(f"{supi}: msisdn must be digits")
    return Subscriber(
        supi=supi,
        k=k,
        opc=_hexbytes("opc", merged.get("opc"), 16),
        op=_hexbytes("op", merged.get("op"), 16),
        amf=amf,
        sqn=sqn,
        auth_method=method,
        profile=str(merged.get("profile") or "default"),
        data=data,
    )


def changes_from_dict(d: dict[str, Any]) -> dict[str, Any]:
    """Fields of an update (k, opc, op, amf, sqn, auth_method, profile, data sections)."""
    if not isinstance(d, dict):
        raise StoreError("an update must be a mapping")
    out: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for key, v in d.items():
        if key in ("k", "opc", "op"):
            out[key] = _hexbytes(key, v, 16)
        elif key == "amf":
            out[key] = _hexbytes(key, v, 2)
        elif key == "sqn":
            try:
                out[key] = int(v, 16) if isinstance(v, str) else int(v)
            except (TypeError, ValueError):
                raise StoreError("sqn must be hex or an integer") from None
        elif key == "auth_method":
            if v not in AUTH_METHODS:
                raise StoreError(f"auth_method must be one of {', '.join(AUTH_METHODS)}")
            out[key] = v
        elif key == "profile":
            out[key] = str(v)
        elif key in ("am", "sm", "smf_selection", "policy", "msisdn"):
            data[key] = v
        else:
            raise StoreError(f"unknown field {key!r}")
    if data:
        out["data"] = data
    return out
