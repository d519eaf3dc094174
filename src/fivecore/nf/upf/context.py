"""The UPF's state: PFCP associations, sessions, their rules, and the datapath tables.

A PFCP session (TS 29.244 §5.2) holds Packet Detection Rules (PDR, §5.2.1), Forwarding
Action Rules (FAR, §5.2.3), QoS Enforcement Rules (QER, §5.4) and Usage Reporting Rules
(URR, §5.2.2). The rules are kept as the SMF sent them; after every change the session is
*compiled* into two flat lookup tables the datapath reads with one dict access per packet:

- ``ul_by_teid``: local N3 TEID -> :class:`UlPath` (uplink, GTP-U from the gNB),
- ``dl_by_ue``:   UE IPv4 address as an int -> :class:`DlPath` (downlink, from the N6 TUN);
  an IPv6 session's /64 prefix (TS 23.501 §5.8.2.2.3) is there too, as its top 64 bits
  with bit 64 set (:func:`v6_key`), so one dict serves both and the two never collide.

The datapath thread only reads these dicts and bumps counters; the PFCP side replaces whole
entries (a single dict store, atomic under the GIL), so no lock is taken per packet.

Simplification, stated: SDF filters are stored but not evaluated. Uplink is classified by
TEID (and QFI when several PDRs share one TEID), downlink by UE address; when several
downlink PDRs match one UE address, the one with the best precedence wins.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections import deque
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from fivecore.nf.upf.qos import TokenBucket

# TS 29.244 §8.2.2 Source Interface / §8.2.24 Destination Interface values.
IF_ACCESS = 0
IF_CORE = 1
IF_SGI_LAN = 2
IF_CP_FUNCTION = 3

# TS 29.244 §8.2.26 Apply Action, first octet (the second octet holds Rel-16 flags).
AA_DROP = 0x01
AA_FORW = 0x02
AA_BUFF = 0x04
AA_NOCP = 0x08
AA_DUPL = 0x10

# Datapath actions a compiled path carries.
ACT_DROP = 0
ACT_FORWARD = 1
ACT_BUFFER = 2

# TS 29.244 §8.2.7 Gate Status: 0 = OPEN, 1 = CLOSED.
GATE_OPEN = 0
GATE_CLOSED = 1

# Downlink packets buffered per session while the FAR says BUFF (UE idle, TS 23.502 §4.2.3.3).
MAX_BUFFERED_PER_SESSION = 64

_GTPU_DL_HDR = struct.Struct("!BBHIHBBBBBB")
_GTPU_HDR_PLAIN = struct.Struct("!BBHI")


def ipv4_to_int(addr: str | bytes) -> int:
    if isinstance(addr, bytes):
        return int.from_bytes(addr, "big")
    try:
        return int.from_bytes(socket.inet_aton(addr), "big")
    except OSError:
        return int(ipaddress.IPv4Address(addr))  # raises ValueError with a clear message


def int_to_ipv4(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


#: marks an IPv6 /64 key in ``dl_by_ue`` (IPv4 keys are below 2**32)
V6_KEY = 1 << 64
_U64 = struct.Struct("!Q")


def prefix64(addr: str | bytes) -> int:
    """The top 64 bits of an IPv6 address: the /64 prefix a session owns (TS 23.501
    §5.8.2.2.3) as an int. Raises ValueError for a malformed address."""
    if isinstance(addr, str):
        addr = ipaddress.IPv6Address(addr).packed
    if len(addr) < 8:
        raise ValueError("IPv6 address too short")
    return _U64.unpack_from(addr, 0)[0]


def v6_key(prefix: int) -> int:
    """The ``dl_by_ue`` key of a /64 prefix."""
    return V6_KEY | prefix


def dl_key(packet: bytes | bytearray | memoryview, off: int = 0) -> int | None:
    """The ``dl_by_ue`` key of a downlink IP packet at ``off``: the IPv4 destination, or the
    IPv6 destination's /64; None for a runt or another IP version."""
    n = len(packet) - off
    if n >= 20 and packet[off] >> 4 == 4:
        return int.from_bytes(packet[off + 16:off + 20], "big")
    if n >= 40 and packet[off] >> 4 == 6:
        return V6_KEY | _U64.unpack_from(packet, off + 24)[0]
    return None


