"""The NSSF process (127.0.0.14:7777 by default)."""

from __future__ import annotations

from typing import Any

from fivecore.nf.common.app import NfApp
from fivecore.nf.nssf.sbi import build_router
from fivecore.transport.http2 import Router


class NssfApp(NfApp):
    """One NSSF instance (TS 23.501 §6.2.14)."""

    nf_type = "NSSF"
    section = "nssf"
    services = [("nnssf-nsselection", "v2")]

    def build_router(self) -> Router:
        self.stats: dict[str, int] = {}
        cfg = self.config.nssf
        return build_router(cfg, lambda: cfg.slice_nrf_uri or cfg.nrf_uri, self.stats)

    def extra_profile(self) -> dict[str, Any]:
        return {"sNssais": [{"sst": s.sst, **({"sd": s.sd.lower()} if s.sd else {})}
                            for s in self.config.nssf.slices]}
