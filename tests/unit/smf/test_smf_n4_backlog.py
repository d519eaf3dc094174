"""The SMF's N4 socket keeps what the UPF sends while the control plane is busy.

At 600 attaches/s the control plane's event loop runs a few hundred milliseconds behind; with
Linux's default receive buffer the kernel dropped thousands of PFCP responses on the SMF's socket
(``UdpRcvbufErrors``), and every session whose response was dropped waited a whole T1 (3 s,
TS 29.244 §6.4) for its retransmission. A real socket on loopback, a real burst, no loop turn in
between.
"""

from __future__ import annotations

import socket

from fivecore.nf.smf.pfcp import N4
from fivecore.wire import pfcp
from fivecore.wire.pfcp import Ies, PfcpMessage

#: more than a default-sized buffer holds (about 300 small datagrams on loopback)
BURST = 4000


async def test_n4_socket_holds_a_burst_while_the_loop_is_busy() -> None:
    n4 = N4("127.0.0.1", 0, [])
    await n4.start()
    try:
        raw = n4.transport.get_extra_info("socket")
        msgs = [pfcp.encode(PfcpMessage("HeartbeatResponse", seq=seq, ies=Ies(recovery_time_stamp=1)))
                for seq in range(1, BURST + 1)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upf:
            for data in msgs:  # no await: the loop stays busy with this test meanwhile
                upf.sendto(data, ("127.0.0.1", n4.port))
        kept = []
        with socket.fromfd(raw.fileno(), socket.AF_INET, socket.SOCK_DGRAM) as reader:
            reader.setblocking(False)
            while True:
                try:
                    kept.append(reader.recv(2048))
                except BlockingIOError:
                    break
        assert kept == msgs
    finally:
        await n4.stop()
