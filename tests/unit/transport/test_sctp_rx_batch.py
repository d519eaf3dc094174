"""SctpConfig.rx_batch (userspace backend): packets arriving within the batch window after a
wake-up are read in one pass, and nothing is lost or reordered. Real raw sockets on loopback."""

from __future__ import annotations

import asyncio
import os

import pytest

from fivecore.errors import ConfigError
from fivecore.transport import sctp
from fivecore.transport.sctp import userspace


@pytest.mark.parametrize("bad", [-0.001, 0.051])
def test_rx_batch_bounds(bad: float) -> None:
    with pytest.raises(ConfigError, match="rx_batch"):
        sctp.SctpConfig(rx_batch=bad)


@pytest.mark.skipif(os.geteuid() != 0, reason="userspace SCTP needs raw sockets (root)")
@pytest.mark.parametrize("batch", [0.0, 0.02])
def test_messages_within_the_window_are_read_in_one_pass(batch: float) -> None:
    async def go() -> None:
        got: list[bytes] = []
        done = asyncio.Event()

        def on_assoc(a: sctp.SctpAssociation) -> None:
            def on_msg(m: sctp.Message) -> None:
                got.append(m.data)
                if len(got) == 40:
                    done.set()
            a.set_message_handler(on_msg)

        server_cfg = sctp.SctpConfig(backend="userspace", rx_batch=batch, heartbeat_interval=0)
        srv = await sctp.listen("127.0.0.1", 0, server_cfg, on_association=on_assoc)
        port = srv.sockname[1]
        c = await sctp.connect("127.0.0.1", port, sctp.SctpConfig(backend="userspace", heartbeat_interval=0))
        io = userspace._RawIO.get()
        assert io._batch == batch  # the larger of the two endpoints' settings
        await asyncio.sleep(0.05)
        passes = 0
        real = io._on_readable

        def counting() -> None:
            nonlocal passes
            passes += 1
            real()

        io._on_readable = counting  # type: ignore[method-assign]
        for i in range(40):  # one burst, each message its own packet
            c.send_nowait(i.to_bytes(2, "big") * 50, stream=0)
            await asyncio.sleep(0)
        await asyncio.wait_for(done.wait(), 10)
        assert got == [i.to_bytes(2, "big") * 50 for i in range(40)]  # all, in order
        if batch:
            assert passes <= 5  # the burst (1 pass here when quiet) waited for the window
        else:
            assert passes > 20  # each packet read as it came (39 when quiet): the check above can fail
        c.abort()
        srv.close(abort_associations=True)
        await asyncio.sleep(0.05)

    asyncio.run(go())
