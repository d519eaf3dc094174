"""``fivecore up`` supervises what it started (``up.restart``, fivecore.netup.supervise), end to end.

An AMF Set of two control-plane processes and the UPF, real processes on slot 6 (like
test_amf_set.py). A member killed with SIGKILL comes back with the same configuration (NGAP
address, AMF Pointer, pool share, NF instance ids: the NRF still lists one of each of its NFs)
and UEs attach through it again. The UPF killed with SIGKILL comes back on the N6 device ``up``
owns (reused when it outlived the UPF, created again when it went away); both SMFs see its new
Recovery Time Stamp, associate again (TS 29.244 §6.2.2, §6.2.6), and new PDU sessions carry
traffic through it. ``up``'s own stop still stops everything and restarts nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from icmp_echo import echo_request
from polling import await_until, metric, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SLOT = 6
TUN = f"fcbench{SLOT}"


def _state(state_file: Path) -> dict[str, Any]:
    return json.loads(state_file.read_text())  # up replaces it atomically (os.replace)


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def _upf_back(state_file: Path, old_pid: int, restarts: int) -> dict[str, Any] | None:
    upf = _state(state_file)["nfs"]["upf"]
    if upf["status"] == "running" and upf["restarts"] == restarts and upf["pid"] != old_pid:
        return upf
    return None


def test_up_restarts_a_killed_member_and_upf(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-IP SCTP and the UPF's TUN device")
    from fivecore.benchkit.attach import Attacher
    from fivecore.benchkit.network import FIRST_IMSI, AmfSetNetwork, NetPlan
    from fivecore.cli.network import collect_status
    from fivecore.nf.common.launch import discover_sync

    plan = NetPlan.slot(SLOT)
    # the restart policy at its defaults; a short N4 heartbeat so the SMFs notice a new UPF
    # soon, and they restore their sessions in it (the default, release, tells the UEs instead)
    plan.extra = {"smf": {"pfcp": {"address": plan.address("smf"), "heartbeat_interval": 1.0},
                          "upf_restart": "restore"}}
    net = AmfSetNetwork(plan, members=2, workdir=tmp_path)
    cfg_file = tmp_path / "bench-up.yaml"
    state_file = tmp_path / "data" / "run" / "up.json"
    nrf = f"http://{plan.address('nrf')}:7777"
    types = ("AMF", "SMF", "AUSF", "UDM", "UDR", "PCF", "NSSF")
    net.start()
    pids: list[int] = []
    try:
        net.provision(12)
        first = _state(state_file)
        assert first["nfs"]["upf"]["restarts"] == 0
        assert [(e["status"], e.get("restarts")) for e in first["amf_set"]] == [("running", None), ("running", 0)]
        before = {t: sorted(p["nfInstanceId"] for p in discover_sync(nrf, t)) for t in types}
        assert all(len(v) == 2 for v in before.values()), before

        # --- an AMF Set member dies and comes back ------------------------------------------
        member_pid = net.pids["core-cp2"]
        pids.append(member_pid)
        os.kill(member_pid, signal.SIGKILL)

        def member_back() -> dict[str, Any] | None:
            e = _state(state_file)["amf_set"][1]
            return e if e["status"] == "running" and e["restarts"] == 1 and e["pid"] != member_pid else None

        entry = wait_until("the killed member restarted", member_back)
        pids.append(entry["pid"])
        assert entry["last_exit"] == -signal.SIGKILL
        assert entry["ngap"] == first["amf_set"][1]["ngap"] and entry["amf_pointer"] == 1
        assert entry["ue_pools"] == first["amf_set"][1]["ue_pools"]
        # `fivecore status` shows it running again, once restarted, with its restart count
        st = wait_until("status reads the restarted member",
                   lambda: (s := collect_status(cfg_file))["amf_set"][1]["status"] == "running" and s)
        assert (st["amf_set"][1]["restarts"], st["amf_set"][1]["last_exit"]) == (1, -signal.SIGKILL)
        assert st["restarts"]["upf"] == {"restarts": 0, "last_exit": None}

        tun_address = str(ipaddress.ip_network(plan.pool)[1])
        smf_metrics = [e["metrics"]["smf"] for e in first["amf_set"]]

        async def ping(att: Attacher, seq: int) -> None:
            """One echo through every UE's tunnel: gNB -> N3 -> UPF -> N6 TUN -> host -> back."""
            tunnels = [(up, t) for up in att.gnb_ups for t in up.tunnels.values()]
            assert len(tunnels) == len(att.sim.ues)
            rx = [t.rx for _up, t in tunnels]
            for up, t in tunnels:
                up.uplink(t, echo_request(t.ru.ue.sm.sessions[1].ipv4, tun_address, 77, seq))
            await await_until(f"echo replies through the UPF (seq {seq})",
                              lambda: all(t.rx > r for (_up, t), r in zip(tunnels, rx, strict=True)),
                              timeout=20, period=0.1)

        async def attach(first_index: int, n: int, gnb_id_base: int) -> Attacher:
            att = await Attacher.create(net, n, f"{int(FIRST_IMSI) + first_index:015d}", n_gnbs=2,
                                        gnb_id_base=gnb_id_base)
            try:
                for i in range(n):
                    await att.attach(i)
            except BaseException:
                await att.close()
                raise
            # each gNB's UEs went to its member's AMF: AMF Pointers 0 and 1
            assert sorted(ru.ue.guti.amf_pointer for ru in att.sim.ues) == sorted(k % 2 for k in range(n))
            assert all(ru.ue.sm.sessions[1].ipv4 for ru in att.sim.ues)
            return att

        async def member_then_upf() -> None:
            # UEs attach through both members again, the restarted one included
            att = await attach(0, 4, 1)
            try:
                await ping(att, 1)
                # the restarted member replaced its NRF profiles (same nfInstanceIds), added none
                after = {t: sorted(p["nfInstanceId"] for p in await asyncio.to_thread(discover_sync, nrf, t))
                         for t in types}
                assert after == before

                # --- the UPF dies; its N6 device outlives it and is used again -------------------
                assoc0 = [metric(u, "fivecore_smf_n4_associations_total") for u in smf_metrics]
                assert all(a >= 1 for a in assoc0), assoc0
                upf_pid = first["nfs"]["upf"]["pid"]
                pids.append(upf_pid)
                os.kill(upf_pid, signal.SIGKILL)
                upf = await asyncio.to_thread(wait_until, "the killed UPF restarted",
                                              lambda: _upf_back(state_file, upf_pid, 1))
                pids.append(upf["pid"])
                assert upf["last_exit"] == -signal.SIGKILL and upf["tun"] == TUN
                # every SMF saw the new Recovery Time Stamp, set its association up again and
                # (smf.upf_restart: restore) re-created its sessions in the new UPF
                await asyncio.to_thread(wait_until, "both SMFs associated again and restored their sessions", lambda: all(
                    metric(u, "fivecore_smf_n4_associations_total") > a
                    and metric(u, "fivecore_smf_restored_total") >= 2 for u, a in zip(smf_metrics, assoc0, strict=True)))
                await ping(att, 2)  # the UEs attached before the UPF died still reach N6
            finally:
                await att.close()
            att = await attach(4, 4, 3)  # and new PDU sessions work
            try:
                await ping(att, 1)
            finally:
                await att.close()

        asyncio.run(member_then_upf())

        # --- the UPF dies after its N6 device was deleted: up creates the device again -----------
        assoc1 = [metric(u, "fivecore_smf_n4_associations_total") for u in smf_metrics]
        subprocess.run(["ip", "link", "del", TUN], check=True)
        upf_pid = pids[-1]
        os.kill(upf_pid, signal.SIGKILL)
        upf = wait_until("the UPF restarted a second time", lambda: _upf_back(state_file, upf_pid, 2))
        pids.append(upf["pid"])
        assert Path(f"/sys/class/net/{TUN}").exists()
        wait_until("both SMFs associated again", lambda: all(
            metric(u, "fivecore_smf_n4_associations_total") > a for u, a in zip(smf_metrics, assoc1, strict=True)))

        async def new_sessions() -> None:
            att = await attach(8, 4, 5)
            try:
                await ping(att, 1)
            finally:
                await att.close()

        asyncio.run(new_sessions())
        st = collect_status(cfg_file)
        assert st["nfs"]["upf"] == "running" and st["restarts"]["upf"]["restarts"] == 2
        assert [e["status"] for e in st["amf_set"]] == ["running", "running"]
    finally:
        net.stop()
    # up's stop stopped every process it ever started, and restarted none of them
    for pid in pids:
        assert _gone(pid), f"pid {pid} outlived fivecore up"
    assert not Path(f"/sys/class/net/{TUN}").exists()
    assert not state_file.exists()
    log = (tmp_path / "up.log").read_text(errors="replace")
    assert log.count("event=amf_set_member_restarted") == 1
    assert log.count("event=upf_restarted") == 2
    assert "gave_up" not in log


