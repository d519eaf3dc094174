"""Liveness probe of the sans-I/O association (RFC 9260 §8.3 HEARTBEAT, §6.3.3 E2 backoff,
§16 Path.Max.Retrans), driven by plain calls and a fake clock: the AMF's question "is the
peer of this old association still there?" answered the way SCTP itself would."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sctpnet import SctpNet

from fivecore.transport.sctp import packet as p
from fivecore.transport.sctp.association import (
    PATH_MAX_RETRANS,
    Association,
    State,
)
from fivecore.transport.sctp.config import SctpConfig

GNB_IP = b"\x7f\x00\x00\x01"
AMF_IP = b"\x7f\x00\x00\x05"
AMF_PORT = 38412
GNB_PORT = 50001


class Wire(SctpNet):
    """An AMF-side (server) and a gNB-side (client) endpoint over an in-memory wire.

    ``drop(direction, chunk_types)`` decides per packet whether it is lost; every packet
    sent is kept in ``log`` as (direction, time, chunk types, packet)."""

    C2S = "g2a"
    S2C = "a2g"
    PUMP_ROUNDS = 100

    def __init__(self, cfg: SctpConfig, seed: int = 7) -> None:
        super().__init__(cfg, cli_ips=(GNB_IP,), srv_ips=(AMF_IP,), cli_port=GNB_PORT, srv_port=AMF_PORT,
                         now=1000.0, seed=seed, secret=b"s" * 32)
        self.drop: Callable[[str, list[int]], bool] = lambda d, types: False
        self.log: list[tuple[str, float, list[int], bytes]] = []
        self.ga: Association = self.connect()
        assert self.aa is not None and self.aa.established and self.ga.established

    @property
    def aa(self) -> Association | None:
        return self.sa

    @property
    def a(self) -> Association:
        assert self.aa is not None
        return self.aa

    def transmit(self, direction: str, pkt: bytes, src: bytes, dst: bytes) -> None:
        types = [c.type for c in p.parse_chunks(pkt)]
        self.log.append((direction, self.now, types, pkt))
        if not self.drop(direction, types):
            self.arrive(direction, pkt)

    def heartbeats(self, since: float = 0.0) -> list[float]:
        """Send times of the AMF's HEARTBEATs."""
        return [t for d, t, types, _ in self.log if d == "a2g" and p.HEARTBEAT in types and t >= since]

    def heartbeat_values(self) -> list[bytes]:
        return [c.value for d, _t, types, pkt in self.log if d == "a2g" and p.HEARTBEAT in types
                for c in p.parse_chunks(pkt) if c.type == p.HEARTBEAT]

    def from_gnb(self, *chunks: bytes) -> None:
        """A packet from the gNB's address and port with the right tag (passes §8.5)."""
        self.transmit("g2a", p.build_packet(GNB_PORT, AMF_PORT, self.a.my_tag, list(chunks)), GNB_IP, AMF_IP)
        self.pump()


def cfg(**kw: float) -> SctpConfig:
    base: dict[str, float] = {"heartbeat_interval": 0, "rto_initial": 1.0, "rto_min": 1.0, "rto_max": 60.0}
    base.update(kw)
    return SctpConfig(**base)  # type: ignore[arg-type]


def hb_lost(n: int) -> Callable[[str, list[int]], bool]:
    """The first ``n`` HEARTBEATs towards the gNB are lost."""
    seen = [0]

    def drop(direction: str, types: list[int]) -> bool:
        if direction == "a2g" and p.HEARTBEAT in types:
            seen[0] += 1
            return seen[0] <= n
        return False

    return drop


