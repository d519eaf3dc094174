"""Sans-I/O RFC 9260 association: chunks and timer expiries in, packets and events out.

The class never touches a socket or a clock: every entry point takes ``now`` (seconds,
any monotonic origin). The driver calls :meth:`Association.datagrams_to_send` after each
input, schedules one timer at :meth:`Association.get_timer`, calls
:meth:`Association.handle_timer` when it fires, and drains :meth:`Association.pop_events`.
Demultiplexing, the stateless INIT/COOKIE handling and out-of-the-blue packets live in
:mod:`fivecore.transport.sctp.endpoint`.
"""

from __future__ import annotations

import enum
import random
import struct
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from . import packet as p
from .config import SctpConfig

M32 = 0xFFFFFFFF
_HB_INFO = struct.Struct("!dQ")
_DATA_FIXED = struct.Struct("!IHHI")
_SACK_FIXED = struct.Struct("!IIHH")
_SACK_PLAIN = struct.Struct("!BBHIIHH")
_MAX_DUPS = 32
_MAX_GAPS = 64
_MAX_TSN_AHEAD = 4096  # out-of-order span we accept (gap offsets must stay < 65536 anyway)
_CLOCK_GRANULARITY = 0.001
#: RFC 9260 §16 Path.Max.Retrans: unanswered HEARTBEAT retransmissions before a path (for
#: us, single-homed, the peer) counts as unreachable
PATH_MAX_RETRANS = 5
#: a caller may ask for more, but not for a probe that outlives any sane deadline or holds
#: an unbounded set of nonces
_PROBE_MAX_RETRANS_LIMIT = 32
#: peer transport addresses we keep per association (the packet's source included): a
#: hostile INIT listing hundreds costs one bounded scan, never memory or per-path timers
MAX_PEER_ADDRESSES = 8
_LOOPBACK_NET = 127


class State(enum.IntEnum):
    """RFC 9260 §4 association states."""

    CLOSED = 0
    COOKIE_WAIT = 1
    COOKIE_ECHOED = 2
    ESTABLISHED = 3
    SHUTDOWN_PENDING = 4
    SHUTDOWN_SENT = 5
    SHUTDOWN_RECEIVED = 6
    SHUTDOWN_ACK_SENT = 7


_SENDING_STATES = frozenset((State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED))
_RECEIVING_STATES = frozenset((State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_SENT,
                               State.SHUTDOWN_RECEIVED))

# --- events -------------------------------------------------------------------------------


class DataReceived(NamedTuple):
    """A complete user message (RFC 9260 §6.6 reassembled, §6.5 in stream order)."""

    stream: int
    ppid: int
    data: bytes
    unordered: bool


@dataclass(slots=True)
class AssociationUp:
    """RFC 9260 §5.1 — the association reached ESTABLISHED (SCTP_COMM_UP)."""

    out_streams: int
    in_streams: int


@dataclass(slots=True)
class AssociationRestarted:
    """RFC 9260 §5.2.4 action A — the peer restarted; sequence state was reset (SCTP_RESTART)."""

    out_streams: int
    in_streams: int


@dataclass(slots=True)
class AssociationLost:
    """The association ended abnormally: ABORT, retransmission limit or init failure."""

    reason: str


@dataclass(slots=True)
class ShutdownComplete:
    """RFC 9260 §9.2 — the graceful SHUTDOWN sequence finished (SCTP_SHUTDOWN_COMP)."""


@dataclass(slots=True)
class Probe:
    """One on-demand reachability probe (RFC 9260 §8.3 HEARTBEATs, asked for through the
    §11.1 REQUESTHEARTBEAT primitive), made by :meth:`Association.start_probe`.

    ``alive`` is None while the probe runs, True once the peer answered one of its
    HEARTBEATs (or acknowledged new DATA), False once ``max_retransmissions`` retransmissions
    went unanswered, the ``deadline`` passed or the association closed. ``waits`` is the RTO
    each HEARTBEAT was given in turn: the §6.3.3 E2 backoff schedule.
    """

    started: float
    max_retransmissions: int
    deadline: float | None
    alive: bool | None = None
    reason: str = ""
    waits: list[float] = field(default_factory=list)

    @property
    def heartbeats(self) -> int:
        """HEARTBEATs sent so far (the first and its retransmissions)."""
        return len(self.waits)


@dataclass(slots=True)
class PathChanged:
    """RFC 9260 §8.2 — a destination address became inactive or active again
    (SCTP_ADDR_UNREACHABLE / SCTP_ADDR_AVAILABLE of §11.2.1)."""

    address: bytes
    active: bool


Event = DataReceived | AssociationUp | AssociationRestarted | AssociationLost | ShutdownComplete | PathChanged


class Path:
    """RFC 9260 §8.2, §8.3 — one destination transport address of the peer.

    Each has its own RTO/SRTT/RTTVAR (§6.3.1: per destination), error counter and
    active/inactive state, its HEARTBEAT schedule, and the local address we send from.
    ``confirmed`` (§5.4): the address the handshake ran on is; an address the peer only
    listed is not until a HEARTBEAT ACK with our nonce came back from it, and until then it
    carries nothing but those HEARTBEATs (so a peer cannot point our traffic at a third
    party by listing its address).
    """

    __slots__ = ("peer_ip", "local_ip", "rto", "srtt", "rttvar", "error_count", "active",
                 "hb_at", "hb_pending", "hb_nonce", "hb_sent_at", "confirmed")

    def __init__(self, peer_ip: bytes, local_ip: bytes, rto: float) -> None:
        self.peer_ip = peer_ip
        self.local_ip = local_ip
        self.rto = rto
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.error_count = 0
        self.active = True
        self.hb_at: float | None = None
        self.hb_pending = False
        self.hb_nonce = 0
        self.hb_sent_at = 0.0
        self.confirmed = True

    def __repr__(self) -> str:
        ip = ".".join(str(b) for b in self.peer_ip)
        return f"Path({ip}, {'active' if self.active else 'inactive'}, rto={self.rto:g}, errors={self.error_count})"


def parse_peer_addresses(src_ip: bytes, params: list[tuple[int, bytes]], stats: Counter[str] | None = None) -> list[bytes]:
    """RFC 9260 §5.1.2 — the peer's transport addresses from an INIT or INIT ACK.

    The packet's source address comes first (it is always one of the peer's addresses and
    becomes the primary path); then every listed IPv4 Address parameter (§3.3.2.1), in
    order, without duplicates. IPv6 Address parameters are skipped: this stack only reaches
    IPv4 (§5.1.2 allows using the subset of addresses we can reach). Listed loopback
    addresses are skipped unless the packet itself came from loopback (another host's
    loopback is our own host), as are 0.0.0.0, broadcast and multicast. At most
    :data:`MAX_PEER_ADDRESSES` are kept; further ones are counted in
    ``stats["rx_peer_addresses_ignored"]`` and ignored.
    """
    out = [src_ip]
    from_loopback = src_ip[0] == _LOOPBACK_NET
    ignored = 0
    for ptype, pv in params:
        if ptype != 5:  # PARAM_IPV4
            if ptype == 6:
                ignored += 1
            continue
        if len(pv) != 4:
            ignored += 1
            continue
        first = pv[0]
        if first == 0 or first >= 224 or (first == _LOOPBACK_NET and not from_loopback):
            ignored += 1
            continue
        if pv in out:
            continue
        if len(out) >= MAX_PEER_ADDRESSES:
            ignored += 1
            continue
        out.append(bytes(pv))
    if ignored and stats is not None:
        stats["rx_peer_addresses_ignored"] += ignored
    return out


class CookieData(NamedTuple):
    """Contents of our State Cookie (RFC 9260 §5.1.3), authenticated by the endpoint."""

    created: float
    my_tag: int
    my_tsn: int
    peer_tag: int
    peer_tsn: int
    peer_rwnd: int
    out_streams: int
    in_streams: int
    local_port: int
    peer_port: int
    tie_local: int
    tie_peer: int
    local_ip: bytes
    peer_ip: bytes
    #: RFC 9260 §5.1.2 — every address of the peer (4 bytes each, ``peer_ip`` first), so the
    #: COOKIE ECHO rebuilds the path list without any state kept since the INIT
    peer_addrs: bytes = b""


class _Out:
    """One outbound DATA chunk (a whole message or one fragment)."""

    __slots__ = ("tsn", "flags", "stream", "ssn", "ppid", "data", "size", "sent_count",
                 "acked", "rtx", "in_flight", "misses", "fast_done", "path")

    def __init__(self, flags: int, stream: int, ssn: int, ppid: int, data: bytes) -> None:
        self.tsn = 0
        self.flags = flags
        self.stream = stream
        self.ssn = ssn
        self.ppid = ppid
        self.data = data
        self.size = len(data)
        self.sent_count = 0
        self.acked = False
        self.rtx = False
        self.in_flight = False
        self.misses = 0
        self.fast_done = False
        self.path: Path | None = None  # the destination it was last sent to (§6.4)


