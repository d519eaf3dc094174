"""One simulated gNB connected to both AMFs of a two-member AMF Set (``fivecore up`` with
``up.amf_set_size: 2``), choosing the AMF per UE (TS 23.501 §5.21.2, §6.3.5; TS 38.300 §9.2.1).

What must hold: the gNB completes NG Setup with each AMF under one Global RAN Node ID and learns
each one's GUAMI; initial registrations (SUCI) spread over both AMFs; a UE's later signalling
(service request from CM-IDLE, re-registration with its 5G-GUTI) goes back to the AMF whose
AMF Pointer its GUTI carries -- the members share no UE contexts, so a wrong choice would be
rejected. Then ``fivecore ran --amf-set`` finds the same two AMFs from ``up``'s state file.
Real processes, SCTP over raw IP. Run under ``flock /tmp/fivecore-bench.lock`` (slot 6).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from ran_control import wait_registered

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

N = 8
N_CLI = 4


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - the test's own core
        return json.loads(r.read())


def _member_views(state: dict[str, Any], what: str) -> list[list[dict[str, Any]]]:
    """``/gnb-info`` or ``/ue-info`` of each AMF Set member's AMF, member 0 first."""
    members = sorted(state["amf_set"], key=lambda e: e["member"])
    return [_get(f"{e['metrics']['amf']}/{what}?page=-1")["items"] for e in members]


async def _idle(ru: Any, sim: Any, deadline_s: float = 10.0) -> None:
    """Wait for the AMF to release the UE's NG connection after registration; ask for the
    release (TS 38.413 §8.3.2) if it keeps it."""
    deadline = time.monotonic() + deadline_s
    asked = False
    while ru.ran_id is not None:
        assert time.monotonic() < deadline + deadline_s, "the UE's NG connection was never released"
        if not asked and time.monotonic() > deadline:
            sim.serving(ru).release_request(ru)
            asked = True
        await asyncio.sleep(0.05)


