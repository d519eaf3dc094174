"""5G AKA and EAP-AKA' across AUSF, UDM, UDR (and the NRF) as four processes over HTTP/2.

The values the network produces are checked against the known-answer vectors read at test time
from ../shared/vectors: RAND and AUTN straight from the MILENAGE test sets (the UDM is given the
set's RAND via ``udm.test_rand`` and the subscriber the SQN just before the set's), RES*,
HXRES*, KAUSF, KSEAF through the TS 33.501 Annex A functions (themselves checked against
kdf5g.json). SUCI Profile A/B use the TS 33.501 Annex C.4 test data. Every exchange the test
makes is validated against the 3GPP OpenAPI files.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from fivecore.nf.common.launch import Core
from fivecore.nf.common.validating import ValidatingHttp2Client
from fivecore.security import kdf, milenage
from fivecore.wire import eap
from fivecore.wire.sbi.schema import OpenApiValidator

pytestmark = pytest.mark.e2e

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
VECTORS = json.loads((SHARED / "vectors" / "milenage.json").read_text())["entries"]
SUCI = {e["id"]: e for e in json.loads((SHARED / "vectors" / "suci.json").read_text())["entries"]}
# Test sets whose AMF already has the separation bit (TS 33.501 §6.1.3.2) that the UDM sets.
AKA_SETS = [v for v in VECTORS if int(v["amf"][:2], 16) & 0x80]
SNN = "5G:mnc001.mcc001.3gppnetwork.org"
TOKEN = {"authorization": "Bearer test-token"}
RAND = AKA_SETS[0]["rand"]


def _x(a: str, b: str) -> bytes:
    return bytes(x ^ y for x, y in zip(bytes.fromhex(a), bytes.fromhex(b), strict=True))


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    pa, pb = SUCI["ts33501_c_4_3_1"], SUCI["ts33501_c_4_4_1"]
    work = tmp_path_factory.mktemp("sbi-aka")
    c = Core(work, home_network_keys=[{"id": 1, "scheme": "A", "private_key": pa["hn_private_key"]},
                                      {"id": 2, "scheme": "B", "private_key": pb["hn_private_key"]}],
             udm={"test_rand": RAND})
    c.start()
    yield c
    c.stop()


@pytest.fixture()
async def client():
    v = OpenApiValidator(SHARED / "3gpp-openapi")
    cl = ValidatingHttp2Client(v, timeout=10)
    yield cl
    await cl.close()
    assert cl.errors == [], "\n".join(cl.errors)


async def provision(client, core, vec: dict, supi: str, method: str = "5G_AKA", sqn: int | None = None) -> None:
    """Create (or reset) a subscriber through the management REST API."""
    body = {"imsi": supi, "k": vec["k"], "opc": vec["opc"], "amf": vec["amf"], "auth_method": method,
            "sqn": f"{(int(vec['sqn'], 16) - 32 if sqn is None else sqn) % (1 << 48):012x}"}
    r = await client.request("POST", core.mgmt_uri + "/mgmt/v1/subscribers", json=body, headers=TOKEN)
    if r.status == 409:
        patch = {k: v for k, v in body.items() if k != "imsi"}
        r = await client.request("PATCH", f"{core.mgmt_uri}/mgmt/v1/subscribers/{supi}", json=patch, headers=TOKEN)
        assert r.status == 200, r.json()
    else:
        assert r.status == 201, r.json()


def expected(vec: dict, snn: str = SNN) -> dict[str, bytes]:
    rand = bytes.fromhex(vec["rand"])
    ck, ik, res = bytes.fromhex(vec["f3_ck"]), bytes.fromhex(vec["f4_ik"]), bytes.fromhex(vec["f2_res"])
    sqn_xor_ak = _x(vec["sqn"], vec["f5_ak"])
    xres_star = kdf.res_star(ck, ik, snn, rand, res)
    kausf = kdf.kausf(ck, ik, snn, sqn_xor_ak)
    return {
        "autn": sqn_xor_ak + bytes.fromhex(vec["amf"]) + bytes.fromhex(vec["f1_mac_a"]),
        "xres_star": xres_star,
        "hxres_star": kdf.hxres_star(rand, xres_star),
        "kausf": kausf,
        "kseaf": kdf.kseaf(kausf, snn),
        "sqn_xor_ak": sqn_xor_ak,
    }


def _path(href: str) -> str:
    return "/" + href.split("/", 3)[3]


async def test_5g_aka_matches_known_answers(core, client):
    vec = AKA_SETS[0]
    supi = "imsi-001010000000001"
    await provision(client, core, vec, supi)
    exp = expected(vec)
    r = await client.request("POST", core.uri("ausf") + "/nausf-auth/v1/ue-authentications",
                             json={"supiOrSuci": "suci-0-001-01-0000-0-0-0000000001", "servingNetworkName": SNN})
    assert r.status == 201, r.json()
    ctx = r.json()
    assert ctx["authType"] == "5G_AKA"
    assert ctx["5gAuthData"]["rand"] == vec["rand"]
    assert ctx["5gAuthData"]["autn"] == exp["autn"].hex()
    assert ctx["5gAuthData"]["hxresStar"] == exp["hxres_star"].hex()
    assert r.headers["location"].endswith(ctx["_links"]["5g-aka"]["href"].rsplit("/", 1)[0])
    # The UE (its RES* from the same test set) confirms.
    r = await client.request("PUT", core.uri("ausf") + _path(ctx["_links"]["5g-aka"]["href"]),
                             json={"resStar": exp["xres_star"].hex()})
    assert r.status == 200
    assert r.json() == {"authResult": "AUTHENTICATION_SUCCESS", "supi": supi, "kseaf": exp["kseaf"].hex()}


async def test_udm_he_av(core, client):
    """The UDM's own 5G HE AV (Nudm_UEAU): RAND, AUTN, XRES*, KAUSF of test set 1."""
    vec = AKA_SETS[0]
    supi = "imsi-001010000000101"
    await provision(client, core, vec, supi)
    exp = expected(vec)
    r = await client.request("POST", f"{core.uri('udm')}/nudm-ueau/v1/{supi}/security-information/generate-auth-data",
                             json={"servingNetworkName": SNN, "ausfInstanceId": "a0a0a0a0-0000-4000-8000-000000000001"})
    assert r.status == 200, r.json()
    av = r.json()["authenticationVector"]
    assert av == {"avType": "5G_HE_AKA", "rand": vec["rand"], "autn": exp["autn"].hex(),
                  "xresStar": exp["xres_star"].hex(), "kausf": exp["kausf"].hex()}


