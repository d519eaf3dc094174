"""Sans-I/O SCTP association and endpoint (RFC 9260), driven by plain calls and a fake clock."""

from __future__ import annotations

import random
import struct

import pytest
from sctpnet import CLI_IP, CLI_PORT, SRV_IP, SRV_PORT, Net

from fivecore.transport.sctp import packet as p
from fivecore.transport.sctp.association import (
    AssociationLost,
    AssociationRestarted,
    AssociationUp,
    DataReceived,
    ShutdownComplete,
    State,
)
from fivecore.transport.sctp.config import SctpConfig
from fivecore.transport.sctp.endpoint import Endpoint


def chunk_types(pkt: bytes) -> list[int]:
    return [c.type for c in p.parse_chunks(pkt)]


def test_handshake_four_way_and_no_state_before_cookie() -> None:
    net = Net()
    net.ca = net.cli.connect(SRV_IP, SRV_PORT, net.now)
    init = net.ca.datagrams_to_send(net.now)
    assert [chunk_types(x) for x in init] == [[p.INIT]]
    net.to_srv(init[0])
    assert net.srv.associations == {} and net.srv.new_associations == []  # INIT leaves no state
    net.pump()
    kinds = [chunk_types(pk) for _, pk in net.wire]
    assert kinds[:4] == [[p.INIT], [p.INIT_ACK], [p.COOKIE_ECHO], [p.COOKIE_ACK]]
    assert net.ca.state == State.ESTABLISHED and net.sa is not None and net.sa.state == State.ESTABLISHED
    assert isinstance(net.events["c"][0], AssociationUp) and isinstance(net.events["s"][0], AssociationUp)
    assert net.ca.peer_tag == net.sa.my_tag and net.sa.peer_tag == net.ca.my_tag


def test_data_both_ways_fragmented_ordered_and_unordered() -> None:
    net = Net()
    net.connect()
    msgs = [(i % 4, bytes([i]) * (1 + i * 4001)) for i in range(17)]
    for s, d in msgs:
        net.ca.send(s, 60, d)
    net.ca.send(2, 46, b"u" * 5000, unordered=True)
    net.pump()
    got = net.data("s")
    assert sorted((m.stream, m.data) for m in got if not m.unordered) == sorted(msgs)
    for s in range(4):
        assert [m.data for m in got if m.stream == s and not m.unordered] == [d for st, d in msgs if st == s]
    assert [m for m in got if m.unordered] == [DataReceived(2, 46, b"u" * 5000, True)]
    assert max(len(pk) for _, pk in net.wire) <= net.cfg.mtu - 20
    net.sa.send(0, 60, b"reply")
    net.pump()
    assert net.data("c") == [DataReceived(0, 60, b"reply", False)]


def test_graceful_shutdown_both_sides_notified() -> None:
    net = Net()
    net.connect()
    net.ca.send(0, 60, b"x" * 10000)
    net.ca.shutdown(net.now)
    net.pump()
    assert len(net.data("s")) == 1
    assert net.ca.state == State.CLOSED and net.sa.state == State.CLOSED
    assert isinstance(net.events["c"][-1], ShutdownComplete)
    assert isinstance(net.events["s"][-1], ShutdownComplete)
    kinds = [chunk_types(pk)[0] for _, pk in net.wire[-3:]]
    assert kinds == [p.SHUTDOWN, p.SHUTDOWN_ACK, p.SHUTDOWN_COMPLETE]


def test_abort_and_abort_with_wrong_tag_ignored() -> None:
    net = Net()
    net.connect()
    forged = p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag ^ 1, [p.encode_chunk(p.ABORT, 0)])
    net.to_srv(forged)
    assert net.sa.state == State.ESTABLISHED and net.srv.stats["rx_bad_vtag"] == 1
    net.ca.abort("bye", net.now)
    net.pump()
    assert net.sa.state == State.CLOSED
    lost = net.events["s"][-1]
    assert isinstance(lost, AssociationLost) and "bye" in lost.reason


def _cookie_echo_from(net: Net) -> bytes:
    return next(pk for d, pk in net.wire if d == "c2s" and chunk_types(pk)[0] == p.COOKIE_ECHO)


