"""AUSF process wiring: authentication contexts, the UDM client, Nausf_UEAuthentication."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fivecore.config import AusfConfig
from fivecore.nf.common import NfApp
from fivecore.nf.common.client import run_until_wait
from fivecore.transport.http2 import Router, TransportError
from fivecore.transport.http2.message import path_segment

from .context import AusfContext
from .sbi import UEAU, build_router


class AusfApp(NfApp):
    """The AUSF (TS 29.509)."""

    nf_type = "AUSF"
    section = "ausf"
    services = [("nausf-auth", "v1")]

    def __init__(self, *args: Any, **kw: Any) -> None:
        self._tasks_report: set[asyncio.Task[Any]] = set()
        super().__init__(*args, **kw)

    def static_routes(self) -> dict[str, str]:
        cfg = self.config.ausf
        assert isinstance(cfg, AusfConfig)
        return {"UDM": cfg.udm_uri} if cfg.udm_uri else {}

    def build_router(self) -> Router:
        self.context = AusfContext()
        return build_router(self.context, self.client, self.instance_id, lambda: self.uri, self.report)

    def report(self, supi: str, event: Any) -> None:
        """TS 33.501 §6.1.3.2 step 12 / TS 29.503 §5.4.2.3: tell the UDM the result.

        Sent after the current handler has answered, as a task's first step would be; an
        in-process UDM answers without waiting, and then no task is made at all.
        """
        asyncio.get_running_loop().call_soon(self._start_report, supi, event)

    def _start_report(self, supi: str, event: Any) -> None:
        t = run_until_wait(self._post(supi, event))
        if t is not None:
            self._tasks_report.add(t)
            t.add_done_callback(self._tasks_report.discard)

    async def _post(self, supi: str, event: Any) -> None:
        with contextlib.suppress(TransportError, OSError, ValueError, Exception):
            await self.client.call("POST", f"{UEAU}/{path_segment(supi)}/auth-events", body=event, target_nf_type="UDM", timeout=2.0)
