"""The simulator's user plane: 5GSM in the UE, GTP-U tunnels in the gNB, a TUN per session.

Three parts, from the UE's NAS down to real packets:

- :class:`UeSm` — the UE's 5GSM entity (TS 24.501 §6, UE side), sans-I/O: it builds PDU
  Session Establishment / Release / Modification requests and handles what the network
  sends (accept, reject, release command, modification command, 5GSM STATUS), answering
  with the completes. :class:`fivecore.ran.ue.Ue` hands it the payload of every DL NAS
  Transport (``ue.sm``) and wraps its answers in UL NAS Transport.
- :class:`GnbUserPlane` — the gNB's half of NGAP PDU Session Resource Setup / Modify /
  Release (TS 38.413 §8.2) and one GTP-U tunnel per session (TS 29.281) on a UDP socket
  (port 2152): uplink packets get a PDU Session Container with the QFI (TS 38.415 §5.5.2.2),
  downlink G-PDUs are matched by TEID and their payload written to the session's TUN.
- :class:`UserPlane` — glue for an application (the simulator, the tests): it enables 5GSM on
  UEs, starts sessions and waits for them, and gives each session a TUN interface, inside a
  network namespace per UE when ``use_namespace`` is set (like UERANSIM's ``useNamespace``),
  so ordinary tools run through the 5G network: ``ip netns exec <ns> ping <host>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fivecore.errors import FivecoreError
from fivecore.ran.forwarding import SourceForwarding, TargetOrdering
from fivecore.wire import gtpu, icmpv6, nas, ngap
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.ngap import NgapPdu
from fivecore.wire.template import TemplateCache

log = logging.getLogger("fivecore.ran.userplane")

#: TS 38.413 §9.3.3.1 / §9.3.3.2: the IE ids of the NGAP IDs (from the codec's table)
_AMF_ID_IE = ngap.pre_encoded("UplinkNASTransport", "initiating", "AMF-UE-NGAP-ID", 0).id
_RAN_ID_IE = ngap.pre_encoded("UplinkNASTransport", "initiating", "RAN-UE-NGAP-ID", 0).id


class SessionError(FivecoreError):
    """A PDU session could not be established or released (``cause`` = 5GSM/5GMM cause)."""

    def __init__(self, msg: str, cause: int | None = None) -> None:
        super().__init__(msg)
        self.cause = cause


# =============================================================================================
# UE: 5GSM entity (TS 24.501 §6, UE side)
# =============================================================================================


@dataclass(slots=True)
class UeSession:
    """One PDU session as the UE sees it."""

    psi: int
    dnn: str | None
    snssai: tuple[int, int | None] | None
    state: str = "INACTIVE"   # INACTIVE, ACTIVE_PENDING, ACTIVE, MODIFICATION_PENDING, INACTIVE_PENDING
    pti: int = 0
    pdu_type: int = 1
    ipv4: str | None = None
    #: TS 24.501 §9.11.4.10: the interface identifier the network gave (IPv6, IPv4v6)
    ipv6_iid: bytes | None = None
    #: prefix + interface identifier once a Router Advertisement gave the /64 (RFC 4862 §5.5.3)
    ipv6: str | None = None
    #: the link MTU of that Router Advertisement's MTU option (RFC 4861 §4.6.4), if it had one
    ipv6_mtu: int | None = None
    #: its recursive DNS servers (RFC 8106 §5.1 RDNSS)
    ipv6_dns: list[str] = field(default_factory=list)
    ambr_ul: int = 0
    ambr_dl: int = 0
    qfi: int = 1
    cause: int | None = None
    dns: list[str] = field(default_factory=list)
    #: the 5GSM request of the UE-requested modification or release waiting for its answer
    #: (state MODIFICATION_PENDING / INACTIVE_PENDING), kept to be sent again (T3581 / T3582)
    request: bytes | None = None

    @property
    def established(self) -> bool:
        """TS 24.501 §6.1.3.2.1: the session exists with its address, so it has a user plane
        whenever the UE is connected: PDU SESSION ACTIVE, and also MODIFICATION PENDING and
        INACTIVE PENDING, where a UE-requested modification or release waits for its answer
        and the session stays as it was until then."""
        return self.state in _ESTABLISHED


#: the UE's 5GSM states of an established PDU session (:attr:`UeSession.established`)
_ESTABLISHED = frozenset({"ACTIVE", "MODIFICATION_PENDING", "INACTIVE_PENDING"})

#: events a UeSm reports to its listener
EV_ESTABLISHED, EV_REJECTED, EV_RELEASED, EV_MODIFIED = "established", "rejected", "released", "modified"


class UeSm:
    """The UE's 5GSM entity (see module docstring). ``listener(event, session)`` is told
    about every outcome; methods return the 5GSM bytes to send in UL NAS Transport."""

    def __init__(self, listener: Callable[[str, UeSession], None] | None = None) -> None:
        self.sessions: dict[int, UeSession] = {}
        self.listener = listener
        self._pti = secrets.randbelow(200) + 1
        self.stats: dict[str, int] = {}
        #: (PSI, DNN, S-NSSAI) of sessions released locally because the network lost the UE
        #: (:meth:`local_release`), for the application to establish again once registered
        self.to_restore: list[tuple[int, str | None, tuple[int, int | None] | None]] = []

    def _count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1

    def _next_pti(self) -> int:
        """TS 24.501 §9.6: PTI 1..254 for UE-requested procedures."""
        self._pti = self._pti % 254 + 1
        return self._pti

    def _tell(self, ev: str, s: UeSession) -> None:
        if self.listener is not None:
            self.listener(ev, s)

    def establish(self, psi: int, dnn: str | None, snssai: tuple[int, int | None] | None,
                  pdu_type: int = 1) -> bytes:
        """TS 24.501 §6.4.1.2: PDU Session Establishment Request (SSC mode 1; ``pdu_type``
        1 IPv4, 2 IPv6, 3 IPv4v6, §9.11.4.11)."""
        if not 1 <= psi <= 15:
            raise SessionError(f"PDU session ID {psi} out of range")
        s = UeSession(psi, dnn, snssai, "ACTIVE_PENDING", self._next_pti(), pdu_type)
        self.sessions[psi] = s
        return _establishment_request(psi, s.pti, pdu_type)

    def release(self, psi: int) -> bytes:
        """TS 24.501 §6.4.3.2: PDU Session Release Request (cause #36 regular deactivation)."""
        s = self.sessions.get(psi)
        if s is None or s.state not in ("ACTIVE", "MODIFICATION_PENDING"):
            raise SessionError(f"PDU session {psi} is not active")
        s.pti = self._next_pti()
        s.state = "INACTIVE_PENDING"
        s.request = nas.encode(nas.PDUSessionReleaseRequest(pdu_session_id=psi, pti=s.pti, cause=36))
        return s.request

    def modify(self, psi: int) -> bytes:
        """TS 24.501 §6.4.2.2: PDU Session Modification Request (re-authorise the QoS)."""
        s = self.sessions.get(psi)
        if s is None or s.state != "ACTIVE":
            raise SessionError(f"PDU session {psi} is not active")
        s.pti = self._next_pti()
        s.state = "MODIFICATION_PENDING"
        s.request = nas.encode(nas.PDUSessionModificationRequest(pdu_session_id=psi, pti=s.pti))
        return s.request

    def pending_requests(self) -> list[tuple[int, bytes]]:
        """(PSI, 5GSM request) of each UE-requested modification or release still waiting for
        its answer, to be sent again as on expiry of T3581 / T3582 (TS 24.501 §6.4.2.5 a,
        §6.4.3.5 a: the same message, the same PTI, so the network can tell a retransmission).
        The application calls this when the UE has a NAS signalling connection again after
        losing one: the request may have been lost with it (a gNB the AMF no longer knows for
        the UE carried it, a radio link failure), and this simulator runs no 5GSM timers."""
        return [(psi, s.request) for psi, s in self.sessions.items()
                if s.request is not None and s.state in ("MODIFICATION_PENDING", "INACTIVE_PENDING")]

    def local_release(self, mm_cause: int, keep: frozenset[int] = frozenset(), restore: bool = True) -> None:
        """Release PDU sessions locally, without signalling.

        TS 24.501 §5.6.1.5 / §5.5.1.3.5 (5GMM causes #9, #10): the UE enters
        5GMM-DEREGISTERED and releases them all (the network has no context to signal with).
        §5.5.1.3.4 / §5.6.1.4: a PDU session status IE in Registration Accept or Service Accept
        names the sessions the network holds (``keep``); the others go. With ``restore``
        sessions that were up are remembered in ``to_restore`` so the application can ask for
        them again once registered, as an always-on application on a real UE does."""
        for psi, s in list(self.sessions.items()):
            if psi in keep:
                continue
            del self.sessions[psi]
            if restore and s.state in ("ACTIVE", "MODIFICATION_PENDING", "ACTIVE_PENDING"):
                self.to_restore.append((psi, s.dnn, s.snssai))
            s.state, s.cause = "INACTIVE", mm_cause
            self._count("released_locally")
            self._tell(EV_RELEASED, s)

    def on_downlink(self, psi: int | None, data: bytes, mm_cause: int = 0) -> list[tuple[int, bytes]]:
        """A 5GSM message from DL NAS Transport; returns (PSI, 5GSM bytes) pairs to send."""
        if mm_cause and psi in self.sessions:
            # TS 24.501 §5.4.5.3.3: the AMF returned our message unforwarded (#90 ...)
            s = self.sessions[psi]  # type: ignore[index]
            if s.state == "ACTIVE_PENDING":
                s.state, s.cause = "INACTIVE", mm_cause
                self._count("not_forwarded")
                self._tell(EV_REJECTED, s)
            return []
        try:
            msg = nas.decode(data)
        except DecodeError:
            self._count("malformed")
            return [(psi or 0, nas.encode(nas.FiveGSMStatus(pdu_session_id=psi or 0, pti=0, cause=96)))] if psi else []
        if not isinstance(msg, nas.NasMessage):
            return []
        t = msg.message_type
        p = msg.pdu_session_id
        s = self.sessions.get(p)
        if t == "PDUSessionEstablishmentAccept":
            if s is None or s.state != "ACTIVE_PENDING" or msg.pti != s.pti:
                # §6.4.1.3 / §7.3.1: PTI mismatch
                self._count("accept_unexpected")
                return [(p, nas.encode(nas.FiveGSMStatus(pdu_session_id=p, pti=msg.pti, cause=47)))]
            addr = msg.pdu_address
            s.ipv4 = addr.ipv4_address if addr is not None else None
            s.ipv6_iid = addr.ipv6_interface_id if addr is not None else None
            s.ipv6 = None
            s.ipv6_mtu = None
            s.ipv6_dns = []
            s.pdu_type = msg.selected_pdu_session_type
            ambr = msg.session_ambr
            s.ambr_ul, s.ambr_dl = ambr.ul_bps, ambr.dl_bps
            rules = msg.authorized_qos_rules or ()
            for r in rules:
                if r.dqr and r.qfi:
                    s.qfi = r.qfi
            s.dns = _pco_dns(msg.extended_pco)
            s.state = "ACTIVE"
            s.cause = msg.cause
            self._count("established")
            self._tell(EV_ESTABLISHED, s)
            return []
        if t == "PDUSessionEstablishmentReject":
            if s is not None and s.state == "ACTIVE_PENDING":
                s.state, s.cause = "INACTIVE", msg.cause
                self._count("rejected")
                del self.sessions[p]
                self._tell(EV_REJECTED, s)
            return []
        if t == "PDUSessionReleaseCommand":
            # §6.3.3.3 / §6.4.3.3: always answer, then the session is gone
            out = [(p, nas.encode(nas.PDUSessionReleaseComplete(pdu_session_id=p, pti=msg.pti)))]
            if s is not None:
                s.state, s.cause = "INACTIVE", msg.cause
                del self.sessions[p]
                self._count("released")
                self._tell(EV_RELEASED, s)
            return out
        if t == "PDUSessionReleaseReject":
            if s is not None and s.state == "INACTIVE_PENDING":
                s.state, s.cause, s.request = "ACTIVE", msg.cause, None
            return []
        if t == "PDUSessionModificationCommand":
            if s is None:
                return [(p, nas.encode(nas.FiveGSMStatus(pdu_session_id=p, pti=msg.pti, cause=43)))]
            ambr = msg.session_ambr
            if ambr is not None:
                s.ambr_ul, s.ambr_dl = ambr.ul_bps, ambr.dl_bps
            s.state, s.request = "ACTIVE", None
            self._count("modified")
            self._tell(EV_MODIFIED, s)
            return [(p, nas.encode(nas.PDUSessionModificationComplete(pdu_session_id=p, pti=msg.pti)))]
        if t == "PDUSessionModificationReject":
            if s is not None:
                s.state, s.cause, s.request = "ACTIVE", msg.cause, None
            return []
        if t == "5GSMStatus":
            self._count("status_received")
            if s is not None and msg.cause in (43, 54):
                # §6.5.3: the network has no such session
                del self.sessions[p]
                s.state, s.cause = "INACTIVE", msg.cause
                self._tell(EV_RELEASED, s)
            return []
        self._count("unexpected")
        return [(p, nas.encode(nas.FiveGSMStatus(pdu_session_id=p, pti=msg.pti, cause=98)))]


@lru_cache(maxsize=4096)
def _establishment_request(psi: int, pti: int, pdu_type: int) -> bytes:
    """TS 24.501 §8.3.1: PDU Session Establishment Request, SSC mode 1, asking for DNS and
    MTU in the extended PCO. Its octets depend on these three values only (at most 15 x 254
    x 3), so each combination is encoded once."""
    epco = bytes((0x80, 0x00, 0x0D, 0x00, 0x00, 0x10, 0x00))  # TS 24.008 §10.5.6.3: DNS, MTU
    return nas.encode(nas.PDUSessionEstablishmentRequest(
        pdu_session_id=psi, pti=pti, integrity_protection_max_data_rate=b"\xff\xff",
        pdu_session_type=pdu_type, ssc_mode=1, extended_pco=epco))


def _pco_dns(epco: bytes | None) -> list[str]:
    out: list[str] = []
    if not epco:
        return out
    i = 1
    while i + 3 <= len(epco):
        cid = int.from_bytes(epco[i:i + 2], "big")
        ln = epco[i + 2]
        if cid == 0x000D and ln == 4 and i + 3 + ln <= len(epco):
            out.append(socket.inet_ntoa(epco[i + 3:i + 7]))  # TS 24.008 §10.5.6.3 DNS Server IPv4 Address
        i += 3 + ln
    return out


# =============================================================================================
# gNB: NGAP PDU session resources and GTP-U tunnels
# =============================================================================================


class Tunnel:
    """One PDU session's N3 tunnel at the gNB (TS 38.413 §9.3.4.1 / §9.3.4.2)."""

    __slots__ = ("ru", "psi", "dl_teid", "ul_teid", "upf", "qfi", "tun_fd", "tun_name", "rx", "tx",
                 "rx_bytes", "tx_bytes", "ra", "ra_event", "borrowed", "forward", "fwd_in", "fwd_for",
                 "ordering", "timers")

    def __init__(self, ru: Any, psi: int, dl_teid: int, ul_teid: int, upf: tuple[str, int], qfi: int) -> None:
        self.ru = ru
        self.psi = psi
        self.dl_teid = dl_teid
        self.ul_teid = ul_teid
        self.upf = upf
        self.qfi = qfi
        self.tun_fd = -1
        self.tun_name: str | None = None
        self.rx = self.tx = self.rx_bytes = self.tx_bytes = 0
        #: the last Router Advertisement on this session (RFC 4861 §4.2), and who waits for it
        self.ra: icmpv6.RouterAdvertisement | None = None
        self.ra_event: asyncio.Event | None = None
        #: a handover target's prepared tunnel writes to the UE's interface but does not own
        #: it: until the handover commits, tearing it down (the AMF releasing the target's
        #: prepared connection, a cancel) must leave the interface to the source's tunnel
        self.borrowed = False
        #: N2 handover data forwarding (fivecore.ran.forwarding). At the source, after the
        #: command: where the old tunnel's downlink goes instead of the UE
        self.forward: SourceForwarding | None = None
        #: at the target: a session tunnel's DL forwarding tunnel while forwarding may run ...
        self.fwd_in: Tunnel | None = None
        #: ... and a DL forwarding tunnel's session tunnel (whose UE it delivers to)
        self.fwd_for: Tunnel | None = None
        #: a DL forwarding tunnel's ordering of forwarded and fresh downlink
        self.ordering: TargetOrdering | None = None
        #: the asyncio timer handles bounding the forwarding (cancelled when it ends)
        self.timers: list[asyncio.TimerHandle] = []


def _is_router_advertisement(p: bytes) -> bool:
    """An ICMPv6 Router Advertisement without extension headers (RFC 4861 §4.2)."""
    return len(p) >= 48 and p[0] >> 4 == 6 and p[6] == icmpv6.NEXT_HEADER_ICMPV6 \
        and p[40] == icmpv6.ROUTER_ADVERTISEMENT


class _N3(asyncio.DatagramProtocol):
    def __init__(self, up: GnbUserPlane) -> None:
        self.up = up

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.up.on_n3(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("n3 socket error: %s", exc)


class GnbUserPlane:
    """The user-plane half of one simulated gNB (see module docstring).

    ``gnb`` is one N2 endpoint (:class:`fivecore.ran.gnb.Gnb`) or a gNB with an NG connection
    per AMF of an AMF Set (:class:`fivecore.ran.gnb.GnbNode`). A node has one N3 address and
    one TEID space whichever AMF a UE's connection is on (TS 38.413 §9.3.2.2: the gNB's own
    transport address and TEID; the AMF only relays them to the SMF), so the sessions of UEs
    served by any member of the set get their tunnels here, and losing one AMF's association
    drops only the tunnels of the UEs whose NG connection was on it.
    """

    def __init__(self, gnb: Any, n3_address: str = "127.0.0.1", n3_port: int = gtpu.GTPU_PORT) -> None:
        self.gnb = gnb
        #: the N2 endpoints whose PDU Session Resource procedures this user plane serves
        self.links: list[Any] = list(getattr(gnb, "links", None) or [gnb])
        self.n3_address = n3_address
        self.n3_port = n3_port
        self.tunnels: dict[int, Tunnel] = {}
        self.by_session: dict[tuple[int, int], Tunnel] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.on_tunnel_up: Callable[[Tunnel], None] | None = None
        self.on_tunnel_down: Callable[[Tunnel], None] | None = None
        self.stats: dict[str, int] = {}
        self.tap: Callable[[bytes, tuple[str, int], tuple[str, int]], None] | None = None
        self._transfer_templates = TemplateCache(limit=64)
        #: N2 handover data forwarding (fivecore.ran.forwarding): how long a source forwards
        #: and a target keeps its DL forwarding tunnel without an End Marker (TS 38.413
        #: §8.4.1.2 leaves it to the node; TNGRELOCoverall's 10 s is the AMF's own bound), and
        #: how long the target holds fresh downlink waiting for the forwarded packets
        self.forwarding_timeout = 10.0
        self.hold_timeout = 1.0
        #: the :class:`UserPlane` that owns the UEs' interfaces (set by :meth:`UserPlane.add_gnb`)
        self.owner: Any = None
        for link in self.links:
            link.user_plane = self
        if len(self.links) == 1:
            # one AMF: the listener is the bound method itself, as before (no per-PDU closure)
            link = self.links[0]
            link.raw_listeners.append(self.on_ngap)
            link.ics_sessions = self.setup_items
            if hasattr(link, "lost_listeners"):
                link.lost_listeners.append(self.n2_lost)
            return
        for link in self.links:
            link.raw_listeners.append(functools.partial(self.on_ngap, link=link))
            link.ics_sessions = self.setup_items
            link.lost_listeners.append(self.n2_lost)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        sock.bind((self.n3_address, self.n3_port))
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _N3(self), sock=sock)

    def close(self) -> None:
        for t in list(self.tunnels.values()):
            self._remove(t)
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def _new_teid(self) -> int:
        while True:
            teid = secrets.randbits(32)
            if teid and teid not in self.tunnels:
                return teid

    # --- NGAP (TS 38.413 §8.2) -------------------------------------------------------------

    def on_ngap(self, pdu: NgapPdu, link: Any = None) -> None:
        """One NGAP PDU received on ``link`` (the N2 endpoint; None: this gNB's only one)."""
        if pdu.kind != "initiating":
            return
        if link is None:
            link = self.links[0]
        if pdu.procedure == "UEContextRelease":
            # TS 38.413 §8.3.3: the UE's radio connection and its DRBs go; so do its tunnels
            try:
                alt, ids = pdu["UE-NGAP-IDs"]
                ran_id = ids["rAN-UE-NGAP-ID"] if alt == "uE-NGAP-ID-pair" else None
            except (KeyError, TypeError, ValueError):
                return
            ru = link.connected.get(ran_id) if isinstance(ran_id, int) else None
            if ru is not None:
                self.drop_ue(ru)
            return
        try:
            if pdu.procedure == "PDUSessionResourceSetup":
                self._setup(pdu, link)
            elif pdu.procedure == "PDUSessionResourceRelease":
                self._release(pdu, link)
            elif pdu.procedure == "PDUSessionResourceModify":
                self._modify(pdu, link)
        except (DecodeError, EncodeError, KeyError, TypeError, ValueError) as exc:
            self.count("ngap_bad_request")
            log.info("event=gnb_pdu_session_request_bad proc=%s err=%s", pdu.procedure, exc)

    @staticmethod
    def _ru(pdu: NgapPdu, link: Any) -> Any:
        ran_id = pdu.get("RAN-UE-NGAP-ID")
        ru = link.connected.get(ran_id) if isinstance(ran_id, int) else None
        if ru is not None:
            amf_id = pdu.get("AMF-UE-NGAP-ID")
            if isinstance(amf_id, int):
                ru.amf_id = amf_id
        return ru

    @staticmethod
    def _container(v: Any, type_name: str) -> dict[str, Any]:
        """A transfer's IEs whether the codec gave bytes or the already-decoded value."""
        if isinstance(v, bytes | bytearray):
            return ngap.decode_ie(type_name, bytes(v))
        if isinstance(v, tuple) and len(v) == 2:
            return ngap.decode_ie(type_name, ngap.encode_ie(type_name, v[1]))
        raise DecodeError(f"unusable {type_name}", -1, "NGAP")

    def _setup(self, pdu: NgapPdu, link: Any) -> None:
        """TS 38.413 §8.2.1.2: set up the tunnels, hand the NAS PDU to the UE, answer."""
        ru = self._ru(pdu, link)
        if ru is None:
            self.count("setup_unknown_ue")
            return
        ok, failed, nas_pdus = self.setup_items(ru, pdu["PDUSessionResourceSetupListSUReq"], "pDUSessionNAS-PDU")
        n = pdu.get("NAS-PDU")
        if isinstance(n, bytes | bytearray):
            nas_pdus.append(bytes(n))
        ies: dict[str, Any] = {"AMF-UE-NGAP-ID": ru.amf_id, "RAN-UE-NGAP-ID": ru.ran_id}
        if ok:
            ies["PDUSessionResourceSetupListSURes"] = ok
        if failed:
            ies["PDUSessionResourceFailedToSetupListSURes"] = failed
        # the NAS PDU first (RRC Reconfiguration carries it), then the response to the AMF
        for nas_pdu in nas_pdus:
            link._deliver(ru, nas_pdu)
        link.send(self._setup_response(link, ru, ies, ok, failed), link._stream(ru))

    def _setup_response(self, link: Any, ru: Any, ies: dict[str, Any], ok: list[dict[str, Any]],
                        failed: list[dict[str, Any]]) -> bytes:
        """TS 38.413 §9.2.1.2 PDU Session Resource Setup Response. With one session set up
        (the usual case) only the NGAP IDs and the response transfer differ between UEs: a
        template of the gNB's (:meth:`fivecore.ran.gnb.Gnb.templated`) joins them in."""
        templated = getattr(link, "templated", None)
        if templated is None or failed or len(ok) != 1 or ru.amf_id is None or ru.ran_id is None:
            return ngap.encode(NgapPdu("PDUSessionResourceSetup", "successful", ies))
        psi = ok[0]["pDUSessionID"]
        amf_raw, ran_raw = link.encoded_ids(ru.amf_id, ru.ran_id, ru)

        def build(a: bytes, r: bytes, t: bytes) -> bytes:
            return ngap.encode(NgapPdu("PDUSessionResourceSetup", "successful", {
                "AMF-UE-NGAP-ID": ngap.RawIe(_AMF_ID_IE, a), "RAN-UE-NGAP-ID": ngap.RawIe(_RAN_ID_IE, r),
                "PDUSessionResourceSetupListSURes": [{"pDUSessionID": psi,
                                                      "pDUSessionResourceSetupResponseTransfer": t}]}))

        return templated(("PDUSessionResourceSetupResponse", psi), (amf_raw, ran_raw,
                         ok[0]["pDUSessionResourceSetupResponseTransfer"]), build)

    def setup_items(self, ru: Any, items: list[Any], nas_field: str = "nAS-PDU"
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[bytes]]:
        """TS 38.413 §8.2.1.2 / §8.3.1.2: one N3 tunnel per PDU Session Resource Setup item
        (of a PDU Session Resource Setup or an Initial Context Setup Request); returns the
        setup and failed response items and the items' NAS PDUs."""
        ok: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        nas_pdus: list[bytes] = []
        for item in items:
            psi = item["pDUSessionID"]
            try:
                tr = self._container(item["pDUSessionResourceSetupRequestTransfer"],
                                     "PDUSessionResourceSetupRequestTransfer")
                upf_ip, ul_teid = ngap.gtp_tunnel_from(tr["UL-NGU-UP-TNLInformation"])
                qfis = [f["qosFlowIdentifier"] for f in tr.get("QosFlowSetupRequestList") or []]
            except (DecodeError, KeyError, TypeError, ValueError):
                failed.append({"pDUSessionID": psi, "pDUSessionResourceSetupUnsuccessfulTransfer":
                               ngap.encode_ie("PDUSessionResourceSetupUnsuccessfulTransfer",
                                              {"cause": ngap.cause("protocol", "semantic-error")})})
                continue
            old = self.by_session.get((id(ru), psi))
            if old is not None:
                self._remove(old)
            t = Tunnel(ru, psi, self._new_teid(), ul_teid, (upf_ip, gtpu.GTPU_PORT), qfis[0] if qfis else 1)
            self.tunnels[t.dl_teid] = t
            self.by_session[(id(ru), psi)] = t
            self.count("tunnels_created")
            ok.append({"pDUSessionID": psi,
                       "pDUSessionResourceSetupResponseTransfer": self._response_transfer(t.dl_teid, qfis or [1])})
            n = item.get(nas_field)
            if isinstance(n, bytes | bytearray):
                nas_pdus.append(bytes(n))
            if self.on_tunnel_up is not None:
                self.on_tunnel_up(t)
        return ok, failed, nas_pdus

    def _response_transfer(self, teid: int, qfis: list[int]) -> bytes:
        """TS 38.413 §9.3.4.2 PDU Session Resource Setup Response Transfer: this gNB's N3
        address and the new tunnel's TEID for the accepted QoS flows. Only the TEID differs
        between sessions with the same flows: an octet template per flow list
        (:mod:`fivecore.wire.template`) joins it in."""
        def enc(teid_octets: bytes) -> bytes:
            return ngap.encode_ie("PDUSessionResourceSetupResponseTransfer", {"dLQosFlowPerTNLInformation": {
                "uPTransportLayerInformation": ngap.gtp_tunnel(self.n3_address, int.from_bytes(teid_octets, "big")),
                "associatedQosFlowList": [{"qosFlowIdentifier": q} for q in qfis]}})

        return self._transfer_templates.join((self.n3_address, tuple(qfis)), (teid.to_bytes(4, "big"),), enc)

    def _release(self, pdu: NgapPdu, link: Any) -> None:
        """TS 38.413 §8.2.2.2: drop the tunnels, deliver the NAS PDU, answer."""
        ru = self._ru(pdu, link)
        if ru is None:
            self.count("release_unknown_ue")
            return
        done = []
        for item in pdu["PDUSessionResourceToReleaseListRelCmd"]:
            psi = item["pDUSessionID"]
            t = self.by_session.get((id(ru), psi))
            if t is not None:
                self._remove(t)
            done.append({"pDUSessionID": psi, "pDUSessionResourceReleaseResponseTransfer":
                         ngap.encode_ie("PDUSessionResourceReleaseResponseTransfer", {})})
        n = pdu.get("NAS-PDU")
        if isinstance(n, bytes | bytearray):
            link._deliver(ru, bytes(n))
        link.send(ngap.encode(NgapPdu("PDUSessionResourceRelease", "successful", {
            "AMF-UE-NGAP-ID": ru.amf_id, "RAN-UE-NGAP-ID": ru.ran_id,
            "PDUSessionResourceReleasedListRelRes": done})), link._stream(ru))

    def _modify(self, pdu: NgapPdu, link: Any) -> None:
        """TS 38.413 §8.2.3.2: accept the new parameters, deliver the NAS PDU, answer."""
        ru = self._ru(pdu, link)
        if ru is None:
            return
        done = []
        for item in pdu["PDUSessionResourceModifyListModReq"]:
            psi = item["pDUSessionID"]
            done.append({"pDUSessionID": psi, "pDUSessionResourceModifyResponseTransfer":
                         ngap.encode_ie("PDUSessionResourceModifyResponseTransfer", {})})
            n = item.get("nAS-PDU")
            if isinstance(n, bytes | bytearray):
                link._deliver(ru, bytes(n))
        link.send(ngap.encode(NgapPdu("PDUSessionResourceModify", "successful", {
            "AMF-UE-NGAP-ID": ru.amf_id, "RAN-UE-NGAP-ID": ru.ran_id,
            "PDUSessionResourceModifyListModRes": done})), link._stream(ru))

    def _remove(self, t: Tunnel) -> None:
        self.tunnels.pop(t.dl_teid, None)
        if self.by_session.get((id(t.ru), t.psi)) is t:
            del self.by_session[(id(t.ru), t.psi)]
        self.count("tunnels_removed")
        if self.on_tunnel_down is not None:
            self.on_tunnel_down(t)

    def n2_lost(self, gnb: Any, reason: str) -> None:
        """N2 association lost: that AMF has released every UE whose NG connection was on it
        (TS 23.502 §4.2.6), so their tunnels go; UEs that register again get new ones. With
        several AMFs the UEs on the other associations keep theirs."""
        if len(self.links) == 1:
            gone = list(self.tunnels.values())
        else:
            # the gNB dropped these UEs' connections before telling us, but a RanUe keeps
            # the endpoint its last connection was on
            gone = [t for t in self.tunnels.values() if getattr(t.ru, "gnb", None) is gnb]
        for t in gone:
            self._remove(t)
        self.count("tunnels_dropped_on_n2_loss", len(gone))

    def drop_ue(self, ru: Any) -> None:
        """The UE's RRC connection is gone: its tunnels go with it."""
        for key, t in list(self.by_session.items()):
            if key[0] == id(ru):
                self._remove(t)

    # --- datapath (TS 29.281) ---------------------------------------------------------------

    def on_n3(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.tap is not None:
            self.tap(data, addr, (self.n3_address, self.n3_port))
        try:
            teid, qfi, off = gtpu.decap(data)
        except DecodeError:
            self._n3_signalling(data, addr)
            return
        t = self.tunnels.get(teid)
        if t is None:
            # TS 29.281 §7.3.1: Error Indication for an unknown TEID
            self.count("unknown_teid")
            self._send(gtpu.build_error_indication(teid, self.n3_address), addr)
            return
        t.rx += 1
        t.rx_bytes += len(data) - off
        if t.forward is not None or t.fwd_for is not None or t.fwd_in is not None:
            self._n3_forwarding(t, data[off:], qfi)
            return
        if len(data) >= off + 48 and data[off] >> 4 == 6 and data[off + 6] == icmpv6.NEXT_HEADER_ICMPV6 \
                and data[off + 40] == icmpv6.ROUTER_ADVERTISEMENT:
            self._router_advertisement(t, data[off:])
            return
        if t.tun_fd >= 0:
            try:
                os.write(t.tun_fd, data[off:])
            except OSError:
                self.count("tun_write_error")
        else:
            self.count("dl_no_tun")

    def _router_advertisement(self, t: Tunnel, packet: bytes) -> None:
        """RFC 4861 §6.1.2 / TS 23.501 §5.8.2.2.3: the network's advertisement of the
        session's /64; the UE side (:class:`UserPlane`) configures its address from it."""
        try:
            t.ra = icmpv6.decode_router_advertisement(packet)
        except DecodeError:
            self.count("ra_malformed")
            return
        self.count("ra_rx")
        if t.ra_event is not None:
            t.ra_event.set()

    def _n3_signalling(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            m = gtpu.decode(data)
        except DecodeError:
            self.count("n3_malformed")
            return
        if m.msg_type == gtpu.ECHO_REQUEST:
            self._send(gtpu.build_echo_response(m.seq or 0), addr)
        elif m.msg_type == gtpu.ERROR_INDICATION:
            self.count("error_indication_rx")
        elif m.msg_type == gtpu.END_MARKER:
            self.count("end_marker_rx")
            t = self.tunnels.get(m.teid)
            if t is not None and t.forward is not None:
                # the UPF's last packet on the old path: the target learns it the same way
                self._send(t.forward.end_marker(), t.forward.peer)
                self.count("end_marker_forwarded")
                self._stop_forwarding(t)
            elif t is not None and t.fwd_for is not None:
                self._end_forwarding_in(t, "end-marker")

    # --- N2 handover data forwarding (fivecore.ran.forwarding) -----------------------------

    def _later(self, t: Tunnel, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """A timer bounding ``t``'s forwarding (none outside an event loop: plain-call tests)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        t.timers.append(loop.call_later(delay, fn, *args))

    @staticmethod
    def _cancel_timers(t: Tunnel) -> None:
        for h in t.timers:
            h.cancel()
        t.timers.clear()

    def _deliver(self, t: Tunnel, packets: list[bytes]) -> None:
        """Downlink packets to the UE's interface, in order."""
        for p in packets:
            if t.tun_fd < 0:
                self.count("dl_no_tun")
                continue
            try:
                os.write(t.tun_fd, p)
            except OSError:
                self.count("tun_write_error")

    def _n3_forwarding(self, t: Tunnel, payload: bytes, qfi: int) -> None:
        """A G-PDU on a tunnel taking part in forwarding (module fivecore.ran.forwarding):
        the source's old tunnel forwards it, the target's forwarding tunnel delivers it at
        once, the target's new tunnel holds it behind the forwarded ones."""
        if t.forward is not None:
            self._send(t.forward.packet(payload, qfi if qfi >= 0 else None), t.forward.peer)
            self.count("dl_forwarded")
            return
        session = t.fwd_for or t
        if _is_router_advertisement(payload):
            # the network's RA is for the gNB's side of the session, forwarded or not
            self._router_advertisement(session, payload)
            return
        if t.fwd_for is not None:
            assert t.ordering is not None
            self.count("dl_forwarded_rx")
            self._deliver(t.fwd_for, t.ordering.forwarded(payload))
            return
        tf = t.fwd_in
        assert tf is not None and tf.ordering is not None
        o = tf.ordering
        was = len(o.held)
        out = o.fresh(payload)
        if len(o.held) > was:
            self.count("dl_fresh_held")
            if was == 0:
                self._later(tf, self.hold_timeout, self._hold_expired, tf)
        elif o.ended_by == "overflow" and out:
            self.count("dl_ordering_overflow")
        self._deliver(t, out)

    def prepare_forwarding(self, t2: Tunnel) -> int:
        """TS 38.413 §8.4.2.2 / §9.3.4.11 on the target: a DL forwarding tunnel for the
        session prepared in ``t2``; returns its TEID (for dLForwardingUP-TNLInformation)."""
        old = t2.fwd_in
        if old is not None:
            self._drop_forwarding_in(old)
        tf = Tunnel(t2.ru, t2.psi, self._new_teid(), 0, t2.upf, t2.qfi)
        tf.fwd_for, tf.ordering = t2, TargetOrdering()
        t2.fwd_in = tf
        self.tunnels[tf.dl_teid] = tf
        self.count("forwarding_tunnels")
        self._later(tf, self.forwarding_timeout, self._end_forwarding_in, tf, "expired")
        return tf.dl_teid

    def _hold_expired(self, tf: Tunnel) -> None:
        """No End Marker while fresh packets wait: they go to the UE (ordering given up, the
        forwarding tunnel still delivers what comes)."""
        if tf.ordering is not None and tf.ordering.active and tf.fwd_for is not None:
            self.count("dl_ordering_expired")
            self._deliver(tf.fwd_for, tf.ordering.expire())

    def _end_forwarding_in(self, tf: Tunnel, why: str) -> None:
        """The target's forwarding for ``tf``'s session ends (End Marker or expiry): held
        fresh packets go to the UE after all forwarded ones, the tunnel goes."""
        t2 = tf.fwd_for
        if t2 is None or tf.ordering is None:
            return
        held = tf.ordering.end_marker() if why == "end-marker" else tf.ordering.expire()
        self.count("forwarding_end_marker_rx" if why == "end-marker" else "forwarding_expired")
        self._deliver(t2, held)
        self._drop_forwarding_in(tf)

    def _drop_forwarding_in(self, tf: Tunnel) -> None:
        self._cancel_timers(tf)
        if self.tunnels.get(tf.dl_teid) is tf:
            del self.tunnels[tf.dl_teid]
        t2 = tf.fwd_for
        if t2 is not None and t2.fwd_in is tf:
            t2.fwd_in = None
        tf.fwd_for = None

    def start_forwarding(self, t: Tunnel, peer: tuple[str, int]) -> None:
        """TS 23.502 §4.9.1.3.3 / TS 38.300 §9.2.3.2.3 on the source: the UE has left with
        the handover command; the old tunnel ``t`` stays, its downlink now going to the
        target's DL forwarding F-TEID ``peer`` (address, TEID) until the End Marker."""
        t.forward = SourceForwarding(peer[1], (peer[0], gtpu.GTPU_PORT))
        self.tunnels[t.dl_teid] = t
        self.count("forwarding_started")
        self._later(t, self.forwarding_timeout, self._forwarding_expired, t)

    def _forwarding_expired(self, t: Tunnel) -> None:
        self.count("forwarding_expired")
        self._stop_forwarding(t)

    def _stop_forwarding(self, t: Tunnel) -> None:
        self._cancel_timers(t)
        if self.tunnels.get(t.dl_teid) is t:
            del self.tunnels[t.dl_teid]
        t.forward = None

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            if self.tap is not None:
                self.tap(data, (self.n3_address, self.n3_port), addr)
            self.transport.sendto(data, addr)

    def uplink(self, t: Tunnel, packet: bytes) -> None:
        """One IP packet from the UE: GTP-U with a UL PDU Session Container (TS 38.415)."""
        t.tx += 1
        t.tx_bytes += len(packet)
        self._send(gtpu.encap(t.ul_teid, packet, qfi=t.qfi, pdu_type=gtpu.PDU_TYPE_UL), t.upf)


# =============================================================================================
# glue: UEs, sessions, TUN interfaces, namespaces
# =============================================================================================


async def _ip(*args: str, check: bool = True, batch: list[str] | None = None) -> str:
    """Run iproute2; ``batch`` lines go to ``ip -batch -`` (one process for many commands)."""
    if batch is not None:
        args = (*args, "-batch", "-")
    proc = await asyncio.create_subprocess_exec(
        "ip", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.PIPE if batch is not None else None)
    out, err = await proc.communicate("\n".join(batch).encode() + b"\n" if batch is not None else None)
    if check and proc.returncode != 0:
        raise SessionError(f"ip {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


class UserPlane:
    """Sessions of many UEs over one or more gNBs (see module docstring).

    ``use_namespace``: each UE gets the network namespace ``f"{ns_prefix}{index}"`` and its
    session interfaces live there with a default route; without it the interfaces are made in
    the simulator's namespace with the session address only (bind to them, as with UERANSIM).
    """

    def __init__(self, *, use_namespace: bool = True, ns_prefix: str = "fcue", mtu: int = 1400) -> None:
        self.use_namespace = use_namespace
        self.ns_prefix = ns_prefix
        self.mtu = mtu
        self.gnbs: list[GnbUserPlane] = []
        self.ues: dict[int, Any] = {}        # id(ru) -> ru
        self.index: dict[int, int] = {}      # id(ru) -> UE index (namespace name)
        self.namespaces: set[str] = set()
        self._waiters: dict[tuple[int, int], asyncio.Future[UeSession]] = {}
        self._mod_waiters: dict[tuple[int, int], asyncio.Future[UeSession]] = {}
        #: the last released/rejected session per (UE, PSI): a release that lands before
        #: wait_released() is called is still reported with its cause
        self._ended: dict[tuple[int, int], UeSession] = {}
        self._tun_ready: dict[tuple[int, int], asyncio.Future[str]] = {}
        self._tunnels: dict[tuple[int, int], Tunnel] = {}
        self._sessions: dict[tuple[int, int], UeSession] = {}
        self._counter = 0
        self._bg: set[asyncio.Task[Any]] = set()
        self.stats: dict[str, int] = {}
        #: establish again, once the UE is registered anew, the sessions it released locally
        #: when the network had forgotten it (5GMM #9 / #10, :meth:`UeSm.local_release`)
        self.restore_sessions = True
        self.restore_timeout = 30.0

    def count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    async def add_gnb(self, gnb: Any, n3_address: str = "127.0.0.1", n3_port: int = gtpu.GTPU_PORT) -> GnbUserPlane:
        """A user plane for ``gnb``: one N2 endpoint, or a :class:`fivecore.ran.gnb.GnbNode`
        with an NG connection per AMF of a set (one N3 address for all of them)."""
        up = GnbUserPlane(gnb, n3_address, n3_port)
        up.owner = self
        up.on_tunnel_up = self._tunnel_up
        up.on_tunnel_down = self._tunnel_down
        await up.start()
        self.gnbs.append(up)
        for link in up.links:
            if hasattr(link, "listeners"):
                link.listeners.append(self._on_ue_state)
        return up

    def _gnb_up(self, ru: Any) -> GnbUserPlane:
        for up in self.gnbs:
            if up.gnb is ru.gnb or ru.gnb in up.links:
                return up
        raise SessionError("the UE's gNB has no user plane")

    @staticmethod
    def _serving(ru: Any) -> Any:
        """The N2 endpoint for a new NG connection of ``ru``: its gNB's NAS node selection
        (TS 23.501 §6.3.5, :func:`fivecore.ran.gnb.choose_amf`) when it has several AMFs."""
        node = getattr(ru.gnb, "node", None)
        return node.choose(ru) if node is not None else ru.gnb

    def _on_ue_state(self, ru: Any, before: Any, after: Any) -> None:
        """A UE registered anew after the network forgot it: ask for its sessions again."""
        sm = ru.ue.sm
        if (sm is not None and sm.to_restore and after.name == "REGISTERED" and self.restore_sessions
                and id(ru) in self.ues):
            todo, sm.to_restore = sm.to_restore, []
            self._spawn(self._restore(ru, todo))

    async def _restore(self, ru: Any, todo: list[tuple[int, str | None, tuple[int, int | None] | None]]) -> None:
        """TS 24.501 §6.4.1: one PDU Session Establishment per session the UE had."""
        for psi, dnn, snssai in todo:
            try:
                await self.establish(ru, psi, dnn, snssai, self.restore_timeout)
            except SessionError as exc:
                self.count("restore_failed")
                log.info("event=ue_session_restore_failed psi=%d err=%s", psi, exc)
            else:
                self.count("restored")

    def namespace(self, ru: Any) -> str | None:
        if not self.use_namespace:
            return None
        return f"{self.ns_prefix}{self.index[id(ru)]}"

    def enable(self, ru: Any, index: int | None = None) -> UeSm:
        """Give a UE its 5GSM entity (UE index names its namespace)."""
        key = id(ru)
        self.ues[key] = ru
        if index is None:
            index = len(self.index)
            while index in self.index.values():
                index += 1
        self.index[key] = index
        sm = UeSm(lambda ev, s, ru=ru: self._on_sm_event(ru, ev, s))
        ru.ue.sm = sm
        return sm

    # --- sessions ---------------------------------------------------------------------------

    async def establish(self, ru: Any, psi: int = 1, dnn: str | None = "internet",
                        snssai: tuple[int, int | None] | None = (1, None), timeout: float = 15.0,
                        pdu_type: int = 1) -> UeSession:
        """TS 24.501 §6.4.1: establish a session and wait until its interface is up (for
        IPv6 and IPv4v6, ``pdu_type`` 2 and 3, until the Router Advertisement gave the
        interface its global address, TS 23.501 §5.8.2.2.3)."""
        if ru.ue.sm is None:
            self.enable(ru)
        if ru.ran_id is None or ru.amf_id is None:
            await self.connect(ru, timeout)
        key = (id(ru), psi)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[UeSession] = loop.create_future()
        self._waiters[key] = fut
        ready = self._tun_ready.get(key)
        if ready is None or ready.done():
            # a pending one belongs to resume() waiting for this session's interface: the
            # session established again (after a #9 reject) answers it too
            self._tun_ready[key] = loop.create_future()
        sm_pdu = ru.ue.sm.establish(psi, dnn, snssai, pdu_type)
        ru.gnb.uplink_nas(ru, ru.ue.ul_sm(sm_pdu, psi, 1, dnn, snssai))
        try:
            s = await asyncio.wait_for(fut, timeout)
            if s.state != "ACTIVE":
                raise SessionError(f"PDU session {psi} rejected, cause {s.cause}", s.cause)
            await asyncio.wait_for(self._tun_ready[key], timeout)
            return s
        except TimeoutError:
            raise SessionError(f"PDU session {psi}: no answer within {timeout}s") from None
        finally:
            self._waiters.pop(key, None)

    async def connect(self, ru: Any, timeout: float = 15.0) -> None:
        """TS 24.501 §5.6.1: a CM-IDLE UE sends a Service Request to get an NG connection."""
        if ru.ue.guti is None or ru.ue.sec is None:
            raise SessionError("the UE is not registered")
        self._serving(ru).service_request(ru)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while ru.amf_id is None or ru.ue.state.name != "REGISTERED":
            if loop.time() > deadline or ru.ue.state.name == "DEREGISTERED":
                raise SessionError("Service Request not accepted")
            await asyncio.sleep(0.02)

    async def resume(self, ru: Any, psis: frozenset[int] | None = None, timeout: float = 15.0,
                     reg_type: int | None = None) -> None:
        """TS 24.501 §5.6.1.2 b / TS 23.502 §4.2.3.2: a CM-IDLE UE with uplink data sends a
        Service Request naming its PDU sessions in Uplink data status; returns once their
        tunnels and interfaces are back (same addresses). When the AMF no longer knows the UE
        (Service Reject #9, TS 24.501 §5.6.1.5) the sessions are released locally and come
        back, with new addresses, after the new initial registration (the simulator's
        :class:`fivecore.ran.app.RanSim` starts it) -- within the same ``timeout``.

        ``reg_type`` 2 or 3: the UE has a mobility or periodic registration update to do
        anyway (it left its registration area, T3512 ran out), so the Registration Request
        carries the Uplink data status instead (TS 24.501 §5.5.1.3.2) and the user planes
        come back with the Registration Accept (TS 23.502 §4.2.2.2.2), no Service Request.
        A session the network no longer holds is released by the Accept's PDU session status
        and established again (as after a Service Accept that names it inactive)."""
        if ru.ue.guti is None or ru.ue.sec is None or ru.ue.sm is None:
            raise SessionError("the UE is not registered")
        if reg_type is not None and reg_type not in (2, 3):
            raise SessionError("only a mobility (2) or periodic (3) registration update carries uplink data status")
        psis = frozenset(ru.ue.sm.sessions) if psis is None else psis
        loop = asyncio.get_running_loop()
        waits = []
        for psi in psis:
            fut: asyncio.Future[str] = loop.create_future()
            self._tun_ready[(id(ru), psi)] = fut
            waits.append(fut)
        if reg_type is not None:
            ru.ue.uplink_pending = psis
            self._serving(ru).register(ru, False, reg_type)
        else:
            self._serving(ru).service_request(ru, service_type=1, uplink_data=psis)
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            raise SessionError(f"user plane of {sorted(psis)} not back within {timeout}s") from None

    async def release(self, ru: Any, psi: int = 1, timeout: float = 15.0) -> UeSession:
        """TS 24.501 §6.4.3: UE-requested release; waits for the Release Command."""
        return await self._ue_requested(ru, psi, ru.ue.sm.release, self._waiters, "release", timeout)

    async def modify(self, ru: Any, psi: int = 1, timeout: float = 15.0) -> UeSession:
        """TS 24.501 §6.4.2: UE-requested modification; waits for the Modification Command."""
        return await self._ue_requested(ru, psi, ru.ue.sm.modify, self._mod_waiters, "modification", timeout)

    async def _ue_requested(self, ru: Any, psi: int, build: Any, waiters: dict[Any, Any],
                            what: str, timeout: float) -> UeSession:
        """Send the UE's 5GSM request for ``psi`` and wait for the network's answer."""
        key = (id(ru), psi)
        fut: asyncio.Future[UeSession] = asyncio.get_running_loop().create_future()
        waiters[key] = fut
        ru.gnb.uplink_nas(ru, ru.ue.ul_sm(build(psi), psi))
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise SessionError(f"PDU session {psi}: {what} not answered within {timeout}s") from None
        finally:
            waiters.pop(key, None)

    async def wait_released(self, ru: Any, psi: int = 1, timeout: float = 30.0) -> UeSession:
        """Wait for a network-requested release of the session (e.g. after a UPF restart)."""
        key = (id(ru), psi)
        if psi not in ru.ue.sm.sessions:
            return self._ended.get(key) or UeSession(psi, None, None)
        fut: asyncio.Future[UeSession] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiters.pop(key, None)

    def session(self, ru: Any, psi: int = 1) -> UeSession | None:
        return ru.ue.sm.sessions.get(psi) if ru.ue.sm is not None else None

    def interface(self, ru: Any, psi: int = 1) -> str | None:
        t = self._tunnels.get((id(ru), psi))
        return t.tun_name if t is not None else None

    def tunnel(self, ru: Any, psi: int = 1) -> Tunnel | None:
        return self._tunnels.get((id(ru), psi))

    def _on_sm_event(self, ru: Any, ev: str, s: UeSession) -> None:
        key = (id(ru), s.psi)
        self.count(ev)
        if ev == EV_ESTABLISHED:
            self._sessions[key] = s
            self._ended.pop(key, None)
            t = self._tunnels.get(key)
            if t is not None:
                self._spawn(self._make_tun(ru, t, s))
        elif ev in (EV_RELEASED, EV_REJECTED):
            self._sessions.pop(key, None)
            self._ended[key] = s
        waiters = self._mod_waiters if ev == EV_MODIFIED else self._waiters
        fut = waiters.get(key)
        if fut is not None and not fut.done():
            fut.set_result(s)

    def _tunnel_up(self, t: Tunnel) -> None:
        key = (id(t.ru), t.psi)
        self._tunnels[key] = t
        s = self._sessions.get(key)
        # TS 24.501 §5.6.1.4.1 / TS 23.502 §4.2.3.2 step 12: the user plane of every session
        # the Service Accept kept comes back, including one whose UE-requested modification or
        # release is still pending (its state is MODIFICATION / INACTIVE PENDING, not ACTIVE,
        # yet the session and its address are unchanged): without its interface the UE could
        # never send on it, and the Service Request's user plane would never be "back"
        if s is not None and s.established and t.tun_fd < 0:
            self._spawn(self._make_tun(t.ru, t, s))

    def _tunnel_down(self, t: Tunnel) -> None:
        key = (id(t.ru), t.psi)
        if self._tunnels.get(key) is t:
            del self._tunnels[key]
        self._close_tun(t)

    # --- Xn handover (fivecore.ran.handover) -----------------------------------------------------

    def prepare_handover(self, ru: Any, target: GnbUserPlane) -> list[tuple[Tunnel, Tunnel]]:
        """TS 23.502 §4.9.1.2.2 (preparation over Xn): the target gNB gets a tunnel with a
        downlink TEID of its own for each of the UE's sessions, writing to the UE's interface,
        so downlink the UPF switches there early is delivered. Returns (old, new) pairs; the
        old ones keep carrying the uplink until :meth:`commit_handover`."""
        pairs = []
        for (key_ru, psi), t in list(self._tunnels.items()):
            if key_ru != id(ru):
                continue
            t2 = Tunnel(ru, psi, target._new_teid(), t.ul_teid, t.upf, t.qfi)
            t2.tun_fd, t2.tun_name, t2.ra = t.tun_fd, t.tun_name, t.ra
            t2.borrowed = True
            target.tunnels[t2.dl_teid] = t2
            target.by_session[(id(ru), psi)] = t2
            target.count("tunnels_handover_in")
            pairs.append((t, t2))
        return pairs

    def commit_handover(self, ru: Any, source: GnbUserPlane, target: GnbUserPlane,
                        pairs: list[tuple[Tunnel, Tunnel]], released: frozenset[int],
                        uplink: dict[int, tuple[str, int]],
                        forwarding: dict[int, tuple[str, int]] | None = None) -> None:
        """The Path Switch Request Acknowledge (or N2 HANDOVER COMMAND) came: the UE's
        interfaces now send through the target's tunnels (``uplink``: PSI -> the UPF's N3
        address and TEID from each Path Switch Request Acknowledge Transfer), the source
        forgets its tunnels, and the sessions in ``released`` lose their user plane (their
        interface goes). ``forwarding``: PSI -> the target's DL forwarding F-TEID of an N2
        handover's Handover Command Transfer; those old tunnels stay at the source to
        forward their downlink (:meth:`start_forwarding`) instead of being forgotten."""
        loop = asyncio.get_running_loop()
        for t, t2 in pairs:
            key = (id(ru), t.psi)
            if t.psi in released:
                self._abort_one(target, t2)
                source._remove(t)  # closes the session's interface
                continue
            if t.psi in uplink:
                ip, teid = uplink[t.psi]
                t2.ul_teid, t2.upf = teid, (ip, gtpu.GTPU_PORT)
            if t.tun_fd >= 0:
                with contextlib.suppress(Exception):
                    loop.remove_reader(t.tun_fd)
                loop.add_reader(t.tun_fd, self._tun_readable, target, t2)
            t2.ra_event = t.ra_event
            # the interface is the new tunnel's now: the source's removal must not close it
            t2.tun_fd, t2.tun_name, t2.borrowed = t.tun_fd, t.tun_name, False
            t.tun_fd, t.tun_name = -1, None
            source.tunnels.pop(t.dl_teid, None)
            if forwarding and t.psi in forwarding:
                source.start_forwarding(t, forwarding[t.psi])
            if source.by_session.get(key) is t:
                del source.by_session[key]
            source.count("tunnels_handover_out")
            self._tunnels[key] = t2

    def abort_handover(self, target: GnbUserPlane, pairs: list[tuple[Tunnel, Tunnel]]) -> None:
        """The path switch failed: the target's prepared tunnels go, the UE's interfaces stay."""
        for _t, t2 in pairs:
            self._abort_one(target, t2)

    @staticmethod
    def _abort_one(target: GnbUserPlane, t2: Tunnel) -> None:
        t2.tun_fd = -1  # never the target's to close
        if t2.fwd_in is not None:
            target._drop_forwarding_in(t2.fwd_in)
        target.tunnels.pop(t2.dl_teid, None)
        if target.by_session.get((id(t2.ru), t2.psi)) is t2:
            del target.by_session[(id(t2.ru), t2.psi)]

    # --- TUN and namespaces --------------------------------------------------------------------

    async def _ensure_ns(self, ns: str) -> None:
        if ns in self.namespaces:
            return
        self.namespaces.add(ns)
        if os.path.exists(f"/run/netns/{ns}"):
            await _ip("netns", "del", ns, check=False)  # left over from an earlier run
        await _ip("netns", "add", ns)

    async def _make_tun(self, ru: Any, t: Tunnel, s: UeSession) -> None:
        """One TUN per PDU session, moved into the UE's namespace, address and default route."""
        from fivecore.transport.tun import open_tun

        key = (id(ru), s.psi)
        ready = self._tun_ready.get(key)
        if t.tun_fd >= 0 or (s.ipv4 is None and s.ipv6_iid is None):
            return
        self._counter += 1
        name = f"fcs{self.index.get(id(ru), 0)}p{s.psi}"
        if len(name) > 15:
            name = f"fcs{self._counter}"
        try:
            if os.path.exists(f"/sys/class/net/{name}"):
                await _ip("link", "del", name, check=False)
            fd = open_tun(name)
            t.tun_fd, t.tun_name = fd, name
            ns = self.namespace(ru)
            pre: tuple[str, ...] = ()
            cmds = [f"link set {name} mtu {max(self.mtu, 1280) if s.ipv6_iid else self.mtu} up"]
            if s.ipv4 is not None:
                cmds.append(f"addr add {s.ipv4}/32 dev {name}")
            if s.ipv6_iid is not None:
                # RFC 4291 §2.5.6 / TS 23.501 §5.8.2.2.3: the link-local address is built from
                # the interface identifier in the PDU address; the kernel makes none of its own
                ll = ipaddress.IPv6Address(icmpv6.link_local(s.ipv6_iid))
                cmds[0:0] = [f"link set {name} addrgenmode none"]
                cmds.append(f"addr add {ll}/64 dev {name} nodad")
            if ns is not None:
                await self._ensure_ns(ns)
                await _ip("link", "set", name, "netns", ns)
                pre = ("-n", ns)
                cmds = ["link set lo up", *cmds]
                if s.ipv4 is not None:
                    cmds.append(f"route replace default dev {name}")
            await _ip(*pre, batch=cmds)
            if self._tunnels.get(key) is not t:  # released meanwhile
                self._close_tun(t)
                return
            loop = asyncio.get_running_loop()
            up = self._gnb_up(ru)
            loop.add_reader(fd, self._tun_readable, up, t)
            if s.ipv6_iid is not None:
                await self._ipv6_autoconf(up, t, s, pre)
            self.count("tun_up")
            if ready is not None and not ready.done():
                ready.set_result(name)
        except Exception as exc:  # noqa: BLE001 - reported to the waiter, never raised in a callback
            log.warning("event=ue_tun_failed name=%s err=%s", name, exc)
            self._close_tun(t)
            if ready is not None and not ready.done():
                ready.set_exception(SessionError(f"TUN for session {s.psi}: {exc}"))

    async def _ipv6_autoconf(self, up: GnbUserPlane, t: Tunnel, s: UeSession, pre: tuple[str, ...],
                             tries: int = 8, interval: float = 1.0) -> None:
        """TS 23.501 §5.8.2.2.3, RFC 4862 §5.5.3: wait for the network's Router
        Advertisement (soliciting one, RFC 4861 §6.3.7, when it is not there yet), then give
        the TUN prefix + interface identifier and an IPv6 default route."""
        assert s.ipv6_iid is not None
        if t.ra_event is None:
            t.ra_event = asyncio.Event()
        rs = icmpv6.router_solicitation(icmpv6.link_local(s.ipv6_iid))

        def prefix() -> ipaddress.IPv6Network | None:
            # RFC 4862 §5.5.3: an autonomous prefix of the interface identifier's length
            ra = t.ra
            return next((p.prefix for p in ra.prefixes if p.autonomous and p.prefix.prefixlen == 64),
                        None) if ra is not None else None

        for _ in range(tries):
            if prefix() is not None:
                break
            t.ra_event.clear()
            up.uplink(t, rs)
            self.count("rs_tx")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(t.ra_event.wait(), interval)
        net = prefix()
        if net is None:
            raise SessionError(f"PDU session {s.psi}: no Router Advertisement with a /64 prefix")
        addr = ipaddress.IPv6Address(int(net.network_address) | int.from_bytes(s.ipv6_iid, "big"))
        name = t.tun_name
        assert name is not None
        cmds = [f"addr add {addr}/64 dev {name} nodad"]
        if pre:
            cmds.append(f"route replace ::/0 dev {name}")
        await _ip(*pre, batch=cmds)
        await self._ra_options(t, s, name, pre)
        s.ipv6 = str(addr)
        self.count("ipv6_configured")
        log.info("event=ue_ipv6_configured psi=%d interface=%s address=%s mtu=%s dns=%s", s.psi, name, addr,
                 s.ipv6_mtu, ",".join(s.ipv6_dns) or "-")

    async def _ra_options(self, t: Tunnel, s: UeSession, name: str, pre: tuple[str, ...]) -> None:
        """Record the Router Advertisement's MTU (RFC 4861 §4.6.4) and DNS servers (RFC 8106
        §5.1) in the session, and use the MTU as a host does (RFC 4861 §6.3.4): a value below
        1280 is ignored, one below the interface's own MTU becomes the interface's IPv6 MTU
        (the per-device sysctl, so an IPv4v6 session's IPv4 MTU stays the one PCO gave)."""
        ra = t.ra
        if ra is None:
            return
        if ra.dns_lifetime != 0:  # RFC 8106 §5.1: lifetime 0 means "no longer use these"
            s.ipv6_dns = [str(a) for a in ra.dns]
        if ra.mtu is None:
            return
        if ra.mtu < icmpv6.MIN_MTU:
            self.count("ra_mtu_ignored")
            return
        s.ipv6_mtu = ra.mtu
        if ra.mtu >= max(self.mtu, icmpv6.MIN_MTU):  # never above the interface's own MTU
            return
        # /proc/sys as the namespace sees it; sh, not sysctl(8): procps is not always installed
        write = ["sh", "-c", 'echo "$1" > "$2"', "sh", str(ra.mtu), f"/proc/sys/net/ipv6/conf/{name}/mtu"]
        argv = ["ip", "netns", "exec", pre[1], *write] if pre else write
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE)
        err = (await proc.communicate())[1]
        if proc.returncode != 0:
            raise SessionError(f"IPv6 MTU {ra.mtu} on {name}: {err.decode().strip()}")

    def _tun_readable(self, up: GnbUserPlane, t: Tunnel) -> None:
        fd = t.tun_fd
        for _ in range(64):
            try:
                pkt = os.read(fd, 65535)
            except BlockingIOError:
                return
            except OSError:
                self._close_tun(t)
                return
            if not pkt:
                return
            up.uplink(t, pkt)

    def _close_tun(self, t: Tunnel) -> None:
        if t.borrowed:  # the interface belongs to the UE's current tunnel (see Tunnel.borrowed)
            t.tun_fd = -1
            return
        if t.tun_fd >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(t.tun_fd)
            with contextlib.suppress(OSError):
                os.close(t.tun_fd)  # a non-persistent TUN disappears with its last descriptor
            t.tun_fd = -1

    async def close(self) -> None:
        """Close every interface, socket and namespace this user plane made."""
        for t in list(self._tunnels.values()):
            self._close_tun(t)
        for up in self.gnbs:
            up.close()
        for task in list(self._bg):
            task.cancel()
        for ns in list(self.namespaces):
            await _ip("netns", "del", ns, check=False)
        self.namespaces.clear()
