"""An HTTP/2 client that checks every SBI exchange against the 3GPP OpenAPI files.

Conformance and end-to-end tests hand it to the NFs (``NfApp(..., http=ValidatingHttp2Client(v))``)
or use it directly; every request and response it carries is validated with
:class:`~fivecore.wire.sbi.schema.OpenApiValidator`. Problems are collected in ``errors`` (the
test asserts it is empty), exchanges in ``seen`` (what was covered).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from fivecore.transport.http2 import Http2Client, Response, dumps
from fivecore.wire.sbi.schema import API_FILES, OpenApiValidator


class ValidatingHttp2Client(Http2Client):
    def __init__(self, validator: OpenApiValidator, **kw: Any) -> None:
        super().__init__(**kw)
        self.validator = validator
        self.errors: list[str] = []
        self.seen: list[tuple[str, str, int]] = []

    async def request(self, method: str, url: str, *, json: Any = None, body: bytes | None = None,
                      **kw: Any) -> Response:
        resp = await super().request(method, url, json=json, body=body, **kw)
        path = urlsplit(url).path
        if any(path.startswith(root + "/") for root in API_FILES):
            req_obj = _load(dumps(json) if json is not None else body)
            if req_obj is _BAD:
                req_obj = None  # deliberately malformed request bodies are not schema-checked
            resp_obj = _load(resp.body) if resp.body else None
            ctype = resp.headers.get("content-type", "")
            if resp_obj is _BAD:
                self.errors.append(f"{method} {path} {resp.status}: response body is not JSON")
            else:
                self.errors += self.validator.validate_response(method, path, resp.status, resp_obj, ctype)
            if 200 <= resp.status < 300:
                # Only requests the server accepted must conform (rejected ones are tests of bad input).
                self.errors += self.validator.validate_request(method, path, req_obj)
            self.seen.append((method, path, resp.status))
        return resp


_BAD = object()


def _load(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return _BAD
