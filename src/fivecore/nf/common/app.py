"""Shared NF plumbing: SBI server, the SBI client, NRF registration and heartbeat, lifecycle.

An NF subclasses :class:`NfApp`, sets ``nf_type``/``section``/``services`` and implements
``build_router()`` (its ``sbi.py``). ``await app.start()`` serves its SBI (unless ``serve=False``),
puts its router into the in-process registry when one is given, registers its NFProfile with the
NRF (TS 29.510 §5.2.2.2) in the background, retrying until the NRF answers, then sends
heartbeats (§5.2.2.3.2) every ``heartBeatTimer`` seconds and re-registers if the NRF forgot it.
``await app.stop()`` deregisters (§5.2.2.4) and closes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

from fivecore.config import Config, NfSection
from fivecore.runtime import settle_heap
from fivecore.transport.http2 import (
    Http2Client,
    Router,
    SbiServer,
    TransportError,
    server_ssl_context,
)
from fivecore.transport.http2.message import path_segment

from .client import LocalRegistry, SbiClient

log = logging.getLogger("fivecore.nf")

HEARTBEAT_PATCH = [{"op": "replace", "path": "/nfStatus", "value": "REGISTERED"}]


class NfApp:
    """Base class of every NF process (see module docstring)."""

    nf_type: str = ""
    section: str = ""
    #: (service name, API version in URI), e.g. ("nudm-ueau", "v1")
    services: list[tuple[str, str]] = []

    def __init__(
        self,
        config: Config,
        *,
        local: LocalRegistry | None = None,
        http: Http2Client | None = None,
    ) -> None:
        self.config = config
        self.cfg: NfSection = config.section(self.section)
        self.instance_id = self.cfg.instance_id()
        self.local = local
        if http is None and self.cfg.sbi.tls is not None and self.cfg.sbi.tls.ca is not None:
            # TLS deployments (TS 33.210): trust the configured CA and present our own
            # certificate to peers that ask for it (mutual TLS).
            tls = self.cfg.sbi.tls
            ctx = ssl.create_default_context(cafile=str(tls.ca))
            ctx.load_cert_chain(str(tls.cert), str(tls.key))
            http = Http2Client(ssl_context=ctx)
        self.client = SbiClient(
            self.nf_type, self.instance_id, nrf_uri=self.cfg.nrf_uri, http=http, local=local,
            static=self.static_routes(),
        )
        self.router: Router = self.build_router()
        self.server: SbiServer | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.registered = asyncio.Event()
        self.heartbeat_timer = 10

    # -- to override --------------------------------------------------------------------------
    def build_router(self) -> Router:
        raise NotImplementedError

    def static_routes(self) -> dict[str, str]:
        """Service name or NF type -> base URI configured statically (skips discovery)."""
        return {}

    def extra_profile(self) -> dict[str, Any]:
        """NF-specific NFProfile members (udmInfo, smfInfo, ...)."""
        return {}

    async def on_start(self) -> None:
        """Hook run after the server is up (background tasks, ...)."""

    async def on_stop(self) -> None:
        """Hook run before the server stops."""

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        if self.server is not None:
            return self.server.base_url
        return self.cfg.sbi.uri

    def profile(self) -> dict[str, Any]:
        """This NF's NFProfile (TS 29.510 §6.1.6.2.2)."""
        ep = self.cfg.sbi
        port = self.server.port if self.server is not None else ep.port
        addr_key = "ipv6Address" if ":" in ep.address else "ipv4Address"
        services = {}
        for i, (name, version) in enumerate(self.services):
            sid = f"{name}-{i}"
            services[sid] = {
                "serviceInstanceId": sid,
                "serviceName": name,
                "versions": [{"apiVersionInUri": version, "apiFullVersion": f"{version[1:]}.0.0"}],
                "scheme": ep.scheme,
                "nfServiceStatus": "REGISTERED",
                "ipEndPoints": [{addr_key: ep.address, "transport": "TCP", "port": port}],
            }
        prof: dict[str, Any] = {
            "nfInstanceId": self.instance_id,
            "nfType": self.nf_type,
            "nfStatus": "REGISTERED",
            "heartBeatTimer": self.heartbeat_timer,
            "plmnList": [{"mcc": self.config.plmn.mcc, "mnc": self.config.plmn.mnc}],
            ("ipv6Addresses" if ":" in ep.address else "ipv4Addresses"): [ep.address],
            "nfServiceList": services,
        }
        if self.cfg.vendor_id:
            prof["vendorId"] = self.cfg.vendor_id
        prof.update(self.extra_profile())
        return prof

    async def start(self, serve: bool = True) -> None:
        if serve:
            ep = self.cfg.sbi
            ctx = server_ssl_context(str(ep.tls.cert), str(ep.tls.key), str(ep.tls.ca) if ep.tls.ca else None) if ep.tls else None
            self.server = SbiServer(self.router, ep.address, ep.port, ssl_context=ctx)
            await self.server.start()
        if self.local is not None:
            self.local.register([s for s, _ in self.services], self.router)
        await self.on_start()
        if self.nf_type != "NRF" and (self.cfg.nrf_uri or self._nrf_local()):
            self._tasks.append(asyncio.create_task(self._nrf_loop(), name=f"{self.nf_type}-nrf"))
        else:
            self.registered.set()

    def _nrf_local(self) -> bool:
        return self.local is not None and self.local.get("nnrf-nfm") is not None

    def _nrf_base(self) -> str | None:
        return None if self._nrf_local() else self.cfg.nrf_uri

    async def _nrf_loop(self) -> None:
        path = f"/nnrf-nfm/v1/nf-instances/{path_segment(self.instance_id)}"
        delay = 0.2
        while True:
            try:
                if not self.registered.is_set():
                    resp = await self.client.call("PUT", path, body=self.profile(), base_uri=self._nrf_base())
                    if resp.status in (200, 201):
                        body = resp.json() or {}
                        self.heartbeat_timer = int(body.get("heartBeatTimer") or self.heartbeat_timer)
                        self.registered.set()
                        log.info("nf registered nf=%s id=%s", self.nf_type, self.instance_id)
                        delay = 0.2
                    else:
                        log.warning("nf registration refused nf=%s status=%s problem=%s",
                                    self.nf_type, resp.status, resp.problem())
                        await asyncio.sleep(min(delay := delay * 2, 10))
                        continue
                # Heartbeat well inside the timer so scheduling jitter never makes the NRF
                # think we went silent (TS 29.510 §5.2.2.3.2).
                await asyncio.sleep(self.heartbeat_timer * 0.6)
                resp = await self.client.call("PATCH", path, body=HEARTBEAT_PATCH, base_uri=self._nrf_base(),
                                              headers={"content-type": "application/json-patch+json"})
                if resp.status == 404:
                    self.registered.clear()
            except (TransportError, OSError) as exc:
                log.info("nrf unreachable nf=%s err=%s", self.nf_type, exc)
                self.registered.clear()
                await asyncio.sleep(min(delay := delay * 2, 5))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.registered.is_set() and self.nf_type != "NRF":
            with contextlib.suppress(Exception):
                await self.client.call("DELETE", f"/nnrf-nfm/v1/nf-instances/{path_segment(self.instance_id)}",
                                       base_uri=self._nrf_base(), timeout=1.0)
        await self.on_stop()
        if self.local is not None:
            self.local.unregister([s for s, _ in self.services])
        if self.server is not None:
            await self.server.stop()
        await self.client.close()


async def run_forever(apps: list[NfApp]) -> None:
    """Start ``apps`` and run until SIGINT/SIGTERM, then stop them in reverse order."""
    import signal

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    started: list[NfApp] = []
    try:
        for app in apps:
            await app.start()
            started.append(app)
        settle_heap()
        await stop.wait()
    finally:
        for app in reversed(started):
            await app.stop()
