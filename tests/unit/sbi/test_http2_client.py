"""The HTTP/2 client's framing, checked against an independent peer: the ``h2`` library's
server-side state machine and the ``hpack`` decoder. No sockets (a fake transport)."""

from __future__ import annotations

import asyncio

import h2.config
import h2.connection
import h2.events
import hpack
import pytest
from buffertransport import BufferTransport
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.transport.http2.client import _ClientProtocol, _Lost
from fivecore.transport.http2.frames import encode_headers

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20).map(str.encode)
values = st.binary(max_size=300)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b":method", b":path", b":authority", b":scheme", b"content-type"]) | names,
                          values), max_size=12))
def test_hpack_blocks_decode_with_an_independent_decoder(headers):
    assert hpack.Decoder().decode(encode_headers(tuple(headers)), raw=True) == headers


def server() -> h2.connection.H2Connection:
    s = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    s.initiate_connection()
    return s


async def connect() -> tuple[_ClientProtocol, BufferTransport, h2.connection.H2Connection]:
    c = _ClientProtocol()
    t = BufferTransport()
    c.connection_made(t)
    s = server()
    s.receive_data(t.take())
    c.data_received(s.data_to_send())
    await asyncio.sleep(0)
    return c, t, s


def req(method: bytes, path: bytes) -> list[tuple[bytes, bytes]]:
    return [(b":method", method), (b":scheme", b"http"), (b":authority", b"nf:7777"), (b":path", path)]


async def pump(c: _ClientProtocol, t: BufferTransport, s: h2.connection.H2Connection) -> list:
    await asyncio.sleep(0)  # the client flushes on the next loop iteration
    events = s.receive_data(t.take())
    return events


async def test_request_response_with_large_bodies_and_continuation():
    c, t, s = await connect()
    body = bytes(range(256)) * 1000  # 256 kB: several DATA frames, beyond the default window
    sid, fut = c.send(req(b"POST", b"/echo") + [(b"content-type", b"application/json")], body)
    got = bytearray()
    for _ in range(50):
        for ev in await pump(c, t, s):
            if isinstance(ev, h2.events.RequestReceived):
                assert dict(ev.headers)[b":path"] == b"/echo"
            elif isinstance(ev, h2.events.DataReceived):
                got += ev.data
                s.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        c.data_received(s.data_to_send())
        if len(got) == len(body):
            break
    assert bytes(got) == body
    big = [(b":status", b"200"), (b"x-big", b"v" * 20000)]  # forces a CONTINUATION frame
    s.send_headers(sid, big)
    for _ in range(20):
        s.send_data(sid, b"x" * 15_000)
    s.send_data(sid, b"done", end_stream=True, pad_length=10)
    c.data_received(s.data_to_send())
    resp = await asyncio.wait_for(fut, 1)
    assert resp.status == 200 and resp.headers["x-big"] == "v" * 20000
    assert resp.body == b"x" * 300_000 + b"done"


async def test_goaway_and_refused_streams_are_retryable():
    c, t, s = await connect()
    sid1, f1 = c.send(req(b"GET", b"/a"), b"")
    sid3, f3 = c.send(req(b"GET", b"/b"), b"")
    sid5, f5 = c.send(req(b"POST", b"/c"), b"{}")
    await pump(c, t, s)
    s.reset_stream(sid3, error_code=7)  # REFUSED_STREAM
    s.close_connection(last_stream_id=sid1)
    c.data_received(s.data_to_send())
    with pytest.raises(_Lost) as e3:
        await f3
    with pytest.raises(_Lost) as e5:
        await f5
    assert e3.value.unprocessed and e5.value.unprocessed
    assert not f1.done() and not c.usable and not c.can_open()
    c.connection_lost(None)
    with pytest.raises(_Lost) as e1:
        await f1
    assert not e1.value.unprocessed  # it may have been processed: only idempotent ones are retried


async def test_settings_ping_and_window_updates_are_answered():
    c, t, s = await connect()
    s.ping(b"12345678")
    s.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1})
    c.data_received(s.data_to_send())
    await asyncio.sleep(0)
    events = s.receive_data(t.take())
    assert any(isinstance(e, h2.events.PingAckReceived) for e in events)
    assert any(isinstance(e, h2.events.SettingsAcknowledged) for e in events)
    assert c.max_streams == 1
    c.send(req(b"GET", b"/a"), b"")
    assert not c.can_open()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
async def test_garbage_from_the_server_never_escapes(data):
    c = _ClientProtocol()
    t = BufferTransport()
    c.connection_made(t)
    _, fut = c.send(req(b"GET", b"/x"), b"")
    for i in range(0, len(data), 50):
        c.data_received(data[i:i + 50])
    if t.closed:
        assert fut.done() and isinstance(fut.exception(), _Lost)
