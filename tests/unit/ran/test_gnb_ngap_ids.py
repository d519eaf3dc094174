"""NGAP UE IDs over a long run, on both ends of N2, and the gNB's reaction to a lost N2 link.

The 100,000-UE scale run (issue 9) stalled after ~66,000 UEs; these check that neither the
simulated gNB's RAN UE NGAP IDs nor the AMF's AMF UE NGAP IDs and per-gNB UE table (the
``amf.max_ues_per_gnb`` cap) can collide, wrap into a live ID, or fill up over many more
registrations than that. No sockets: the gNB and the AMF context are driven by plain calls.
"""

from __future__ import annotations

import asyncio

import pytest

from fivecore.nf.amf.context import AmfContext, GnbContext
from fivecore.nf.amf.ngap_handler import AMF_UE_NGAP_ID_MAX, NgapConfig
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.gnb import NgSetupFailed, _time_to_wait
from fivecore.ran.ue import UeState

CFG = {"ue": {"supi": "imsi-001010000000001", "key": "465B5CE8B199B49FAA5F0A2EE238A6BC",
              "op": "E8ED289DEBA952E4283B54E88E6183CA", "opType": "OPC", "protectionScheme": 0}}


def _sim(n_ues: int, n_gnbs: int = 1) -> RanSim:
    sim = RanSim(load_ran_config(CFG), n_gnbs=n_gnbs, n_ues=n_ues)
    for g in sim.gnbs:
        g.reconnect = False  # no sockets in a unit test
    return sim


def test_ran_ue_ngap_ids_unique_over_many_connections() -> None:
    """TS 38.413 §9.3.3.2: 150,000 RRC connections and releases on one gNB, 64 open at a time."""
    sim = _sim(64)
    g = sim.gnbs[0]
    seen: set[int] = set()
    for k in range(150_000):
        ru = sim.ues[k % 64]
        if ru.ran_id is not None:
            g._drop(ru)
        g.rrc_connect(ru)
        assert ru.ran_id is not None and g.connected[ru.ran_id] is ru
        assert ru.ran_id not in seen
        seen.add(ru.ran_id)
        assert len(g.connected) == min(k + 1, 64)
        # the NGAP stream of a UE is never 0 (non-UE-associated signalling, TS 38.412 §7)
        assert 1 <= g._stream(ru) < (g.sctp_config.out_streams or 16)
    assert len(g.connected) == 64


def test_ran_ue_ngap_id_wrap_skips_ids_still_in_use() -> None:
    """After 2^32 - 1 the ID wraps to 0; an ID still held by an open connection is skipped."""
    sim = _sim(4)
    g = sim.gnbs[0]
    a, b, c, d = sim.ues
    g._next_ran_id = 0
    g.rrc_connect(a)  # holds 0
    g.rrc_connect(b)  # holds 1
    g._next_ran_id = 0xFFFFFFFF
    g.rrc_connect(c)
    g.rrc_connect(d)
    assert c.ran_id == 0xFFFFFFFF
    assert d.ran_id == 2, "0 and 1 are taken: the wrap must not hand them out again"
    assert {g.connected[i] for i in (0, 1, 2, 0xFFFFFFFF)} == {a, b, c, d}


def test_amf_ue_ngap_ids_and_per_gnb_table_over_a_long_run() -> None:
    """200,000 registrations through one gNB, each released to CM-IDLE (the scale run's
    pattern): the gNB's UE table empties every time, so ``max_ues_per_gnb`` is never reached,
    and AMF UE NGAP IDs stay unique among live contexts."""
    ctx = AmfContext()
    gnb = ctx.add_gnb(1, "gnb")
    limit = NgapConfig().max_ues_per_gnb
    live: dict[int, object] = {}
    for k in range(200_000):
        ran_id = 1 + k  # a fresh RAN UE NGAP ID per connection, as the gNB allocates them
        ue = ctx.new_ue(gnb, ran_id)
        assert ue.amf_ue_ngap_id not in live
        live[ue.amf_ue_ngap_id] = ue
        assert ctx.find_ue(gnb, ue.amf_ue_ngap_id, ran_id) is ue
        ctx.detach_ran(ue)  # UE Context Release Complete: the UE stays registered, CM-IDLE
        assert len(gnb.ues) == 0 < limit
    assert len(ctx.ues) == 200_000 == len(live)