def test_first_two_heartbeats_lost_then_acknowledged_is_alive() -> None:
    w = Wire(cfg())
    w.drop = hb_lost(2)
    t0 = w.now
    pr = w.a.start_probe(t0)
    w.pump()
    w.run_until(t0 + 0.999)
    assert pr.alive is None and w.heartbeats(t0) == [t0]
    w.run_until(t0 + 1.0)  # the first RTO expired: a second HEARTBEAT (lost too)
    assert pr.alive is None and w.heartbeats(t0) == [t0, t0 + 1.0]
    w.run_until(t0 + 3.0)  # RTO doubled to 2 s: a third one, answered at once
    assert pr.alive is True and pr.reason == "HEARTBEAT ACK"
    assert w.heartbeats(t0) == [t0, t0 + 1.0, t0 + 3.0] and pr.waits == [1.0, 2.0, 4.0]
    assert w.a.error_count == 0 and w.a.rto == 1.0  # the ACK's RTT sample replaced the backoff
    assert w.a.state == State.ESTABLISHED and w.a.stats["probe_alive"] == 1
    w.run_until(t0 + 100)
    assert w.heartbeats(t0 + 3.1) == []  # finished: nothing more goes out


def test_all_heartbeats_lost_is_dead_after_path_max_retrans() -> None:
    w = Wire(cfg())
    w.drop = hb_lost(10**6)
    t0 = w.now
    pr = w.a.start_probe(t0)
    assert pr.max_retransmissions == PATH_MAX_RETRANS == 5
    w.run_until(t0 + 62.9)
    assert pr.alive is None
    w.run_until(t0 + 63.0)  # 1 + 2 + 4 + 8 + 16 + 32 s
    assert pr.alive is False and "Path.Max.Retrans" in pr.reason
    assert pr.heartbeats == 6 and w.heartbeats(t0) == [t0 + x for x in (0, 1, 3, 7, 15, 31)]
    assert w.a.error_count == 6 and w.a.rto == 60.0  # 64 s capped at RTO.Max
    # the verdict goes to the caller; Association.Max.Retrans (10) is not reached
    assert w.a.state == State.ESTABLISHED and w.a.stats["probe_dead"] == 1


@pytest.mark.parametrize(
    ("kw", "retrans", "waits"),
    [
        ({}, 3, [1.0, 2.0, 4.0, 8.0]),
        ({"rto_max": 3.0}, 5, [1.0, 2.0, 3.0, 3.0, 3.0, 3.0]),  # E2 capped at RTO.Max
        ({"rto_min": 0.3, "rto_initial": 0.5, "rto_max": 2.0}, 4, [0.5, 1.0, 2.0, 2.0, 2.0]),
        ({}, 0, [1.0]),
    ],
)
def test_rto_backoff_schedule(kw: dict[str, float], retrans: int, waits: list[float]) -> None:
    w = Wire(cfg(**kw))
    w.drop = hb_lost(10**6)
    t0 = w.now
    pr = w.a.start_probe(t0, retrans)
    w.run_until(t0 + 1000)
    assert pr.alive is False and pr.waits == waits
    sent = w.heartbeats(t0)
    assert [b - a for a, b in zip(sent, sent[1:], strict=False)] == pytest.approx(waits[:-1])


def test_probe_starts_from_the_measured_rto_clamped_to_rto_min() -> None:
    """RFC 9260 §6.3.1: an RTT sample (the handshake's HEARTBEAT here) sets the RTO; a tiny
    loopback RTT gives RTO.Min, which is where the probe's first wait starts."""
    w = Wire(cfg(rto_initial=3.0, rto_min=0.5, rto_max=10.0))
    assert w.a.rto == 3.0
    w.a.request_heartbeat(w.now)
    w.pump()
    assert w.a.rto == 0.5
    w.drop = hb_lost(10**6)
    pr = w.a.start_probe(w.now, 2)
    w.run_until(w.now + 100)
    assert pr.waits == [0.5, 1.0, 2.0]