# ---------------------------------------------------------------------------------------------
# Rules as received over N4
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Pdr:
    """TS 29.244 §7.5.2.2 Create PDR (the fields this UPF acts on)."""

    pdr_id: int
    precedence: int = 0
    source_interface: int = IF_ACCESS
    teid: int | None = None
    local_ipv4: str | None = None
    choose: bool = False  # F-TEID CH flag: the UPF picks the TEID (§5.5.3)
    choose_id: int | None = None
    up_chosen: bool = False  # this TEID was picked here, so it goes in Created PDR
    ue_ipv4: int | None = None
    #: the top 64 bits of the UE's IPv6 prefix (UE IP Address V6, §8.2.62: /64 by default)
    ue_ipv6_prefix: int | None = None
    network_instance: str | None = None
    qfi: int | None = None
    outer_header_removal: int | None = None
    far_id: int | None = None
    qer_ids: list[int] = field(default_factory=list)
    urr_ids: list[int] = field(default_factory=list)
    sdf_filters: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Far:
    """TS 29.244 §7.5.2.3 Create FAR."""

    far_id: int
    apply_action: int = AA_DROP
    destination_interface: int | None = None
    network_instance: str | None = None
    ohc_description: int | None = None
    ohc_teid: int | None = None
    ohc_ipv4: str | None = None
    ohc_port: int | None = None


@dataclass(slots=True)
class Qer:
    """TS 29.244 §7.5.2.5 Create QER; MBR in kbit/s as on the wire (§8.2.8)."""

    qer_id: int
    gate_ul: int = GATE_OPEN
    gate_dl: int = GATE_OPEN
    mbr_ul_kbps: int | None = None
    mbr_dl_kbps: int | None = None
    qfi: int | None = None
    bucket_ul: TokenBucket | None = None
    bucket_dl: TokenBucket | None = None

    def sync_buckets(self, now: float) -> None:
        """Create, re-rate or remove the policers so they match the MBR fields."""
        self.bucket_ul = _resync(self.bucket_ul, self.mbr_ul_kbps, now)
        self.bucket_dl = _resync(self.bucket_dl, self.mbr_dl_kbps, now)


def _resync(bucket: TokenBucket | None, kbps: int | None, now: float) -> TokenBucket | None:
    if not kbps:
        return None
    if bucket is None:
        # queue_bytes=None: shape (a short FIFO), not just police — see fivecore.nf.upf.qos.
        return TokenBucket(kbps * 1000, now=now, queue_bytes=None)
    if bucket.rate_bps != kbps * 1000:
        bucket.set_rate(kbps * 1000)
    return bucket


@dataclass
class UsageSnapshot:
    """One Usage Report's measurement (TS 29.244 §7.5.8.3)."""

    urr_id: int
    seqn: int
    trigger: str
    ul_bytes: int
    dl_bytes: int
    ul_pkts: int
    dl_pkts: int
    start_time: float
    end_time: float

    @property
    def total_bytes(self) -> int:
        return self.ul_bytes + self.dl_bytes


