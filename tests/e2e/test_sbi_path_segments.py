"""Path parameters holding '/' over real HTTP/2 between real NF processes (RFC 3986 §2.2, §3.3;
TS 29.501 §4.4.1): an id with a percent-encoded '/' reaches its own resource or gets a 404/400
ProblemDetails, never a different route. The UDM (its own process) forwards to the UDR (another
process) with the id encoded again, so both hops carry it intact.

Run under the shared lock: ``flock /tmp/fivecore-bench.lock .venv/bin/pytest tests/e2e/test_sbi_path_segments.py``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.common.launch import Core
from fivecore.nf.common.validating import ValidatingHttp2Client
from fivecore.transport.http2 import Http2Client, Response, Router, SbiServer, json_response
from fivecore.transport.http2.message import path_segment
from fivecore.wire.sbi.schema import OpenApiValidator

pytestmark = pytest.mark.e2e

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
VEC = json.loads((SHARED / "vectors" / "milenage.json").read_text())["entries"][0]
SUPI = "imsi-001010000000077"
SNN = "5G:mnc001.mcc001.3gppnetwork.org"
TOKEN = {"authorization": "Bearer test-token"}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    c = Core(tmp_path_factory.mktemp("sbi-paths"))
    c.start()
    yield c
    c.stop()


@pytest.fixture()
async def client():
    cl = ValidatingHttp2Client(OpenApiValidator(SHARED / "3gpp-openapi"), timeout=10)
    yield cl
    await cl.close()
    assert cl.errors == [], "\n".join(cl.errors)


def _problem(r: Response, status: int, cause: str) -> None:
    assert r.status == status, (r.status, r.body[:300])
    assert r.headers.get("content-type") == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body.get("cause") == cause, body


async def test_subscription_id_with_slash_through_udm_and_udr(core: Core, client: ValidatingHttp2Client) -> None:
    """TS 29.503 §5.2.2.3.2 subscribe / §5.2.2.4.2 unsubscribe: the UDR keeps the id the
    consumer chose, the Location names it encoded, and the unsubscribe reaches exactly it."""
    r = await client.request("POST", core.mgmt_uri + "/mgmt/v1/subscribers", headers=TOKEN,
                             json={"imsi": SUPI, "k": VEC["k"], "opc": VEC["opc"]})
    assert r.status == 201, r.body
    udm = core.uri("udm") + f"/nudm-sdm/v2/{path_segment(SUPI)}/sdm-subscriptions"
    for sid in ("a/b", "x?y=1", "100%/é", "../am-data"):
        sub = {"nfInstanceId": "a0a0a0a0-0000-4000-8000-000000000003", "callbackReference": "http://127.0.0.5:7777/cb",
               "monitoredResourceUris": [f"/nudm-sdm/v2/{SUPI}/am-data"], "subscriptionId": sid}
        r = await client.request("POST", udm, json=sub)
        assert r.status == 201, r.body
        assert r.json()["subscriptionId"] == sid
        assert r.headers["location"].endswith("/sdm-subscriptions/" + path_segment(sid)), r.headers
        r = await client.request("DELETE", f"{udm}/{path_segment(sid)}")
        assert r.status == 204, r.body
        _problem(await client.request("DELETE", f"{udm}/{path_segment(sid)}"), 404, "SUBSCRIPTION_NOT_FOUND")


async def test_encoded_slash_never_makes_another_route(core: Core) -> None:
    """Decoded before splitting, ``{SUPI}%2F00101`` would read as ueId/servingPlmnId and fetch
    the subscriber's am-data; split first, no resource has that shape: 404."""
    async with Http2Client(timeout=10) as c:
        udr = core.uri("udr") + "/nudr-dr/v2/subscription-data"
        r = await c.request("GET", f"{udr}/{SUPI}/00101/provisioned-data/am-data")
        assert r.status in (200, 404)  # the real resource (its subscriber may not be provisioned yet)
        _problem(await c.request("GET", f"{udr}/{SUPI}%2F00101/provisioned-data/am-data"),
                 404, "RESOURCE_URI_STRUCTURE_NOT_FOUND")
        # the UDM gets one ueId holding '/': not an IMSI SUPI (TS 29.503 §6.1.7.3)
        _problem(await c.request("GET", core.uri("udm") + f"/nudm-sdm/v2/{SUPI}%2Fnssai/am-data"),
                 400, "MANDATORY_IE_INCORRECT")
        # an escape that is not UTF-8 is a malformed request, not U+FFFD in an id
        _problem(await c.request("GET", core.uri("udm") + "/nudm-sdm/v2/imsi-00101%FF/am-data"),
                 400, "INVALID_MSG_FORMAT")
    # the AUSF puts the UE's supiOrSuci into the UDM path as one segment: unencoded, the first
    # reached the UDM's auth-events resource and the second authenticated SUPI itself
    async with ValidatingHttp2Client(OpenApiValidator(SHARED / "3gpp-openapi"), timeout=10) as v:
        for hostile in (f"{SUPI}/auth-events?", f"{SUPI}%2F", f"{SUPI}/../x"):
            _problem(await v.request("POST", core.uri("ausf") + "/nausf-auth/v1/ue-authentications",
                                     json={"supiOrSuci": hostile, "servingNetworkName": SNN}),
                     400, "MANDATORY_IE_INCORRECT")
        assert v.errors == [], v.errors
    # HTTP/1.1 on the same port (schemathesis' way in) routes the same
    host, port = core.procs["udr"].sbi
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /nudr-dr/v2/subscription-data/{SUPI}%2F00101/provisioned-data/am-data HTTP/1.1\r\n"
                 f"host: {host}\r\nconnection: close\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    assert head.startswith(b"HTTP/1.1 404 "), head[:200]
    assert b"RESOURCE_URI_STRUCTURE_NOT_FOUND" in head
    for name in core.ORDER:
        assert core.procs[name].alive(), core.procs[name].log()[-2000:]


def _echo() -> Router:
    r = Router("echo")
    r.add("GET", "/nsvc-echo/v1/items/{id}/leaf",
          lambda req: json_response({"params": req.path_params, "path": req.path}))
    return r


async def _round_trip(values: list[str]) -> list[tuple[int, dict]]:
    server = SbiServer(_echo(), "127.0.0.1", 0)
    await server.start()
    try:
        async with Http2Client(timeout=10) as c:
            out = []
            for v in values:
                r = await c.request("GET", f"{server.base_url}/nsvc-echo/v1/items/{path_segment(v)}/leaf")
                out.append((r.status, r.json()))
            return out
    finally:
        await server.stop()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30), min_size=1, max_size=10))
def test_any_text_arrives_unchanged_over_a_real_socket(values: list[str]) -> None:
    """What the client puts into the path parameter is exactly what the handler gets."""
    got = asyncio.run(_round_trip(values))
    for v, (status, body) in zip(values, got, strict=True):
        assert status == 200 and body["params"] == {"id": v}, (v, status, body)
        assert body["path"] == f"/nsvc-echo/v1/items/{path_segment(v)}/leaf"

