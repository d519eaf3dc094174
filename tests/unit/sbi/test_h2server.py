"""The sans-I/O HTTP/2 server connection (RFC 9113) against the independent ``h2`` client state
machine: requests, flow control both ways, CONTINUATION, malformed requests (stream errors),
broken framing (connection errors), and fuzzing of valid-then-mutated frame streams."""

from __future__ import annotations

import struct

import h2.config
import h2.connection
import h2.events
import h2.settings
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.transport.http2 import frames
from fivecore.transport.http2.h2server import MAX_STREAMS, H2ServerConnection

REQ = [(":method", "POST"), (":scheme", "http"), (":authority", "udr"), (":path", "/nudr-dr/v2/x")]


def pair(client_settings: dict | None = None) -> tuple[H2ServerConnection, h2.connection.H2Connection]:
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    c.initiate_connection()
    if client_settings:
        c.update_settings(client_settings)
    s = H2ServerConnection()
    s.initiate()
    preface = c.data_to_send()
    assert preface.startswith(frames.PREFACE)
    assert s.receive(preface[len(frames.PREFACE):]) == []
    c.receive_data(s.data_to_send())
    s.receive(c.data_to_send())  # the client's SETTINGS ACK
    return s, c


def exchange(s: H2ServerConnection, c: h2.connection.H2Connection) -> list:
    """Shuttle bytes until both sides are quiet; the client's events."""
    events: list = []
    for _ in range(200):
        out = s.data_to_send()
        if out:
            events += c.receive_data(out)
        back = c.data_to_send()
        if back:
            s.receive(back)
        if not out and not back:
            break
    return events


def responses(events: list) -> dict[int, dict]:
    got: dict[int, dict] = {}
    for ev in events:
        if isinstance(ev, h2.events.ResponseReceived):
            got.setdefault(ev.stream_id, {"body": b""})["headers"] = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            got.setdefault(ev.stream_id, {"body": b""})["body"] += ev.data
        elif isinstance(ev, h2.events.StreamEnded):
            got.setdefault(ev.stream_id, {"body": b""})["ended"] = True
        elif isinstance(ev, h2.events.StreamReset):
            got.setdefault(ev.stream_id, {"body": b""})["reset"] = ev.error_code
    return got


def _parse(out: bytes) -> list[tuple[int, int, bytes]]:
    """(type, stream, payload) of each frame: for answers to frames h2 would never send."""
    res, pos = [], 0
    while pos + 9 <= len(out):
        hi, lo, ftype, _flags, sid = frames.FRAME_HEADER.unpack_from(out, pos)
        length = (hi << 8) | lo
        res.append((ftype, sid, out[pos + 9:pos + 9 + length]))
        pos += 9 + length
    return res


def _resets(out: bytes) -> dict[int, int]:
    return {sid: struct.unpack("!L", p)[0] for t, sid, p in _parse(out) if t == frames.RST_STREAM}


def _goaway_code(out: bytes) -> int | None:
    codes = [struct.unpack_from("!LL", p)[1] for t, _sid, p in _parse(out) if t == frames.GOAWAY]
    return codes[0] if codes else None


