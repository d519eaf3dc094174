"""Mobile reachable timer and implicit de-registration (TS 24.501 §5.3.7), with a fake clock.

The AMF side is the real 5GMM entity driven by the simulator's UE and a home network doing
real 5G-AKA (amf/homenet.py); the clock is a plain number the test moves, read by
``Gmm.clock``; ``Gmm.reachability_due`` is what the application's one timer task calls.
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from fivecore.config import load_config
from fivecore.nf.amf.context import AmfContext, GmmState, UeContext
from fivecore.nf.amf.gmm import Gmm, GmmConfig, SbiCall
from fivecore.ran.ue import UeState

sys.path.insert(0, str(Path(__file__).parent / "amf"))
from homenet import Loop, make  # noqa: E402

MR, IMPLICIT = 100.0, 50.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _setup(n: int = 1, **kw: Any) -> tuple[Loop, list[Any], Clock]:
    loop, ues = make(n, gmm_kw={"mobile_reachable": MR, "implicit_deregistration": IMPLICIT, **kw})
    clock = Clock()
    loop.gmm.clock = clock
    return loop, ues, clock


def _due(loop: Loop, ue: Any) -> list[Any]:
    acts = loop.gmm.reachability_due()
    loop.run(ue, acts)
    return acts


def test_defaults_follow_t3512_and_the_config_sets_them() -> None:
    """TS 24.501 §5.3.7: both default to 4 minutes more than T3512 (54 min by default, the
    value the Registration Accept carries)."""
    cfg = GmmConfig()
    assert cfg.t3512 == 3240
    assert cfg.mobile_reachable_s == cfg.implicit_deregistration_s == 3240 + 240
    assert GmmConfig(t3512=60).mobile_reachable_s == 300
    from fivecore.nf.amf.app import gmm_config

    c = load_config({"amf": {"timers": {"t3512": 600, "implicit_deregistration": 30.5}}})
    g = gmm_config(c)
    assert (g.mobile_reachable_s, g.implicit_deregistration_s) == (840.0, 30.5)
    c = load_config({"amf": {"timers": {"mobile_reachable": 12}}})
    assert gmm_config(c).mobile_reachable_s == 12.0
    from fivecore.errors import FivecoreError

    with pytest.raises(FivecoreError):
        load_config({"amf": {"timers": {"mobile_reachable": 0}}})


def test_idle_ue_is_deregistered_implicitly() -> None:
    loop, (ue,), clock = _setup()
    amf_ue = loop.register(ue)
    supi, key = amf_ue.supi, amf_ue.amf_ue_ngap_id
    ctx = loop.gmm.ctx
    assert amf_ue.gnb is None and ctx.reachable == {key: clock.now + MR}  # CM-IDLE: started
    assert supi in loop.hn.uecm
    clock.now += MR - 0.01
    assert _due(loop, ue) == [] and key in ctx.reachable
    clock.now += 0.01
    assert _due(loop, ue) == []
    assert key not in ctx.reachable and key in ctx.implicit
    assert ctx.stats["mobile_reachable_expiry"] == 1 and amf_ue.state == GmmState.REGISTERED
    clock.now += IMPLICIT - 0.01
    assert _due(loop, ue) == []
    clock.now += 0.01
    acts = _due(loop, ue)
    # Nudm_UECM de-registration (the session relay releases the SM contexts before it)
    assert [(a.op, a.args) for a in acts if isinstance(a, SbiCall)] == [("udm_deregister", {"supi": supi})]
    assert supi not in loop.hn.uecm
    assert ctx.stats["implicit_deregistration"] == 1
    assert key not in ctx.ues and supi not in ctx.by_supi and ue.guti.tmsi not in ctx.by_tmsi
    assert not ctx.reachable and not ctx.implicit
    # the UE, unaware, comes back with a Service Request: #9, and it registers again (§5.6.1.5)
    loop.initial(ue, ue.service_request())
    assert ue.last_cause == 9 and ue.reregister and ue.state == UeState.DEREGISTERED
    again = loop.register(ue)
    assert again.state == GmmState.REGISTERED and again.supi == supi


def test_a_nas_signalling_connection_stops_the_timers() -> None:
    """Any message of the UE that opens a NAS signalling connection stops both timers (in
    either phase); the next CM-IDLE starts the mobile reachable timer afresh."""
    loop, (ue,), clock = _setup()
    amf_ue = loop.register(ue)
    key = amf_ue.amf_ue_ngap_id
    ctx = loop.gmm.ctx
    clock.now += MR  # implicit de-registration timer running now
    _due(loop, ue)
    assert key in ctx.implicit
    amf_ue2 = loop.initial(ue, ue.service_request())
    assert amf_ue2 is amf_ue and amf_ue.gnb is not None and ue.state == UeState.REGISTERED
    assert key not in ctx.implicit and key not in ctx.reachable
    clock.now += 10 * (MR + IMPLICIT)  # CM-CONNECTED: nothing runs
    assert loop.gmm.reachability_due() == [] and amf_ue.state == GmmState.REGISTERED
    loop.gmm.ran_released(amf_ue)
    ue.connected = False
    assert ctx.reachable == {key: clock.now + MR}
    # a periodic registration update from CM-IDLE, while the mobile reachable timer runs
    clock.now += MR / 2
    loop.register(ue, reg_type=3)
    assert ctx.reachable == {key: clock.now + MR}  # released again after it, restarted
    clock.now += MR + IMPLICIT - 1
    _due(loop, ue)
    assert amf_ue.state == GmmState.REGISTERED and key in ctx.implicit


def test_unverifiable_message_does_not_stop_the_timers() -> None:
    """A Service Request whose MAC does not check (a replay, a forgery by the RAN) opens no
    NAS signalling connection for the UE: its timers keep running."""
    loop, (ue,), clock = _setup()
    amf_ue = loop.register(ue)
    key = amf_ue.amf_ue_ngap_id
    pdu = bytearray(ue.service_request())
    pdu[3] ^= 0xFF  # the MAC
    loop.initial(ue, bytes(pdu))
    assert key in loop.gmm.ctx.reachable


def test_deregistered_context_kept_for_its_guti_expires_quietly() -> None:
    """A UE that de-registered keeps its 5G-GUTI and NAS context for a while (TS 24.501
    §5.5.2.2.2); the same timers bound how long, without any SBI call."""
    loop, (ue,), clock = _setup()
    amf_ue = loop.register(ue)
    loop.initial(ue, ue.deregister())
    assert amf_ue.state == GmmState.DEREGISTERED and amf_ue.amf_ue_ngap_id in loop.gmm.ctx.ues
    clock.now += MR + IMPLICIT
    acts = loop.gmm.reachability_due()
    assert acts == [] and amf_ue.amf_ue_ngap_id not in loop.gmm.ctx.ues
    assert loop.gmm.ctx.stats["idle_context_expired"] == 1
    assert "implicit_deregistration" not in loop.gmm.ctx.stats


def test_paging_in_progress_gives_up_on_implicit_deregistration() -> None:
    """A UE paged for waiting downlink (N1N2MessageTransfer) that never answers: the waiting
    transfers fail (TS 29.518 §5.2.2.3.2) and the paging timer stops."""
    loop, (ue,), clock = _setup(t3513=1000.0, max_paging=100)
    failed: list[Any] = []
    loop.gmm.on_paging_failed = failed.append
    amf_ue = loop.register(ue)
    loop.run(ue, loop.gmm.page(amf_ue, then=("n1n2",)))
    assert (amf_ue.amf_ue_ngap_id, "T3513") in loop.timers
    clock.now += MR + IMPLICIT
    acts = _due(loop, ue)
    assert failed == [amf_ue] and (amf_ue.amf_ue_ngap_id, "T3513") not in loop.timers
    assert any(isinstance(a, SbiCall) and a.op == "udm_deregister" for a in acts)


def test_expiry_goes_in_batches_and_in_order() -> None:
    """Thousands of UEs that went idle together: at most ``limit`` per call, oldest first,
    and ``reachability_pending`` says when to call again."""
    clock = Clock()
    gmm = Gmm(GmmConfig(mobile_reachable=MR, implicit_deregistration=IMPLICIT))
    gmm.clock = clock
    ctx = gmm.ctx
    ues = []
    for i in range(3000):
        ue = UeContext(i + 1)
        ue.state = GmmState.REGISTERED
        ue.supi = f"imsi-00101{i:010d}"
        ctx.ues[ue.amf_ue_ngap_id] = ue
        ctx.by_supi[ue.supi] = ue
        gmm.start_mobile_reachable(ue)
        ues.append(ue)
        clock.now += 0.001
    clock.now += MR + IMPLICIT
    seen: list[str] = []
    calls = 0
    while True:
        acts = gmm.reachability_due(limit=512)
        calls += 1
        seen += [a.args["supi"] for a in acts if isinstance(a, SbiCall)]
        if not gmm.reachability_pending:
            break
    assert seen == [u.supi for u in ues] and not ctx.ues
    assert calls > 2 * 3000 // 512  # both phases, one batch of 512 at a time


def test_restart_keeps_the_queue_in_deadline_order() -> None:
    clock = Clock()
    gmm = Gmm(GmmConfig(mobile_reachable=MR, implicit_deregistration=IMPLICIT))
    gmm.clock = clock
    a, b = UeContext(1), UeContext(2)
    for ue in (a, b):
        gmm.ctx.ues[ue.amf_ue_ngap_id] = ue
        gmm.start_mobile_reachable(ue)
        clock.now += 1
    gmm.start_mobile_reachable(a)  # restarted: now the later one
    assert list(gmm.ctx.reachable) == [2, 1]
    assert gmm.ctx.reachable[1] > gmm.ctx.reachable[2]


def test_idle_ues_cost_little_memory() -> None:
    """One dict entry per idle UE, no task or handle: the structure's own size for 100,000
    UEs stays in the few-MB range (the issue-6 budget is 10 KB per idle UE)."""
    ctx = AmfContext()
    gmm = Gmm(GmmConfig(), ctx)
    gmm.clock = Clock()
    ues = [UeContext(i) for i in range(100_000)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for ue in ues:
        gmm.start_mobile_reachable(ue)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(ctx.reachable) == 100_000
    assert used / 100_000 < 200, used  # bytes per idle UE


def test_restored_ues_start_the_mobile_reachable_timer(tmp_path: Path) -> None:
    """TS 24.501 §5.3.7 after an AMF restart: UEs read back from disk are CM-IDLE, so their
    mobile reachable timer runs from the restart; one that never comes back is de-registered
    implicitly and its stored context deleted."""
    from fivecore.nf.amf.persist import AmfPersistence

    loop, (ue, ue2), clock = _setup(2)
    p = AmfPersistence(loop.gmm, tmp_path / "ue.db", "00101-02-001-00")
    p.open()
    loop.register(ue)
    loop.register(ue2)
    p.flush()
    p.close()
    gmm = Gmm(loop.gmm.cfg)
    gmm.clock = clock
    clock.now += 5000
    p2 = AmfPersistence(gmm, tmp_path / "ue.db", "00101-02-001-00")
    assert p2.open() == 2
    assert sorted(gmm.ctx.reachable.values()) == [clock.now + MR] * 2
    loop2 = Loop(gmm, loop.hn)
    loop2.initial(ue2, ue2.service_request())  # this one comes back in time
    assert ue2.state == UeState.REGISTERED
    clock.now += MR + IMPLICIT
    acts = gmm.reachability_due()
    assert [a.args["supi"] for a in acts if isinstance(a, SbiCall)] == [ue.supi]
    p2.flush()
    assert p2.file.count() == 1
    p2.close()


async def test_implicit_deregistration_releases_the_sm_contexts(tmp_path: Path) -> None:
    """Through the AMF application: the udm_deregister call first releases the UE's SM
    contexts at the (real, in-process) SMF (TS 23.502 §4.2.2.3.3)."""
    from fivecore.nf.amf.app import AmfApp
    from fivecore.nf.amf.sessions import AmfSmSession
    from fivecore.nf.common.client import LocalRegistry
    from fivecore.nf.smf.app import SmfApp

    cfg = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db",
                       "amf": {"nrf_uri": None, "persist": False,
                               "timers": {"mobile_reachable": MR, "implicit_deregistration": IMPLICIT}},
                       "smf": {"nrf_uri": None}})
    smf = SmfApp(cfg)
    local = LocalRegistry()
    local.register(["nsmf-pdusession"], smf.router)
    app = AmfApp(cfg, local=local)
    app._loop = asyncio.get_running_loop()
    clock = Clock()
    app.gmm.clock = clock
    hn_loop, (ue,) = make()
    loop = Loop(app.gmm, hn_loop.hn)
    amf_ue = loop.register(ue)
    sm = smf.ctx.new(amf_ue.supi, 1, "internet", {"sst": 1})
    app.sessions.by_supi[amf_ue.supi] = {1: AmfSmSession(1, None, sm.ref, {"sst": 1}, "internet")}
    assert amf_ue.amf_ue_ngap_id in app.gmm.ctx.reachable
    clock.now += MR + IMPLICIT
    app._execute(app.ngap.translate(app.gmm.reachability_due()))
    for _ in range(200):
        if sm.ref not in smf.ctx.by_ref:
            break
        await asyncio.sleep(0.01)
    assert sm.ref not in smf.ctx.by_ref and smf.ctx.stats.get("release_sm_context") == 1
    assert amf_ue.supi not in app.sessions.by_supi
    assert app.gmm.ctx.stats["implicit_deregistration"] == 1
    await asyncio.gather(*app._bg, return_exceptions=True)


async def test_n1n2_for_a_ue_past_its_mobile_reachable_timer_is_not_paged(amf_with_ue: Any) -> None:
    """TS 23.502 §4.2.3.3 step 3a: while the UE's mobile reachable timer runs it is paged
    (202); once it has expired the AMF answers 504 UE_NOT_REACHABLE (TS 29.518 §6.1.7.3)."""
    from fivecore.nf.amf.sessions import AmfSmSession
    from fivecore.nf.smf.clients import n1n2_body
    from fivecore.transport.http2 import Request
    from fivecore.wire.sbi import multipart

    app, ue = amf_with_ue()
    app._execute = lambda outs: None  # type: ignore[method-assign]
    clock = Clock()
    app.gmm.clock = clock
    ue.tmsi = 0x4321
    app.gmm.ctx.by_tmsi[ue.tmsi] = ue
    app.sessions.by_supi[ue.supi] = {1: AmfSmSession(1, None, "ref1", {"sst": 1}, "internet")}
    app.gmm.ran_released(ue)
    data, parts = n1n2_body(1, b"\x2e\x01\x00\xcb\x00", None, None, {"sst": 1})
    body, ctype = multipart.encode(data, parts)

    async def post() -> Any:
        return await app.router.dispatch(Request("POST", f"/namf-comm/v1/ue-contexts/{ue.supi}/n1-n2-messages",
                                                 "", {"content-type": ctype}, body))

    clock.now += app.gmm.cfg.mobile_reachable_s
    app.gmm.reachability_due()
    assert ue.amf_ue_ngap_id in app.gmm.ctx.implicit
    rsp = await post()
    assert rsp.status == 504 and rsp.json()["cause"] == "UE_NOT_REACHABLE"
    assert app.gmm.ctx.stats["sm_n1n2_ue_not_reachable"] == 1 and "paging" not in app.gmm.ctx.stats
    app.gmm.start_mobile_reachable(ue)  # (as after a new idle period) reachable again: paged
    rsp = await post()
    assert rsp.status == 202 and app.gmm.ctx.stats["paging"] == 1