async def test_wrong_res_star_fails(core, client):
    vec = AKA_SETS[0]
    await provision(client, core, vec, "imsi-001010000000002")
    r = await client.request("POST", core.uri("ausf") + "/nausf-auth/v1/ue-authentications",
                             json={"supiOrSuci": "imsi-001010000000002", "servingNetworkName": SNN})
    href = r.json()["_links"]["5g-aka"]["href"]
    r = await client.request("PUT", core.uri("ausf") + _path(href), json={"resStar": "00" * 16})
    assert r.status == 200 and r.json() == {"authResult": "AUTHENTICATION_FAILURE"}
    r = await client.request("PUT", core.uri("ausf") + _path(href), json={"resStar": "00" * 16})
    assert r.status == 404 and r.json()["cause"] == "CONTEXT_NOT_FOUND"


async def test_resync_with_auts(core, client):
    """TS 33.102 §6.3.5: the USIM is ahead; AUTS carries SQN_MS; the next AV uses SQN_MS + 1 SEQ."""
    vec = AKA_SETS[0]
    supi = "imsi-001010000000004"
    await provision(client, core, vec, supi)
    k, opc, rand = bytes.fromhex(vec["k"]), bytes.fromhex(vec["opc"]), bytes.fromhex(vec["rand"])
    sqn_ms = int(vec["sqn"], 16) + 1000 * 32
    mac_s = milenage.f1star(k, opc, rand, sqn_ms.to_bytes(6, "big"), b"\x00\x00")
    auts = _x(f"{sqn_ms:012x}", vec["f5star_ak"]) + mac_s
    body = {"supiOrSuci": supi, "servingNetworkName": SNN,
            "resynchronizationInfo": {"rand": vec["rand"], "auts": auts.hex()}}
    r = await client.request("POST", core.uri("ausf") + "/nausf-auth/v1/ue-authentications", json=body)
    assert r.status == 201, r.json()
    autn = bytes.fromhex(r.json()["5gAuthData"]["autn"])
    sqn = int.from_bytes(_x(autn[:6].hex(), vec["f5_ak"]), "big")
    assert sqn == sqn_ms + 32
    # A tampered AUTS (MAC-S wrong) is refused and does not move the SQN.
    bad = auts[:-1] + bytes([auts[-1] ^ 1])
    body["resynchronizationInfo"]["auts"] = bad.hex()
    r = await client.request("POST", core.uri("ausf") + "/nausf-auth/v1/ue-authentications", json=body)
    assert r.status == 403 and r.json()["cause"] == "AUTHENTICATION_REJECTED"
    r = await client.request("GET", f"{core.mgmt_uri}/mgmt/v1/subscribers/{supi}", headers=TOKEN)
    assert int(r.json()["sqn"], 16) == sqn_ms + 32


