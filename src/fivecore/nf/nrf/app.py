"""NRF process wiring: context + router + heartbeat supervision + notification delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fivecore.config import Config, NrfConfig
from fivecore.nf.common import NfApp
from fivecore.transport.http2 import Router, TransportError

from .context import Admission, Notification, NrfContext
from .sbi import build_router

log = logging.getLogger("fivecore.nrf")


class NrfApp(NfApp):
    """The NRF (TS 29.510). ``admission`` is the vendor-policy hook (see NrfContext.admission)."""

    nf_type = "NRF"
    section = "nrf"
    services = [("nnrf-nfm", "v1"), ("nnrf-disc", "v1")]

    def __init__(self, config: Config, *args: Any, admission: Admission | None = None, **kw: Any) -> None:
        if admission is None:
            admission = _vendor_admission(config)
        self._admission = admission
        self._notify_tasks: set[asyncio.Task[Any]] = set()
        super().__init__(config, *args, **kw)

    def build_router(self) -> Router:
        cfg = self.cfg
        assert isinstance(cfg, NrfConfig)
        self.context = NrfContext(
            heartbeat_timer=cfg.heartbeat_timer,
            validity_period=cfg.validity_period,
            nrf_uri=cfg.sbi.uri,
            admission=self._admission,
        )
        return build_router(self.context, self.deliver)

    async def on_start(self) -> None:
        if self.server is not None:
            self.context.nrf_uri = self.server.base_url
        self._tasks.append(asyncio.create_task(self._supervise(), name="nrf-expiry"))

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.deliver(self.context.expire())

    def deliver(self, notes: list[Notification]) -> None:
        """NFStatusNotify (TS 29.510 §5.2.2.6): POST each NotificationData, fire and forget."""
        for uri, note in notes:
            t = asyncio.get_running_loop().create_task(self._post(uri, note))
            self._notify_tasks.add(t)
            t.add_done_callback(self._notify_tasks.discard)

    async def _post(self, uri: str, note: dict[str, Any]) -> None:
        with contextlib.suppress(TransportError, OSError, ValueError):
            resp = await self.client.http.request("POST", uri, json=note, timeout=2.0)
            if resp.status >= 300:
                log.info("nrf notification refused uri=%s status=%s", uri, resp.status)


def _vendor_admission(config: Config) -> Admission | None:
    """Issue 10: the NRF admits NFs by vendor when a trust policy is configured."""
    from fivecore.trust.hooks import NrfAdmission
    from fivecore.trust.loader import audit_log_for, policy_from_config

    policy = policy_from_config(config, config.nrf.trust_policy)
    if policy is None:
        return None
    log.info("nrf vendor policy active vendors=%d", len(policy.vendors))
    return NrfAdmission(policy, audit_log_for(policy), actor="nrf")
