"""An AmfApp with one NG-set-up gNB whose association records what the AMF sends (no SCTP):
for tests of the app layer (overload control, how SBI calls are started)."""

from __future__ import annotations

from fivecore.config import load_config
from fivecore.nf.amf.app import AmfApp
from fivecore.nf.amf.context import GnbState


def app_with_gnb(**amf: object) -> tuple[AmfApp, list[bytes]]:
    """(the AMF built from ``amf`` config keys, the NGAP PDUs it sends to association 1)."""
    app = AmfApp(load_config({"amf": {"nrf_uri": None, **amf}}))
    sent: list[bytes] = []
    gnb = app.ngap.association_up(1, "test")
    gnb.state = GnbState.READY

    class Assoc:  # records what the AMF sends to the gNB
        is_closed = False
        out_streams = 2

        def send_nowait(self, data: bytes, stream: int = 0, ppid: int = 60) -> None:
            sent.append(data)

    app._assocs[1] = Assoc()  # type: ignore[assignment]
    return app, sent
