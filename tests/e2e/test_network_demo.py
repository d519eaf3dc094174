"""`fivecore demo --json` end to end, and the metrics it leaves behind equal what happened.

The demo starts `fivecore up` (control plane in one process, UPF in another), provisions
subscribers, runs the simulator (NGAP over SCTP, GTP-U, a TUN per UE in its own namespace),
pings and streams TCP into a data-network namespace, checks Prometheus, and tears down.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_network_up import FIVECORE, link_exists, net_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

N_UES = 8


def _ping_missing() -> str | None:
    """The demo pings through the network; iputils-ping comes from scripts/system-deps.sh."""
    if subprocess.run(["which", "ping"], capture_output=True).returncode != 0:
        return "ping is not installed (scripts/system-deps.sh installs iputils-ping)"
    return None


def test_demo_json_passes_and_metrics_match(tmp_path: Path) -> None:
    why = _ping_missing()
    if why:
        pytest.skip(why)
    cfg = net_config(tmp_path, prefix="127.77.4", tun="fcnet4", pool="10.81.0.0/16")
    cfg["demo"] = {"dn_address": "10.82.0.2", "gnb_n3_prefix": "127.77.5", "tcp_bytes": 4 << 20}
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    pcap = tmp_path / "demo.pcap"
    r = subprocess.run([*FIVECORE, "demo", "--ues", str(N_UES), "--json", "--config", str(path), "--pcap", str(pcap)],
                       capture_output=True, text=True, timeout=280)
    report = json.loads(r.stdout)
    failed = {s["name"]: s["reason"] for s in report["steps"] if not s["passed"]}
    assert report["passed"], f"failed steps: {failed}; stderr: {r.stderr[-2000:]}"
    assert r.returncode == 0
    assert report["registered"] == N_UES
    assert report["pdu_sessions"] == N_UES
    assert report["ping_loss_percent"] == 0.0
    assert report["tcp_bytes"] == 4 << 20
    steps = {s["name"]: s for s in report["steps"]}
    # the counters Open5GS dashboards read equal the numbers of UEs and sessions
    metrics = steps["metrics"]["detail"]
    for name in ("fivegs_amffunction_rm_reginitreq", "fivegs_amffunction_rm_reginitsucc",
                 "fivegs_amffunction_rm_registeredsubnbr"):
        assert metrics[name] == {"want": N_UES, "got": N_UES}, name
    for name in ("amf_session", "fivegs_smffunction_sm_sessionnbr", "fivegs_upffunction_upf_sessionnbr"):
        assert metrics[name] == {"want": N_UES, "got": N_UES}, name
    assert steps["teardown"]["detail"] == {"sessions_released": N_UES, "deregistered": N_UES}
    # nothing left behind
    assert not link_exists("fcnet4")
    assert not link_exists("fc-dn0")
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "fc-dn" not in netns and "fcdemo" not in netns
    assert report["workdir"] is None
    # the capture of the core's side opens in Wireshark's dissector: NGAP with its NAS (N2/N1),
    # PFCP session establishment (N4), GTP-U G-PDUs with a PDU Session Container (N3)
    t = subprocess.run(["tshark", "-r", str(pcap), "-Y", "ngap || pfcp || gtp || _ws.malformed",
                        "-T", "fields", "-e", "_ws.col.Protocol", "-e", "pfcp.msg_type", "-e", "_ws.malformed"],
                       capture_output=True, text=True, timeout=120)
    assert t.returncode == 0, t.stderr
    rows = [ln.split("\t") for ln in t.stdout.splitlines()]
    protocols = {row[0] for row in rows}
    assert {"NGAP", "PFCP"} <= protocols and protocols & {"GTP", "GTP <ICMP>", "GTP <TCP>"}, protocols
    assert sum(1 for row in rows if row[1] == "50") >= N_UES  # PFCP Session Establishment Request
    assert not any(row[2] for row in rows if len(row) > 2), "malformed frames in the capture"


def test_demo_reports_a_broken_step_and_exits_nonzero(tmp_path: Path) -> None:
    """A step that cannot work fails with its reason; exit 1; still nothing left behind."""
    why = _ping_missing()
    if why:
        pytest.skip(why)
    cfg = net_config(tmp_path, prefix="127.77.6", tun="fcnet6", pool="10.83.0.0/16")
    # a classic misconfiguration: the SMF hands out addresses the UPF's N6 does not route, so
    # sessions come up but no reply finds its way back — ping and TCP must be reported failed
    cfg["smf"]["dnns"] = [{"dnn": "internet", "ipv4_pool": "10.84.0.0/16"}]
    cfg["demo"] = {"dn_address": "10.85.0.2", "gnb_n3_prefix": "127.77.7", "ping_count": 1}
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = subprocess.run([*FIVECORE, "demo", "--ues", "2", "--json", "--config", str(path)],
                       capture_output=True, text=True, timeout=280)
    assert r.returncode == 1, r.stderr[-2000:]
    report = json.loads(r.stdout)
    steps = {s["name"]: s for s in report["steps"]}
    assert report["passed"] is False
    assert steps["register"]["passed"] and steps["pdu_session"]["passed"]
    assert not steps["ping"]["passed"] and steps["ping"]["reason"]
    assert report["ping_loss_percent"] == 100.0
    assert not steps["tcp"]["passed"] and report["tcp_bytes"] == 0
    assert not link_exists("fcnet6")
    if report["workdir"]:  # kept for the user to read the logs of a failed run
        shutil.rmtree(report["workdir"])
    assert "fc-dn" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
