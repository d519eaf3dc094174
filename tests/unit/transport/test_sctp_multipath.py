"""SCTP multi-homing (RFC 9260 §5.1.2, §6.4, §8.1-§8.3), sans-I/O with a fake clock.

Two endpoints with two addresses each are joined by an in-memory wire (``sctpnet.MNet``) that
routes every packet by its (source, destination) address pair, so a "link" (one address pair)
can be cut and healed while the association keeps running.
"""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sctpnet import C1, C2, C3, CLI_PORT, S1, S2, SRV_PORT, MNet

from fivecore.transport.sctp import packet as p
from fivecore.transport.sctp.association import (
    MAX_PEER_ADDRESSES,
    Association,
    AssociationLost,
    AssociationRestarted,
    PathChanged,
    State,
    parse_peer_addresses,
)
from fivecore.transport.sctp.config import SctpConfig
from fivecore.transport.sctp.endpoint import Endpoint


def ipv4(ip: bytes) -> bytes:
    return p.encode_param(p.PARAM_IPV4, ip)


# --- address parameters -----------------------------------------------------------------


def test_peer_addresses_source_first_listed_after_deduplicated() -> None:
    params = [(p.PARAM_IPV4, C2), (p.PARAM_IPV4, C1), (p.PARAM_IPV4, C3), (p.PARAM_IPV4, C2)]
    assert parse_peer_addresses(C1, params) == [C1, C2, C3]


def test_peer_addresses_skip_what_we_cannot_or_must_not_reach() -> None:
    stats: dict[str, int] = {}
    from collections import Counter
    c: Counter[str] = Counter(stats)
    params = [
        (p.PARAM_IPV6, bytes(16)),               # §5.1.2: IPv6, and we only reach IPv4
        (p.PARAM_IPV4, bytes([127, 0, 0, 9])),   # a remote peer's loopback is our own host
        (p.PARAM_IPV4, bytes([0, 0, 0, 0])),
        (p.PARAM_IPV4, bytes([224, 0, 0, 1])),   # multicast
        (p.PARAM_IPV4, bytes([255, 255, 255, 255])),
        (p.PARAM_IPV4, b"\x0a\x00\x00"),         # wrong length
        (p.PARAM_IPV4, C2),
    ]
    assert parse_peer_addresses(C1, params, c) == [C1, C2]
    assert c["rx_peer_addresses_ignored"] == 6
    # From loopback, loopback addresses are the peer's own.
    lo = bytes([127, 0, 0, 1])
    assert parse_peer_addresses(lo, [(p.PARAM_IPV4, bytes([127, 0, 0, 9]))]) == [lo, bytes([127, 0, 0, 9])]


def test_peer_addresses_are_bounded() -> None:
    from collections import Counter
    c: Counter[str] = Counter()
    params = [(p.PARAM_IPV4, bytes([10, 9, i >> 8, i & 255])) for i in range(500)]
    got = parse_peer_addresses(C1, params, c)
    assert len(got) == MAX_PEER_ADDRESSES and got[0] == C1
    assert c["rx_peer_addresses_ignored"] == 500 - (MAX_PEER_ADDRESSES - 1)


def _init(tag: int, params: list[bytes]) -> bytes:
    chunk = p.encode_init(p.INIT, tag, 65536, 10, 10, 1234, params)
    return p.build_packet(CLI_PORT, SRV_PORT, 0, [chunk])


def test_hostile_init_with_hundreds_of_addresses_costs_a_bounded_cookie() -> None:
    srv = Endpoint(SctpConfig(), S1, SRV_PORT, True, secret=b"k" * 32)
    params = [ipv4(bytes([10, 9, i >> 8, i & 255])) for i in range(1000)]
    srv.receive(C1, S1, _init(7, params), 1.0)
    [(reply, dst, _src)] = srv.pop_replies()
    assert dst == C1 and not srv.associations
    ia = p.parse_init(p.parse_chunks(reply)[0].value)
    cookie = dict(ia.params)[p.PARAM_STATE_COOKIE]
    assert len(cookie) <= 64 + 1 + 4 * MAX_PEER_ADDRESSES + 16


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([5, 6, 5, 9, 12, 0x8001, 0xC005]), st.binary(max_size=20)), max_size=40),
       st.binary(max_size=64))