def test_cookie_tampered_stale_or_replayed_elsewhere_is_rejected() -> None:
    net = Net()
    net.drop = lambda d, pk: d == "c2s" and chunk_types(pk)[0] == p.COOKIE_ECHO
    net.ca = net.cli.connect(SRV_IP, SRV_PORT, net.now)
    net.pump()
    echo = _cookie_echo_from(net)
    # Flip one byte of the cookie body, fix the CRC: HMAC must catch it.
    bad = bytearray(echo)
    bad[30] ^= 0xFF
    bad[8:12] = p.checksum(bad).to_bytes(4, "little")
    net.srv.receive(CLI_IP, SRV_IP, bytes(bad), net.now)
    assert net.srv.stats["rx_cookie_bad_mac"] == 1 and not net.srv.associations
    # The genuine cookie from another address or port is refused.
    net.srv.receive(b"\x7f\x00\x00\x09", SRV_IP, echo, net.now)
    assert net.srv.stats["rx_cookie_invalid"] == 1 and not net.srv.associations
    # After Valid.Cookie.Life it is stale.
    net.srv.receive(CLI_IP, SRV_IP, echo, net.now + net.cfg.cookie_lifetime + 1)
    assert net.srv.stats["rx_cookie_stale"] == 1 and not net.srv.associations
    # Within its life it works.
    net.srv.receive(CLI_IP, SRV_IP, echo, net.now + 1)
    assert len(net.srv.associations) == 1


def test_init_flood_leaves_no_state() -> None:
    net = Net()
    rng = random.Random(7)
    for i in range(2000):
        init = p.encode_init(p.INIT, rng.getrandbits(32) | 1, 65536, 10, 10, rng.getrandbits(32))
        pkt = p.build_packet(1024 + i, SRV_PORT, 0, [init])
        net.srv.receive(bytes([10, 0, i >> 8, i & 255]), SRV_IP, pkt, net.now)
    assert net.srv.stats["rx_init"] == 2000 and net.srv.stats["tx_init_ack"] == 2000
    assert net.srv.associations == {} and net.srv.new_associations == []
    assert len(net.srv.pop_replies()) == 2000
    net.connect()  # still serves a real client
    assert net.sa is not None and net.sa.state == State.ESTABLISHED


def test_bad_input_dropped_and_counted() -> None:
    net = Net()
    net.connect()
    st = net.srv.stats
    good = p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag, [p.encode_data(3, 0, 0, 0, 60, b"z")])
    bad_crc = good[:8] + bytes(4) + good[12:]
    net.to_srv(bad_crc)
    assert st["rx_bad_checksum"] == 1
    unknown_tag = p.build_packet(CLI_PORT, SRV_PORT, 0xDEADBEEF, [p.encode_chunk(p.SHUTDOWN, 0, bytes(4))])
    net.to_srv(unknown_tag)
    assert st["rx_bad_vtag"] == 1
    truncated = p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag, [b"\x00\x03\x00\x40" + b"\x00" * 8])
    net.to_srv(truncated)
    short = p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag, [b"\x00\x03"])
    net.to_srv(short)
    tiny_data = p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag, [p.encode_chunk(p.DATA, 3, b"\x00" * 6)])
    net.to_srv(tiny_data)
    tiny_sack = p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag, [p.encode_chunk(p.SACK, 0, b"\x00" * 5)])
    net.to_srv(tiny_sack)
    lying_sack = p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag,
                                [p.encode_chunk(p.SACK, 0, struct.pack("!IIHH", 0, 0, 50, 0))])
    net.to_srv(lying_sack)
    bad_init = p.build_packet(CLI_PORT, SRV_PORT, 0, [p.encode_chunk(p.INIT, 0, b"\x01\x02")])
    net.to_srv(bad_init)
    assert st["rx_malformed"] >= 6
    assert net.sa.state == State.ESTABLISHED
    net.ca.send(0, 60, b"still fine")
    net.pump()
    assert net.data("s")[-1].data == b"still fine"


