"""A session-level answer "No established PFCP Association" (TS 29.244 §8.2.1 cause 72) tells
the SMF that its UPF restarted before a heartbeat could: it associates again at once.

No sockets: the N4 endpoint's transport records what it sends and answers are fed to
``N4.datagram_received`` as the UDP protocol would.
"""

from __future__ import annotations

import asyncio

from fivecore.nf.smf.pfcp import N4, UpfPeer
from fivecore.wire import pfcp
from fivecore.wire.pfcp import PfcpMessage

UPF = ("127.0.0.7", 8805)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append(data)

    def close(self) -> None:
        pass


async def _modify_answered_with(cause: int) -> tuple[N4, UpfPeer, Recorder, PfcpMessage, list[UpfPeer]]:
    n4 = N4("127.0.0.4", 8805, [], t1=3600.0, n1=1)
    rec = Recorder()
    n4.transport = rec  # type: ignore[assignment]
    peer = UpfPeer(UPF[0])
    peer.associated, peer.recovery_ts = True, 1000
    restarted: list[UpfPeer] = []

    async def on_restart(p: UpfPeer) -> None:
        restarted.append(p)

    n4.on_restart = on_restart
    task = asyncio.ensure_future(n4.request(peer, PfcpMessage.build("SessionModificationRequest", seid=9)))
    await asyncio.sleep(0)
    seq = pfcp.decode(rec.sent[0]).seq
    n4.datagram_received(pfcp.encode(PfcpMessage.build("SessionModificationResponse", seq=seq, seid=7,
                                                       cause=cause)), UPF)
    rsp = await task
    for _ in range(3):
        await asyncio.sleep(0)
    return n4, peer, rec, rsp, restarted


def test_cause_72_starts_a_new_association_at_once() -> None:
    async def go() -> None:
        n4, peer, rec, rsp, restarted = await _modify_answered_with(pfcp.CAUSE_NO_ESTABLISHED_ASSOCIATION)
        assert rsp.cause == pfcp.CAUSE_NO_ESTABLISHED_ASSOCIATION  # the caller still sees the refusal
        assert not peer.associated and n4.stats["upf_restarts"] == 1
        setup = pfcp.decode(rec.sent[-1])
        assert setup.msg_type == "AssociationSetupRequest"
        # the new association is answered: associated again, and the SMF's restart handling ran
        n4.datagram_received(pfcp.encode(PfcpMessage.build(
            "AssociationSetupResponse", seq=setup.seq, node_id=pfcp.NodeId.ipv4(UPF[0]),
            cause=pfcp.CAUSE_ACCEPTED, recovery_time_stamp=2000)), UPF)
        for _ in range(5):
            await asyncio.sleep(0)
        assert peer.associated and peer.recovery_ts == 2000
        assert restarted == [peer]  # sessions restored or released (smf.upf_restart)
        for t in list(n4._bg):
            t.cancel()

    asyncio.run(go())


def test_other_refusals_leave_the_association_alone() -> None:
    async def go() -> None:
        n4, peer, rec, rsp, restarted = await _modify_answered_with(pfcp.CAUSE_SESSION_CONTEXT_NOT_FOUND)
        assert peer.associated and "upf_restarts" not in n4.stats and not restarted
        assert [pfcp.decode(d).msg_type for d in rec.sent] == ["SessionModificationRequest"]

    asyncio.run(go())