def unwrap(value: int, ref: int) -> int:
    """RFC 9260 §1.6 serial number arithmetic: the integer nearest ``ref`` ≡ value mod 2^32."""
    d = (value - ref) & M32
    if d >= 0x80000000:
        d -= 0x100000000
    return ref + d


class AssociationClosedError(p.SctpError):
    """The association cannot carry user data (not established, shutting down or closed)."""


class Association:
    """RFC 9260 association state machine for one peer (IPv4, multi-homed or not).

    Created by :class:`~fivecore.transport.sctp.endpoint.Endpoint` (client side via
    ``Endpoint.connect``, server side from a valid COOKIE ECHO).

    Paths (RFC 9260 §6.4, §8.2): ``paths`` holds one :class:`Path` per peer address,
    ``primary`` the one we chose at setup (the address we sent INIT to, or the INIT's
    source), ``dest`` the one new DATA and control chunks go to now (the primary while it is
    active). A single-homed association has one path and takes none of the multi-path
    branches (``_multi`` is False; it is True with several peer addresses or several local
    ones): its per-packet work is what it was before multi-homing.
    After :meth:`datagrams_to_send`, ``tx_dests`` is None when every packet goes to
    ``dest``; otherwise its first entries give ``(peer ip, local ip)`` for the first packets
    and the rest go to ``dest``.
    """

    def __init__(
        self,
        config: SctpConfig,
        local_ip: bytes,
        local_port: int,
        peer_ip: bytes,
        peer_port: int,
        stats: Counter[str] | None = None,
        rng: random.Random | None = None,
        *,
        local_addresses: list[bytes] | None = None,
        route: Callable[[bytes], bytes | None] | None = None,
    ) -> None:
        self.config = config
        self.local_ip = local_ip
        #: our own addresses (RFC 9260 §5.1.2: listed in INIT / INIT ACK when more than one)
        self.local_addresses: list[bytes] = local_addresses or [local_ip]
        self._route = route
        self.primary = Path(peer_ip, local_ip, config.rto_initial)
        self.dest = self.primary
        self.paths: list[Path] = [self.primary]
        self._multi = False
        self._by_ip: dict[bytes, Path] = {peer_ip: self.primary}
        self.tx_dests: list[tuple[bytes, bytes]] | None = None
        #: control chunks for one address pair: (peer ip, local ip, chunk)
        self._ctrl_to: list[tuple[bytes, bytes, bytes]] = []
        self._sack_path: Path | None = None
        self._rtx_path: Path | None = None
        self._rtt_path: Path = self.primary
        self._probe_path: Path | None = None
        self.local_port = local_port
        self.peer_ip = peer_ip
        self.peer_port = peer_port
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self._rng = rng or random.SystemRandom()
        self.state = State.CLOSED
        self.my_tag = 0
        self.peer_tag = 0
        self.out_streams = 0
        self.in_streams = 0
        self._events: list[Event] = []
        self._packets: list[bytes] = []  # prebuilt packets (INIT, ABORT, T-bit replies)
        self._ctrl: list[bytes] = []
        self._max_payload = config.mtu - p.IPV4_HEADER_LEN - p.COMMON_HEADER_LEN
        self._frag_size = self._max_payload - p.DATA_HEADER_LEN
        self._t1: float | None = None
        self._t1_rto = config.rto_initial
        self._t1_count = 0
        self._t1_chunk = b""
        self._t2: float | None = None
        self._t3: float | None = None
        self._t5: float | None = None
        self._thb: float | None = None
        self._tsack: float | None = None
        #: the running probe, the HEARTBEATs it sent (nonce -> our send time, path) and its timer
        self._probe: Probe | None = None
        self._probe_hbs: dict[int, tuple[float, Path]] = {}
        self._tprobe: float | None = None
        #: HEARTBEAT ACKs that answered our HEARTBEAT (RFC 9260 §8.3): the peer is alive
        self.heartbeat_acks = 0
        self._my_initial_tsn = 0
        self._last_now = 0.0
        self._setup(0, 0, 1500, 1, 1)
        if len(self.local_addresses) > 1:
            self._set_multi(True)

    # --- per-incarnation state --------------------------------------------------------

    def _setup(self, my_tsn: int, peer_tsn: int, peer_rwnd: int, out_streams: int, in_streams: int) -> None:
        """RFC 9260 §5.1 / §5.2.4 A — fresh TSN, SSN and congestion state."""
        mtu = self.config.mtu
        self.out_streams = out_streams
        self.in_streams = in_streams
        self._my_initial_tsn = my_tsn
        self._next_tsn = my_tsn
        self._last_cum_ack = my_tsn - 1
        self._out_ssn = [0] * out_streams
        self._queue: deque[_Out] = deque()
        self._sent: deque[_Out] = deque()
        self._flight = 0
        self._queued_bytes = 0
        self._sent_bytes = 0
        self._rtx_count = 0
        self._fast_rtx = False
        self._fast_recovery = False
        self._fr_exit = 0
        self.cwnd = min(4 * mtu, max(2 * mtu, 4380))  # RFC 9260 §7.2.1
        self.ssthresh = peer_rwnd
        self._pba = 0
        self._peer_rwnd = peer_rwnd
        self._rtt_tsn: int | None = None
        self._rtt_time = 0.0
        self.error_count = 0
        self._rx_cum = peer_tsn - 1
        self._rx_highest = peer_tsn - 1
        self._rx_above: set[int] = set()
        self._dups: list[int] = []
        self._frags: dict[int, tuple[int, int, int, int, bytes]] = {}
        self._in_ssn: dict[int, int] = {}
        self._in_pending: dict[int, dict[int, tuple[int, bytes]]] = {}
        self._rx_buffered = 0
        self._app_buffered = 0
        self._last_adv_rwnd = self.config.receive_window
        self._sack_needed = False
        self._data_pkts = 0
        self._tsack = None
        self._t3 = None

    # --- paths (RFC 9260 §6.4, §8.2, §8.3) ---------------------------------------------

    @property
    def rto(self) -> float:
        """RTO of the current destination path (RFC 9260 §6.3.1)."""
        return self.dest.rto

    @rto.setter
    def rto(self, value: float) -> None:
        self.dest.rto = value

    @property
    def peer_addresses(self) -> list[bytes]:
        return [x.peer_ip for x in self.paths]

    def set_peer_addresses(self, addrs: list[bytes]) -> None:
        """RFC 9260 §5.1.2 — the peer's addresses from its INIT / INIT ACK: one path each.

        ``addrs`` comes from :func:`parse_peer_addresses` (bounded, primary first). The primary
        keeps the local address it has; every other path sends from the local address the
        route lookup names if it is ours, else from our addresses taken in turn (two NICs to
        two NICs pair up in order).
        """
        primary = self.primary
        paths = [primary]
        by_ip = {primary.peer_ip: primary}
        locals_ = self.local_addresses
        for i, ip in enumerate(addrs[:MAX_PEER_ADDRESSES]):
            if ip in by_ip:
                continue
            local = None
            if len(locals_) > 1 and self._route is not None:
                local = self._route(ip)
                if local not in locals_:
                    local = None
            if local is None:
                local = locals_[i % len(locals_)] if len(locals_) > 1 else self.local_ip
            path = Path(ip, local, self.config.rto_initial)
            path.confirmed = False  # §5.4: listed only, to be verified with a HEARTBEAT
            paths.append(path)
            by_ip[ip] = path
        self.paths = paths
        self._by_ip = by_ip
        self._set_multi(len(paths) > 1 or len(self.local_addresses) > 1)
        if self.state in _SENDING_STATES:
            self._schedule_all_heartbeats(self._last_now)

    def _set_multi(self, multi: bool) -> None:
        self._multi = multi
        if multi:
            self.datagrams_to_send = self._datagrams_multi  # type: ignore[method-assign]
        else:
            self.__dict__.pop("datagrams_to_send", None)
            self.tx_dests = None

    def _select_dest(self) -> None:
        """RFC 9260 §6.4 — new data to the primary while it is active, else to an active
        alternate (the current one if it still is); with none active, stay on the primary."""
        old = self.dest
        if self.primary.active:
            self.dest = self.primary
        elif not (old.active and old.confirmed):
            self.dest = next((x for x in self.paths if x.active and x.confirmed), self.primary)
        if self.dest is not old:
            self.stats["path_switches"] += 1

    def _alternate(self, failed: Path) -> Path:
        """RFC 9260 §6.4.1 — an active destination other than ``failed`` for retransmissions."""
        for x in self.paths:
            if x is not failed and x.active and x.confirmed:
                return x
        return self.dest if self.dest.active else failed

    def _path_error(self, path: Path) -> None:
        """RFC 9260 §8.2 — one more error on ``path``: back its RTO off (§6.3.3 E2) and mark
        it inactive once its counter exceeds Path.Max.Retrans."""
        cfg = self.config
        path.rto = min(path.rto * 2, cfg.rto_max)
        path.error_count += 1
        if len(self.paths) > 1 and path.active and path.error_count > cfg.path_max_retransmissions:
            path.active = False
            self.stats["path_down"] += 1
            self._events.append(PathChanged(path.peer_ip, False))
            self._select_dest()

    def _confirm(self, path: Path, now: float) -> None:
        """RFC 9260 §5.4 — our HEARTBEAT's nonce came back from ``path``: it is confirmed and
        joins the paths traffic may use; from now on it is heartbeated at HB.interval."""
        if path.confirmed:
            return
        path.confirmed = True
        path.error_count = 0
        path.active = True
        self.stats["path_confirmed"] += 1
        self._schedule_heartbeat(now, path)
        self._rearm_heartbeat()
        self._select_dest()

    def drop_path(self, ip: bytes) -> None:
        """Forget an unconfirmed peer address another association proved to own (§5.4)."""
        path = self._by_ip.get(ip)
        if path is None or path.confirmed or path is self.primary:
            return
        self.paths = [x for x in self.paths if x is not path]
        del self._by_ip[ip]
        for attr in ("_sack_path", "_rtx_path", "_probe_path"):
            if getattr(self, attr) is path:
                setattr(self, attr, None)
        if self.dest is path:
            self.dest = self.primary
        self._set_multi(len(self.paths) > 1 or len(self.local_addresses) > 1)
        self._rearm_heartbeat()

    def _path_ok(self, path: Path) -> None:
        """RFC 9260 §8.2, §8.3 — an ACK for DATA or a HEARTBEAT sent to ``path``: clear its
        counter; an inactive path is active again."""
        path.error_count = 0
        if not path.active:
            path.active = True
            path.hb_pending = False
            self.stats["path_up"] += 1
            self._events.append(PathChanged(path.peer_ip, True))
            self._select_dest()

    def _ctrl_for(self, path: Path | None, chunk: bytes) -> None:
        """Queue a control chunk for one destination (HEARTBEAT, HEARTBEAT ACK, §6.4)."""
        if self._multi and path is not None:
            self._ctrl_to.append((path.peer_ip, path.local_ip, chunk))
        else:
            self._ctrl.append(chunk)

    # --- public API -----------------------------------------------------------------

    @property
    def buffered_amount(self) -> int:
        """User bytes queued or in flight (not yet cumulatively acknowledged)."""
        return self._queued_bytes + self._sent_bytes

    @property
    def established(self) -> bool:
        return self.state == State.ESTABLISHED

    def start(self, now: float) -> None:
        """RFC 9260 §5.1 A — send INIT and enter COOKIE-WAIT (client side)."""
        self.my_tag = self._new_tag()
        tsn = self._rng.getrandbits(32)
        self._setup(tsn, 0, 1500, self.config.out_streams, self.config.in_streams)
        params = [p.encode_param(p.PARAM_SUPPORTED_ADDR_TYPES, struct.pack("!H", p.PARAM_IPV4))]
        if len(self.local_addresses) > 1:
            # §5.1.2: list every address we can be reached at (the INIT's source too).
            params[:0] = [p.encode_param(p.PARAM_IPV4, ip) for ip in self.local_addresses]
        self._t1_chunk = p.encode_init(
            p.INIT, self.my_tag, self.config.receive_window, self.config.out_streams,
            self.config.in_streams, tsn, params,
        )
        self.state = State.COOKIE_WAIT
        self._packets.append(p.build_packet(self.local_port, self.peer_port, 0, [self._t1_chunk]))
        self._last_now = now
        self._t1_rto = self.config.rto_initial
        self._t1_count = 0
        self._t1 = now + self._t1_rto

    def establish_from_cookie(self, ck: CookieData, now: float) -> None:
        """RFC 9260 §5.1 D — a new association from a valid COOKIE ECHO (server side)."""
        self.my_tag = ck.my_tag
        self.peer_tag = ck.peer_tag
        self._setup(ck.my_tsn, ck.peer_tsn, ck.peer_rwnd, ck.out_streams, ck.in_streams)
        if len(ck.peer_addrs) > 4:
            self.set_peer_addresses([ck.peer_addrs[i : i + 4] for i in range(0, len(ck.peer_addrs), 4)])
        self._ctrl.append(p.encode_chunk(p.COOKIE_ACK, 0))
        self._enter_established(now)
        self._events.append(AssociationUp(self.out_streams, self.in_streams))

    def send(self, stream: int, ppid: int, data: bytes, unordered: bool = False) -> None:
        """RFC 9260 §6.1, §6.9 — queue one user message, fragmenting it to the path MTU."""
        if self.state not in (State.ESTABLISHED, State.COOKIE_ECHOED):
            raise AssociationClosedError(f"cannot send in state {self.state.name}")
        if not 0 <= stream < self.out_streams:
            raise ValueError(f"stream {stream} outside 0..{self.out_streams - 1}")
        n = len(data)
        if n == 0:
            raise ValueError("SCTP cannot carry an empty message (RFC 9260 §3.3.1)")
        if unordered:
            ssn = 0
            base = p.FLAG_U
        else:
            ssn = self._out_ssn[stream]
            self._out_ssn[stream] = (ssn + 1) & 0xFFFF
            base = 0
        frag = self._frag_size
        q = self._queue
        if n <= frag:
            q.append(_Out(base | p.FLAG_B | p.FLAG_E, stream, ssn, ppid, bytes(data)))
        else:
            mv = memoryview(data)
            for off in range(0, n, frag):
                flags = base
                if off == 0:
                    flags |= p.FLAG_B
                if off + frag >= n:
                    flags |= p.FLAG_E
                q.append(_Out(flags, stream, ssn, ppid, bytes(mv[off : off + frag])))
        self._queued_bytes += n

    def shutdown(self, now: float) -> None:
        """RFC 9260 §9.2 — graceful close once all queued data is acknowledged."""
        if self.state == State.ESTABLISHED:
            self.state = State.SHUTDOWN_PENDING
            self._check_shutdown(now)
        elif self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            self.abort("closed before the association was up", now)

    def abort(self, reason: str = "", now: float = 0.0) -> None:
        """RFC 9260 §9.1 — send ABORT (User-Initiated Abort cause) and close."""
        if self.state == State.CLOSED:
            return
        if self.state != State.COOKIE_WAIT:
            cause = p.encode_cause(p.CAUSE_USER_ABORT, reason.encode()[:200])
            self._packets.append(
                p.build_packet(self.local_port, self.peer_port, self.peer_tag, [p.encode_chunk(p.ABORT, 0, cause)])
            )
        self._close(AssociationLost(f"aborted locally: {reason}" if reason else "aborted locally"))

    def consumed(self, nbytes: int) -> None:
        """The application took ``nbytes`` of delivered data: reopen the receive window (§6.2)."""
        self._app_buffered -= nbytes
        if self._app_buffered < 0:
            self._app_buffered = 0
        win = self.config.receive_window
        if self._last_adv_rwnd < win // 2 and self._rwnd() >= self._last_adv_rwnd + win // 4:
            self._sack_needed = True

    @property
    def idle(self) -> bool:
        """Nothing queued or in flight: a new message can go out at once, alone."""
        return not self._queue and not self._sent

    @property
    def ack_pending(self) -> bool:
        """A SACK is owed to the peer: due now, or held back by the delayed-SACK timer (§6.2)."""
        return self._sack_needed or self._tsack is not None

    @property
    def wants_output(self) -> bool:
        return bool(self._packets or self._ctrl or self._sack_needed)

    def pop_events(self) -> list[Event]:
        ev = self._events
        self._events = []
        return ev

    def get_timer(self) -> float | None:
        """The earliest pending timer deadline, or None."""
        t = None
        for x in (self._t1, self._t2, self._t3, self._t5, self._thb, self._tsack, self._tprobe):
            if x is not None and (t is None or x < t):
                t = x
        return t

    # --- timers -----------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Process every timer whose deadline is at or before ``now``."""
        if self._tsack is not None and self._tsack <= now:
            self._tsack = None
            self._sack_needed = True
        if self._t1 is not None and self._t1 <= now:
            self._on_t1(now)
        if self._t3 is not None and self._t3 <= now:
            self._on_t3(now)
        if self._t2 is not None and self._t2 <= now:
            self._on_t2(now)
        if self._t5 is not None and self._t5 <= now:
            self._t5 = None
            self.abort("T5-shutdown-guard expired", now)
        if self._thb is not None and self._thb <= now:
            self._on_heartbeat_timer(now)
        if self._tprobe is not None and self._tprobe <= now:
            self._on_probe_timer(now)

    def _on_t1(self, now: float) -> None:
        """RFC 9260 §5.1 — T1-init / T1-cookie expiry: retransmit with backoff."""
        self._t1_count += 1
        if self._t1_count > self.config.max_init_retransmits:
            what = "INIT" if self.state == State.COOKIE_WAIT else "COOKIE ECHO"
            self._close(AssociationLost(f"{what} not answered after {self._t1_count - 1} retransmissions"))
            return
        self._t1_rto = min(self._t1_rto * 2, self.config.rto_max)
        self._t1 = now + self._t1_rto
        self.stats["t1_expired"] += 1
        if self.state == State.COOKIE_WAIT:
            self._packets.append(p.build_packet(self.local_port, self.peer_port, 0, [self._t1_chunk]))
        elif self.state == State.COOKIE_ECHOED:
            self._ctrl.append(self._t1_chunk)
        else:
            self._t1 = None

    def _on_t3(self, now: float) -> None:
        """RFC 9260 §6.3.3, §7.2.3, §6.4.1, §8.2 — T3-rtx expiry: the error counts against
        the path the oldest outstanding DATA went to (and the association, §8.1); back off,
        collapse cwnd, and retransmit — to an active alternate path when the peer has one."""
        self._t3 = None
        if not self._sent:
            return
        self.stats["t3_expired"] += 1
        failed = self.dest
        if self._multi:
            for c in self._sent:
                if not c.acked and c.path is not None:
                    failed = c.path
                    break
        self.error_count += 1
        self._path_error(failed)
        if self.error_count > self.config.max_retransmissions:
            self.abort("peer unreachable: retransmission limit", now)
            self._events[-1] = AssociationLost("peer unreachable: Association.Max.Retrans exceeded")
            return
        mtu = self.config.mtu
        self.ssthresh = max(self.cwnd // 2, 4 * mtu)
        self.cwnd = mtu
        self._pba = 0
        self._fast_recovery = False
        self._rtt_tsn = None
        for c in self._sent:
            if not c.acked:
                if c.in_flight:
                    c.in_flight = False
                    self._flight -= c.size
                if not c.rtx:
                    c.rtx = True
                    self._rtx_count += 1
        rtx_path = failed
        if self._multi:
            rtx_path = self._alternate(failed)
            self._rtx_path = rtx_path
            if rtx_path is not failed:
                self.stats["rtx_alternate_path"] += 1
        self._t3 = now + rtx_path.rto

    def _on_t2(self, now: float) -> None:
        """RFC 9260 §9.2 — T2-shutdown expiry: retransmit SHUTDOWN or SHUTDOWN ACK."""
        self._t2 = None
        self.error_count += 1
        if self.error_count > self.config.max_retransmissions:
            self.abort("peer unreachable during shutdown", now)
            return
        self._path_error(self.dest)  # §9.2: to an alternate, if the peer has one
        if self.state == State.SHUTDOWN_SENT:
            self._ctrl.append(self._shutdown_chunk())
        elif self.state == State.SHUTDOWN_ACK_SENT:
            self._ctrl.append(p.encode_chunk(p.SHUTDOWN_ACK, 0))
        else:
            return
        self._t2 = now + self.rto

    def _on_heartbeat_timer(self, now: float) -> None:
        """RFC 9260 §8.3 — HEARTBEAT to each path whose time came; one still unanswered
        counts as an error on that path (§8.2) and on the association (§8.1)."""
        self._thb = None
        if self.state not in _SENDING_STATES:
            return
        # §5.4, §16 HB.Max.Burst = 1: one HEARTBEAT to an unconfirmed address per round, the
        # one probed longest ago (round robin), so a peer listing addresses cannot make us
        # send bursts to third parties; the others wait one RTO.
        pick = None
        for path in self.paths:
            if not path.confirmed and path.hb_at is not None and path.hb_at <= now and (
                    pick is None or path.hb_sent_at < pick.hb_sent_at):
                pick = path
        for path in self.paths:
            t = path.hb_at
            if t is None or t > now:
                continue
            if not path.confirmed and path is not pick:
                path.hb_at = now + path.rto
                continue
            if self._probe is not None and (path is self._probe_path or len(self.paths) == 1):
                # The probe heartbeats this path already and counts its errors; a second series
                # would back the RTO off twice for one silence.
                self._schedule_heartbeat(now, path)
                continue
            if path.hb_pending:
                if not path.confirmed:
                    # §5.4: an address the peer listed but never confirmed says nothing about
                    # the peer's reachability; only the path pays.
                    self._path_error(path)
                    self._send_heartbeat(now, path)
                    self._schedule_heartbeat(now, path)
                    continue
                self.error_count += 1
                self._path_error(path)
                if self.error_count > self.config.max_retransmissions:
                    self.abort("peer unreachable: HEARTBEAT not acknowledged", now)
                    self._events[-1] = AssociationLost("peer unreachable: HEARTBEAT not acknowledged")
                    return
            self._send_heartbeat(now, path)
            self._schedule_heartbeat(now, path)
        self._rearm_heartbeat()

    def request_heartbeat(self, now: float) -> None:
        """RFC 9260 §8.3 / §11.1 (REQUESTHEARTBEAT): a HEARTBEAT now to the current
        destination, on demand of the upper layer; its acknowledgement bumps
        ``heartbeat_acks``. One already outstanding serves."""
        if self.state in _SENDING_STATES and not self.dest.hb_pending:
            self._send_heartbeat(now, self.dest)

    def _send_heartbeat(self, now: float, path: Path) -> None:
        """RFC 9260 §8.3 — the routine (or requested) HEARTBEAT to ``path``, with a fresh
        nonce; it is outstanding until its ACK (:meth:`_on_heartbeat_ack`) or the next timer."""
        path.hb_nonce = nonce = self._rng.getrandbits(64)
        info = p.encode_param(p.PARAM_HEARTBEAT_INFO, _HB_INFO.pack(now, nonce))
        self._ctrl_for(path, p.encode_chunk(p.HEARTBEAT, 0, info))
        path.hb_pending = True
        path.hb_sent_at = now

    def start_probe(self, now: float, max_retransmissions: int | None = None,
                    deadline: float | None = None) -> Probe:
        """RFC 9260 §8.3, §11.1 REQUESTHEARTBEAT — is the peer still reachable?

        A HEARTBEAT goes out now and waits one RTO (the path's current one, within RTO.Min ..
        RTO.Max). Each one unanswered that long counts in the error counter (§8.3), doubles
        the RTO (§6.3.3 rule E2, capped at RTO.Max) and is followed by a new HEARTBEAT, up to
        ``max_retransmissions`` retransmissions (Path.Max.Retrans, §16 default 5). The probe
        ends alive on a HEARTBEAT ACK for any of its HEARTBEATs, or a SACK acknowledging new
        DATA (what also clears the error counter, §8.3 / §6.3.3); it ends dead once the last
        HEARTBEAT's RTO expired unanswered (the §8.2 "unreachable" verdict), at ``deadline``
        (absolute, same clock as ``now``) if that comes first, or when the association
        closes. An ACK for a HEARTBEAT the probe did not send never counts.

        Multi-homed peer: the first HEARTBEAT goes to the current destination (the primary
        while it is active) and each retransmission to the next active path in turn (§6.4.1,
        as retransmitted DATA does), so the probe asks "is the peer reachable at all", not
        "is one address": one dead path alone never makes it fail. Each unanswered HEARTBEAT
        counts against the path it went to.

        A probe already running is returned as it is (its limits stand); in a state where
        HEARTBEATs cannot be sent the probe ends dead at once.
        """
        pr = self._probe
        if pr is not None:
            return pr
        n = PATH_MAX_RETRANS if max_retransmissions is None else max_retransmissions
        if not 0 <= n <= _PROBE_MAX_RETRANS_LIMIT:
            raise ValueError(f"max_retransmissions {n} outside 0..{_PROBE_MAX_RETRANS_LIMIT}")
        pr = Probe(now, n, deadline)
        if self.state not in _SENDING_STATES:
            pr.alive = False
            pr.reason = f"association {self.state.name}"
            return pr
        self._probe = pr
        self.stats["probes"] += 1
        self._probe_path = None
        self._probe_heartbeat(pr, now)
        return pr

    def _next_probe_path(self) -> Path:
        last = self._probe_path
        if last is None or len(self.paths) == 1:
            return self.dest
        paths = self.paths
        i = paths.index(last) if last in paths else -1
        n = len(paths)
        for k in range(1, n + 1):
            cand = paths[(i + k) % n]
            if cand.active and cand.confirmed:
                return cand
        return self.dest

    def _probe_heartbeat(self, pr: Probe, now: float) -> None:
        """RFC 9260 §8.3 — one HEARTBEAT of the probe, timed by its path's RTO."""
        path = self._next_probe_path()
        self._probe_path = path
        nonce = self._rng.getrandbits(64)
        self._probe_hbs[nonce] = (now, path)
        info = p.encode_param(p.PARAM_HEARTBEAT_INFO, _HB_INFO.pack(now, nonce))
        self._ctrl_for(path, p.encode_chunk(p.HEARTBEAT, 0, info))
        cfg = self.config
        r = path.rto
        rto = cfg.rto_min if r < cfg.rto_min else cfg.rto_max if r > cfg.rto_max else r
        pr.waits.append(rto)
        self.stats["probe_heartbeats"] += 1
        t = now + rto
        if pr.deadline is not None and pr.deadline < t:
            t = pr.deadline
        self._tprobe = t

    def _on_probe_timer(self, now: float) -> None:
        """RFC 9260 §8.3, §6.3.3 E2 — the probe's HEARTBEAT went unanswered for one RTO."""
        self._tprobe = None
        pr = self._probe
        if pr is None:
            return
        sent = pr.heartbeats
        if pr.deadline is not None and now >= pr.deadline:
            self._finish_probe(False, f"{sent} HEARTBEAT(s) unanswered by the deadline")
            return
        if self.state not in _SENDING_STATES:
            self._finish_probe(False, f"association {self.state.name}")
            return
        cfg = self.config
        self.error_count += 1
        self._path_error(self._probe_path or self.dest)
        self.stats["probe_heartbeat_timeouts"] += 1
        if self.error_count > cfg.max_retransmissions:
            # §8.1: Association.Max.Retrans exceeded; _close ends the probe dead.
            self.abort("peer unreachable: HEARTBEAT not acknowledged", now)
            self._events[-1] = AssociationLost("peer unreachable: HEARTBEAT not acknowledged")
            return
        if sent > pr.max_retransmissions:
            self._finish_probe(False, f"{sent} HEARTBEATs unanswered (Path.Max.Retrans {pr.max_retransmissions})")
            return
        self._probe_heartbeat(pr, now)

    def _finish_probe(self, alive: bool, reason: str, path: Path | None = None) -> None:
        """The probe's verdict (RFC 9260 §8.3 peer reachable, or §8.2 unreachable)."""
        pr = self._probe
        if pr is None:
            return
        self._probe = None
        self._tprobe = None
        self._probe_hbs.clear()  # a late ACK for one of them proves nothing to a later probe
        pr.alive = alive
        pr.reason = reason
        self.stats["probe_alive" if alive else "probe_dead"] += 1
        if alive:
            # the path answered: an older routine HEARTBEAT to it is moot
            (path or self._probe_path or self.dest).hb_pending = False
        self._probe_path = None

    def _schedule_heartbeat(self, now: float, path: Path) -> None:
        """RFC 9260 §8.3 — next HEARTBEAT to ``path`` after HB.interval plus its RTO jittered
        by ±50 %; §5.4 — to an unconfirmed address one RTO after the last (with its backoff),
        even with routine HEARTBEATs off, until it is confirmed or has failed."""
        hb = self.config.heartbeat_interval
        if not path.confirmed and path.active:
            path.hb_at = now + path.rto
        elif hb > 0:
            path.hb_at = now + hb + path.rto * (0.5 + self._rng.random())
        else:
            path.hb_at = None

    def _schedule_all_heartbeats(self, now: float) -> None:
        for path in self.paths:
            if path.hb_at is None:
                if path.confirmed:
                    self._schedule_heartbeat(now, path)
                else:
                    path.hb_at = now  # §5.4: verify listed addresses as soon as we are up
        self._rearm_heartbeat()

    def _rearm_heartbeat(self) -> None:
        t = None
        for path in self.paths:
            x = path.hb_at
            if x is not None and (t is None or x < t):
                t = x
        self._thb = t

    # --- inbound ----------------------------------------------------------------------

    def receive_chunks(self, chunks: list[p.Chunk], now: float, src: bytes | None = None,
                       dst: bytes | None = None) -> None:
        """RFC 9260 §8.5-verified chunks of one packet, processed in order.

        ``src`` and ``dst`` are the packet's addresses: when either end is multi-homed, a
        HEARTBEAT ACK goes back to the HEARTBEAT's source from the address it was sent to (so
        it confirms that very address pair, §8.3), and SACKs to the address the DATA came
        from (§6.4)."""
        got_data = False
        rx_path = self._by_ip.get(src) if self._multi and src is not None else None
        for ch in chunks:
            t = ch.type
            if t == 0:  # DATA
                if self.state in _RECEIVING_STATES:
                    got_data = True
                    self._on_data(ch.flags, ch.value, now)
            elif t == p.SACK:
                self._on_sack(ch.value, now)
            elif t == p.HEARTBEAT:
                if self.state not in (State.CLOSED, State.COOKIE_WAIT):
                    ack = p.encode_chunk(p.HEARTBEAT_ACK, 0, ch.value)
                    if self._multi and src is not None:
                        self._ctrl_to.append((src, dst or (rx_path or self.dest).local_ip, ack))
                    else:
                        self._ctrl.append(ack)
            elif t == p.HEARTBEAT_ACK:
                self._on_heartbeat_ack(ch.value, now)
            elif t == p.INIT_ACK:
                if len(chunks) == 1:
                    self._on_init_ack(ch.value, now, src)
                else:
                    self.stats["rx_malformed"] += 1
                return
            elif t == p.COOKIE_ACK:
                if self.state == State.COOKIE_ECHOED:
                    self._t1 = None
                    self._enter_established(now)
                    self._events.append(AssociationUp(self.out_streams, self.in_streams))
            elif t == p.ABORT:
                self.stats["rx_abort"] += 1
                self._close(AssociationLost(f"peer aborted: {p.describe_causes(ch.value)}"))
                return
            elif t == p.SHUTDOWN:
                self._on_shutdown(ch.value, now)
            elif t == p.SHUTDOWN_ACK:
                if self.state in (State.SHUTDOWN_SENT, State.SHUTDOWN_ACK_SENT):
                    self._packets.append(
                        p.build_packet(self.local_port, self.peer_port, self.peer_tag,
                                       [p.encode_chunk(p.SHUTDOWN_COMPLETE, 0)])
                    )
                    self._close(ShutdownComplete())
                    return
            elif t == p.SHUTDOWN_COMPLETE:
                if self.state == State.SHUTDOWN_ACK_SENT:
                    self._close(ShutdownComplete())
                return
            elif t == p.ERROR:
                self.stats["rx_error_chunk"] += 1
            elif t in (p.INIT, p.COOKIE_ECHO):
                self.stats["rx_unexpected_chunk"] += 1
            else:
                # RFC 9260 §3.2: the two high bits of an unknown type say what to do.
                self.stats["rx_unknown_chunk"] += 1
                action = t >> 6
                if action & 1:
                    cause = p.encode_cause(p.CAUSE_UNRECOGNIZED_CHUNK, p.encode_chunk(t, ch.flags, ch.value))
                    self._ctrl.append(p.encode_chunk(p.ERROR, 0, cause))
                if not action & 2:
                    break
            if self.state == State.CLOSED:
                return
        if got_data:
            if rx_path is not None:
                self._sack_path = rx_path
            self._after_data_packet(now)

    def _after_data_packet(self, now: float) -> None:
        """RFC 9260 §6.2 — SACK at least every second DATA packet, at once on gaps/dups."""
        if self.state == State.SHUTDOWN_SENT:
            # §9.2: answer DATA with SHUTDOWN and restart T2.
            self._sack_needed = True
            self._ctrl.append(self._shutdown_chunk())
            self._t2 = now + self.rto
            return
        self._data_pkts += 1
        if self._data_pkts >= 2 or self._rx_above or self._dups:
            self._sack_needed = True
        elif self._tsack is None and not self._sack_needed:
            self._tsack = now + self.config.sack_delay

    def _rwnd(self) -> int:
        r = self.config.receive_window - self._rx_buffered - self._app_buffered
        return r if r > 0 else 0

    def _on_data(self, flags: int, value: bytes, now: float) -> None:
        """RFC 9260 §6.2, §6.5, §6.6 — accept one DATA chunk, deliver what is complete."""
        if len(value) < 12:
            self.stats["rx_malformed"] += 1
            return
        tsn32, stream, ssn, ppid = _DATA_FIXED.unpack_from(value, 0)
        data = value[12:]
        n = len(data)
        if n == 0:
            self.stats["rx_malformed"] += 1
            self.abort_with_cause(p.encode_cause(p.CAUSE_NO_USER_DATA, struct.pack("!I", tsn32)),
                                  "DATA chunk without user data")
            return
        cum = self._rx_cum
        u = unwrap(tsn32, cum)
        if u <= cum or u in self._rx_above:
            self.stats["rx_data_dup"] += 1
            if len(self._dups) < _MAX_DUPS:
                self._dups.append(tsn32)
            return
        if u - cum > _MAX_TSN_AHEAD:
            # Bounds the out-of-order set a hostile peer can make us hold and sort per SACK.
            self.stats["rx_data_out_of_window"] += 1
            self._sack_needed = True
            return
        if u > self._rx_highest and self._rx_buffered + self._app_buffered + n > self.config.receive_window:
            self.stats["rx_data_window_drop"] += 1
            self._sack_needed = True
            if not self._rx_above and self._app_buffered == 0:
                # Nothing can free the window: the peer's message exceeds our buffer.
                self.abort_with_cause(p.encode_cause(p.CAUSE_OUT_OF_RESOURCE), "message larger than the receive window")
            return
        if u == cum + 1:
            cum = u
            above = self._rx_above
            if above:
                while cum + 1 in above:
                    cum += 1
                    above.discard(cum)
            self._rx_cum = cum
        else:
            self._rx_above.add(u)
        if u > self._rx_highest:
            self._rx_highest = u
        if stream >= self.in_streams:
            self.stats["rx_invalid_stream"] += 1
            cause = p.encode_cause(p.CAUSE_INVALID_STREAM, struct.pack("!HH", stream, 0))
            self._ctrl.append(p.encode_chunk(p.ERROR, 0, cause))
            return
        if flags & 3 == 3:
            self._message(stream, ssn, ppid, data, flags & p.FLAG_U)
            return
        self._frags[u] = (flags, stream, ssn, ppid, data)
        self._rx_buffered += n
        self._reassemble(u)

    def _reassemble(self, u: int) -> None:
        """RFC 9260 §6.9 — if TSN ``u`` completed a B..E run of fragments, take it out."""
        frags = self._frags
        start = u
        while True:
            e = frags.get(start)
            if e is None:
                return
            if e[0] & p.FLAG_B:
                break
            start -= 1
        end = u
        while True:
            e = frags.get(end)
            if e is None:
                return
            if e[0] & p.FLAG_E:
                break
            end += 1
        pieces = [frags.pop(t) for t in range(start, end + 1)]
        f0 = pieces[0]
        data = b"".join(x[4] for x in pieces)
        self._rx_buffered -= len(data)
        unordered = f0[0] & p.FLAG_U
        for x in pieces:
            if x[1] != f0[1] or (x[0] & p.FLAG_U) != unordered or (not unordered and x[2] != f0[2]):
                self.stats["rx_malformed"] += 1
                return
        if len(data) > self.config.max_message_size:
            self.abort_with_cause(p.encode_cause(p.CAUSE_OUT_OF_RESOURCE), "inbound message too large")
            return
        self._message(f0[1], f0[2], f0[3], data, unordered)

    def _message(self, stream: int, ssn: int, ppid: int, data: bytes, unordered: int) -> None:
        """RFC 9260 §6.5 — deliver unordered at once, ordered by SSN per stream."""
        if unordered:
            self._deliver(stream, ppid, data, True)
            return
        exp = self._in_ssn.get(stream, 0)
        if ssn == exp:
            self._deliver(stream, ppid, data, False)
            exp = (exp + 1) & 0xFFFF
            pend = self._in_pending.get(stream)
            if pend:
                while exp in pend:
                    ppid2, d2 = pend.pop(exp)
                    self._rx_buffered -= len(d2)
                    self._deliver(stream, ppid2, d2, False)
                    exp = (exp + 1) & 0xFFFF
            self._in_ssn[stream] = exp
        elif (ssn - exp) & 0xFFFF < 0x8000:
            pend = self._in_pending.setdefault(stream, {})
            if ssn in pend:
                self.stats["rx_ssn_dup"] += 1
                return
            pend[ssn] = (ppid, data)
            self._rx_buffered += len(data)
        else:
            self.stats["rx_ssn_stale"] += 1

    def _deliver(self, stream: int, ppid: int, data: bytes, unordered: bool) -> None:
        self._app_buffered += len(data)
        self._events.append(DataReceived(stream, ppid, data, unordered))

    def _on_sack(self, value: bytes, now: float) -> None:
        """RFC 9260 §6.2.1, §7.2 — process a SACK: acks, gap blocks, cwnd, fast retransmit."""
        if self.state in (State.CLOSED, State.COOKIE_WAIT):
            return
        if len(value) < 12:
            self.stats["rx_malformed"] += 1
            return
        cum32, a_rwnd, ngap, ndup = _SACK_FIXED.unpack_from(value, 0)
        if len(value) < 12 + 4 * ngap + 4 * ndup:
            self.stats["rx_malformed"] += 1
            return
        cum = unwrap(cum32, self._last_cum_ack)
        if cum < self._last_cum_ack:
            self.stats["rx_sack_stale"] += 1
            return
        if cum >= self._next_tsn:
            self.stats["rx_sack_bogus"] += 1
            return
        if a_rwnd == 0:
            # §6.1 A: a peer answering our zero-window probes is alive; probes lost to its
            # closed window must not count towards Association.Max.Retrans.
            self.error_count = 0
        self._process_ack(cum, now, value, ngap, a_rwnd)

    def _process_ack(self, cum: int, now: float, value: bytes | None, ngap: int, a_rwnd: int | None) -> None:
        sent = self._sent
        flight_before = self._flight
        acked_cum = 0
        acked_total = 0
        progressed = cum > self._last_cum_ack
        highest_new = -1  # TSN 0 is a real TSN (an association may start there)
        apath = None
        while sent and sent[0].tsn <= cum:
            c = sent.popleft()
            self._sent_bytes -= c.size
            if c.tsn == self._rtt_tsn:
                if c.sent_count == 1:
                    self._update_rto(now - self._rtt_time, self._rtt_path)
                self._rtt_tsn = None
            if not c.acked:
                acked_cum += c.size
                highest_new = c.tsn
                apath = c.path
            if c.in_flight:
                self._flight -= c.size
            if c.rtx:
                self._rtx_count -= 1
        self._last_cum_ack = cum
        acked_total = acked_cum
        if ngap and sent and value is not None:
            base = sent[0].tsn
            last = len(sent)
            gaps = struct.unpack_from(f"!{2 * ngap}H", value, 12)
            prev_hi = -1
            for i in range(0, 2 * ngap, 2):
                lo = cum + gaps[i] - base
                hi = cum + gaps[i + 1] - base
                if gaps[i] == 0 or hi < lo or lo <= prev_hi:
                    # §3.3.4: blocks are ascending and disjoint; anything else is bogus and
                    # would let a peer make us walk the queue once per block.
                    self.stats["rx_sack_bad_gap"] += 1
                    break
                prev_hi = hi
                if lo < 0:
                    lo = 0
                if hi >= last:
                    hi = last - 1
                for idx in range(lo, hi + 1):
                    c = sent[idx]
                    if c.acked:
                        continue
                    c.acked = True
                    acked_total += c.size
                    if c.tsn > highest_new:
                        highest_new = c.tsn
                    if c.in_flight:
                        c.in_flight = False
                        self._flight -= c.size
                    if c.rtx:
                        c.rtx = False
                        self._rtx_count -= 1
                    if c.tsn == self._rtt_tsn:
                        if c.sent_count == 1:
                            self._update_rto(now - self._rtt_time, self._rtt_path)
                        self._rtt_tsn = None
                    apath = c.path
            if highest_new >= 0:
                # §7.2.4: miss indications for unacked TSNs below the highest newly acked.
                for c in sent:
                    if c.tsn >= highest_new:
                        break
                    if c.acked or c.rtx or c.fast_done:
                        continue
                    c.misses += 1
                    if c.misses >= 3:
                        self._mark_fast_retransmit(c)
        mtu = self.config.mtu
        if acked_total:
            self.error_count = 0
            if apath is not None and (apath.error_count or not apath.active):
                self._path_ok(apath)  # §8.2: DATA sent to that address was acknowledged
            if self._probe is not None:
                # §8.3 / §6.3.3: new DATA acknowledged proves the peer as well as a HEARTBEAT
                # ACK would, and cannot be a replay (acknowledged TSNs are never counted twice).
                self._finish_probe(True, "SACK acknowledged new DATA")
        if self._fast_recovery and cum >= self._fr_exit:
            self._fast_recovery = False
        if progressed and not self._fast_recovery:
            if self.cwnd <= self.ssthresh:
                if flight_before + mtu >= self.cwnd:
                    self.cwnd += min(acked_cum, mtu)
            else:
                self._pba += acked_cum
                if self._pba >= self.cwnd and flight_before + mtu >= self.cwnd:
                    self._pba -= self.cwnd
                    self.cwnd += mtu
        if a_rwnd is not None:
            r = a_rwnd - self._flight
            self._peer_rwnd = r if r > 0 else 0
        if not sent:
            self._t3 = None
        elif progressed:
            path = sent[0].path
            self._t3 = now + (path.rto if path is not None else self.dest.rto)
        if self.state in (State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED):
            self._check_shutdown(now)

    def _mark_fast_retransmit(self, c: _Out) -> None:
        """RFC 9260 §7.2.4 — three miss indications: fast retransmit and fast recovery."""
        c.fast_done = True
        c.rtx = True
        self._rtx_count += 1
        if c.in_flight:
            c.in_flight = False
            self._flight -= c.size
        self._fast_rtx = True
        self.stats["fast_retransmits"] += 1
        if not self._fast_recovery:
            mtu = self.config.mtu
            self.ssthresh = max(self.cwnd // 2, 4 * mtu)
            self.cwnd = self.ssthresh
            self._pba = 0
            self._fast_recovery = True
            self._fr_exit = self._next_tsn - 1

    def _update_rto(self, r: float, path: Path) -> None:
        """RFC 9260 §6.3.1 — SRTT/RTTVAR/RTO of ``path`` from one measurement."""
        if r < 0:
            return
        srtt = path.srtt
        if srtt is None:
            path.srtt = srtt = r
            path.rttvar = r / 2
        else:
            path.rttvar = 0.75 * path.rttvar + 0.25 * abs(srtt - r)
            path.srtt = srtt = 0.875 * srtt + 0.125 * r
        if path.rttvar < _CLOCK_GRANULARITY:
            path.rttvar = _CLOCK_GRANULARITY
        rto = srtt + 4 * path.rttvar
        cfg = self.config
        path.rto = cfg.rto_min if rto < cfg.rto_min else cfg.rto_max if rto > cfg.rto_max else rto

    def _on_heartbeat_ack(self, value: bytes, now: float) -> None:
        """RFC 9260 §8.3 — a HEARTBEAT ACK for one of our outstanding HEARTBEATs clears the
        error counter, gives an RTT sample and answers a running probe.

        The RTT is timed from our own record of the send time, not from the echoed
        Heartbeat Info: the peer can write anything there (a NaN would poison the RTO).
        """
        try:
            params = p.parse_params(value)
        except p.SctpDecodeError:
            self.stats["rx_malformed"] += 1
            return
        for ptype, pv in params:
            if ptype == p.PARAM_HEARTBEAT_INFO and len(pv) == _HB_INFO.size:
                nonce = _HB_INFO.unpack(pv)[1]
                hit = self._probe_hbs.pop(nonce, None)
                if hit is not None:
                    sent_at, path = hit
                    self.heartbeat_acks += 1
                    self.error_count = 0
                    self._update_rto(now - sent_at, path)
                    self._confirm(path, now)
                    self._path_ok(path)
                    self._finish_probe(True, "HEARTBEAT ACK", path)
                    return
                for path in self.paths:
                    if path.hb_pending and nonce == path.hb_nonce:
                        path.hb_pending = False
                        self.heartbeat_acks += 1
                        if path.confirmed:
                            self.error_count = 0
                        self._update_rto(now - path.hb_sent_at, path)
                        self._confirm(path, now)
                        self._path_ok(path)
                        return
        self.stats["rx_heartbeat_ack_unknown"] += 1

    def _on_init_ack(self, value: bytes, now: float, src: bytes | None = None) -> None:
        """RFC 9260 §5.1 C, §5.1.2 — INIT ACK in COOKIE-WAIT: take the peer's addresses,
        echo the cookie."""
        if self.state != State.COOKIE_WAIT:
            self.stats["rx_unexpected_chunk"] += 1
            return
        try:
            ia = p.parse_init(value)
        except p.SctpDecodeError:
            self.stats["rx_malformed"] += 1
            return
        if ia.initiate_tag == 0 or ia.out_streams == 0 or ia.in_streams == 0:
            self.stats["rx_malformed"] += 1
            return
        cookie = None
        unrecognized = []
        for ptype, pv in ia.params:
            if ptype == p.PARAM_STATE_COOKIE:
                cookie = pv
            elif ptype in (p.PARAM_IPV4, p.PARAM_IPV6, p.PARAM_UNRECOGNIZED, p.PARAM_SUPPORTED_ADDR_TYPES):
                continue
            else:
                if ptype & 0x4000:
                    unrecognized.append(p.encode_param(ptype, pv))
                if not ptype & 0x8000:
                    break
        if cookie is None:
            self.stats["rx_malformed"] += 1
            return
        self.peer_tag = ia.initiate_tag
        out_s = min(self.config.out_streams, ia.in_streams)
        in_s = min(self.config.in_streams, ia.out_streams)
        self._setup(self._my_initial_tsn, ia.initial_tsn, ia.a_rwnd, out_s, in_s)
        addrs = parse_peer_addresses(src or self.peer_ip, ia.params, self.stats)
        if self.peer_ip not in addrs:
            addrs.insert(0, self.peer_ip)  # the address we sent INIT to stays our primary
        if len(addrs) > 1:
            self.set_peer_addresses(addrs)
        self._t1_chunk = p.encode_chunk(p.COOKIE_ECHO, 0, cookie)
        self._ctrl.append(self._t1_chunk)
        if unrecognized:
            cause = p.encode_cause(p.PARAM_UNRECOGNIZED, p.join_tlvs(unrecognized))
            self._ctrl.append(p.encode_chunk(p.ERROR, 0, cause))
        self.state = State.COOKIE_ECHOED
        self._t1_rto = self.config.rto_initial
        self._t1_count = 0
        self._t1 = now + self._t1_rto

    def on_cookie_echo(self, ck: CookieData, now: float) -> bool:
        """RFC 9260 §5.2.4 — COOKIE ECHO for an existing association (restart, collision, dup).

        Returns True when chunks bundled after the COOKIE ECHO should be processed.
        """
        mine = ck.my_tag == self.my_tag
        peer = ck.peer_tag == self.peer_tag
        if not mine and not peer and ck.tie_local == self.my_tag and ck.tie_peer == self.peer_tag:
            if self.state == State.SHUTDOWN_ACK_SENT:
                cause = p.encode_cause(p.CAUSE_COOKIE_WHILE_SHUTTING_DOWN)
                self._packets.append(p.build_packet(self.local_port, self.peer_port, ck.peer_tag, [
                    p.encode_chunk(p.SHUTDOWN_ACK, 0), p.encode_chunk(p.ERROR, 0, cause)]))
                return False
            # Action A: the peer restarted.
            self.stats["restarts"] += 1
            self.my_tag = ck.my_tag
            self.peer_tag = ck.peer_tag
            self._setup(ck.my_tsn, ck.peer_tsn, ck.peer_rwnd, ck.out_streams, ck.in_streams)
            self._restart_paths(ck)
            self._ctrl = [p.encode_chunk(p.COOKIE_ACK, 0)]
            self._packets = []
            self._t1 = self._t2 = self._t5 = None
            self._enter_established(now)
            self._events.append(AssociationRestarted(self.out_streams, self.in_streams))
            return True
        if mine and not peer:
            # Action B: initialization collision.
            self.peer_tag = ck.peer_tag
            self._rx_cum = self._rx_highest = ck.peer_tsn - 1
            self._peer_rwnd = ck.peer_rwnd
            was_up = self.state not in (State.COOKIE_WAIT, State.COOKIE_ECHOED)
            self._t1 = None
            self._ctrl.append(p.encode_chunk(p.COOKIE_ACK, 0))
            if not was_up:
                self._enter_established(now)
                self._events.append(AssociationUp(self.out_streams, self.in_streams))
            return True
        if mine and peer:
            # Action D: duplicate cookie.
            if self.state == State.COOKIE_ECHOED:
                self._t1 = None
                self._enter_established(now)
                self._events.append(AssociationUp(self.out_streams, self.in_streams))
            self._ctrl.append(p.encode_chunk(p.COOKIE_ACK, 0))
            return True
        self.stats["rx_cookie_discarded"] += 1
        return False

    def _restart_paths(self, ck: CookieData) -> None:
        """RFC 9260 §5.2.4 A — the restarted peer's addresses (the endpoint refused the restart
        if it added any, §5.2.2) with fresh path state."""
        addrs = [ck.peer_addrs[i : i + 4] for i in range(0, len(ck.peer_addrs), 4)] or [ck.peer_ip]
        keep = [x for x in self.paths if x.peer_ip in addrs] or [self.primary]
        if self.primary not in keep:
            self.primary = keep[0]
        self.paths = [self.primary, *[x for x in keep if x is not self.primary]]
        self._by_ip = {x.peer_ip: x for x in self.paths}
        self._set_multi(len(self.paths) > 1 or len(self.local_addresses) > 1)
        for x in self.paths:
            x.error_count = 0
            x.active = True
            x.hb_pending = False
            x.rto = self.config.rto_initial
            x.srtt = None
        self.dest = self.primary
        self._sack_path = self._rtx_path = None
        self._rtt_path = self.primary
        self._ctrl_to = []

    def _on_shutdown(self, value: bytes, now: float) -> None:
        """RFC 9260 §9.2 — SHUTDOWN: its Cumulative TSN Ack acts as a SACK."""
        if len(value) < 4:
            self.stats["rx_malformed"] += 1
            return
        st = self.state
        if st in (State.CLOSED, State.COOKIE_WAIT, State.COOKIE_ECHOED):
            return
        cum = unwrap(struct.unpack_from("!I", value)[0], self._last_cum_ack)
        if self._last_cum_ack <= cum < self._next_tsn:
            self._process_ack(cum, now, None, 0, None)
        if st in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
            self.state = State.SHUTDOWN_RECEIVED
            self._check_shutdown(now)
        elif st == State.SHUTDOWN_SENT:
            self._ctrl.append(p.encode_chunk(p.SHUTDOWN_ACK, 0))
            self.state = State.SHUTDOWN_ACK_SENT
            self._t2 = now + self.rto
        elif st == State.SHUTDOWN_ACK_SENT:
            self._ctrl.append(p.encode_chunk(p.SHUTDOWN_ACK, 0))

    def _check_shutdown(self, now: float) -> None:
        if self._queue or self._sent:
            return
        if self.state == State.SHUTDOWN_PENDING:
            self._ctrl.append(self._shutdown_chunk())
            self.state = State.SHUTDOWN_SENT
            self._t2 = now + self.rto
            self._t5 = now + 5 * self.config.rto_max
            self._t3 = None
        elif self.state == State.SHUTDOWN_RECEIVED:
            self._ctrl.append(p.encode_chunk(p.SHUTDOWN_ACK, 0))
            self.state = State.SHUTDOWN_ACK_SENT
            self._t2 = now + self.rto
            self._t3 = None

    def _shutdown_chunk(self) -> bytes:
        return p.encode_chunk(p.SHUTDOWN, 0, struct.pack("!I", self._rx_cum & M32))

    def abort_with_cause(self, cause: bytes, reason: str) -> None:
        """RFC 9260 §9.1 — ABORT carrying an error cause, then close."""
        if self.state == State.CLOSED:
            return
        self._packets.append(
            p.build_packet(self.local_port, self.peer_port, self.peer_tag, [p.encode_chunk(p.ABORT, 0, cause)])
        )
        self._close(AssociationLost(reason))

    # --- outbound ---------------------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """RFC 9260 §6.1, §6.10 — bundle control chunks, SACK, retransmissions and new DATA.

        All packets go to ``dest`` except, with a multi-homed peer, the first
        ``len(tx_dests)`` ones (see the class docstring).

        A multi-homed association replaces this method on the instance with
        :meth:`_datagrams_multi` (see :meth:`set_peer_addresses`), so a single-homed one
        pays no extra call or test per output."""
        return self._datagrams(now)

    def _datagrams_multi(self, now: float) -> list[bytes]:
        """RFC 9260 §6.4 — the chunks that go to another path than ``dest`` first, each to its
        own destination: HEARTBEAT / HEARTBEAT ACK to their paths, the SACK to the address the
        DATA came from, retransmissions after a T3-rtx to the alternate path (§6.4.1); then
        everything else to ``dest``."""
        self._last_now = now
        pre: list[bytes] = []
        dests: list[tuple[bytes, bytes]] = []
        st = self.state
        lport, pport, vtag = self.local_port, self.peer_port, self.peer_tag
        if self._ctrl_to:
            if st not in (State.CLOSED, State.COOKIE_WAIT):
                for peer_ip, local_ip, chunk in self._ctrl_to:
                    pre.append(p.build_packet(lport, pport, vtag, [chunk]))
                    dests.append((peer_ip, local_ip))
            self._ctrl_to = []
        dest = self.dest
        sp = self._sack_path
        if self._sack_needed and sp is not None and sp is not dest and st not in (State.CLOSED, State.COOKIE_WAIT):
            pre.append(p.build_packet(lport, pport, vtag, [self._build_sack()]))
            dests.append((sp.peer_ip, sp.local_ip))
        rp = self._rtx_path
        if self._rtx_count and rp is not None and rp is not dest and st in _SENDING_STATES:
            chunks: list[bytes] = []
            n0 = len(pre)
            self._fill_rtx(chunks, 0, pre, rp)
            if chunks:
                pre.append(p.build_packet(lport, pport, vtag, chunks))
            dests.extend([(rp.peer_ip, rp.local_ip)] * (len(pre) - n0))
            if self._t3 is None and len(pre) > n0:
                self._t3 = now + rp.rto
        if not self._rtx_count:
            self._rtx_path = None
        out = self._datagrams(now)
        if pre:
            self.tx_dests = dests
            self.stats["tx_packets"] += len(pre)
            return pre + out
        self.tx_dests = None
        return out

    def _fill_rtx(self, chunks: list[bytes], size: int, out: list[bytes], path: Path) -> tuple[list[bytes], int, bool]:
        """RFC 9260 §6.3.3 E3, §7.2.4 — the DATA chunks marked for retransmission, as far as
        cwnd allows (fast retransmit: one packet's worth regardless), into ``chunks``;
        full packets are appended to ``out``."""
        budget = self._max_payload
        lport, pport, vtag = self.local_port, self.peer_port, self.peer_tag
        encode = p.encode_data
        sent_any = False
        fast_budget = budget if self._fast_rtx else 0
        self._fast_rtx = False
        for c in self._sent:
            if not c.rtx:
                continue
            if self._flight >= self.cwnd and fast_budget <= 0:
                break
            enc = encode(c.flags, c.tsn & M32, c.stream, c.ssn, c.ppid, c.data)
            if chunks and size + len(enc) > budget:
                out.append(p.build_packet(lport, pport, vtag, chunks))
                chunks, size = [], 0
            chunks.append(enc)
            size += len(enc)
            fast_budget -= len(enc)
            c.rtx = False
            c.in_flight = True
            c.sent_count += 1
            c.misses = 0
            c.path = path
            self._flight += c.size
            self._rtx_count -= 1
            if c.tsn == self._rtt_tsn:
                self._rtt_tsn = None
            self.stats["tx_retransmitted_chunks"] += 1
            sent_any = True
            if not self._rtx_count:
                break
        return chunks, size, sent_any

    def _datagrams(self, now: float) -> list[bytes]:
        out = self._packets
        if not (self._ctrl or self._sack_needed or self._queue or self._rtx_count
                or (self._tsack is not None and self._queue)):
            if out:
                self._packets = []
                self.stats["tx_packets"] += len(out)
            return out
        self._packets = []
        st = self.state
        if st == State.CLOSED or st == State.COOKIE_WAIT:
            self._ctrl = []
            return out
        budget = self._max_payload
        chunks: list[bytes] = []
        size = 0
        lport, pport, vtag = self.local_port, self.peer_port, self.peer_tag
        if self._ctrl:
            for c in self._ctrl:
                if chunks and size + len(c) > budget:
                    out.append(p.build_packet(lport, pport, vtag, chunks))
                    chunks, size = [], 0
                chunks.append(c)
                size += len(c)
            self._ctrl = []
        can_data = st in _SENDING_STATES
        data_ready = can_data and (self._rtx_count or (self._queue and self._flight < self.cwnd))
        if self._sack_needed or (self._tsack is not None and data_ready):
            c = self._build_sack()
            if chunks and size + len(c) > budget:
                out.append(p.build_packet(lport, pport, vtag, chunks))
                chunks, size = [], 0
            chunks.append(c)
            size += len(c)
        if data_ready:
            encode = p.encode_data
            sent_any = False
            dest = self.dest
            if self._rtx_count:
                chunks, size, sent_any = self._fill_rtx(chunks, size, out, dest)
            q = self._queue
            if q and not self._rtx_count:
                sent = self._sent
                flight, cwnd, rwnd, tsn = self._flight, self.cwnd, self._peer_rwnd, self._next_tsn
                moved = 0
                if self._rtt_tsn is None:
                    self._rtt_tsn = tsn
                    self._rtt_time = now
                    self._rtt_path = dest
                while q and flight < cwnd:
                    c = q[0]
                    n = c.size
                    if n > rwnd and flight:
                        break  # §6.1 rule A: only a zero-window probe when nothing is in flight
                    q.popleft()
                    c.tsn = tsn
                    enc = encode(c.flags, tsn & M32, c.stream, c.ssn, c.ppid, c.data)
                    tsn += 1
                    ln = len(enc)
                    if chunks and size + ln > budget:
                        out.append(p.build_packet(lport, pport, vtag, chunks))
                        chunks, size = [], 0
                    chunks.append(enc)
                    size += ln
                    c.sent_count = 1
                    c.in_flight = True
                    c.path = dest
                    flight += n
                    moved += n
                    rwnd = rwnd - n if rwnd > n else 0
                    sent.append(c)
                if moved:
                    sent_any = True
                elif self._rtt_tsn == tsn:
                    self._rtt_tsn = None
                self._flight, self._peer_rwnd, self._next_tsn = flight, rwnd, tsn
                self._queued_bytes -= moved
                self._sent_bytes += moved
            if sent_any and self._t3 is None:
                self._t3 = now + dest.rto
        if chunks:
            out.append(p.build_packet(lport, pport, vtag, chunks))
        self.stats["tx_packets"] += len(out)
        return out

    def _build_sack(self) -> bytes:
        """RFC 9260 §3.3.4, §6.2 — SACK of what we hold now."""
        base = self._rx_cum
        gaps: list[tuple[int, int]] = []
        if self._rx_above:
            s = sorted(self._rx_above)
            start = prev = s[0]
            for t in s[1:]:
                if t != prev + 1:
                    gaps.append((start - base, prev - base))
                    if len(gaps) >= _MAX_GAPS:
                        break
                    start = t
                prev = t
            else:
                gaps.append((start - base, prev - base))
        dups = self._dups
        rwnd = self._rwnd()
        self._last_adv_rwnd = rwnd
        self._sack_needed = False
        self._tsack = None
        self._data_pkts = 0
        if not gaps and not dups:
            return _SACK_PLAIN.pack(p.SACK, 0, 16, base & M32, rwnd, 0, 0)
        self._dups = []
        return p.encode_sack(base & M32, rwnd, gaps, dups)

    # --- helpers ----------------------------------------------------------------------

    def _new_tag(self) -> int:
        while True:
            t = self._rng.getrandbits(32)
            if t:
                return t

    def _enter_established(self, now: float) -> None:
        self.state = State.ESTABLISHED
        for path in self.paths:
            path.hb_pending = False
            path.hb_at = None
        self._schedule_all_heartbeats(now)

    def _close(self, event: Event) -> None:
        self.state = State.CLOSED
        self._t1 = self._t2 = self._t3 = self._t5 = self._thb = self._tsack = None
        if self._probe is not None:
            self._finish_probe(False, f"association closed: {getattr(event, 'reason', 'shutdown complete')}")
        self._ctrl = []
        self._sack_needed = False
        self._queue.clear()
        self._events.append(event)