def test_unknown_chunk_types_follow_the_high_bits() -> None:
    net = Net()
    net.connect()
    tag = net.sa.my_tag
    data = p.encode_data(3, net.ca._next_tsn & 0xFFFFFFFF, 0, 0, 60, b"after")
    # 0b11xxxxxx: skip and report, keep processing the DATA behind it.
    net.to_srv(p.build_packet(CLI_PORT, SRV_PORT, tag, [p.encode_chunk(0xC5, 0, b"abcd"), data]))
    net.pump()
    assert [m.data for m in net.data("s")] == [b"after"]
    assert any(p.ERROR in chunk_types(pk) for d, pk in net.wire if d == "s2c")
    # 0b00xxxxxx: stop processing the packet.
    data2 = p.encode_data(3, (net.ca._next_tsn + 1) & 0xFFFFFFFF, 0, 1, 60, b"never")
    net.to_srv(p.build_packet(CLI_PORT, SRV_PORT, tag, [p.encode_chunk(0x25, 0, b""), data2]))
    net.pump()
    assert [m.data for m in net.data("s")] == [b"after"]


def test_retransmission_on_loss_with_rto_backoff() -> None:
    net = Net(SctpConfig(heartbeat_interval=0, rto_initial=1.0, rto_min=1.0, rto_max=8.0))
    net.connect()
    drops = {"n": 0}

    def drop_first_two_data(d: str, pk: bytes) -> bool:
        if d == "c2s" and p.DATA in chunk_types(pk) and drops["n"] < 2:
            drops["n"] += 1
            return True
        return False

    net.drop = drop_first_two_data
    net.ca.send(1, 60, b"important")
    net.pump()
    assert net.data("s") == []
    assert net.ca.get_timer() == pytest.approx(net.now + 1.0)
    net.advance(1.0)  # T3 fires, retransmission is dropped again, RTO doubles
    assert net.data("s") == [] and net.ca.rto == pytest.approx(2.0)
    net.advance(2.0)
    assert [m.data for m in net.data("s")] == [b"important"]
    assert net.ca.stats["t3_expired"] == 2 and net.ca.stats["tx_retransmitted_chunks"] == 2
    net.advance(0.5)  # the delayed SACK
    assert net.ca._sent_bytes == 0 and net.ca.error_count == 0


def test_retransmission_limit_reports_lost() -> None:
    net = Net(SctpConfig(heartbeat_interval=0, rto_initial=0.5, rto_min=0.5, rto_max=1.0,
                         max_retransmissions=3))
    net.connect()
    net.drop = lambda d, pk: d == "c2s"
    net.ca.send(0, 60, b"void")
    net.pump()
    net.advance(10)
    assert net.ca.state == State.CLOSED
    assert isinstance(net.events["c"][-1], AssociationLost)
    assert "unreachable" in net.events["c"][-1].reason


def test_fast_retransmit_without_timer() -> None:
    net = Net()
    net.connect()
    first = {"done": False}

    def drop_one(d: str, pk: bytes) -> bool:
        if d == "c2s" and not first["done"] and p.DATA in chunk_types(pk):
            first["done"] = True
            return True
        return False

    net.drop = drop_one
    for i in range(12):
        net.ca.send(0, 60, bytes([i]) * 1400)
    net.pump()
    # Everything arrived without any timer firing: SACK gap reports triggered fast retransmit.
    assert [m.data[0] for m in net.data("s")] == list(range(12))
    assert net.ca.stats["fast_retransmits"] == 1 and net.ca.stats["t3_expired"] == 0


def test_reordering_and_duplicates_delivered_once_in_order() -> None:
    net = Net()
    net.connect()
    held: list[bytes] = []

    def hold(d: str, pk: bytes) -> bool:
        if d == "c2s" and p.DATA in chunk_types(pk):
            held.append(pk)
            return True
        return False

    net.drop = hold
    for i in range(6):
        net.ca.send(0, 60, bytes([i]) * 3000)
    net.pump()
    net.drop = lambda d, pk: False
    random.Random(3).shuffle(held)
    for pk in held + held[:4]:
        net.to_srv(pk)
    net.pump()
    assert [m.data[0] for m in net.data("s")] == list(range(6))
    assert net.sa.stats["rx_data_dup"] >= 4


def test_delayed_sack_and_every_second_packet() -> None:
    net = Net(SctpConfig(heartbeat_interval=0, sack_delay=0.2))
    net.connect()
    net.ca.send(0, 60, b"one")
    for pk in net.ca.datagrams_to_send(net.now):
        net.to_srv(pk)
    assert net.sa.datagrams_to_send(net.now) == []  # SACK delayed
    assert net.sa.ack_pending
    assert net.sa.get_timer() == pytest.approx(net.now + 0.2)
    net.ca.send(0, 60, b"two")
    for pk in net.ca.datagrams_to_send(net.now):
        net.to_srv(pk)
    out = net.sa.datagrams_to_send(net.now)
    assert [chunk_types(x) for x in out] == [[p.SACK]]  # second packet: SACK at once
    assert not net.sa.ack_pending