def test_up_gives_up_after_restart_max_and_stop_cancels_a_pending_restart(tmp_path: Path) -> None:
    """``up.restart_max: 1``: the second death inside the window is final (``failed``, CRITICAL
    log). Then, with a long back-off, a restart is pending when ``up`` is told to stop: it stops
    at once, and the pending restart never happens."""
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-IP SCTP and the UPF's TUN device")
    from fivecore.benchkit.network import BenchNetwork, NetPlan
    from fivecore.cli.network import collect_status

    state_file = tmp_path / "a" / "data" / "run" / "up.json"
    plan = NetPlan.slot(SLOT, extra={"up": {"restart_max": 1, "restart_backoff_s": 0.2}})
    (tmp_path / "a").mkdir()
    net = BenchNetwork(plan, workdir=tmp_path / "a")
    net.start()
    pids: list[int] = []
    try:
        upf_pid = net.pids["upf"]
        pids.append(upf_pid)
        os.kill(upf_pid, signal.SIGKILL)
        upf = wait_until("the UPF restarted", lambda: _upf_back(state_file, upf_pid, 1))
        pids.append(upf["pid"])
        os.kill(upf["pid"], signal.SIGKILL)
        upf = wait_until("up gave the UPF up", lambda: (u := _state(state_file)["nfs"]["upf"])["status"] == "failed" and u)
        assert (upf["restarts"], upf["last_exit"]) == (1, -signal.SIGKILL)
        st = collect_status(tmp_path / "a" / "bench-up.yaml")  # the control plane still answers
        assert st["nfs"]["upf"] == "failed" and st["nfs"]["amf"] == "running"
        assert st["restarts"]["upf"] == {"restarts": 1, "last_exit": -signal.SIGKILL}
    finally:
        net.stop()
    log = (tmp_path / "a" / "up.log").read_text(errors="replace")
    assert re.search(r"critical fivecore\.up event=upf_restart_gave_up restarts=1", log), log[-2000:]
    assert log.count("event=upf_restarted") == 1
    assert all(_gone(p) for p in pids) and not Path(f"/sys/class/net/{TUN}").exists()

    state_file = tmp_path / "b" / "data" / "run" / "up.json"
    plan = NetPlan.slot(SLOT, extra={"up": {"restart_backoff_s": 120, "restart_backoff_max_s": 120}})
    (tmp_path / "b").mkdir()
    net = BenchNetwork(plan, workdir=tmp_path / "b")
    net.start()
    try:
        upf_pid = net.pids["upf"]
        os.kill(upf_pid, signal.SIGKILL)
        wait_until("a UPF restart pending", lambda: _state(state_file)["nfs"]["upf"]["status"] == "restarting")
        assert net.proc is not None
        proc = net.proc
        proc.send_signal(signal.SIGTERM)
        # well before the 120 s back-off ends (a generous deadline, nothing measured)
        assert proc.wait(60) == 0
    finally:
        net.stop()
    log = (tmp_path / "b" / "up.log").read_text(errors="replace")
    assert "event=upf_exited" in log and "event=upf_restarted" not in log
    assert not Path(f"/sys/class/net/{TUN}").exists() and not state_file.exists()
    # no UPF process of this network survived: nothing holds its PFCP address any more
    from fivecore.netup.network import check_port

    assert check_port("udp", plan.address("upf"), 8805) is None
