"""multipart/related bodies of the SBI (TS 29.500 §6.1.2.2.2, RFC 2387), sans-I/O.

N1 and N2 information travels next to the JSON body as binary parts (TS 29.502 §6.1.2.4,
TS 29.518 §6.1.2.4): the JSON part refers to each one by ``{"contentId": "..."}``
(RefToBinaryData) and the part carries a ``Content-ID`` header with that value and
``Content-Type: application/vnd.3gpp.5gnas`` (N1) or ``application/vnd.3gpp.ngap`` (N2).

    body, ctype = encode({"n1SmMsg": {"contentId": "n1"}}, {"n1": (NAS_5G, nas_bytes)})
    data, parts = decode(ctype, body)       # ({...}, {"n1": (ctype, bytes)})

Added by the session-management author (issue 7) for Nsmf_PDUSession and Namf_Communication;
the transport stays byte-oriented, so any NF can use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fivecore import rng
from fivecore.wire.errors import DecodeError

NAS_5G = "application/vnd.3gpp.5gnas"
NGAP = "application/vnd.3gpp.ngap"
MULTIPART = "multipart/related"
MAX_PARTS = 16


def encode(data: Any, binaries: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """(body, content-type) with ``data`` as the JSON root part and one part per binary."""
    if not binaries:
        return json.dumps(data, separators=(",", ":")).encode(), "application/json"
    boundary = "fivecore-" + rng.token_hex(8)
    out = bytearray()
    root = json.dumps(data, separators=(",", ":")).encode()
    out += f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode() + root + b"\r\n"
    for cid, (ctype, payload) in binaries.items():
        out += f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Id: {cid}\r\n\r\n".encode()
        out += payload + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f'{MULTIPART}; boundary="{boundary}"; type="application/json"'


@dataclass(slots=True)
class Parts:
    """A multipart/related body kept as its JSON root and binary parts.

    The in-process SBI binding hands it to the producer as is (``Request.body_obj`` /
    ``Response.obj``); it becomes octets (:func:`encode`) only when it crosses HTTP/2.
    """

    data: Any
    binaries: dict[str, tuple[str, bytes]]

    def to_http(self) -> tuple[bytes, str]:
        return encode(self.data, self.binaries)

    def json_root(self) -> Any:
        return self.data


def is_multipart(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == MULTIPART


def _boundary(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        k, _, v = param.strip().partition("=")
        if k.strip().lower() == "boundary":
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] == '"':
                v = v[1:-1]
            if not 1 <= len(v) <= 70:
                break
            return v
    raise DecodeError("multipart/related without a usable boundary", -1, "SBI")


def decode(content_type: str, body: bytes) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """Split a multipart/related body into (JSON root, {content-id: (content-type, bytes)}).

    The root is the part named by the ``start`` parameter or the first part (RFC 2387 §3.2).
    Raises :class:`DecodeError` on a malformed body (the handler answers 400).
    """
    delim = b"--" + _boundary(content_type).encode()
    chunks = body.split(delim)
    if len(chunks) < 3:
        raise DecodeError("multipart body has no parts", -1, "SBI")
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if not chunk.startswith(b"\r\n"):
            raise DecodeError("multipart delimiter not followed by CRLF", -1, "SBI")
        head, sep, payload = chunk[2:].partition(b"\r\n\r\n")
        if not sep:
            raise DecodeError("multipart part without a header block", -1, "SBI")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n"):
            if not line:
                continue
            k, colon, v = line.partition(b":")
            if not colon:
                raise DecodeError("malformed multipart header line", -1, "SBI")
            try:
                headers[k.decode("ascii").strip().lower()] = v.decode("latin-1").strip()
            except UnicodeDecodeError:
                raise DecodeError("non-ASCII multipart header name", -1, "SBI") from None
        parts.append((headers, payload))
        if len(parts) > MAX_PARTS:
            raise DecodeError("too many multipart parts", -1, "SBI")
    if not parts:
        raise DecodeError("multipart body has no parts", -1, "SBI")
    root_idx = 0
    start = None
    for param in content_type.split(";")[1:]:
        k, _, v = param.strip().partition("=")
        if k.strip().lower() == "start":
            start = v.strip().strip('"').strip("<>")
    if start:
        for i, (h, _) in enumerate(parts):
            if h.get("content-id", "").strip("<>") == start:
                root_idx = i
    root_h, root_body = parts[root_idx]
    if "json" not in root_h.get("content-type", "application/json").lower():
        raise DecodeError("multipart root part is not JSON", -1, "SBI")
    try:
        data = json.loads(root_body) if root_body.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"multipart root part is not valid JSON: {exc}", -1, "SBI") from None
    binaries: dict[str, tuple[str, bytes]] = {}
    for i, (h, payload) in enumerate(parts):
        if i == root_idx:
            continue
        cid = h.get("content-id", "").strip("<>")
        if cid:
            binaries[cid] = (h.get("content-type", "application/octet-stream"), payload)
    return data, binaries


def ref(data: Any, key: str, binaries: dict[str, tuple[str, bytes]]) -> bytes | None:
    """The bytes a RefToBinaryData member ``data[key]`` names, or None."""
    if not isinstance(data, dict):
        return None
    r = data.get(key)
    if not isinstance(r, dict):
        return None
    cid = r.get("contentId")
    if not isinstance(cid, str):
        return None
    part = binaries.get(cid)
    return part[1] if part is not None else None
