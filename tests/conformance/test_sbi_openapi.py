"""Every SBI request and response the flows below exchange validates against the 3GPP OpenAPI
files in ../shared/3gpp-openapi (read at test time).

The NRF, UDR, UDM and AUSF run in this process but talk to each other only over HTTP/2 (no
in-process binding): each NF's client is a ValidatingHttp2Client, so the NF-to-NF traffic
(registration, heartbeat, discovery, generate-auth-data, UDR reads and SQN updates, auth events)
is checked as well as what the test itself sends. A small HTTP/2 server plays the AMF's callback
endpoint, so deregistration and SDM change notifications are checked too.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from fivecore.config import load_config
from fivecore.nf.ausf import AusfApp
from fivecore.nf.common.validating import ValidatingHttp2Client
from fivecore.nf.nrf import NrfApp
from fivecore.nf.nrf import context as nrf_context
from fivecore.nf.udm import UdmApp
from fivecore.nf.udr import UdrApp
from fivecore.security import kdf
from fivecore.transport.http2 import Request, Response, Router, SbiServer
from fivecore.wire import eap
from fivecore.wire import sbi as m
from fivecore.wire.sbi.schema import OpenApiValidator

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SPEC = SHARED / "3gpp-openapi"
VEC = json.loads((SHARED / "vectors" / "milenage.json").read_text())["entries"][0]
SNN = "5G:mnc001.mcc001.3gppnetwork.org"
SUPI = "imsi-001010000000001"
EAP_SUPI = "imsi-001010000000002"
TOKEN = {"authorization": "Bearer conf"}
AMF1 = "c0c0c0c0-0000-4000-8000-000000000001"
AMF2 = "c0c0c0c0-0000-4000-8000-000000000002"
GUAMI = {"plmnId": {"mcc": "001", "mnc": "01"}, "amfId": "020040"}


@pytest.fixture(autouse=True)
def _no_suspension(monkeypatch: pytest.MonkeyPatch) -> None:
    """The NRF asks for a heartbeat every second so that the flows include the heartbeat PATCH;
    a test process that stalls for 1.5 s (a full garbage collection late in a long pytest run)
    must not have the NRF SUSPEND an NF in the middle of a flow. Heartbeat supervision is not
    what these tests check (tests/unit/sbi/test_nrf_context.py does)."""
    monkeypatch.setattr(nrf_context, "SUSPEND_AFTER", 60.0)
    monkeypatch.setattr(nrf_context, "REMOVE_AFTER", 600.0)


@pytest.fixture(scope="module")
def validator() -> OpenApiValidator:
    return OpenApiValidator(SPEC)


async def _start(tmp_path: Path, validator: OpenApiValidator):
    base = {"db_uri": f"sqlite:///{tmp_path / 'conf.db'}", "nrf": {"sbi": {"address": "127.0.0.1", "port": 0}, "heartbeat_timer": 1}}
    nrf = NrfApp(load_config(base), http=ValidatingHttp2Client(validator))
    await nrf.start()
    nrf_uri = nrf.uri
    ep = {"address": "127.0.0.1", "port": 0}
    cfg = load_config({**base, "udm": {"sbi": ep, "nrf_uri": nrf_uri}, "ausf": {"sbi": ep, "nrf_uri": nrf_uri},
                       "udr": {"sbi": ep, "nrf_uri": nrf_uri, "mgmt": {"address": "127.0.0.1", "port": 0, "token": "conf"}}})
    apps = [UdrApp(cfg, http=ValidatingHttp2Client(validator)), UdmApp(cfg, http=ValidatingHttp2Client(validator)),
            AusfApp(cfg, http=ValidatingHttp2Client(validator))]
    for a in apps:
        await a.start()
    for a in apps:
        await asyncio.wait_for(a.registered.wait(), 10)
    return [nrf, *apps]


async def test_flows_validate_against_3gpp_schemas(tmp_path, validator):
    apps = await _start(tmp_path, validator)
    nrf, udr, udm, ausf = apps
    c = ValidatingHttp2Client(validator, timeout=10)
    got: list[tuple[str, dict]] = []
    cb = Router("amf-callbacks")

    async def sink(req: Request) -> Response:
        got.append((req.path, json.loads(req.body)))
        return Response(204)

    cb.add("POST", "/amf/{kind}", sink)
    amf = SbiServer(cb, "127.0.0.1", 0)
    await amf.start()
    try:
        mg = udr.mgmt_server.base_url + "/mgmt/v1"
        for supi, method in ((SUPI, "5G_AKA"), (EAP_SUPI, "EAP_AKA_PRIME")):
            r = await c.request("POST", mg + "/subscribers", headers=TOKEN, json={
                "imsi": supi, "k": VEC["k"], "opc": VEC["opc"], "amf": VEC["amf"], "auth_method": method})
            assert r.status == 201

        # -- NRF: management and discovery as a consumer sees it
        r = await c.request("GET", nrf.uri + "/nnrf-nfm/v1/nf-instances", query={"nf-type": "UDM"})
        assert r.status == 200 and len(r.json()["_links"]["items"]) == 1
        r = await c.request("GET", f"{nrf.uri}/nnrf-nfm/v1/nf-instances/{udm.instance_id}")
        assert r.status == 200 and r.json()["nfType"] == "UDM"
        r = await c.request("GET", nrf.uri + "/nnrf-disc/v1/nf-instances", query={
            "target-nf-type": "UDM", "requester-nf-type": "AUSF", "service-names": "nudm-ueau",
            "snssais": json.dumps([{"sst": 1}]), "supi": SUPI, "preferred-locality": "x", "limit": "5"})
        assert r.status == 200 and r.json()["nfInstances"][0]["nfInstanceId"] == udm.instance_id
        r = await c.request("POST", nrf.uri + "/nnrf-nfm/v1/subscriptions", json={
            "nfStatusNotificationUri": amf.base_url + "/amf/nrf", "subscrCond": {"nfType": "PCF"}})
        assert r.status == 201
        sub_id = r.json()["subscriptionId"]
        r = await c.request("DELETE", f"{nrf.uri}/nnrf-nfm/v1/subscriptions/{sub_id}")
        assert r.status == 204
        r = await c.request("GET", f"{nrf.uri}/nnrf-nfm/v1/nf-instances/c0c0c0c0-0000-4000-8000-00000000000f")
        assert r.status == 404

        # -- 5G AKA through AUSF -> UDM -> UDR
        r = await c.request("POST", ausf.uri + "/nausf-auth/v1/ue-authentications", json={
            "supiOrSuci": "suci-0-001-01-0000-0-0-0000000001", "servingNetworkName": SNN})
        assert r.status == 201, r.body
        ctx = r.json()
        href = ctx["_links"]["5g-aka"]["href"]
        r = await c.request("PUT", href, json={"resStar": "00" * 16})
        assert r.json()["authResult"] == "AUTHENTICATION_FAILURE"
        r = await c.request("POST", ausf.uri + "/nausf-auth/v1/ue-authentications", json={
            "supiOrSuci": SUPI, "servingNetworkName": SNN,
            "resynchronizationInfo": {"rand": VEC["rand"], "auts": "00" * 14}})
        assert r.status == 403
        r = await c.request("POST", ausf.uri + "/nausf-auth/v1/ue-authentications", json={
            "supiOrSuci": "imsi-001019999999999", "servingNetworkName": SNN})
        assert r.status == 404

        # -- EAP-AKA': the challenge and a wrong answer (EAP-Failure)
        r = await c.request("POST", ausf.uri + "/nausf-auth/v1/ue-authentications", json={
            "supiOrSuci": EAP_SUPI, "servingNetworkName": SNN})
        assert r.status == 201 and r.json()["authType"] == "EAP_AKA_PRIME"
        req = eap.parse(base64.b64decode(r.json()["5gAuthData"]))
        bogus = eap.build_response(req.identifier, b"\x00" * 8, bytes(32))
        r = await c.request("POST", r.json()["_links"]["eap-session"]["href"],
                            json={"eapPayload": base64.b64encode(bogus).decode()})
        assert r.status == 200 and r.json()["authResult"] == "AUTHENTICATION_FAILURE"

        # -- UDR policy data (TS 29.519) as the PCF reads it
        for leaf in ("am-data", "sm-data", "ue-policy-set"):
            r = await c.request("GET", f"{udr.uri}/nudr-dr/v2/policy-data/ues/{SUPI}/{leaf}")
            assert r.status == 200, (leaf, r.json())

        # -- UECM: AMF and SMF registrations
        uecm = f"{udm.uri}/nudm-uecm/v1/{SUPI}/registrations"
        reg = {"amfInstanceId": AMF1, "deregCallbackUri": amf.base_url + "/amf/dereg", "guami": GUAMI, "ratType": "NR",
               "initialRegistrationInd": True}
        r = await c.request("PUT", uecm + "/amf-3gpp-access", json=reg)
        assert r.status == 201
        r = await c.request("PUT", uecm + "/amf-3gpp-access", json={**reg, "amfInstanceId": AMF2})
        assert r.status == 200
        r = await c.request("GET", uecm + "/amf-3gpp-access")
        assert r.status == 200 and r.json()["amfInstanceId"] == AMF2
        r = await c.request("PATCH", uecm + "/amf-3gpp-access", json={"guami": GUAMI, "purgeFlag": True})
        assert r.status == 204
        r = await c.request("PATCH", uecm + "/amf-3gpp-access", json={"guami": {**GUAMI, "amfId": "ffffff"}})
        assert r.status == 403
        smf = {"smfInstanceId": "d0d0d0d0-0000-4000-8000-000000000001", "pduSessionId": 5, "singleNssai": {"sst": 1},
               "dnn": "internet", "plmnId": {"mcc": "001", "mnc": "01"}}
        r = await c.request("PUT", uecm + "/smf-registrations/5", json=smf)
        assert r.status == 201
        r = await c.request("GET", uecm + "/smf-registrations/5")
        assert r.status == 200
        r = await c.request("GET", uecm + "/smf-registrations")
        assert r.status == 200 and len(r.json()["smfRegistrationList"]) == 1

        # -- SDM
        sdm = f"{udm.uri}/nudm-sdm/v2/{SUPI}"
        for leaf in ("am-data", "nssai", "smf-select-data", "ue-context-in-smf-data"):
            r = await c.request("GET", f"{sdm}/{leaf}")
            assert r.status == 200, (leaf, r.json())
        r = await c.request("GET", sdm + "/sm-data", query={"single-nssai": json.dumps({"sst": 1}), "dnn": "internet"})
        assert r.status == 200 and r.json()[0]["dnnConfigurations"]["internet"]["sscModes"]
        r = await c.request("POST", sdm + "/sdm-subscriptions", json={
            "nfInstanceId": AMF2, "callbackReference": amf.base_url + "/amf/sdm", "monitoredResourceUris": [sdm + "/am-data"]})
        assert r.status == 201
        sdm_sub = r.json()["subscriptionId"]
        r = await c.request("DELETE", uecm + "/smf-registrations/5")
        assert r.status == 204
        r = await c.request("GET", uecm + "/smf-registrations/5")
        assert r.status == 404

        # provisioning change -> UDR DataChangeNotify -> UDM -> ModificationNotification to the AMF
        r = await c.request("PATCH", f"{mg}/subscribers/{SUPI}", headers=TOKEN, json={
            "am": {"subscribedUeAmbr": {"uplink": "7 Mbps", "downlink": "9 Mbps"}, "nssai": {"defaultSingleNssais": [{"sst": 1}]}}})
        assert r.status == 200
        for _ in range(100):
            if any(p == "/amf/sdm" for p, _ in got):
                break
            await asyncio.sleep(0.05)
        notes = {p: b for p, b in got}
        assert validator.schema_errors("TS29503_Nudm_SDM.yaml", "ModificationNotification", notes["/amf/sdm"]) == []
        assert notes["/amf/sdm"]["notifyItems"][0]["changes"][0]["newValue"]["subscribedUeAmbr"]["uplink"] == "7 Mbps"
        assert validator.schema_errors("TS29503_Nudm_UECM.yaml", "DeregistrationData", notes["/amf/dereg"]) == []
        r = await c.request("DELETE", f"{sdm}/sdm-subscriptions/{sdm_sub}")
        assert r.status == 204

        await asyncio.sleep(1.3)  # at least one heartbeat PATCH of every NF (heartBeatTimer 1 s)
        clients = [c] + [a.client.http for a in apps]
        errors = [e for cl in clients for e in cl.errors]
        assert errors == [], "\n".join(errors)
        seen = {(mth, p.split("/")[1], s) for cl in clients for mth, p, s in cl.seen}
        for must in [("PUT", "nnrf-nfm", 201), ("PATCH", "nnrf-nfm", 204), ("GET", "nnrf-disc", 200),
                     ("POST", "nudm-ueau", 200), ("GET", "nudr-dr", 200), ("PATCH", "nudr-dr", 204),
                     ("POST", "nudm-ueau", 201), ("PUT", "nudr-dr", 204)]:
            assert must in seen, must
    finally:
        await amf.stop()
        await c.close()
        for a in reversed(apps):
            await a.stop()


SAMPLES = [
    (m.NFProfile, "TS29510_Nnrf_NFManagement.yaml", "NFProfile",
     json.loads((SHARED / "tools" / "nrf-bench" / "ausf_profile.json").read_text())),
    (m.AuthenticationInfo, "TS29509_Nausf_UEAuthentication.yaml", "AuthenticationInfo",
     {"supiOrSuci": SUPI, "servingNetworkName": SNN, "resynchronizationInfo": {"rand": "00" * 16, "auts": "11" * 14}}),
    (m.UEAuthenticationCtx, "TS29509_Nausf_UEAuthentication.yaml", "UEAuthenticationCtx",
     {"authType": "5G_AKA", "5gAuthData": {"rand": "00" * 16, "autn": "11" * 16, "hxresStar": "22" * 16},
      "_links": {"5g-aka": {"href": "http://a/b"}}}),
    (m.ConfirmationData, "TS29509_Nausf_UEAuthentication.yaml", "ConfirmationData", {"resStar": "ab" * 16}),
    (m.ConfirmationDataResponse, "TS29509_Nausf_UEAuthentication.yaml", "ConfirmationDataResponse",
     {"authResult": "AUTHENTICATION_SUCCESS", "supi": SUPI, "kseaf": "cd" * 32}),
    (m.EapSession, "TS29509_Nausf_UEAuthentication.yaml", "EapSession", {"eapPayload": "AQIABA==", "authResult": "AUTHENTICATION_ONGOING"}),
    (m.AuthenticationInfoRequest, "TS29503_Nudm_UEAU.yaml", "AuthenticationInfoRequest",
     {"servingNetworkName": SNN, "ausfInstanceId": AMF1}),
    (m.AuthenticationInfoResult, "TS29503_Nudm_UEAU.yaml", "AuthenticationInfoResult",
     {"authType": "5G_AKA", "supi": SUPI, "authenticationVector": {"avType": "5G_HE_AKA", "rand": "00" * 16,
      "autn": "11" * 16, "xresStar": "22" * 16, "kausf": "33" * 32}}),
    (m.AvEapAkaPrime, "TS29503_Nudm_UEAU.yaml", "AvEapAkaPrime",
     {"avType": "EAP_AKA_PRIME", "rand": "00" * 16, "xres": "11" * 8, "autn": "22" * 16, "ckPrime": "33" * 16, "ikPrime": "44" * 16}),
    (m.AuthEvent, "TS29503_Nudm_UEAU.yaml", "AuthEvent", {"nfInstanceId": AMF1, "success": True,
     "timeStamp": "2026-01-01T00:00:00Z", "authType": "5G_AKA", "servingNetworkName": SNN}),
    (m.Amf3GppAccessRegistration, "TS29503_Nudm_UECM.yaml", "Amf3GppAccessRegistration",
     {"amfInstanceId": AMF1, "deregCallbackUri": "http://a/b", "guami": GUAMI, "ratType": "NR"}),
    (m.SmfRegistration, "TS29503_Nudm_UECM.yaml", "SmfRegistration",
     {"smfInstanceId": AMF1, "pduSessionId": 1, "singleNssai": {"sst": 1, "sd": "000001"}, "plmnId": {"mcc": "001", "mnc": "01"}}),
    (m.AccessAndMobilitySubscriptionData, "TS29503_Nudm_SDM.yaml", "AccessAndMobilitySubscriptionData",
     {"subscribedUeAmbr": {"uplink": "1 Gbps", "downlink": "2 Gbps"}, "nssai": {"defaultSingleNssais": [{"sst": 1}]}}),
    (m.SessionManagementSubscriptionData, "TS29503_Nudm_SDM.yaml", "SessionManagementSubscriptionData",
     {"singleNssai": {"sst": 1}, "dnnConfigurations": {"internet": {
         "pduSessionTypes": {"defaultSessionType": "IPV4"}, "sscModes": {"defaultSscMode": "SSC_MODE_1"}}}}),
    (m.SmfSelectionSubscriptionData, "TS29503_Nudm_SDM.yaml", "SmfSelectionSubscriptionData",
     {"subscribedSnssaiInfos": {"1": {"dnnInfos": [{"dnn": "internet"}]}}}),
    (m.UeContextInSmfData, "TS29503_Nudm_SDM.yaml", "UeContextInSmfData",
     {"pduSessions": {"5": {"dnn": "internet", "smfInstanceId": AMF1, "plmnId": {"mcc": "001", "mnc": "01"}}}}),
    (m.Nssai, "TS29503_Nudm_SDM.yaml", "Nssai", {"defaultSingleNssais": [{"sst": 1}]}),
    (m.SdmSubscription, "TS29503_Nudm_SDM.yaml", "SdmSubscription",
     {"nfInstanceId": AMF1, "callbackReference": "http://a/b", "monitoredResourceUris": ["http://u/am-data"]}),
    (m.AuthenticationSubscription, "TS29505_Subscription_Data.yaml", "AuthenticationSubscription",
     {"authenticationMethod": "5G_AKA", "encPermanentKey": "00" * 16, "encOpcKey": "11" * 16,
      "sequenceNumber": {"sqnScheme": "NON_TIME_BASED", "sqn": "000000000020"}, "authenticationManagementField": "8000"}),
    (m.ProblemDetails, "TS29571_CommonData.yaml", "ProblemDetails",
     {"status": 400, "cause": "MANDATORY_IE_INCORRECT", "invalidParams": [{"param": "/x", "reason": "y"}]}),
]


@pytest.mark.parametrize("model,file,name,sample", SAMPLES, ids=[s[2] for s in SAMPLES])
def test_models_round_trip_to_schema_valid_json(validator, model, file, name, sample):
    """Our pydantic models accept the 3GPP JSON and give back JSON the 3GPP schema accepts."""
    assert validator.schema_errors(file, name, sample) == []
    dumped = model.model_validate(sample).dump()
    assert dumped == sample
    assert validator.schema_errors(file, name, dumped) == []


def test_hxres_star_is_what_the_seaf_checks():
    rand, xres = bytes(16), bytes(range(16))
    assert len(kdf.hxres_star(rand, xres)) == 16