def test_ack_for_unrelated_or_old_nonce_is_not_counted() -> None:
    w = Wire(cfg())
    # a first probe, answered: its nonces become old
    first = w.a.start_probe(w.now)
    w.pump()
    assert first.alive is True
    old_value = w.heartbeat_values()[-1]
    # a routine/on-demand HEARTBEAT from before the second probe, answer held back
    w.drop = lambda d, types: d == "g2a" and p.HEARTBEAT_ACK in types
    w.a.request_heartbeat(w.now)
    w.pump()
    routine_value = w.heartbeat_values()[-1]
    w.drop = hb_lost(10**6)
    second = w.a.start_probe(w.now)
    w.pump()
    assert second.alive is None and second is not first
    unknown = w.a.stats["rx_heartbeat_ack_unknown"]
    sent_at, nonce = struct.unpack("!dQ", p.parse_params(old_value)[0][1])
    for info in (
        old_value,  # a replay of the first probe's answer
        p.encode_param(p.PARAM_HEARTBEAT_INFO, struct.pack("!dQ", sent_at, nonce ^ 1)),  # unrelated nonce
        p.encode_param(p.PARAM_HEARTBEAT_INFO, struct.pack("!dQ", sent_at, nonce) + b"\0"),  # wrong length
    ):
        w.from_gnb(p.encode_chunk(p.HEARTBEAT_ACK, 0, info))
        assert second.alive is None
    assert w.a.stats["rx_heartbeat_ack_unknown"] == unknown + 3
    # the answer to the HEARTBEAT sent before the probe was asked: not the probe's answer
    w.from_gnb(p.encode_chunk(p.HEARTBEAT_ACK, 0, routine_value))
    assert second.alive is None and w.a.heartbeat_acks == 2
    # the late answer to the probe's own first HEARTBEAT, after a retransmission, counts
    t0 = second.started
    w.run_until(t0 + 1.5)
    assert second.heartbeats == 2
    w.from_gnb(p.encode_chunk(p.HEARTBEAT_ACK, 0, w.heartbeat_values()[-2]))
    assert second.alive is True


def test_forged_time_in_the_echoed_heartbeat_info_cannot_poison_the_rto() -> None:
    w = Wire(cfg())
    w.drop = hb_lost(10**6)
    pr = w.a.start_probe(w.now)
    w.pump()
    _t, nonce = struct.unpack("!dQ", p.parse_params(w.heartbeat_values()[-1])[0][1])
    w.now += 0.25
    w.from_gnb(p.encode_chunk(p.HEARTBEAT_ACK, 0, p.encode_param(p.PARAM_HEARTBEAT_INFO,
                                                                  struct.pack("!dQ", math.nan, nonce))))
    assert pr.alive is True and math.isfinite(w.a.rto) and w.a.rto == 1.0


def test_sack_of_new_data_proves_the_peer_alive() -> None:
    w = Wire(cfg())
    w.drop = lambda d, types: (d == "a2g" and p.HEARTBEAT in types) or (d == "g2a" and types == [p.SACK])
    w.a.send(0, 60, b"x" * 100)
    w.pump()  # the DATA reaches the gNB; its SACK is held back for now
    pr = w.a.start_probe(w.now)
    w.pump()
    assert pr.alive is None
    w.drop = hb_lost(10**6)
    w.run_until(w.now + 0.5)  # the gNB's delayed SACK (sack_delay 0.2 s) now gets through
    assert pr.alive is True and pr.reason == "SACK acknowledged new DATA"


def test_overall_deadline_bounds_the_series() -> None:
    w = Wire(cfg())
    w.drop = hb_lost(10**6)
    t0 = w.now
    pr = w.a.start_probe(t0, deadline=t0 + 5.0)
    w.run_until(t0 + 4.99)
    assert pr.alive is None and pr.heartbeats == 3  # at 0, 1 and 3 s
    w.run_until(t0 + 5.0)
    assert pr.alive is False and "deadline" in pr.reason and pr.heartbeats == 3
    assert w.a.state == State.ESTABLISHED


def test_association_max_retrans_still_closes_the_association() -> None:
    """RFC 9260 §8.1: the probe's unanswered HEARTBEATs count in the association's error
    counter; past Association.Max.Retrans the association is closed and the probe dead."""
    w = Wire(cfg(max_retransmissions=2))
    w.drop = hb_lost(10**6)
    t0 = w.now
    pr = w.a.start_probe(t0)
    w.run_until(t0 + 100)
    assert w.a.state == State.CLOSED and pr.alive is False and pr.heartbeats == 3
    assert "Association.Max.Retrans" not in pr.reason and "HEARTBEAT not acknowledged" in pr.reason
    assert any(d == "a2g" and p.ABORT in types for d, _t, types, _ in w.log)