def test_delayed_sack_goes_out_when_its_timer_fires() -> None:
    """RFC 9260 §6.2: a lone DATA packet is acknowledged within the delay, SACK alone."""
    net = Net(SctpConfig(heartbeat_interval=0, sack_delay=0.2))
    net.connect()
    net.ca.send(0, 60, b"one")
    for pk in net.ca.datagrams_to_send(net.now):
        net.to_srv(pk)
    assert net.sa.datagrams_to_send(net.now) == [] and net.sa.ack_pending
    net.now += 0.2
    net.sa.handle_timer(net.now)
    assert [chunk_types(x) for x in net.sa.datagrams_to_send(net.now)] == [[p.SACK]]
    assert not net.sa.ack_pending


def test_receive_window_limits_sender() -> None:
    cfg = SctpConfig(heartbeat_interval=0, receive_window=8000)
    net = Net(cfg)
    net.connect()
    net.ca.send(0, 60, b"a" * 4000)
    net.ca.send(0, 60, b"b" * 4000)
    net.ca.send(0, 60, b"c" * 4000)
    # The receiver's application does not read: keep delivered data buffered.
    net.sa.consumed = lambda n: None  # type: ignore[method-assign]
    net.pump()
    assert [len(m.data) for m in net.data("s")] == [4000, 4000]
    assert net.ca.buffered_amount == 4000
    del net.sa.consumed
    net.sa.consumed(8000)
    net.pump()
    net.advance(2)
    assert [len(m.data) for m in net.data("s")] == [4000, 4000, 4000]


def test_heartbeat_and_loss_of_peer() -> None:
    cfg = SctpConfig(heartbeat_interval=5, rto_initial=1, rto_min=1, rto_max=2, max_retransmissions=2)
    net = Net(cfg)
    net.connect()
    net.advance(8)
    hbs = [pk for d, pk in net.wire if d == "c2s" and chunk_types(pk) == [p.HEARTBEAT]]
    acks = [pk for d, pk in net.wire if d == "s2c" and chunk_types(pk) == [p.HEARTBEAT_ACK]]
    assert hbs and acks and net.ca.state == State.ESTABLISHED and net.ca.error_count == 0
    net.drop = lambda d, pk: True  # the peer vanishes
    net.advance(60)
    assert net.ca.state == State.CLOSED
    assert "HEARTBEAT" in net.events["c"][-1].reason


def test_on_demand_heartbeat_answered_or_not() -> None:
    """RFC 9260 §8.3 / §11.1 REQUESTHEARTBEAT: one HEARTBEAT at once (heartbeats otherwise
    off); its ACK counts in ``heartbeat_acks``; a second request while one is out sends none."""
    net = Net()
    net.connect()
    sent = len(net.wire)
    net.sa.request_heartbeat(net.now)
    net.sa.request_heartbeat(net.now)
    net.pump()
    new = net.wire[sent:]
    assert [(d, chunk_types(pk)) for d, pk in new] == [("s2c", [p.HEARTBEAT]), ("c2s", [p.HEARTBEAT_ACK])]
    assert net.sa.heartbeat_acks == 1
    net.drop = lambda d, pk: d == "c2s"  # the peer is gone
    net.sa.request_heartbeat(net.now)
    net.pump()
    assert net.sa.heartbeat_acks == 1 and net.sa.state == State.ESTABLISHED


def test_init_retransmission_limit() -> None:
    net = Net(SctpConfig(heartbeat_interval=0, rto_initial=1, rto_min=1, rto_max=4, max_init_retransmits=2))
    net.drop = lambda d, pk: True
    net.connect()
    net.advance(30)
    inits = [pk for d, pk in net.wire if chunk_types(pk) == [p.INIT]]
    assert len(inits) == 3
    assert isinstance(net.events["c"][-1], AssociationLost)


