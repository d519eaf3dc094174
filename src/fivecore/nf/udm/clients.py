"""Services the UDM consumes: Nudr_DataRepository (TS 29.504) through the SBI client."""

from __future__ import annotations

from typing import Any

from fivecore.nf.common import SbiClient
from fivecore.transport.http2 import HttpError, Response, TransportError

DR = "/nudr-dr/v2"


class UdrClient:
    """Thin typed wrapper: every call goes through the one SbiClient (in-process or HTTP/2)."""

    def __init__(self, client: SbiClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
        try:
            return await self.client.call(method, DR + path, body=body, query=query, headers=headers,
                                          target_nf_type="UDR")
        except Exception as exc:
            raise _unreachable(exc) from None

    async def ok(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> Response:
        """Like :meth:`call`, but an error answer becomes the same ProblemDetails for our caller."""
        try:
            # straight to the client, not through :meth:`call`: one coroutine less per UDR read
            resp = await self.client.call(method, DR + path, body=body, query=query, headers=headers,
                                          target_nf_type="UDR")
        except Exception as exc:
            raise _unreachable(exc) from None
        if resp.status >= 400:
            prob = resp.problem() or {}
            status = resp.status if resp.status < 500 else 502
            raise HttpError(status, prob.get("cause"), prob.get("detail") or f"UDR answered {resp.status}")
        return resp


def _unreachable(exc: Exception) -> HttpError:
    """The answer for a UDR that cannot be reached (TS 29.500 §5.2.7.2)."""
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, TransportError):
        return HttpError(504, "TIMED_OUT_REQUEST", f"UDR unreachable: {exc}")
    # NoProducer and friends: the UDR cannot be found
    return HttpError(504, "UPSTREAM_SERVER_ERROR", f"UDR not available: {exc}")