class Urr:
    """TS 29.244 §7.5.2.4 Create URR; counts volume per direction (§5.2.2.2).

    The datapath bumps the counters; ``armed`` is True while a volume threshold is set
    and not yet reached, so the per-packet test is one attribute read.
    """

    __slots__ = (
        "urr_id", "measurement_method", "reporting_triggers", "threshold_total",
        "threshold_ul", "threshold_dl", "ul_bytes", "dl_bytes", "ul_pkts", "dl_pkts",
        "start_time", "seqn", "armed",
    )

    def __init__(self, urr_id: int, now: float = 0.0) -> None:
        self.urr_id = urr_id
        self.measurement_method = 0
        self.reporting_triggers = 0
        self.threshold_total: int | None = None
        self.threshold_ul: int | None = None
        self.threshold_dl: int | None = None
        self.ul_bytes = 0
        self.dl_bytes = 0
        self.ul_pkts = 0
        self.dl_pkts = 0
        self.start_time = now
        self.seqn = 0
        self.armed = False

    def rearm(self) -> None:
        self.armed = bool(self.threshold_total or self.threshold_ul or self.threshold_dl)

    def threshold_reached(self) -> bool:
        """TS 29.244 §5.2.2.2.1 — a volume threshold is reached."""
        if self.threshold_total and self.ul_bytes + self.dl_bytes >= self.threshold_total:
            return True
        if self.threshold_ul and self.ul_bytes >= self.threshold_ul:
            return True
        return bool(self.threshold_dl and self.dl_bytes >= self.threshold_dl)

    def take(self, trigger: str, now: float) -> UsageSnapshot:
        """Close the current measurement period and start a new one (§5.2.2.3.1)."""
        snap = UsageSnapshot(
            urr_id=self.urr_id, seqn=self.seqn, trigger=trigger, ul_bytes=self.ul_bytes,
            dl_bytes=self.dl_bytes, ul_pkts=self.ul_pkts, dl_pkts=self.dl_pkts,
            start_time=self.start_time, end_time=now,
        )
        self.seqn = (self.seqn + 1) & 0xFFFFFFFF
        self.ul_bytes = self.dl_bytes = self.ul_pkts = self.dl_pkts = 0
        self.start_time = now
        self.rearm()
        return snap


# ---------------------------------------------------------------------------------------------
# Compiled datapath entries
# ---------------------------------------------------------------------------------------------


class UlPath:
    """Uplink: what to do with a G-PDU arriving on one local TEID."""

    __slots__ = ("session", "pdr_id", "ue_ip", "ue_prefix6", "action", "buckets", "urrs", "by_qfi",
                 "qfi")

    def __init__(self, session: Session, pdr: Pdr) -> None:
        self.session = session
        self.pdr_id = pdr.pdr_id
        self.ue_ip = pdr.ue_ipv4 if pdr.ue_ipv4 is not None else session.ue_ipv4
        # an IPv6 source must lie in this /64 (anti-spoofing, as ue_ip for IPv4)
        self.ue_prefix6 = pdr.ue_ipv6_prefix if pdr.ue_ipv6_prefix is not None \
            else session.ue_ipv6_prefix
        self.qfi = pdr.qfi
        self.action = ACT_DROP
        self.buckets: tuple[TokenBucket, ...] = ()
        self.urrs: tuple[Urr, ...] = ()
        self.by_qfi: dict[int, UlPath] | None = None


class DlPath:
    """Downlink: how to encapsulate an IP packet for one UE address."""

    __slots__ = ("session", "pdr_id", "action", "notify_cp", "peer", "hdr", "teid", "buckets",
                 "urrs")

    def __init__(self, session: Session, pdr: Pdr) -> None:
        self.session = session
        self.pdr_id = pdr.pdr_id
        self.action = ACT_DROP
        # FAR NOCP: tell the SMF about the first buffered packet (TS 29.244 §5.2.3.1).
        self.notify_cp = False
        self.peer: tuple[str, int] | None = None
        self.hdr = b""
        self.teid = 0
        self.buckets: tuple[TokenBucket, ...] = ()
        self.urrs: tuple[Urr, ...] = ()


