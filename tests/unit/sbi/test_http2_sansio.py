"""The SBI server's protocol object fed with bytes (no sockets): HTTP/2 via the h2 client state
machine, HTTP/1.1, preface detection, and fuzzing with arbitrary bytes; router; JSON Patch; config."""

from __future__ import annotations

import json

import h2.config
import h2.connection
import h2.events
import pytest
from buffertransport import BufferTransport
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.errors import ConfigError
from fivecore.nf.common.jsonpatch import PatchError, PatchTestFailed, apply_patch
from fivecore.transport.http2 import HttpError, Request, Router, json_response
from fivecore.transport.http2.server import SbiProtocol, SbiServer


class FakeTransport(BufferTransport):
    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 1) if name == "peername" else default


def router() -> Router:
    r = Router("t")

    @r.route("GET", "/a/{id}/b")
    def get_b(req: Request):
        return json_response({"id": req.path_params["id"], "x": req.q1("x")})

    @r.route("POST", "/echo")
    def echo(req: Request):
        return json_response(req.json(), 201)

    @r.route("GET", "/boom")
    def boom(req: Request):
        raise RuntimeError("bug")

    return r


def proto() -> tuple[SbiProtocol, FakeTransport]:
    p = SbiProtocol(SbiServer(router(), "127.0.0.1", 0))
    t = FakeTransport()
    p.connection_made(t)
    return p, t


def test_router_matching_and_errors():
    r = router()
    route, params = r.match("GET", "/a/42/b")
    assert params == {"id": "42"}
    with pytest.raises(HttpError) as e:
        r.match("GET", "/a/42")
    assert e.value.status == 404
    with pytest.raises(HttpError) as e:
        r.match("DELETE", "/a/42/b")
    assert e.value.status == 405
    resp = r.dispatch_sync(Request("GET", "/boom"))
    assert resp.status == 500 and json.loads(resp.encoded())["cause"] == "SYSTEM_FAILURE"


def test_http2_request_response():
    p, t = proto()
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    c.initiate_connection()
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", "/echo"),
                         ("content-type", "application/json")])
    c.send_data(sid, b'{"hello": 1}', end_stream=True)
    sid2 = c.get_next_available_stream_id()
    c.send_headers(sid2, [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/a/7/b?x=1")], end_stream=True)
    p.data_received(c.data_to_send())
    events = c.receive_data(bytes(t.out))
    got = {}
    for ev in events:
        if isinstance(ev, h2.events.ResponseReceived):
            got.setdefault(ev.stream_id, {})["status"] = dict(ev.headers)[b":status"]
        if isinstance(ev, h2.events.DataReceived):
            got.setdefault(ev.stream_id, {}).setdefault("body", b"")
            got[ev.stream_id]["body"] += ev.data
    assert got[sid] == {"status": b"201", "body": b'{"hello":1}'}
    assert got[sid2]["status"] == b"200" and json.loads(got[sid2]["body"]) == {"id": "7", "x": "1"}


def test_http11_pipelined_and_errors():
    p, t = proto()
    p.data_received(b"GET /a/1/b HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    text = bytes(t.out).decode()
    assert text.startswith("HTTP/1.1 200 OK") and "HTTP/1.1 201 Created" in text
    p2, t2 = proto()
    p2.data_received(b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\n{bad}")
    assert b"400" in t2.out.split(b"\r\n")[0] and b"INVALID_MSG_FORMAT" in t2.out
    p4, t4 = proto()
    p4.data_received(b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert t4.out == b"HTTP/1.1 100 Continue\r\n\r\n"
    p4.data_received(b"{}")
    assert b"HTTP/1.1 201 Created" in t4.out
    p3, t3 = proto()
    p3.data_received(b"GET / HTTP/1.1\r\nbroken header line\r\n\r\n")
    assert t3.out.startswith(b"HTTP/1.1 400") and t3.closed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_arbitrary_bytes_never_escape(data, as_h2):
    """Whatever arrives, the protocol answers or closes; it never raises."""
    p, t = proto()
    if as_h2:
        data = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + data
    for i in range(0, len(data), 37):
        p.data_received(data[i:i + 37])
        if t.closed:
            break


def test_json_patch_rfc6902():
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = apply_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "remove", "path": "/c"},
                            {"op": "copy", "from": "/a/b", "path": "/d"}, {"op": "move", "from": "/d", "path": "/e"},
                            {"op": "test", "path": "/e/2", "value": 3}, {"op": "replace", "path": "/a/b/0", "value": 9}])
    assert out == {"a": {"b": [9, 2, 3]}, "e": [1, 2, 3]} and doc == {"a": {"b": [1, 2]}, "c": "x"}
    with pytest.raises(PatchTestFailed):
        apply_patch(doc, [{"op": "test", "path": "/c", "value": "y"}])
    for bad in ([{"op": "replace", "path": "/zz", "value": 1}], [{"op": "nope", "path": "/c"}], {"op": "add"},
                [{"op": "add", "path": "a", "value": 1}], [{"op": "remove", "path": "/a/b/7"}]):
        with pytest.raises(PatchError):
            apply_patch(doc, bad)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["op", "path", "value", "from"]),
                                st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=4), max_size=4))
def test_json_patch_fuzz(ops):
    try:
        apply_patch({"a": [1, {"b": 2}], "c": {}}, ops)
    except PatchError:
        pass


def test_config_errors_name_the_key(tmp_path):
    cfg = load_config()
    assert (cfg.nrf.sbi.address, cfg.ausf.sbi.address, cfg.udm.sbi.address, cfg.udr.sbi.address) == (
        "127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.20")
    assert cfg.plmn.serving_network_name == "5G:mnc001.mcc001.3gppnetwork.org"
    for bad, key in [({"udm": {"sbi": {"port": 70000}}}, "udm.sbi.port"), ({"udr": {"colour": 1}}, "udr.colour"),
                     ({"plmn": {"mcc": "1"}}, "plmn.mcc"), ({"home_network_keys": [{"id": 1, "scheme": "C"}]}, "home_network_keys.0.scheme")]:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_config(bad)
    f = tmp_path / "c.yaml"
    f.write_text("nrf: [1, 2\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(f)
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.yaml")
