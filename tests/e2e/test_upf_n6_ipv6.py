"""A standalone UPF (``python -m fivecore.nf.upf``) that creates its N6 TUN gives it the IPv6
address of each ``upf.ipv6_subnet`` pool, so the kernel routes the pools' session /64s
(TS 23.501 §5.8.2.2.3) into the TUN without ``fivecore up``. The UPF runs in a network
namespace of its own (``unshare -n -m``, with its own /sys so the UPF sees the namespace's links), which
disappears with it; the last test carries an IPv6 datagram from N6 through the TUN into a PDU
session's GTP-U tunnel, with this test playing the SMF (PFCP) and the gNB. Needs root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (netns, TUN)"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare"),
]

# Runs inside the new namespace: start the UPF, wait for its ready line, show what the kernel
# has for the TUN, stop it with SIGTERM (its clean stop) and report its exit code.
SCRIPT = r"""
set -u
mount -t sysfs sysfs /sys
ip link set lo up
"$PYTHON" -m fivecore.nf.upf --config "$CFG" > "$DIR/out" 2> "$DIR/err" &
pid=$!
for _ in $(seq 1 300); do
  grep -q "upf ready" "$DIR/out" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
echo "=== ready"; cat "$DIR/out"
echo "=== addr"; ip -o addr show dev "$TUN"
echo "=== route"; ip -6 route get "$PROBE"
echo "=== route2"; ip -6 route get "$PROBE2"
kill -TERM $pid; wait $pid; echo "=== rc $?"
"""


def _run_upf(tmp_path: Path, upf: dict[str, object], probe: str, probe2: str) -> str:
    cfg = tmp_path / "upf.yaml"
    cfg.write_text(yaml.safe_dump({"upf": upf}))
    env = {**os.environ, "PYTHON": sys.executable, "CFG": str(cfg), "DIR": str(tmp_path),
           "TUN": str(upf["tun_name"]), "PROBE": probe, "PROBE2": probe2,
           "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run(["unshare", "-n", "-m", "bash", "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=90)
    err = (tmp_path / "err").read_text() if (tmp_path / "err").exists() else ""
    assert "upf ready" in res.stdout, f"{res.stdout}\n{res.stderr}\n{err}"
    assert "=== rc 0" in res.stdout, f"{res.stdout}\n{err}"
    return res.stdout


def _section(out: str, name: str) -> str:
    return out.split(f"=== {name}\n", 1)[1].split("\n===", 1)[0]


def test_created_tun_gets_ipv6_addresses_and_routes(tmp_path: Path) -> None:
    upf = {"pfcp_address": "127.0.0.7", "gtpu_address": "127.0.0.7", "tun_name": "fcn6t",
           "subnet": "10.45.0.0/16", "nrf_uri": None,
           "ipv6_subnet": ["2001:db8:cafe::/48", "2001:db8:beef::/56"]}
    out = _run_upf(tmp_path, upf, "2001:db8:cafe:7::42", "2001:db8:beef:3::1")
    addr = _section(out, "addr")
    assert "inet 10.45.0.1/16" in addr
    assert "inet6 2001:db8:cafe::1/48" in addr and "inet6 2001:db8:beef::1/56" in addr
    # nodad: usable at once, never left tentative
    assert "tentative" not in addr
    # a session's /64 anywhere in a pool is routed into the TUN
    assert " dev fcn6t " in _section(out, "route")
    assert " dev fcn6t " in _section(out, "route2")


def test_without_ipv6_subnet_the_tun_has_no_global_ipv6(tmp_path: Path) -> None:
    upf = {"pfcp_address": "127.0.0.7", "gtpu_address": "127.0.0.7", "tun_name": "fcn6t",
           "nrf_uri": None}
    out = _run_upf(tmp_path, upf, "2001:db8:cafe:7::42", "2001:db8:beef:3::1")
    assert "inet6 2001:" not in _section(out, "addr")
    assert " dev fcn6t " not in _section(out, "route")


# Runs inside the namespace: the test plays the SMF (PFCP built by fivecore.nf.smf.pfcp, on
# 127.0.0.4:8805) and the gNB (a UDP socket on 127.0.0.2:2152) around a standalone UPF process,
# sets up one IPv6 PDU session, then sends a datagram from the namespace's own stack to an
# address in the session's /64: only the N6 route the UPF installed takes it into the TUN.
DOWNLINK = r"""
import ipaddress, json, socket, subprocess, sys
from fivecore.nf.smf import gsm
from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import Ipv6PrefixPool, SmfContext
from fivecore.wire import gtpu, pfcp

