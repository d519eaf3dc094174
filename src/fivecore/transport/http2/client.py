"""A thin HTTP/2 client written on RFC 9113 / RFC 7541 (TS 29.500 §5.2.2).

One :class:`Http2Client` keeps a small pool of connections per origin and multiplexes requests
as streams over them. It honours per-request timeouts (the stream is reset with CANCEL) and
retries a request once on a fresh connection when the connection is lost or sends GOAWAY —
always when the peer said the stream was never processed (RFC 9113 §6.8, streams above the
GOAWAY's last-stream-id, or RST_STREAM REFUSED_STREAM), otherwise only for idempotent methods
(RFC 9110 §9.2.2).

``http://`` URLs use h2c with prior knowledge (RFC 9113 §3.3); ``https://`` uses TLS with ALPN h2.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import struct
from typing import Any
from urllib.parse import urlencode, urlsplit

import hpack

from .frames import (
    ACK,
    CANCEL,
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    FRAME_HEADER,
    GOAWAY,
    HEADERS,
    PADDED,
    PING,
    PREFACE,
    PRIORITY_FLAG,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    REFUSED_STREAM,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    BlockCache,
    FrameError,
    decode_static_block,
    frame,
    header_frames,
    unpad,
)
from .message import JSON, ConnectionLost, RequestTimeout, Response, TransportError, dumps

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_WINDOW = 16 * 1024 * 1024


class _Lost(ConnectionLost):
    def __init__(self, msg: str, unprocessed: bool) -> None:
        super().__init__(msg)
        self.unprocessed = unprocessed


class _Pending:
    __slots__ = ("future", "status", "headers", "body", "out", "recv")

    def __init__(self, future: asyncio.Future[Response]) -> None:
        self.future = future
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.out = b""
        self.recv = 0


class _ClientProtocol(asyncio.Protocol):
    """One HTTP/2 connection as a client: framing, flow control and HPACK decoding (RFC 9113).

    Written directly on the RFC (the generic ``h2`` state machine costs several times more per
    request): header blocks are encoded statelessly and cached, responses decoded with ``hpack``.
    """

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Pending] = {}
        self.usable = True
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self._flush_pending = False
        self._out: list[bytes] = []
        self._buf = bytearray()
        self._next_sid = 1
        self._decoder = hpack.Decoder()
        self._decoder.max_header_list_size = 256 * 1024
        self._hblock: tuple[int, int, bytearray] | None = None  # (stream, flags, fragments) awaiting CONTINUATION
        self.max_streams = 100
        self._peer_frame = 16384
        self._peer_initial = 65535
        self._send_window = 65535
        self._stream_windows: dict[int, int] = {}
        self._recv_consumed = 0
        self._blocks = BlockCache()

    # -- asyncio callbacks --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        settings = struct.pack("!HLHL", 0x2, 0, 0x4, _WINDOW)  # ENABLE_PUSH=0, INITIAL_WINDOW_SIZE
        self._write(PREFACE + frame(SETTINGS, 0, 0, settings)
                    + frame(WINDOW_UPDATE, 0, 0, struct.pack("!L", _WINDOW - 65535)))
        if not self.ready.done():
            self.ready.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail_all(lambda sid: _Lost("connection lost", False))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        buf = self._buf
        pos = 0
        try:
            while len(buf) - pos >= 9:
                hi, lo, ftype, flags, sid = FRAME_HEADER.unpack_from(buf, pos)
                length = (hi << 8) | lo
                if length > max(self._peer_frame, 16384) * 64:
                    raise FrameError("frame too large")
                if len(buf) - pos - 9 < length:
                    break
                payload = bytes(buf[pos + 9 : pos + 9 + length])
                pos += 9 + length
                self._on_frame(ftype, flags, sid & 0x7FFFFFFF, payload)
        except (FrameError, hpack.HPACKError, struct.error, ValueError, IndexError) as exc:
            self._abort(f"protocol error: {exc}")
            return
        del buf[:pos]
        if self._recv_consumed > _WINDOW // 2:
            self._out.append(frame(WINDOW_UPDATE, 0, 0, struct.pack("!L", self._recv_consumed)))
            self._recv_consumed = 0
        self._flush()

    # -- frames in --------------------------------------------------------------------------------
    def _on_frame(self, ftype: int, flags: int, sid: int, payload: bytes) -> None:
        if self._hblock is not None and ftype != CONTINUATION:
            raise FrameError("header block interrupted")
        if ftype == DATA:
            self._recv_consumed += len(payload)
            p = self.streams.get(sid)
            if flags & PADDED:
                payload = unpad(payload)
            if p is not None:
                p.body += payload
                p.recv += len(payload)
                if p.recv > _WINDOW // 2 and not flags & END_STREAM:
                    self._out.append(frame(WINDOW_UPDATE, 0, sid, struct.pack("!L", p.recv)))
                    p.recv = 0
                if flags & END_STREAM:
                    self._done(sid)
        elif ftype == HEADERS:
            if flags & PADDED:
                payload = unpad(payload)
            if flags & PRIORITY_FLAG:
                payload = payload[5:]
            if flags & END_HEADERS:
                self._on_headers(sid, flags, payload)
            else:
                self._hblock = (sid, flags, bytearray(payload))
        elif ftype == CONTINUATION:
            if self._hblock is None or self._hblock[0] != sid:
                raise FrameError("unexpected CONTINUATION")
            self._hblock[2].extend(payload)
            if flags & END_HEADERS:
                hsid, hflags, block = self._hblock
                self._hblock = None
                self._on_headers(hsid, hflags, bytes(block))
        elif ftype == SETTINGS:
            if not flags & ACK:
                self._on_settings(payload)
                self._out.append(frame(SETTINGS, ACK, 0))
        elif ftype == WINDOW_UPDATE:
            inc = struct.unpack("!L", payload[:4])[0] & 0x7FFFFFFF
            if sid == 0:
                self._send_window += inc
            elif sid in self._stream_windows:
                self._stream_windows[sid] += inc
            self._send_pending()
        elif ftype == PING:
            if not flags & ACK:
                self._out.append(frame(PING, ACK, 0, payload[:8]))
        elif ftype == RST_STREAM:
            code = struct.unpack("!L", payload[:4])[0]
            p = self.streams.pop(sid, None)
            self._stream_windows.pop(sid, None)
            if p is not None and not p.future.done():
                p.future.set_exception(_Lost(f"stream reset (error {code})", code == REFUSED_STREAM))
        elif ftype == GOAWAY:
            last = struct.unpack("!L", payload[:4])[0] & 0x7FFFFFFF
            self.usable = False
            self._fail_all(lambda s: _Lost("GOAWAY", True), above=last)
        elif ftype == PUSH_PROMISE:
            raise FrameError("PUSH_PROMISE although push is disabled")
        # PRIORITY and unknown frame types are ignored (RFC 9113 §5.5)

    def _on_headers(self, sid: int, flags: int, block: bytes) -> None:
        headers = decode_static_block(block)
        if headers is None:  # uses the dynamic table or Huffman: the decoder keeping the table
            headers = self._decoder.decode(block, raw=True)
        p = self.streams.get(sid)
        if p is not None:
            for k, v in headers:
                if k == b":status":
                    status = int(v)
                    if 100 <= status < 200:  # interim response; the final one follows
                        p.headers.clear()
                        break
                    p.status = status
                else:
                    p.headers[k.decode("latin-1")] = v.decode("latin-1")
            if flags & END_STREAM:
                self._done(sid)

    def _on_settings(self, payload: bytes) -> None:
        for off in range(0, len(payload) - len(payload) % 6, 6):
            ident, value = struct.unpack_from("!HL", payload, off)
            if ident == 0x3:
                self.max_streams = value
            elif ident == 0x4:
                if value > 0x7FFFFFFF:
                    raise FrameError("bad INITIAL_WINDOW_SIZE")
                delta = value - self._peer_initial
                self._peer_initial = value
                for s in self._stream_windows:
                    self._stream_windows[s] += delta
            elif ident == 0x5:
                self._peer_frame = value
        self._send_pending()

    # -- frames out -------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _schedule_flush(self) -> None:
        # Many requests started in one loop iteration leave in one write (one syscall).
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self._write(data)

    def _send_pending(self) -> None:
        for sid, p in list(self.streams.items()):
            if p.out:
                self._send_body(sid, p)

    def _send_body(self, sid: int, p: _Pending) -> None:
        body = p.out
        while body:
            n = min(self._send_window, self._stream_windows.get(sid, 0), self._peer_frame, len(body))
            if n <= 0:
                break
            self._out.append(frame(DATA, END_STREAM if n == len(body) else 0, sid, body[:n]))
            self._send_window -= n
            self._stream_windows[sid] -= n
            body = body[n:]
        p.out = body

    def _fail_all(self, make: Any, above: int = 0) -> None:
        for sid in [s for s in self.streams if s > above]:
            p = self.streams.pop(sid)
            if not p.future.done():
                p.future.set_exception(make(sid))

    def _abort(self, reason: str) -> None:
        self.usable = False
        self._out.append(frame(GOAWAY, 0, 0, struct.pack("!LL", 0, PROTOCOL_ERROR)))
        self._flush()
        self._fail_all(lambda sid: _Lost(reason, False))
        if self.transport is not None:
            self.transport.close()

    def _done(self, sid: int) -> None:
        p = self.streams.pop(sid, None)
        self._stream_windows.pop(sid, None)
        if p is not None and not p.future.done():
            p.future.set_result(Response(p.status, bytes(p.body), p.headers))

    def can_open(self) -> bool:
        return (self.usable and self.transport is not None and not self.transport.is_closing()
                and len(self.streams) < self.max_streams and self._next_sid < 0x7FFFFFFF)

    def send(self, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, asyncio.Future[Response]]:
        sid = self._next_sid
        self._next_sid += 2
        block = self._blocks.block(tuple(headers))
        fut: asyncio.Future[Response] = self.loop.create_future()
        p = _Pending(fut)
        self.streams[sid] = p
        self._stream_windows[sid] = self._peer_initial
        self._out += header_frames(sid, block, not body, self._peer_frame)
        if body:
            p.out = body
            self._send_body(sid, p)
        self._schedule_flush()
        return sid, fut

    def cancel(self, sid: int) -> None:
        if self.streams.pop(sid, None) is not None:
            self._stream_windows.pop(sid, None)
            self._out.append(frame(RST_STREAM, 0, sid, struct.pack("!L", CANCEL)))
            self._schedule_flush()

    def close(self) -> None:
        self.usable = False
        self._out.append(frame(GOAWAY, 0, 0, struct.pack("!LL", 0, 0)))  # NO_ERROR (RFC 9113 §6.8)
        self._flush()
        if self.transport is not None:
            self.transport.close()


def _expire(proto: _ClientProtocol, sid: int, fut: asyncio.Future[Response], msg: str) -> None:
    if not fut.done():
        proto.cancel(sid)
        fut.set_exception(RequestTimeout(msg))


class Http2Client:
    """HTTP/2 client with connection reuse, stream multiplexing, timeouts and safe retries.

    >>> client = Http2Client()
    >>> resp = await client.request("GET", "http://127.0.0.10:7777/nnrf-disc/v1/nf-instances",
    ...                             query={"target-nf-type": "UDM", "requester-nf-type": "AUSF"})
    >>> resp.status, resp.json()
    """

    def __init__(
        self,
        timeout: float = 5.0,
        max_connections: int = 2,
        ssl_context: ssl.SSLContext | None = None,
        retries: int = 1,
    ) -> None:
        self.timeout = timeout
        self.max_connections = max_connections
        self.retries = retries
        self._ssl = ssl_context
        #: scheme://authority -> (scheme, host, port, authority octets): parsed once per origin
        self._origins: dict[str, tuple[str, str, int, bytes]] = {}
        self._pools: dict[tuple[str, str, int], list[_ClientProtocol]] = {}
        self._connecting: dict[tuple[str, str, int], asyncio.Future[_ClientProtocol]] = {}
        # Requests waiting for a free stream when every connection is full: woken one per
        # finished stream instead of polling (thousands of pollers starve the event loop).
        self._stream_waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def _conn(self, scheme: str, host: str, port: int) -> _ClientProtocol:
        key = (scheme, host, port)
        while True:
            pool = self._pools.setdefault(key, [])
            pool[:] = [c for c in pool if c.usable]
            best = None
            for c in pool:
                if c.can_open() and (best is None or len(c.streams) < len(best.streams)):
                    best = c
            if best is not None and (len(best.streams) < 100 or len(pool) >= self.max_connections):
                return best
            if len(pool) < self.max_connections:
                pending = self._connecting.get(key)
                if pending is None:
                    pending = asyncio.ensure_future(self._open_pooled(key, scheme, host, port))
                    self._connecting[key] = pending
                    return await pending
                # The opener pools the connection before its future completes, so the
                # next turn of the loop finds it (a done future must not make us spin).
                await asyncio.shield(pending)
                continue
            await self._wait_for_stream()

    async def _wait_for_stream(self) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._stream_waiters.append(fut)
        # A safety net only: every finished stream wakes one waiter.
        timer = loop.call_later(0.1, _wake, fut)
        try:
            await fut
        finally:
            timer.cancel()

    def _stream_finished(self) -> None:
        while self._stream_waiters:
            fut = self._stream_waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    async def _open_pooled(self, key: tuple[str, str, int], scheme: str, host: str, port: int) -> _ClientProtocol:
        try:
            proto = await self._open(scheme, host, port)
        finally:
            self._connecting.pop(key, None)
        self._pools.setdefault(key, []).append(proto)
        return proto

    async def _open(self, scheme: str, host: str, port: int) -> _ClientProtocol:
        loop = asyncio.get_running_loop()
        ctx = None
        if scheme == "https":
            ctx = self._ssl or ssl.create_default_context()
            ctx.set_alpn_protocols(["h2"])
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(_ClientProtocol, host, port, ssl=ctx), self.timeout
            )
        except (TimeoutError, OSError) as exc:
            raise _Lost(f"cannot connect to {host}:{port}: {exc}", True) from None
        await proto.ready
        return proto

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        body: bytes | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send one request and wait for the whole response.

        ``json`` may be a pydantic model or plain data; ``query`` values that are lists repeat
        the parameter. Raises :class:`RequestTimeout` or :class:`ConnectionLost` (both
        :class:`TransportError`); HTTP error statuses are returned, not raised.
        """
        method = method.upper()
        cut = url.find("/", url.find("://") + 3) if "://" in url else -1
        origin, rest = (url, "") if cut < 0 else (url[:cut], url[cut:])
        known = self._origins.get(origin)
        if known is None:
            parts = urlsplit(origin)
            scheme = parts.scheme or "http"
            known = (scheme, parts.hostname or "127.0.0.1", parts.port or (443 if scheme == "https" else 80),
                     parts.netloc.encode())
            if len(self._origins) > 256:
                self._origins.clear()
            self._origins[origin] = known
        scheme, host, port, authority = known
        target, _, qs = rest.partition("#")[0].partition("?")
        target = target or "/"
        if query:
            extra = urlencode(query, doseq=True)
            qs = f"{qs}&{extra}" if qs else extra
        if qs:
            target = f"{target}?{qs}"
        hdrs = [
            (b":method", method.encode()),
            (b":scheme", scheme.encode()),
            (b":authority", authority),
            (b":path", target.encode()),
        ]
        if json is not None:
            body = dumps(json)
            if not headers or not any(k.lower() == "content-type" for k in headers):
                hdrs.append((b"content-type", JSON.encode()))
        for k, v in (headers or {}).items():
            hdrs.append((k.lower().encode(), str(v).encode()))
        if body:
            hdrs.append((b"content-length", str(len(body)).encode()))
        wait = self.timeout if timeout is None else timeout
        attempt = 0
        while True:
            try:
                return await self._once(scheme, host, port, hdrs, body or b"", wait)
            except _Lost as exc:
                attempt += 1
                if attempt > self.retries or not (exc.unprocessed or method in IDEMPOTENT):
                    raise ConnectionLost(str(exc)) from None

    async def _once(self, scheme: str, host: str, port: int, hdrs: list[tuple[bytes, bytes]],
                    body: bytes, wait: float) -> Response:
        proto = await self._conn(scheme, host, port)
        sid, fut = proto.send(hdrs, body)
        # A timer instead of asyncio.wait_for: no extra task per request.
        timer = proto.loop.call_later(wait, _expire, proto, sid, fut, f"no response from {host}:{port} within {wait}s")
        try:
            return await fut
        finally:
            timer.cancel()
            if self._stream_waiters:
                self._stream_finished()

    async def get(self, url: str, **kw: Any) -> Response:
        return await self.request("GET", url, **kw)

    async def close(self) -> None:
        for pool in self._pools.values():
            for c in pool:
                c.close()
        self._pools.clear()

    async def __aenter__(self) -> Http2Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def decode_json(resp: Response) -> Any:
    """The JSON body of ``resp``; a malformed body is a :class:`TransportError`."""
    try:
        return resp.json()
    except ValueError as exc:
        raise TransportError(f"malformed JSON from peer: {exc}") from None


