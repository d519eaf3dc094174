"""Userspace backend: the sans-I/O association over raw IPv4 sockets (protocol 132, root).

Per event loop, one raw socket receives every SCTP packet that reaches this host (the
kernel hands each one to every raw socket of protocol 132) and one ``IPPROTO_RAW``
socket sends, with an IP header we build so the source address is the endpoint's own.
Packets are filtered by destination port and address before any other work; packets for
ports this process does not own are ignored without an answer (RFC 9260 §8.4), so several
independent stacks on one host (AMF, gNB simulator, usrsctp) never disturb each other.

Local ports are also bound as UDP sockets while in use: fivecore stacks in different
processes then never pick the same port, and a second listener on a port fails loudly.

Multi-homing (RFC 9260 §6.4): ``listen``/``connect`` take ``local_addresses`` (extra local
IPv4 addresses, advertised in INIT / INIT ACK; the port is reserved on each). Packets to any
of them reach the endpoint (the BPF filter lists them all), and each packet leaves from the
local address of the path it goes to (the association's ``tx_dests``).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import inspect
import socket
import struct
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from .. import sockbuf
from . import packet as p
from .api import Message, SctpAssociation, SctpConnectError, SctpEvent, SctpServer, log
from .association import (
    Association,
    AssociationLost,
    AssociationRestarted,
    AssociationUp,
    DataReceived,
    PathChanged,
    ShutdownComplete,
    State,
)
from .config import SctpConfig
from .endpoint import MAX_LOCAL_ADDRESSES, WILDCARD, Endpoint

PacketFilter = Callable[..., bool]
"""``filter(direction, sctp_packet) -> keep``; direction is "rx" or "tx" (tests inject loss).
A filter taking four arguments is called ``filter(direction, sctp_packet, src_ip, dst_ip)``
with dotted IPv4 strings, so a test can drop the packets of one path of a multi-homed
association."""

_RCVBUF = 8 << 20
_BATCH = 256
_SO_ATTACH_FILTER = 26
_SO_DETACH_FILTER = 27
_LINGER = 2.0


def _ip_bytes(host: str) -> bytes:
    return socket.inet_aton(host)


def _ip_str(ip: bytes) -> str:
    return socket.inet_ntoa(ip)


async def _resolve(host: str) -> bytes:
    try:
        return socket.inet_aton(host)
    except OSError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, family=socket.AF_INET)
    if not infos:
        raise SctpConnectError(f"cannot resolve {host!r}")
    return socket.inet_aton(infos[0][4][0])


def _route_source(peer: bytes) -> bytes:
    """The address the kernel would use to reach ``peer`` (UDP connect does no I/O)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((_ip_str(peer), 9))
        return socket.inet_aton(s.getsockname()[0])
    finally:
        s.close()


def _route_or_none(peer: bytes) -> bytes | None:
    try:
        return _route_source(peer)
    except OSError:
        return None


def _wants_addresses(fn: PacketFilter) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(x.kind == x.VAR_POSITIONAL for x in params):
        return True
    return sum(x.kind in (x.POSITIONAL_ONLY, x.POSITIONAL_OR_KEYWORD) for x in params) >= 4


def _reserve_ports(ips: list[bytes], port: int) -> list[socket.socket]:
    """Reserve ``port`` (0: a free one) on every address; the first picks it."""
    if len(ips) > MAX_LOCAL_ADDRESSES:
        raise p.SctpError(f"sctp: at most {MAX_LOCAL_ADDRESSES} local addresses per endpoint")
    first = _reserve_port(ips[0], port)
    out = [first]
    try:
        port = first.getsockname()[1]
        for ip in ips[1:]:
            out.append(_reserve_port(ip, port))
    except BaseException:
        for x in out:
            x.close()
        raise
    return out


