"""N2 handover end to end (TS 23.502 §4.9.1.3, TS 38.413 §8.4.1-8.4.3, §8.4.5): real NF
processes, the real UPF, TUN interfaces and namespaces (the network of ``netkit``).

A UE attached through gNB A with a PDU session pings the data network. First gNB A asks for a
handover to gNB B and cancels it after the HANDOVER COMMAND: the UE keeps working on A. Then
the handover runs: HANDOVER REQUIRED from A, the AMF's HANDOVER REQUEST to B (the SMF's
setup transfer, {NH, NCC}), B's Acknowledge, the command to A, B's NOTIFY; the SMF moves the
UPF's downlink with SNDEM, so the UPF sends an End Marker to gNB A, and ping works through B.
The NGAP of the handovers must decode cleanly in tshark.

Then direct data forwarding (TS 23.502 §4.9.1.3.2-3, TS 38.300 §9.2.3.2.3): a steady UDP
stream from the data network to a second UE runs through its N2 handover; the downlink that
still reaches gNB A after the command goes to B's forwarding tunnel, the UPF's End Marker
follows it, and the UE gets every datagram, in the order sent (without forwarding, what
reached A between the command and the UPF's switch was lost).

Run under ``flock /tmp/fivecore-bench.lock`` like every e2e test that starts processes.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from netkit import DN_HOST, DN_NS, GNB_B_N3, GNB_N3, SessionCore, TwoGnbs, ping, session_network
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


RECEIVER = r"""
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(120)
print("ready", flush=True)
got = []
try:
    while True:
        d = s.recv(2048)
        if d.startswith(b"END"):
            break
        got.append(int(d[:8]))
except socket.timeout:
    pass
print(json.dumps(got), flush=True)
"""

SENDER = r"""
import select, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = (sys.argv[1], int(sys.argv[2]))
n = 0
while True:
    n += 1
    s.sendto(b"%08d" % n + bytes(200), dst)
    if select.select([sys.stdin], [], [], 0.001)[0]:  # told to stop (one datagram a millisecond)
        break
time.sleep(0.5)
for _ in range(5):
    s.sendto(b"END", dst)
    time.sleep(0.05)
print(n, flush=True)
"""


async def test_n2_handover_forwards_downlink_in_flight(core: SessionCore) -> None:
    async with TwoGnbs(core, FIRST + 1) as w:
        sim, up, up_a, up_b, ru, ns, old = w.sim, w.up, w.up_a, w.up_b, w.ru, w.ns, w.tunnel
        session = up.session(ru)
        assert session is not None and session.ipv4 is not None
        port = 40000 + FIRST
        rx = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", ns, sys.executable, "-c", RECEIVER, str(port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert rx.stdout is not None
        assert (await asyncio.wait_for(rx.stdout.readline(), 30)).strip() == b"ready"
        tx = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", DN_NS, sys.executable, "-c", SENDER, session.ipv4, str(port),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert tx.stdin is not None
        try:
            start = old.rx
            await await_until("the stream flows through gNB A", lambda: old.rx >= start + 100, 30, 0.05)
            cmd = await sim.n2_handover(ru, sim.nodes[1])
            assert cmd.kind == "successful" and ru.gnb is w.b
            new = up.tunnel(ru)
            assert new is not None and new is not old

            async def smf_moved() -> bool:
                info = await core.asmf_info()
                return any(x["dlTeid"] == new.dl_teid and x["gnbN3"] == GNB_B_N3 for x in info["sessions"])

            await await_until("the SMF names gNB B's tunnel", smf_moved, 30)
            start = new.rx
            await await_until("the stream flows through gNB B", lambda: new.rx >= start + 100, 30, 0.05)
        finally:
            tx.stdin.write(b"stop\n")
            await tx.stdin.drain()
            tx.stdin.close()
            sent_out = (await asyncio.wait_for(tx.communicate(), 60))[0].decode()
            rx_out = (await asyncio.wait_for(rx.communicate(), 180))[0].decode()
        sent = int(sent_out.strip())
        got = json.loads(rx_out.strip().splitlines()[-1])
        stats = (f"forwarded by A {up_a.stats.get('dl_forwarded', 0)}, "
                 f"fresh held at B {up_b.stats.get('dl_fresh_held', 0)}, "
                 f"unknown TEID at A {up_a.stats.get('unknown_teid', 0)}")
        lost = sorted(set(range(1, sent + 1)) - set(got))
        assert not lost, f"{len(lost)} of {sent} datagrams lost ({lost[:20]}...); {stats}"
        assert got == sorted(got) and len(got) == sent, f"out of order or duplicated; {stats}"
        # how: HANDOVER COMMAND named B's forwarding tunnel, A forwarded the downlink still
        # reaching it and then the UPF's End Marker; B took both and dropped the tunnel
        (h,) = cmd["PDUSessionResourceHandoverList"]
        tr = ngap.decode_ie("HandoverCommandTransfer", h["handoverCommandTransfer"])
        fwd = ngap.gtp_tunnel_from(tr["dLForwardingUP-TNLInformation"])
        assert fwd[0] == GNB_B_N3, tr
        await await_until("gNB B took the End Marker",
                          lambda: up_b.stats.get("forwarding_end_marker_rx", 0) == 1, 30)
        assert up_a.stats.get("end_marker_forwarded", 0) == 1, stats
        assert 0 < up_a.stats.get("dl_forwarded", 0) == up_b.stats.get("dl_forwarded_rx", 0), stats
        assert old.dl_teid not in up_a.tunnels and fwd[1] not in up_b.tunnels
        loss, out = await ping(ns, DN_HOST, 3)
        assert loss == 0, out
        await sim.deregister(ru, 10)
