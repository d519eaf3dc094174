"""SctpConfig.rx_batch (userspace backend): after a wake-up the raw socket is left unwatched
until the batch window closes, and the packets that came meanwhile are then read in one pass,
none lost or reordered. Real raw sockets on loopback; the window is made to close by the test
itself (its own callback), so how fast the machine runs cannot change the outcome."""

from __future__ import annotations

import asyncio
import os

import pytest

from fivecore.errors import ConfigError
from fivecore.transport import sctp
from fivecore.transport.sctp import userspace

N = 20  # small messages: all fit the sender's initial congestion window (no SACK needed)


@pytest.mark.parametrize("bad", [-0.001, 0.051])
def test_rx_batch_bounds(bad: float) -> None:
    with pytest.raises(ConfigError, match="rx_batch"):
        sctp.SctpConfig(rx_batch=bad)


async def _pair(batch: float) -> tuple[sctp.SctpServer, sctp.SctpAssociation, list[bytes], userspace._RawIO]:
    got: list[bytes] = []

    def on_assoc(a: sctp.SctpAssociation) -> None:
        a.set_message_handler(lambda m: got.append(m.data))

    server_cfg = sctp.SctpConfig(backend="userspace", rx_batch=batch, heartbeat_interval=0)
    srv = await sctp.listen("127.0.0.1", 0, server_cfg, on_association=on_assoc)
    c = await sctp.connect("127.0.0.1", srv.sockname[1], sctp.SctpConfig(backend="userspace", heartbeat_interval=0))
    io = userspace._RawIO.get()
    assert io._batch == batch  # the larger of the two endpoints' settings
    for _ in range(50):  # let the association's last handshake packets settle
        await asyncio.sleep(0)
    return srv, c, got, io


async def _turns(n: int = 50) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP needs raw sockets (root)")
def test_packets_of_the_window_are_read_in_one_pass() -> None:
    async def go() -> None:
        srv, c, got, io = await _pair(0.02)
        io._batch = 3600.0  # the window never closes by itself: the test closes it below
        passes = 0
        real = io._on_readable

        def counting() -> None:
            nonlocal passes
            passes += 1
            real()

        io._on_readable = counting  # type: ignore[method-assign]
        msgs = [i.to_bytes(2, "big") * 50 for i in range(N)]
        io._last_pass = io.loop.time()  # a pass just read the socket: the next wake-up waits
        c.send_nowait(msgs[0], stream=0)
        await _turns()
        timer = io._batch_timer
        assert timer is not None and passes == 0 and got == []  # woken, waiting, nothing read
        for m in msgs[1:]:
            c.send_nowait(m, stream=0)
            await asyncio.sleep(0)
        await _turns()
        assert passes == 0 and got == []  # the socket is not watched meanwhile
        timer.cancel()
        io._batch_due()  # the window closes
        assert passes == 1 and got == msgs  # one pass, every message, in order
        c.abort()
        srv.close(abort_associations=True)
        await _turns()

    asyncio.run(go())


@pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP needs raw sockets (root)")
def test_without_batching_each_wake_up_reads_at_once() -> None:
    async def go() -> None:
        srv, c, got, io = await _pair(0.0)
        msgs = [i.to_bytes(2, "big") * 50 for i in range(N)]
        for m in msgs:
            c.send_nowait(m, stream=0)
            await _turns(5)
            assert io._batch_timer is None  # never deferred
        await _turns()
        assert got == msgs
        c.abort()
        srv.close(abort_associations=True)
        await _turns()

    asyncio.run(go())


@pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP needs raw sockets (root)")
def test_a_wake_up_after_a_quiet_spell_is_read_at_once() -> None:
    """The first packet after ``rx_batch`` without a pass is read as it wakes us (no window);
    one that follows a pass within ``rx_batch`` waits for the window. The loop's clock decides,
    set here by the test, so the machine's speed cannot change the outcome."""

    async def go() -> None:
        srv, c, got, io = await _pair(0.02)
        io._batch = 3600.0
        quiet_since = io._last_pass = io.loop.time() - 3601.0  # quiet for longer than the window
        c.send_nowait(b"first" * 10, stream=0)
        await _turns()
        assert io._batch_timer is None and got == [b"first" * 10]  # read at once
        assert io._last_pass > quiet_since  # ...and that read counts as a pass
        c.send_nowait(b"second" * 10, stream=0)
        await _turns()
        timer = io._batch_timer
        assert timer is not None and got == [b"first" * 10]  # within the window: held back
        timer.cancel()
        io._batch_due()
        assert got == [b"first" * 10, b"second" * 10]
        c.abort()
        srv.close(abort_associations=True)
        await _turns()

    asyncio.run(go())
