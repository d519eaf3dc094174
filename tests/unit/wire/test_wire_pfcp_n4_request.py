"""The SMF's N4 requester (TS 29.244 §6.4): T1 retransmission, N1 attempts, late answers.

No sockets: the endpoint's transport is a recorder, and responses are fed to
``N4.datagram_received`` as the UDP protocol would. Where the order of answer and T1 expiry
matters, T1 is an hour and the test fires its expiry itself (the requester's own callback),
so a slow machine cannot add a retransmission.
"""

from __future__ import annotations

import asyncio

import pytest

from fivecore.nf.smf.pfcp import N4, PfcpFailure, UpfPeer, _t1_expired
from fivecore.wire import pfcp
from fivecore.wire.pfcp import PfcpMessage

UPF = ("127.0.0.7", 8805)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))

    def close(self) -> None:
        pass


def _n4(t1: float = 0.05, n1: int = 3) -> tuple[N4, Recorder, UpfPeer]:
    n4 = N4("127.0.0.4", 8805, [], t1=t1, n1=n1)
    rec = Recorder()
    n4.transport = rec  # type: ignore[assignment]
    return n4, rec, UpfPeer(UPF[0])


def _answer(n4: N4, req: bytes) -> None:
    seq = pfcp.decode(req).seq
    rsp = PfcpMessage.build("HeartbeatResponse", seq=seq, recovery_time_stamp=7)
    n4.datagram_received(pfcp.encode(rsp), UPF)


def test_answered_at_once() -> None:
    async def go() -> None:
        n4, rec, peer = _n4(t1=3600.0)
        task = asyncio.ensure_future(n4.request(peer, PfcpMessage.build("HeartbeatRequest", recovery_time_stamp=1)))
        await asyncio.sleep(0)
        assert len(rec.sent) == 1
        _answer(n4, rec.sent[0][0])
        rsp = await task
        assert rsp.msg_type == "HeartbeatResponse" and rsp.recovery_time_stamp == 7
        assert n4.stats.get("retransmissions", 0) == 0
        assert not n4._pending

    asyncio.run(go())


def test_t1_expiry_retransmits_the_same_bytes_then_the_answer_wins() -> None:
    async def go() -> None:
        n4, rec, peer = _n4(t1=3600.0)
        task = asyncio.ensure_future(n4.request(peer, PfcpMessage.build("HeartbeatRequest", recovery_time_stamp=1)))
        await asyncio.sleep(0)
        assert len(rec.sent) == 1
        _t1_expired(n4._pending[pfcp.decode(rec.sent[0][0]).seq])  # T1 runs out
        await asyncio.sleep(0)
        assert len(rec.sent) == 2
        assert rec.sent[0] == rec.sent[1]  # §6.4: a retransmission is byte-identical
        _answer(n4, rec.sent[0][0])
        rsp = await task
        assert rsp.recovery_time_stamp == 7
        assert n4.stats["retransmissions"] == 1
        assert not n4._pending

    asyncio.run(go())


def test_n1_attempts_then_failure() -> None:
    async def go() -> None:
        n4, rec, peer = _n4(t1=0.01, n1=3)
        with pytest.raises(PfcpFailure):
            await n4.request(peer, PfcpMessage.build("HeartbeatRequest", recovery_time_stamp=1))
        assert len(rec.sent) == 3
        assert n4.stats["retransmissions"] == 2
        assert not n4._pending
        # a response after giving up is counted, not delivered anywhere
        _answer(n4, rec.sent[0][0])
        assert n4.stats["unexpected_response"] == 1

    asyncio.run(go())


def test_cancelled_requester_leaves_nothing_behind() -> None:
    async def go() -> None:
        n4, rec, peer = _n4(t1=10.0)
        task = asyncio.ensure_future(n4.request(peer, PfcpMessage.build("HeartbeatRequest", recovery_time_stamp=1)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not n4._pending
        # no T1 timer left armed: the loop has nothing scheduled for this request
        loop = asyncio.get_running_loop()
        assert not [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]

    asyncio.run(go())
