"""NRF logic without I/O: registration, discovery filtering, heartbeat expiry (fake clock),
status notifications, the vendor-policy admission hook."""

from __future__ import annotations

import json
import uuid

import pytest

from fivecore.nf.nrf.context import NrfContext
from fivecore.transport.http2 import HttpError


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def profile(nf_type: str, **kw) -> dict:
    nid = kw.pop("nid", str(uuid.uuid4()))
    svc = kw.pop("service", {"AUSF": "nausf-auth", "UDM": "nudm-ueau", "SMF": "nsmf-pdusession", "UDR": "nudr-dr"}[nf_type])
    p = {"nfInstanceId": nid, "nfType": nf_type, "nfStatus": "REGISTERED", "ipv4Addresses": ["127.0.0.1"],
         "nfServiceList": {"s1": {"serviceInstanceId": "s1", "serviceName": svc, "versions": [{"apiVersionInUri": "v1", "apiFullVersion": "1.0.0"}],
                                  "scheme": "http", "nfServiceStatus": "REGISTERED",
                                  "ipEndPoints": [{"ipv4Address": "127.0.0.1", "port": 7777}]}}}
    p.update(kw)
    return p


def q(**kw) -> dict[str, list[str]]:
    return {k.replace("_", "-"): [v] for k, v in kw.items()}


def ids(result: list[dict]) -> list[str]:
    return [p["nfInstanceId"] for p in result]


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def nrf(clock: Clock) -> NrfContext:
    return NrfContext(heartbeat_timer=10, clock=clock, nrf_uri="http://nrf")


def reg(nrf: NrfContext, p: dict) -> str:
    created, stored, _ = nrf.register(p["nfInstanceId"], p)
    assert created and stored["heartBeatTimer"] == p.get("heartBeatTimer", 10)
    return p["nfInstanceId"]


def test_discovery_by_type_requester_and_service(nrf):
    a = reg(nrf, profile("AUSF", allowedNfTypes=["AMF"]))
    u = reg(nrf, profile("UDM"))
    assert ids(nrf.discover(q(target_nf_type="AUSF", requester_nf_type="AMF"))) == [a]
    assert ids(nrf.discover(q(target_nf_type="AUSF", requester_nf_type="SMF"))) == []
    assert ids(nrf.discover(q(target_nf_type="UDM", requester_nf_type="AUSF", service_names="nudm-ueau,nudm-sdm"))) == [u]
    assert ids(nrf.discover(q(target_nf_type="UDM", requester_nf_type="AUSF", service_names="nudm-uecm"))) == []
    with pytest.raises(HttpError) as e:
        nrf.discover(q(target_nf_type="UDM"))
    assert e.value.status == 400 and e.value.cause == "MANDATORY_QUERY_PARAM_MISSING"


def test_discovery_by_snssai_dnn_supi_and_locality(nrf):
    smf1 = reg(nrf, profile("SMF", smfInfo={"sNssaiSmfInfoList": [{"sNssai": {"sst": 1}, "dnnSmfInfoList": [{"dnn": "internet"}]}]}))
    smf2 = reg(nrf, profile("SMF", smfInfo={"sNssaiSmfInfoList": [{"sNssai": {"sst": 2, "sd": "000001"}, "dnnSmfInfoList": [{"dnn": "ims"}]}]}))
    base = {"target-nf-type": ["SMF"], "requester-nf-type": ["AMF"]}
    assert ids(nrf.discover({**base, "snssais": [json.dumps([{"sst": 1}])]})) == [smf1]
    assert ids(nrf.discover({**base, "snssais": [json.dumps([{"sst": 2, "sd": "000001"}])]})) == [smf2]
    assert ids(nrf.discover({**base, "dnn": ["ims"]})) == [smf2]
    with pytest.raises(HttpError) as e:
        nrf.discover({**base, "snssais": ["{not json"]})
    assert e.value.status == 400
    u1 = reg(nrf, profile("UDM", udmInfo={"supiRanges": [{"start": "001010000000000", "end": "001010000009999"}]}, locality="east"))
    u2 = reg(nrf, profile("UDM", udmInfo={"supiRanges": [{"pattern": "^imsi-00102[0-9]+$"}]}, locality="west"))
    u3 = reg(nrf, profile("UDM", locality="west", priority=5))
    udm = {"target-nf-type": ["UDM"], "requester-nf-type": ["AUSF"]}
    assert set(ids(nrf.discover({**udm, "supi": ["imsi-001010000000042"]}))) == {u1, u3}
    assert set(ids(nrf.discover({**udm, "supi": ["imsi-001020000000042"]}))) == {u2, u3}
    assert set(ids(nrf.discover({**udm, "supi": ["imsi-001019999999999"]}))) == {u3}
    # preferred-locality sorts first, then priority
    assert ids(nrf.discover({**udm, "preferred-locality": ["west"]}))[:2] == [u2, u3]
    assert ids(nrf.discover({**udm, "preferred-locality": ["east"]}))[0] == u1
    assert len(nrf.discover({**udm, "limit": ["2"]})) == 2


def test_discovery_cache_follows_registry(nrf):
    body1 = nrf.discover_bytes("target-nf-type=AUSF&requester-nf-type=AMF", q(target_nf_type="AUSF", requester_nf_type="AMF"))
    assert json.loads(body1)["nfInstances"] == []
    a = reg(nrf, profile("AUSF"))
    body2 = nrf.discover_bytes("target-nf-type=AUSF&requester-nf-type=AMF", q(target_nf_type="AUSF", requester_nf_type="AMF"))
    assert ids(json.loads(body2)["nfInstances"]) == [a]
    nrf.deregister(a)
    body3 = nrf.discover_bytes("target-nf-type=AUSF&requester-nf-type=AMF", q(target_nf_type="AUSF", requester_nf_type="AMF"))
    assert json.loads(body3)["nfInstances"] == []


