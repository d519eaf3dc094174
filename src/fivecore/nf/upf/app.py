"""Wiring of the UPF process: PFCP over asyncio, the datapath in its own thread.

``python -m fivecore.nf.upf --config FILE`` (or ``fivecore nf upf``) runs :func:`main`;
other code starts a UPF with ``await run_upf(config)`` (until cancelled) or with
:class:`UpfApp` when it needs the context (tests, benchmarks).

With ``upf.nrf_uri`` set (the default, like every NF) the UPF registers its NFProfile with
the NRF once N4 is up, heartbeats, and deregisters when it stops (:mod:`fivecore.nf.upf.nrf`).

The user plane must not share a GIL with signalling of other NFs (ARCHITECTURE.md,
"Process model"): run it as its own process. Inside it, PFCP is rare and cheap and the
datapath thread sleeps in epoll when idle, so the two share the GIL comfortably.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fivecore.errors import ConfigError
from fivecore.nf.upf.config import UpfConfig, load_upf_config
from fivecore.nf.upf.context import UpfContext
from fivecore.nf.upf.datapath import Datapath
from fivecore.nf.upf.gtpu_control import N3Control
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.runtime import install_fast_loop
from fivecore.transport import sockbuf
from fivecore.transport.tun import Tun, TunError

log = logging.getLogger("fivecore.upf")

# How often the PFCP side wakes to run timers and collect datapath events (usage
# thresholds, first downlink packet for an idle UE); bounds report latency.
TICK_SECONDS = 0.05


class _PfcpProtocol(asyncio.DatagramProtocol):
    def __init__(self, app: UpfApp) -> None:
        self.app = app
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            out = self.app.node.datagram_received(data, addr, time.monotonic())
        except Exception:  # a bug in one message must not stop the N4 endpoint
            log.exception("pfcp handler failed addr=%s", addr)
            return
        self.app.send_pfcp(out)

    def error_received(self, exc: Exception) -> None:
        log.debug("pfcp socket error: %s", exc)


def add_n6_ipv6(name: str, addresses: list[str]) -> None:
    """Give the N6 TUN ``name`` its IPv6 addresses (CIDR), so that the kernel routes each pool
    into the TUN by the prefix route that comes with the address (TS 23.501 §5.8.2.2.3: a
    session's /64 is reached on N6 through the UPF).

    ``nodad``: the TUN is a point-to-point link the UPF alone writes to, so Duplicate Address
    Detection (RFC 4862 §5.4) has nobody to ask and would only keep the address tentative
    for a second, during which the kernel will not source packets from it. ``replace`` keeps
    a restart of the UPF on a persistent TUN from failing on the address it added before.
    """
    for addr in addresses:
        iface = ipaddress.IPv6Interface(addr)
        cmd = ["ip", "-6", "addr", "replace", iface.with_prefixlen, "dev", name, "nodad"]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TunError(f"{' '.join(cmd)}: {exc}") from exc
        if res.returncode != 0:
            raise TunError(f"{' '.join(cmd)}: {res.stderr.strip()}")


class UpfApp:
    """One running UPF: context, TUN, N3 socket, datapath thread and PFCP endpoint."""

    def __init__(self, config: UpfConfig | Any, *, plmn: tuple[str, str] | None = None,
                 http: Any = None) -> None:
        """``config``: the UPF's section, or a whole :class:`fivecore.config.Config`
        (as ``fivecore nf upf`` passes it: its ``upf`` section and its PLMN are used).
        ``plmn`` (MCC, MNC) and ``http`` (an SBI HTTP/2 client, e.g. a validating one in
        tests) serve the NRF registration (:mod:`fivecore.nf.upf.nrf`)."""
        if not isinstance(config, UpfConfig):
            if plmn is None:
                plmn = (config.plmn.mcc, config.plmn.mnc)
            config = config.upf
        self.config: UpfConfig = config
        self.plmn: tuple[str, str] = plmn or ("001", "01")
        self._http = http
        #: NFRegister/heartbeat/NFDeregister (fivecore.nf.upf.nrf.UpfNrfAgent); None without nrf_uri
        self.nrf: Any = None
        self.ctx = UpfContext(config.gtpu_address, config.gtpu_port)
        self.tun: Tun | None = None
        self.n3: socket.socket | None = None
        self.datapath: Datapath | None = None
        self.n3control: N3Control | None = None
        self.node: PfcpNode | None = None  # type: ignore[assignment]
        self._pfcp: _PfcpProtocol | None = None
        self._tick: asyncio.Task[None] | None = None
        #: set when the datapath thread died; the process should then exit non-zero
        self.failed = asyncio.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        cfg = self.config
        try:
            self.tun = Tun(cfg.tun_name, create=cfg.tun_create, address=cfg.tun_address,
                           mtu=cfg.tun_mtu)
        except TunError as exc:
            raise ConfigError(f"upf.tun_name: {exc}") from exc
        if cfg.tun_create and cfg.ipv6_subnet:
            try:
                add_n6_ipv6(cfg.tun_name, cfg.tun_ipv6_addresses)
            except TunError as exc:
                self.tun.close()
                raise ConfigError(f"upf.ipv6_subnet: {exc}") from exc
        n3 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            n3.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cfg.rcvbuf)
            n3.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, cfg.rcvbuf)
            n3.bind((cfg.gtpu_address, cfg.gtpu_port))
        except OSError as exc:
            n3.close()
            self.tun.close()
            raise ConfigError(f"upf.gtpu_address: cannot bind {cfg.gtpu_address}:"
                              f"{cfg.gtpu_port}: {exc.strerror}") from exc
        self.n3 = n3
        self.n3control = N3Control(self.ctx, (cfg.gtpu_address, cfg.gtpu_port))
        self.datapath = Datapath(
            self.ctx, n3, self.tun.fd, batch=cfg.batch,
            on_n3_control=self._on_n3_control, on_unknown_teid=self._on_unknown_teid,
            on_crash=self._on_datapath_crash, ra_policy=cfg.ra_policy(),
        )
        self.node = PfcpNode(
            self.ctx, node_id=cfg.pfcp_node_id, heartbeat_interval=cfg.heartbeat_interval,
            heartbeat_retries=cfg.heartbeat_retries, t1=cfg.t1, n1=cfg.n1,
            # a restarted SMF that kept its SM contexts asks to retain its sessions (TS 29.244
            # §6.2.6.2): they wait for it as long as a silent SMF would be waited for
            cp_restart_grace=cfg.heartbeat_interval * cfg.heartbeat_retries,
        )
        loop = asyncio.get_running_loop()
        self._loop = loop
        try:
            _, proto = await loop.create_datagram_endpoint(
                lambda: _PfcpProtocol(self), local_addr=(cfg.pfcp_address, cfg.pfcp_port))
        except OSError as exc:
            self._close_io()
            raise ConfigError(f"upf.pfcp_address: cannot bind {cfg.pfcp_address}:"
                              f"{cfg.pfcp_port}: {exc.strerror}") from exc
        self._pfcp = proto
        sock = proto.transport.get_extra_info("socket") if proto.transport else None
        if sock is not None:
            # An SMF restoring thousands of sessions after a restart sends bursts; a GC pause
            # must not turn them into retransmissions.
            sockbuf.grow(sock, socket.SO_RCVBUF, sockbuf.PFCP_RCVBUF)
        self.datapath.start()
        self._tick = asyncio.create_task(self._ticker(), name="upf-pfcp-timers")
        if cfg.nrf_uri:
            # Registration runs in the background and retries until the NRF answers: N4 is
            # served from here on whether or not the NRF is reachable (TS 23.501 §6.3.3.3).
            from fivecore.nf.upf.nrf import UpfNrfAgent

            self.nrf = UpfNrfAgent(cfg, mcc=self.plmn[0], mnc=self.plmn[1], http=self._http)
            await self.nrf.start()
        log.info("upf started pfcp=%s:%d gtpu=%s:%d tun=%s", cfg.pfcp_address, cfg.pfcp_port,
                 cfg.gtpu_address, cfg.gtpu_port, cfg.tun_name)

    # -- N3 slow path (called from the datapath thread) ----------------------------------------

    def _on_datapath_crash(self, exc: BaseException) -> None:
        self.error = exc
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.failed.set)

    def _on_n3_control(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.n3control is not None and self.datapath is not None
        for msg, dst in self.n3control.handle(data, addr):
            self.datapath.send_n3(msg, dst)

    def _on_unknown_teid(self, teid: int, addr: tuple[str, int]) -> None:
        assert self.n3control is not None and self.datapath is not None
        self.datapath.send_n3(self.n3control.error_indication(teid), (addr[0], 2152))

    # -- PFCP side ------------------------------------------------------------------------------

    def send_pfcp(self, out: list[tuple[bytes, tuple[str, int]]]) -> None:
        if self._pfcp is None or self._pfcp.transport is None:
            return
        for data, addr in out:
            self._pfcp.transport.sendto(data, addr)
        self.ctx.metrics.pfcp_tx += len(out)
        self._apply_user_plane_effects()

    def _apply_user_plane_effects(self) -> None:
        """Send end markers and flush buffers the PFCP procedures asked for."""
        node, dp, n3c = self.node, self.datapath, self.n3control
        if node is None or dp is None or n3c is None or not node.has_effects:
            return
        for teid, peer in node.take_end_markers():
            dp.send_n3(n3c.end_marker(teid), peer)
            self.ctx.metrics.end_marker_tx += 1
        for session in node.take_flushes():
            dp.flush_buffer(session)

    async def _ticker(self) -> None:
        next_stats = 0.0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            try:
                assert self.node is not None
                self.send_pfcp(self.node.poll(now))
            except Exception:
                log.exception("pfcp timer failed")
            if self.datapath is not None:
                try:
                    self.datapath.advertise_due()  # periodic Router Advertisements (RFC 4861 §6.2.4)
                except Exception:
                    log.exception("router advertisement timer failed")
            if self.config.stats_file and now >= next_stats:
                next_stats = now + self.config.stats_interval
                self.write_stats()

    def write_stats(self) -> None:
        """Dump the counters for tools that cannot scrape metrics (tests, benchmarks)."""
        path = self.config.stats_file
        if not path:
            return
        tmp = f"{path}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(self.ctx.metrics.as_prometheus(), f)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cannot write stats file %s: %s", path, exc)

    async def stop(self) -> None:
        if self.nrf is not None:
            # NFDeregister first (TS 29.510 §5.2.2.4): no SMF should select a UPF that is going
            nrf, self.nrf = self.nrf, None
            try:
                await nrf.stop()
            except Exception:  # the NRF's trouble must not keep the user plane from stopping
                log.exception("nrf deregistration failed")
        if self._tick is not None:
            self._tick.cancel()
            try:
                await self._tick
            except asyncio.CancelledError:
                pass
            self._tick = None
        self.write_stats()
        if self._pfcp is not None and self._pfcp.transport is not None:
            self._pfcp.transport.close()
        self._pfcp = None
        self._close_io()

    def _close_io(self) -> None:
        if self.datapath is not None:
            self.datapath.stop()
            self.datapath = None
        if self.n3 is not None:
            self.n3.close()
            self.n3 = None
        if self.tun is not None:
            self.tun.close()
            self.tun = None


async def run_upf(config: UpfConfig | dict[str, Any] | str | None = None) -> None:
    """Run a UPF until cancelled. ``config``: a :class:`UpfConfig`, a dict with an ``upf:``
    section, a YAML path, or None for the defaults."""
    if isinstance(config, UpfConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = load_upf_config(data=config)
    else:
        cfg = load_upf_config(config)
    app = UpfApp(cfg)
    await app.start()
    try:
        await app.failed.wait()
        raise RuntimeError(f"UPF datapath failed: {app.error!r}")
    finally:
        await app.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m fivecore.nf.upf --config FILE``: run until SIGINT/SIGTERM."""
    ap = argparse.ArgumentParser(prog="fivecore-upf", description="fivecore UPF (N3/N4/N6)")
    ap.add_argument("--config", "-c", help="YAML file with an upf: section")
    ap.add_argument("--log-level", default=os.environ.get("FIVECORE_LOG", "info"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        cfg = load_upf_config(args.config)
        plmn = _file_plmn(args.config)
    except ConfigError as exc:
        print(f"fivecore-upf: error: {exc}", file=sys.stderr)
        return 2
    return serve(cfg, plmn)


def _file_plmn(path: str | None) -> tuple[str, str] | None:
    """The ``plmn:`` section of the YAML file beside ``upf:`` (the PLMN the UPF registers
    in, TS 29.510 plmnList), validated as fivecore.config does; None when absent."""
    if path is None:
        return None
    import yaml

    from fivecore.config import PlmnConfig

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
        raw = data.get("plmn") if isinstance(data, dict) else None
        if raw is None:
            return None
        p = PlmnConfig.model_validate(raw)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"plmn: {exc}") from None
    return (p.mcc, p.mnc)


def serve(cfg: UpfConfig, plmn: tuple[str, str] | None = None) -> int:
    """Run one UPF in this process until SIGINT/SIGTERM; returns the exit status."""
    if cfg.uvloop:
        install_fast_loop()

    async def _main() -> int:
        app = UpfApp(cfg, plmn=plmn)
        try:
            await app.start()
        except ConfigError as exc:
            print(f"fivecore-upf: error: {exc}", file=sys.stderr)
            return 2
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"upf ready pfcp={cfg.pfcp_address}:{cfg.pfcp_port} "
              f"gtpu={cfg.gtpu_address}:{cfg.gtpu_port} tun={cfg.tun_name}", flush=True)
        failed = asyncio.create_task(app.failed.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        failed.cancel()
        stopped.cancel()
        await app.stop()
        if app.error is not None:
            print(f"fivecore-upf: datapath failed: {app.error!r}", file=sys.stderr)
            return 1
        return 0

    return asyncio.run(_main())
