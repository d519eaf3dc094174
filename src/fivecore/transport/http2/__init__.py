"""HTTP/2 for the SBI (TS 29.500 §5.2): server, client and a small router.

- :class:`SbiServer` serves a :class:`Router` with h2c (prior knowledge) and HTTP/1.1 on one
  port, TLS when given an ``ssl.SSLContext`` (see :func:`server_ssl_context`).
- :class:`Http2Client` is a thin pooled, multiplexing client with timeouts and safe retries.
- Handlers take a :class:`Request` and return a :class:`Response` (see :func:`json_response`)
  or raise :class:`HttpError`, which becomes an ``application/problem+json`` ProblemDetails.
"""

from .client import Http2Client
from .message import (
    JSON,
    PROBLEM_JSON,
    ConnectionLost,
    HttpError,
    Request,
    RequestTimeout,
    Response,
    TransportError,
    dumps,
    json_response,
)
from .router import Router
from .server import SbiServer, server_ssl_context

__all__ = [
    "JSON",
    "PROBLEM_JSON",
    "ConnectionLost",
    "HttpError",
    "Http2Client",
    "Request",
    "RequestTimeout",
    "Response",
    "Router",
    "SbiServer",
    "TransportError",
    "dumps",
    "json_response",
    "server_ssl_context",
]