def _reserve_port(ip: bytes, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((_ip_str(ip), port))
    except OSError as e:
        s.close()
        if e.errno == errno.EADDRINUSE:
            raise p.SctpError(f"SCTP port {_ip_str(ip)}:{port} is already in use on this host") from None
        raise p.SctpError(f"cannot bind {_ip_str(ip)}:{port}: {e.strerror}") from None
    return s


_BPF_ACCEPT = (0x06, 0, 0, 0x40000)  # ret 256 KiB: keep the packet
_BPF_DROP = (0x06, 0, 0, 0)  # ret 0


def bpf_program(owned: dict[int, list[bytes]]) -> list[tuple[int, int, int, int]] | None:
    """Classic BPF (socket(7) SO_ATTACH_FILTER) keeping IPv4 SCTP packets for ``owned``.

    ``owned`` maps a local port to the local addresses bound on it (``WILDCARD`` for any).
    The program reads the destination port after the IPv4 header (RFC 9260 §3.1) and, for
    ports bound to specific addresses, the IPv4 destination address; everything else is
    dropped in the kernel. None when there is nothing to own or too much to express
    (the caller then detaches the filter and the Python demultiplexer does the work).
    """
    if not owned or len(owned) > 250:
        return None
    prog: list[tuple[int, int, int, int]] = [
        (0xB1, 0, 0, 0),  # ldxb 4*([0]&0xf): X = IPv4 header length
        (0x48, 0, 0, 2),  # ldh [x+2]: SCTP destination port
    ]
    for port in sorted(owned):
        ips = sorted(set(owned[port]))
        if WILDCARD in ips:
            body = [_BPF_ACCEPT]
        else:
            body = [(0x20, 0, 0, 16)]  # ld [16]: IPv4 destination address
            for ip in ips:
                body += [(0x15, 0, 1, int.from_bytes(ip, "big")), _BPF_ACCEPT]  # jeq ip
            body.append(_BPF_DROP)
        if len(body) > 255:
            return None
        prog.append((0x15, 0, len(body), port))  # jeq port: into the block, else skip it
        prog += body
    prog.append(_BPF_DROP)
    return prog if len(prog) <= 4096 else None


class _RawIO:
    """The raw sockets of one event loop and the endpoints that share them."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _RawIO] = weakref.WeakKeyDictionary()

    @classmethod
    def get(cls) -> _RawIO:
        loop = asyncio.get_running_loop()
        io = cls._by_loop.get(loop)
        if io is None:
            io = cls(loop)
            cls._by_loop[loop] = io
        return io

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        try:
            rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
        except PermissionError:
            raise p.SctpError("userspace SCTP needs raw sockets (run as root or with CAP_NET_RAW)") from None
        tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        rx.setblocking(False)
        tx.setblocking(False)
        sockbuf.grow(rx, socket.SO_RCVBUF, _RCVBUF)
        sockbuf.grow(tx, socket.SO_SNDBUF, _RCVBUF)
        self.rx = rx
        self.tx = tx
        self.stats: Counter[str] = Counter()
        self.endpoints: dict[int, list[_UEndpoint]] = {}
        self.dirty: set[UserspaceAssociation] = set()
        self._hdrs: dict[tuple[bytes, bytes], tuple[bytes, tuple[str, int]]] = {}
        self._bound = WILDCARD
        #: SctpConfig.rx_batch in force (the largest of the endpoints'), and the pending pass
        self._batch = 0.0
        self._batch_timer: asyncio.TimerHandle | None = None
        #: when the last batched pass read the socket (loop time)
        self._last_pass = 0.0
        loop.add_reader(rx.fileno(), self._on_wake)
        log.info("sctp userspace raw sockets open (protocol 132)")

    def add(self, ep: _UEndpoint) -> None:
        self.endpoints.setdefault(ep.ep.local_port, []).append(ep)
        self._update_filter()
        self._batch = max(self._batch, ep.ep.config.rx_batch)

    def remove(self, ep: _UEndpoint) -> None:
        lst = self.endpoints.get(ep.ep.local_port)
        if lst and ep in lst:
            lst.remove(ep)
            if not lst:
                del self.endpoints[ep.ep.local_port]
        if not self.endpoints:
            self.close()
        else:
            self._update_filter()
            self._batch = max(e.ep.config.rx_batch for eps in self.endpoints.values() for e in eps)

    def _update_filter(self) -> None:
        """Let the kernel drop SCTP packets for ports we do not own before they wake us.

        Every raw socket on the host gets every SCTP packet, our own outgoing ones included;
        a classic BPF program (socket(7) SO_ATTACH_FILTER) keeps only our (address, port)s,
        so another stack on the same well-known port (a second AMF on 38412 at another
        address) costs us neither a wake-up nor a copy.
        """
        owned = {port: [ip for ep in eps for ip in ep.ep.local_addresses] for port, eps in self.endpoints.items()}
        # raw(7): a raw socket bound to an address only sees packets sent to it, and the
        # kernel then skips it without the per-socket copy every other SCTP packet on the
        # host would cost; possible when every endpoint here uses the same address.
        ips = {ip for lst in owned.values() for ip in lst}
        bind_ip = next(iter(ips)) if len(ips) == 1 else WILDCARD
        if bind_ip != self._bound:
            try:
                self.rx.bind((_ip_str(bind_ip), 0))
                self._bound = bind_ip
            except OSError as e:  # not fatal: the filter below still demultiplexes
                log.debug("sctp raw socket bind failed errno=%s", e.errno)
        prog = bpf_program(owned)
        try:
            if prog is None:
                self.rx.setsockopt(socket.SOL_SOCKET, _SO_DETACH_FILTER, 0)
                return
        except OSError:
            return
        code = b"".join(struct.pack("=HBBI", *ins) for ins in prog)
        buf = ctypes.create_string_buffer(code, len(code))
        fprog = struct.pack("=HxxxxxxQ", len(prog), ctypes.addressof(buf))
        try:
            self.rx.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
        except OSError as e:  # not fatal: we filter in Python anyway
            log.debug("sctp BPF filter not attached errno=%s", e.errno)

    def close(self) -> None:
        if self._by_loop.get(self.loop) is self:
            del self._by_loop[self.loop]
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
        try:
            self.loop.remove_reader(self.rx.fileno())
        except Exception:
            pass
        self.rx.close()
        self.tx.close()

    def transmit(self, pkt: bytes, dst: bytes, src: bytes) -> None:
        hit = self._hdrs.get((src, dst))
        if hit is None:
            # RFC 791 header; the kernel fills total length, ID and checksum (raw(7)).
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, 132, 0, src, dst)
            hit = self._hdrs[(src, dst)] = (hdr, (_ip_str(dst), 0))
        try:
            self.tx.sendto(hit[0] + pkt, hit[1])
        except OSError as e:  # ENOBUFS/EAGAIN: SCTP's retransmission recovers
            self.stats["tx_dropped"] += 1
            if e.errno not in (errno.EAGAIN, errno.ENOBUFS):
                log.debug("sctp raw send failed errno=%s", e.errno)

    def _on_wake(self) -> None:
        """The raw socket is readable. With ``rx_batch``, a wake-up that comes within
        ``rx_batch`` of the last pass is held back until ``rx_batch`` has passed (meanwhile the
        socket is not watched, so the packets arriving queue up in it and are then read in one
        pass); one after a quiet spell is read at once, as a NIC raises its first interrupt at
        once and moderates the ones that follow. A lone message so waits for no window, while
        under load every pass still takes what came in the last ``rx_batch``."""
        if not self._batch:
            self._on_readable()
            return
        now = self.loop.time()
        if now - self._last_pass >= self._batch:
            self._last_pass = now
            self._on_readable()
            return
        self.loop.remove_reader(self.rx.fileno())
        self._batch_timer = self.loop.call_later(self._batch, self._batch_due)

    def _batch_due(self) -> None:
        self._batch_timer = None
        self.loop.add_reader(self.rx.fileno(), self._on_wake)
        self._last_pass = self.loop.time()
        self._on_readable()

    def _on_readable(self) -> None:
        recv = self.rx.recv
        eps_by_port = self.endpoints
        now = self.loop.time()
        for _ in range(_BATCH):
            try:
                data = recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            ihl = (data[0] & 15) << 2
            if len(data) < ihl + 4:
                continue
            eps = eps_by_port.get((data[ihl + 2] << 8) | data[ihl + 3])
            if not eps:
                continue  # another stack's port: not ours to answer (RFC 9260 §8.4)
            dst = data[16:20]
            target = None
            for ep in eps:
                lip = ep.ep.local_ip
                if lip == dst:
                    target = ep
                    break
                if lip == WILDCARD:
                    target = ep
                elif ep.extra and dst in ep.extra:
                    target = ep
                    break
            if target is not None:
                target.on_packet(data[12:16], dst, data[ihl:], now)
        self.flush()

    def flush(self) -> None:
        d = self.dirty
        while d:
            d.pop()._service()


class _UEndpoint:
    """asyncio side of one sans-I/O :class:`Endpoint`."""

    def __init__(
        self,
        io: _RawIO,
        ep: Endpoint,
        reservation: list[socket.socket],
        packet_filter: PacketFilter | None,
        server: UserspaceServer | None = None,
    ) -> None:
        self.io = io
        self.ep = ep
        self.reservation = reservation
        self.filter = packet_filter
        self.filter_addresses = packet_filter is not None and _wants_addresses(packet_filter)
        #: local addresses besides ``ep.local_ip`` (multi-homed endpoint)
        self.extra = frozenset(ep.local_addresses[1:])
        self.server = server
        self.wrappers: dict[int, UserspaceAssociation] = {}
        self.closed = False
        self.lingering = False
        io.add(self)

    def on_packet(self, src: bytes, dst: bytes, pkt: bytes, now: float) -> None:
        if self.filter is not None and not (
            self.filter("rx", pkt, _ip_str(src), _ip_str(dst)) if self.filter_addresses else self.filter("rx", pkt)
        ):
            return
        ep = self.ep
        a = ep.receive(src, dst, pkt, now)
        if ep._replies:
            for r, rdst, rsrc in ep.pop_replies():
                self.send(r, rdst, rsrc)
        if self.ep.new_associations:
            for na in self.ep.new_associations:
                w = UserspaceAssociation(self, na)
                self.wrappers[id(na)] = w
                self.io.dirty.add(w)
                if self.server is not None:
                    self.server._pending_up.add(w)
            self.ep.new_associations.clear()
        if a is not None:
            w = self.wrappers.get(id(a))
            if w is not None:
                self.io.dirty.add(w)

    def send(self, pkt: bytes, dst: bytes, src: bytes) -> None:
        if self.filter is not None and not (
            self.filter("tx", pkt, _ip_str(src), _ip_str(dst)) if self.filter_addresses else self.filter("tx", pkt)
        ):
            return
        self.io.transmit(pkt, dst, src)

    def forget(self, w: UserspaceAssociation, graceful: bool = False) -> None:
        self.wrappers.pop(id(w._a), None)
        self.ep.forget(w._a)
        if self.server is not None:
            if self.server._closed and not self.wrappers:
                self.close()
        elif not self.wrappers:
            if graceful:
                # Keep owning the port briefly so a retransmitted SHUTDOWN ACK still gets its
                # SHUTDOWN COMPLETE (RFC 9260 §8.4 rule 5); connect() may take it over.
                self.lingering = True
                self.io.loop.call_later(_LINGER, self.close)
            else:
                self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.io.remove(self)
        for r in self.reservation:
            r.close()


class UserspaceAssociation(SctpAssociation):
    """An association driven by :class:`~fivecore.transport.sctp.association.Association`."""

    backend = "userspace"

    def __init__(self, uep: _UEndpoint, assoc: Association) -> None:
        super().__init__((_ip_str(assoc.local_ip), assoc.local_port), (_ip_str(assoc.peer_ip), assoc.peer_port))
        self._uep = uep
        self._a = assoc
        self._limit = assoc.config.send_buffer
        self._scheduled = False
        self._in_service = False
        self._resend = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._up: asyncio.Future[None] = self._loop.create_future()

    @property
    def stats(self) -> Counter[str]:
        """Counters shared with the endpoint (drops, retransmissions, ...)."""
        return self._a.stats

    @property
    def state(self) -> str:
        return self._a.state.name

    @property
    def rto(self) -> float:
        return self._a.rto

    @property
    def paths(self) -> list[dict[str, Any]]:
        """RFC 9260 §8.2 — each destination address of the peer: its state, RTO, errors, the
        local address we send from, and which one is primary / in use now."""
        a = self._a
        return [{"address": _ip_str(x.peer_ip), "local": _ip_str(x.local_ip), "active": x.active,
                 "confirmed": x.confirmed, "rto": x.rto, "errors": x.error_count, "primary": x is a.primary,
                 "current": x is a.dest}
                for x in a.paths]

    @property
    def ack_pending(self) -> bool:
        """A SACK is still owed to the peer (RFC 9260 §6.2): for tests that must know it is out."""
        return self._a.ack_pending

    def send_nowait(self, data: bytes, stream: int = 0, ppid: int = 60, unordered: bool = False) -> None:
        if self._closed:
            raise p.SctpError(f"association closed: {self._close_reason}")
        a = self._a
        if self._in_service:
            # Called from a handler while we deliver events: flushed before _service returns.
            a.send(stream, ppid, data, unordered)
            self._resend = True
            return
        if a.idle and not self._scheduled:
            # An idle association sends at once (request/response latency); later messages
            # of the same burst wait for call_soon and get bundled.
            a.send(stream, ppid, data, unordered)
            self._service()
            return
        a.send(stream, ppid, data, unordered)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._service)

    def _send_blocked(self) -> bool:
        return self._a.buffered_amount >= self._limit

    def _consumed(self, nbytes: int) -> None:
        a = self._a
        a.consumed(nbytes)
        if a._sack_needed and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._service)

    def close(self) -> None:
        if self._closed:
            return
        self._a.shutdown(self._loop.time())
        self._service()

    def abort(self, reason: str = "") -> None:
        if self._closed:
            return
        self._a.abort(reason, self._loop.time())
        self._service()

    async def probe(self, timeout: float, retransmissions: int | None = None) -> bool:
        """RFC 9260 §8.3 / §11.1: :meth:`Association.start_probe` decides (HEARTBEAT, RTO,
        backoff, retransmissions); this only starts it and waits for its verdict."""
        if self._closed:
            return False
        a = self._a
        now = self._loop.time()
        deadline = now + timeout
        pr = a.start_probe(now, retransmissions, deadline)
        self._service()  # sends the HEARTBEAT and arms the timer that drives the retransmissions
        while pr.alive is None and not self._closed:
            if self._loop.time() >= deadline:
                # The association's timer ends the probe there; this only guarantees we return
                # (also when we joined a running probe that has a later deadline).
                a.handle_timer(max(self._loop.time(), deadline))
                self._service()
                break
            # rare (a duplicate gNB ID): polling beats a waiter per ack on the hot path
            await asyncio.sleep(0.01)
        return bool(pr.alive) and not self._closed

    def _on_timer(self) -> None:
        self._timer = None
        now = self._loop.time()
        if now < self._timer_at:
            now = self._timer_at  # call_at may fire up to one clock tick early
        self._a.handle_timer(now)
        self._service()

    def _service(self) -> None:
        """Carry out the association's actions: send packets, deliver events, arm the timer."""
        self._scheduled = False
        self._in_service = True
        try:
            self._service_inner()
        finally:
            self._in_service = False

    def _service_inner(self) -> None:
        a = self._a
        loop = self._loop
        now = loop.time()
        pkts = a.datagrams_to_send(now)
        if pkts:
            if a.tx_dests is None:
                d = a.dest
                send = self._uep.send
                peer, local = d.peer_ip, d.local_ip
                for pkt in pkts:
                    send(pkt, peer, local)
            else:
                self._transmit(pkts)
        ev = a._events
        if ev:
            a._events = []
            deliver = self._deliver
            for e in ev:
                if type(e) is DataReceived:
                    deliver(Message(e.stream, e.ppid, e.data))
                else:
                    self._on_event(e)
            if self._resend:
                self._resend = False
                pkts = a.datagrams_to_send(now)
                if pkts:
                    self._transmit(pkts)
        if self._tx_waiters and a.buffered_amount < self._limit:
            self._wake_writers()
        if a.state == State.CLOSED:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        t = a.get_timer()
        if t is not None and (self._timer is None or t < self._timer_at - 0.0005):
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = t
            self._timer = loop.call_at(t, self._on_timer)

    def _transmit(self, pkts: list[bytes]) -> None:
        """Each packet to its path (RFC 9260 §6.4): ``tx_dests`` names the first ones' (dst,
        src) when the association is multi-homed; the rest go to its current destination."""
        a = self._a
        send = self._uep.send
        d = a.dest
        peer, local = d.peer_ip, d.local_ip
        dests = a.tx_dests
        if dests is None:
            for pkt in pkts:
                send(pkt, peer, local)
            return
        n = len(dests)
        for i, pkt in enumerate(pkts):
            if i < n:
                send(pkt, *dests[i])
            else:
                send(pkt, peer, local)

    def _on_event(self, e: object) -> None:
        if isinstance(e, PathChanged):
            log.info("sctp path %s peer=%s:%d address=%s", "up" if e.active else "down",
                     *self.peer_address, _ip_str(e.address))
            return
        if isinstance(e, AssociationUp):
            self.out_streams, self.in_streams = e.out_streams, e.in_streams
            if not self._up.done():
                self._up.set_result(None)
            log.info("sctp association up backend=userspace local=%s:%d peer=%s:%d streams=%d/%d",
                     *self.local_address, *self.peer_address, e.out_streams, e.in_streams)
            self._emit(SctpEvent("up"))
            srv = self._uep.server
            if srv is not None and self in srv._pending_up:
                srv._pending_up.discard(self)
                srv._incoming(self)
        elif isinstance(e, AssociationRestarted):
            self.out_streams, self.in_streams = e.out_streams, e.in_streams
            log.info("sctp association restarted peer=%s:%d", *self.peer_address)
            self._emit(SctpEvent("restarted"))
        elif isinstance(e, AssociationLost | ShutdownComplete):
            kind = "closed" if isinstance(e, ShutdownComplete) else "lost"
            reason = "shutdown complete" if kind == "closed" else e.reason
            if not self._up.done():
                self._up.set_exception(SctpConnectError(reason))
                self._up.exception()  # mark retrieved; connect() re-raises it
            self._uep.forget(self, graceful=kind == "closed")
            srv = self._uep.server
            if srv is not None:
                srv._pending_up.discard(self)
            self._set_closed(reason, kind)


class UserspaceServer(SctpServer):
    backend = "userspace"

    def __init__(self, sockname: tuple[str, int], on_association: Any) -> None:
        super().__init__(sockname, on_association)
        self._uep: _UEndpoint | None = None
        self._pending_up: set[UserspaceAssociation] = set()

    @property
    def stats(self) -> Counter[str]:
        assert self._uep is not None
        return self._uep.ep.stats

    def _close_impl(self) -> None:
        uep = self._uep
        if uep is None:
            return
        uep.ep.listening = False
        if not uep.wrappers:
            uep.close()
        # else: _UEndpoint.forget releases the port when the last association ends.


async def listen(
    host: str,
    port: int,
    config: SctpConfig,
    on_association: Callable[[SctpAssociation], Awaitable[Any] | Any] | None = None,
    packet_filter: PacketFilter | None = None,
    local_addresses: list[str] | None = None,
) -> UserspaceServer:
    """Listen on ``host:port`` ("0.0.0.0" for every local address), and on
    ``local_addresses`` too (RFC 9260 §6.4 multi-homing: advertised in our INIT ACKs)."""
    ip = await _resolve(host) if host else WILDCARD
    extra = [await _resolve(h) for h in local_addresses or ()]
    ips = [ip, *[x for x in extra if x != ip]]
    if len(ips) > 1 and WILDCARD in ips:
        raise p.SctpError("sctp: extra local addresses need a specific listen address, not 0.0.0.0")
    res = _reserve_ports(ips, port)
    port = res[0].getsockname()[1]
    io = _RawIO.get()
    srv = UserspaceServer((_ip_str(ip), port), on_association)
    ep = Endpoint(config, ip, port, listening=True, local_addresses=ips,
                  route=_route_or_none if len(ips) > 1 else None)
    srv._uep = _UEndpoint(io, ep, res, packet_filter, srv)
    log.info("sctp listening backend=userspace addr=%s:%d", ",".join(_ip_str(x) for x in ips), port)
    return srv


async def connect(
    host: str,
    port: int,
    config: SctpConfig,
    local_host: str | None = None,
    local_port: int = 0,
    packet_filter: PacketFilter | None = None,
    timeout: float | None = None,
    local_addresses: list[str] | None = None,
) -> UserspaceAssociation:
    """RFC 9260 §5.1 — open an association to ``host:port``; returns once it is up.

    ``local_addresses``: more local addresses of ours (multi-homing, RFC 9260 §6.4),
    listed in the INIT; ``local_host`` (or the routed source) stays the primary one."""
    peer = await _resolve(host)
    local = _ip_bytes(local_host) if local_host else _route_source(peer)
    extra = [await _resolve(h) for h in local_addresses or ()]
    ips = [local, *[x for x in extra if x != local]]
    io = _RawIO.get()
    if local_port:
        for old in list(io.endpoints.get(local_port, ())):
            if old.lingering and old.ep.local_ip == local:
                old.close()
    res = _reserve_ports(ips, local_port)
    lport = res[0].getsockname()[1]
    io = _RawIO.get()  # a lingering endpoint's close may have released the old one
    ep = Endpoint(config, local, lport, listening=False, local_addresses=ips,
                  route=_route_or_none if len(ips) > 1 else None)
    uep = _UEndpoint(io, ep, res, packet_filter)
    a = ep.connect(peer, port, io.loop.time())
    w = UserspaceAssociation(uep, a)
    uep.wrappers[id(a)] = w
    w._service()
    try:
        await asyncio.wait_for(asyncio.shield(w._up), timeout)
    except TimeoutError:
        w.abort("connect timed out")
        raise SctpConnectError(f"SCTP connect to {host}:{port} timed out after {timeout:g} s") from None
    except BaseException:
        if not w.is_closed:
            w.abort("connect cancelled")
        raise
    return w
