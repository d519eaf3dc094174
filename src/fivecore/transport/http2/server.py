"""SBI server: h2c with prior knowledge and HTTP/1.1 on the same port, optionally over TLS.

TS 29.500 §5.2.2 mandates HTTP/2 (RFC 9113) for the SBI; HTTP/1.1 (RFC 9112) is served beside
it because conformance tools such as schemathesis speak only HTTP/1.1. The first bytes decide:
the HTTP/2 connection preface (RFC 9113 §3.4) selects HTTP/2, anything else HTTP/1.1. With TLS,
ALPN offers ``h2`` and ``http/1.1``; the same preface check then applies inside TLS.

The protocol objects are thin asyncio adapters around the sans-I/O
:class:`~fivecore.transport.http2.h2server.H2ServerConnection` (RFC 9113, written here) and a
small HTTP/1.1 parser; requests go to a :class:`~fivecore.transport.http2.router.Router`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

from .frames import PREFACE
from .h2server import H2Request, H2ServerConnection
from .message import HttpError, Request, Response, split_target
from .router import Router

log = logging.getLogger("fivecore.sbi.server")

MAX_BODY = 4 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024

_REASONS = {
    200: b"OK", 201: b"Created", 204: b"No Content", 301: b"Moved Permanently",
    307: b"Temporary Redirect", 400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden",
    404: b"Not Found", 405: b"Method Not Allowed", 409: b"Conflict", 411: b"Length Required",
    413: b"Payload Too Large", 415: b"Unsupported Media Type", 431: b"Request Header Fields Too Large",
    500: b"Internal Server Error", 501: b"Not Implemented", 503: b"Service Unavailable",
}


class SbiProtocol(asyncio.Protocol):
    """One connection: detects HTTP/2 vs HTTP/1.1 from the first bytes, then serves requests."""

    def __init__(self, server: SbiServer) -> None:
        self.server = server
        self.router = server.router
        self.transport: asyncio.Transport | None = None
        self.mode: str | None = None
        self.buf = bytearray()
        self.h2: H2ServerConnection | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.h1_busy = False
        self.closed = False
        self.flush_pending = False
        self.h1_continued = False

    # -- asyncio callbacks --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        for t in self.tasks:
            t.cancel()

    def data_received(self, data: bytes) -> None:
        if self.mode == "h2":
            self._h2_data(data)
            return
        if self.mode == "h1":
            self.buf += data
            self._h1_process()
            return
        self.buf += data
        n = min(len(self.buf), len(PREFACE))
        if bytes(self.buf[:n]) == PREFACE[:n]:
            if n < len(PREFACE):
                return
            self.mode = "h2"
            self.h2 = H2ServerConnection(MAX_BODY)
            self.h2.initiate()
            data, self.buf = bytes(self.buf[len(PREFACE):]), bytearray()
            self._h2_data(data)
        else:
            self.mode = "h1"
            self._h1_process()

    # -- HTTP/2 -------------------------------------------------------------------------------
    def _h2_data(self, data: bytes) -> None:
        conn = self.h2
        assert conn is not None
        for r in conn.receive(data):
            self._h2_request(r)
        if conn.error is not None:
            log.info("sbi h2 protocol error peer=%s code=%d err=%s", self._peer(), *conn.error)
        self._flush()
        if conn.closed:
            self._close()

    def _h2_request(self, r: H2Request) -> None:
        method = path = ""
        headers: dict[str, str] = {}
        for name, value in r.headers:
            if name[:1] == b":":
                if name == b":method":
                    method = value.decode("latin-1")
                elif name == b":path":
                    path = value.decode("latin-1")
            else:
                headers[name.decode("latin-1")] = value.decode("latin-1")
        if r.too_big:
            self._h2_respond(r.stream_id, HttpError(413, None, "request body too large").to_response())
            return
        p, q = split_target(path)  # the path stays encoded: the router splits, then decodes
        req = Request(method, p, q, headers, r.body)
        resp = self.router.dispatch_sync(req)
        if resp is not None:
            self._h2_respond(r.stream_id, resp)
        else:
            task = asyncio.ensure_future(self._h2_async(r.stream_id, req))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _h2_async(self, sid: int, req: Request) -> None:
        resp = await self.router.dispatch(req)
        if not self.closed:
            self._h2_respond(sid, resp)
            # Responses finishing in the same loop iteration leave in one write.
            if not self.flush_pending:
                self.flush_pending = True
                asyncio.get_running_loop().call_soon(self._flush)

    def _h2_respond(self, sid: int, resp: Response) -> None:
        conn = self.h2
        assert conn is not None
        body = resp.encoded()
        conn.respond(sid, resp.status, [(k.lower().encode(), v.encode()) for k, v in resp.headers.items()], body)

    def _flush(self) -> None:
        self.flush_pending = False
        if self.h2 is not None and self.transport is not None and not self.closed:
            data = self.h2.data_to_send()
            if data:
                self.transport.write(data)

    # -- HTTP/1.1 -----------------------------------------------------------------------------
    def _h1_process(self) -> None:
        while not self.h1_busy and not self.closed and self.buf:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEADER_BYTES:
                    self._h1_write(HttpError(431, None, "headers too large").to_response(), close=True)
                return
            try:
                head = bytes(self.buf[:end]).decode("latin-1")
                lines = head.split("\r\n")
                method, target, version = lines[0].split(" ")
                if not version.startswith("HTTP/1."):
                    raise ValueError(version)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if not sep or not name or name != name.strip():
                        raise ValueError(line)
                    headers[name.lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length < 0:
                    raise ValueError("negative length")
            except ValueError:
                self._h1_write(HttpError(400, None, "malformed HTTP/1.1 request").to_response(), close=True)
                return
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._h1_write(HttpError(411, None, "send a Content-Length").to_response(), close=True)
                return
            if length > MAX_BODY:
                self._h1_write(HttpError(413, None, "request body too large").to_response(), close=True)
                return
            if len(self.buf) < end + 4 + length:
                if headers.get("expect", "").lower() == "100-continue" and not self.h1_continued:
                    # RFC 9110 §10.1.1: let the client send its body now.
                    self.h1_continued = True
                    if self.transport is not None:
                        self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            self.h1_continued = False
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            conn_hdr = headers.get("connection", "").lower()
            close = conn_hdr == "close" or (version == "HTTP/1.0" and conn_hdr != "keep-alive")
            p, q = split_target(target)
            req = Request(method, p, q, headers, body)
            resp = self.router.dispatch_sync(req)
            if resp is not None:
                self._h1_write(resp, close)
            else:
                self.h1_busy = True
                task = asyncio.ensure_future(self._h1_async(req, close))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _h1_async(self, req: Request, close: bool) -> None:
        resp = await self.router.dispatch(req)
        self.h1_busy = False
        if not self.closed:
            self._h1_write(resp, close)
            self._h1_process()

    def _h1_write(self, resp: Response, close: bool = False) -> None:
        if self.transport is None or self.closed:
            return
        body = resp.encoded()
        out = [b"HTTP/1.1 %d %s\r\n" % (resp.status, _REASONS.get(resp.status, b"Status"))]
        for k, v in resp.headers.items():
            out.append(f"{k}: {v}\r\n".encode("latin-1"))
        out.append(b"content-length: %d\r\n" % len(body))
        if close:
            out.append(b"connection: close\r\n")
        out.append(b"\r\n")
        out.append(body)
        self.transport.write(b"".join(out))
        if close:
            self._close()

    # -- helpers ------------------------------------------------------------------------------
    def _peer(self) -> Any:
        return self.transport.get_extra_info("peername") if self.transport else None

    def _close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def goaway(self) -> None:
        """Graceful shutdown (RFC 9113 §6.8)."""
        if self.h2 is not None and not self.closed:
            self.h2.goaway()
            self._flush()
        self._close()


class SbiServer:
    """Serve a router on ``host:port`` (port 0 picks a free port; read :attr:`port` after start)."""

    def __init__(
        self,
        router: Router,
        host: str = "127.0.0.1",
        port: int = 7777,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.router = router
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.connections: set[SbiProtocol] = set()
        self._server: asyncio.base_events.Server | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context else "http"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SbiProtocol(self), self.host, self.port, ssl=self.ssl_context,
            reuse_address=True, backlog=1024,
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        log.info("sbi server listening name=%s url=%s", self.router.name, self.base_url)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for c in list(self.connections):
            c.goaway()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)
        self._server = None


def server_ssl_context(certfile: str, keyfile: str, cafile: str | None = None) -> ssl.SSLContext:
    """TLS 1.2+ context with ALPN h2 and http/1.1 (TS 33.210 / TS 29.500 §5.2.3)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    if cafile:
        ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx
