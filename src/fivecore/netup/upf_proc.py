"""The UPF process ``fivecore up`` starts: :class:`fivecore.nf.upf.app.UpfApp` plus its metrics.

    python -m fivecore.netup.upf_proc --config FILE

The user plane runs in a process of its own (ARCHITECTURE.md, "Process model"). When it is
ready it prints one line ``{"event": "upf_ready", ...}`` on stdout, which the parent waits for;
a start-up failure prints ``{"event": "upf_failed", "error": "..."}`` and exits 2. SIGTERM or
SIGINT stop it; closing the TUN descriptor removes the (non-persistent) N6 device.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from fivecore.config import load_config
from fivecore.errors import FivecoreError
from fivecore.netup.observe import server_for
from fivecore.obs.logging import setup_logging
from fivecore.runtime import install_fast_loop, settle_heap


def _say(doc: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


async def _main(config_path: str) -> int:
    from fivecore.nf.upf.app import UpfApp

    cfg = load_config(config_path)
    app = UpfApp(cfg)  # the whole config: the NRF registration needs the PLMN too
    metrics = server_for("upf", app, cfg) if cfg.metrics.enabled else None
    try:
        await app.start()
        if metrics is not None:
            await metrics.start()
    except (FivecoreError, OSError) as exc:
        with contextlib.suppress(Exception):
            await app.stop()
        _say({"event": "upf_failed", "error": str(exc)})
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    u = cfg.upf
    _say({"event": "upf_ready", "pfcp": f"{u.pfcp_address}:{u.pfcp_port}", "gtpu": f"{u.gtpu_address}:{u.gtpu_port}",
          "tun": u.tun_name, "metrics": metrics.url if metrics else None})
    settle_heap()
    try:
        await stop.wait()
    finally:
        if metrics is not None:
            await metrics.stop()
        await app.stop()
    return 0


def _die_with_parent() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGTERM): if ``fivecore up`` is killed, the UPF stops too."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    ap = argparse.ArgumentParser(prog="fivecore-upf")
    ap.add_argument("--config", required=True)
    ns = ap.parse_args(argv)
    try:
        cfg = load_config(ns.config)
        setup_logging(cfg.logging.level, fmt=cfg.logging.format,
                      file=str(cfg.logging.file) if cfg.logging.file else None)
        if cfg.upf.uvloop:
            install_fast_loop()
        return asyncio.run(_main(ns.config))
    except FivecoreError as exc:
        _say({"event": "upf_failed", "error": str(exc)})
        return 2


if __name__ == "__main__":
    sys.exit(main())
