"""The User Plane Function (TS 23.501 §6.2.3): N4 PFCP, N3 GTP-U, N6 TUN.

Start one with ``python -m fivecore.nf.upf --config FILE`` or ``await run_upf(config)``.
Submodules are imported lazily so the datapath and rule model load without the PFCP stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UpfApp", "UpfConfig", "load_upf_config", "run_upf"]


def __getattr__(name: str) -> Any:
    if name in ("UpfApp", "run_upf"):
        from fivecore.nf.upf import app

        return getattr(app, name)
    if name in ("UpfConfig", "load_upf_config"):
        from fivecore.nf.upf import config

        return getattr(config, name)
    raise AttributeError(name)
