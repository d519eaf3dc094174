"""The UPF's forwarding loop: N3 (GTP-U over UDP) <-> N6 (IP on a TUN device).

Uplink (TS 29.281 §5, TS 38.415 §5.5.2.2, TS 29.244 §5.2.1): a G-PDU arrives on N3; the
TEID (and the QFI of the PDU Session Container, when several flows share a tunnel) selects
a compiled :class:`~fivecore.nf.upf.context.UlPath`; the inner source address must be the
UE's (anti-spoofing), the QERs' token buckets must admit it, its URRs count it, and the
inner IP packet is written to the TUN.

Downlink: an IP packet read from the TUN is looked up by destination address; the GTP-U
header template of its :class:`~fivecore.nf.upf.context.DlPath` is copied into headroom
in front of the packet (the packet is read at offset 16, so no copy of the payload is made)
and the datagram is sent to the gNB.

Why the header is parsed here with ``struct`` rather than through ``fivecore.wire.gtpu``:
this loop is the UPF's only per-packet code, and a function call that returns a new tuple
or object per packet costs as much as the rest of the loop's Python work; all other GTP-U
messages (echo, Error Indication, end marker) go through the codec on the slow path.

Rates (session AMBR, flow MBR; TS 29.244 §5.4) are shaped, not only policed: a packet its
QER's token bucket cannot pay for waits in that bucket's short FIFO (see
:mod:`fivecore.nf.upf.qos`) and the loop releases it when the tokens have accrued, waking
from epoll at that time. A path with several buckets (flow MBR, then session AMBR) passes
them in tandem: a packet released by one goes on to the next, and queues there if that one
is short. Paths without a rate carry no bucket and pay for none of this.

The loop runs in its own thread over ``select.epoll`` and never touches asyncio. It drains
each socket until EAGAIN (bounded by ``batch`` per wake-up so neither direction starves),
reads into preallocated buffers (``recvfrom_into`` / ``readinto``) and keeps its counters
in locals that are added to :class:`~fivecore.nf.upf.context.UpfMetrics` once per batch.
"""

from __future__ import annotations

import heapq
import io
import itertools
import logging
import os
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Callable

from fivecore.nf.upf.context import (
    ACT_BUFFER,
    ACT_FORWARD,
    V6_KEY,
    DlPath,
    Session,
    UlPath,
    UpfContext,
    dl_key,
)
from fivecore.nf.upf.ndp import RaPolicy
from fivecore.nf.upf.qos import TokenBucket
from fivecore.wire import icmpv6
from fivecore.wire.errors import DecodeError, EncodeError

log = logging.getLogger("fivecore.upf.datapath")

HEADROOM = 16  # the largest header we prepend: 8 + 4 (seq/N-PDU/next) + 4 (PDU Session Container)
_HDR = struct.Struct("!BBHI")
_U32 = struct.Struct("!I")
_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")
#: the UPF's link-local address on every PDU session (each is a point-to-point link of its
#: own, so one address serves all): the source of its Router Advertisements (RFC 4861 §4.2)
UPF_LINK_LOCAL = icmpv6.link_local(bytes(7) + b"\x01")
#: at most one answered Router Solicitation per session in this many seconds (RFC 4861
#: §6.2.6 leaves the rate of solicited answers to the router; a host sends one every 4 s)
RS_ANSWER_INTERVAL = 0.5
#: unsolicited Router Advertisements on an active session come every MIN..MAX seconds (RFC 4861
#: §6.2.1 MinRtrAdvInterval and MaxRtrAdvInterval at their largest, §6.2.4 a random time in
#: between), well inside the 9000 s router lifetime each one grants: a UE that never solicits
#: (a phone solicits only when the link comes up) keeps its default route
MIN_RTR_ADV_INTERVAL = 600.0
MAX_RTR_ADV_INTERVAL = 1800.0
# Extension header types this UPF understands (TS 29.281 §5.2.1): PDU Session Container,
# UDP Port, PDCP PDU Number, Service Class Indicator.
_KNOWN_EXT = frozenset((0x85, 0x40, 0xC0, 0x20))

