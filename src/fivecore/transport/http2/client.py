"""A thin HTTP/2 client on the sans-I/O ``h2`` state machine (TS 29.500 §5.2.2, RFC 9113).

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
import contextlib
import ssl
from typing import Any
from urllib.parse import urlencode, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from .message import JSON, ConnectionLost, RequestTimeout, Response, TransportError, dumps

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_WINDOW = 16 * 1024 * 1024
_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)


class _Lost(ConnectionLost):
    def __init__(self, msg: str, unprocessed: bool) -> None:
        super().__init__(msg)
        self.unprocessed = unprocessed


class _Pending:
    __slots__ = ("future", "status", "headers", "body", "out")

    def __init__(self, future: asyncio.Future[Response]) -> None:
        self.future = future
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.out = b""


class _ClientProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.conn = h2.connection.H2Connection(config=_CONFIG)
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Pending] = {}
        self.usable = True
        self.loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self._flush_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _WINDOW,
                                   h2.settings.SettingCodes.ENABLE_PUSH: 0})
        self.conn.increment_flow_control_window(_WINDOW)
        self._flush()
        if not self.ready.done():
            self.ready.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail_all(lambda sid: _Lost("connection lost", False))

    def _fail_all(self, make: Any, above: int = 0) -> None:
        for sid in [s for s in self.streams if s > above]:
            p = self.streams.pop(sid)
            if not p.future.done():
                p.future.set_exception(make(sid))

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.usable = False
            reason = f"protocol error: {exc}"
            self._fail_all(lambda sid: _Lost(reason, False))
            if self.transport:
                self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.ResponseReceived):
                p = self.streams.get(ev.stream_id)
                if p is not None:
                    for k, v in ev.headers:
                        if k == b":status":
                            p.status = int(v)
                        else:
                            p.headers[k.decode("latin-1")] = v.decode("latin-1")
                    if ev.stream_ended is not None:
                        self._done(ev.stream_id)
            elif isinstance(ev, h2.events.DataReceived):
                if ev.flow_controlled_length:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                p = self.streams.get(ev.stream_id)
                if p is not None:
                    p.body += ev.data
                    if ev.stream_ended is not None:
                        self._done(ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self._done(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                p = self.streams.pop(ev.stream_id, None)
                if p is not None and not p.future.done():
                    refused = ev.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
                    p.future.set_exception(_Lost(f"stream reset ({ev.error_code!r})", refused))
            elif isinstance(ev, h2.events.WindowUpdated):
                for sid in [s for s, p in self.streams.items() if p.out]:
                    self._send_body(sid)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.usable = False
                last = ev.last_stream_id or 0
                self._fail_all(lambda sid: _Lost("GOAWAY", True), above=last)
        self._flush()

    def _done(self, sid: int) -> None:
        p = self.streams.pop(sid, None)
        if p is not None and not p.future.done():
            p.future.set_result(Response(p.status, bytes(p.body), p.headers))

    def _schedule_flush(self) -> None:
        # Many requests started in one loop iteration leave in one write (one syscall).
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _send_body(self, sid: int) -> None:
        p = self.streams.get(sid)
        if p is None:
            return
        body = p.out
        while body:
            n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(body))
            if n <= 0:
                break
            self.conn.send_data(sid, body[:n], end_stream=(n == len(body)))
            body = body[n:]
        p.out = body

    def can_open(self) -> bool:
        # len(self.streams), not h2's open_outbound_streams, which walks every stream.
        return (self.usable and self.transport is not None and not self.transport.is_closing()
                and len(self.streams) < self.conn.remote_settings.max_concurrent_streams)

    def send(self, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, asyncio.Future[Response]]:
        sid = self.conn.get_next_available_stream_id()
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        p = _Pending(fut)
        self.streams[sid] = p
        self.conn.send_headers(sid, headers, end_stream=not body)
        if body:
            p.out = body
            self._send_body(sid)
        self._schedule_flush()
        return sid, fut

    def cancel(self, sid: int) -> None:
        self.streams.pop(sid, None)
        with contextlib.suppress(Exception):
            self.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            self._flush()

    def close(self) -> None:
        self.usable = False
        with contextlib.suppress(Exception):
            self.conn.close_connection()
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
        self._pools: dict[tuple[str, str, int], list[_ClientProtocol]] = {}
        self._connecting: dict[tuple[str, str, int], asyncio.Future[_ClientProtocol]] = {}

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
                    pending = asyncio.ensure_future(self._open(scheme, host, port))
                    self._connecting[key] = pending
                    try:
                        proto = await pending
                    finally:
                        self._connecting.pop(key, None)
                    pool.append(proto)
                    return proto
                await asyncio.shield(pending)
                continue
            await asyncio.sleep(0.001)

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
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if scheme == "https" else 80)
        target = parts.path or "/"
        qs = parts.query
        if query:
            extra = urlencode(query, doseq=True)
            qs = f"{qs}&{extra}" if qs else extra
        if qs:
            target = f"{target}?{qs}"
        hdrs = [
            (b":method", method.encode()),
            (b":scheme", scheme.encode()),
            (b":authority", parts.netloc.encode()),
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
        try:
            sid, fut = proto.send(hdrs, body)
        except h2.exceptions.ProtocolError as exc:
            proto.usable = False
            raise _Lost(f"cannot open stream: {exc}", True) from None
        # A timer instead of asyncio.wait_for: no extra task per request.
        timer = proto.loop.call_later(wait, _expire, proto, sid, fut, f"no response from {host}:{port} within {wait}s")
        try:
            return await fut
        finally:
            timer.cancel()

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


def decode_json(resp: Response) -> Any:
    """The JSON body of ``resp``; a malformed body is a :class:`TransportError`."""
    try:
        return resp.json()
    except ValueError as exc:
        raise TransportError(f"malformed JSON from peer: {exc}") from None


