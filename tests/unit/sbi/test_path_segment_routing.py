"""Path parameters keep their percent-encoded '/' (RFC 3986 §2.2, §3.3; TS 29.501 §4.4.1).

The router splits the raw path at its '/' first and decodes each segment afterwards, so an id
holding '/', '?', '%' or non-ASCII text is one path parameter, never a segment boundary or the
start of the query. Whatever a consumer puts into a ``{param}`` with ``path_segment`` is exactly
what the producer's handler gets, through the in-process binding and through HTTP/2 alike. The
HTTP/2 binding here is the real client (:class:`Http2Client`) and the real server protocol
(:class:`SbiProtocol`) joined by an in-memory byte pipe instead of a socket (the e2e test
``tests/e2e/test_sbi_path_segments.py`` runs the same over real sockets and processes).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.nf.ausf import AusfApp
from fivecore.nf.common import LocalRegistry, SbiClient
from fivecore.nf.nrf import NrfApp
from fivecore.nf.udm import UdmApp
from fivecore.nf.udr import UdrApp
from fivecore.store import Subscriber
from fivecore.transport.http2 import (
    Http2Client,
    HttpError,
    Request,
    Response,
    Router,
    json_response,
)
from fivecore.transport.http2.client import _ClientProtocol
from fivecore.transport.http2.message import decode_segments, path_segment, split_target
from fivecore.transport.http2.server import SbiProtocol, SbiServer

SVC = "/nsvc-echo/v1"
SNN = "5G:mnc001.mcc001.3gppnetwork.org"


# -- an in-memory connection between the real HTTP/2 client and server protocols ---------------
class _Pipe(asyncio.Transport):
    """One direction of a connection: bytes written arrive at ``receiver`` on the next loop
    turn, as from a socket. Closing either direction closes both ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.receiver: asyncio.Protocol | None = None
        self.back: _Pipe | None = None
        self.closed = False

    def write(self, data: Any) -> None:
        if not self.closed:
            self.loop.call_soon(self._deliver, bytes(data))

    def _deliver(self, data: bytes) -> None:
        if not self.closed and self.receiver is not None:
            self.receiver.data_received(data)

    def close(self) -> None:
        for pipe in (self, self.back):
            if pipe is not None and not pipe.closed:
                pipe.closed = True
                if pipe.receiver is not None:
                    self.loop.call_soon(pipe.receiver.connection_lost, None)

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class PipeClient(Http2Client):
    """The real HTTP/2 client whose connections reach ``server``'s protocol through a pipe."""

    def __init__(self, server: SbiServer) -> None:
        super().__init__(timeout=5.0)
        self.server = server

    async def _open(self, scheme: str, host: str, port: int) -> _ClientProtocol:
        loop = asyncio.get_running_loop()
        client, srv = _ClientProtocol(), SbiProtocol(self.server)
        up, down = _Pipe(loop), _Pipe(loop)
        up.receiver, down.receiver, up.back, down.back = srv, client, down, up
        srv.connection_made(down)
        client.connection_made(up)
        await client.ready
        return client


def echo_router() -> Router:
    r = Router("echo")

    def item(req: Request) -> Response:  # plain handler: runs inline
        return json_response({"params": req.path_params, "path": req.path, "query": req.query})

    async def sub(req: Request) -> Response:  # coroutine handler: the other dispatch path
        await asyncio.sleep(0)
        return json_response({"params": req.path_params, "path": req.path, "body": req.json()})

    r.add("GET", SVC + "/items/{id}/leaf", item)
    r.add("PUT", SVC + "/items/{id}/sub/{sub}", sub)
    r.add("GET", SVC + "/items/all/leaf", lambda req: json_response({"static": True}))
    r.add("GET", SVC + "/items", lambda req: json_response({"list": True}))
    return r


class Bindings:
    """The same router behind the in-process binding and behind HTTP/2."""

    def __init__(self, router: Router) -> None:
        local = LocalRegistry()
        local.register(["nsvc-echo"], router)
        self.inproc = SbiClient("AMF", "a0a0a0a0-0000-4000-8000-000000000001", local=local)
        self.http = SbiClient("AMF", "a0a0a0a0-0000-4000-8000-000000000001",
                              http=PipeClient(SbiServer(router)), static={"nsvc-echo": "http://echo.test:7777"})

    async def both(self, method: str, path: str, **kw: Any) -> tuple[tuple[int, Any], tuple[int, Any]]:
        a = await self.inproc.call(method, path, **kw)
        b = await self.http.call(method, path, **kw)
        return (a.status, a.json()), (b.status, b.json())

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture()
async def bindings():
    b = Bindings(echo_router())
    yield b
    await b.close()


# -- the helpers ---------------------------------------------------------------------------------
def test_path_segment_encodes_everything_but_unreserved() -> None:
    assert path_segment("imsi-001010000000001") == "imsi-001010000000001"
    assert path_segment("a/b?c#d%e f") == "a%2Fb%3Fc%23d%25e%20f"
    assert path_segment("ü") == "%C3%BC"
    assert path_segment(5) == "5"
    assert path_segment("x" * 200) == "x" * 200  # long values are encoded, just not remembered


