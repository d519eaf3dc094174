"""`fivecore up`, `status`, `config show` as a user runs them: real processes, TUN, sockets.

Every test uses its own addresses (127.77.0.x), TUN name and UE pool so it can run beside other
engineers' tests on the same host; nothing may be left behind after any of them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FIVECORE = [sys.executable, "-m", "fivecore.cli.main"]


def net_config(tmp: Path, prefix: str = "127.77.0", tun: str = "fcnet0", pool: str = "10.77.0.0/16") -> dict[str, Any]:
    """A complete `up` configuration on addresses of its own (Open5GS's layout, moved)."""
    a = {n: f"{prefix}.{i}" for n, i in
         (("smf", 4), ("amf", 5), ("upf", 7), ("nrf", 10), ("ausf", 11), ("udm", 12), ("pcf", 13), ("nssf", 14),
          ("udr", 20))}
    nrf = f"http://{a['nrf']}:7777"
    cfg: dict[str, Any] = {
        "logging": {"level": "info"},
        "up": {"data_dir": str(tmp / "data")},
        "nrf": {"sbi": {"address": a["nrf"]}},
        "upf": {"pfcp_address": a["upf"], "gtpu_address": a["upf"], "tun_name": tun, "subnet": pool},
        "smf": {"sbi": {"address": a["smf"]}, "nrf_uri": nrf, "pfcp": {"address": a["smf"]},
                "upfs": [{"address": a["upf"]}], "dnns": [{"dnn": "internet", "ipv4_pool": pool}]},
        "amf": {"sbi": {"address": a["amf"]}, "nrf_uri": nrf, "ngap": {"address": a["amf"]}},
        "udr": {"sbi": {"address": a["udr"]}, "nrf_uri": nrf, "mgmt": {"address": a["udr"]}},
    }
    for n in ("ausf", "udm", "pcf", "nssf"):
        cfg[n] = {"sbi": {"address": a[n]}, "nrf_uri": nrf}
    return cfg


def write(tmp: Path, cfg: dict[str, Any], name: str = "net.yaml") -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(cfg))
    return p


def run(*args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIVECORE, *args], capture_output=True, text=True, timeout=timeout, **kw)


def one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0, r.stdout + r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[0].startswith("fivecore: error: ")
    return lines[0]


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


# --- configuration errors: one line, nothing created ------------------------------------------------


