"""N2 transport: SCTP (RFC 9260) with or without kernel support.

One asyncio interface whatever the backend. NGAP (TS 38.412) runs over it: PPID 60,
port 38412, stream 0 for non-UE-associated signalling.

Server (the AMF)::

    from fivecore.transport import sctp

    server = await sctp.listen("127.0.0.5", 38412, sctp.SctpConfig())
    async for assoc in server:                  # or: assoc = await server.accept()
        asyncio.create_task(handle(assoc))      # or: sctp.listen(..., on_association=handle)

    async def handle(assoc: sctp.SctpAssociation) -> None:
        assoc.add_event_handler(on_event)       # or: ev = await assoc.events.get()
        async for stream, ppid, data in assoc:  # or: msg = await assoc.recv()
            await assoc.send(reply, stream=stream, ppid=60)

Client (the gNB simulator)::

    assoc = await sctp.connect("127.0.0.5", 38412, config, timeout=5)  # once ESTABLISHED
    await assoc.send(ng_setup_request, stream=0)              # ppid defaults to 60 (NGAP)
    stream, ppid, data = await assoc.recv()
    assoc.close(); await assoc.wait_closed()                   # graceful SHUTDOWN
    assoc.abort("reason")                                      # or ABORT at once

Contract of :class:`SctpAssociation`:

- ``await send(data, stream=0, ppid=60, unordered=False)`` queues one message, waiting
  while ``config.send_buffer`` bytes are unacknowledged; ``send_nowait(...)`` never waits.
  Messages may be up to 1 MiB by default and are fragmented to the path MTU.
- ``await recv() -> Message(stream, ppid, data)``; ``async for`` over the association ends
  when it closes; ``recv()`` raises :class:`AssociationClosedError` once closed and drained.
- One reader per association. ``set_message_handler(fn)`` instead hands each message to
  ``fn(msg)`` directly from the transport (one event-loop iteration less per message; fn
  must not block, it may call ``send_nowait``).
- ``close()`` (graceful SHUTDOWN), ``abort(reason)``, ``await wait_closed()``,
  ``is_closed``, ``close_reason``, ``local_address``, ``peer_address``, ``out_streams``,
  ``in_streams`` (negotiated: send on ``0 .. out_streams-1``), ``stats`` (userspace
  backend: a Counter shared with the endpoint — ``rx_bad_checksum``, ``rx_bad_vtag``,
  ``rx_malformed``, ``rx_ootb``, ``rx_init``, ``rx_cookie_bad_mac``, ``rx_cookie_stale``,
  ``rx_data_dup``, ``t3_expired``, ``fast_retransmits``, ``tx_retransmitted_chunks``,
  ``restarts``, ...).
- Events :class:`SctpEvent(kind, reason)`: ``"up"``, ``"restarted"`` (the peer re-INITed
  from one of its addresses and the same port: RFC 9260 §5.2.4 action A — sequence state was reset, the
  NGAP layer should expect a new NG Setup), ``"lost"`` (ABORT, retransmission or heartbeat
  limit, init failure) and ``"closed"`` (SHUTDOWN done). Delivered to handlers registered
  with ``add_event_handler(fn(assoc, event))`` and to the ``assoc.events`` queue.

:class:`SctpServer`: ``accept()``, ``async for``, ``close(abort_associations=False)``,
``wait_closed()``, ``associations``, ``sockname``, ``stats``.

``connect(host, port, config, *, local_host=None, local_port=0, timeout=None,
local_addresses=None)``: without ``timeout`` an unanswered INIT fails only after
``max_init_retransmits`` backoffs (minutes with RFC defaults), so interactive callers should
pass one.

Multi-homing (RFC 9260 §5.1.2, §6.4, §8.1-§8.3; userspace backend)::

    server = await sctp.listen("10.0.0.5", 38412, cfg, local_addresses=["10.1.0.5"])
    assoc = await sctp.connect("10.0.0.5", 38412, cfg, local_host="10.0.0.1",
                               local_addresses=["10.1.0.1"])
    assoc.paths   # [{"address", "local", "active", "confirmed", "rto", "errors", "primary", "current"}, ...]

Every local address is listed in our INIT / INIT ACK; the peer's are taken from its INIT /
INIT ACK (the packet's source first, it becomes the primary; IPv4 only; listed loopback
addresses only from a loopback source; at most 8, the rest ignored and counted in
``rx_peer_addresses_ignored``) and carried in the signed State Cookie. Packets from any
peer address find the association. An address the peer only listed is unconfirmed (§5.4)
until a HEARTBEAT ACK with our nonce comes back from it (verification HEARTBEATs start at
once, at most one per RTO across all such addresses — §16 HB.Max.Burst 1 — and run even
with routine HEARTBEATs off); until then it carries only those HEARTBEATs, its losses
do not count against the association, an INIT from it is a stranger's (not a restart), and
a peer that runs its handshake from it takes it over. Each peer address is a path with its own RTO/SRTT/
RTTVAR, error counter, active flag and HEARTBEAT schedule (HB.interval + RTO ±50 %, to
each path, inactive ones included); new data goes to the primary while it is active, a
retransmission after T3-rtx to an active alternate, a SACK to the address the DATA came
from, a HEARTBEAT ACK from the address the HEARTBEAT reached. A path whose errors exceed
``path_max_retransmissions`` (Path.Max.Retrans, 5) becomes inactive and traffic fails over;
an acknowledged HEARTBEAT or DATA on it makes it active again. The association fails only
when its own counter exceeds ``max_retransmissions`` (every acknowledgement on any path
clears it). A restart whose INIT or COOKIE ECHO adds addresses is refused with ABORT,
cause 11 (§5.2.2, §3.3.10.11). ``probe`` sends its first HEARTBEAT to the current path
and each retransmission to the next active path: alive if any path answers. Each path
sends from the local address the route lookup names (if ours), else ours in turn. A
``packet_filter`` taking four arguments gets ``(direction, packet, src_ip, dst_ip)``.

Backends (``SctpConfig.backend``): ``"kernel"`` uses Linux SCTP sockets; ``"userspace"``
runs :mod:`.association` (a sans-I/O RFC 9260 association) over raw IPv4 sockets and
needs root or CAP_NET_RAW; ``"auto"`` (default) takes the kernel when
``socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)`` works. The choice is logged.
Userspace-only extra on ``listen``/``connect``: ``packet_filter(direction, packet) -> keep``
(fault injection between the association and its raw socket).

Userspace backend, what it does (RFC 9260): CRC32c; 4-way handshake with an HMAC-SHA256
State Cookie (no state before a valid COOKIE ECHO); DATA/SACK with delayed SACK (every
second packet, or ``sack_delay``), gap ack blocks and duplicate TSNs; T3-rtx with
SRTT/RTTVAR RTO and backoff; fast retransmit; slow start / congestion avoidance; receive
window; fragmentation to ``mtu`` (1500 by default, loopback included) and reassembly;
ordered (per-stream SSN) and unordered delivery; HEARTBEAT, and on-demand probes that
retransmit at the RTO up to Path.Max.Retrans (``probe``); SHUTDOWN; ABORT; restart
detection (§5.2.4 A). Several stacks per host: packets for ports we do not own are dropped
unanswered (a BPF filter keeps them out of the process), client ports never answer
strangers, listening ports answer out-of-the-blue packets with a rate-limited ABORT.
Not done: IPv6 paths (IPv6 address parameters are ignored), ASCONF (addresses are fixed
at setup), PR-SCTP, I-DATA, ECN, AUTH, partial delivery (a message must fit in
``receive_window``), path-MTU discovery; the kernel backend takes no extra local addresses.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from . import kernel, userspace
from .api import NGAP_PPID, Message, SctpAssociation, SctpConnectError, SctpEvent, SctpServer, log
from .association import AssociationClosedError
from .config import SctpConfig
from .packet import SctpDecodeError, SctpError
from .userspace import PacketFilter

NGAP_PORT = 38412

__all__ = [
    "NGAP_PORT", "NGAP_PPID", "AssociationClosedError", "Message", "PacketFilter", "SctpAssociation",
    "SctpConfig", "SctpConnectError", "SctpDecodeError", "SctpError", "SctpEvent", "SctpServer",
    "backend_for", "connect", "listen",
]


@functools.lru_cache(maxsize=4)
def backend_for(requested: str) -> str:
    """Resolve ``auto`` to ``kernel`` or ``userspace``; logs the decision once."""
    if requested == "kernel":
        if not kernel.available():
            raise SctpError("sctp.backend=kernel but this kernel has no SCTP (modprobe sctp?)")
        chosen, why = "kernel", "configured"
    elif requested == "userspace":
        chosen, why = "userspace", "configured"
    elif kernel.available():
        chosen, why = "kernel", "kernel SCTP available"
    else:
        chosen, why = "userspace", "kernel SCTP unavailable"
    log.info("sctp backend=%s reason=%s", chosen, why)
    return chosen


async def listen(
    host: str,
    port: int = NGAP_PORT,
    config: SctpConfig | None = None,
    *,
    on_association: Callable[[SctpAssociation], Awaitable[Any] | Any] | None = None,
    packet_filter: PacketFilter | None = None,
    local_addresses: list[str] | None = None,
) -> SctpServer:
    """Listen for associations on ``host:port`` (``"0.0.0.0"`` = every local address).

    ``local_addresses``: further local addresses of a multi-homed server (RFC 9260 §6.4),
    advertised in the INIT ACK; userspace backend only."""
    cfg = config or SctpConfig()
    if backend_for(cfg.backend) == "kernel":
        _no_kernel_multihoming(local_addresses)
        return await kernel.listen(host, port, cfg, on_association)
    return await userspace.listen(host, port, cfg, on_association, packet_filter, local_addresses)


async def connect(
    host: str,
    port: int = NGAP_PORT,
    config: SctpConfig | None = None,
    *,
    local_host: str | None = None,
    local_port: int = 0,
    packet_filter: PacketFilter | None = None,
    timeout: float | None = None,
    local_addresses: list[str] | None = None,
) -> SctpAssociation:
    """Open an association to ``host:port``; returns once ESTABLISHED, else SctpConnectError.

    Without ``timeout`` an unanswered INIT fails after ``max_init_retransmits`` T1 backoffs
    (minutes with RFC defaults). ``local_addresses``: further local addresses of a
    multi-homed client, listed in the INIT (userspace backend only).
    """
    cfg = config or SctpConfig()
    if backend_for(cfg.backend) == "kernel":
        _no_kernel_multihoming(local_addresses)
        return await kernel.connect(host, port, cfg, local_host, local_port, timeout)
    return await userspace.connect(host, port, cfg, local_host, local_port, packet_filter, timeout,
                                   local_addresses)


def _no_kernel_multihoming(local_addresses: list[str] | None) -> None:
    # Python's socket module has no sctp_bindx(3): the kernel backend binds one address.
    if local_addresses:
        raise SctpError("sctp: extra local addresses (multi-homing) need backend=userspace")
