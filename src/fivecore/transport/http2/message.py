"""Requests, responses and RFC 7807 problem errors shared by the HTTP/2 server, client and router.

The transport knows bytes and JSON, not 5G: a 3GPP application cause (TS 29.500 §5.2.7.2) is
just the ``cause`` member of an RFC 7807 problem object here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from fivecore.errors import FivecoreError

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


class TransportError(FivecoreError):
    """The HTTP/2 transport failed (connection refused or lost, timeout, protocol error)."""


class RequestTimeout(TransportError):
    """No response within the request's timeout."""


class ConnectionLost(TransportError):
    """The connection closed (or sent GOAWAY) before the response arrived."""


class HttpError(Exception):
    """Raised by a handler to answer with a ProblemDetails (RFC 7807, TS 29.571 §5.2.4.1).

    ``cause`` is the 3GPP application error (TS 29.500 Table 5.2.7.2-1, e.g. ``USER_NOT_FOUND``);
    ``invalid_params`` lists ``{"param": ..., "reason": ...}`` entries (InvalidParam).
    """

    def __init__(
        self,
        status: int,
        cause: str | None = None,
        detail: str | None = None,
        title: str | None = None,
        invalid_params: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {cause or ''} {detail or ''}".strip())
        self.status = status
        self.cause = cause
        self.detail = detail
        self.title = title
        self.invalid_params = invalid_params
        self.headers = headers or {}

    def problem(self) -> dict[str, Any]:
        """The ProblemDetails body."""
        body: dict[str, Any] = {"status": self.status}
        body["title"] = self.title or _TITLES.get(self.status, "Error")
        if self.detail:
            body["detail"] = self.detail
        if self.cause:
            body["cause"] = self.cause
        if self.invalid_params:
            body["invalidParams"] = self.invalid_params
        return body

    def to_response(self) -> Response:
        return Response(
            self.status,
            json.dumps(self.problem()).encode(),
            {"content-type": PROBLEM_JSON, **self.headers},
        )


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(slots=True)
class Request:
    """One HTTP request as a handler sees it (HTTP/2, HTTP/1.1 or in-process).

    ``body_obj`` carries an already-built object when the in-process binding delivers the
    request: handlers read the payload through :meth:`model`, which then skips JSON entirely.

    ``path`` is the path exactly as the client sent it, still percent-encoded (RFC 3986 §3.3),
    without the query: the router splits it at its '/' characters and only then decodes each
    segment, so a ``%2F`` inside an id stays inside its segment. Log and label with ``path``
    (unambiguous); read ids from ``path_params``, which hold the decoded segments
    (see :func:`decode_segments`). Both SBI bindings hand a handler the same two fields.
    """

    method: str
    path: str
    query_string: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_obj: Any = None
    path_params: dict[str, str] = field(default_factory=dict)
    _query: dict[str, list[str]] | None = None
    #: the route :meth:`Router.dispatch_sync` found but left to :meth:`Router.dispatch`
    route: Any = None

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters, each a list of values (percent-decoded)."""
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True) if self.query_string else {}
        return self._query

    def q1(self, name: str) -> str | None:
        """The first value of query parameter ``name`` or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body parsed as JSON; malformed JSON is 400 INVALID_MSG_FORMAT (TS 29.500 §5.2.7.2)."""
        if self.body_obj is not None:
            return _plain(self.body_obj)
        if not self.body:
            raise HttpError(400, "INVALID_MSG_FORMAT", "request body missing")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, "INVALID_MSG_FORMAT", f"malformed JSON: {exc}") from None

    def model(self, cls: type) -> Any:
        """The body validated as pydantic model ``cls`` (TS 29.500 §5.2.7.2: 400 on bad IEs)."""
        if isinstance(self.body_obj, cls):
            return self.body_obj
        data = self.json()
        try:
            return cls.model_validate(data)
        except Exception as exc:
            # pydantic is imported only on this (error) path: the transport does not need it
            from pydantic import ValidationError

            if isinstance(exc, ValidationError):
                raise validation_problem(exc) from None
            raise


def validation_problem(exc: Any) -> HttpError:
    """Map a pydantic ValidationError to 400 with InvalidParam entries (TS 29.500 §5.2.7.2)."""
    params = []
    missing = False
    for err in exc.errors()[:20]:
        loc = "/" + "/".join(str(p) for p in err.get("loc", ()))
        params.append({"param": loc, "reason": str(err.get("msg", "invalid"))[:200]})
        missing = missing or err.get("type") == "missing"
    cause = "MANDATORY_IE_MISSING" if missing else "MANDATORY_IE_INCORRECT"
    return HttpError(400, cause, "request body does not match the schema", invalid_params=params)


@dataclass(slots=True)
class Response:
    """One HTTP response; ``obj`` is an unserialised body (in-process binding, or lazily dumped)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    obj: Any = None

    def json(self) -> Any:
        if self.obj is not None:
            return _plain(self.obj)
        if not self.body:
            return None
        return json.loads(self.body)

    def model(self, cls: type) -> Any:
        """The body as pydantic model ``cls`` (no parsing when the object is already one)."""
        if isinstance(self.obj, cls):
            return self.obj
        return cls.model_validate(self.json())

    def encoded(self) -> bytes:
        """The body bytes, serialising ``obj`` when needed."""
        if self.obj is not None and not self.body:
            to_http = getattr(self.obj, "to_http", None)
            if to_http is not None:  # e.g. multipart/related parts: serialised only for a wire
                self.body, self.headers["content-type"] = to_http()
                return self.body
            self.body = dumps(self.obj)
            self.headers.setdefault("content-type", JSON)
        return self.body

    def problem(self) -> dict[str, Any] | None:
        """The ProblemDetails when this is an error response with one."""
        if self.status < 400:
            return None
        try:
            data = self.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def dumps(obj: Any) -> bytes:
    """JSON bytes for a pydantic model (by alias, without None members) or a plain value."""
    dump = getattr(obj, "model_dump_json", None)
    if dump is not None:
        return dump(by_alias=True, exclude_none=True).encode()
    return json.dumps(obj, separators=(",", ":")).encode()


def _plain(obj: Any) -> Any:
    if type(obj) is dict or type(obj) is list:  # what handlers mostly answer with
        return obj
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json", by_alias=True, exclude_none=True)
    root = getattr(obj, "json_root", None)  # a multipart body kept as parts (wire.sbi.multipart)
    if root is not None:
        return root()
    return obj


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response whose body is serialised only when it crosses a wire."""
    return Response(status, b"", {"content-type": JSON, **(headers or {})}, obj)


def split_target(target: str) -> tuple[str, str]:
    """Split a request target (RFC 9112 §3.2 origin-form, RFC 9113 §8.3.1 ``:path``) into its
    raw path and raw query string.

    Neither is decoded here: RFC 3986 §2.2 makes a percent-encoded reserved character data,
    so the path must be split into segments before any decoding (:func:`decode_segments`).
    """
    path, _, query = target.partition("?")
    return path, query


class PathError(HttpError):
    """A request path that is not an RFC 3986 §3.3 path: 400 INVALID_MSG_FORMAT (TS 29.500 §5.2.7.2)."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, "INVALID_MSG_FORMAT", detail)


def decode_segments(path: str) -> list[str]:
    """The segments of a raw request path (``path.split("/")``, empty ones kept), each
    percent-decoded.

    RFC 3986 §3.3 / §2.2 and TS 29.501 §4.4.1: the path is split at its literal '/' first and
    each segment decoded afterwards, so ``imsi-1%2Fx`` is the one segment ``imsi-1/x``.
    Non-ASCII characters (which must travel percent-encoded) and escapes that do not decode
    as UTF-8 raise :class:`PathError`: a handler never sees U+FFFD in place of what was sent.
    A '%' not followed by two hex digits stays as it is (``unquote``), as a lenient reader.
    """
    if not path.isascii():
        raise PathError("request path holds characters that must be percent-encoded (RFC 3986 §2.1)")
    segs = path.split("/")
    for i, seg in enumerate(segs):
        if "%" in seg:
            try:
                segs[i] = unquote(seg, errors="strict")
            except UnicodeDecodeError:
                raise PathError("a percent-encoded path segment is not UTF-8 (RFC 3986 §2.5)") from None
    return segs


#: path parameter -> its encoded segment, for the short ids that recur (one SUPI, many calls)
_SEGMENTS: dict[str, str] = {}


def path_segment(value: object) -> str:
    """``value`` percent-encoded as one path segment (RFC 3986 §2.1, §3.3; TS 29.501 §4.4.1).

    Everything but the unreserved characters is encoded ('/', '?', '#', '%', ';', non-ASCII as
    UTF-8), so whatever a consumer puts into a resource URI's ``{param}`` is exactly what the
    producer's handler finds in ``path_params``, whichever binding carries the request.
    Every client building an SBI path from an id uses this, e.g.
    ``f"/nudm-sdm/v2/{path_segment(supi)}/am-data"``; ints (a PDU session id) pass as digits.
    """
    text = value if type(value) is str else str(value)
    hit = _SEGMENTS.get(text)
    if hit is None:
        hit = quote(text, safe="")
        if len(text) <= 64:  # short ids recur; a hostile long one is not kept
            if len(_SEGMENTS) >= 4096:
                _SEGMENTS.clear()
            _SEGMENTS[text] = hit
    return hit