def test_fuzz_init_address_parameters_never_raise(params: list[tuple[int, bytes]], tail: bytes) -> None:
    srv = Endpoint(SctpConfig(), S1, SRV_PORT, True, secret=b"k" * 32, local_addresses=[S1, S2])
    raw = b"".join(p.encode_param(t, v) for t, v in params) + tail
    chunk = p.encode_chunk(p.INIT, 0, struct.pack("!IIHHI", 7, 65536, 10, 10, 1) + raw)
    srv.receive(C1, S1, p.build_packet(CLI_PORT, SRV_PORT, 0, [chunk]), 1.0)
    for reply, _dst, _src in srv.pop_replies():
        ia = p.parse_init(p.parse_chunks(reply)[0].value)
        cookie = dict(ia.params)[p.PARAM_STATE_COOKIE]
        # The cookie comes back as a COOKIE ECHO from any address: never more than 8 paths.
        echo = p.build_packet(CLI_PORT, SRV_PORT, 7, [p.encode_chunk(p.COOKIE_ECHO, 0, cookie)])
        srv.receive(C1, S1, echo, 1.5)
        for a in srv.new_associations:
            assert 1 <= len(a.paths) <= MAX_PEER_ADDRESSES
            assert all(len(x.peer_ip) == 4 for x in a.paths)
    try:
        got = parse_peer_addresses(C1, p.parse_params(raw))
    except p.SctpDecodeError:
        return
    assert 1 <= len(got) <= MAX_PEER_ADDRESSES


# --- handshake, cookie, demultiplexing ------------------------------------------------------


def test_both_multihomed_handshake_lists_and_learns_every_address() -> None:
    net = MNet()
    net.connect()
    init = next(pk for s, d, pk in net.wire if p.parse_chunks(pk)[0].type == p.INIT)
    init_ack = next(pk for s, d, pk in net.wire if p.parse_chunks(pk)[0].type == p.INIT_ACK)
    listed = [v for t, v in p.parse_init(p.parse_chunks(init)[0].value).params if t == p.PARAM_IPV4]
    listed_ack = [v for t, v in p.parse_init(p.parse_chunks(init_ack)[0].value).params if t == p.PARAM_IPV4]
    assert listed == [C1, C2] and listed_ack == [S1, S2]
    assert net.ca.peer_addresses == [S1, S2] and net.sa.peer_addresses == [C1, C2]
    assert net.ca.primary.peer_ip == S1 and net.sa.primary.peer_ip == C1
    # Each path sends from its own local address (pairing: second address to second address).
    assert [(x.peer_ip, x.local_ip) for x in net.ca.paths] == [(S1, C1), (S2, C2)]
    assert [(x.peer_ip, x.local_ip) for x in net.sa.paths] == [(C1, S1), (C2, S2)]
    # The server finds the association from either of the client's addresses.
    assert net.srv.associations[(C1, CLI_PORT)] is net.sa and net.srv.associations[(C2, CLI_PORT)] is net.sa
    assert net.cli.associations[(S1, SRV_PORT)] is net.ca and net.cli.associations[(S2, SRV_PORT)] is net.ca


def test_single_homed_association_keeps_the_one_path_fast_path() -> None:
    net = MNet(cli_ips=(C1,), srv_ips=(S1,))
    net.connect()
    for a in (net.ca, net.sa):
        assert len(a.paths) == 1 and not a._multi and "datagrams_to_send" not in a.__dict__
        a.send(0, 60, b"x" * 100)
        net.pump()
        assert a.tx_dests is None
    init = next(pk for s, d, pk in net.wire if p.parse_chunks(pk)[0].type == p.INIT)
    assert p.PARAM_IPV4 not in dict(p.parse_init(p.parse_chunks(init)[0].value).params)


