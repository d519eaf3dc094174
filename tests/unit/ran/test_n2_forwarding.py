"""Direct data forwarding of an N2 handover in the simulator (TS 23.502 §4.9.1.3.2-3, TS 38.300
§9.2.3.2.3, TS 38.413 §9.3.4.10-11, TS 29.281 §7.3.2), by plain calls: the sans-I/O ordering
and forwarding of :mod:`fivecore.ran.forwarding`, then two gNB user planes with real GTP-U
octets handed between them by the test (no sockets: a datagram socketpair stands in for the
UE's TUN, so every packet the UE gets is read back in order)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from fivecore.ran import n2_handover as ran
from fivecore.ran.forwarding import SourceForwarding, TargetOrdering
from fivecore.ran.userplane import GnbUserPlane, Tunnel, UserPlane
from fivecore.wire import gtpu, ngap

GNB_A, GNB_B, UPF = "127.0.0.1", "127.0.0.2", ("127.0.0.7", 2152)


def pkt(n: int) -> bytes:
    """A recognisable downlink IP packet (the UE only sees payloads)."""
    return bytes([0x45, 0, 0, 24]) + n.to_bytes(4, "big") + bytes(16)


# --- sans-I/O ----------------------------------------------------------------------------------


def test_target_delivers_forwarded_before_fresh() -> None:
    o = TargetOrdering()
    assert o.forwarded(pkt(1)) == [pkt(1)]
    assert o.fresh(pkt(10)) == [] and o.fresh(pkt(11)) == []  # the new path waits ...
    assert o.forwarded(pkt(2)) == [pkt(2)]                    # ... behind what is forwarded
    assert o.end_marker() == [pkt(10), pkt(11)] and o.ended_by == "end-marker"
    assert o.fresh(pkt(12)) == [pkt(12)] and o.end_marker() == []


def test_target_gives_up_ordering_not_packets() -> None:
    o = TargetOrdering(limit=2)
    assert o.fresh(pkt(1)) == [] and o.fresh(pkt(2)) == []
    assert o.fresh(pkt(3)) == [pkt(1), pkt(2), pkt(3)] and o.ended_by == "overflow"
    o = TargetOrdering()
    o.fresh(pkt(1))
    assert o.expire() == [pkt(1)] and o.ended_by == "expired" and o.fresh(pkt(2)) == [pkt(2)]


def test_source_forwards_real_gtpu_then_the_end_marker() -> None:
    f = SourceForwarding(0x3001, (GNB_B, 2152))
    g = f.packet(pkt(7), 5)
    teid, qfi, off = gtpu.decap(g)
    assert (teid, qfi, g[off:]) == (0x3001, 5, pkt(7))
    em = gtpu.decode(f.end_marker())
    assert em.msg_type == gtpu.END_MARKER and em.teid == 0x3001 and f.ended and f.forwarded == 1


def test_ngap_forwarding_ies_both_ways() -> None:
    """The target offers a forwarding tunnel only when the setup transfer allows it; the source
    takes one from the command only when it is usable (else: no forwarding, no failure)."""
    assert ngap.decode_ie("HandoverRequiredTransfer", ran.required_transfer()) == {
        "directForwardingPathAvailability": "direct-path-available"}
    assert ngap.decode_ie("HandoverRequiredTransfer", ran.required_transfer(False)) == {}
    assert ran.forwarding_allowed({"DirectForwardingPathAvailability": "direct-path-available"})
    assert not ran.forwarding_allowed({})
    assert not ran.forwarding_allowed({"DirectForwardingPathAvailability": "direct-path-available",
                                       "DataForwardingNotPossible": "data-forwarding-not-possible"})
    ack = ngap.decode_ie("HandoverRequestAcknowledgeTransfer", ran.request_acknowledge_transfer(GNB_B, 0x2001, 1, 0x3001))
    assert ngap.gtp_tunnel_from(ack["dLForwardingUP-TNLInformation"]) == (GNB_B, 0x3001)
    assert ack["qosFlowSetupResponseList"] == [{"qosFlowIdentifier": 1,
                                                "dataForwardingAccepted": "data-forwarding-accepted"}]

    def command(*transfers: bytes) -> Any:
        return ngap.decode(ngap.encode(ngap.NgapPdu("HandoverPreparation", "successful", {
            "AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": 2, "HandoverType": "intra5gs",
            "PDUSessionResourceHandoverList": [{"pDUSessionID": i + 1, "handoverCommandTransfer": t}
                                               for i, t in enumerate(transfers)],
            "TargetToSource-TransparentContainer": ran.target_to_source_container()})))

    def transfer(tnl: Any, flows: tuple[int, ...] = (1,)) -> bytes:
        ies: dict[str, Any] = {"dLForwardingUP-TNLInformation": tnl}
        if flows:
            ies["qosFlowToBeForwardedList"] = [{"qosFlowIdentifier": q} for q in flows]
        return ngap.encode_ie("HandoverCommandTransfer", ies)

    cmd = command(transfer(ngap.gtp_tunnel(GNB_B, 0x3001)), ngap.encode_ie("HandoverCommandTransfer", {}),
                  transfer(ngap.gtp_tunnel("::1", 9)), transfer(ngap.gtp_tunnel(GNB_B, 0)), b"\xff\x00",
                  transfer(ngap.gtp_tunnel(GNB_B, 0x3006), ()))
    assert ran.command_forwarding(cmd) == {1: (GNB_B, 0x3001)}


# --- two gNB user planes -----------------------------------------------------------------------


class FakeGnb:  # only what GnbUserPlane hooks into
    def __init__(self) -> None:
        self.raw_listeners: list[Any] = []
        self.lost_listeners: list[Any] = []
        self.ics_sessions: Any = None


class Wire:
    """A gNB's N3 socket: what it sends is kept for the test to deliver."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))

    def take(self) -> list[tuple[bytes, tuple[str, int]]]:
        out, self.sent = self.sent, []
        return out

    def close(self) -> None:
        pass