def test_peer_abort_during_probe_ends_it_dead() -> None:
    w = Wire(cfg())
    w.drop = hb_lost(10**6)
    pr = w.a.start_probe(w.now)
    w.pump()
    w.ga.abort("gone", w.now)
    w.pump()
    assert w.a.state == State.CLOSED and pr.alive is False and "peer aborted" in pr.reason


def test_second_request_joins_the_running_probe_and_new_one_after() -> None:
    w = Wire(cfg())
    w.drop = hb_lost(1)
    pr = w.a.start_probe(w.now)
    assert w.a.start_probe(w.now + 0.5) is pr
    w.run_until(w.now + 1.0)
    assert pr.alive is True and pr.heartbeats == 2
    again = w.a.start_probe(w.now)
    w.pump()
    assert again is not pr and again.alive is True and again.heartbeats == 1


def test_not_established_is_dead_at_once_and_bad_limits_are_refused() -> None:
    c = SctpConfig(heartbeat_interval=0)
    a = Association(c, GNB_IP, GNB_PORT, AMF_IP, AMF_PORT, rng=random.Random(1))
    pr = a.start_probe(5.0)
    assert pr.alive is False and pr.heartbeats == 0 and a.get_timer() is None
    a.start(5.0)  # COOKIE-WAIT
    assert a.start_probe(5.0).alive is False
    w = Wire(cfg())
    with pytest.raises(ValueError):
        w.a.start_probe(w.now, -1)
    with pytest.raises(ValueError):
        w.a.start_probe(w.now, 1000)


def test_routine_heartbeats_do_not_double_the_backoff_during_a_probe() -> None:
    w = Wire(cfg(heartbeat_interval=0.5, rto_max=60.0))
    w.drop = hb_lost(10**6)
    t0 = w.now
    pr = w.a.start_probe(t0, 3)
    w.run_until(t0 + 15.0)
    assert pr.alive is False and pr.waits == [1.0, 2.0, 4.0, 8.0]
    assert w.heartbeats(t0) == [t0, t0 + 1, t0 + 3, t0 + 7]  # only the probe's own


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64), st.sampled_from([p.HEARTBEAT_ACK, p.HEARTBEAT, p.SACK, p.ERROR]))
def test_fuzz_hostile_answers_never_raise_nor_fake_an_answer(value: bytes, ctype: int) -> None:
    """Bad input is normal input: whatever the peer sends while a probe runs, nothing
    escapes and only a real answer (never guessed here) ends the probe alive."""
    w = Wire(cfg(), seed=3)
    w.drop = hb_lost(10**6)
    pr = w.a.start_probe(w.now)
    w.pump()
    w.from_gnb(p.encode_chunk(ctype, 0, value))
    w.from_gnb(p.encode_chunk(ctype, 0, p.encode_param(p.PARAM_HEARTBEAT_INFO, value)))
    assert pr.alive is not True
    w.run_until(w.now + 100)
    assert pr.alive is False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.booleans(), min_size=8, max_size=8), st.integers(0, 6), st.sampled_from([1.0, 3.0, 60.0]))
def test_any_loss_pattern_alive_iff_one_of_the_series_got_through(lost: list[bool], n: int, rto_max: float) -> None:
    """Property: with HEARTBEAT k lost iff ``lost[k]``, the probe is alive iff one of its
    first n+1 HEARTBEATs got through, after exactly that many, each wait the doubled last."""
    w = Wire(cfg(rto_max=rto_max), seed=5)
    seen = [0]

    def drop(direction: str, types: list[int]) -> bool:
        if direction == "a2g" and p.HEARTBEAT in types:
            seen[0] += 1
            return lost[seen[0] - 1]
        return False

    w.drop = drop
    pr = w.a.start_probe(w.now, n)
    w.run_until(w.now + 1000)
    first_ok = next((k for k, x in enumerate(lost[: n + 1]) if not x), None)
    assert pr.alive is (first_ok is not None)
    assert pr.heartbeats == (n + 1 if first_ok is None else first_ok + 1)
    assert pr.waits == [min(2.0**k, rto_max) for k in range(pr.heartbeats)]
