"""``fivecore ran --sessions``: the UE files' ``sessions:`` lists (UERANSIM style, ``type: IPv4 |
IPv6 | IPv4v6``) become PDU sessions of those types against a real ``fivecore up`` with an IPv6
prefix pool (TS 23.501 §5.8.2.2.3), and iputils ``ping -6`` from the UE's namespace reaches
the N6 side. Slot 4, under ``flock /tmp/fivecore-bench.lock``. Needs root."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SLOT = 4
V6_POOL = "fd00:5c:4::/48"
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(240),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: raw-IP SCTP, TUN devices, network namespaces"),
]


def _netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _ping(ns: str, *args: str) -> str:
    r = subprocess.run(["ip", "netns", "exec", ns, "ping", "-n", "-c", "3", "-i", "0.3", "-W", "10", *args],
                       capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def test_ran_cli_establishes_the_configured_session_types(tmp_path: Path) -> None:
    if shutil.which("ping") is None:
        pytest.skip("iputils-ping is not installed")
    from fivecore.benchkit.network import FIRST_IMSI, BenchNetwork, NetPlan
    from fivecore.netup.network import n6_ipv6_address

    plan = NetPlan.slot(SLOT)
    plan.extra = {"smf": {"dnns": [{"dnn": "internet", "ipv4_pool": plan.pool, "ipv6_prefix_pool": V6_POOL}]}}
    n6_v6 = n6_ipv6_address(V6_POOL).split("/")[0]
    n6_v4 = str(ipaddress.ip_network(plan.pool)[1])
    before = _netns()
    net = BenchNetwork(plan, workdir=tmp_path)
    net.start()
    proc = None
    try:
        net.provision(2)
        rc = net.ran_config(FIRST_IMSI)
        rc["gnb"]["localAddress"] = f"{plan.gnb_prefix}.1"
        dnn, sl = net.state["dnn"], rc["ue"]["default-nssai"][0]
        v6 = {**rc["ue"], "sessions": [{"type": "IPv6", "apn": dnn, "slice": sl}]}
        dual = {**rc["ue"], "supi": f"imsi-{int(FIRST_IMSI) + 1:015d}",
                "sessions": [{"type": "IPv4v6", "apn": dnn, "slice": sl}]}
        cfg = tmp_path / "ran.yaml"
        cfg.write_text(yaml.safe_dump({"gnb": rc["gnb"], "ues": [v6, dual]}))
        proc = subprocess.Popen(
            [sys.executable, "-m", "fivecore.cli.main", "ran", "--config", str(cfg), "--ues", "2", "--sessions",
             "--json", "--control", str(tmp_path / "ran.sock")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the JSON summary, printed once sessions are up
        assert line, proc.stderr.read() if proc.stderr else ""
        summary = json.loads(line)
        assert summary["registration"]["ok"] == 2
        sess = summary["pdu_sessions"]
        assert (sess["ok"], sess["total"], sess["failed"]) == (2, 2, [])
        by_supi = {s["supi"]: s for s in sess["sessions"]}
        s6, s46 = by_supi[f"imsi-{FIRST_IMSI}"], by_supi[f"imsi-{int(FIRST_IMSI) + 1:015d}"]
        assert (s6["type"], s6["psi"], s46["type"]) == ("IPv6", 1, "IPv4v6")
        assert s6["ipv4"] is None and s46["ipv4"] is not None
        for s in (s6, s46):
            assert ipaddress.IPv6Address(s["ipv6"]) in ipaddress.IPv6Network(V6_POOL)
            out = _ping(s["netns"], "-6", n6_v6)
            assert " 0% packet loss" in out, out
        out = _ping(s46["netns"], n6_v4)
        assert " 0% packet loss" in out, out
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        # the simulator removed its namespaces (and with them the session TUNs)
        assert not {s6["netns"], s46["netns"]} & _netns()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        net.stop()
        for ns in _netns() - before:
            if ns.startswith("fcran"):
                with contextlib.suppress(Exception):
                    subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
