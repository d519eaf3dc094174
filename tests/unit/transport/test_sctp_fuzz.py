"""Fuzz the SCTP codec and the sans-I/O endpoint: bad input never raises out of the stack."""

from __future__ import annotations

import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.transport.sctp import packet as p
from fivecore.transport.sctp.association import State
from fivecore.transport.sctp.config import SctpConfig
from fivecore.transport.sctp.endpoint import Endpoint

CLI_IP = b"\x7f\x00\x00\x01"
SRV_IP = b"\x7f\x00\x00\x05"


def _fix_crc(pkt: bytes) -> bytes:
    b = bytearray(pkt)
    if len(b) >= 12:
        b[8:12] = p.checksum(b).to_bytes(4, "little")
    return bytes(b)


def _established() -> tuple[Endpoint, Endpoint, object, object]:
    cfg = SctpConfig(heartbeat_interval=0)
    srv = Endpoint(cfg, SRV_IP, 38412, True, rng=random.Random(1), secret=b"s" * 32)
    cli = Endpoint(cfg, CLI_IP, 50000, False, rng=random.Random(2))
    ca = cli.connect(SRV_IP, 38412, 0.0)
    sa = None
    for _ in range(10):
        for pk in ca.datagrams_to_send(0.0):
            srv.receive(CLI_IP, SRV_IP, pk, 0.0)
        for pk, _d, _s in srv.pop_replies():
            cli.receive(SRV_IP, CLI_IP, pk, 0.0)
        if srv.new_associations:
            sa = srv.new_associations.pop()
        if sa is not None:
            for pk in sa.datagrams_to_send(0.0):
                cli.receive(SRV_IP, CLI_IP, pk, 0.0)
    assert sa is not None and sa.state == State.ESTABLISHED
    return srv, cli, ca, sa


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_parsers_raise_only_decode_error(data: bytes) -> None:
    for fn in (p.parse_header, p.parse_chunks, p.parse_init, p.parse_params, p.parse_causes):
        try:
            fn(data)
        except p.SctpDecodeError:
            pass
    try:
        p.parse_data(0, data)
    except p.SctpDecodeError:
        pass
    p.describe_causes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.booleans())
def test_random_packets_never_raise(body: bytes, fix_crc: bool) -> None:
    srv, cli, ca, sa = _established()
    pkt = struct.pack("!HHI", 50000, 38412, sa.my_tag) + b"\x00" * 4 + body
    if fix_crc:
        pkt = _fix_crc(pkt)
    srv.receive(CLI_IP, SRV_IP, pkt, 1.0)
    sa.datagrams_to_send(1.0)
    sa.handle_timer(50.0)
    sa.datagrams_to_send(50.0)


_chunk = st.tuples(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 0x40, 0x80, 0xC0]),
                   st.integers(0, 255), st.binary(max_size=60))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_chunk, min_size=1, max_size=4), st.booleans())
def test_structured_chunks_never_raise(chunks: list[tuple[int, int, bytes]], zero_tag: bool) -> None:
    srv, cli, ca, sa = _established()
    tag = 0 if zero_tag else sa.my_tag
    pkt = p.build_packet(50000, 38412, tag, [p.encode_chunk(t, f, v) for t, f, v in chunks])
    srv.receive(CLI_IP, SRV_IP, pkt, 1.0)
    srv.pop_replies()
    sa.datagrams_to_send(1.0)
    sa.pop_events()
    # The association is either still usable or cleanly closed, never stuck half-way.
    if sa.state == State.ESTABLISHED:
        ca.send(0, 60, b"ping")
        for pk in ca.datagrams_to_send(2.0):
            srv.receive(CLI_IP, SRV_IP, pk, 2.0)
    cli.receive(SRV_IP, CLI_IP, pkt, 1.0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 400), st.integers(0, 255))
