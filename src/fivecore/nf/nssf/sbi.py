"""Nnssf_NSSelection (TS 29.531 §5.2.2.2): network slice information for the AMF.

``GET /nnssf-nsselection/v2/network-slice-information`` with

- ``slice-info-request-for-registration`` (TS 29.531 §6.1.6.2.2): the allowed NSSAI is the
  requested S-NSSAIs (or, without a request, the default subscribed ones) that are both
  subscribed and served in the UE's tracking area; the others come back rejected.
- ``slice-info-request-for-pdu-session`` (§6.1.6.2.3): the NSI information (NRF to use) for
  the slice, or 403 ``SNSSAI_NOT_SUPPORTED``.
"""

from __future__ import annotations

import json
from typing import Any

from fivecore.config import NssfConfig
from fivecore.transport.http2 import HttpError, Request, Response, Router, json_response

API = "/nnssf-nsselection/v2"


def _key(s: dict[str, Any]) -> tuple[int, str | None]:
    sd = s.get("sd")
    return (int(s.get("sst", -1)), sd.lower() if isinstance(sd, str) else None)


def _snssai_ok(s: Any) -> bool:
    return isinstance(s, dict) and isinstance(s.get("sst"), int) and 0 <= s["sst"] <= 255 and (
        s.get("sd") is None or (isinstance(s["sd"], str) and len(s["sd"]) == 6))


def build_router(cfg: NssfConfig, nrf_uri: Any, stats: dict[str, int]) -> Router:
    r = Router("nssf")
    served = {(s.sst, s.sd.lower() if s.sd else None) for s in cfg.slices}

    def param(req: Request, name: str) -> Any:
        raw = req.q1(name)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise HttpError(400, "INVALID_QUERY_PARAM", f"{name} is not JSON",
                            invalid_params=[{"param": name}]) from None

    def selection(req: Request) -> Response:
        if not req.q1("nf-type") or not req.q1("nf-id"):
            raise HttpError(400, "MANDATORY_QUERY_PARAM_MISSING", "nf-type and nf-id are required",
                            invalid_params=[{"param": "nf-type"}, {"param": "nf-id"}])
        reg = param(req, "slice-info-request-for-registration")
        pdu = param(req, "slice-info-request-for-pdu-session")
        tai = param(req, "tai")
        if isinstance(tai, dict) and tai.get("tac") is not None:
            try:
                if int(str(tai["tac"]), 16) not in cfg.tacs:
                    stats["ta_not_served"] = stats.get("ta_not_served", 0) + 1
                    return json_response({"rejectedNssaiInTa": [
                        {"sst": s, **({"sd": d} if d else {})} for s, d in sorted(served, key=str)]})
            except ValueError:
                raise HttpError(400, "INVALID_QUERY_PARAM", "tai.tac is not hex",
                                invalid_params=[{"param": "tai"}]) from None
        if isinstance(pdu, dict):
            s = pdu.get("sNssai")
            if not _snssai_ok(s):
                raise HttpError(400, "INVALID_QUERY_PARAM", "sNssai missing or malformed",
                                invalid_params=[{"param": "slice-info-request-for-pdu-session"}])
            stats["pdu_session"] = stats.get("pdu_session", 0) + 1
            if _key(s) not in served:
                raise HttpError(403, "SNSSAI_NOT_SUPPORTED", "slice not served in this PLMN")
            nsi = {"nrfId": nrf_uri() or "", "nsiId": f"{s['sst']}" + (f"-{s['sd']}" if s.get("sd") else "")}
            return json_response({"nsiInformation": nsi})
        if isinstance(reg, dict):
            subscribed = [x.get("subscribedSnssai") for x in reg.get("subscribedNssai") or []
                          if isinstance(x, dict)]
            defaults = [x.get("subscribedSnssai") for x in reg.get("subscribedNssai") or []
                        if isinstance(x, dict) and x.get("defaultIndication")]
            requested = reg.get("requestedNssai") or []
            if not all(_snssai_ok(s) for s in [*subscribed, *requested]):
                raise HttpError(400, "INVALID_QUERY_PARAM", "malformed S-NSSAI",
                                invalid_params=[{"param": "slice-info-request-for-registration"}])
            subs = {_key(s) for s in subscribed}
            want = requested or defaults or subscribed
            allowed = [s for s in want if _key(s) in served and (not subs or _key(s) in subs)]
            rejected = [s for s in want if s not in allowed]
            stats["registration"] = stats.get("registration", 0) + 1
            out: dict[str, Any] = {}
            if allowed:
                out["allowedNssaiList"] = [{"allowedSnssaiList": [{"allowedSnssai": s} for s in allowed],
                                            "accessType": "3GPP_ACCESS"}]
            if rejected:
                out["rejectedNssaiInPlmn"] = rejected
            if not allowed:
                out.setdefault("rejectedNssaiInPlmn", want)
            return json_response(out)
        raise HttpError(400, "MANDATORY_QUERY_PARAM_MISSING",
                        "slice-info-request-for-registration or -for-pdu-session is required")

    r.add("GET", API + "/network-slice-information", selection)
    return r