def test_heartbeat_expiry_with_fake_clock(nrf, clock):
    a = reg(nrf, profile("AUSF", heartBeatTimer=10))
    sid, _ = nrf.subscribe({"nfStatusNotificationUri": "http://amf/cb", "subscrCond": {"nfType": "AUSF"}})
    disc = q(target_nf_type="AUSF", requester_nf_type="AMF")
    clock.t += 12
    assert nrf.update(a, [{"op": "replace", "path": "/nfStatus", "value": "REGISTERED"}]) == (None, [])
    clock.t += 14  # 14 s since the last heartbeat: within 1.5 x 10
    assert nrf.expire() == [] and ids(nrf.discover(disc)) == [a]
    clock.t += 2  # 16 s: silent too long -> SUSPENDED, subscribers told
    notes = nrf.expire()
    assert [(u, n["event"]) for u, n in notes] == [("http://amf/cb", "NF_PROFILE_CHANGED")]
    assert notes[0][1]["nfProfile"]["nfStatus"] == "SUSPENDED"
    assert nrf.discover(disc) == []
    # a heartbeat brings it back (204 for the NF, a notification for subscribers)
    profile_, notes = nrf.update(a, [{"op": "replace", "path": "/nfStatus", "value": "REGISTERED"}])
    assert profile_ is None and notes[0][1]["nfProfile"]["nfStatus"] == "REGISTERED"
    assert ids(nrf.discover(disc)) == [a]
    clock.t += 101
    notes = nrf.expire()
    assert [n["event"] for _, n in notes] == ["NF_DEREGISTERED"] and a not in nrf.nfs
    nrf.unsubscribe(sid)
    for bad in ({"nfType": 5}, {"nfType": "AMF", "serviceName": "x"}, {"nefId": "x"}, [1], {"nfInstanceId": "nope"}):
        with pytest.raises(HttpError) as e:
            nrf.subscribe({"nfStatusNotificationUri": "http://amf/cb", "subscrCond": bad})
        assert e.value.status == 400


def test_register_update_deregister_and_notifications(nrf):
    sid, sub = nrf.subscribe({"nfStatusNotificationUri": "http://smf/cb", "reqNotifEvents": ["NF_REGISTERED", "NF_DEREGISTERED"]})
    assert sub["subscriptionId"] == sid
    p = profile("UDM")
    created, _, notes = nrf.register(p["nfInstanceId"], p)
    assert created and notes[0][1]["event"] == "NF_REGISTERED" and notes[0][1]["nfInstanceUri"].endswith(p["nfInstanceId"])
    created, _, notes = nrf.register(p["nfInstanceId"], {**p, "priority": 3})
    assert not created and notes == []  # NF_PROFILE_CHANGED not requested
    new, _ = nrf.update(p["nfInstanceId"], [{"op": "add", "path": "/locality", "value": "east"}])
    assert new is not None and new["locality"] == "east"
    # a heartbeat carrying the load is still a heartbeat (TS 29.510 §5.2.2.3.2): 204
    new, _ = nrf.update(p["nfInstanceId"], [{"op": "add", "path": "/load", "value": 50}])
    assert new is None and nrf.get(p["nfInstanceId"])["load"] == 50
    with pytest.raises(HttpError) as e:
        nrf.update(p["nfInstanceId"], [{"op": "replace", "path": "/nfInstanceId", "value": str(uuid.uuid4())}])
    assert e.value.status == 400
    with pytest.raises(HttpError) as e:
        nrf.update(p["nfInstanceId"], [{"op": "replace", "path": "/heartBeatTimer", "value": "x"}])
    assert e.value.status == 400
    with pytest.raises(HttpError) as e:
        nrf.register(str(uuid.uuid4()), p)
    assert e.value.status == 400
    notes = nrf.deregister(p["nfInstanceId"])
    assert notes[0][1]["event"] == "NF_DEREGISTERED"
    with pytest.raises(HttpError) as e:
        nrf.deregister(p["nfInstanceId"])
    assert e.value.status == 404


def test_profile_validation(nrf):
    p = profile("AUSF")
    del p["ipv4Addresses"]
    with pytest.raises(HttpError) as e:
        nrf.register(p["nfInstanceId"], p)
    assert e.value.status == 400
    p = profile("AUSF", vendorId="12345")
    with pytest.raises(HttpError) as e:
        nrf.register(p["nfInstanceId"], p)
    assert e.value.status == 400 and e.value.cause == "MANDATORY_IE_INCORRECT"


def test_admission_hook_sees_vendor_id(clock):
    seen = []

    def policy(model, is_update):
        seen.append((model.vendorId, is_update))
        return "vendor 999999 may not serve the core" if model.vendorId == "999999" else None

    nrf = NrfContext(clock=clock, admission=policy)
    ok = profile("AUSF", vendorId="000001")
    nrf.register(ok["nfInstanceId"], ok)
    bad = profile("AUSF", vendorId="999999")
    with pytest.raises(HttpError) as e:
        nrf.register(bad["nfInstanceId"], bad)
    assert e.value.status == 403 and "999999" in e.value.detail
    with pytest.raises(HttpError):
        nrf.update(ok["nfInstanceId"], [{"op": "replace", "path": "/vendorId", "value": "999999"}])
    assert nrf.get(ok["nfInstanceId"])["vendorId"] == "000001"
    assert seen == [("000001", False), ("999999", False), ("999999", True)]
