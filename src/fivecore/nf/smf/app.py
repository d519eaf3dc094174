"""The SMF process: Nsmf_PDUSession on the SBI (127.0.0.4:7777), N4 towards the UPFs (8805).

``fivecore nf smf --config FILE`` runs it alone; ``SmfApp(config)`` is an
:class:`~fivecore.nf.common.app.NfApp` like every NF (NRF registration with an ``smfInfo``
listing its slices and DNNs, heartbeats, in-process binding under ``fivecore up``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from fivecore.config import Config
from fivecore.nf.common.app import NfApp
from fivecore.nf.common.client import LocalRegistry
from fivecore.nf.smf.clients import SmfClients
from fivecore.nf.smf.context import Ipv4Pool, Ipv6PrefixPool, SmfContext
from fivecore.nf.smf.pfcp import N4, UpfPeer
from fivecore.nf.smf.sbi import SmfService
from fivecore.nf.smf.upf_nrf import UpfDiscovery, UpfWatcher
from fivecore.transport.http2 import Http2Client, Router

log = logging.getLogger("fivecore.smf")


class SmfApp(NfApp):
    """One SMF instance (TS 23.501 §6.2.2)."""

    nf_type = "SMF"
    section = "smf"
    services = [("nsmf-pdusession", "v1")]

    def __init__(self, config: Config, *, local: LocalRegistry | None = None,
                 http: Http2Client | None = None) -> None:
        s = config.smf
        if s.persist and s.nf_instance_id is None:
            # the restarted SMF is the instance its sessions' UDM registrations name
            from fivecore.nf.smf.persist import stored_instance_id

            s = s.model_copy(update={"nf_instance_id": stored_instance_id(config) or str(uuid.uuid4())})
            config = config.model_copy(update={"smf": s})
        super().__init__(config, local=local, http=http)
        # SM contexts survive a restart (fivecore.nf.smf.persist); no disk access before start()
        self.persistence: Any = None
        if s.persist:
            from fivecore.nf.smf.persist import SmfPersistence

            self.persistence = SmfPersistence.for_app(self)
            self.service.persist_info = self.persistence.info

    def build_router(self) -> Router:
        cfg = self.config.smf
        self.ctx = SmfContext()
        for d in cfg.dnns:
            self.ctx.pools[d.dnn] = Ipv4Pool(d.ipv4_pool, d.reserved)
            if d.ipv6_prefix_pool:
                self.ctx.v6pools[d.dnn] = Ipv6PrefixPool(d.ipv6_prefix_pool)
        # ``upf_selection: nrf``: no configured UPFs; NRF discovery adds them (upf_nrf.py)
        self.peers = [UpfPeer(u.address, u.port, tuple(u.dnns), tuple(s.as_tuple() for s in u.slices))
                      for u in cfg.upfs] if cfg.upf_selection == "config" else []
        self.n4 = N4(cfg.pfcp.address, cfg.pfcp.port, self.peers,
                     heartbeat_interval=cfg.pfcp.heartbeat_interval, t1=cfg.pfcp.t1, n1=cfg.pfcp.n1)
        self.clients = SmfClients(self.client, smf_instance_id=self.instance_id,
                                  mcc=self.config.plmn.mcc, mnc=self.config.plmn.mnc,
                                  callback_uri=cfg.sbi.uri)
        self.service = SmfService(
            ctx=self.ctx, clients=self.clients, n4=self.n4, peers=self.peers,
            dnns={d.dnn: d for d in cfg.dnns}, node_id=cfg.pfcp.address, base_uri=cfg.sbi.uri,
            usage_volume=cfg.usage_report_volume, restart_mode=cfg.upf_restart)
        self.upf_discovery: UpfDiscovery | None = None
        self.upf_watcher: UpfWatcher | None = None
        router = self.service.router()
        if cfg.upf_selection == "nrf":
            wanted = [(d.dnn, s.as_tuple()) for d in cfg.dnns for s in d.slices]
            self.upf_discovery = UpfDiscovery(self.client, self.n4, wanted)
            self.service.upf_finder = self.upf_discovery.find_quietly
            # TS 29.510 §5.2.2.5/§5.2.2.6: UPF status changes from the NRF, on our SBI
            self.upf_watcher = UpfWatcher(self.client, self.n4, self.upf_discovery,
                                          callback_uri=lambda: self.uri, nrf_base=self._nrf_base,
                                          stats=self.ctx.stats)
            self.upf_watcher.add_routes(router)
        return router

    def static_routes(self) -> dict[str, str]:
        return dict(self.config.smf.routes)

    def extra_profile(self) -> dict[str, Any]:
        """TS 29.510 §6.1.6.2.15 SmfInfo: the slices and DNNs this SMF serves."""
        per_slice: dict[tuple[int, str | None], list[str]] = {}
        for d in self.config.smf.dnns:
            for s in d.slices:
                per_slice.setdefault((s.sst, s.sd.lower() if s.sd else None), []).append(d.dnn)
        infos = []
        snssais = []
        for (sst, sd), dnns in per_slice.items():
            sn: dict[str, Any] = {"sst": sst, **({"sd": sd} if sd else {})}
            snssais.append(sn)
            infos.append({"sNssai": sn, "dnnSmfInfoList": [{"dnn": n} for n in dnns]})
        return {"smfInfo": {"sNssaiSmfInfoList": infos}, "sNssais": snssais}

    async def start(self, serve: bool = True) -> None:
        if self.persistence is not None:
            # TS 23.527 §4: the SM contexts are back before the SBI answers the AMF's first
            # update and before N4 associates (asking the UPFs to retain their sessions)
            self.persistence.open()
        else:
            from fivecore.nf.smf.persist import discard_stale

            discard_stale(self.config)  # not kept up to date from now on: never to be restored
        await super().start(serve)

    async def on_start(self) -> None:
        if self.persistence is not None:
            # write-behind of changed SM contexts: one transaction per smf.persist_flush_ms
            self._tasks.append(asyncio.create_task(self.persistence.run(), name="smf-persist"))
        await self.n4.start()
        if self.upf_discovery is not None:
            self._tasks.append(asyncio.create_task(self.upf_discovery.run(), name="smf-upf-discovery"))
        if self.upf_watcher is not None and (self.cfg.nrf_uri or self._nrf_local()):
            self.upf_watcher.registered = self.registered  # NfApp makes it after build_router()
            self._tasks.append(asyncio.create_task(self.upf_watcher.run(), name="smf-upf-status"))
        log.info("event=smf_n4_listening address=%s port=%d upfs=%s", self.n4.address, self.n4.port,
                 ",".join(p.address for p in self.peers))

    async def on_stop(self) -> None:
        if self.upf_watcher is not None:
            await self.upf_watcher.unsubscribe()
        await self.service.stop()
        await self.n4.stop()
        if self.persistence is not None:
            try:
                self.persistence.close()  # the last batch is written on a clean stop
            except Exception:  # noqa: BLE001 - stopping must go on
                log.exception("event=smf_persist_close_failed")