def test_multihomed_client_to_single_homed_server() -> None:
    net = MNet(srv_ips=(S1,))
    net.connect()
    assert len(net.ca.paths) == 1 and net.sa.peer_addresses == [C1, C2]
    net.ca.send(0, 60, b"hello")
    net.pump()
    assert net.data("s") == [b"hello"]


def test_cookie_echo_from_the_other_address_is_accepted_and_tampering_is_not() -> None:
    srv = Endpoint(SctpConfig(heartbeat_interval=0), S1, SRV_PORT, True, secret=b"k" * 32)
    srv.receive(C1, S1, _init(7, [ipv4(C1), ipv4(C2)]), 1.0)
    [(reply, _d, _s)] = srv.pop_replies()
    cookie = dict(p.parse_init(p.parse_chunks(reply)[0].value).params)[p.PARAM_STATE_COOKIE]
    my_tag = struct.unpack("!I", p.parse_chunks(reply)[0].value[:4])[0]
    bad = bytearray(cookie)
    bad[-20] ^= 1  # inside the address list
    srv.receive(C2, S1, p.build_packet(CLI_PORT, SRV_PORT, my_tag, [p.encode_chunk(p.COOKIE_ECHO, 0, bytes(bad))]), 1.1)
    assert srv.stats["rx_cookie_bad_mac"] == 1 and not srv.associations
    # A cookie echoed from an address the INIT did not list is refused.
    srv.receive(C3, S1, p.build_packet(CLI_PORT, SRV_PORT, my_tag, [p.encode_chunk(p.COOKIE_ECHO, 0, cookie)]), 1.1)
    assert srv.stats["rx_cookie_invalid"] == 1 and not srv.associations
    srv.receive(C2, S1, p.build_packet(CLI_PORT, SRV_PORT, my_tag, [p.encode_chunk(p.COOKIE_ECHO, 0, cookie)]), 1.2)
    [a] = srv.new_associations
    assert a.peer_addresses == [C1, C2] and a.primary.peer_ip == C1 and a.state == State.ESTABLISHED
    assert srv.associations == {(C1, CLI_PORT): a, (C2, CLI_PORT): a}
    srv.forget(a)
    assert srv.associations == {}


# --- paths: failure, failover, recovery -------------------------------------------------------


def test_retransmission_goes_to_the_alternate_path_and_sack_returns_on_it() -> None:
    net = MNet(SctpConfig(heartbeat_interval=0, rto_initial=1, rto_min=1, rto_max=8))
    net.connect()
    net.cut(C1, S1)  # the primary link, both ways
    net.ca.send(0, 60, b"m1")
    net.pump()
    assert net.data("s") == []
    net.advance(1.01)  # T3-rtx on the primary path
    assert net.data("s") == [b"m1"]
    assert (C2, S2) in net.sent({p.DATA}, src=C2, dst=S2)
    net.advance(0.3)  # the delayed SACK (§6.2)
    assert net.sent({p.SACK}, src=S2, dst=C2)  # §6.4: SACK to where the DATA came from
    assert net.ca._sent_bytes == 0
    assert net.ca.stats["rtx_alternate_path"] >= 1
    assert net.ca.paths[0].error_count == 1 and net.ca.paths[0].rto == 2.0  # charged to the primary
    assert net.ca.paths[1].error_count == 0 and net.ca.paths[1].rto == 1.0


def test_failed_primary_goes_inactive_and_traffic_fails_over() -> None:
    cfg = SctpConfig(heartbeat_interval=0, rto_initial=1, rto_min=1, rto_max=2, path_max_retransmissions=2,
                     max_retransmissions=4)
    net = MNet(cfg)
    net.connect()
    net.cut(C1, S1)
    got = []
    for i in range(12):
        net.ca.send(0, 60, b"m%d" % i)
        net.pump()
        net.advance(2.5)
        got = net.data("s")
    assert got == [b"m%d" % i for i in range(12)]
    assert net.ca.state == State.ESTABLISHED and net.sa.state == State.ESTABLISHED
    assert not net.ca.primary.active and net.ca.dest.peer_ip == S2
    assert PathChanged(S1, False) in net.events["c"]
    # Once failed over, new DATA goes straight to the alternate: T3 no longer fires.
    t3 = net.ca.stats["t3_expired"]
    net.ca.send(0, 60, b"after")
    net.pump()
    assert net.data("s")[-1] == b"after" and net.ca.stats["t3_expired"] == t3
    assert net.ca.error_count == 0  # acknowledged DATA on the alternate clears the association counter


