"""Socket buffer sizes for the control plane's datagram sockets.

A datagram that arrives while the receiving process is busy waits in the socket's receive
buffer; when the buffer is full the kernel drops it (``UdpRcvbufErrors``). Linux's default
(``net.core.rmem_default``, 208 KiB) holds only a few hundred small datagrams once the kernel's
per-packet overhead is counted, so a control plane that falls 0.3 s behind under load loses
PFCP responses and waits a whole T1 (3 s) for each.
"""

from __future__ import annotations

import socket

#: SO_RCVBUFFORCE / SO_SNDBUFFORCE (socket(7)): as root, past net.core.{r,w}mem_max
_FORCE = {socket.SO_RCVBUF: getattr(socket, "SO_RCVBUFFORCE", 33),
          socket.SO_SNDBUF: getattr(socket, "SO_SNDBUFFORCE", 32)}


def grow(sock: socket.socket, option: int, size: int) -> int:
    """Ask for a ``size``-byte buffer (``option`` is ``SO_RCVBUF`` or ``SO_SNDBUF``): forced
    where the process may (CAP_NET_ADMIN), else as far as ``net.core.*mem_max`` allows, never
    smaller than the buffer already has. Returns the size the kernel reports afterwards (which
    counts its own overhead, so about twice what was asked)."""
    if sock.getsockopt(socket.SOL_SOCKET, option) < size:
        for opt in (_FORCE[option], option):
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, size)
                break
            except OSError:
                continue
    return sock.getsockopt(socket.SOL_SOCKET, option)

#: PFCP endpoints (SMF and UPF): 4 MiB holds several thousand requests or responses, the
#: backlog of a control plane seconds behind or of an SMF restoring its sessions after a restart
PFCP_RCVBUF = 4 << 20
