"""The server side of an HTTP/2 connection (RFC 9113), sans-I/O: bytes in, requests out.

:class:`H2ServerConnection` takes the octets a client sent (after the connection preface) and
returns the requests that became complete; :meth:`~H2ServerConnection.respond` queues a
response; :meth:`~H2ServerConnection.data_to_send` hands back what must be written. The asyncio
adapter is :class:`fivecore.transport.http2.server.SbiProtocol`.

What it enforces, and how it answers (RFC 9113 §5.4):

- connection errors → GOAWAY with the §7 code, then :attr:`closed`: a first frame that is not
  SETTINGS (§3.4), frames over our SETTINGS_MAX_FRAME_SIZE (§4.2), HEADERS on stream 0, an even
  or a reused stream id (§5.1.1), an interrupted header block (§6.10), an HPACK error (§4.3),
  bad SETTINGS/PING/WINDOW_UPDATE/PRIORITY/RST_STREAM lengths (§6), PUSH_PROMISE from a client
  (§8.4), a window pushed over 2^31-1 (§6.9.1), DATA beyond the window we granted (§6.9.1);
- stream errors → RST_STREAM, the connection goes on: a malformed request (§8.1.1: pseudo-header
  rules of §8.3.1, upper-case or connection-specific fields of §8.2.2, a content-length that
  the DATA contradicts), DATA on a closed stream (§5.1), streams above the 1,000 we allow
  (REFUSED_STREAM, §5.1.2).

Response header blocks are encoded statelessly (static table and literals), as the client does.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

import hpack

from .frames import (
    ACK,
    COMPRESSION_ERROR,
    CONTINUATION,
    DATA,
    DEFAULT_FRAME,
    END_HEADERS,
    END_STREAM,
    FLOW_CONTROL_ERROR,
    FRAME_HEADER,
    FRAME_SIZE_ERROR,
    GOAWAY,
    HEADERS,
    MAX_WINDOW,
    NO_ERROR,
    PADDED,
    PING,
    PRIORITY,
    PRIORITY_FLAG,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    REFUSED_STREAM,
    RST_STREAM,
    S_ENABLE_PUSH,
    S_INITIAL_WINDOW_SIZE,
    S_MAX_CONCURRENT_STREAMS,
    S_MAX_FRAME_SIZE,
    SETTINGS,
    STREAM_CLOSED,
    WINDOW_UPDATE,
    BlockCache,
    FrameError,
    decode_static_block,
    frame,
    header_frames,
    unpad,
)

MAX_STREAMS = 1000
RECV_WINDOW = 16 * 1024 * 1024  # granted per stream and for the connection
MAX_HEADER_LIST = 256 * 1024
_REQUEST_PSEUDO = frozenset((b":method", b":scheme", b":path", b":authority"))
_CONNECTION_FIELDS = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                                b"upgrade"))
_U32 = struct.Struct("!L")
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")  # §8.2.1: a lower-case token
_BAD_VALUE = re.compile(rb"[\x00\r\n]|^[ \t]|[ \t]$")  # §8.2.1


@dataclass(slots=True)
class H2Request:
    """One complete request: headers as received (pseudo-headers first) and the body."""

    stream_id: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    #: the body exceeded the connection's limit; it was dropped (answer 413)
    too_big: bool = False


@dataclass(slots=True)
class _Stream:
    headers: list[tuple[bytes, bytes]]
    body: bytearray = field(default_factory=bytearray)
    expected: int | None = None
    too_big: bool = False
    recv_unacked: int = 0


class H2ServerConnection:
    """RFC 9113 server state for one connection (see the module docstring)."""

    def __init__(self, max_body: int = 4 * 1024 * 1024) -> None:
        self.max_body = max_body
        self.closed = False
        #: the §7 code of the GOAWAY we sent, when we ended the connection on an error
        self.error: tuple[int, str] | None = None
        self._out: list[bytes] = []
        self._buf = bytearray()
        self._decoder = hpack.Decoder()
        self._decoder.max_header_list_size = MAX_HEADER_LIST
        self._seen_settings = False
        self._hblock: tuple[int, int, bytearray] | None = None
        self._last_sid = 0
        self._open: dict[int, _Stream] = {}  # receiving request headers/body
        self._active: set[int] = set()  # request complete, response not finished
        self._peer_frame = DEFAULT_FRAME
        self._peer_initial = 65535
        self._send_window = 65535
        self._stream_windows: dict[int, int] = {}
        self._pending: dict[int, bytes] = {}  # response bodies waiting for window
        self._recv_window = RECV_WINDOW
        self._recv_unacked = 0
        self._blocks = BlockCache()

    # -- output ----------------------------------------------------------------------------------
    def initiate(self) -> None:
        """Our SETTINGS (§3.4) and the connection window opened to :data:`RECV_WINDOW`."""
        settings = struct.pack("!HLHL", S_MAX_CONCURRENT_STREAMS, MAX_STREAMS, S_INITIAL_WINDOW_SIZE, RECV_WINDOW)
        self._out.append(frame(SETTINGS, 0, 0, settings))
        self._out.append(frame(WINDOW_UPDATE, 0, 0, _U32.pack(RECV_WINDOW - 65535)))

    def data_to_send(self) -> bytes:
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    def goaway(self, code: int = NO_ERROR, reason: str = "") -> None:
        """GOAWAY (§6.8) naming the last stream we saw; nothing is read afterwards."""
        if not self.closed:
            self._out.append(frame(GOAWAY, 0, 0, struct.pack("!LL", self._last_sid, code) + reason.encode()[:64]))
            self.closed = True

    def respond(self, sid: int, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Queue a response; DATA beyond the client's windows waits for WINDOW_UPDATE."""
        if sid not in self._active or self.closed:
            return  # the client reset the stream meanwhile
        block = self._blocks.block(((b":status", b"%d" % status), *headers, (b"content-length", b"%d" % len(body))))
        self._out += header_frames(sid, block, not body, self._peer_frame)
        if body:
            self._stream_windows[sid] = self._stream_windows.get(sid, self._peer_initial)
            self._pending[sid] = body
            self._send_body(sid)
        else:
            self._finish(sid)

    def _send_body(self, sid: int) -> None:
        body = self._pending[sid]
        window = self._stream_windows[sid]
        while body:
            n = min(self._send_window, window, self._peer_frame, len(body))
            if n <= 0:
                break
            self._out.append(frame(DATA, END_STREAM if n == len(body) else 0, sid, body[:n]))
            self._send_window -= n
            window -= n
            body = body[n:]
        self._stream_windows[sid] = window
        if body:
            self._pending[sid] = body
        else:
            self._finish(sid)

    def _finish(self, sid: int) -> None:
        self._pending.pop(sid, None)
        self._stream_windows.pop(sid, None)
        self._active.discard(sid)

    def _reset(self, sid: int, code: int) -> None:
        """A stream error (§5.4.2)."""
        self._out.append(frame(RST_STREAM, 0, sid, _U32.pack(code)))
        self._open.pop(sid, None)
        self._finish(sid)

    # -- input -----------------------------------------------------------------------------------
    def receive(self, data: bytes) -> list[H2Request]:
        """Frames in; the requests completed by them out. Protocol errors end the connection
        (GOAWAY queued, :attr:`closed` set), never raise."""
        if self.closed:
            return []
        self._buf += data
        buf = self._buf
        pos = 0
        done: list[H2Request] = []
        try:
            while len(buf) - pos >= 9:
                hi, lo, ftype, flags, sid = FRAME_HEADER.unpack_from(buf, pos)
                length = (hi << 8) | lo
                if length > DEFAULT_FRAME:
                    raise FrameError(f"frame of {length} octets", FRAME_SIZE_ERROR)
                if len(buf) - pos - 9 < length:
                    break
                payload = bytes(buf[pos + 9 : pos + 9 + length])
                pos += 9 + length
                self._on_frame(ftype, flags, sid & 0x7FFFFFFF, payload, done)
                if self.closed:
                    break
        except FrameError as exc:
            self.error = (exc.code, str(exc))
            self.goaway(exc.code, str(exc))
            return done
        del buf[:pos]
        if self._recv_unacked > RECV_WINDOW // 2:
            self._out.append(frame(WINDOW_UPDATE, 0, 0, _U32.pack(self._recv_unacked)))
            self._recv_window += self._recv_unacked
            self._recv_unacked = 0
        return done

    def _on_frame(self, ftype: int, flags: int, sid: int, payload: bytes, done: list[H2Request]) -> None:
        if not self._seen_settings:
            if ftype != SETTINGS or flags & ACK:
                raise FrameError("the client preface must continue with SETTINGS")
            self._seen_settings = True
        if self._hblock is not None and (ftype != CONTINUATION or sid != self._hblock[0]):
            raise FrameError("header block interrupted")
        if ftype == DATA:
            self._on_data(flags, sid, payload, done)
        elif ftype == HEADERS:
            if sid == 0:
                raise FrameError("HEADERS on stream 0")
            if flags & PADDED:
                payload = unpad(payload)
            if flags & PRIORITY_FLAG:
                if len(payload) < 5:
                    raise FrameError("HEADERS priority fields missing", FRAME_SIZE_ERROR)
                payload = payload[5:]
            if flags & END_HEADERS:
                self._on_headers(sid, flags, payload, done)
            else:
                self._hblock = (sid, flags, bytearray(payload))
        elif ftype == CONTINUATION:
            if self._hblock is None:
                raise FrameError("CONTINUATION without a header block")
            self._hblock[2].extend(payload)
            if len(self._hblock[2]) > MAX_HEADER_LIST:
                raise FrameError("header block too large", COMPRESSION_ERROR)
            if flags & END_HEADERS:
                hsid, hflags, block = self._hblock
                self._hblock = None
                self._on_headers(hsid, hflags, bytes(block), done)
        elif ftype == SETTINGS:
            if sid != 0:
                raise FrameError("SETTINGS on a stream")
            if flags & ACK:
                if payload:
                    raise FrameError("SETTINGS ACK with a payload", FRAME_SIZE_ERROR)
                return
            if len(payload) % 6:
                raise FrameError("SETTINGS length not a multiple of 6", FRAME_SIZE_ERROR)
            self._on_settings(payload)
            self._out.append(frame(SETTINGS, ACK, 0))
        elif ftype == WINDOW_UPDATE:
            self._on_window_update(sid, payload)
        elif ftype == PING:
            if sid != 0:
                raise FrameError("PING on a stream")
            if len(payload) != 8:
                raise FrameError("PING length", FRAME_SIZE_ERROR)
            if not flags & ACK:
                self._out.append(frame(PING, ACK, 0, payload))
        elif ftype == RST_STREAM:
            if sid == 0:
                raise FrameError("RST_STREAM on stream 0")
            if len(payload) != 4:
                raise FrameError("RST_STREAM length", FRAME_SIZE_ERROR)
            if sid > self._last_sid:
                raise FrameError("RST_STREAM on an idle stream")
            self._open.pop(sid, None)
            self._finish(sid)
        elif ftype == PRIORITY:
            if sid == 0:
                raise FrameError("PRIORITY on stream 0")
            if len(payload) != 5:
                raise FrameError("PRIORITY length", FRAME_SIZE_ERROR)
        elif ftype == GOAWAY:
            if sid != 0:
                raise FrameError("GOAWAY on a stream")
            # the client opens nothing more; the streams it has open are still answered
        elif ftype == PUSH_PROMISE:
            raise FrameError("PUSH_PROMISE from a client")
        # unknown frame types are ignored (§5.5)

    def _on_headers(self, sid: int, flags: int, block: bytes, done: list[H2Request]) -> None:
        try:
            headers = decode_static_block(block)
            if headers is None:  # dynamic table or Huffman: the decoder that keeps the table
                headers = self._decoder.decode(block, raw=True)
        except (hpack.HPACKError, ValueError, IndexError) as exc:
            raise FrameError(f"HPACK: {exc}", COMPRESSION_ERROR) from None
        st = self._open.get(sid)
        if st is not None:  # trailers (§8.1): must end the stream; their fields are not used
            if not flags & END_STREAM:
                self._reset(sid, PROTOCOL_ERROR)
                return
            self._complete(sid, st, done)
            return
        if sid % 2 == 0 or sid <= self._last_sid:
            if sid in self._active:  # a second HEADERS on a half-closed stream
                self._reset(sid, STREAM_CLOSED)
                return
            raise FrameError(f"stream {sid} not a new client stream")
        self._last_sid = sid
        if len(self._open) + len(self._active) >= MAX_STREAMS:
            self._out.append(frame(RST_STREAM, 0, sid, _U32.pack(REFUSED_STREAM)))
            return
        expected = _check_request(headers)
        if expected is None:
            self._out.append(frame(RST_STREAM, 0, sid, _U32.pack(PROTOCOL_ERROR)))
            return
        st = _Stream(list(headers), expected=None if expected == -1 else expected)
        if flags & END_STREAM:
            self._complete(sid, st, done)
        else:
            self._open[sid] = st

    def _on_data(self, flags: int, sid: int, payload: bytes, done: list[H2Request]) -> None:
        if sid == 0:
            raise FrameError("DATA on stream 0")
        size = len(payload)  # flow control counts padding too (§6.9)
        if size > self._recv_window:
            raise FrameError("DATA beyond the connection window", FLOW_CONTROL_ERROR)
        self._recv_window -= size
        self._recv_unacked += size
        if flags & PADDED:
            payload = unpad(payload)
        st = self._open.get(sid)
        if st is None:
            if sid > self._last_sid:
                raise FrameError("DATA on an idle stream")
            self._reset(sid, STREAM_CLOSED)
            return
        st.recv_unacked += size
        if not st.too_big:
            st.body += payload
            if len(st.body) > self.max_body:
                st.too_big = True
                st.body = bytearray()
        if flags & END_STREAM:
            self._complete(sid, st, done)
        elif st.recv_unacked > RECV_WINDOW // 2:
            self._out.append(frame(WINDOW_UPDATE, 0, sid, _U32.pack(st.recv_unacked)))
            st.recv_unacked = 0

    def _complete(self, sid: int, st: _Stream, done: list[H2Request]) -> None:
        self._open.pop(sid, None)
        if st.expected is not None and not st.too_big and st.expected != len(st.body):
            self._reset(sid, PROTOCOL_ERROR)  # §8.1.1: content-length disagrees with the DATA
            return
        self._active.add(sid)
        done.append(H2Request(sid, st.headers, bytes(st.body), st.too_big))

    def _on_settings(self, payload: bytes) -> None:
        for off in range(0, len(payload), 6):
            ident, value = struct.unpack_from("!HL", payload, off)
            if ident == S_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise FrameError("INITIAL_WINDOW_SIZE over 2^31-1", FLOW_CONTROL_ERROR)
                delta = value - self._peer_initial
                self._peer_initial = value
                for s in self._stream_windows:
                    self._stream_windows[s] += delta
            elif ident == S_MAX_FRAME_SIZE:
                if not DEFAULT_FRAME <= value <= 0xFFFFFF:
                    raise FrameError("MAX_FRAME_SIZE out of range")
                self._peer_frame = value
            elif ident == S_ENABLE_PUSH and value > 1:
                raise FrameError("ENABLE_PUSH neither 0 nor 1")
        self._flush_pending()

    def _on_window_update(self, sid: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise FrameError("WINDOW_UPDATE length", FRAME_SIZE_ERROR)
        inc = _U32.unpack(payload)[0] & 0x7FFFFFFF
        if sid == 0:
            if inc == 0:
                raise FrameError("WINDOW_UPDATE of 0")
            self._send_window += inc
            if self._send_window > MAX_WINDOW:
                raise FrameError("connection window over 2^31-1", FLOW_CONTROL_ERROR)
        elif sid in self._stream_windows:
            if inc == 0:
                self._reset(sid, PROTOCOL_ERROR)
                return
            self._stream_windows[sid] += inc
            if self._stream_windows[sid] > MAX_WINDOW:
                self._reset(sid, FLOW_CONTROL_ERROR)
                return
        elif sid > self._last_sid:
            raise FrameError("WINDOW_UPDATE on an idle stream")
        self._flush_pending()

    def _flush_pending(self) -> None:
        for sid in list(self._pending):
            self._stream_windows.setdefault(sid, self._peer_initial)
            self._send_body(sid)


def _check_request(headers: list[tuple[bytes, bytes]]) -> int | None:
    """§8.3.1 / §8.2.2 checks; None when malformed, else the content-length (-1 when absent)."""
    seen: set[bytes] = set()
    regular = False
    length = -1
    for name, value in headers:
        if name[:1] == b":":
            if regular or name not in _REQUEST_PSEUDO or name in seen:
                return None
            seen.add(name)
            if not value or _BAD_VALUE.search(value):
                return None
            if name == b":path" and value[:1] != b"/" and value != b"*":
                return None
            continue
        regular = True
        if not _FIELD_NAME.fullmatch(name) or name in _CONNECTION_FIELDS or _BAD_VALUE.search(value):
            return None
        if name == b"te" and value != b"trailers":
            return None
        if name == b"content-length":
            if not value.isdigit() or (length != -1 and int(value) != length):
                return None
            length = int(value)
    if seen & {b":method", b":scheme", b":path"} != {b":method", b":scheme", b":path"}:
        return None
    return length