cfg, pool = sys.argv[1], sys.argv[2]
upf = subprocess.Popen([sys.executable, "-m", "fivecore.nf.upf", "--config", cfg], stdout=subprocess.PIPE, text=True)
out = {}
try:
    assert "upf ready" in upf.stdout.readline()
    smf = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    smf.bind(("127.0.0.4", 8805))
    smf.settimeout(10)
    gnb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gnb.bind(("127.0.0.2", 2152))
    gnb.settimeout(10)

    def ask(msg):
        smf.sendto(pfcp.encode(msg), ("127.0.0.7", 8805))
        while True:
            rsp = pfcp.decode(smf.recv(65535))
            if rsp.seq == msg.seq:  # a UPF-initiated Heartbeat Request may come first
                return rsp

    rsp = ask(pfcp.PfcpMessage.build("AssociationSetupRequest", seq=1, node_id=pfcp.NodeId.ipv4("127.0.0.4"),
                                     recovery_time_stamp=pfcp.ntp_now()))
    assert rsp.cause == pfcp.CAUSE_ACCEPTED, rsp
    sm = SmfContext().new("imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.pdu_type = gsm.PDU_IPV6
    sm.ue_ipv6_prefix = Ipv6PrefixPool(pool).allocate()
    sm.ambr_ul = sm.ambr_dl = 100_000_000
    sm.upf_seid, sm.ul_teid, sm.ul_ip = smf_pfcp.parse_establishment_response(
        ask(smf_pfcp.session_establishment(sm, seq=2, node_id="127.0.0.4", cp_ip="127.0.0.4")))
    sm.dl_teid, sm.dl_ip = 0x5EED, "127.0.0.2"
    assert ask(smf_pfcp.activate_downlink(sm, seq=3)).cause == pfcp.CAUSE_ACCEPTED
    dst = sm.ue_ipv6_prefix[0x42]
    n6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    n6.sendto(b"from-n6", (str(dst), 9999))
    for _ in range(10):  # the tunnel's unsolicited Router Advertisement may come first
        data = gnb.recv(65535)
        teid, _qfi, off = gtpu.decap(data)
        inner = data[off:]
        if inner[0] >> 4 == 6 and inner[6] == 17:
            out = {"teid": teid, "src": str(ipaddress.IPv6Address(inner[8:24])),
                   "dst": str(ipaddress.IPv6Address(inner[24:40])), "payload": inner[48:].decode(),
                   "want_dst": str(dst)}
            break
finally:
    upf.terminate()
    out["rc"] = upf.wait(10)
    print(json.dumps(out))
"""


def test_standalone_upf_carries_ipv6_downlink_from_n6(tmp_path: Path) -> None:
    """N6 -> TUN -> the session's GTP-U tunnel, through a UPF that is not under ``fivecore up``."""
    pool = "2001:db8:cafe::/48"
    cfg = tmp_path / "upf.yaml"
    cfg.write_text(yaml.safe_dump({"upf": {"pfcp_address": "127.0.0.7", "gtpu_address": "127.0.0.7",
                                           "tun_name": "fcn6t", "nrf_uri": None, "ipv6_subnet": pool}}))
    script = tmp_path / "downlink.py"
    script.write_text(DOWNLINK)
    shell = 'mount -t sysfs sysfs /sys && ip link set lo up && exec "$PYTHON" "$SCRIPT" "$CFG" "$POOL"'
    env = {**os.environ, "PYTHON": sys.executable, "SCRIPT": str(script), "CFG": str(cfg), "POOL": pool,
           "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run(["unshare", "-n", "-m", "bash", "-c", shell], env=env, capture_output=True, text=True,
                         timeout=90)
    assert res.returncode == 0, res.stdout + res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["rc"] == 0
    assert got["teid"] == 0x5EED and got["payload"] == "from-n6"
    assert got["dst"] == got["want_dst"]
    # the kernel sourced it from the N6 address the UPF gave the TUN (usable at once: nodad)
    assert got["src"] == "2001:db8:cafe::1"
