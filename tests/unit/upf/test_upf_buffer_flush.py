"""Downlink buffering handed over to forwarding without losing a packet (TS 29.244 §5.2.3,
TS 23.502 §4.3.2.2.1 steps 11-16 / §4.2.3.3): a new session's downlink FAR says BUFF until
the gNB's F-TEID arrives in a Session Modification that turns it into FORW.

The datapath thread and the PFCP side share the session's buffer. Two interleavings used to
strand a packet in it, to wait for a flush that no later modification would ever ask for:

- the datapath buffers a packet after Session Modification looked at the buffer (empty)
  but before it published the FORW entry: the modification then asked for no flush;
- the datapath looked up the old BUFF entry, the PFCP side published FORW and flushed
  (nothing yet), then the datapath appended: it has to notice and send the packet itself.

Plain calls on the rule model, no I/O; the interleavings are forced by running the
datapath's steps at the moment the thread switch can happen."""

from __future__ import annotations

import struct

import pytest

from fivecore.nf.upf import procedures as P
from fivecore.nf.upf.context import (
    AA_BUFF,
    AA_FORW,
    AA_NOCP,
    ACT_BUFFER,
    ACT_FORWARD,
    IF_ACCESS,
    IF_CORE,
    Far,
    Pdr,
    UpfContext,
    ipv4_to_int,
)

UE = ipv4_to_int("10.45.0.2")
OTHER_UE = ipv4_to_int("10.45.0.3")
CP = "127.0.0.4"
GNB = "10.200.1.2"


def packet(dst: int = UE) -> bytes:
    """An IPv4 header (no payload needed) addressed to ``dst``, as read from the N6 TUN."""
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 0, 0, 64, 1, 0, bytes((10, 46, 0, 9)),
                       dst.to_bytes(4, "big"))


@pytest.fixture
def ctx() -> UpfContext:
    c = UpfContext("10.200.1.1")
    P.associate(c, CP, 1000, (CP, 8805), now=0.0)
    return c


def establish_buffering(ctx: UpfContext, ue: int = UE, cp_seid: int = 7) -> P.SessionResult:
    """TS 23.502 §4.3.2.2.1 step 10a: the SMF's N4 establishment, downlink FAR BUFF."""
    ul = P.want_choose(Pdr(1, 255, IF_ACCESS, ue_ipv4=ue, qfi=1, outer_header_removal=0, far_id=1))
    dl = Pdr(2, 255, IF_CORE, ue_ipv4=ue, far_id=2)
    return P.establish_session(ctx, CP, cp_seid=cp_seid, cp_ipv4=CP, now=1.0, changes=P.SessionChanges(
        create_pdrs=[ul, dl], create_fars=[Far(1, AA_FORW, IF_CORE), Far(2, AA_BUFF)]))


def activate(teid: int = 0x2000) -> P.SessionChanges:
    """Step 16a: Update FAR with the gNB's F-TEID, FORW."""
    return P.SessionChanges(update_fars=[(2, {
        "apply_action": AA_FORW, "destination_interface": IF_ACCESS, "ohc_description": 0x100,
        "ohc_teid": teid, "ohc_ipv4": GNB})])


def test_packet_buffered_while_the_modification_runs_is_flushed(ctx: UpfContext,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    s = establish_buffering(ctx).session
    old = ctx.dl_by_ue[UE]
    assert old.action == ACT_BUFFER and not s.has_buffered
    real_compile = ctx.compile

    def datapath_runs_first(session: object) -> None:
        # the datapath thread got the GIL between the modification's look at the buffer
        # and the store that publishes FORW: it found the BUFF entry and buffered
        assert ctx.dl_by_ue[UE] is old
        s.buffer.append(packet())
        real_compile(session)  # type: ignore[arg-type]

    monkeypatch.setattr(ctx, "compile", datapath_runs_first)
    r = P.modify_session(ctx, s.seid, activate(), now=2.0)
    assert ctx.dl_by_ue[UE].action == ACT_FORWARD
    assert s.has_buffered
    assert r.flush_buffer, "the buffered packet would wait for a flush nobody asks for"


def test_no_flush_asked_when_nothing_was_buffered(ctx: UpfContext) -> None:
    s = establish_buffering(ctx).session
    assert not P.modify_session(ctx, s.seid, activate(), now=2.0).flush_buffer


def test_buffered_packets_flush_after_activation(ctx: UpfContext) -> None:
    s = establish_buffering(ctx).session
    s.buffer.append(packet())
    assert P.modify_session(ctx, s.seid, activate(), now=2.0).flush_buffer


def test_datapath_notices_a_forw_entry_published_under_it(ctx: UpfContext) -> None:
    s = establish_buffering(ctx).session
    old = ctx.dl_by_ue[UE]  # what the datapath thread looked up
    assert not ctx.superseded_by_forward(old, UE), "still the live BUFF entry: keep buffering"
    P.modify_session(ctx, s.seid, activate(), now=2.0)  # the PFCP side: FORW, nothing to flush
    assert ctx.superseded_by_forward(old, UE), "the packet appended now must be sent at once"
    assert not ctx.superseded_by_forward(ctx.dl_by_ue[UE], UE)


def test_buffering_again_is_not_mistaken_for_forwarding(ctx: UpfContext) -> None:
    """TS 23.502 §4.2.6: AN release turns FORW back into BUFF|NOCP; a packet buffered on the
    replaced entry must stay buffered (the UE is paged), not be sent to the gone tunnel."""
    s = establish_buffering(ctx).session
    P.modify_session(ctx, s.seid, activate(), now=2.0)
    fwd = ctx.dl_by_ue[UE]
    P.modify_session(ctx, s.seid, P.SessionChanges(update_fars=[(2, {
        "apply_action": AA_BUFF | AA_NOCP, "ohc_description": None, "ohc_teid": None,
        "ohc_ipv4": None})]), now=3.0)
    assert ctx.dl_by_ue[UE].action == ACT_BUFFER
    assert not ctx.superseded_by_forward(fwd, UE)


def test_another_session_on_the_address_does_not_take_the_packet(ctx: UpfContext) -> None:
    """The session was deleted and its address went to a new, forwarding session: what the
    old session buffered is not the new one's to send."""
    s = establish_buffering(ctx).session
    old = ctx.dl_by_ue[UE]
    P.delete_session(ctx, s.seid, now=2.0)
    s2 = establish_buffering(ctx, cp_seid=8).session
    P.modify_session(ctx, s2.seid, activate(0x3000), now=3.0)
    assert ctx.dl_by_ue[UE].session is s2 and ctx.dl_by_ue[UE].action == ACT_FORWARD
    assert not ctx.superseded_by_forward(old, UE)
    assert not ctx.superseded_by_forward(old, OTHER_UE)