def test_inactive_path_comes_back_on_heartbeat_ack_and_primary_is_used_again() -> None:
    cfg = SctpConfig(heartbeat_interval=2, rto_initial=1, rto_min=1, rto_max=2, path_max_retransmissions=1,
                     max_retransmissions=50)
    net = MNet(cfg)
    net.connect()
    net.cut(C1, S1)
    net.advance(30)
    assert not net.ca.primary.active and net.ca.dest.peer_ip == S2 and net.ca.state == State.ESTABLISHED
    assert not net.sa.primary.active and net.sa.dest.peer_ip == C2
    # Heartbeats go to each path, the inactive one included (§8.3).
    assert net.sent({p.HEARTBEAT}, src=C2, dst=S2) and net.sent({p.HEARTBEAT}, src=C1, dst=S1)
    net.heal()
    net.advance(10)
    assert net.ca.primary.active and net.ca.dest is net.ca.primary
    assert PathChanged(S1, True) in net.events["c"] and net.ca.stats["path_up"] >= 1
    net.ca.send(0, 60, b"back")
    net.pump()
    assert net.wire[-2][0:2] == (C1, S1) or (C1, S1) in net.sent({p.DATA}, src=C1, dst=S1)
    assert net.data("s")[-1] == b"back"


def test_association_survives_while_one_path_works_and_fails_only_when_all_are_down() -> None:
    cfg = SctpConfig(heartbeat_interval=1, rto_initial=1, rto_min=1, rto_max=1, path_max_retransmissions=1,
                     max_retransmissions=3)
    net = MNet(cfg)
    net.connect()
    net.cut(C1, S1)
    net.advance(120)  # many more HEARTBEAT losses on the primary than Association.Max.Retrans
    assert net.ca.state == State.ESTABLISHED and net.sa.state == State.ESTABLISHED
    assert net.ca.stats["path_down"] >= 1
    net.cut(C1, S1, C2, S2)
    net.advance(60)
    assert net.ca.state == State.CLOSED
    lost = [e for e in net.events["c"] if isinstance(e, AssociationLost)]
    assert lost and "unreachable" in lost[0].reason


def test_single_homed_fails_at_association_max_retrans_as_before() -> None:
    cfg = SctpConfig(heartbeat_interval=0, rto_initial=1, rto_min=1, rto_max=1, max_retransmissions=2,
                     path_max_retransmissions=0)
    net = MNet(cfg, cli_ips=(C1,), srv_ips=(S1,))
    net.connect()
    net.cut(C1)
    net.ca.send(0, 60, b"x")
    net.pump()
    net.advance(2.5)
    assert net.ca.state == State.ESTABLISHED and not [e for e in net.events["c"] if isinstance(e, PathChanged)]
    net.advance(1)
    assert net.ca.state == State.CLOSED


def test_probe_answers_alive_through_the_alternate_path_when_the_primary_is_dead() -> None:
    net = MNet(SctpConfig(heartbeat_interval=0, rto_initial=1, rto_min=1, rto_max=4))
    net.connect()
    net.cut(C1, S1)
    pr = net.sa.start_probe(net.now, 5, net.now + 30)
    net.pump()
    net.advance(5)
    assert pr.alive is True and pr.heartbeats == 2  # first to the primary, then the alternate
    assert net.sent({p.HEARTBEAT}, src=S1, dst=C1) and net.sent({p.HEARTBEAT}, src=S2, dst=C2)
    net.cut(C1, S1, C2, S2)
    pr2 = net.sa.start_probe(net.now, 2, net.now + 60)
    net.advance(60)
    assert pr2.alive is False


