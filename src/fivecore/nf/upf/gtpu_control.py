"""N3 signalling of the UPF: GTP-U path management and error handling (TS 29.281 §7).

Everything on N3 that is not a well-formed G-PDU comes here from the datapath: Echo
Request (answered, §7.2.2), Error Indication from a gNB (turned into a PFCP Error
Indication Report towards the SMF, TS 29.244 §5.10), End Marker (ignored by a UPF), and
junk (counted). Messages are built and parsed with :mod:`fivecore.wire.gtpu`.

Runs in the datapath thread; it only reads the context and appends to its deques.
"""

from __future__ import annotations

import logging

from fivecore.nf.upf.context import UpfContext
from fivecore.wire import DecodeError, gtpu

log = logging.getLogger("fivecore.upf.gtpu")


class N3Control:
    """Answers and builds the non-G-PDU GTP-U messages of one N3 endpoint."""

    def __init__(self, ctx: UpfContext, local: tuple[str, int]) -> None:
        self.ctx = ctx
        self.local = local

    def handle(self, data: bytes, addr: tuple[str, int]) -> list[tuple[bytes, tuple[str, int]]]:
        """One datagram that the datapath did not forward; returns replies to send."""
        try:
            msg = gtpu.decode(data)
        except DecodeError as exc:
            self.ctx.metrics.drop_malformed += 1
            log.debug("n3 malformed from=%s reason=%s", addr, exc.reason)
            return []
        if msg.msg_type == gtpu.ECHO_REQUEST:
            self.ctx.metrics.echo_rx += 1
            # TS 29.281 §7.2.2: same sequence number, back to the request's source port,
            # Recovery restart counter 0.
            return [(gtpu.build_echo_response(msg.seq or 0, 0), addr)]
        if msg.msg_type == gtpu.ERROR_INDICATION:
            self._error_indication(msg, addr)
            return []
        if msg.msg_type == gtpu.G_PDU:
            # Reached only when the fast path refused the header (e.g. spare bit set).
            self.ctx.metrics.drop_malformed += 1
        return []

    def _error_indication(self, msg: gtpu.GtpuMessage, addr: tuple[str, int]) -> None:
        """TS 29.281 §7.3.1 / TS 29.244 §5.10: a gNB does not know our downlink TEID."""
        teid = msg.teid_data_i
        peer = msg.peer_address or addr[0]
        for path in list(self.ctx.dl_by_ue.values()):
            if path.teid == teid and path.peer is not None and path.peer[0] == peer:
                self.ctx.error_indication_events.append((path.session, teid, peer))
                log.info("n3 error indication teid=%#x peer=%s", teid, peer)
                return
        log.debug("n3 error indication for unknown tunnel teid=%s peer=%s", teid, peer)

    def error_indication(self, teid: int) -> bytes:
        """Error Indication for a G-PDU on an unknown TEID (TS 29.281 §7.3.1)."""
        self.ctx.metrics.error_indication_tx += 1
        return gtpu.build_error_indication(teid, self.local[0])

    def end_marker(self, teid: int) -> bytes:
        """End Marker on a downlink tunnel that carries no more data (TS 29.281 §7.3.2)."""
        return gtpu.build_end_marker(teid)