def test_gnb_with_both_amfs_of_the_set(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-IP SCTP and the UPF's TUN device")
    from fivecore.benchkit.network import FIRST_IMSI, AmfSetNetwork, NetPlan
    from fivecore.ran.app import RanSim, control_request
    from fivecore.ran.config import load_ran_config
    from fivecore.ran.ue import UeState

    net = AmfSetNetwork(NetPlan.slot(6, extra={"up": {"restart": "never"}}), members=2, workdir=tmp_path)
    net.start()
    try:
        net.provision(N + N_CLI)
        members = net.member_ngap
        assert len(members) == 2 and members[0] != members[1]
        rc = net.ran_config(FIRST_IMSI)
        del rc["gnb"]["amfAddress"], rc["gnb"]["amfPort"]
        rc["gnb"]["amfs"] = [{"address": h, "port": p} for h, p in members]
        rc["gnb"]["localAddress"] = f"{net.plan.gnb_prefix}.1"
        rc["gnb"]["idBase"] = 61

        async def run() -> None:
            sim = RanSim(load_ran_config(rc), n_gnbs=1, n_ues=N)
            try:
                await sim.start()
                node = sim.nodes[0]
                links = node.links
                assert [g.ready for g in links] == [True, True]
                # each AMF told the gNB its own GUAMI: same region and set, pointers 0 and 1
                pointers = [g.amf_served_guamis[0][3] for g in links]
                assert pointers == [0, 1]
                assert len({g.amf_served_guamis[0][:3] for g in links}) == 1

                res = await sim.register_all(concurrency=N, timeout=30)
                assert res["ok"] == N, res
                by_pointer: dict[int, list[Any]] = {0: [], 1: []}
                for ru in sim.ues:
                    by_pointer[ru.ue.guti.amf_pointer].append(ru)
                    # the GUTI names the AMF of the association that carried the registration
                    assert ru.gnb.amf_served_guamis[0][3] == ru.ue.guti.amf_pointer
                assert len(by_pointer[0]) == len(by_pointer[1]) == N // 2, "SUCI registrations did not spread"

                # both AMFs see this one gNB (one Global RAN Node ID) and their own half of the UEs
                gnb_views = await asyncio.to_thread(_member_views, net.state, "gnb-info")
                assert [[g.get("gnb_id") for g in v] for v in gnb_views] == [[61], [61]]
                # a UE is REGISTERED once it sends Registration Complete; its AMF once that arrives
                for _ in range(100):
                    ue_views = await asyncio.to_thread(_member_views, net.state, "ue-info")
                    registered = [sum(1 for u in v if u["gmm_state"] == "REGISTERED") for v in ue_views]
                    if registered == [N // 2, N // 2]:
                        break
                    await asyncio.sleep(0.05)
                assert registered == [N // 2, N // 2]

                view = (await sim.command({"cmd": "gnb status"}))["gnbs"]
                assert len(view) == 1 and view[0]["ready"]
                assert [(c["address"], c["ready"]) for c in view[0]["amfs"]] == [
                    (f"{h}:{p}", True) for h, p in members]

                # UEs of member 1: from CM-IDLE, a Service Request (5G-S-TMSI) goes to member 1,
                # which alone knows them; then de-register and register again with the GUTI
                for ru in by_pointer[1]:
                    await _idle(ru, sim)
                    assert await sim.service_request(ru, timeout=15) == UeState.REGISTERED, ru.ue.last_cause
                    assert ru.gnb is links[1]
                    assert await sim.deregister(ru, timeout=15) == UeState.DEREGISTERED
                    assert ru.ue.guti is not None and ru.ue.guti.amf_pointer == 1
                    assert await sim.register(ru, timeout=15) == UeState.REGISTERED, ru.ue.last_cause
                    assert ru.gnb is links[1] and ru.ue.guti.amf_pointer == 1
                # and member 0's UEs stay with member 0
                for ru in by_pointer[0]:
                    await _idle(ru, sim)
                    assert await sim.service_request(ru, timeout=15) == UeState.REGISTERED, ru.ue.last_cause
                    assert ru.gnb is links[0] and ru.ue.guti.amf_pointer == 0
                assert sim.stats.get("timeouts", 0) == 0
                assert [g.stats.error_indications_rx for g in links] == [0, 0]
            finally:
                await sim.stop()

        asyncio.run(run())

        # `fivecore ran --amf-set` takes the members' NGAP addresses from up's state file
        cli_rc = net.ran_config(f"{int(FIRST_IMSI) + N:015d}")
        cli_rc["gnb"]["localAddress"] = f"{net.plan.gnb_prefix}.2"
        cli_rc["gnb"]["idBase"] = 62
        cfg = tmp_path / "ran.yaml"
        cfg.write_text(yaml.safe_dump(cli_rc))
        sock = str(tmp_path / "ran.sock")
        log = (tmp_path / "ran.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "fivecore.cli.main", "ran", "--ues", str(N_CLI), "--config",
                                 str(cfg), "--amf-set", "--up-config", str(tmp_path / "bench-up.yaml"),
                                 "--control", sock, "--json"], stdout=log, stderr=subprocess.STDOUT)
        try:
            ues = wait_registered(proc, sock, tmp_path / "ran.log")
            assert len(ues) == N_CLI and all(u["state"] == "REGISTERED" for u in ues), ues
            # GUTI string ...-<set>-<pointer>-<tmsi>: both AMFs issued some
            assert {int(u["guti"].split("-")[-2], 16) for u in ues} == {0, 1}
            gnbs = asyncio.run(control_request(sock, {"cmd": "gnb status"}))["gnbs"]
            assert [(c["address"], c["ready"]) for c in gnbs[0]["amfs"]] == [(f"{h}:{p}", True) for h, p in members]
            human = subprocess.run([sys.executable, "-m", "fivecore.cli.main", "ran", "gnb", "status", "--control",
                                    sock], capture_output=True, text=True, timeout=60)
            assert human.returncode == 0 and "NG connections per AMF" in human.stdout, human.stderr
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
    finally:
        net.stop()
