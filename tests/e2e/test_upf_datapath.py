"""The UPF's forwarding loop driven directly: real UDP sockets on loopback for N3 and a
datagram socket pair standing where the TUN descriptor goes (one packet per read/write,
as TUN with IFF_NO_PI). No root needed; the TUN itself is covered by test_upf_e2e.py.
Each test calls ``drain_n3``/``drain_tun`` (and ``release_shaped``) itself with a fake
clock, so no thread or timing is involved."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from fivecore.nf.upf import procedures as P
from fivecore.nf.upf.context import (
    AA_BUFF,
    AA_DROP,
    AA_FORW,
    AA_NOCP,
    IF_ACCESS,
    IF_CORE,
    Far,
    Pdr,
    Qer,
    UpfContext,
    Urr,
    ipv4_to_int,
)
from fivecore.nf.upf.datapath import Datapath
from fivecore.wire import gtpu

UE = "10.45.0.2"
DN = "10.46.0.9"
CP = "127.0.0.4"


def ip_udp(src: str, dst: str, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", 4000, 9000, 8 + len(payload), 0) + payload
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + udp


class Rig:
    def __init__(self) -> None:
        self.ctx = UpfContext("127.0.0.1")
        self.n3 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.n3.bind(("127.0.0.1", 0))
        self.gnb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.gnb.bind(("127.0.0.1", 0))
        self.gnb.settimeout(1.0)
        self.tun_upf, self.tun_host = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.tun_host.settimeout(1.0)
        self.now = 100.0
        self.control: list[tuple[bytes, tuple[str, int]]] = []
        self.unknown: list[int] = []
        self.dp = Datapath(self.ctx, self.n3, self.tun_upf.fileno(),
                           on_n3_control=lambda d, a: self.control.append((d, a)),
                           on_unknown_teid=lambda t, a: self.unknown.append(t),
                           clock=lambda: self.now)
        P.associate(self.ctx, CP, 1, (CP, 8805), now=0.0)

    def session(self, *, far_dl: int = AA_FORW, mbr_kbps: int | None = None,
                ambr_kbps: int | None = None,
                threshold: int | None = None, extra_pdrs: list[Pdr] | None = None,
                extra_fars: list[Far] | None = None) -> P.SessionResult:
        ue = ipv4_to_int(UE)
        urr = Urr(1)
        urr.threshold_total = threshold
        # QER 1: the QoS flow's MBR; QER 2 (optional): the session AMBR, shared (§5.4).
        qers = [Qer(1, qfi=1, mbr_ul_kbps=mbr_kbps, mbr_dl_kbps=mbr_kbps)]
        if ambr_kbps:
            qers.append(Qer(2, mbr_ul_kbps=ambr_kbps, mbr_dl_kbps=ambr_kbps))
        qer_ids = [q.qer_id for q in qers]
        ch = P.SessionChanges(
            create_pdrs=[Pdr(1, 10, IF_ACCESS, teid=0x100, ue_ipv4=ue, qfi=1, far_id=1,
                             qer_ids=qer_ids, urr_ids=[1]),
                         Pdr(2, 10, IF_CORE, ue_ipv4=ue, far_id=2, qer_ids=qer_ids,
                             urr_ids=[1]),
                         *(extra_pdrs or [])],
            create_fars=[Far(1, AA_FORW, IF_CORE),
                         Far(2, far_dl, IF_ACCESS, ohc_teid=0x2000, ohc_ipv4="127.0.0.1",
                             ohc_port=self.gnb.getsockname()[1]),
                         *(extra_fars or [])],
            create_qers=qers,
            create_urrs=[urr])
        return P.establish_session(self.ctx, CP, 1, CP, ch, now=self.now)

    def uplink(self, data: bytes) -> int:
        self.gnb.sendto(data, self.n3.getsockname())
        return self.dp.drain_n3()

    def n6_out(self) -> bytes:
        return self.tun_host.recv(65535)

    def n6_empty(self) -> bool:
        self.tun_host.settimeout(0.05)
        try:
            self.tun_host.recv(65535)
        except TimeoutError:
            return True
        finally:
            self.tun_host.settimeout(1.0)
        return False

    def close(self) -> None:
        self.dp.stop()
        for s in (self.n3, self.gnb, self.tun_upf, self.tun_host):
            s.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    r = Rig()
    yield r
    r.close()


def test_uplink_with_pdu_session_container(rig: Rig) -> None:
    rig.session()
    inner = ip_udp(UE, DN, b"payload")
    assert rig.uplink(gtpu.encap(0x100, inner, qfi=1, pdu_type=gtpu.PDU_TYPE_UL)) == 1
    assert rig.n6_out() == inner
    m = rig.ctx.metrics
    assert (m.n3_in_pkts, m.n6_out_pkts, m.n3_in_bytes) == (1, 1, len(inner))


def test_uplink_plain_header(rig: Rig) -> None:
    rig.session()
    inner = ip_udp(UE, DN, b"x" * 100)
    rig.uplink(gtpu.encap(0x100, inner))
    assert rig.n6_out() == inner


def test_unknown_comprehension_required_extension_is_dropped(rig: Rig) -> None:
    rig.session()
    inner = ip_udp(UE, DN, b"x")
    # E flag, next extension 0x81 (comprehension required, unknown), 4 octets, then none.
    hdr = struct.pack("!BBHIHBB", 0x34, 255, 8 + len(inner), 0x100, 0, 0, 0x81) + b"\x01\x00\x00\x00"
    rig.uplink(hdr + inner)
    assert rig.n6_empty() and rig.ctx.metrics.drop_malformed == 1


def test_truncated_extension_chain_is_dropped(rig: Rig) -> None:
    rig.session()
    hdr = struct.pack("!BBHIHBB", 0x34, 255, 4 + 4, 0x100, 0, 0, 0x85) + b"\x05\x00\x01\x00"
    rig.uplink(hdr)
    assert rig.n6_empty() and rig.ctx.metrics.drop_malformed == 1


def test_spoofed_source_and_unknown_teid(rig: Rig) -> None:
    r = rig.session()
    rig.uplink(gtpu.encap(0x100, ip_udp("10.45.0.99", DN, b"spoof"), qfi=1, pdu_type=1))
    rig.uplink(gtpu.encap(0x999, ip_udp(UE, DN, b"who"), qfi=1, pdu_type=1))
    assert rig.n6_empty()
    assert rig.ctx.metrics.drop_spoofed == 1 and r.session.spoofed == 1
    assert rig.ctx.metrics.drop_unknown_teid == 1 and rig.unknown == [0x999]


def test_non_gpdu_goes_to_the_control_handler(rig: Rig) -> None:
    rig.uplink(gtpu.build_echo_request(9))
    assert len(rig.control) == 1 and gtpu.decode(rig.control[0][0]).seq == 9


def test_qfi_selects_the_pdr_on_a_shared_tunnel(rig: Rig) -> None:
    ue = ipv4_to_int(UE)
    rig.session(extra_pdrs=[Pdr(3, 5, IF_ACCESS, teid=0x100, ue_ipv4=ue, qfi=2, far_id=3)],
                extra_fars=[Far(3, AA_DROP)])
    inner = ip_udp(UE, DN, b"q")
    rig.uplink(gtpu.encap(0x100, inner, qfi=2, pdu_type=1))
    assert rig.n6_empty() and rig.ctx.metrics.drop_far == 1
    rig.uplink(gtpu.encap(0x100, inner, qfi=1, pdu_type=1))
    assert rig.n6_out() == inner


def test_uplink_shaping_with_fake_clock(rig: Rig) -> None:
    """TS 29.244 §5.4 MBR: the burst passes, the excess waits in a bounded FIFO and leaves in
    order as tokens accrue; only what overflows the FIFO is dropped; URRs count what leaves."""
    r = rig.session(mbr_kbps=80)  # 10,000 B/s; bucket and FIFO both 6,000 B (4 MTUs floor)
    m = rig.ctx.metrics

    def pkt(i: int) -> bytes:
        return ip_udp(UE, DN, b"%04d" % i + b"z" * 968)  # 1000-octet packets

    for i in range(6):
        rig.uplink(gtpu.encap(0x100, pkt(i), qfi=1, pdu_type=1))
    assert m.n6_out_pkts == 6 and m.shaped == 0  # the burst
    for i in range(6, 14):
        rig.uplink(gtpu.encap(0x100, pkt(i), qfi=1, pdu_type=1))
    assert m.n6_out_pkts == 6 and m.shaped == 6 and m.drop_qos == 2  # FIFO full: 12, 13 dropped
    assert [rig.n6_out() for _ in range(6)] == [pkt(i) for i in range(6)] and rig.n6_empty()
    rig.now += 0.25  # 2,500 B of tokens: two packets go, the third is due in 50 ms
    assert rig.dp.release_shaped() == pytest.approx(0.05, abs=1e-6)
    assert [rig.n6_out() for _ in range(2)] == [pkt(6), pkt(7)] and rig.n6_empty()
    rig.now += 0.051  # tokens for one packet: a newcomer still queues behind the FIFO
    rig.uplink(gtpu.encap(0x100, pkt(20), qfi=1, pdu_type=1))
    assert rig.n6_empty() and m.shaped == 7
    assert rig.dp.release_shaped() == pytest.approx(0.099, abs=1e-6)  # 10 B left of 1,010
    assert rig.n6_out() == pkt(8)
    rig.now += 10.0
    assert rig.dp.release_shaped() is None
    assert [rig.n6_out() for _ in range(4)] == [pkt(9), pkt(10), pkt(11), pkt(20)]
    assert rig.n6_empty() and m.n6_out_pkts == 13 and m.drop_qos == 2
    assert r.session.urrs[1].ul_bytes == 13_000 and r.session.urrs[1].ul_pkts == 13


def test_downlink_shaping_keeps_the_gtpu_header(rig: Rig) -> None:
    rig.session(mbr_kbps=80)
    inners = [ip_udp(DN, UE, b"%04d" % i + b"d" * 968) for i in range(8)]
    for p in inners:
        rig.tun_host.send(p)
    rig.dp.drain_tun()
    assert rig.ctx.metrics.n3_out_pkts == 6 and rig.ctx.metrics.shaped == 2
    rig.now += 1.0
    assert rig.dp.release_shaped() is None
    msgs = [gtpu.decode(rig.gnb.recv(65535)) for _ in range(8)]
    assert [x.payload for x in msgs] == inners
    assert all(x.teid == 0x2000 and x.qfi == 1 for x in msgs)
    assert rig.ctx.metrics.n3_out_bytes == 8000


def test_flow_mbr_and_session_ambr_shape_in_tandem(rig: Rig) -> None:
    """A packet released by its flow's MBR bucket still has to pass the session AMBR's."""
    r = rig.session(mbr_kbps=800, ambr_kbps=80)  # flow 100,000 B/s, session 10,000 B/s
    flow, ambr = r.session.qers[1].bucket_ul, r.session.qers[2].bucket_ul
    inner = ip_udp(UE, DN, b"t" * 972)
    for _ in range(7):
        rig.uplink(gtpu.encap(0x100, inner, qfi=1, pdu_type=1))
    assert rig.ctx.metrics.n6_out_pkts == 6 and flow.qbytes == 1000 and ambr.qbytes == 0
    rig.now += 0.011  # the flow bucket can pay (1,100 B), the session one cannot (110 B)
    rig.dp.release_shaped()
    assert flow.qbytes == 0 and ambr.qbytes == 1000 and rig.ctx.metrics.n6_out_pkts == 6
    rig.now += 0.1
    assert rig.dp.release_shaped() is None
    assert rig.ctx.metrics.n6_out_pkts == 7 and ambr.qbytes == 0


def test_session_without_rate_never_shapes(rig: Rig) -> None:
    rig.session()
    inner = ip_udp(UE, DN, b"f" * 972)
    for _ in range(50):
        rig.uplink(gtpu.encap(0x100, inner, qfi=1, pdu_type=1))
    assert rig.ctx.metrics.n6_out_pkts == 50 and rig.ctx.metrics.shaped == 0
    assert rig.dp.release_shaped() is None


def test_downlink_encapsulation(rig: Rig) -> None:
    rig.session()
    inner = ip_udp(DN, UE, b"down" * 50)
    rig.tun_host.send(inner)
    assert rig.dp.drain_tun() == 1
    data = rig.gnb.recv(65535)
    msg = gtpu.decode(data)
    assert msg.teid == 0x2000 and msg.qfi == 1 and msg.pdu_type == gtpu.PDU_TYPE_DL
    assert msg.payload == inner
    assert rig.ctx.metrics.n3_out_pkts == 1 and rig.ctx.metrics.n3_out_bytes == len(inner)


def test_downlink_without_session_and_ipv6_are_counted(rig: Rig) -> None:
    rig.session()
    rig.tun_host.send(ip_udp(DN, "10.45.7.7", b"nobody"))
    rig.tun_host.send(b"\x60" + b"\x00" * 47)
    assert rig.dp.drain_tun() == 2
    assert rig.ctx.metrics.drop_no_session == 2


def test_buffering_notifies_once_and_flushes(rig: Rig) -> None:
    r = rig.session(far_dl=AA_BUFF | AA_NOCP)
    for i in range(3):
        rig.tun_host.send(ip_udp(DN, UE, b"b%d" % i))
    rig.dp.drain_tun()
    assert list(rig.ctx.dl_data_events) == [r.session]
    assert len(r.session.buffer) == 3
    P.modify_session(rig.ctx, r.session.seid,
                     P.SessionChanges(update_fars=[(2, {"apply_action": AA_FORW})]), now=1.0)
    assert rig.dp.flush_buffer(r.session) == 3
    got = [gtpu.decode(rig.gnb.recv(65535)).payload[28:] for _ in range(3)]
    assert got == [b"b0", b"b1", b"b2"]


def test_volume_threshold_raises_event(rig: Rig) -> None:
    r = rig.session(threshold=2500)
    inner = ip_udp(UE, DN, b"v" * 972)
    for _ in range(3):
        rig.uplink(gtpu.encap(0x100, inner, qfi=1, pdu_type=1))
    assert list(rig.ctx.urr_events) == [(r.session, r.session.urrs[1])]
    assert r.session.urrs[1].ul_bytes == 3000 and not r.session.urrs[1].armed


def test_a_crash_in_the_loop_is_reported_not_swallowed(rig: Rig) -> None:
    crashed: list[BaseException] = []
    rig.dp.on_crash = crashed.append

    def boom() -> int:
        raise ZeroDivisionError("bug")

    rig.dp.drain_n3 = boom  # type: ignore[method-assign]
    rig.dp.start()
    rig.gnb.sendto(b"\x32\x01\x00\x04\x00\x00\x00\x00\x00\x01\x00\x00", rig.n3.getsockname())
    assert rig.dp._thread is not None
    rig.dp._thread.join(5)
    assert not rig.dp._thread.is_alive()
    assert len(crashed) == 1 and isinstance(crashed[0], ZeroDivisionError)
