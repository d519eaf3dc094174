"""Xn handover end to end (TS 23.502 §4.9.1.2.2, TS 38.413 §8.4.4): real NF processes, the
real UPF, TUN interfaces and namespaces (the network of ``netkit``).

A UE attached through gNB A with a PDU session pings the data network; it is handed over to
gNB B (the simulator models Xn locally; B sends PATH SWITCH REQUEST to the AMF, the AMF asks
the SMF, the SMF moves the UPF's downlink with SNDEM). The UPF sends an End Marker to gNB A's
N3 address on the old tunnel, and ping keeps working through gNB B's tunnel; then back to A
(the second path switch: NCC 2). The NGAP both gNBs saw must decode cleanly in tshark.

Run under ``flock /tmp/fivecore-bench.lock`` like every e2e test that starts processes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from netkit import DN_HOST, GNB_B_N3, GNB_N3, SessionCore, TwoGnbs, ping, session_network
from ngap_capture import tshark_clean

from fivecore.ran.handover import HandoverFailed
from fivecore.wire import gtpu, ngap

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FIRST = 300  # this module's subscribers start at IMSI 001010000000001 + FIRST


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from session_network(tmp_path_factory, "xnho", FIRST + 4)


def _end_markers(seen: list[tuple[bytes, Any, Any]]) -> list[tuple[int, Any, Any]]:
    out = []
    for data, src, dst in seen:
        if len(data) >= 8 and data[1] == gtpu.END_MARKER:
            out.append((gtpu.decode(data).teid, src, dst))
    return out


async def test_xn_handover_keeps_the_session(core: SessionCore, tmp_path: Path) -> None:
    async with TwoGnbs(core, FIRST) as w:
        sim, up, up_a, up_b, a, b, ru, ns, old = w.sim, w.up, w.up_a, w.up_b, w.a, w.b, w.ru, w.ns, w.tunnel
        frames, n3_a = w.frames, w.n3_a

        # a handover to the UE's own gNB is refused before anything is sent
        with pytest.raises(HandoverFailed):
            await sim.handover(ru, sim.nodes[0])

        ack = await sim.handover(ru, sim.nodes[1].cfg.gnb_id)
        assert ack["SecurityContext"]["nextHopChainingCount"] == 1 and ru.ncc == 1
        assert ru.gnb is b and ru.ran_id in b.connected and not a.connected
        new = up.tunnel(ru)
        assert new is not None and new.dl_teid in up_b.tunnels and old.dl_teid not in up_a.tunnels
        assert new.ul_teid == old.ul_teid, "no UPF re-allocation: the uplink F-TEID stays"
        # the SMF now names gNB B's tunnel
        info = await core.asmf_info()
        (mine,) = [x for x in info["sessions"] if x["dlTeid"] == new.dl_teid]
        assert mine["gnbN3"] == GNB_B_N3
        loss, out = await ping(ns, DN_HOST, 5)
        assert loss == 0, out
        assert new.rx >= 5 and new.tx >= 5, "downlink and uplink went through gNB B"
        # TS 29.281 §7.3.2: the UPF told gNB A its last downlink packet had passed
        ems = _end_markers(n3_a)
        assert ems and ems[0][0] == old.dl_teid and ems[0][2] == (GNB_N3, 2152), ems
        assert up_a.stats.get("end_marker_rx", 0) >= 1

        # and back to A: the second path switch chains the NH (NCC 2)
        ack = await sim.handover(ru, sim.nodes[0])
        assert ack["SecurityContext"]["nextHopChainingCount"] == 2 and ru.gnb is a
        loss, out = await ping(ns, DN_HOST, 3)
        assert loss == 0, out
        assert a.stats.nh_mismatch == 0 and b.stats.nh_mismatch == 0
        c = await core.acounters()
        assert c.get("path_switch_acknowledge", 0) >= 2

        await sim.deregister(ru, 10)
    switches = [ngap.decode(d) for _, d, _ in frames]
    assert [(p.procedure, p.kind) for p in switches if p.procedure == "PathSwitchRequest"] == [
        ("PathSwitchRequest", "initiating"), ("PathSwitchRequest", "successful")] * 2
    if shutil.which("tshark") is not None:
        # the path switches only: this network ciphers NAS (NEA2), which tshark cannot read
        mine = [f for f, p in zip(frames, switches, strict=True) if p.procedure == "PathSwitchRequest"]
        text = tshark_clean(mine, tmp_path / "xn-handover.pcap", core.ngap)
        assert text.count("(PathSwitchRequestAcknowledge)") == 2
