"""The SBI transport over real sockets: TLS with ALPN h2 (and HTTP/1.1 over TLS), many
concurrent streams on one connection, retry of an idempotent request after the server went away,
request timeouts."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fivecore.nf.common.launch import free_port
from fivecore.transport.http2 import (
    ConnectionLost,
    Http2Client,
    Request,
    RequestTimeout,
    Router,
    SbiServer,
    json_response,
)
from fivecore.transport.http2.server import server_ssl_context

pytestmark = pytest.mark.e2e


def make_cert(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "udm.5gc.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return tmp_path / "c.pem", tmp_path / "k.pem"


def router() -> Router:
    r = Router("t")

    @r.route("GET", "/n/{i}")
    def n(req: Request):
        return json_response({"i": int(req.path_params["i"])})

    @r.route("GET", "/slow")
    async def slow(req: Request):
        await asyncio.sleep(5)
        return json_response({})

    return r


async def test_tls_h2_and_http11(tmp_path):
    cert, key = make_cert(tmp_path)
    srv = SbiServer(router(), "127.0.0.1", 0, ssl_context=server_ssl_context(str(cert), str(key)))
    await srv.start()
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        async with Http2Client(ssl_context=ctx) as c:
            rs = await asyncio.gather(*[c.request("GET", f"https://127.0.0.1:{srv.port}/n/{i}") for i in range(200)])
            assert [r.json()["i"] for r in rs] == list(range(200))
        # HTTP/1.1 over TLS on the same port (ALPN http/1.1)
        ctx11 = ssl.create_default_context(cafile=str(cert))
        ctx11.set_alpn_protocols(["http/1.1"])
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port, ssl=ctx11)
        writer.write(b"GET /n/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = await reader.read()
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b'{"i":7}')
        writer.close()
        # a client that does not trust the certificate fails cleanly
        async with Http2Client() as c:
            with pytest.raises(ConnectionLost):
                await c.request("GET", f"https://127.0.0.1:{srv.port}/n/1")
    finally:
        await srv.stop()


async def test_retry_after_server_restart_and_timeouts():
    port = free_port()
    srv = SbiServer(router(), "127.0.0.1", port)
    await srv.start()
    async with Http2Client(timeout=2, retries=1) as c:
        assert (await c.request("GET", f"http://127.0.0.1:{port}/n/1")).status == 200
        await srv.stop()  # GOAWAY + close: the pooled connection is gone
        srv = SbiServer(router(), "127.0.0.1", port)
        await srv.start()
        assert (await c.request("GET", f"http://127.0.0.1:{port}/n/2")).json() == {"i": 2}
        with pytest.raises(RequestTimeout):
            await c.request("GET", f"http://127.0.0.1:{port}/slow", timeout=0.3)
        assert (await c.request("GET", f"http://127.0.0.1:{port}/n/3")).status == 200  # connection still usable
        await srv.stop()
        with pytest.raises(ConnectionLost):
            await c.request("GET", f"http://127.0.0.1:{port}/n/4")


async def test_requests_arriving_while_connecting_complete():
    """Requests that start at every step of the first connection's set-up all complete: a waiter
    that sees the opening already finished must find the pooled connection, not spin."""
    port = free_port()
    srv = SbiServer(router(), "127.0.0.1", port)
    await srv.start()
    client = Http2Client(timeout=5.0)
    tasks: list[asyncio.Task] = []

    async def arrive() -> None:
        for i in range(300):
            tasks.append(asyncio.ensure_future(client.request("GET", f"http://127.0.0.1:{port}/n/{i}")))
            await asyncio.sleep(0)

    try:
        await asyncio.wait_for(arrive(), 10)
        responses = await asyncio.wait_for(asyncio.gather(*tasks), 20)
        assert [r.json()["i"] for r in responses] == list(range(300))
    finally:
        await client.close()
        await srv.stop()


async def test_more_requests_than_streams_all_complete():
    """With every connection at its stream limit, waiting requests are served as streams finish."""
    port = free_port()
    srv = SbiServer(router(), "127.0.0.1", port)
    await srv.start()
    client = Http2Client(timeout=10.0, max_connections=1)
    try:
        reqs = [client.request("GET", f"http://127.0.0.1:{port}/n/{i}") for i in range(1000)]
        responses = await asyncio.wait_for(asyncio.gather(*reqs), 60)
        assert [r.json()["i"] for r in responses] == list(range(1000))
        assert not client._stream_waiters or all(f.done() for f in client._stream_waiters)
    finally:
        await client.close()
        await srv.stop()
