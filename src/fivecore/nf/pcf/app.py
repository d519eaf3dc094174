"""The PCF process (127.0.0.13:7777 by default)."""

from __future__ import annotations

from fivecore.nf.common.app import NfApp
from fivecore.nf.pcf.sbi import PcfContext, build_router
from fivecore.transport.http2 import Router


class PcfApp(NfApp):
    """One PCF instance (TS 23.501 §6.2.4)."""

    nf_type = "PCF"
    section = "pcf"
    services = [("npcf-smpolicycontrol", "v1"), ("npcf-am-policy-control", "v1")]

    def build_router(self) -> Router:
        self.context = PcfContext()
        return build_router(self.config.pcf, self.context, lambda: self.uri)