def test_split_target_keeps_the_path_encoded() -> None:
    assert split_target("/a%2Fb/c?x=%2F") == ("/a%2Fb/c", "x=%2F")
    assert split_target("/a%3Fb") == ("/a%3Fb", "")


def test_decode_segments_splits_before_decoding() -> None:
    assert decode_segments("/a%2Fb/c") == ["", "a/b", "c"]
    assert decode_segments("/%25%32%46") == ["", "%2F"]  # decoded once: "%252F" stays data
    assert decode_segments("/bad%zz/x") == ["", "bad%zz", "x"]  # not an escape: kept as sent
    for bad in ("/%FF", "/a%C3", "/é"):
        with pytest.raises(HttpError) as e:
            decode_segments(bad)
        assert e.value.status == 400 and e.value.cause == "INVALID_MSG_FORMAT"


# -- the router ----------------------------------------------------------------------------------
def test_router_encoded_slash_stays_inside_its_segment() -> None:
    r = echo_router()
    route, params = r.match("GET", SVC + "/items/a%2Fb/leaf")
    assert params == {"id": "a/b"}
    # decoded as a whole this would be items/a/b/leaf: no such route, and not a different one
    with pytest.raises(HttpError) as e:
        r.match("GET", SVC + "/items%2Fall/leaf")
    assert e.value.status == 404
    # a static route is not reached through an encoded '/'
    with pytest.raises(HttpError) as e:
        r.match("GET", "/nsvc-echo%2Fv1/items")
    assert e.value.status == 404
    # encoded unreserved characters are the same characters (RFC 3986 §6.2.2.2)
    assert r.match("GET", SVC + "/items/%61ll/leaf")[0].handler(Request("GET", "/")).json() == {"static": True}
    assert r.match("GET", "/nsvc%2Decho/v1/items/x/leaf")[1] == {"id": "x"}
    with pytest.raises(HttpError) as e:  # an encoded '/' is data, not a trailing slash
        r.match("GET", SVC + "/items%2F")
    assert e.value.status == 404
    with pytest.raises(HttpError) as e:
        r.match("GET", SVC + "/items/%FF/leaf")
    assert e.value.status == 400


@pytest.mark.parametrize("value", ["a/b", "a?b", "a%b", "%2F", "100%25", "ü-é", "Ω/?#[]@!$&'()*+,;=",
                                   "..", ".", " ", "a\x00b", "\U0001f4e1"])
def test_router_gives_the_decoded_value(value: str) -> None:
    route, params = echo_router().match("GET", f"{SVC}/items/{path_segment(value)}/leaf")
    assert params == {"id": value}


def test_dispatch_answers_problem_details_for_an_undecodable_path() -> None:
    resp = echo_router().dispatch_sync(Request("GET", SVC + "/items/%C3%28/leaf"))
    assert resp is not None and resp.status == 400
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["cause"] == "INVALID_MSG_FORMAT"


# -- both bindings -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["a/b", "a%3Fb?x=1", "a%b", "%", "%2F%2F", "ü", "\U0001f4e1/\u200b",
                                   "all/leaf", "x/../y", "#frag", "a+b c"])
async def test_both_bindings_deliver_the_same_id(bindings: Bindings, value: str) -> None:
    path = f"{SVC}/items/{path_segment(value)}/leaf"
    a, b = await bindings.both("GET", path, query={"q": "x/y"})
    assert a == b
    assert a[0] == 200 and a[1]["params"] == {"id": value}
    assert a[1]["path"] == path and a[1]["query"] == {"q": ["x/y"]}


async def test_both_bindings_same_query_when_given_in_the_path(bindings: Bindings) -> None:
    a, b = await bindings.both("GET", f"{SVC}/items/{path_segment('a?b')}/leaf?q=1&q=%2F")
    assert a == b and a[1]["params"] == {"id": "a?b"} and a[1]["query"] == {"q": ["1", "/"]}
    # a fragment is never sent (RFC 3986 §3.5): neither binding hands it over
    for path in (f"{SVC}/items/x/leaf#frag/more", f"{SVC}/items/x/leaf?q=1#frag"):
        a, b = await bindings.both("GET", path)
        assert a == b and a[1]["params"] == {"id": "x"}, (path, a, b)