# --- restart (§5.2.2, §5.2.4) -----------------------------------------------------------------


def _restart_client(net: MNet, ips: list[bytes]) -> Association:
    """A new incarnation of the client on the same port (it lost its state)."""
    net.cli = Endpoint(net.cfg, ips[0], CLI_PORT, False, rng=random.Random(99), local_addresses=ips)
    net.cli_ips = tuple(ips)
    net.ca = net.cli.connect(net.srv_ips[0], SRV_PORT, net.now)
    net.pump()
    return net.ca


def test_restart_with_the_same_addresses_is_a_restart() -> None:
    net = MNet()
    net.connect()
    old = net.sa
    ca = _restart_client(net, [C1, C2])
    assert ca.established and net.sa is old and net.srv.stats["restarts"] == 1
    assert any(isinstance(e, AssociationRestarted) for e in net.events["s"])
    assert old.peer_addresses == [C1, C2]


def test_restart_with_new_addresses_is_aborted_with_cause_11() -> None:
    net = MNet()
    net.connect()
    old = net.sa
    ca = _restart_client(net, [C1, C3])
    aborts = [pk for s, d, pk in net.wire if p.parse_chunks(pk)[0].type == p.ABORT]
    assert aborts, "the server must refuse the restart"
    init = [pk for s, d, pk in net.wire if p.parse_chunks(pk)[0].type == p.INIT][-1]
    init_tag = struct.unpack("!I", p.parse_chunks(init)[0].value[:4])[0]
    pk = aborts[-1]
    assert p.parse_header(pk).vtag == init_tag
    [(code, info)] = p.parse_causes(p.parse_chunks(pk)[0].value)
    assert code == p.CAUSE_RESTART_NEW_ADDRESSES == 11
    assert p.parse_params(info) == [(p.PARAM_IPV4, C3)]
    assert "new addresses" in p.describe_causes(p.parse_chunks(pk)[0].value)
    assert old.state == State.ESTABLISHED and net.srv.stats["restarts"] == 0
    assert ca.state == State.CLOSED  # the restarting client got the ABORT


def test_restart_from_another_of_the_peers_addresses_finds_the_association() -> None:
    net = MNet()
    net.connect()
    old = net.sa
    ca = _restart_client(net, [C2, C1])  # now its INIT comes from C2
    assert ca.established and net.sa is old and net.srv.stats["restarts"] == 1
    assert len({id(a) for a in net.srv.associations.values()}) == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_transfer_over_two_paths_with_random_loss_on_the_primary(seed: int) -> None:
    rng = random.Random(seed)
    cfg = SctpConfig(heartbeat_interval=1, rto_initial=0.5, rto_min=0.2, rto_max=2, max_retransmissions=20)
    net = MNet(cfg, seed=seed)
    net.connect()
    net.drop = lambda src, dst, pkt: (src in (C1, S1) or dst in (C1, S1)) and rng.random() < 0.5
    msgs = [rng.randbytes(rng.randint(10, 3000)) for _ in range(60)]
    for m in msgs:
        net.ca.send(0, 60, m)
        net.pump()
        net.advance(0.05)
    net.advance(60)
    assert net.data("s") == msgs
    assert net.ca.state == State.ESTABLISHED


def test_heartbeat_to_our_second_address_is_answered_from_it() -> None:
    """§8.3: a peer confirming our second address must see the answer come from it."""
    net = MNet(cli_ips=(C1,), srv_ips=(S1, S2))
    net.connect()
    assert net.ca.peer_addresses == [S1, S2] and len(net.sa.paths) == 1
    info = p.encode_param(p.PARAM_HEARTBEAT_INFO, b"12345678")
    hb = p.build_packet(CLI_PORT, SRV_PORT, net.sa.my_tag, [p.encode_chunk(p.HEARTBEAT, 0, info)])
    net.deliver(hb, C1, S2)
    net.pump()
    assert net.sent({p.HEARTBEAT_ACK}, src=S2, dst=C1)


