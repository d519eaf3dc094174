"""Sans-I/O SCTP endpoint: its local addresses and port, its associations, stateless INIT.

An :class:`Endpoint` receives every packet addressed to its port, verifies the CRC32c,
checks the verification tag (RFC 9260 §8.5), answers INIT with a signed State Cookie
without keeping any state (§5.1.3), creates an :class:`Association` only from a valid
COOKIE ECHO, and treats everything else as out of the blue (§8.4). Nothing here raises on
bad input: every drop is counted in :attr:`Endpoint.stats`.

Multi-homing (RFC 9260 §5.1.2, §6.4): an endpoint may own several local addresses (all
listed in its INIT / INIT ACK), and an association is found from any of its peer's
addresses: :attr:`Endpoint.associations` maps every ``(peer address, peer port)`` of an
association to it. The State Cookie carries the peer's address list (at most
:data:`~.association.MAX_PEER_ADDRESSES`), so COOKIE ECHO rebuilds it with no state kept.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import struct
from collections import Counter
from collections.abc import Callable

from . import packet as p
from .association import MAX_PEER_ADDRESSES, Association, CookieData, State, parse_peer_addresses
from .config import SctpConfig

_COOKIE = struct.Struct("!BdIIIIIHHHHII4s4s")
#: version 2 appends the peer's address list: a count byte and 4 bytes per address
_COOKIE_VERSION = 2
_MAC_LEN = 16
WILDCARD = b"\x00\x00\x00\x00"
#: local addresses one endpoint may own and advertise (RFC 9260 §5.1.2)
MAX_LOCAL_ADDRESSES = 8


class Endpoint:
    """An SCTP endpoint bound to ``local_ip`` (``WILDCARD`` for any) and ``local_port``.

    ``listening`` endpoints accept associations (server); others only carry the
    associations created with :meth:`connect` (client).
    """

    def __init__(
        self,
        config: SctpConfig,
        local_ip: bytes,
        local_port: int,
        listening: bool,
        *,
        secret: bytes | None = None,
        rng: random.Random | None = None,
        stats: Counter[str] | None = None,
        local_addresses: list[bytes] | None = None,
        route: Callable[[bytes], bytes | None] | None = None,
    ) -> None:
        self.config = config
        self.local_ip = local_ip
        #: every local address (``local_ip`` first); more than one makes us multi-homed
        self.local_addresses: list[bytes] = _local_list(local_ip, local_addresses)
        #: optional route lookup (peer ip -> the local source the host would use), so each
        #: path of a multi-homed association sends from a suitable address
        self.route = route
        self.local_port = local_port
        self.listening = listening
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self._secret = secret or os.urandom(32)
        self._rng = rng or random.SystemRandom()
        self.associations: dict[tuple[bytes, int], Association] = {}
        self.new_associations: list[Association] = []
        self._replies: list[tuple[bytes, bytes, bytes]] = []  # (packet, dst ip, src ip)
        self._ootb_tokens = config.ootb_abort_rate
        self._ootb_last = 0.0

    # --- public API -----------------------------------------------------------------

    def connect(self, peer_ip: bytes, peer_port: int, now: float, local_ip: bytes | None = None) -> Association:
        """RFC 9260 §5.1 — create a client association and send INIT."""
        key = (peer_ip, peer_port)
        old = self.associations.get(key)
        if old is not None and old.state != State.CLOSED:
            raise p.SctpError("an association to that peer already exists on this port")
        lip = local_ip or self.local_ip
        a = Association(self.config, lip, self.local_port, peer_ip, peer_port, self.stats, self._rng,
                        local_addresses=_local_list(lip, self.local_addresses) if self._multi_local else None,
                        route=self.route)
        self.associations[key] = a
        a.start(now)
        return a

    def pop_replies(self) -> list[tuple[bytes, bytes, bytes]]:
        """Stateless packets (INIT ACK, OOTB answers) as (packet, dst ip, src ip)."""
        r = self._replies
        self._replies = []
        return r

    @property
    def _multi_local(self) -> bool:
        return len(self.local_addresses) > 1

    def forget(self, assoc: Association) -> None:
        port = assoc.peer_port
        for path in assoc.paths:
            key = (path.peer_ip, port)
            if self.associations.get(key) is assoc:
                del self.associations[key]

    def _index(self, assoc: Association) -> None:
        """Map every peer address of ``assoc`` to it (RFC 9260 §6.4: packets from any of them
        belong to it); an address a live association of another peer already owns stays
        with that one."""
        port = assoc.peer_port
        for path in assoc.paths:
            key = (path.peer_ip, port)
            other = self.associations.get(key)
            if other is None or other.state == State.CLOSED:
                self.associations[key] = assoc
            elif other is not assoc:
                theirs = other._by_ip.get(path.peer_ip)
                if path.confirmed and theirs is not None and not theirs.confirmed:
                    # §5.4: the other peer only listed this address; this one ran its
                    # handshake from it. It belongs here (an address squatted in an INIT
                    # must not capture its real owner's association).
                    other.drop_path(path.peer_ip)
                    self.associations[key] = assoc
                    self.stats["peer_address_reclaimed"] += 1
                else:
                    self.stats["peer_address_in_use"] += 1

    def receive(self, src_ip: bytes, dst_ip: bytes, packet: bytes, now: float) -> Association | None:
        """Handle one SCTP packet (IP payload). Returns the association it touched, if any."""
        stats = self.stats
        stats["rx_packets"] += 1
        if len(packet) < p.COMMON_HEADER_LEN + 4:
            stats["rx_malformed"] += 1
            return None
        if not p.verify_checksum(packet):
            stats["rx_bad_checksum"] += 1
            return None
        src_port, dst_port, vtag = struct.unpack_from("!HHI", packet, 0)
        try:
            chunks = p.parse_chunks(packet)
        except p.SctpDecodeError:
            stats["rx_malformed"] += 1
            return None
        if src_port == 0:
            stats["rx_malformed"] += 1
            return None
        key = (src_ip, src_port)
        assoc = self.associations.get(key)
        if assoc is not None and assoc.state == State.CLOSED:
            del self.associations[key]
            assoc = None
        first = chunks[0]
        ft = first.type
        if assoc is not None and assoc._multi and (ft == p.INIT or ft == p.COOKIE_ECHO):
            path = assoc._by_ip.get(src_ip)
            if path is not None and not path.confirmed:
                # §5.4: an INIT from an address the association only heard of is a stranger's
                # (its real owner), not a restart of this association.
                assoc = None
        if ft == p.INIT:
            self._on_init(src_ip, dst_ip, src_port, vtag, chunks, assoc, now)
            return assoc
        if ft == p.INIT_ACK and assoc is not None and len(chunks) == 1 and vtag == assoc.my_tag:
            assoc.receive_chunks(chunks, now, src_ip, dst_ip)
            if assoc._multi:
                self._index(assoc)  # §5.1.2: the peer's other addresses from its INIT ACK
            return assoc
        if ft == p.COOKIE_ECHO:
            return self._on_cookie_echo(src_ip, dst_ip, src_port, vtag, chunks, assoc, now)
        if assoc is None:
            self._ootb(src_ip, dst_ip, src_port, vtag, chunks, now)
            return None
        if vtag != assoc.my_tag:
            # §8.5.1 B, C: ABORT and SHUTDOWN COMPLETE may reflect the peer's tag (T bit).
            if ft in (p.ABORT, p.SHUTDOWN_COMPLETE) and first.flags & p.FLAG_T and vtag == assoc.peer_tag:
                assoc.receive_chunks([first], now)
                return assoc
            stats["rx_bad_vtag"] += 1
            return None
        if ft in (p.ABORT, p.SHUTDOWN_COMPLETE) and first.flags & p.FLAG_T and vtag != assoc.peer_tag:
            stats["rx_bad_vtag"] += 1
            return None
        assoc.receive_chunks(chunks, now, src_ip, dst_ip)
        return assoc

    # --- INIT and cookies -------------------------------------------------------------

    def _on_init(
        self, src_ip: bytes, dst_ip: bytes, src_port: int, vtag: int, chunks: list[p.Chunk],
        assoc: Association | None, now: float,
    ) -> None:
        """RFC 9260 §5.1 B, §5.2.1, §5.2.2 — answer INIT with INIT ACK and a State Cookie."""
        stats = self.stats
        stats["rx_init"] += 1
        if len(chunks) != 1 or vtag != 0:
            stats["rx_malformed"] += 1  # §6.10 / §8.5.1 A
            return
        try:
            init = p.parse_init(chunks[0].value)
        except p.SctpDecodeError:
            stats["rx_malformed"] += 1
            return
        if init.initiate_tag == 0 or init.out_streams == 0 or init.in_streams == 0 or init.a_rwnd < 1500:
            stats["rx_malformed"] += 1
            return
        addrs = parse_peer_addresses(src_ip, init.params, stats)
        if assoc is None and len(addrs) > 1:
            # §5.2.2: a restarting peer may send its INIT from another of its addresses.
            for ip in addrs[1:]:
                found = self.associations.get((ip, src_port))
                if found is not None and found.state != State.CLOSED and _confirmed(found, ip):
                    assoc = found
                    break
        unrecognized = []
        for ptype, pv in init.params:
            if ptype in (p.PARAM_IPV4, p.PARAM_IPV6, p.PARAM_COOKIE_PRESERVATIVE,
                         p.PARAM_SUPPORTED_ADDR_TYPES, 11):
                continue
            if ptype & 0x4000:
                unrecognized.append(p.encode_param(p.PARAM_UNRECOGNIZED, p.encode_param(ptype, pv)))
            if not ptype & 0x8000:
                break
        if assoc is None:
            if not self.listening:
                stats["rx_ootb"] += 1
                return
            my_tag = self._new_tag()
            my_tsn = self._rng.getrandbits(32)
            tie = (0, 0)
        elif assoc.state == State.COOKIE_WAIT:
            my_tag, my_tsn, tie = assoc.my_tag, assoc._my_initial_tsn, (0, 0)
        elif assoc.state == State.COOKIE_ECHOED:
            my_tag, my_tsn, tie = assoc.my_tag, assoc._my_initial_tsn, (assoc.my_tag, assoc.peer_tag)
        elif assoc.state == State.SHUTDOWN_ACK_SENT:
            return
        else:
            stats["rx_init_known_peer"] += 1
            if self._refuse_new_addresses(assoc, addrs, init.initiate_tag, src_ip, dst_ip, src_port):
                return
            my_tag = self._new_tag()
            my_tsn = self._rng.getrandbits(32)
            tie = (assoc.my_tag, assoc.peer_tag)
        cfg = self.config
        local_ip = dst_ip
        ck = CookieData(
            now, my_tag, my_tsn, init.initiate_tag, init.initial_tsn, init.a_rwnd,
            min(cfg.out_streams, init.in_streams), min(cfg.in_streams, init.out_streams),
            self.local_port, src_port, tie[0], tie[1], local_ip, src_ip, b"".join(addrs),
        )
        cookie = self._make_cookie(ck)
        params = [p.encode_param(p.PARAM_STATE_COOKIE, cookie), *unrecognized]
        if self._multi_local:
            # §5.1.2: every address we can be reached at, the INIT ACK's source included
            params[:0] = [p.encode_param(p.PARAM_IPV4, ip) for ip in _local_list(local_ip, self.local_addresses)]
        chunk = p.encode_init(p.INIT_ACK, my_tag, cfg.receive_window, cfg.out_streams, cfg.in_streams, my_tsn, params)
        self._replies.append((p.build_packet(self.local_port, src_port, init.initiate_tag, [chunk]), src_ip, local_ip))
        stats["tx_init_ack"] += 1

    def _refuse_new_addresses(
        self, assoc: Association, addrs: list[bytes], tag: int, src_ip: bytes, dst_ip: bytes, src_port: int,
    ) -> bool:
        """RFC 9260 §5.2.2 — a restart (unexpected INIT, or its COOKIE ECHO) that adds
        addresses to an association is refused with ABORT, tagged with the restart's Initiate
        Tag, cause "Restart of an Association with New Addresses" (§3.3.10.11) listing them."""
        known = set(assoc.peer_addresses)
        new = [ip for ip in addrs if ip not in known]
        if not new:
            return False
        self.stats["tx_abort_restart_new_addresses"] += 1
        cause = p.encode_cause(p.CAUSE_RESTART_NEW_ADDRESSES, p.join_tlvs([p.encode_param(p.PARAM_IPV4, ip) for ip in new]))
        abort = p.encode_chunk(p.ABORT, 0, cause)
        self._replies.append((p.build_packet(self.local_port, src_port, tag, [abort]), src_ip, dst_ip))
        return True

    def _make_cookie(self, ck: CookieData) -> bytes:
        """RFC 9260 §5.1.3 — State Cookie: our TCB fields, the peer's addresses (a count byte
        and four bytes each, bounded by MAX_PEER_ADDRESSES) and a truncated HMAC-SHA256."""
        body = _COOKIE.pack(_COOKIE_VERSION, *ck[:-1]) + bytes((len(ck.peer_addrs) // 4,)) + ck.peer_addrs
        return body + hmac.digest(self._secret, body, hashlib.sha256)[:_MAC_LEN]

    def _check_cookie(self, cookie: bytes, src_ip: bytes, dst_ip: bytes, src_port: int, now: float) -> CookieData | None:
        """RFC 9260 §5.1.5 — authenticate a State Cookie and check its lifetime."""
        stats = self.stats
        fixed = _COOKIE.size
        n = len(cookie)
        if n < fixed + 1 + _MAC_LEN:
            stats["rx_cookie_invalid"] += 1
            return None
        count = cookie[fixed]
        if not 1 <= count <= MAX_PEER_ADDRESSES or n != fixed + 1 + 4 * count + _MAC_LEN:
            stats["rx_cookie_invalid"] += 1
            return None
        body = cookie[: n - _MAC_LEN]
        mac = hmac.digest(self._secret, body, hashlib.sha256)[:_MAC_LEN]
        if not hmac.compare_digest(mac, cookie[n - _MAC_LEN :]):
            stats["rx_cookie_bad_mac"] += 1
            return None
        fields = _COOKIE.unpack_from(body)
        if fields[0] != _COOKIE_VERSION:
            stats["rx_cookie_invalid"] += 1
            return None
        ck = CookieData(*fields[1:], body[fixed + 1 :])
        # §6.4: a multi-homed peer may echo the cookie from any of its addresses, to any of ours.
        if (ck.peer_ip != src_ip and not _has_addr(ck.peer_addrs, src_ip)) or ck.peer_port != src_port or (
            ck.local_port != self.local_port
        ) or (ck.local_ip != dst_ip and (dst_ip not in self.local_addresses or ck.local_ip not in self.local_addresses)):
            stats["rx_cookie_invalid"] += 1
            return None
        if not ck.created - 1.0 <= now <= ck.created + self.config.cookie_lifetime:
            stats["rx_cookie_stale"] += 1
            return None
        return ck

    def _on_cookie_echo(
        self, src_ip: bytes, dst_ip: bytes, src_port: int, vtag: int, chunks: list[p.Chunk],
        assoc: Association | None, now: float,
    ) -> Association | None:
        """RFC 9260 §5.1 D, §5.2.4 — COOKIE ECHO: create, restart or confirm an association."""
        ck = self._check_cookie(chunks[0].value, src_ip, dst_ip, src_port, now)
        if ck is None:
            return None
        if vtag != ck.my_tag:
            self.stats["rx_bad_vtag"] += 1  # §8.5.1: the packet must carry the cookie's tag
            return None
        rest = chunks[1:]
        addrs = [ck.peer_addrs[i : i + 4] for i in range(0, len(ck.peer_addrs), 4)]
        if assoc is None and len(addrs) > 1:
            for ip in addrs:
                found = self.associations.get((ip, src_port))
                if found is not None and found.state != State.CLOSED and _confirmed(found, ip):
                    assoc = found
                    break
        if assoc is None:
            if ck.tie_local or ck.tie_peer:
                # The association the cookie was meant to restart is gone: treat as new.
                pass
            if not self.listening:
                self.stats["rx_ootb"] += 1
                return None
            assoc = Association(self.config, ck.local_ip, self.local_port, ck.peer_ip, src_port, self.stats,
                                self._rng,
                                local_addresses=_local_list(ck.local_ip, self.local_addresses) if self._multi_local else None,
                                route=self.route)
            assoc.establish_from_cookie(ck, now)
            self._index(assoc)
            self.new_associations.append(assoc)
            self.stats["associations_accepted"] += 1
        else:
            if (ck.tie_local == assoc.my_tag and ck.tie_peer == assoc.peer_tag and ck.my_tag != assoc.my_tag
                    and ck.peer_tag != assoc.peer_tag
                    and self._refuse_new_addresses(assoc, addrs, ck.peer_tag, src_ip, dst_ip, src_port)):
                return assoc  # §5.2.4 A with new addresses: refused as §5.2.2 says
            old_addrs = assoc.peer_addresses
            if not assoc.on_cookie_echo(ck, now):
                return assoc
            if assoc.peer_addresses != old_addrs:
                self.forget_addresses(assoc, old_addrs)
        if rest:
            assoc.receive_chunks(rest, now)
        return assoc

    def forget_addresses(self, assoc: Association, addrs: list[bytes]) -> None:
        """Unmap addresses ``assoc`` no longer has (a restart with fewer addresses, §5.2.4)."""
        keep = set(assoc.peer_addresses)
        for ip in addrs:
            key = (ip, assoc.peer_port)
            if ip not in keep and self.associations.get(key) is assoc:
                del self.associations[key]

    # --- out of the blue --------------------------------------------------------------

    def _ootb(self, src_ip: bytes, dst_ip: bytes, src_port: int, vtag: int, chunks: list[p.Chunk], now: float) -> None:
        """RFC 9260 §8.4 — a packet for our port but no association.

        Only a listening endpoint answers, and at a bounded rate: a client port may be
        shared by accident with another stack on this host, whose associations we must
        never abort.
        """
        self.stats["rx_ootb"] += 1
        types = {c.type for c in chunks}
        if p.ABORT in types or p.SHUTDOWN_COMPLETE in types or p.COOKIE_ACK in types:
            return
        if p.ERROR in types:
            return
        if chunks[0].type == p.SHUTDOWN_ACK and len(chunks) == 1:
            # §8.4 rule 5: a lost SHUTDOWN COMPLETE must not leave the peer retrying; safe on
            # any port since only a peer already shutting down acts on it.
            reply = p.encode_chunk(p.SHUTDOWN_COMPLETE, p.FLAG_T)
            self._replies.append((p.build_packet(self.local_port, src_port, vtag, [reply]), src_ip, dst_ip))
            return
        if not (self.listening and self.config.ootb_abort):
            return
        if src_ip[0] in (0, 255) or src_ip[0] >= 224:
            return
        rate = self.config.ootb_abort_rate
        self._ootb_tokens = min(rate, self._ootb_tokens + (now - self._ootb_last) * rate)
        self._ootb_last = now
        if self._ootb_tokens < 1:
            self.stats["ootb_reply_rate_limited"] += 1
            return
        self._ootb_tokens -= 1
        reply = p.encode_chunk(p.ABORT, p.FLAG_T)
        self._replies.append((p.build_packet(self.local_port, src_port, vtag, [reply]), src_ip, dst_ip))
        self.stats["tx_ootb_reply"] += 1

    def _new_tag(self) -> int:
        while True:
            t = self._rng.getrandbits(32)
            if t:
                return t


def _local_list(first: bytes, others: list[bytes] | None) -> list[bytes]:
    """``first`` then the other local addresses, without duplicates, bounded."""
    out = [first]
    for ip in others or ():
        if len(ip) != 4:
            raise p.SctpError("local addresses must be IPv4 (4 bytes)")
        if ip not in out:
            out.append(ip)
    if len(out) > 1 and WILDCARD in out:
        raise p.SctpError("a wildcard local address cannot be combined with other local addresses")
    if len(out) > MAX_LOCAL_ADDRESSES:
        raise p.SctpError(f"at most {MAX_LOCAL_ADDRESSES} local addresses per endpoint")
    return out


def _confirmed(assoc: Association, ip: bytes) -> bool:
    """RFC 9260 §5.4 — ``ip`` is a confirmed address of ``assoc`` (one it may be found by
    when a peer restarts)."""
    path = assoc._by_ip.get(ip)
    return path is not None and path.confirmed


def _has_addr(addrs: bytes, ip: bytes) -> bool:
    return any(addrs[i : i + 4] == ip for i in range(0, len(addrs), 4))
