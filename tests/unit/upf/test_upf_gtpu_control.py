"""N3 signalling of the UPF (TS 29.281 §7): echo, Error Indication, junk — plain calls."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.upf import procedures as P
from fivecore.nf.upf.context import AA_FORW, IF_ACCESS, IF_CORE, Far, Pdr, UpfContext, ipv4_to_int
from fivecore.nf.upf.gtpu_control import N3Control
from fivecore.wire import gtpu

CP = "127.0.0.4"

GNB = ("10.200.1.2", 2152)


def make() -> tuple[UpfContext, N3Control]:
    ctx = UpfContext("10.200.1.1")
    return ctx, N3Control(ctx, ("10.200.1.1", 2152))


def test_echo_request_gets_response_with_same_sequence() -> None:
    ctx, n3 = make()
    out = n3.handle(gtpu.build_echo_request(4711), ("10.200.1.2", 40000))
    assert len(out) == 1
    data, addr = out[0]
    assert addr == ("10.200.1.2", 40000)  # back to the request's source port (§4.4.2.2)
    msg = gtpu.decode(data)
    assert msg.msg_type == gtpu.ECHO_RESPONSE and msg.seq == 4711 and msg.recovery == 0
    assert ctx.metrics.echo_rx == 1


def test_error_indication_for_unknown_teid() -> None:
    ctx, n3 = make()
    msg = gtpu.decode(n3.error_indication(0xCAFE))
    assert msg.msg_type == gtpu.ERROR_INDICATION and msg.teid == 0
    assert msg.teid_data_i == 0xCAFE and msg.peer_address == "10.200.1.1"
    assert msg.seq is not None  # S flag set (TS 29.281 §5.1)
    assert ctx.metrics.error_indication_tx == 1


def test_end_marker() -> None:
    _, n3 = make()
    msg = gtpu.decode(n3.end_marker(0x2000))
    assert msg.msg_type == gtpu.END_MARKER and msg.teid == 0x2000


def test_error_indication_from_gnb_becomes_event_for_the_session() -> None:
    ctx, n3 = make()
    P.associate(ctx, CP, 1, (CP, 8805), now=0.0)
    ue = ipv4_to_int("10.45.0.2")
    ch = P.SessionChanges(
        create_pdrs=[Pdr(1, 1, IF_ACCESS, teid=0x10, ue_ipv4=ue, far_id=1),
                     Pdr(2, 1, IF_CORE, ue_ipv4=ue, far_id=2)],
        create_fars=[Far(1, AA_FORW, IF_CORE),
                     Far(2, AA_FORW, IF_ACCESS, ohc_teid=0x2000, ohc_ipv4="10.200.1.2")])
    r = P.establish_session(ctx, CP, 1, CP, ch, now=0.0)
    assert n3.handle(gtpu.build_error_indication(0x2000, "10.200.1.2"), GNB) == []
    assert list(ctx.error_indication_events) == [(r.session, 0x2000, "10.200.1.2")]
    n3.handle(gtpu.build_error_indication(0x9999, "10.200.1.2"), GNB)
    assert len(ctx.error_indication_events) == 1


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_junk_never_raises_and_only_echo_is_answered(data: bytes) -> None:
    ctx, n3 = make()
    for d, _ in n3.handle(data, GNB):
        assert gtpu.decode(d).msg_type == gtpu.ECHO_RESPONSE
