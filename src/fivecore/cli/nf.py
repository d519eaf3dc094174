"""``fivecore nf NAME [NAME...] --config FILE``: run network functions in this process.

One name runs that NF alone. Several names run them side by side in one process, calling each
other through the in-process SBI binding as ``fivecore up``'s control plane does, and reaching
everything else (the NRF, other instances) over HTTP/2: the way to add a second control-plane
instance (an AMF Set member with its own SMF, AUSF, UDM, UDR, ...) on another core or host.

NFs are looked up in :data:`NF_APPS` (name -> "module:Class" of an :class:`~fivecore.nf.common.NfApp`
subclass); later NFs (amf, smf, upf, ...) plug in by adding one entry.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

import typer

from fivecore.config import Config, load_config
from fivecore.errors import ConfigError
from fivecore.runtime import install_fast_loop

NF_APPS: dict[str, str] = {
    "nrf": "fivecore.nf.nrf.app:NrfApp",
    "ausf": "fivecore.nf.ausf.app:AusfApp",
    "udm": "fivecore.nf.udm.app:UdmApp",
    "udr": "fivecore.nf.udr.app:UdrApp",
    "smf": "fivecore.nf.smf.app:SmfApp",
    "pcf": "fivecore.nf.pcf.app:PcfApp",
    "nssf": "fivecore.nf.nssf.app:NssfApp",
    "amf": "fivecore.nf.amf.app:AmfApp",
    "upf": "fivecore.nf.upf.app:UpfApp",
}


def load_app_class(name: str) -> type:
    target = NF_APPS.get(name)
    if target is None:
        raise ConfigError(f"unknown NF {name!r}; known: {', '.join(sorted(NF_APPS))}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def setup_logging(level: str) -> None:
    # issue 8: key=value lines with SUPI masking and key redaction (fivecore.obs.logging)
    from fivecore.obs.logging import setup_logging as _setup

    _setup(level)


def capture_addresses(cfg: Config, names: list[str]) -> set[str]:
    """Every address the NFs ``names`` listen on: SBI, NGAP, PFCP, GTP-U."""
    addrs: set[str] = set()
    for n in names:
        if n == "upf":
            addrs |= {cfg.upf.pfcp_address, cfg.upf.gtpu_address}
            continue
        addrs.add(cfg.section(n).sbi.address)
        if n == "amf":
            addrs.add(cfg.amf.ngap.address)
        elif n == "smf":
            addrs.add(cfg.smf.pfcp.address)
    return addrs


class _Capture:
    """``--pcap``: the NFs' traffic on the loopback device, started and stopped beside them."""

    def __init__(self, path: Path, addresses: set[str]) -> None:
        import ipaddress

        outside = sorted(a for a in addresses if not ipaddress.ip_address(a).is_loopback)
        if outside:
            raise ConfigError(f"--pcap captures the loopback device only; {', '.join(outside)} is not a "
                              "loopback address (capture that interface with tshark -i IFACE)")
        from fivecore.netup.capture import LoopbackCapture

        self.capture = LoopbackCapture(path, addresses)

    async def start(self) -> None:
        self.capture.start()

    async def stop(self) -> None:
        self.capture.stop()


def run_nf(name: str | list[str], config: Path | None, pcap: Path | None = None) -> None:
    names = [name] if isinstance(name, str) else list(dict.fromkeys(name))
    cfg = load_config(config)
    classes = [load_app_class(n) for n in names]
    if "upf" in names and len(names) > 1:
        # the user plane must not share a GIL with signalling (ARCHITECTURE.md, process model)
        raise ConfigError("run the upf in a process of its own")
    setup_logging(cfg.logging.level)
    apps: list[Any] = [_Capture(pcap, capture_addresses(cfg, names))] if pcap is not None else []
    from fivecore.nf.common import run_forever
    from fivecore.nf.common.client import LocalRegistry

    install_fast_loop()
    local = LocalRegistry() if len(names) > 1 else None
    for n, cls in zip(names, classes, strict=True):
        apps.append(cls(cfg, local=local) if local is not None else cls(cfg))
        if cfg.metrics.enabled:  # issue 8: /metrics and the info API beside each NF
            from fivecore.netup.observe import MetricsSidecar

            apps.append(MetricsSidecar(n, apps[-1], cfg))
    try:
        asyncio.run(run_forever(apps))
    except OSError as exc:
        where = ", ".join(f"upf {cfg.upf.pfcp_address}:{cfg.upf.pfcp_port}" if n == "upf"
                          else f"{n} {cfg.section(n).sbi.address}:{cfg.section(n).sbi.port}" for n in names)
        raise ConfigError(f"{'/'.join(names)}: cannot listen ({where}): {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    @app.command("nf")
    def nf_cmd(
        names: list[str] = typer.Argument(..., metavar="NAME",
                                          help=f"Network functions: {', '.join(NF_APPS)}."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML configuration file."),
        pcap: Path = typer.Option(None, "--pcap", help="Write these NFs' SBI/N2/N4/N3 traffic on the "
                                  "loopback device to this pcap (root)."),
    ) -> None:
        """Run network functions (SBI server, NRF registration, heartbeats) until Ctrl-C.

        Several names share this process and call each other in-process (the upf runs alone).
        """
        run_nf(names, config, pcap)