class Net:
    """gNB A (source) and B (target) user planes and a UE with one session on A."""

    def __init__(self) -> None:
        self.owner = UserPlane(use_namespace=False)
        self.a = GnbUserPlane(FakeGnb(), GNB_A)
        self.b = GnbUserPlane(FakeGnb(), GNB_B)
        self.wa, self.wb = Wire(), Wire()
        self.a.transport, self.b.transport = self.wa, self.wb  # type: ignore[assignment]
        for up in (self.a, self.b):
            up.owner = self.owner
            self.owner.gnbs.append(up)
        self.ru = object()
        self.ue_side, tun = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ue_side.setblocking(False)
        self.tun = tun
        t = Tunnel(self.ru, 1, 0x1001, 0x42, UPF, 1)
        t.tun_fd = tun.fileno()
        self.a.tunnels[t.dl_teid] = t
        self.a.by_session[(id(self.ru), 1)] = t
        self.owner._tunnels[(id(self.ru), 1)] = t
        self.t = t

    def received(self) -> list[bytes]:
        """Every packet the UE's interface got so far, in order."""
        out = []
        while True:
            try:
                out.append(self.ue_side.recv(65535))
            except BlockingIOError:
                return out

    def relay(self, wire: Wire, to: GnbUserPlane) -> None:
        """What one gNB sent over N3 arrives at the other."""
        for data, addr in wire.take():
            assert addr == (to.n3_address, 2152)
            to.on_n3(data, addr)

    def close(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        loop.remove_reader(self.tun.fileno())
        for up in (self.a, self.b):
            for t in list(up.tunnels.values()):
                GnbUserPlane._cancel_timers(t)
        self.ue_side.close()
        self.tun.close()


@pytest.fixture()
async def net() -> Any:
    n = Net()
    yield n
    n.close()


def downlink(up: GnbUserPlane, teid: int, n: int) -> None:
    """A G-PDU from the UPF, as the UPF marks it (DL PDU Session Container, QFI 1)."""
    up.on_n3(gtpu.encap(teid, pkt(n), qfi=1), UPF)


async def test_downlink_during_the_handover_arrives_in_order(net: Net) -> None:
    a, b = net.a, net.b
    downlink(a, 0x1001, 1)                        # before the command: straight to the UE
    pairs = net.owner.prepare_handover(net.ru, b)  # HANDOVER REQUEST at B ...
    (t, t2), = pairs
    fwd = b.prepare_forwarding(t2)                 # ... with a DL forwarding tunnel
    # HANDOVER COMMAND: the UE moves, A forwards what still reaches it
    net.owner.commit_handover(net.ru, a, b, pairs, frozenset(), {1: UPF}, {1: (GNB_B, fwd)})
    downlink(a, 0x1001, 2)
    downlink(a, 0x1001, 3)
    assert net.received() == [pkt(1)]
    sent = net.wa.sent[:]
    assert [gtpu.decap(d)[:2] for d, _ in sent] == [(fwd, 1), (fwd, 1)], "real G-PDUs, QFI kept"
    # the UPF switches (hoState COMPLETED): fresh packets on B's new tunnel overtake the
    # forwarded ones, which are still on their way from A
    downlink(b, t2.dl_teid, 10)
    downlink(b, t2.dl_teid, 11)
    assert net.received() == [], "fresh downlink waits for the forwarded packets"
    net.relay(net.wa, b)
    assert net.received() == [pkt(2), pkt(3)]
    # the UPF's End Marker on the old path: A passes it on and stops; B lets the fresh ones go
    a.on_n3(gtpu.build_end_marker(0x1001), UPF)
    (em, _), = net.wa.sent
    assert gtpu.decode(em).msg_type == gtpu.END_MARKER and gtpu.decode(em).teid == fwd
    assert 0x1001 not in a.tunnels and a.stats["end_marker_forwarded"] == 1
    net.relay(net.wa, b)
    assert net.received() == [pkt(10), pkt(11)]
    assert fwd not in b.tunnels and t2.fwd_in is None
    downlink(b, t2.dl_teid, 12)
    assert net.received() == [pkt(12)]
    assert a.stats["dl_forwarded"] == 2 and b.stats["dl_forwarded_rx"] == 2 and b.stats["dl_fresh_held"] == 2
    # a late packet on the forwarding tunnel finds no tunnel (TS 29.281 §7.3.1)
    b.on_n3(gtpu.encap(fwd, pkt(99), qfi=1), (GNB_A, 2152))
    assert net.received() == [] and b.stats["unknown_teid"] == 1


async def test_without_forwarding_the_source_drops_what_still_reaches_it(net: Net) -> None:
    """The old behaviour, still there when the command names no forwarding tunnel."""
    pairs = net.owner.prepare_handover(net.ru, net.b)
    net.owner.commit_handover(net.ru, net.a, net.b, pairs, frozenset(), {1: UPF})
    downlink(net.a, 0x1001, 2)
    assert net.received() == [] and net.a.stats["unknown_teid"] == 1
    assert gtpu.decode(net.wa.sent[0][0]).msg_type == gtpu.ERROR_INDICATION


async def test_cancel_removes_the_forwarding_tunnel_and_expiry_lets_fresh_go(net: Net) -> None:
    pairs = net.owner.prepare_handover(net.ru, net.b)
    (_t, t2), = pairs
    fwd = net.b.prepare_forwarding(t2)
    net.owner.abort_handover(net.b, pairs)  # HANDOVER CANCEL / a failed preparation
    assert fwd not in net.b.tunnels and t2.fwd_in is None
    # a committed handover whose End Marker never comes: the held packets still go
    pairs = net.owner.prepare_handover(net.ru, net.b)
    (_t, t2), = pairs
    fwd = net.b.prepare_forwarding(t2)
    net.owner.commit_handover(net.ru, net.a, net.b, pairs, frozenset(), {1: UPF}, {1: (GNB_B, fwd)})
    downlink(net.b, t2.dl_teid, 10)
    assert net.received() == []
    tf = t2.fwd_in
    assert tf is not None and len(tf.timers) == 2  # the tunnel's lifetime and the hold
    net.b._hold_expired(tf)                        # what the hold timer does when it fires
    assert net.received() == [pkt(10)]
    downlink(net.b, t2.dl_teid, 11)
    assert net.received() == [pkt(11)]
    net.b._end_forwarding_in(tf, "expired")        # the tunnel's lifetime
    assert fwd not in net.b.tunnels and not tf.timers
    net.a._forwarding_expired(net.t)               # the source gives up too
    assert 0x1001 not in net.a.tunnels and net.t.forward is None



async def test_a_forwarded_router_advertisement_reaches_the_session_not_the_tun(net: Net) -> None:
    """An IPv6 session's RA (RFC 4861 §4.2) forwarded with the downlink is taken by the target
    for the session, as one on the N3 tunnel is, never written to the UE's interface."""
    from fivecore.wire import icmpv6

    pairs = net.owner.prepare_handover(net.ru, net.b)
    (_t, t2), = pairs
    fwd = net.b.prepare_forwarding(t2)
    net.owner.commit_handover(net.ru, net.a, net.b, pairs, frozenset(), {1: UPF}, {1: (GNB_B, fwd)})
    ra = icmpv6.router_advertisement(icmpv6.link_local(bytes(7) + b"\x01"), icmpv6.link_local(bytes(7) + b"\x02"),
                                     0x20010DB800000001)
    net.a.on_n3(gtpu.encap(0x1001, ra, qfi=1), UPF)
    net.relay(net.wa, net.b)
    assert net.received() == [] and net.b.stats["ra_rx"] == 1 and t2.ra is not None
