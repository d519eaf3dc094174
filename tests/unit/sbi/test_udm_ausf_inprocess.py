"""UDM vector generation and the full AUSF/UDM/UDR chain in one process (in-process binding),
checked against the MILENAGE known-answer vectors; EAP-AKA' packet codec."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.nf.ausf import AusfApp
from fivecore.nf.common import LocalRegistry
from fivecore.nf.nrf import NrfApp
from fivecore.nf.udm import UdmApp
from fivecore.nf.udm.ueau import eap_aka_prime_vector, he_aka_vector, resync_sqn
from fivecore.nf.udr import UdrApp
from fivecore.security import kdf, milenage
from fivecore.store import Subscriber
from fivecore.wire import eap

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
VECTORS = [v for v in json.loads((SHARED / "vectors" / "milenage.json").read_text())["entries"]
           if int(v["amf"][:2], 16) & 0x80]
SNN = "5G:mnc001.mcc001.3gppnetwork.org"


def b(h: str) -> bytes:
    return bytes.fromhex(h)


@pytest.mark.parametrize("v", VECTORS, ids=[v["id"] for v in VECTORS])
def test_he_aka_vector_matches_milenage_test_sets(v):
    av = he_aka_vector(b(v["k"]), b(v["opc"]), b(v["amf"]), int(v["sqn"], 16), b(v["rand"]), SNN)
    sqn_xor_ak = bytes(x ^ y for x, y in zip(b(v["sqn"]), b(v["f5_ak"]), strict=True))
    assert av.autn == sqn_xor_ak + b(v["amf"]) + b(v["f1_mac_a"])
    assert av.xres == b(v["f2_res"])
    assert av.xres_star == kdf.res_star(b(v["f3_ck"]), b(v["f4_ik"]), SNN, b(v["rand"]), b(v["f2_res"]))
    assert av.kausf == kdf.kausf(b(v["f3_ck"]), b(v["f4_ik"]), SNN, sqn_xor_ak)
    ep = eap_aka_prime_vector(b(v["k"]), b(v["opc"]), b(v["amf"]), int(v["sqn"], 16), b(v["rand"]), SNN)
    assert (ep.ck_prime, ep.ik_prime) == kdf.ck_ik_prime(b(v["f3_ck"]), b(v["f4_ik"]), SNN, sqn_xor_ak)
    assert repr(av) == "Vector(<redacted>)"


@pytest.mark.parametrize("v", VECTORS[:2], ids=[v["id"] for v in VECTORS[:2]])
def test_resync_recovers_sqn_ms(v):
    sqn_ms = int(v["sqn"], 16)
    mac_s = milenage.f1star(b(v["k"]), b(v["opc"]), b(v["rand"]), b(v["sqn"]), b"\x00\x00")
    auts = bytes(x ^ y for x, y in zip(b(v["sqn"]), b(v["f5star_ak"]), strict=True)) + mac_s
    assert resync_sqn(b(v["k"]), b(v["opc"]), b(v["rand"]), auts) == sqn_ms
    assert resync_sqn(b(v["k"]), b(v["opc"]), b(v["rand"]), auts[:-1] + bytes([auts[-1] ^ 0x80])) is None
    assert resync_sqn(b(v["k"]), b(v["opc"]), b(v["rand"]), auts[:10]) is None


@pytest.fixture()
async def chain(tmp_path):
    cfg = load_config({"db_uri": f"sqlite:///{tmp_path / 's.db'}", "udm": {"test_rand": VECTORS[0]["rand"]},
                       "udr": {"mgmt": {"enabled": False}}})
    local = LocalRegistry()
    apps = [NrfApp(cfg, local=local), UdrApp(cfg, local=local), UdmApp(cfg, local=local), AusfApp(cfg, local=local)]
    for a in apps:
        await a.start(serve=False)  # in-process binding only: no sockets
    yield apps
    for a in reversed(apps):
        await a.stop()


async def test_5g_aka_in_process(chain):
    nrf, udr, udm, ausf = chain
    v = VECTORS[0]
    udr.store.add(Subscriber("imsi-001010000000001", k=b(v["k"]), opc=b(v["opc"]), amf=b(v["amf"]),
                             sqn=int(v["sqn"], 16) - 32))
    r = await ausf.client.call("POST", "/nausf-auth/v1/ue-authentications",
                               body={"supiOrSuci": "suci-0-001-01-0000-0-0-0000000001", "servingNetworkName": SNN})
    assert r.status == 201, r.json()
    data = r.json()["5gAuthData"]
    res_star = kdf.res_star(b(v["f3_ck"]), b(v["f4_ik"]), SNN, b(v["rand"]), b(v["f2_res"]))
    assert data["hxresStar"] == kdf.hxres_star(b(v["rand"]), res_star).hex()
    href = r.json()["_links"]["5g-aka"]["href"]
    r = await ausf.client.call("PUT", "/" + href.split("/", 3)[3], body={"resStar": res_star.hex()})
    assert r.json()["authResult"] == "AUTHENTICATION_SUCCESS"
    assert udr.store.get("imsi-001010000000001").sqn == int(v["sqn"], 16)
    # the AuthEvent (TS 29.503 §5.4.2.3) reaches the UDR once the loop has run the report
    assert ausf._tasks_report == set()  # in-process: answered without waiting, no task
    for _ in range(3):
        await asyncio.sleep(0)
    ev = udr.store.get_context("imsi-001010000000001", "auth-status")
    assert ev is not None and ev["success"] is True and ev["authType"] == "5G_AKA"
    assert ev["servingNetworkName"] == SNN and ev["nfInstanceId"] == ausf.instance_id
    # unknown subscriber: the UDR's USER_NOT_FOUND travels back through UDM and AUSF
    r = await ausf.client.call("POST", "/nausf-auth/v1/ue-authentications",
                               body={"supiOrSuci": "imsi-001019999999999", "servingNetworkName": SNN})
    assert r.status == 404 and r.json()["cause"] == "USER_NOT_FOUND"


async def test_sqn_unique_under_concurrency_in_process(chain):
    _, udr, udm, _ = chain
    v = VECTORS[0]
    udr.store.add(Subscriber("imsi-001010000000009", k=b(v["k"]), opc=b(v["opc"])))
    body = {"servingNetworkName": SNN, "ausfInstanceId": "x"}
    rs = await asyncio.gather(*[udm.client.call("POST", "/nudm-ueau/v1/imsi-001010000000009/security-information/generate-auth-data",
                                                body=body) for _ in range(50)])
    autns = {r.json()["authenticationVector"]["autn"] for r in rs}
    assert len(autns) == 50  # same RAND, so distinct AUTN <=> distinct SQN
    assert udr.store.get("imsi-001010000000009").sqn == 50 * 32


def test_eap_packets_round_trip():
    k_aut = bytes(range(32))
    pkt = eap.build_challenge(7, bytes(16), bytes(range(16)), SNN, k_aut)
    msg = eap.parse(pkt)
    assert (msg.code, msg.identifier, msg.subtype) == (eap.CODE_REQUEST, 7, eap.SUB_CHALLENGE)
    assert eap.verify_mac(msg, k_aut) and not eap.verify_mac(msg, bytes(32))
    assert msg.attrs[eap.AT_KDF_INPUT][2:2 + len(SNN)] == SNN.encode()
    resp = eap.parse(eap.build_response(7, b"\x01" * 8, k_aut))
    assert eap.verify_mac(resp, k_aut) and eap.res_of(resp) == b"\x01" * 8
    sync = eap.parse(eap.build_sync_failure(7, bytes(14)))
    assert sync.subtype == eap.SUB_SYNC_FAILURE and eap.auts_of(sync) == bytes(14)
    tampered = bytearray(pkt)
    tampered[20] ^= 1
    assert not eap.verify_mac(eap.parse(bytes(tampered)), k_aut)
    assert base64.b64decode(base64.b64encode(pkt)) == pkt


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_eap_parse_never_crashes(data):
    try:
        msg = eap.parse(data)
    except eap.EapError:
        return
    eap.verify_mac(msg, bytes(32))
    for fn in (eap.res_of, eap.auts_of):
        try:
            fn(msg)
        except eap.EapError:
            pass


async def test_sdm_unsubscribe_keeps_a_decoded_id_inside_its_segment(chain):
    """TS 29.503 §5.2.2.4.2: an unknown subscription id is SUBSCRIPTION_NOT_FOUND even when it
    holds a "?" (percent-encoded by the consumer): the UDM encodes it again towards the UDR,
    where it would otherwise end the path early (405 there, 502 here)."""
    _, udr, udm, _ = chain
    udr.store.add(Subscriber("imsi-001010000000007", k=bytes(16), opc=bytes(16)))
    for sid in ("a%3Fb", "%3F", "%3Fx%3D1", "a%23b"):
        r = await udm.client.call("DELETE", f"/nudm-sdm/v2/imsi-001010000000007/sdm-subscriptions/{sid}")
        assert r.status == 404 and r.json()["cause"] == "SUBSCRIPTION_NOT_FOUND", (sid, r.status, r.json())