@pytest.mark.parametrize(("raw", "status", "ident"), [
    (SVC + "/items/%FF/leaf", 400, None),  # not UTF-8
    (SVC + "/items/é/leaf", 400, None),  # must travel percent-encoded
    (SVC + "/items%2Fall/leaf", 404, None),  # decoded whole, this would be the static route
    (SVC + "/items/all%2Fleaf", 404, None),
    (SVC + "/items/a/b/leaf", 404, None),
    (SVC + "/items/%zz/leaf", 200, "%zz"),  # not an escape: the text as sent
    (SVC + "/items//x//leaf", 200, "x"),  # empty segments do not count, as unencoded
    (SVC + "/items/x%2F/leaf", 200, "x/"),
])
async def test_both_bindings_agree_on_hostile_raw_paths(bindings: Bindings, raw: str, status: int,
                                                         ident: str | None) -> None:
    """Paths no client of ours builds: the same answer either way, never a route that a
    decoded '/' made up."""
    a, b = await bindings.both("GET", raw)
    assert a == b
    assert a[0] == status, a
    if status == 200:
        assert a[1]["params"] == {"id": ident} and a[1]["path"] == raw
    else:
        assert a[1]["status"] == status and a[1]["cause"] in ("INVALID_MSG_FORMAT", "RESOURCE_URI_STRUCTURE_NOT_FOUND")


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT, st.sampled_from(["GET", "PUT"]))
async def test_any_path_parameter_text_arrives_unchanged(first: str, second: str, method: str) -> None:
    """What the client puts in is exactly what the handler gets, through HTTP/2 and in-process."""
    b = Bindings(echo_router())
    try:
        if method == "GET":
            path = f"{SVC}/items/{path_segment(first)}/leaf"
            want = {"id": first}
            a, h = await b.both("GET", path)
        else:
            path = f"{SVC}/items/{path_segment(first)}/sub/{path_segment(second)}"
            want = {"id": first, "sub": second}
            a, h = await b.both("PUT", path, body={"v": second})
            assert a[1]["body"] == {"v": second}
        assert a == h
        if method == "GET" and first == "all":
            assert a == (200, {"static": True})  # the literal route is the resource "all"
        else:
            assert a[0] == 200 and a[1]["params"] == want and a[1]["path"] == path
    finally:
        await b.close()


def test_empty_parameter_is_not_a_segment() -> None:
    with pytest.raises(HttpError) as e:
        echo_router().match("GET", f"{SVC}/items/{path_segment('')}/leaf")
    assert e.value.status == 404


# -- the UDM forwarding to the UDR, in one process -----------------------------------------------
@pytest.fixture()
async def chain(tmp_path):
    cfg = load_config({"db_uri": f"sqlite:///{tmp_path / 's.db'}", "udr": {"mgmt": {"enabled": False}}})
    local = LocalRegistry()
    apps = [NrfApp(cfg, local=local), UdrApp(cfg, local=local), UdmApp(cfg, local=local), AusfApp(cfg, local=local)]
    for a in apps:
        await a.start(serve=False)
    yield apps
    for a in reversed(apps):
        await a.stop()


async def test_sdm_subscription_id_with_slash_reaches_its_own_resource(chain) -> None:
    """TS 29.503 §5.2.2.3.2 / §5.2.2.4.2 through UDM and UDR: the id the UDR stored is the
    one the unsubscribe names, '/' and '?' included."""
    _, udr, udm, _ = chain
    supi = "imsi-001010000000009"
    udr.store.add(Subscriber(supi, k=bytes(16), opc=bytes(16)))
    sid = "a/b?c%d"
    sub = {"nfInstanceId": "a0a0a0a0-0000-4000-8000-000000000002", "callbackReference": "http://127.0.0.5:7777/cb",
           "monitoredResourceUris": [f"/nudm-sdm/v2/{supi}/am-data"], "subscriptionId": sid}
    r = await udm.client.call("POST", f"/nudm-sdm/v2/{path_segment(supi)}/sdm-subscriptions", body=sub)
    assert r.status == 201, r.json()
    assert r.headers["location"].endswith("/sdm-subscriptions/" + path_segment(sid))
    path = f"/nudm-sdm/v2/{path_segment(supi)}/sdm-subscriptions/{path_segment(sid)}"
    r = await udm.client.call("DELETE", path)
    assert r.status == 204, r.json()
    r = await udm.client.call("DELETE", path)
    assert r.status == 404 and r.json()["cause"] == "SUBSCRIPTION_NOT_FOUND"


@pytest.mark.parametrize("supi_or_suci", ["imsi-001010000000009/auth-events?", "imsi-001010000000009%2F",
                                          "imsi-001010000000009/../x"])
async def test_ausf_forwards_a_hostile_supi_or_suci_as_one_segment(chain, supi_or_suci: str) -> None:
    """TS 29.509 §5.2.2.2.2 -> TS 29.503 §5.4.2.2: the AUSF puts the UE's supiOrSuci into the
    UDM path. Unencoded, "imsi-…/auth-events?" reached the UDM's auth-events resource and
    "imsi-…%2F" authenticated imsi-…; as one segment the UDM refuses both as not a SUPI."""
    _, udr, _, ausf = chain
    udr.store.add(Subscriber("imsi-001010000000009", k=bytes(16), opc=bytes(16)))
    r = await ausf.client.call("POST", "/nausf-auth/v1/ue-authentications",
                               body={"supiOrSuci": supi_or_suci, "servingNetworkName": SNN})
    assert r.status == 400, r.json()
    assert r.json()["cause"] == "MANDATORY_IE_INCORRECT"
    assert r.json()["invalidParams"][0]["param"] == "supiOrSuci"
