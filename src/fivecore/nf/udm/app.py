"""UDM process wiring: SIDF keys, the UDR client, Nudm_UEAU/UECM/SDM."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fivecore.config import UdmConfig
from fivecore.nf.common import NfApp
from fivecore.transport.http2 import Router, TransportError

from .clients import UdrClient
from .context import UdmContext
from .sbi import build_router


class UdmApp(NfApp):
    """The UDM (TS 29.503)."""

    nf_type = "UDM"
    section = "udm"
    services = [("nudm-ueau", "v1"), ("nudm-uecm", "v1"), ("nudm-sdm", "v2"), ("nudm-callback", "v1")]

    def __init__(self, *args: Any, **kw: Any) -> None:
        self._notify_tasks: set[asyncio.Task[Any]] = set()
        super().__init__(*args, **kw)

    def static_routes(self) -> dict[str, str]:
        cfg = self.config.udm
        assert isinstance(cfg, UdmConfig)
        return {"UDR": cfg.udr_uri} if cfg.udr_uri else {}

    def build_router(self) -> Router:
        self.context = UdmContext(self.config)
        self.udr = UdrClient(self.client)
        plmn = self.config.plmn.mcc + self.config.plmn.mnc
        return build_router(self.context, self.udr, plmn, self.notify, lambda: self.uri)

    def notify(self, uri: str, body: Any) -> None:
        t = asyncio.get_running_loop().create_task(self._post(uri, body))
        self._notify_tasks.add(t)
        t.add_done_callback(self._notify_tasks.discard)

    async def _post(self, uri: str, body: Any) -> None:
        with contextlib.suppress(TransportError, OSError, ValueError):
            await self.client.http.request("POST", uri, json=body, timeout=2.0)