def gtpu_dl_header(teid: int, qfi: int | None) -> bytes:
    """The G-PDU header the datapath prepends on N3 (TS 29.281 §5.1, TS 38.415 §5.5.2.1).

    With a QFI it carries a PDU Session Container (extension type 0x85) of type
    DL PDU SESSION INFORMATION; the length field is patched per packet. It is pure
    template data, built once per tunnel, so the hot loop only copies bytes.
    """
    if qfi is None:
        return _GTPU_HDR_PLAIN.pack(0x30, 255, 0, teid)
    # flags: version 1, PT 1, E 1; seq 0, N-PDU 0, next ext 0x85; ext len 1 (4 octets),
    # PDU type 0 (DL) in the high nibble, QFI in the low 6 bits, no further extension.
    return _GTPU_DL_HDR.pack(0x34, 255, 0, teid, 0, 0, 0x85, 1, 0x00, qfi & 0x3F, 0)


# ---------------------------------------------------------------------------------------------
# Sessions and associations
# ---------------------------------------------------------------------------------------------


class Session:
    """One PFCP session (TS 29.244 §5.2): its rules and its compiled paths."""

    __slots__ = ("seid", "cp_seid", "cp_ipv4", "node_id", "pdrs", "fars", "qers", "urrs",
                 "ue_ipv4", "ue_ipv6_prefix", "ul_teids", "dl_ues", "_buffer", "dl_data_reported",
                 "spoofed", "ra_sent", "ra_answered_at", "ra_due")

    def __init__(self, seid: int, cp_seid: int, cp_ipv4: str, node_id: str) -> None:
        self.seid = seid
        self.cp_seid = cp_seid
        self.cp_ipv4 = cp_ipv4
        self.node_id = node_id
        self.pdrs: dict[int, Pdr] = {}
        self.fars: dict[int, Far] = {}
        self.qers: dict[int, Qer] = {}
        self.urrs: dict[int, Urr] = {}
        self.ue_ipv4: int | None = None
        self.ue_ipv6_prefix: int | None = None
        # Router Advertisements sent for the prefix (TS 23.501 §5.8.2.2.3)
        self.ra_sent = 0
        # when a Router Solicitation was last answered (answers are rate-limited)
        self.ra_answered_at = -1e9
        # when the next unsolicited Router Advertisement is due (Datapath.advertise_due)
        self.ra_due = 0.0
        # Tuples, not sets: usually one entry each, and a set costs 216 octets.
        self.ul_teids: tuple[int, ...] = ()
        self.dl_ues: tuple[int, ...] = ()
        # Downlink packets held while the FAR says BUFF; made on first use (most sessions
        # never buffer, and an empty bounded deque costs ~600 octets).
        self._buffer: deque[bytes] | None = None
        self.dl_data_reported = False
        self.spoofed = 0

    @property
    def buffer(self) -> deque[bytes]:
        if self._buffer is None:
            self._buffer = deque(maxlen=MAX_BUFFERED_PER_SESSION)
        return self._buffer

    @property
    def has_buffered(self) -> bool:
        return bool(self._buffer)


@dataclass
class Association:
    """TS 29.244 §6.2.6 — a PFCP association with one CP node."""

    node_id: str
    recovery_ts: int
    peer: tuple[str, int]
    up_since: float
    sessions: set[int] = field(default_factory=set)
    last_heard: float = 0.0


