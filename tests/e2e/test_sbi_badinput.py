"""Bad input over HTTP/2 against real NF processes: malformed JSON, wrong types, missing IEs,
unknown SUPI, bad SUCI, garbage on the socket. Each gets its 3GPP ProblemDetails (TS 29.500
§5.2.7), the NFs keep serving, and the subscriber store does not change."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from fivecore.nf.common.launch import Core
from fivecore.nf.common.validating import ValidatingHttp2Client
from fivecore.transport.http2 import Http2Client
from fivecore.wire.sbi.schema import OpenApiValidator

pytestmark = pytest.mark.e2e

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SUCI_A = json.loads((SHARED / "vectors" / "suci.json").read_text())["entries"][1]
VEC = json.loads((SHARED / "vectors" / "milenage.json").read_text())["entries"][0]
SNN = "5G:mnc001.mcc001.3gppnetwork.org"
SUPI = "imsi-274012001002086"
TOKEN = {"authorization": "Bearer test-token"}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("sbi-bad")
    c = Core(work, home_network_keys=[{"id": 1, "scheme": "A", "private_key": SUCI_A["hn_private_key"]}])
    c.start()
    yield c
    c.stop()


def snapshot(core: Core) -> list[tuple]:
    path = core.config["db_uri"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute("SELECT supi, k, opc, op, amf, sqn, auth_method, profile, data, version FROM subscribers ORDER BY supi").fetchall()


@pytest.fixture()
async def client():
    cl = ValidatingHttp2Client(OpenApiValidator(SHARED / "3gpp-openapi"), timeout=10)
    yield cl
    await cl.close()
    assert cl.errors == [], "\n".join(cl.errors)


def _problem(r, status: int, cause: str | None) -> dict:
    assert r.status == status, (r.status, r.body[:300])
    assert r.headers.get("content-type") == "application/problem+json"
    body = r.json()
    assert body["status"] == status
    if cause:
        assert body.get("cause") == cause, body
    return body


async def test_bad_requests_get_problem_details_and_change_nothing(core, client):
    r = await client.request("POST", core.mgmt_uri + "/mgmt/v1/subscribers", headers=TOKEN,
                             json={"imsi": SUPI, "k": VEC["k"], "opc": VEC["opc"]})
    assert r.status == 201
    before = snapshot(core)
    ausf = core.uri("ausf") + "/nausf-auth/v1/ue-authentications"
    udm = core.uri("udm") + "/nudm-ueau/v1/{}/security-information/generate-auth-data"
    hdr = {"content-type": "application/json"}
    good_udm = {"servingNetworkName": SNN, "ausfInstanceId": "a0a0a0a0-0000-4000-8000-000000000001"}

    # malformed JSON
    _problem(await client.request("POST", ausf, body=b'{"supiOrSuci": ', headers=hdr), 400, "INVALID_MSG_FORMAT")
    _problem(await client.request("POST", udm.format(SUPI), body=b"\xff\xfe", headers=hdr), 400, "INVALID_MSG_FORMAT")
    # wrong types / missing mandatory IEs
    _problem(await client.request("POST", ausf, json={"supiOrSuci": 123, "servingNetworkName": SNN}), 400, "MANDATORY_IE_INCORRECT")
    body = _problem(await client.request("POST", ausf, json={"supiOrSuci": SUPI}), 400, "MANDATORY_IE_MISSING")
    assert any("servingNetworkName" in p["param"] for p in body["invalidParams"])
    _problem(await client.request("POST", ausf, json={"supiOrSuci": SUPI, "servingNetworkName": "4G:x"}), 400, "MANDATORY_IE_INCORRECT")
    _problem(await client.request("POST", ausf, json=[1, 2]), 400, None)
    _problem(await client.request("POST", udm.format(SUPI), json={**good_udm, "resynchronizationInfo": {"rand": "zz", "auts": 5}}),
             400, "MANDATORY_IE_INCORRECT")
    # unknown subscriber
    _problem(await client.request("POST", ausf, json={"supiOrSuci": "imsi-001019999999999", "servingNetworkName": SNN}), 404, "USER_NOT_FOUND")
    _problem(await client.request("POST", udm.format("imsi-001019999999999"), json=good_udm), 404, "USER_NOT_FOUND")
    _problem(await client.request("GET", core.uri("udm") + "/nudm-sdm/v2/imsi-001019999999999/am-data"), 404, "USER_NOT_FOUND")
    # bad SUCIs: tampered MAC, unknown key id, malformed, unsupported scheme
    out = bytearray(bytes.fromhex(SUCI_A["scheme_output"]))
    out[-1] ^= 1
    _problem(await client.request("POST", ausf, json={"supiOrSuci": f"suci-0-274-012-0000-1-1-{out.hex()}", "servingNetworkName": SNN}),
             403, "INVALID_SCHEME_OUTPUT")
    _problem(await client.request("POST", ausf, json={"supiOrSuci": f"suci-0-274-012-0000-1-9-{SUCI_A['scheme_output']}", "servingNetworkName": SNN}),
             403, "INVALID_HN_PUBLIC_KEY_IDENTIFIER")
    _problem(await client.request("POST", ausf, json={"supiOrSuci": "suci-0-274-012-0000-1-1-zz", "servingNetworkName": SNN}),
             400, "MANDATORY_IE_INCORRECT")
    _problem(await client.request("POST", udm.format("suci-0-274"), json=good_udm), 400, "MANDATORY_IE_INCORRECT")
    # NRF: malformed profile, discovery without mandatory query parameters
    nf = "b0b0b0b0-0000-4000-8000-000000000001"
    _problem(await client.request("PUT", f"{core.uri('nrf')}/nnrf-nfm/v1/nf-instances/{nf}",
                                  json={"nfInstanceId": nf, "nfType": "AUSF", "nfStatus": "REGISTERED", "heartBeatTimer": "x",
                                        "ipv4Addresses": ["127.0.0.1"]}), 400, "MANDATORY_IE_INCORRECT")
    _problem(await client.request("GET", core.uri("nrf") + "/nnrf-disc/v1/nf-instances?target-nf-type=UDM"), 400,
             "MANDATORY_QUERY_PARAM_MISSING")
    # management API without the token
    r = await client.request("DELETE", f"{core.mgmt_uri}/mgmt/v1/subscribers/{SUPI}")
    assert r.status == 401

    # everything still serves, nothing in the store moved
    for name in core.ORDER:
        assert core.procs[name].alive(), core.procs[name].log()[-2000:]
    assert snapshot(core) == before
    r = await client.request("POST", ausf, json={"supiOrSuci": SUPI, "servingNetworkName": SNN})
    assert r.status == 201


async def test_garbage_on_the_socket(core):
    host, port = core.procs["udm"].sbi
    payloads = [
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x05\x07\x00\x00\x00\x00\x00garbage-garbage",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(range(256)) * 4,
        b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
        b"POST /nudm-ueau/v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"G" * 70000,
    ]
    for data in payloads:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(data)
        await writer.drain()
        try:
            await asyncio.wait_for(reader.read(65536), 2)
        except (TimeoutError, ConnectionError):
            pass
        writer.close()
    async with Http2Client(timeout=5) as c:
        r = await c.request("POST", f"{core.uri('udm')}/nudm-ueau/v1/{SUPI}/security-information/generate-auth-data",
                            body=b"x" * (5 * 1024 * 1024), headers={"content-type": "application/json"})
        assert r.status == 413
        r = await c.request("GET", core.uri("udm") + f"/nudm-sdm/v2/{SUPI}/am-data")
        assert r.status == 200
    assert core.procs["udm"].alive()
