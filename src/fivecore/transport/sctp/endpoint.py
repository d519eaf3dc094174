"""Sans-I/O SCTP endpoint: one local address and port, its associations, stateless INIT.

An :class:`Endpoint` receives every packet addressed to its port, verifies the CRC32c,
checks the verification tag (RFC 9260 §8.5), answers INIT with a signed State Cookie
without keeping any state (§5.1.3), creates an :class:`Association` only from a valid
COOKIE ECHO, and treats everything else as out of the blue (§8.4). Nothing here raises on
bad input: every drop is counted in :attr:`Endpoint.stats`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import struct
from collections import Counter

from . import packet as p
from .association import Association, CookieData, State
from .config import SctpConfig

_COOKIE = struct.Struct("!BdIIIIIHHHHII4s4s")
_COOKIE_VERSION = 1
_MAC_LEN = 16
WILDCARD = b"\x00\x00\x00\x00"


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
    ) -> None:
        self.config = config
        self.local_ip = local_ip
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
        a = Association(self.config, local_ip or self.local_ip, self.local_port, peer_ip, peer_port,
                        self.stats, self._rng)
        self.associations[key] = a
        a.start(now)
        return a

    def pop_replies(self) -> list[tuple[bytes, bytes, bytes]]:
        """Stateless packets (INIT ACK, OOTB answers) as (packet, dst ip, src ip)."""
        r = self._replies
        self._replies = []
        return r

    def forget(self, assoc: Association) -> None:
        key = (assoc.peer_ip, assoc.peer_port)
        if self.associations.get(key) is assoc:
            del self.associations[key]

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
        if ft == p.INIT:
            self._on_init(src_ip, dst_ip, src_port, vtag, chunks, assoc, now)
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
        assoc.receive_chunks(chunks, now)
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
            my_tag = self._new_tag()
            my_tsn = self._rng.getrandbits(32)
            tie = (assoc.my_tag, assoc.peer_tag)
        cfg = self.config
        local_ip = dst_ip
        ck = CookieData(
            now, my_tag, my_tsn, init.initiate_tag, init.initial_tsn, init.a_rwnd,
            min(cfg.out_streams, init.in_streams), min(cfg.in_streams, init.out_streams),
            self.local_port, src_port, tie[0], tie[1], local_ip, src_ip,
        )
        cookie = self._make_cookie(ck)
        params = [p.encode_param(p.PARAM_STATE_COOKIE, cookie), *unrecognized]
        chunk = p.encode_init(p.INIT_ACK, my_tag, cfg.receive_window, cfg.out_streams, cfg.in_streams, my_tsn, params)
        self._replies.append((p.build_packet(self.local_port, src_port, init.initiate_tag, [chunk]), src_ip, local_ip))
        stats["tx_init_ack"] += 1

    def _make_cookie(self, ck: CookieData) -> bytes:
        """RFC 9260 §5.1.3 — State Cookie: our TCB fields plus a truncated HMAC-SHA256."""
        body = _COOKIE.pack(_COOKIE_VERSION, *ck)
        return body + hmac.digest(self._secret, body, hashlib.sha256)[:_MAC_LEN]

    def _check_cookie(self, cookie: bytes, src_ip: bytes, dst_ip: bytes, src_port: int, now: float) -> CookieData | None:
        """RFC 9260 §5.1.5 — authenticate a State Cookie and check its lifetime."""
        stats = self.stats
        if len(cookie) != _COOKIE.size + _MAC_LEN:
            stats["rx_cookie_invalid"] += 1
            return None
        body = cookie[: _COOKIE.size]
        mac = hmac.digest(self._secret, body, hashlib.sha256)[:_MAC_LEN]
        if not hmac.compare_digest(mac, cookie[_COOKIE.size :]):
            stats["rx_cookie_bad_mac"] += 1
            return None
        fields = _COOKIE.unpack(body)
        if fields[0] != _COOKIE_VERSION:
            stats["rx_cookie_invalid"] += 1
            return None
        ck = CookieData(*fields[1:])
        if ck.peer_ip != src_ip or ck.peer_port != src_port or ck.local_port != self.local_port or (
            ck.local_ip != dst_ip
        ):
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
        if assoc is None:
            if ck.tie_local or ck.tie_peer:
                # The association the cookie was meant to restart is gone: treat as new.
                pass
            if not self.listening:
                self.stats["rx_ootb"] += 1
                return None
            assoc = Association(self.config, dst_ip, self.local_port, src_ip, src_port, self.stats, self._rng)
            assoc.establish_from_cookie(ck, now)
            self.associations[(src_ip, src_port)] = assoc
            self.new_associations.append(assoc)
            self.stats["associations_accepted"] += 1
        elif not assoc.on_cookie_echo(ck, now):
            return assoc
        if rest:
            assoc.receive_chunks(rest, now)
        return assoc

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
