"""A live gNB that misses the AMF's first HEARTBEATs (an overloaded host) is not cut off when
another node sends an NG Setup with its Global RAN Node ID: the AMF's probe retransmits its
HEARTBEAT after each RTO, doubling it (RFC 9260 §8.3, §6.3.3 E2), and takes the third one's
answer as proof of life. A single unanswered HEARTBEAT used to be enough to abort it.

Real processes and sockets: NRF, UDR, UDM, AUSF and AMF as processes; the two gNBs are the
simulator's, in this process; the first one's SCTP stack drops its first two HEARTBEATs.
"""

from __future__ import annotations

import functools

import pytest
from netkit import amf_core
from polling import await_until

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.gnb import Gnb, GnbConfig
from fivecore.transport import sctp
from fivecore.transport.sctp import packet as p

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-probe-slow-gnb") as c:
        yield c


async def test_gnb_missing_two_heartbeats_is_not_cut_off(core: AmfCore, monkeypatch: pytest.MonkeyPatch) -> None:
    dropped: list[bytes] = []

    def busy(direction: str, pkt: bytes) -> bool:
        """The gNB's stack misses the first two HEARTBEATs it is sent."""
        if direction == "rx" and len(dropped) < 2:
            try:
                if any(c.type == p.HEARTBEAT for c in p.parse_chunks(pkt)):
                    dropped.append(pkt)
                    return False
            except p.SctpDecodeError:
                pass
        return True

    host, port = core.ngap
    a = Gnb(GnbConfig(gnb_id=0x5678, amf_host=host, amf_port=port))
    b = Gnb(GnbConfig(gnb_id=0x5678, amf_host=host, amf_port=port))
    before = await core.acounters()
    monkeypatch.setattr(sctp, "connect", functools.partial(sctp.connect, packet_filter=busy))
    await a.start()
    monkeypatch.undo()  # only the first gNB is slow
    # Its delayed SACK of the NG Setup Response (sack_delay 0.2 s, RFC 9260 §6.2) must be out
    # first: a SACK of new DATA would also prove it alive, and here the HEARTBEATs must. The AMF
    # reads it before the second gNB's INIT (one raw socket, in order of arrival).
    await await_until("the first gNB's delayed SACK is sent", lambda: not a.assoc.ack_pending, timeout=10)
    try:
        await b.start()
        try:
            n = before.get("gnb_duplicate_id_alive", 0) + 1
            assert await core.wait_counter("gnb_duplicate_id_alive", n, timeout=60) == n
            after = await core.acounters()
            assert after.get("gnb_stale_association_aborted", 0) == before.get("gnb_stale_association_aborted", 0)
            assert len(dropped) == 2  # the first two went unanswered, the third was answered
            assert after["ng_setup_duplicate_gnb_id"] == before.get("ng_setup_duplicate_gnb_id", 0) + 1
            assert a.ready and b.ready and not a.assoc.is_closed
        finally:
            await b.stop()
    finally:
        await a.stop()
