"""An AMF Set of two control-plane processes (``fivecore up`` with ``up.amf_set_size: 2``, which
adds ``fivecore nf udr udm ausf pcf nssf amf smf``) end to end: one NRF, one SQLite subscriber
file, one UPF.

What must hold (TS 23.501 §5.21.2): each gNB's UEs are served by the AMF it connects to, each
5G-GUTI names the issuing AMF (same region and set, its own AMF Pointer), each member's SMF
hands out addresses from its own share of the pool through the one UPF, and a member reads the
subscribers the other process provisioned. Real processes, SCTP over raw IP, PFCP, TUN.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_two_member_amf_set_attaches(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-IP SCTP and the UPF's TUN device")
    from fivecore.benchkit.attach import Attacher
    from fivecore.benchkit.network import FIRST_IMSI, AmfSetNetwork, NetPlan

    n = 12
    # up.restart: never -- a dead member is reported and left down (test_up_restart.py has
    # the default, on-failure, which starts it again)
    net = AmfSetNetwork(NetPlan.slot(6, extra={"up": {"restart": "never"}}), members=2, workdir=tmp_path)
    net.start()
    try:
        assert len(net.pids) == 3 and {"core-cp", "core-cp2", "upf"} == set(net.pids)
        net.provision(n)

        from fivecore.cli.network import collect_status

        async def run() -> list[tuple[int, int, int, str]]:
            att = await Attacher.create(net, n, FIRST_IMSI, n_gnbs=2)
            try:
                for i in range(n):
                    await att.attach(i)
                out = []
                for ru in att.sim.ues:
                    g = ru.ue.guti
                    out.append((ru.gnb.cfg.gnb_id, g.amf_pointer, g.amf_set_id, ru.ue.sm.sessions[1].ipv4))
                # `fivecore status` gathers both members' gNBs, UEs and sessions
                st = await asyncio.to_thread(collect_status, tmp_path / "bench-up.yaml")
                assert len(st["gnbs"]) == 2
                assert sum(1 for u in st["ues"] if u.get("gmm_state") == "REGISTERED") == n
                assert len(st["pdu_sessions"]) == n
                assert [(e["member"], e["amf_pointer"]) for e in st["amf_set"]] == [(0, 0), (1, 1)]
                return out
            finally:
                await att.close()

        rows = asyncio.run(run())
        member_pid = net.pids["core-cp2"]
        # a member that dies is reported (state file, status), and status still answers
        os.kill(member_pid, signal.SIGKILL)
        state_file = tmp_path / "data" / "run" / "up.json"
        deadline = time.monotonic() + 10
        while json.loads(state_file.read_text())["amf_set"][1]["status"] != "exited":
            assert time.monotonic() < deadline, "the member's exit was not noticed"
            time.sleep(0.2)
        st = collect_status(tmp_path / "bench-up.yaml")
        assert [e["status"] for e in st["amf_set"]] == ["running", "exited"]
        assert (st["amf_set"][1]["restarts"], st["amf_set"][1]["last_exit"]) == (0, -signal.SIGKILL)
        time.sleep(1.5)  # three supervision rounds: still nobody restarts it
        assert json.loads(state_file.read_text())["amf_set"][1]["status"] == "exited"

    finally:
        net.stop()
    # ``up`` stopped its member with itself
    assert not Path(f"/proc/{member_pid}").exists()
    log = (tmp_path / "up.log").read_text(errors="replace")
    assert "event=amf_set_member_not_restarted member=1" in log and "event=amf_set_member_restarted" not in log
    # the two gNBs went to the two AMFs: each gNB's UEs carry one AMF Pointer, the gNBs differ
    by_gnb: dict[int, set[int]] = {}
    for gnb, pointer, _set_id, _ip in rows:
        by_gnb.setdefault(gnb, set()).add(pointer)
    assert sorted(by_gnb) == [1, 2]
    assert sorted(p for ps in by_gnb.values() for p in ps) == [0, 1]
    assert {set_id for _g, _p, set_id, _ip in rows} == {1}  # one AMF Set
    # each member's SMF allocates from its own half of the UPF's pool
    pool = ipaddress.ip_network(NetPlan.slot(6).pool)
    halves = list(pool.subnets(prefixlen_diff=1))
    for _gnb, pointer, _set_id, ip in rows:
        assert ip is not None and ipaddress.ip_address(ip) in halves[pointer]
    assert len({ip for *_r, ip in rows}) == n
    assert not Path("/sys/class/net/fcbench6").exists()
