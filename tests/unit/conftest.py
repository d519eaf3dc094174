"""Fixtures shared by the unit tests of several NFs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

UE_SUPI = "imsi-001010000000001"


@pytest.fixture()
def amf_with_ue() -> Callable[..., tuple[Any, Any]]:
    """Builds an AmfApp (no NRF, no I/O started) with one NG-Setup-complete gNB and one
    REGISTERED UE on it (AMF-UE-NGAP-ID from RAN id 7, ``UE_SUPI``, slice SST 1): ``(app, ue)``.
    Keyword arguments go to :class:`AmfApp` (e.g. ``local=`` for an in-process SMF)."""
    from fivecore.config import load_config
    from fivecore.nf.amf.app import AmfApp
    from fivecore.nf.amf.context import GmmState, GnbState

    def build(**kw: Any) -> tuple[Any, Any]:
        app = AmfApp(load_config({"amf": {"nrf_uri": None}}), **kw)
        gnb = app.ngap.association_up(1, "test")
        gnb.state = GnbState.READY
        ue = app.gmm.ctx.new_ue(gnb, 7)
        ue.state = GmmState.REGISTERED
        app.gmm.ctx.set_supi(ue, UE_SUPI)
        ue.allowed_nssai = ((1, None),)
        return app, ue

    return build
