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