def test_peer_restart_detected() -> None:
    net = Net()
    net.connect()
    net.ca.send(0, 60, b"before")
    net.pump()
    old_sa = net.sa
    # The client host restarts: a brand-new endpoint on the same address and port.
    net.cli = Endpoint(net.cfg, CLI_IP, CLI_PORT, False, rng=random.Random(99))
    net.events["c"].clear()
    net.ca = net.cli.connect(SRV_IP, SRV_PORT, net.now)
    net.pump()
    assert net.sa is old_sa and net.sa.state == State.ESTABLISHED
    assert any(isinstance(e, AssociationRestarted) for e in net.events["s"])
    assert net.sa.peer_tag == net.ca.my_tag and net.srv.stats["restarts"] == 1
    net.ca.send(0, 60, b"after")
    net.pump()
    assert [m.data for m in net.data("s")] == [b"before", b"after"]


def test_ootb_answers_only_on_listening_port_and_rate_limited() -> None:
    net = Net()
    stray = p.build_packet(4000, SRV_PORT, 1234, [p.encode_chunk(p.HEARTBEAT, 0, b"")])
    for _ in range(500):
        net.srv.receive(CLI_IP, SRV_IP, stray, net.now)
    replies = net.srv.pop_replies()
    assert 0 < len(replies) <= net.cfg.ootb_abort_rate
    pkt = replies[0][0]
    assert chunk_types(pkt) == [p.ABORT] and p.parse_chunks(pkt)[0].flags & p.FLAG_T
    assert p.parse_header(pkt).vtag == 1234
    # A client port never ABORTs strangers: another stack may be using the same number.
    stray_cli = p.build_packet(4000, CLI_PORT, 1234, [p.encode_chunk(p.HEARTBEAT, 0, b"")])
    net.cli.receive(CLI_IP, CLI_IP, stray_cli, net.now)
    assert net.cli.pop_replies() == []


def test_tsn_wraparound() -> None:
    net = Net()
    net.ca = net.cli.connect(SRV_IP, SRV_PORT, net.now)
    net.ca._setup(0xFFFFFFF0, 0, 1500, net.cfg.out_streams, net.cfg.in_streams)
    net.ca._my_initial_tsn = 0xFFFFFFF0
    init = p.encode_init(p.INIT, net.ca.my_tag, net.cfg.receive_window, net.cfg.out_streams,
                         net.cfg.in_streams, 0xFFFFFFF0)
    net.ca._packets = [p.build_packet(CLI_PORT, SRV_PORT, 0, [init])]
    net.pump()
    for i in range(40):
        net.ca.send(0, 60, bytes([i]) * 700)
    net.pump()
    assert [m.data[0] for m in net.data("s")] == list(range(40))
    assert net.ca._next_tsn > 0xFFFFFFFF


def test_slow_reader_zero_window_does_not_kill_association() -> None:
    cfg = SctpConfig(heartbeat_interval=0, receive_window=4000, rto_initial=1, rto_min=1, rto_max=2,
                     max_retransmissions=3)
    net = Net(cfg)
    net.connect()
    net.sa.consumed = lambda n: None  # type: ignore[method-assign]
    for i in range(6):
        net.ca.send(0, 60, bytes([i]) * 1500)
    net.advance(60)  # many T3 expiries while the window stays shut
    assert net.ca.state == State.ESTABLISHED and net.sa.state == State.ESTABLISHED
    del net.sa.consumed
    net.sa.consumed(len(b"".join(m.data for m in net.data("s"))))
    net.advance(30)
    assert [m.data[0] for m in net.data("s")] == list(range(6))


def test_config_validation() -> None:
    from fivecore.errors import ConfigError

    for bad in ({"backend": "tcp"}, {"rto_min": 2, "rto_initial": 1}, {"out_streams": 0},
                {"mtu": 100}, {"receive_window": 10}, {"sack_delay": 1.0}):
        with pytest.raises(ConfigError):
            SctpConfig(**bad)  # type: ignore[arg-type]


def test_data_without_user_data_aborts() -> None:
    """RFC 9260 §6.2: a DATA chunk with no user data is answered with ABORT (No User Data)."""
    net = Net()
    net.connect()
    empty = p.encode_chunk(p.DATA, 3, struct.pack("!IHHI", net.ca._next_tsn & 0xFFFFFFFF, 0, 0, 60))
    net.to_srv(p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag, [empty]))
    net.pump()
    assert net.sa.state == State.CLOSED and net.ca.state == State.CLOSED
    assert "no user data" in net.events["c"][-1].reason
