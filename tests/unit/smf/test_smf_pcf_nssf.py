"""PCF SM policy decisions (TS 29.512) and NSSF slice selection (TS 29.531) through their
routers, in process (no sockets)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fivecore.config import load_config
from fivecore.nf.nssf.sbi import build_router as nssf_router
from fivecore.nf.pcf.sbi import PcfContext, decide
from fivecore.nf.pcf.sbi import build_router as pcf_router
from fivecore.transport.http2 import Request


def _ctx(**kw: object) -> dict:
    base = {"supi": "imsi-001010000000001", "pduSessionId": 1, "pduSessionType": "IPV4", "dnn": "internet",
            "notificationUri": "http://127.0.0.4:7777/cb", "sliceInfo": {"sst": 1},
            "subsSessAmbr": {"uplink": "100 Mbps", "downlink": "200 Mbps"},
            "subsDefQos": {"5qi": 9, "arp": {"priorityLevel": 8}}}
    base.update(kw)
    return base


def test_decision_follows_subscription_then_operator_policy() -> None:
    cfg = load_config({}).pcf
    rule = decide(cfg, _ctx())["sessRules"]["sessrule-1"]
    assert rule["authSessAmbr"] == {"uplink": "100 Mbps", "downlink": "200 Mbps"}
    assert rule["authDefQos"]["5qi"] == 9
    cfg = load_config({"pcf": {"policies": [{"dnn": "internet", "session_ambr_ul": "10 Mbps",
                                             "session_ambr_dl": "10 Mbps", "default_5qi": 7}]}}).pcf
    rule = decide(cfg, _ctx())["sessRules"]["sessrule-1"]
    assert rule["authSessAmbr"] == {"uplink": "10 Mbps", "downlink": "10 Mbps"}
    assert rule["authDefQos"]["5qi"] == 7
    rule = decide(cfg, _ctx(dnn="ims", subsSessAmbr={"uplink": "junk"}))["sessRules"]["sessrule-1"]
    assert rule["authSessAmbr"]["uplink"] == cfg.default_session_ambr_ul


async def test_sm_policy_lifecycle_over_the_router() -> None:
    cfg = load_config({}).pcf
    ctx = PcfContext()
    r = pcf_router(cfg, ctx, lambda: "http://pcf")
    rsp = await r.dispatch(Request("POST", "/npcf-smpolicycontrol/v1/sm-policies", body=json.dumps(_ctx()).encode()))
    assert rsp.status == 201 and rsp.headers["location"].startswith("http://pcf/npcf-smpolicycontrol/v1/sm-policies/")
    pid = rsp.headers["location"].rsplit("/", 1)[-1]
    rsp = await r.dispatch(Request("POST", f"/npcf-smpolicycontrol/v1/sm-policies/{pid}/delete", body=b"{}"))
    assert rsp.status == 204 and not ctx.sm
    rsp = await r.dispatch(Request("POST", "/npcf-smpolicycontrol/v1/sm-policies", body=b'{"supi": "x"}'))
    assert rsp.status == 400 and json.loads(rsp.body)["cause"] == "MANDATORY_IE_MISSING"
    rsp = await r.dispatch(Request("POST", "/npcf-smpolicycontrol/v1/sm-policies", body=b"{not json"))
    assert rsp.status == 400


async def test_nssf_registration_and_pdu_session() -> None:
    cfg = load_config({"nssf": {"slices": [{"sst": 1}, {"sst": 2, "sd": "000001"}]}}).nssf
    r = nssf_router(cfg, lambda: "http://nrf", {})
    path = "/nnssf-nsselection/v2/network-slice-information"

    async def get(**q: object) -> tuple[int, dict]:
        qs = urlencode({"nf-type": "AMF", "nf-id": "x",
                        **{k.replace("_", "-"): json.dumps(v) for k, v in q.items()}})
        rsp = await r.dispatch(Request("GET", path, qs))
        return rsp.status, rsp.json()

    st, body = await get(slice_info_request_for_registration={
        "subscribedNssai": [{"subscribedSnssai": {"sst": 1}, "defaultIndication": True},
                            {"subscribedSnssai": {"sst": 3}}],
        "requestedNssai": [{"sst": 1}, {"sst": 3}]})
    assert st == 200
    assert body["allowedNssaiList"][0]["allowedSnssaiList"] == [{"allowedSnssai": {"sst": 1}}]
    assert body["rejectedNssaiInPlmn"] == [{"sst": 3}]
    st, body = await get(slice_info_request_for_pdu_session={"sNssai": {"sst": 2, "sd": "000001"},
                                                             "roamingIndication": "NON_ROAMING"})
    assert st == 200 and body["nsiInformation"]["nrfId"] == "http://nrf"
    st, body = await get(slice_info_request_for_pdu_session={"sNssai": {"sst": 9}, "roamingIndication": "NON_ROAMING"})
    assert st == 403 and body["cause"] == "SNSSAI_NOT_SUPPORTED"
    rsp = await r.dispatch(Request("GET", path, "nf-type=AMF&nf-id=x&slice-info-request-for-pdu-session=%7Bbad"))
    assert rsp.status == 400
