"""UDR process wiring: the store, Nudr_DataRepository, the management API listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fivecore.config import UdrConfig
from fivecore.nf.common import NfApp
from fivecore.store import SubscriberStore
from fivecore.transport.http2 import Router, SbiServer, TransportError

from .context import Notification, UdrContext
from .mgmt import build_mgmt_router
from .sbi import build_router

log = logging.getLogger("fivecore.udr")


class UdrApp(NfApp):
    """The UDR (TS 29.504). ``store`` defaults to ``SubscriberStore(config.store_uri())``."""

    nf_type = "UDR"
    section = "udr"
    services = [("nudr-dr", "v2")]

    def __init__(self, *args: Any, store: SubscriberStore | None = None, **kw: Any) -> None:
        self._store = store
        self.mgmt_server: SbiServer | None = None
        self._notify_tasks: set[asyncio.Task[Any]] = set()
        super().__init__(*args, **kw)

    def build_router(self) -> Router:
        self.store = self._store or SubscriberStore(self.config.store_uri())
        self.context = UdrContext(self.store)
        return build_router(self.context)

    def extra_profile(self) -> dict[str, Any]:
        return {"udrInfo": {"supportedDataSets": ["SUBSCRIPTION", "POLICY"]}}

    async def on_start(self) -> None:
        cfg = self.cfg
        assert isinstance(cfg, UdrConfig)
        token = cfg.mgmt.get_token()
        if cfg.mgmt.enabled and token:
            self.mgmt_router = build_mgmt_router(self.store, token, self.data_changed)
            self.mgmt_server = SbiServer(self.mgmt_router, cfg.mgmt.address, cfg.mgmt.port)
            await self.mgmt_server.start()
        elif cfg.mgmt.enabled:
            log.warning("udr management API disabled: set udr.mgmt.token (or FIVECORE_MGMT_TOKEN)")

    async def on_stop(self) -> None:
        if self.mgmt_server is not None:
            await self.mgmt_server.stop()

    def data_changed(self, supi: str, sections: list[str]) -> None:
        """Provisioning changed ``supi``: notify subs-to-notify subscribers (TS 29.505)."""
        plmn = self.config.plmn.mcc + self.config.plmn.mnc
        self.deliver(self.context.changed(supi, sections, plmn))

    def deliver(self, notes: list[Notification]) -> None:
        for uri, note in notes:
            t = asyncio.get_running_loop().create_task(self._post(uri, note))
            self._notify_tasks.add(t)
            t.add_done_callback(self._notify_tasks.discard)

    async def _post(self, uri: str, note: dict[str, Any]) -> None:
        with contextlib.suppress(TransportError, OSError, ValueError):
            await self.client.call("POST", _path(uri), body=note, base_uri=_origin(uri), timeout=2.0)


def _origin(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _path(uri: str) -> str:
    _, _, rest = uri.partition("://")
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"