def test_request_and_response_round_trip():
    s, c = pair()
    c.send_headers(1, [*REQ, ("content-type", "application/json")])
    c.send_data(1, b'{"a":1}', end_stream=True)
    c.send_headers(3, [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/y?q=1")],
                   end_stream=True)
    reqs = s.receive(c.data_to_send())
    assert [(r.stream_id, r.body) for r in reqs] == [(1, b'{"a":1}'), (3, b"")]
    assert (b":path", b"/y?q=1") in reqs[1].headers
    s.respond(3, 404, [(b"content-type", b"application/problem+json")], b'{"status":404}')
    s.respond(1, 201, [(b"location", b"http://udr/x/1"), (b"content-type", b"application/json")], b"{}")
    got = responses(exchange(s, c))
    assert got[1]["headers"][b":status"] == b"201" and got[1]["headers"][b"location"] == b"http://udr/x/1"
    assert got[1]["body"] == b"{}" and got[1]["ended"]
    assert got[3]["headers"][b":status"] == b"404" and got[3]["headers"][b"content-length"] == b"14"


def test_large_bodies_obey_both_flow_control_windows():
    s, c = pair({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
    body = bytes(range(256)) * 4000  # 1 MB up, larger than the client's default 64 KiB window
    c.send_headers(1, REQ)
    sent = 0
    reqs = []
    while sent < len(body):  # the client sends as our windows allow
        n = min(c.local_flow_control_window(1), c.max_outbound_frame_size, len(body) - sent)
        c.send_data(1, body[sent:sent + n], end_stream=sent + n == len(body))
        sent += n
        reqs += s.receive(c.data_to_send())
        exchange(s, c)
    assert len(reqs) == 1 and reqs[0].body == body
    s.respond(1, 200, [], body)  # back down through a 1,000-octet stream window
    first = s.data_to_send()
    assert len(first) < 2000  # headers + at most one window of DATA before a WINDOW_UPDATE
    events = c.receive_data(first)
    received = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    for _ in range(5000):
        for e in events:
            if isinstance(e, h2.events.DataReceived):
                c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        s.receive(c.data_to_send())
        events = c.receive_data(s.data_to_send())
        received += b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
        if any(isinstance(e, h2.events.StreamEnded) for e in events):
            break
    assert received == body


def test_header_block_split_over_continuation_frames():
    s, c = pair()
    c.max_outbound_frame_size = 16384
    big = [(f"x-fill-{i}", "v" * 200) for i in range(200)]  # ~45 KB of headers -> CONTINUATION
    c.send_headers(1, [*REQ, *big], end_stream=True)
    reqs = s.receive(c.data_to_send())
    assert len(reqs) == 1 and (b"x-fill-199", b"v" * 200) in reqs[0].headers


def test_malformed_requests_are_stream_errors_and_the_connection_goes_on():
    s, c = pair()
    raw = [
        [(b":method", b"GET"), (b":path", b"/a")],  # no :scheme
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/a"), (b"Upper", b"x")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/a"), (b"connection", b"close")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b"x", b"1"), (b":path", b"/a")],  # pseudo after regular
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/a"), (b"te", b"gzip")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"a")],
    ]
    out = bytearray()
    for i, hdrs in enumerate(raw):  # written by hand: h2 itself refuses to send these
        block = frames.encode_headers(tuple(hdrs))
        out += frames.frame(frames.HEADERS, frames.END_HEADERS | frames.END_STREAM, 1 + 2 * i, block)
    assert s.receive(bytes(out)) == []
    assert _resets(s.data_to_send()) == {sid: frames.PROTOCOL_ERROR for sid in (1, 3, 5, 7, 9, 11)}
    assert not s.closed
    ok = frames.encode_headers(((b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/a"),
                                (b"content-length", b"5")))
    out = frames.frame(frames.HEADERS, frames.END_HEADERS, 13, ok) + frames.frame(frames.DATA, frames.END_STREAM, 13, b"123")
    assert s.receive(out) == []  # content-length 5, DATA 3: malformed (RFC 9113 §8.1.1)
    assert _resets(s.data_to_send()) == {13: frames.PROTOCOL_ERROR}
    ok = frames.encode_headers(((b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/a")))
    assert [r.stream_id for r in s.receive(frames.frame(frames.HEADERS, frames.END_HEADERS | frames.END_STREAM, 15, ok))] == [15]




def test_framing_violations_end_the_connection_with_goaway():
    hdr = frames.encode_headers(((b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/")))
    cases = {
        "even stream": (frames.frame(frames.HEADERS, frames.END_HEADERS, 2, hdr), frames.PROTOCOL_ERROR),
        "stream 0": (frames.frame(frames.HEADERS, frames.END_HEADERS, 0, hdr), frames.PROTOCOL_ERROR),
        "oversized": (frames.FRAME_HEADER.pack(0x100, 0, frames.DATA, 0, 1) + b"x" * 65536, frames.FRAME_SIZE_ERROR),
        "bad ping": (frames.frame(frames.PING, 0, 0, b"1234"), frames.FRAME_SIZE_ERROR),
        "push": (frames.frame(frames.PUSH_PROMISE, 0, 1, b"\0\0\0\2"), frames.PROTOCOL_ERROR),
        "hpack": (frames.frame(frames.HEADERS, frames.END_HEADERS, 1, b"\xff\xff\xff\xff"), frames.COMPRESSION_ERROR),
        "window 0": (frames.frame(frames.WINDOW_UPDATE, 0, 0, b"\0\0\0\0"), frames.PROTOCOL_ERROR),
        "interrupted block": (frames.frame(frames.HEADERS, 0, 1, hdr) + frames.frame(frames.PING, 0, 0, b"8" * 8),
                              frames.PROTOCOL_ERROR),
        "data idle": (frames.frame(frames.DATA, 0, 9, b"x"), frames.PROTOCOL_ERROR),
    }
    for name, (data, code) in cases.items():
        s, _c = pair()
        s.receive(data)
        assert s.closed, name
        assert _goaway_code(s.data_to_send()) == code, name
    s = H2ServerConnection()
    s.initiate()
    s.data_to_send()
    s.receive(frames.frame(frames.PING, 0, 0, b"8" * 8))  # §3.4: SETTINGS must come first
    assert s.closed and _goaway_code(s.data_to_send()) == frames.PROTOCOL_ERROR


def test_ping_settings_and_stream_limit():
    s, c = pair()
    c.ping(b"12345678")
    s.receive(c.data_to_send())
    assert any(isinstance(e, h2.events.PingAckReceived) for e in c.receive_data(s.data_to_send()))
    out = bytearray()
    block = frames.encode_headers(((b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/")))
    for i in range(MAX_STREAMS + 2):  # opened, never answered: the extra ones are refused
        out += frames.frame(frames.HEADERS, frames.END_HEADERS | frames.END_STREAM, 1 + 2 * i, block)
    assert len(s.receive(bytes(out))) == MAX_STREAMS
    assert list(_resets(s.data_to_send()).values()) == [frames.REFUSED_STREAM] * 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 255), st.integers(0, 9), st.binary(max_size=40)),
                max_size=12))
def test_any_frame_sequence_is_answered_never_raised(frame_specs):
    """Arbitrary frames after a valid preface: requests, stream resets or GOAWAY, never an exception."""
    s, _c = pair()
    data = b"".join(frames.frame(t, f, sid, p) for t, f, sid, p in frame_specs)
    s.receive(data)
    s.data_to_send()


_names = st.sampled_from([b":status", b":path", b"content-type", b"location", b"x-custom", b"date", b"accept"])
_headers = st.lists(st.tuples(_names, st.binary(max_size=300)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(_headers)
def test_static_block_fast_path_decodes_what_we_encode(headers):
    assert frames.decode_static_block(frames.encode_headers(tuple(headers))) == headers


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _headers), max_size=6))
def test_fast_path_and_hpack_decoder_stay_in_step(blocks):
    """Blocks from a real (indexing, Huffman) HPACK encoder and from our stateless one, in any
    order, decode the same through fast path + fallback as through hpack alone."""
    import hpack

    enc = hpack.Encoder()
    ours, reference = hpack.Decoder(), hpack.Decoder()
    for dynamic, headers in blocks:
        block = enc.encode(headers) if dynamic else frames.encode_headers(tuple(headers))
        got = frames.decode_static_block(block)
        if got is None:
            got = ours.decode(block, raw=True)
        assert [tuple(h) for h in got] == [tuple(h) for h in reference.decode(block, raw=True)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fast_path_on_garbage_returns_none_or_raises_typed(data):
    try:
        frames.decode_static_block(data)
    except (IndexError, ValueError):
        pass
