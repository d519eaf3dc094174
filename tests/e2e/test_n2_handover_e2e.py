"""N2 handover end to end (TS 23.502 §4.9.1.3, TS 38.413 §8.4.1-8.4.3, §8.4.5): real NF
processes, the real UPF, TUN interfaces and namespaces (the network of ``netkit``).

A UE attached through gNB A with a PDU session pings the data network. First gNB A asks for a
handover to gNB B and cancels it after the HANDOVER COMMAND: the UE keeps working on A. Then
the handover runs: HANDOVER REQUIRED from A, the AMF's HANDOVER REQUEST to B (the SMF's
setup transfer, {NH, NCC}), B's Acknowledge, the command to A, B's NOTIFY; the SMF moves the
UPF's downlink with SNDEM, so the UPF sends an End Marker to gNB A, and ping works through B.
The NGAP of the handovers must decode cleanly in tshark.

Run under ``flock /tmp/fivecore-bench.lock`` like every e2e test that starts processes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from netkit import DN_HOST, GNB_B_N3, GNB_N3, SessionCore, TwoGnbs, ping, session_network
from ngap_capture import tshark_clean
from polling import await_until

from fivecore.wire import gtpu, ngap

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FIRST = 320  # this module's subscribers start at IMSI 001010000000001 + FIRST
_HO = {"HandoverPreparation", "HandoverResourceAllocation", "HandoverNotification", "HandoverCancel"}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from session_network(tmp_path_factory, "n2ho", FIRST + 4)


def _end_markers(seen: list[tuple[bytes, Any, Any]]) -> list[tuple[int, Any, Any]]:
    return [(gtpu.decode(d).teid, s, t) for d, s, t in seen if len(d) >= 8 and d[1] == gtpu.END_MARKER]


async def test_n2_handover_keeps_the_session(core: SessionCore, tmp_path: Path) -> None:
    async with TwoGnbs(core, FIRST) as w:
        sim, up, up_b, a, b, ru, ns, old = w.sim, w.up, w.up_b, w.a, w.b, w.ru, w.ns, w.tunnel
        frames, n3_a = w.frames, w.n3_a

        # a cancelled handover: the UE stays on A, its user plane too
        cmd = await sim.n2_handover(ru, sim.nodes[1], cancel=True)
        assert cmd.kind == "successful" and ru.gnb is a and ru.ncc == 0
        # the AMF releases B's prepared connection (UE Context Release Command to B)
        await await_until("gNB B's prepared connection released", lambda: not b.connected, 10)
        loss, out = await ping(ns, DN_HOST, 3)
        assert loss == 0, out
        assert up.tunnel(ru) is old and not _end_markers(n3_a)

        # the handover: NCC 2 (the cancelled one spent NCC 1, TS 33.501 §6.9.2.3.3)
        cmd = await sim.n2_handover(ru, sim.nodes[1].cfg.gnb_id)
        assert cmd.kind == "successful" and ru.gnb is b and ru.ncc == 2 and ru.ran_id in b.connected
        await await_until("gNB A released the UE (successful-handover)", lambda: not a.connected, 10)
        new = up.tunnel(ru)
        assert new is not None and new.dl_teid in up_b.tunnels and new.ul_teid == old.ul_teid

        async def smf_moved() -> bool:
            info = await core.asmf_info()
            return any(x["dlTeid"] == new.dl_teid and x["gnbN3"] == GNB_B_N3 for x in info["sessions"])

        await await_until("the SMF names gNB B's tunnel", smf_moved, 10)
        loss, out = await ping(ns, DN_HOST, 5)
        assert loss == 0, out
        assert new.rx >= 5 and new.tx >= 5, "downlink and uplink went through gNB B"
        ems = _end_markers(n3_a)
        assert ems and ems[0][0] == old.dl_teid and ems[0][2] == (GNB_N3, 2152), ems
        assert a.stats.nh_mismatch == 0 and b.stats.nh_mismatch == 0
        c = await core.acounters()
        assert c.get("n2_handover_complete", 0) >= 1 and c.get("n2_handover_cancel", 0) >= 1
        await sim.deregister(ru, 10)
    pdus = [ngap.decode(d) for _, d, _ in frames]
    ho = [(p.procedure, p.kind) for p in pdus if p.procedure in _HO]
    assert ho == [
        ("HandoverPreparation", "initiating"), ("HandoverResourceAllocation", "initiating"),
        ("HandoverResourceAllocation", "successful"), ("HandoverPreparation", "successful"),
        ("HandoverCancel", "initiating"), ("HandoverCancel", "successful"),
        ("HandoverPreparation", "initiating"), ("HandoverResourceAllocation", "initiating"),
        ("HandoverResourceAllocation", "successful"), ("HandoverPreparation", "successful"),
        ("HandoverNotification", "initiating")], ho
    if shutil.which("tshark") is not None:
        # the handover messages only: this network ciphers NAS (NEA2), which tshark cannot read
        mine = [f for f, p in zip(frames, pdus, strict=True) if p.procedure in _HO]
        text = tshark_clean(mine, tmp_path / "n2-handover.pcap", core.ngap)
        assert text.count("(HandoverNotify)") == 1