# TS 29.281 §6.1 message types handled off the fast path.
GTPU_ECHO_REQUEST = 1
GTPU_ECHO_RESPONSE = 2
GTPU_ERROR_INDICATION = 26
GTPU_END_MARKER = 254
GTPU_G_PDU = 255

SlowHandler = Callable[[bytes, tuple[str, int]], None]


class Datapath:
    """The forwarding loop for one N3 socket and one N6 TUN descriptor.

    ``n3`` is a bound UDP socket (made non-blocking here); ``tun_fd`` a TUN descriptor
    (non-blocking). ``on_n3_control`` receives every N3 datagram that is not a G-PDU
    (echo, Error Indication, end marker, malformed), ``on_unknown_teid`` the TEID and
    source of a G-PDU nobody owns (the Error Indication of TS 29.281 §7.3.1 is sent there).
    ``ra_policy`` says which link MTU and DNS servers a session's Router Advertisements carry
    (:mod:`fivecore.nf.upf.ndp`; default: the MTU of an Ethernet N3, no DNS).
    """

    def __init__(
        self,
        ctx: UpfContext,
        n3: socket.socket,
        tun_fd: int,
        *,
        on_n3_control: SlowHandler | None = None,
        on_unknown_teid: Callable[[int, tuple[str, int]], None] | None = None,
        on_crash: Callable[[BaseException], None] | None = None,
        batch: int = 256,
        clock: Callable[[], float] = time.monotonic,
        ra_policy: RaPolicy | None = None,
    ) -> None:
        self.ctx = ctx
        self.ra_policy = ra_policy if ra_policy is not None else RaPolicy()
        self.n3 = n3
        self.tun_fd = tun_fd
        n3.setblocking(False)
        os.set_blocking(tun_fd, False)
        self.on_n3_control = on_n3_control
        self.on_unknown_teid = on_unknown_teid
        self.on_crash = on_crash
        self.batch = batch
        self.clock = clock
        #: (due, tie-breaker, SEID) of the next unsolicited Router Advertisements; an entry
        #: whose session re-advertised since, or is gone, is skipped (:meth:`advertise_due`)
        self._ra_heap: list[tuple[float, int, int]] = []
        self._ra_seq = itertools.count()
        self._n3_buf = bytearray(65536)
        self._tun_buf = bytearray(65536 + HEADROOM)
        self._tun_view = memoryview(self._tun_buf)
        self._tun_payload = self._tun_view[HEADROOM:]
        self._tun_file = io.FileIO(tun_fd, "rb", closefd=False)
        # One Error Indication per unknown-TEID G-PDU, but at most 1,000 a second (bursts of
        # 200): a flood of junk G-PDUs must not turn the UPF into a reflector. The bucket
        # counts messages, one "byte" each.
        self.error_indication_limit = TokenBucket(8 * 1000, burst_bytes=200, now=clock())
        # Buckets whose shaping FIFO holds packets (a dict as an ordered set); only the
        # datapath thread touches it.
        self._shaping: dict[TokenBucket, None] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="upf-datapath", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1

    def run(self) -> None:
        """Serve until :meth:`stop`; one epoll, level-triggered, bounded batches."""
        ep = select.epoll()
        n3fd = self.n3.fileno()
        tunfd = self.tun_fd
        ep.register(n3fd, select.EPOLLIN)
        ep.register(tunfd, select.EPOLLIN)
        ep.register(self._wake_r, select.EPOLLIN)
        drain_n3 = self.drain_n3
        drain_tun = self.drain_tun
        shaping = self._shaping
        release = self.release_shaped
        try:
            while not self._stop:
                timeout = 1.0
                if shaping:
                    wait = release()
                    if wait is not None:
                        timeout = wait
                for fd, _ev in ep.poll(timeout):
                    if fd == n3fd:
                        drain_n3()
                    elif fd == tunfd:
                        drain_tun()
        except Exception as exc:  # pragma: no cover - a bug here must be loud, not silent
            # A UPF whose datapath died must not keep answering PFCP as if it forwarded.
            log.exception("datapath loop crashed")
            if self.on_crash is None:
                raise
            self.on_crash(exc)
        finally:
            ep.close()

    # -- uplink: N3 -> N6 -----------------------------------------------------------------------

    def drain_n3(self) -> int:
        """Read up to ``batch`` datagrams from N3 and forward the G-PDUs to the TUN."""
        buf = self._n3_buf
        mv = memoryview(buf)
        recvfrom_into = self.n3.recvfrom_into
        write = os.write
        tunfd = self.tun_fd
        ul_get = self.ctx.ul_by_teid.get
        unpack_hdr = _HDR.unpack_from
        unpack_u32 = _U32.unpack_from
        unpack_u64 = _U64.unpack_from
        now = self.clock()
        pkts = nbytes = out = spoofed = unknown = qos_drop = far_drop = bad = held = 0
        for _ in range(self.batch):
            try:
                n, addr = recvfrom_into(buf)
            except BlockingIOError:
                break
            except OSError:
                continue
            if n < 8:
                bad += 1
                continue
            flags, mtype, length, teid = unpack_hdr(buf, 0)
            if mtype != GTPU_G_PDU or (flags & 0xF0) != 0x30 or length + 8 != n:
                # Not a well-formed G-PDU: echo, Error Indication, end marker or junk.
                if self.on_n3_control is not None:
                    self.on_n3_control(bytes(mv[:n]), addr)
                continue
            pkts += 1
            qfi = -1
            if flags & 0x07:
                off = 12
                if n < 12:
                    bad += 1
                    continue
                if flags & 0x04:
                    # TS 29.281 §5.2: walk the extension header chain; each one is a
                    # length in 4-octet units, content, and the next type in its last octet.
                    nxt = buf[11]
                    while nxt:
                        if off >= n:
                            break
                        elen = buf[off] << 2
                        if elen == 0 or off + elen > n:
                            off = n
                            break
                        if nxt == 0x85:
                            qfi = buf[off + 2] & 0x3F
                        elif nxt & 0x80 and nxt not in _KNOWN_EXT:
                            # §5.2.1: unknown "comprehension required" header: drop.
                            off = n
                            break
                        off += elen
                        nxt = buf[off - 1]
                    if off >= n:
                        bad += 1
                        continue
            else:
                off = 8
            path = ul_get(teid)
            if path is None:
                unknown += 1
                if self.on_unknown_teid is not None and self.error_indication_limit.allow(1, now):
                    self.on_unknown_teid(teid, addr)
                continue
            if path.by_qfi is not None:
                path = path.by_qfi.get(qfi, path)
            size = n - off
            if size >= 20 and (buf[off] >> 4) == 4:
                if unpack_u32(buf, off + 12)[0] != path.ue_ip:
                    spoofed += 1
                    path.session.spoofed += 1
                    continue
            elif size >= 40 and (buf[off] >> 4) == 6:
                # TS 23.501 §5.8.2.2.3: the source must lie in the session's /64
                if unpack_u64(buf, off + 8)[0] != path.ue_prefix6:
                    if not self._ul_link_local(path, mv[off:n]):
                        spoofed += 1
                        path.session.spoofed += 1
                    continue
            else:
                bad += 1
                continue
            if path.action != ACT_FORWARD:
                far_drop += 1
                continue
            buckets = path.buckets
            if buckets:
                i = 0
                for b in buckets:
                    i += 1
                    if b.qbytes or not b.take(size, now):
                        if self._hold(b, (size, buckets[i:], bytes(mv[off:n]), path, None)):
                            held += 1
                        else:
                            qos_drop += 1
                        break
                else:
                    i = 0
                if i:
                    continue
            if path.urrs:
                for u in path.urrs:
                    u.ul_bytes += size
                    u.ul_pkts += 1
                    if u.armed and u.threshold_reached():
                        u.armed = False
                        self.ctx.urr_events.append((path.session, u))
            try:
                write(tunfd, mv[off:n])
            except OSError:
                far_drop += 1
                continue
            out += 1
            nbytes += size
        m = self.ctx.metrics
        if pkts:
            m.n3_in_pkts += pkts
            m.n3_in_bytes += nbytes
            m.n6_out_pkts += out
        if spoofed or unknown or qos_drop or far_drop or bad or held:
            m.shaped += held
            m.drop_spoofed += spoofed
            m.drop_unknown_teid += unknown
            m.drop_qos += qos_drop
            m.drop_far += far_drop
            m.drop_malformed += bad
        return pkts

    # -- downlink: N6 -> N3 ---------------------------------------------------------------------

    def drain_tun(self) -> int:
        """Read up to ``batch`` packets from the TUN and send them to their gNB as G-PDUs."""
        buf = self._tun_buf
        mv = self._tun_view
        readinto = self._tun_file.readinto
        payload = self._tun_payload
        sendto = self.n3.sendto
        dl_get = self.ctx.dl_by_ue.get
        unpack_u32 = _U32.unpack_from
        unpack_u64 = _U64.unpack_from
        pack_u16 = _U16.pack_into
        now = self.clock()
        pkts = nbytes = out = no_sess = qos_drop = far_drop = bad = buffered = held = 0
        for _ in range(self.batch):
            try:
                n = readinto(payload)
            except OSError:
                break
            if n is None:  # EAGAIN on a non-blocking descriptor
                break
            pkts += 1
            if n >= 20 and (buf[HEADROOM] >> 4) == 4:
                path = dl_get(unpack_u32(buf, HEADROOM + 16)[0])
            elif n >= 40 and (buf[HEADROOM] >> 4) == 6:
                # by the destination's /64 (TS 23.501 §5.8.2.2.3); the TUN's own link-local
                # and multicast packets (router solicitations, MLD) find no session
                path = dl_get(V6_KEY | unpack_u64(buf, HEADROOM + 24)[0])
            else:
                path = None
            if path is None:
                no_sess += 1
                continue
            if path.action != ACT_FORWARD:
                if path.action == ACT_BUFFER:
                    self._buffer(path, bytes(payload[:n]))
                    buffered += 1
                else:
                    far_drop += 1
                continue
            hdr = path.hdr
            start = HEADROOM - len(hdr)
            buf[start:HEADROOM] = hdr
            # GTP-U length: everything after the mandatory 8 octets (TS 29.281 §5.1).
            pack_u16(buf, start + 2, n + HEADROOM - start - 8)
            buckets = path.buckets
            if buckets:
                i = 0
                for b in buckets:
                    i += 1
                    if b.qbytes or not b.take(n, now):
                        entry = (n, buckets[i:], bytes(mv[start:HEADROOM + n]), path, path.peer)
                        if self._hold(b, entry):
                            held += 1
                        else:
                            qos_drop += 1
                        break
                else:
                    i = 0
                if i:
                    continue
            if path.urrs:
                for u in path.urrs:
                    u.dl_bytes += n
                    u.dl_pkts += 1
                    if u.armed and u.threshold_reached():
                        u.armed = False
                        self.ctx.urr_events.append((path.session, u))
            try:
                sendto(mv[start:HEADROOM + n], path.peer)
            except OSError:
                far_drop += 1
                continue
            out += 1
            nbytes += n
        m = self.ctx.metrics
        if pkts:
            m.n6_in_pkts += pkts
            m.n3_out_pkts += out
            m.n3_out_bytes += nbytes
        if no_sess or qos_drop or far_drop or bad or buffered or held:
            m.shaped += held
            m.drop_no_session += no_sess
            m.drop_qos += qos_drop
            m.drop_far += far_drop
            m.drop_malformed += bad
            m.buffered += buffered
        return pkts

    # -- shaping (TS 29.244 §5.4 MBR as session AMBR / flow MBR) -------------------------------

    def _hold(self, bucket: TokenBucket, entry: tuple[object, ...]) -> bool:
        """Queue a packet on the bucket that cannot pay for it; False if its FIFO is full."""
        if bucket.enqueue(entry):
            self._shaping[bucket] = None
            return True
        return False

    def release_shaped(self) -> float | None:
        """Send what the shaping FIFOs may release now; return the seconds until the next
        release is due, or None when nothing is queued any more.

        An entry is ``(size, later buckets, bytes to send, path, gNB address or None)``:
        the uplink sends the inner IP packet to the TUN, the downlink the whole G-PDU (its
        header was built when it arrived) to the gNB. URRs count a packet when it leaves,
        since they measure forwarded volume (TS 29.244 §5.2.2).
        """
        now = self.clock()
        shaping = self._shaping
        m = self.ctx.metrics
        write = os.write
        sendto = self.n3.sendto
        tunfd = self.tun_fd
        for bucket in list(shaping):
            for size, rest, data, path, peer in bucket.release(now):
                i = 0
                for b in rest:
                    i += 1
                    if b.qbytes or not b.take(size, now):
                        if not self._hold(b, (size, rest[i:], data, path, peer)):
                            m.drop_qos += 1
                        break
                else:
                    i = 0
                if i:
                    continue
                if path.action != ACT_FORWARD:
                    # The FAR changed while the packet waited (release, buffering, drop).
                    m.drop_far += 1
                    continue
                dl = peer is not None
                for u in path.urrs:
                    if dl:
                        u.dl_bytes += size
                        u.dl_pkts += 1
                    else:
                        u.ul_bytes += size
                        u.ul_pkts += 1
                    if u.armed and u.threshold_reached():
                        u.armed = False
                        self.ctx.urr_events.append((path.session, u))
                try:
                    if dl:
                        sendto(data, peer)
                    else:
                        write(tunfd, data)
                except OSError:
                    m.drop_far += 1
                    continue
                if dl:
                    m.n3_out_pkts += 1
                    m.n3_out_bytes += size
                else:
                    m.n3_in_bytes += size
                    m.n6_out_pkts += 1
        wait: float | None = None
        for bucket in list(shaping):
            if not bucket.qbytes:
                del shaping[bucket]
                continue
            w = bucket.next_release()
            if wait is None or w < wait:
                wait = w
        return wait

    def _buffer(self, path: DlPath, packet: bytes) -> None:
        """TS 29.244 §5.2.3 BUFF: hold downlink data while the UE is unreachable; with NOCP
        the SMF hears about the first packet (Downlink Data Report) so it can page the UE."""
        session = path.session
        buf = session.buffer
        if len(buf) == buf.maxlen:
            self.ctx.metrics.drop_buffer_full += 1
        buf.append(packet)
        key = dl_key(packet)
        if key is not None and self.ctx.superseded_by_forward(path, key):
            # The FAR said FORW before this packet got into the buffer and the PFCP side
            # has flushed already: send it (and anything else held) now.
            self.flush_buffer(session)
            return
        if path.notify_cp and not session.dl_data_reported:
            session.dl_data_reported = True
            self.ctx.dl_data_events.append(session)

    def send_n3(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send a control message (echo response, Error Indication, end marker) on N3."""
        try:
            self.n3.sendto(data, addr)
        except OSError as exc:
            log.debug("n3 send failed addr=%s err=%s", addr, exc)

    def flush_buffer(self, session: object) -> int:
        """TS 29.244 §5.2.3: send a session's buffered downlink packets once its FAR says
        FORW again. Either thread may call it: each pop is atomic, so a packet goes once."""
        s = session
        sent = 0
        while s.has_buffered:  # type: ignore[attr-defined]
            try:
                pkt = s.buffer.popleft()  # type: ignore[attr-defined]
            except IndexError:  # the other thread (PFCP side or datapath) emptied it
                break
            key = dl_key(pkt)
            path = self.ctx.dl_by_ue.get(key) if key is not None else None
            if path is None or path.action != ACT_FORWARD or path.peer is None:
                continue
            hdr = bytearray(path.hdr)
            _U16.pack_into(hdr, 2, len(pkt) + len(hdr) - 8)
            self.send_n3(bytes(hdr) + pkt, path.peer)
            sent += 1
        s.dl_data_reported = False  # type: ignore[attr-defined]
        if getattr(s, "ue_ipv6_prefix", None) is not None and (
                not s.ra_sent or self.clock() >= s.ra_due):  # type: ignore[attr-defined]
            # TS 23.501 §5.8.2.2.3: the downlink tunnel is up for the first time, tell the UE
            # its prefix without waiting for its Router Solicitation; or it is up again after
            # an idle spell in which a periodic advertisement fell due (see advertise_due)
            self.send_router_advertisement(s)  # type: ignore[arg-type]
        return sent

    def advertise_due(self, now: float | None = None) -> int:
        """RFC 4861 §6.2.4: the unsolicited Router Advertisements that fell due, one per
        session every MIN_RTR_ADV_INTERVAL..MAX_RTR_ADV_INTERVAL s (the UPF app calls this
        from its timer). A session whose downlink is not forwarding (CM-IDLE: the FAR buffers)
        gets none, as an advertisement would page the UE for nothing; :meth:`flush_buffer`
        sends the one it missed when its tunnel is back. Returns how many went out."""
        now = self.clock() if now is None else now
        heap, sessions, sent = self._ra_heap, self.ctx.sessions, 0
        while heap and heap[0][0] <= now:
            due, _, seid = heapq.heappop(heap)
            session = sessions.get(seid)
            if session is None or session.ra_due != due:
                continue  # gone, or advertised again since (its newer entry is in the heap)
            if self.send_router_advertisement(session):
                sent += 1
        if len(heap) > 2 * len(sessions) + 1024:
            # sessions that come and go leave entries behind until they fall due: drop them
            live = [e for e in heap if (x := sessions.get(e[2])) is not None and x.ra_due == e[0]]
            heapq.heapify(live)
            heap[:] = live
        return sent

    # -- IPv6 neighbour discovery on the PDU session (RFC 4861, TS 23.501 §5.8.2.2.3) ---------

    def _ul_link_local(self, path: UlPath, packet: memoryview) -> bool:
        """An uplink IPv6 packet whose source is not in the session's /64: True when it is
        link-scope traffic of the session's link (from fe80::/64 or ::), which never leaves
        the link (RFC 4291 §2.5.6) -- a Router Solicitation is answered, the rest (MLD
        reports, DAD) dropped; False for a spoofed source."""
        src64 = _U64.unpack_from(packet, 8)[0]
        if src64 != icmpv6.LINK_LOCAL_PREFIX64 and bytes(packet[8:24]) != icmpv6.UNSPECIFIED:
            return False
        m = self.ctx.metrics
        if len(packet) >= 48 and packet[6] == icmpv6.NEXT_HEADER_ICMPV6 \
                and packet[40] == icmpv6.ROUTER_SOLICITATION:
            m.rs_rx += 1
            try:
                src = icmpv6.decode_router_solicitation(bytes(packet))
            except DecodeError:
                m.drop_malformed += 1
                return True
            session = path.session
            now = self.clock()
            if now - session.ra_answered_at < RS_ANSWER_INTERVAL:
                # a UE soliciting in a loop gets no stream of advertisements down its tunnel
                m.drop_link_local += 1
                return True
            session.ra_answered_at = now
            # RFC 4861 §6.2.6: unicast to the soliciting address, all-nodes from ::
            self.send_router_advertisement(session, icmpv6.ALL_NODES if src == icmpv6.UNSPECIFIED else src)
            return True
        m.drop_link_local += 1
        return True

    def send_router_advertisement(self, session: Session, dst: bytes = icmpv6.ALL_NODES) -> bool:
        """RFC 4861 §4.2 with the session's /64 (:func:`fivecore.wire.icmpv6.router_advertisement`),
        its DNN's link MTU (§4.6.4) and DNS servers (RFC 8106 §5.1) from ``ra_policy``, sent
        down the session's tunnel; False when the session has no prefix or no downlink
        tunnel yet (the UE solicits again, RFC 4861 §6.3.7)."""
        prefix = session.ue_ipv6_prefix
        if prefix is None:
            return False
        path = self.ctx.dl_by_ue.get(V6_KEY | prefix)
        if path is None or path.session is not session or path.action != ACT_FORWARD \
                or path.peer is None:
            return False
        try:
            opts = self.ra_policy.for_session(session)
            pkt = icmpv6.router_advertisement(UPF_LINK_LOCAL, dst, prefix, mtu=opts.mtu, dns=opts.dns)
        except EncodeError:
            return False
        hdr = bytearray(path.hdr)
        _U16.pack_into(hdr, 2, len(pkt) + len(hdr) - 8)
        self.send_n3(bytes(hdr) + pkt, path.peer)
        session.ra_sent += 1
        self.ctx.metrics.ra_tx += 1
        due = session.ra_due = self.clock() + random.uniform(MIN_RTR_ADV_INTERVAL, MAX_RTR_ADV_INTERVAL)
        # heappush runs under the GIL without calling back into Python: safe from either thread
        heapq.heappush(self._ra_heap, (due, next(self._ra_seq), session.seid))
        return True