def test_mutated_handshake_packets_never_raise(pos: int, xor: int) -> None:
    cfg = SctpConfig(heartbeat_interval=0)
    srv = Endpoint(cfg, SRV_IP, 38412, True, rng=random.Random(1), secret=b"s" * 32)
    cli = Endpoint(cfg, CLI_IP, 50000, False, rng=random.Random(2))
    ca = cli.connect(SRV_IP, 38412, 0.0)
    for _ in range(4):
        for pk in ca.datagrams_to_send(0.0):
            b = bytearray(pk)
            b[pos % len(b)] ^= xor
            srv.receive(CLI_IP, SRV_IP, _fix_crc(bytes(b)), 0.0)
            srv.receive(CLI_IP, SRV_IP, pk, 0.0)
        for pk, _d, _s in srv.pop_replies():
            b = bytearray(pk)
            b[pos % len(b)] ^= xor
            cli.receive(SRV_IP, CLI_IP, _fix_crc(bytes(b)), 0.0)
        for a in srv.new_associations:
            a.datagrams_to_send(0.0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.3), st.floats(0.0, 0.2), st.floats(0.0, 0.3))
def test_lossy_reordering_wire_delivers_exactly_once_in_order(seed: int, loss: float, dup: float,
                                                                reorder: float) -> None:
    """RFC 9260 §6: whatever the wire drops, duplicates or reorders, each message arrives once,
    in order per stream (unordered ones once, anywhere)."""
    from fivecore.transport.sctp.association import DataReceived

    rng = random.Random(seed)
    cfg = SctpConfig(heartbeat_interval=0, rto_initial=0.5, rto_min=0.2, rto_max=1.0,
                     max_retransmissions=1000, max_init_retransmits=1000)
    srv = Endpoint(cfg, SRV_IP, 38412, True, rng=random.Random(seed), secret=b"s" * 32)
    cli = Endpoint(cfg, CLI_IP, 50000, False, rng=random.Random(seed + 1))
    now = 0.0
    ca = cli.connect(SRV_IP, 38412, now)
    sa = None
    inflight: list[tuple[float, str, bytes]] = []
    got: list[DataReceived] = []

    def emit(direction: str, pkt: bytes) -> None:
        if rng.random() < loss:
            return
        delay = rng.random() * 0.05 if rng.random() < reorder else 0.001
        inflight.append((now + delay, direction, pkt))
        if rng.random() < dup:
            inflight.append((now + rng.random() * 0.05, direction, pkt))

    msgs = [(rng.randrange(3), rng.random() < 0.2, rng.randbytes(rng.choice([1, 50, 1452, 3000, 9000])))
            for _ in range(25)]
    sent = False
    for _ in range(20000):
        if sa is None and srv.new_associations:
            sa = srv.new_associations.pop()
        if not sent and ca.state == State.ESTABLISHED:
            for s, u, d in msgs:
                ca.send(s, 60, d, unordered=u)
            sent = True
        for pk in ca.datagrams_to_send(now):
            emit("c2s", pk)
        for pk, _d, _s in srv.pop_replies():
            emit("s2c", pk)
        if sa is not None:
            for pk in sa.datagrams_to_send(now):
                emit("s2c", pk)
            for e in sa.pop_events():
                if isinstance(e, DataReceived):
                    got.append(e)
                    sa.consumed(len(e.data))
        ca.pop_events()
        if sent and len(got) >= len(msgs) and not ca._sent and not ca._queue:
            break
        timers = [t for a in (ca, sa) if a is not None and (t := a.get_timer()) is not None]
        nxt = min([t for t, _, _ in inflight] + timers, default=None)
        assert nxt is not None, "stuck: nothing in flight and no timer"
        now = max(now, nxt)
        due = [x for x in inflight if x[0] <= now]
        inflight = [x for x in inflight if x[0] > now]
        for _, direction, pk in due:
            if direction == "c2s":
                srv.receive(CLI_IP, SRV_IP, pk, now)
            else:
                cli.receive(SRV_IP, CLI_IP, pk, now)
        for a in (ca, sa):
            if a is not None:
                a.handle_timer(now)
    assert ca.state == State.ESTABLISHED
    assert sorted((m.stream, m.unordered, m.data) for m in got) == sorted((s, u, d) for s, u, d in msgs)
    for s in range(3):
        assert [m.data for m in got if m.stream == s and not m.unordered] == [
            d for st_, u, d in msgs if st_ == s and not u]
