"""``fivecore nf NAME --config FILE``: run one network function alone in this process.

NFs are looked up in :data:`NF_APPS` (name -> "module:Class" of an :class:`~fivecore.nf.common.NfApp`
subclass); later NFs (amf, smf, upf, ...) plug in by adding one entry.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import typer

from fivecore.config import load_config
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


def run_nf(name: str, config: Path | None) -> None:
    cfg = load_config(config)
    cls = load_app_class(name)
    setup_logging(cfg.logging.level)
    from fivecore.nf.common import run_forever

    install_fast_loop()
    try:
        apps = [cls(cfg)]
        if cfg.metrics.enabled:  # issue 8: /metrics and the info API beside the NF
            from fivecore.netup.observe import MetricsSidecar

            apps.append(MetricsSidecar(name, apps[0], cfg))
        asyncio.run(run_forever(apps))
    except OSError as exc:
        raise ConfigError(f"{name}: cannot listen on {cfg.section(name).sbi.address}:{cfg.section(name).sbi.port}: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    @app.command("nf")
    def nf_cmd(
        name: str = typer.Argument(..., help=f"Network function: {', '.join(NF_APPS)}."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML configuration file."),
    ) -> None:
        """Run one network function (SBI server, NRF registration, heartbeats) until Ctrl-C."""
        run_nf(name, config)