def test_amf_ue_ngap_id_redraw_skips_live_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    """TS 38.413 §9.3.3.1: 0..2^40-1, both ends usable; a draw hitting a live ID is redrawn."""
    from fivecore.nf.amf import context as amf_context

    ctx = AmfContext()
    gnb = ctx.add_gnb(1, "gnb")
    draws = iter([0, AMF_UE_NGAP_ID_MAX, 0, AMF_UE_NGAP_ID_MAX, 2])
    monkeypatch.setattr(amf_context, "_draw_amf_ue_ngap_id", lambda: next(draws))
    zero = ctx.new_ue(gnb, 10)
    top = ctx.new_ue(gnb, 12)
    nxt = ctx.new_ue(gnb, 13)
    assert (zero.amf_ue_ngap_id, top.amf_ue_ngap_id, nxt.amf_ue_ngap_id) == (0, AMF_UE_NGAP_ID_MAX, 2)
    assert {u.amf_ue_ngap_id for u in gnb.ues.values()} == {0, 2, AMF_UE_NGAP_ID_MAX}


def test_two_gnbs_may_use_the_same_ran_ue_ngap_id() -> None:
    """RAN UE NGAP IDs are per gNB: the same value on two gNBs names two different UEs."""
    ctx = AmfContext()
    g1, g2 = ctx.add_gnb(1, "a"), ctx.add_gnb(2, "b")
    u1, u2 = ctx.new_ue(g1, 7), ctx.new_ue(g2, 7)
    assert ctx.find_ue(g1, u1.amf_ue_ngap_id, 7) is u1
    assert ctx.find_ue(g2, u1.amf_ue_ngap_id, 7) is None
    assert ctx.find_ue(g2, u2.amf_ue_ngap_id, 7) is u2
    assert isinstance(g1, GnbContext)


async def test_lost_association_drops_ngap_connections_and_ends_waits() -> None:
    """N2 lost: every UE-associated NG connection on that gNB is gone (TS 23.502 §4.2.6); a
    registration waiting there ends at once instead of at its timeout, other gNBs' UEs wait on."""
    sim = _sim(4, n_gnbs=2)
    g1, g2 = sim.gnbs
    here, there = sim.ues[0], sim.ues[1]
    assert here.gnb is g1 and there.gnb is g2
    g1.ready = g2.ready = True
    # the registrations go out (dropped: no association in a unit test) and wait for answers
    t_here = asyncio.create_task(sim.register(here, timeout=30))
    t_there = asyncio.create_task(sim.register(there, timeout=0.5))
    await asyncio.sleep(0.05)
    assert here.ran_id is not None and g1.connected
    g1._association_lost()
    assert here.ran_id is None and not g1.connected and here.ue.connected is False
    state = await asyncio.wait_for(t_here, 2.0)
    assert state == UeState.REGISTERED_INITIATED
    assert g1.stats.associations_lost == 1 and g1.stats.ues_dropped_on_loss == 1
    assert sim.stats["aborted_by_n2_loss"] == 1
    assert not t_there.done(), "a UE on another gNB keeps waiting"
    assert await t_there == UeState.REGISTERED_INITIATED  # its own timeout
    assert g1.stats.ngap_tx_dropped >= 1  # counted, not silent


def test_time_to_wait_values() -> None:
    """TS 38.413 §9.3.1.56."""
    assert _time_to_wait("v1s") == 1.0 and _time_to_wait("v60s") == 60.0
    assert _time_to_wait(None) is None and _time_to_wait("vXs") is None and _time_to_wait(3) is None
    assert NgSetupFailed("x").time_to_wait is None
