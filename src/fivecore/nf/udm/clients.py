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
        except TransportError as exc:
            # TS 29.500 §5.2.7.2: TIMED_OUT_REQUEST (504) when the upstream NF does not answer.
            raise HttpError(504, "TIMED_OUT_REQUEST", f"UDR unreachable: {exc}") from None
        except Exception as exc:  # NoProducer and friends: the UDR cannot be found
            if isinstance(exc, HttpError):
                raise
            raise HttpError(504, "UPSTREAM_SERVER_ERROR", f"UDR not available: {exc}") from None

    async def ok(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> Response:
        """Like :meth:`call`, but an error answer becomes the same ProblemDetails for our caller."""
        resp = await self.call(method, path, body, query, headers)
        if resp.status >= 400:
            prob = resp.problem() or {}
            status = resp.status if resp.status < 500 else 502
            raise HttpError(status, prob.get("cause"), prob.get("detail") or f"UDR answered {resp.status}")
        return resp