def test_client_heartbeats_confirm_both_server_addresses() -> None:
    net = MNet(SctpConfig(heartbeat_interval=1, rto_initial=1, rto_min=1, rto_max=2), srv_ips=(S1, S2))
    net.connect()
    net.advance(5)
    assert net.sent({p.HEARTBEAT}, src=C1, dst=S1) and net.sent({p.HEARTBEAT}, src=C2, dst=S2)
    assert net.sent({p.HEARTBEAT_ACK}, src=S2, dst=C2)
    assert all(x.error_count == 0 and x.srtt is not None for x in net.ca.paths)  # each path has its own RTT


def test_amf_ngap_extra_addresses_config() -> None:
    from pydantic import ValidationError

    from fivecore.config import NgapEndpoint

    assert NgapEndpoint(extra_addresses=["127.0.0.6"]).extra_addresses == ["127.0.0.6"]
    assert NgapEndpoint().extra_addresses == []
    for bad in (["::1"], ["not-an-ip"], [f"10.0.0.{i}" for i in range(8)]):
        with pytest.raises(ValidationError):
            NgapEndpoint(extra_addresses=bad)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([C1, C2, C3]), st.sampled_from([S1, S2]),
                          st.sampled_from([0, 3, 4, 5, 6, 7, 9, 10, 11, 14, 0x40, 0xC1]),
                          st.integers(0, 255), st.binary(max_size=48), st.booleans()), max_size=12))
def test_fuzz_chunks_from_any_address_never_raise(pkts: list[tuple[bytes, bytes, int, int, bytes, bool]]) -> None:
    net = MNet(SctpConfig(heartbeat_interval=1, rto_initial=1, rto_min=1, rto_max=2))
    net.connect()
    for src, dst, ctype, flags, value, right_tag in pkts:
        tag = net.sa.my_tag if right_tag else 12345
        net.deliver(p.build_packet(CLI_PORT, SRV_PORT, tag, [p.encode_chunk(ctype, flags, value)]), src, dst)
        net.pump()
        net.advance(0.7)
    for a in (net.ca, net.sa):
        assert isinstance(a.state, State)
        assert 1 <= len(a.paths) <= MAX_PEER_ADDRESSES
        assert a.dest in a.paths


def test_listed_address_carries_no_data_until_a_heartbeat_confirms_it() -> None:
    """§5.4: traffic never goes to an address the peer only listed."""
    net = MNet(SctpConfig(heartbeat_interval=0, rto_initial=1, rto_min=1, rto_max=4))
    net.cut(C2, S2)  # the second link is dead from the start: S2 is never confirmed
    net.connect()
    assert [x.confirmed for x in net.ca.paths] == [True, False]
    net.advance(3)
    assert net.sent({p.HEARTBEAT}, src=C2, dst=S2) and not net.ca.paths[1].confirmed
    net.cut(C1, S1, C2, S2)
    net.ca.send(0, 60, b"m")
    net.advance(10)
    assert not net.sent({p.DATA}, dst=S2)  # retransmissions stayed on the confirmed primary
    net.cut(C1, S1)  # now only the second link works: its confirmation gets through
    net.advance(20)
    assert net.ca.paths[1].confirmed and net.ca.stats["path_confirmed"] == 1
    assert net.data("s") == [b"m"] and net.sent({p.DATA}, src=C2, dst=S2)