@pytest.mark.parametrize(("text", "key"), [
    ("amf:\n  sbi: {port: 99999}\n", "amf.sbi.port"),
    ("amf:\n  ngapp: {}\n", "amf.ngapp: unknown key"),
    ("upf:\n  subnet: not-a-net\n", "upf.subnet"),
    ("metrics:\n  ports: {mme: 9091}\n", "metrics.ports"),
    ("plmn: {mcc: '1'}\n", "plmn.mcc"),
    ("trust:\n  vendors: 3\n", "trust"),
    ("amf: [unclosed\n", "not valid YAML"),
    ("- a list\n", "<root>"),
])
def test_config_error_is_one_line(tmp_path: Path, text: str, key: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    for cmd in (["config", "show"], ["up"]):
        env = {**os.environ, "FIVECORE_DATA": str(tmp_path / "data")}
        line = one_error_line(run(*cmd, "--config", str(cfg), env=env))
        assert key in line
    assert not (tmp_path / "data").exists()


def test_config_show_defaults_and_json(tmp_path: Path) -> None:
    r = run("config", "show", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["amf"]["ngap"] == {"address": "127.0.0.5", "port": 38412, "rx_batch_ms": 1.0, "extra_addresses": []}
    assert doc["plmn"] == {"mcc": "001", "mnc": "01"}
    assert doc["upf"]["subnet"] == "10.45.0.0/16" and doc["metrics"]["port"] == 9090
    assert doc["demo"]["k"] == "<redacted>"
    secret = "ab" * 32
    cfg = write(tmp_path, {"home_network_keys": [{"id": 1, "scheme": "A", "private_key": secret}],
                           "udr": {"mgmt": {"token": "s3cret-token"}}})
    r = run("config", "show", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout and "s3cret-token" not in r.stdout
    assert yaml.safe_load(r.stdout)["home_network_keys"][0]["scheme"] == "A"


def test_missing_file_one_line(tmp_path: Path) -> None:
    line = one_error_line(run("config", "show", "--config", str(tmp_path / "nope.yaml")))
    assert "cannot read" in line


# --- bad environment: one line, nothing left behind ------------------------------------------------------


def test_up_without_root_one_line(tmp_path: Path) -> None:
    # a user namespace without a uid map: euid 65534 and no capabilities on the host, while
    # the files (the venv under /root) stay readable — the situation of `fivecore up` without sudo
    cfg = write(tmp_path, net_config(tmp_path))
    r = subprocess.run(["unshare", "--user", *FIVECORE, "up", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=60)
    line = one_error_line(r)
    assert "root rights needed" in line and "TUN" in line
    assert not (tmp_path / "data").exists()
    # the demo refuses the same way
    r = subprocess.run(["unshare", "--user", *FIVECORE, "demo", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=60)
    assert "root rights needed" in one_error_line(r)


def test_up_port_taken_one_line(tmp_path: Path) -> None:
    cfg_d = net_config(tmp_path, prefix="127.77.1", tun="fcnet1", pool="10.78.0.0/16")
    cfg = write(tmp_path, cfg_d)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.77.1.5", 7777))
        s.listen()
        line = one_error_line(run("up", "--config", str(cfg)))
    assert "amf SBI: cannot listen on 127.77.1.5:7777 (tcp): already in use" in line
    assert not link_exists("fcnet1")
    assert not (tmp_path / "data" / "run" / "up.json").exists()
    # a UDP port (the UPF's PFCP) as well
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.77.1.7", 8805))
        line = one_error_line(run("up", "--config", str(cfg)))
    assert "PFCP: cannot listen on 127.77.1.7:8805 (udp)" in line
    assert not link_exists("fcnet1")


def test_up_existing_tun_refused(tmp_path: Path) -> None:
    cfg = write(tmp_path, net_config(tmp_path, prefix="127.77.2", tun="fcnet2", pool="10.79.0.0/16"))
    subprocess.run(["ip", "tuntap", "add", "name", "fcnet2", "mode", "tun"], check=True)
    try:
        line = one_error_line(run("up", "--config", str(cfg)))
        assert "fcnet2 already exists" in line
        assert link_exists("fcnet2")  # not ours: left alone
    finally:
        subprocess.run(["ip", "link", "del", "fcnet2"])


# --- a running network ---------------------------------------------------------------------------------------


def _wait_state(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"fivecore up exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        if path.exists():
            try:
                state = json.loads(path.read_text())
            except ValueError:
                continue
            if state.get("pid") == proc.pid:  # not a stale file of an earlier run
                return state
        time.sleep(0.1)
    raise AssertionError("fivecore up not ready")


def test_up_status_metrics_and_clean_shutdown(tmp_path: Path) -> None:
    cfg_d = net_config(tmp_path, prefix="127.77.3", tun="fcnet3", pool="10.80.0.0/16")
    nft = subprocess.run(["which", "nft"], capture_output=True).returncode == 0
    cfg_d["up"]["nat"] = nft
    cfg = write(tmp_path, cfg_d)
    pcap = tmp_path / "up.pcap"
    proc = subprocess.Popen([*FIVECORE, "up", "--config", str(cfg), "--pcap", str(pcap)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        state = _wait_state(tmp_path / "data" / "run" / "up.json", proc)
        assert {n: v["status"] for n, v in state["nfs"].items()} == dict.fromkeys(
            ("nrf", "udr", "udm", "ausf", "pcf", "nssf", "smf", "amf", "upf"), "running")
        assert link_exists("fcnet3")
        # the generated SUCI key pair is kept in the data dir, private key not world-readable
        key = tmp_path / "data" / "hn-key-1.key"
        assert key.stat().st_mode & 0o077 == 0
        assert state["home_network_public_keys"]["1"] == (tmp_path / "data" / "hn-key-1.pub").read_text().strip()
        # Prometheus on each NF's own address, port 9090
        for nf, addr in (("amf", "127.77.3.5"), ("smf", "127.77.3.4"), ("upf", "127.77.3.7")):
            with urllib.request.urlopen(f"http://{addr}:9090/metrics", timeout=5) as r:
                text = r.read().decode()
            assert "process_cpu_seconds_total" in text, nf
        with urllib.request.urlopen("http://127.77.3.5:9090/metrics", timeout=5) as r:
            assert "fivegs_amffunction_rm_reginitreq 0" in r.read().decode()
        with urllib.request.urlopen("http://127.77.3.7:9090/metrics", timeout=5) as r:
            assert "fivegs_upffunction_upf_sessionnbr 0" in r.read().decode()
        st = run("status", "--json", "--config", str(cfg))
        assert st.returncode == 0, st.stderr
        doc = json.loads(st.stdout)
        assert doc["gnbs"] == [] and doc["ues"] == [] and doc["pdu_sessions"] == []
        if nft:  # the UE pool is masqueraded towards the host's other interfaces
            rules = subprocess.run(["nft", "list", "table", "ip", f"fivecore_{proc.pid}"], capture_output=True,
                                   text=True)
            assert "ip saddr 10.80.0.0/16" in rules.stdout and "masquerade" in rules.stdout, rules.stderr
        # a second `up` on the same data dir is refused in one line
        line = one_error_line(run("up", "--config", str(cfg)))
        assert "already running" in line
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "event=network_ready" in err and "event=network_stopped" in err
    assert not link_exists("fcnet3")
    assert not (tmp_path / "data" / "run" / "up.json").exists()
    if nft:
        assert subprocess.run(["nft", "list", "table", "ip", f"fivecore_{proc.pid}"],
                              capture_output=True).returncode != 0
    r = run("status", "--config", str(cfg))
    assert "no running network" in one_error_line(r)
    # the capture opens in tshark: N4 association set-up between SMF and UPF, no malformed frame
    if subprocess.run(["which", "tshark"], capture_output=True).returncode == 0:
        t = subprocess.run(["tshark", "-r", str(pcap), "-Y", "pfcp || _ws.malformed || _ws.expert.severity >= 8",
                            "-T", "fields", "-e", "pfcp.msg_type", "-e", "_ws.malformed"],
                           capture_output=True, text=True, timeout=60)
        assert t.returncode == 0, t.stderr
        types = {ln.split("\t")[0] for ln in t.stdout.splitlines()}
        assert {"5", "6"} <= types, t.stdout  # PFCP Association Setup Request / Response
        assert "\t1" not in t.stdout


def test_up_recovers_after_kill_9(tmp_path: Path) -> None:
    """`up` killed with SIGKILL: its UPF follows it, and the next `up` removes the stale TUN."""
    cfg_d = net_config(tmp_path, prefix="127.77.8", tun="fcnet8", pool="10.86.0.0/16")
    nft = subprocess.run(["which", "nft"], capture_output=True).returncode == 0
    cfg_d["up"]["nat"] = nft
    cfg = write(tmp_path, cfg_d)
    state_file = tmp_path / "data" / "run" / "up.json"
    proc = subprocess.Popen([*FIVECORE, "up", "--config", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    state = _wait_state(state_file, proc)
    upf_pid = state["nfs"]["upf"]["pid"]
    proc.kill()
    proc.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{upf_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{upf_pid}").exists(), "the UPF outlived fivecore up"
    assert link_exists("fcnet8")  # a persistent TUN cannot vanish with a killed process
    proc = subprocess.Popen([*FIVECORE, "up", "--config", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_state(state_file, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "event=stale_tun_removed name=fcnet8" in err
    if nft:
        assert f"event=stale_nat_removed table=fivecore_{state['pid']}" in err
        assert subprocess.run(["nft", "list", "table", "ip", f"fivecore_{state['pid']}"],
                              capture_output=True).returncode != 0
    assert proc.returncode == 0
    assert not link_exists("fcnet8")


def test_capture_stop_keeps_what_was_queued(tmp_path: Path) -> None:
    """Packets the kernel queued before stop() reach the file, even if the capture thread had
    not read them yet (a busy NF process starves it of the GIL)."""
    from fivecore.netup.capture import LoopbackCapture

    pcap = tmp_path / "q.pcap"
    cap = LoopbackCapture(pcap, {"127.77.9.4"})  # the socket and its filter exist from here on
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.77.9.4", 0))
        for i in range(20):
            tx.sendto(b"queued %d" % i, rx.getsockname())
        cap.start()
        cap.stop()
    assert cap.packets == 20
    t = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "data.data"],
                       capture_output=True, text=True, timeout=60)
    assert [bytes.fromhex(x) for x in t.stdout.split()] == [b"queued %d" % i for i in range(20)]


def test_capture_keeps_only_core_addresses_once(tmp_path: Path) -> None:
    """The kernel filter passes the NFs' packets, each once; other loopback traffic never."""
    from fivecore.netup.capture import LoopbackCapture

    pcap = tmp_path / "c.pcap"
    cap = LoopbackCapture(pcap, {"127.77.9.1"})
    cap.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            rx.bind(("127.77.9.1", 0))
            tx.bind(("127.77.9.2", 0))
            for i in range(5):
                tx.sendto(b"core %d" % i, rx.getsockname())
                tx.sendto(b"other %d" % i, ("127.77.9.3", 9))
            time.sleep(0.5)
    finally:
        cap.stop()
    assert cap.packets == 5
    t = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "ip.dst", "-e", "data.data"],
                       capture_output=True, text=True, timeout=60)
    rows = [ln.split("\t") for ln in t.stdout.splitlines()]
    assert [r[0] for r in rows] == ["127.77.9.1"] * 5
    assert bytes.fromhex(rows[0][1]) == b"core 0"
