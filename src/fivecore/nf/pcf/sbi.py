"""Npcf_SMPolicyControl (TS 29.512) and Npcf_AMPolicyControl (TS 29.507, minimal).

SM policy (TS 29.512 §4.2.2): the SMF sends the subscribed Session-AMBR and default QoS
(``subsSessAmbr``, ``subsDefQos`` from the UDM); the PCF answers an SmPolicyDecision with one
session rule whose ``authSessAmbr``/``authDefQos`` are the operator's policy for the DNN when
one is configured, otherwise the subscribed values, otherwise the PCF defaults.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fivecore import rng
from fivecore.config import PcfConfig
from fivecore.transport.http2 import HttpError, Request, Response, Router, json_response

SM = "/npcf-smpolicycontrol/v1"
AM = "/npcf-am-policy-control/v1"


class PcfContext:
    """SM and AM policy associations of one PCF."""

    def __init__(self) -> None:
        self.sm: dict[str, dict[str, Any]] = {}
        self.am: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, int] = {}

    def count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1


def _bitrate_ok(v: Any) -> bool:
    """A BitRate (TS 29.571 §5.5.2): ``<number> <bps|Kbps|Mbps|Gbps|Tbps>``."""
    return isinstance(v, str) and _bitrate_text_ok(v)


@lru_cache(maxsize=256)
def _bitrate_text_ok(v: str) -> bool:
    # a handful of distinct values (the subscribed AMBRs) arrive over and over
    parts = v.split()
    if len(parts) != 2 or parts[1] not in ("bps", "Kbps", "Mbps", "Gbps", "Tbps"):
        return False
    try:
        return float(parts[0]) >= 0
    except ValueError:
        return False


def decide(cfg: PcfConfig, ctx_data: dict[str, Any]) -> dict[str, Any]:
    """TS 29.512 §4.2.2.2 / TS 29.513: the SmPolicyDecision for a new SM policy association."""
    dnn = ctx_data.get("dnn")
    pol = next((p for p in cfg.policies if p.dnn == dnn), None)
    subs_ambr = ctx_data.get("subsSessAmbr") or {}
    subs_qos = ctx_data.get("subsDefQos") or {}
    ul = (pol.session_ambr_ul if pol and pol.session_ambr_ul else None) or \
        (subs_ambr.get("uplink") if _bitrate_ok(subs_ambr.get("uplink")) else None) or cfg.default_session_ambr_ul
    dl = (pol.session_ambr_dl if pol and pol.session_ambr_dl else None) or \
        (subs_ambr.get("downlink") if _bitrate_ok(subs_ambr.get("downlink")) else None) or cfg.default_session_ambr_dl
    five_qi = (pol.default_5qi if pol and pol.default_5qi else None) or subs_qos.get("5qi") or cfg.default_5qi
    arp_in = subs_qos.get("arp") or {}
    prio = (pol.arp_priority if pol and pol.arp_priority else None) or arp_in.get("priorityLevel") \
        or cfg.default_arp_priority
    rule = {
        "sessRuleId": "sessrule-1",
        "authSessAmbr": {"uplink": ul, "downlink": dl},
        "authDefQos": {
            "5qi": int(five_qi),
            "arp": {"priorityLevel": int(prio),
                    "preemptCap": arp_in.get("preemptCap", "NOT_PREEMPT"),
                    "preemptVuln": arp_in.get("preemptVuln", "NOT_PREEMPTABLE")},
            "priorityLevel": 1,
        },
    }
    return {"sessRules": {"sessrule-1": rule}, "policyCtrlReqTriggers": ["PLMN_CH", "RES_MO_RE"]}


def build_router(cfg: PcfConfig, ctx: PcfContext, self_uri: Any) -> Router:
    r = Router("pcf")

    def sm_create(req: Request) -> Response:
        """TS 29.512 §4.2.2.2: create an SM policy association."""
        data = req.json()
        if not isinstance(data, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "SmPolicyContextData must be an object")
        missing = [k for k in ("supi", "pduSessionId", "pduSessionType", "dnn", "notificationUri", "sliceInfo")
                   if k not in data]
        if missing:
            raise HttpError(400, "MANDATORY_IE_MISSING", f"missing {', '.join(missing)}",
                            invalid_params=[{"param": "/" + m} for m in missing])
        if not isinstance(data["pduSessionId"], int) or not 0 <= data["pduSessionId"] <= 255:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "pduSessionId out of range",
                            invalid_params=[{"param": "/pduSessionId"}])
        decision = decide(cfg, data)
        pid = rng.token_hex(8)
        ctx.sm[pid] = {"context": data, "policy": decision}
        ctx.count("sm_policy_create")
        return json_response(decision, 201, {"location": f"{self_uri()}{SM}/sm-policies/{pid}"})

    def _sm(req: Request) -> dict[str, Any]:
        pol = ctx.sm.get(req.path_params["smPolicyId"])
        if pol is None:
            raise HttpError(404, "POLICY_CONTEXT_DENIED", "no such SM policy association")
        return pol

    def sm_get(req: Request) -> Response:
        return json_response(_sm(req))

    def sm_update(req: Request) -> Response:
        """TS 29.512 §4.2.4.2: the SMF reports a trigger; the decision is recomputed."""
        pol = _sm(req)
        data = req.json()
        if isinstance(data, dict):
            for k in ("subsSessAmbr", "subsDefQos", "ipv4Address"):
                if k in data:
                    pol["context"][k] = data[k]
        pol["policy"] = decide(cfg, pol["context"])
        ctx.count("sm_policy_update")
        return json_response(pol["policy"])

    def sm_delete(req: Request) -> Response:
        """TS 29.512 §4.2.5.2: delete the association."""
        if ctx.sm.pop(req.path_params["smPolicyId"], None) is None:
            raise HttpError(404, "POLICY_CONTEXT_DENIED", "no such SM policy association")
        ctx.count("sm_policy_delete")
        return Response(204)

    def am_create(req: Request) -> Response:
        """TS 29.507 §4.2.2.2: AM policy association; the PCF hands back the RFSP index."""
        data = req.json()
        if not isinstance(data, dict) or "supi" not in data or "notificationUri" not in data:
            raise HttpError(400, "MANDATORY_IE_MISSING", "supi and notificationUri are required")
        pid = rng.token_hex(8)
        assoc = {"request": data, "rfsp": cfg.rfsp_index, "suppFeat": data.get("suppFeat", "")}
        ctx.am[pid] = assoc
        ctx.count("am_policy_create")
        return json_response(assoc, 201, {"location": f"{self_uri()}{AM}/policies/{pid}"})

    def _am(req: Request) -> dict[str, Any]:
        a = ctx.am.get(req.path_params["polAssoId"])
        if a is None:
            raise HttpError(404, "POLICY_ASSOCIATION_NOT_FOUND", "no such AM policy association")
        return a

    def am_get(req: Request) -> Response:
        return json_response(_am(req))

    def am_update(req: Request) -> Response:
        a = _am(req)
        return json_response({"rfsp": a["rfsp"]})

    def am_delete(req: Request) -> Response:
        if ctx.am.pop(req.path_params["polAssoId"], None) is None:
            raise HttpError(404, "POLICY_ASSOCIATION_NOT_FOUND", "no such AM policy association")
        return Response(204)

    r.add("POST", SM + "/sm-policies", sm_create)
    r.add("GET", SM + "/sm-policies/{smPolicyId}", sm_get)
    r.add("POST", SM + "/sm-policies/{smPolicyId}/update", sm_update)
    r.add("POST", SM + "/sm-policies/{smPolicyId}/delete", sm_delete)
    r.add("POST", AM + "/policies", am_create)
    r.add("GET", AM + "/policies/{polAssoId}", am_get)
    r.add("POST", AM + "/policies/{polAssoId}/update", am_update)
    r.add("DELETE", AM + "/policies/{polAssoId}", am_delete)
    return r