@pytest.mark.parametrize("vid,scheme,key_id", [("ts33501_c_4_3_1", 1, 1), ("ts33501_c_4_4_1", 2, 2)])
async def test_suci_profiles(core, client, vid, scheme, key_id):
    """TS 33.501 Annex C.4 test data: the SIDF recovers SUPI imsi-274012001002086."""
    s = SUCI[vid]
    supi = f"imsi-{s['imsi_mcc_mnc']}{s['imsi_msin']}"
    await provision(client, core, AKA_SETS[0], supi)
    suci = f"suci-0-274-012-0000-{scheme}-{key_id}-{s['scheme_output']}"
    snn = "5G:mnc012.mcc274.3gppnetwork.org"
    r = await client.request("POST", core.uri("ausf") + "/nausf-auth/v1/ue-authentications",
                             json={"supiOrSuci": suci, "servingNetworkName": snn})
    assert r.status == 201, r.json()
    exp = expected(AKA_SETS[0], snn)
    r = await client.request("PUT", core.uri("ausf") + _path(r.json()["_links"]["5g-aka"]["href"]),
                             json={"resStar": exp["xres_star"].hex()})
    assert r.json()["supi"] == supi and r.json()["kseaf"] == exp["kseaf"].hex()


async def test_eap_aka_prime(core, client):
    """TS 33.501 §6.1.3.1 over Nausf: challenge, the peer's answer, EAP-Success, KSEAF."""
    vec = AKA_SETS[0]
    supi = "imsi-001010000000005"
    await provision(client, core, vec, supi, method="EAP_AKA_PRIME")
    r = await client.request("POST", core.uri("ausf") + "/nausf-auth/v1/ue-authentications",
                             json={"supiOrSuci": supi, "servingNetworkName": SNN})
    assert r.status == 201, r.json()
    ctx = r.json()
    assert ctx["authType"] == "EAP_AKA_PRIME"
    req = eap.parse(base64.b64decode(ctx["5gAuthData"]))
    exp = expected(vec)
    assert req.code == eap.CODE_REQUEST and req.subtype == eap.SUB_CHALLENGE
    assert req.attrs[eap.AT_RAND][2:].hex() == vec["rand"]
    assert req.attrs[eap.AT_AUTN][2:] == exp["autn"]
    ck_p, ik_p = kdf.ck_ik_prime(bytes.fromhex(vec["f3_ck"]), bytes.fromhex(vec["f4_ik"]), SNN, exp["sqn_xor_ak"])
    keys = kdf.eap_aka_prime_keys(ik_p, ck_p, supi)
    assert eap.verify_mac(req, keys.k_aut)
    answer = eap.build_response(req.identifier, bytes.fromhex(vec["f2_res"]), keys.k_aut)
    r = await client.request("POST", core.uri("ausf") + _path(ctx["_links"]["eap-session"]["href"]),
                             json={"eapPayload": base64.b64encode(answer).decode()})
    assert r.status == 200, r.json()
    body = r.json()
    assert body["authResult"] == "AUTHENTICATION_SUCCESS" and body["supi"] == supi
    assert body["kSeaf"] == kdf.kseaf(kdf.kausf_from_emsk(keys.emsk), SNN).hex()
    assert eap.parse(base64.b64decode(body["eapPayload"])).code == eap.CODE_SUCCESS