def test_an_address_squatted_in_an_init_goes_back_to_its_owner() -> None:
    """A peer lists someone else's address in its INIT; the owner's own INIT from it is a new
    association (not a restart of the squatter's), and takes the address over."""
    cfg = SctpConfig(heartbeat_interval=0)
    srv = Endpoint(cfg, S1, SRV_PORT, True, rng=random.Random(1), secret=b"k" * 32)
    hostile = Endpoint(cfg, C3, CLI_PORT, False, rng=random.Random(5), local_addresses=[C3, C1])
    victim = Endpoint(cfg, C1, CLI_PORT, False, rng=random.Random(6))
    eps = {C3: hostile, C1: victim, S1: srv}

    def run(a: Association) -> None:
        for _ in range(20):
            moved = False
            for ep in (srv, hostile, victim):
                for pkt, dst, src in ep.pop_replies():
                    moved = True
                    eps[dst].receive(src, dst, pkt, 1.0)
            for x in [a, *srv.new_associations]:
                pk = x.datagrams_to_send(1.0)
                dests = x.tx_dests or []
                for i, pkt in enumerate(pk):
                    dst, src = dests[i] if i < len(dests) else (x.dest.peer_ip, x.dest.local_ip)
                    moved = True
                    eps[dst].receive(src, dst, pkt, 1.0)
            if not moved:
                return

    h = hostile.connect(S1, SRV_PORT, 1.0)
    run(h)
    [sh] = srv.new_associations
    assert h.established and sh.peer_addresses == [C3, C1] and not sh.paths[1].confirmed
    v = victim.connect(S1, SRV_PORT, 1.0)
    run(v)
    assert v.established and len(srv.new_associations) == 2
    sv = srv.new_associations[1]
    assert srv.associations[(C1, CLI_PORT)] is sv and srv.associations[(C3, CLI_PORT)] is sh
    assert sh.peer_addresses == [C3] and sh.established and srv.stats["restarts"] == 0
    assert srv.stats["peer_address_reclaimed"] == 1


def _valid_cookie(srv: Endpoint) -> tuple[bytes, int]:
    srv.receive(C1, S1, _init(7, [ipv4(C1), ipv4(C2), ipv4(C3)]), 1.0)
    [(reply, _d, _s)] = srv.pop_replies()
    value = p.parse_chunks(reply)[0].value
    return dict(p.parse_init(value).params)[p.PARAM_STATE_COOKIE], struct.unpack("!I", value[:4])[0]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_cookie_echo_bytes_are_rejected_typed_and_never_raise(data: st.DataObject) -> None:
    srv = Endpoint(SctpConfig(heartbeat_interval=0), S1, SRV_PORT, True, secret=b"k" * 32)
    cookie, tag = _valid_cookie(srv)
    if data.draw(st.booleans()):
        bad = data.draw(st.binary(max_size=200))
    else:  # a valid cookie with some bytes changed, cut or extended
        b = bytearray(cookie)
        for _ in range(data.draw(st.integers(1, 4))):
            b[data.draw(st.integers(0, len(b) - 1))] ^= data.draw(st.integers(1, 255))
        cut = data.draw(st.integers(-8, 8))
        bad = bytes(b[:cut] if cut < 0 else b + bytes(cut))
    if bad == cookie:
        return
    srv.receive(C1, S1, p.build_packet(CLI_PORT, SRV_PORT, tag, [p.encode_chunk(p.COOKIE_ECHO, 0, bad)]), 1.1)
    assert not srv.new_associations and not srv.associations
    assert srv.stats["rx_cookie_invalid"] + srv.stats["rx_cookie_bad_mac"] == 1


def test_unconfirmed_addresses_get_at_most_one_heartbeat_per_rto() -> None:
    """§5.4 / §16 HB.Max.Burst 1: a peer listing many addresses (here: nobody answers at
    them) gets them verified one at a time, in turn, never in bursts."""
    cfg = SctpConfig(heartbeat_interval=0, rto_initial=1, rto_min=1, rto_max=1)
    listed = [bytes([10, 50, 0, i]) for i in range(1, 8)]
    net = MNet(cfg, cli_ips=(C1, *listed), srv_ips=(S1,))
    net.cut(*listed)
    net.connect()
    assert len(net.sa.paths) == 8
    net.advance(0.5)
    net.advance(20)
    times = [dst for _src, dst, pkt in net.wire if dst in listed and p.parse_chunks(pkt)[0].type == p.HEARTBEAT]
    assert 14 <= len(times) <= 22  # about one per RTO (1 s) over 20 s
    assert set(times) == set(listed)  # every address had its turn
    assert net.sa.state == State.ESTABLISHED and net.sa.error_count == 0