class UpfMetrics:
    """Counters in plain attributes; names follow Open5GS's where it has one (TS 28.552)."""

    __slots__ = (
        "n3_in_pkts", "n3_out_pkts", "n3_in_bytes", "n3_out_bytes", "n6_in_pkts", "n6_out_pkts",
        "drop_unknown_teid", "drop_spoofed", "drop_qos", "drop_no_session", "drop_far",
        "drop_malformed", "drop_buffer_full", "buffered", "shaped", "error_indication_tx",
        "echo_rx", "end_marker_tx", "pfcp_rx", "pfcp_tx", "pfcp_malformed", "sessions",
        "ra_tx", "rs_rx", "drop_link_local", "pfcp_sessions_retained",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_prometheus(self) -> dict[str, int]:
        """Metric name -> value, for the metrics layer to expose."""
        return {
            "fivegs_upffunction_upf_sessionnbr": self.sessions,
            "fivegs_ep_n3_gtp_indatapktn3upf": self.n3_in_pkts,
            "fivegs_ep_n3_gtp_outdatapktn3upf": self.n3_out_pkts,
            "fivegs_ep_n3_gtp_indatavolumen3upf": self.n3_in_bytes,
            "fivegs_ep_n3_gtp_outdatavolumen3upf": self.n3_out_bytes,
            "fivecore_upf_n6_in_packets_total": self.n6_in_pkts,
            "fivecore_upf_n6_out_packets_total": self.n6_out_pkts,
            "fivecore_upf_drop_unknown_teid_total": self.drop_unknown_teid,
            "fivecore_upf_drop_spoofed_source_total": self.drop_spoofed,
            "fivecore_upf_drop_rate_limited_total": self.drop_qos,
            "fivecore_upf_drop_no_session_total": self.drop_no_session,
            "fivecore_upf_drop_far_total": self.drop_far,
            "fivecore_upf_drop_malformed_total": self.drop_malformed,
            "fivecore_upf_buffered_total": self.buffered,
            "fivecore_upf_shaped_total": self.shaped,
            "fivecore_upf_gtpu_error_indication_tx_total": self.error_indication_tx,
            "fivecore_upf_gtpu_echo_rx_total": self.echo_rx,
            "fivecore_upf_gtpu_end_marker_tx_total": self.end_marker_tx,
            "fivecore_upf_pfcp_rx_total": self.pfcp_rx,
            "fivecore_upf_pfcp_tx_total": self.pfcp_tx,
            "fivecore_upf_pfcp_malformed_total": self.pfcp_malformed,
            "fivecore_upf_ipv6_router_advertisement_tx_total": self.ra_tx,
            "fivecore_upf_ipv6_router_solicitation_rx_total": self.rs_rx,
            "fivecore_upf_drop_link_local_total": self.drop_link_local,
            # TS 29.244 §6.2.6.2: sessions kept over a CP function restart (Session Retention)
            "fivecore_upf_pfcp_sessions_retained_total": self.pfcp_sessions_retained,
        }


class TeidInUse(Exception):
    """A CP-chosen TEID collides with another session's."""


class UpfContext:
    """All UPF state shared by the PFCP node and the datapath."""

    def __init__(self, n3_ipv4: str, gtpu_port: int = 2152) -> None:
        self.n3_ipv4 = n3_ipv4
        self.gtpu_port = gtpu_port
        self.sessions: dict[int, Session] = {}
        # (CP F-SEID address, CP SEID) -> our SEID: finds a retransmitted establishment.
        self.by_cp_fseid: dict[tuple[str, int], int] = {}
        self.associations: dict[str, Association] = {}
        self.ul_by_teid: dict[int, UlPath] = {}
        self.dl_by_ue: dict[int, DlPath] = {}
        self.metrics = UpfMetrics()
        self._next_seid = 1
        self._next_teid = 1
        # Usage reports the datapath raised (URRs whose threshold was reached); the PFCP
        # side drains it. deque.append/popleft are atomic, so threads need no lock.
        self.urr_events: deque[tuple[Session, Urr]] = deque()
        # Sessions whose FAR says NOCP and that received their first downlink packet.
        self.dl_data_events: deque[Session] = deque()
        # Error Indications from gNBs about our downlink tunnels: (session, teid, peer ip).
        self.error_indication_events: deque[tuple[Session, int, str]] = deque()

    # -- identifiers --------------------------------------------------------------------------

    def allocate_seid(self) -> int:
        while self._next_seid in self.sessions or self._next_seid == 0:
            self._next_seid = (self._next_seid + 1) & 0xFFFFFFFFFFFFFFFF
        seid = self._next_seid
        self._next_seid = (seid + 1) & 0xFFFFFFFFFFFFFFFF
        return seid

    def allocate_teid(self, exclude: set[int] | frozenset[int] = frozenset()) -> int:
        """TS 29.244 §5.5.3 — a UP-chosen F-TEID (CH flag), unique in this UPF.

        ``exclude`` holds TEIDs already handed out in the request being processed
        but not yet installed in ``ul_by_teid``.
        """
        teid = self._next_teid
        while teid == 0 or teid in self.ul_by_teid or teid in exclude:
            teid = (teid + 1) & 0xFFFFFFFF
        self._next_teid = (teid + 1) & 0xFFFFFFFF
        return teid

    # -- sessions -----------------------------------------------------------------------------

    def add_session(self, session: Session) -> None:
        self.sessions[session.seid] = session
        self.by_cp_fseid[(session.cp_ipv4, session.cp_seid)] = session.seid
        assoc = self.associations.get(session.node_id)
        if assoc is not None:
            assoc.sessions.add(session.seid)
        self.metrics.sessions = len(self.sessions)

    def remove_session(self, seid: int) -> Session | None:
        session = self.sessions.pop(seid, None)
        if session is None:
            return None
        if self.by_cp_fseid.get((session.cp_ipv4, session.cp_seid)) == seid:
            del self.by_cp_fseid[(session.cp_ipv4, session.cp_seid)]
        for teid in session.ul_teids:
            path = self.ul_by_teid.get(teid)
            if path is not None and path.session is session:
                del self.ul_by_teid[teid]
        for ue in session.dl_ues:
            dpath = self.dl_by_ue.get(ue)
            if dpath is not None and dpath.session is session:
                del self.dl_by_ue[ue]
        assoc = self.associations.get(session.node_id)
        if assoc is not None:
            assoc.sessions.discard(seid)
        self.metrics.sessions = len(self.sessions)
        return session

    def superseded_by_forward(self, path: DlPath, ue: int) -> bool:
        """True when ``path`` is no longer the published downlink entry for ``ue`` and the
        one that replaced it forwards (TS 29.244 §5.2.3: BUFF became FORW).

        The datapath thread asks this right after buffering a packet on ``path``: the PFCP
        side may have compiled the FORW entry and flushed the buffer between the thread's
        lookup and its append, and the packet must not be left behind.
        """
        cur = self.dl_by_ue.get(ue)
        return cur is not None and cur is not path and cur.session is path.session \
            and cur.action == ACT_FORWARD and cur.peer is not None

    def teid_owner(self, teid: int) -> Session | None:
        path = self.ul_by_teid.get(teid)
        return path.session if path is not None else None

    def compile(self, session: Session) -> None:
        """Rebuild the session's datapath entries from its rules and install them.

        TS 29.244 §5.2.1: the PDR with the best (lowest) precedence matching a packet
        applies. Each entry is built fully before the single dict store that publishes it.
        """
        ul: dict[int, UlPath] = {}
        dl: dict[int, DlPath] = {}
        s_qers, s_urrs, s_fars = session.qers, session.urrs, session.fars
        pdrs = session.pdrs
        # one PDR per direction is the usual session: no sort needed for fewer than two
        ordered = pdrs.values() if len(pdrs) < 2 else sorted(pdrs.values(), key=_BY_PRECEDENCE)
        for pdr in ordered:
            far = s_fars.get(pdr.far_id) if pdr.far_id is not None else None
            # rules are objects (always true), so filter(None, map(get, ids)) keeps exactly
            # the IDs the session has, in order, without a Python-level loop
            qers = [*_filter(None, _map(s_qers.get, pdr.qer_ids))]
            urrs = tuple(_filter(None, _map(s_urrs.get, pdr.urr_ids)))
            if pdr.source_interface == IF_ACCESS and pdr.teid is not None:
                path = UlPath(session, pdr)
                path.urrs = urrs
                gate_closed = False
                if qers:
                    path.buckets = tuple(_filter(None, _map(_BUCKET_UL, qers)))
                    gate_closed = GATE_CLOSED in _map(_GATE_UL, qers)
                path.action = _far_action(far, gate_closed)
                first = ul.get(pdr.teid)
                if first is None:
                    ul[pdr.teid] = path
                elif pdr.qfi is not None:
                    # Several QoS flows on one N3 tunnel: pick by QFI (TS 29.244 §5.2.1).
                    if first.by_qfi is None:
                        first.by_qfi = {}
                        if first.qfi is not None:
                            first.by_qfi[first.qfi] = first
                    first.by_qfi.setdefault(pdr.qfi, path)
            elif pdr.source_interface in _DL_SOURCES and (pdr.ue_ipv4 is not None
                                                           or pdr.ue_ipv6_prefix is not None):
                if pdr.ue_ipv6_prefix is None:
                    if pdr.ue_ipv4 in dl:
                        continue
                    keys: tuple[int, ...] = (pdr.ue_ipv4,)  # type: ignore[assignment]
                else:
                    # an IPv4v6 PDR matches both the address and the /64 (TS 29.244 §8.2.62)
                    keys = tuple(k for k in (pdr.ue_ipv4, V6_KEY | pdr.ue_ipv6_prefix)
                                 if k is not None and k not in dl)
                    if not keys:
                        continue
                dpath = DlPath(session, pdr)
                dpath.urrs = urrs
                gate_closed = False
                if qers:
                    dpath.buckets = tuple(_filter(None, _map(_BUCKET_DL, qers)))
                    gate_closed = GATE_CLOSED in _map(_GATE_DL, qers)
                action = _far_action(far, gate_closed)
                if far is not None:
                    dpath.notify_cp = bool(far.apply_action & AA_NOCP)
                    if far.ohc_teid is not None and far.ohc_ipv4 is not None:
                        qfi = pdr.qfi
                        for q in qers:
                            if q.qfi is not None:
                                qfi = q.qfi
                                break
                        dpath.peer = (far.ohc_ipv4, far.ohc_port or 2152)
                        dpath.teid = far.ohc_teid
                        dpath.hdr = gtpu_dl_header(far.ohc_teid, qfi)
                    elif action == ACT_FORWARD:
                        action = ACT_DROP  # forward to Access without a tunnel: nowhere to go
                elif action == ACT_FORWARD:
                    action = ACT_DROP
                dpath.action = action
                for k in keys:
                    dl[k] = dpath
        ul_by_teid, dl_by_ue = self.ul_by_teid, self.dl_by_ue
        for teid in session.ul_teids:
            if teid not in ul:
                old = ul_by_teid.get(teid)
                if old is not None and old.session is session:
                    del ul_by_teid[teid]
        for ue in session.dl_ues:
            if ue not in dl:
                old_dl = dl_by_ue.get(ue)
                if old_dl is not None and old_dl.session is session:
                    del dl_by_ue[ue]
        ul_by_teid.update(ul)
        dl_by_ue.update(dl)
        session.ul_teids = tuple(ul)
        session.dl_ues = tuple(dl)


_DL_SOURCES = (IF_CORE, IF_SGI_LAN)
_filter, _map = filter, map
_BUCKET_UL, _BUCKET_DL = attrgetter("bucket_ul"), attrgetter("bucket_dl")
_GATE_UL, _GATE_DL = attrgetter("gate_ul"), attrgetter("gate_dl")
_BY_PRECEDENCE = attrgetter("precedence")


def _far_action(far: Far | None, gate_closed: bool) -> int:
    """TS 29.244 §5.2.3 / §8.2.26 — DROP wins, then FORW, then BUFF."""
    if far is None or gate_closed:
        return ACT_DROP
    aa = far.apply_action
    if aa & AA_DROP:
        return ACT_DROP
    if aa & AA_FORW:
        return ACT_FORWARD
    if aa & AA_BUFF:
        return ACT_BUFFER
    return ACT_DROP
