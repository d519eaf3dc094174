"""``fivecore nf nrf udr udm ausf --pcap FILE``: four NFs in one process (they call each other
in-process, so they register without a packet on the wire), reachable over the network like
separate ones, and the process's own capture of its loopback traffic, read back by tshark."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fivecore.nf.common.launch import core_config, discover_sync, wait_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HOST = "127.66.3.1"


def test_nf_group_serves_and_captures(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("packet capture needs root")
    cfg = core_config(f"sqlite:///{tmp_path / 'subs.db'}", host=HOST)
    cfg["metrics"] = {"enabled": False}
    path = tmp_path / "group.yaml"
    path.write_text(yaml.safe_dump(cfg))
    pcap = tmp_path / "group.pcap"
    with open(tmp_path / "group.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "fivecore.cli.main", "nf", "nrf", "udr", "udm", "ausf",
                                 "--config", str(path), "--pcap", str(pcap)], stdout=log, stderr=subprocess.STDOUT)
    try:
        nrf_port = cfg["nrf"]["sbi"]["port"]
        wait_port(HOST, cfg["ausf"]["sbi"]["port"], 30, proc)
        nrf = f"http://{HOST}:{nrf_port}"
        deadline = time.monotonic() + 20
        while not all(discover_sync(nrf, t) for t in ("UDR", "UDM", "AUSF")):
            assert time.monotonic() < deadline, (tmp_path / "group.log").read_text()[-2000:]
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0, (tmp_path / "group.log").read_text()[-2000:]
    assert pcap.stat().st_size > 24
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"tcp.port == {nrf_port} && http.request",
                          "-T", "fields", "-e", "http.request.uri"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    uris = out.stdout.split()
    assert any("target-nf-type=UDM" in u for u in uris), out.stdout
    # in-process registrations never touched the wire: no PUT to nnrf-nfm was captured
    assert not any("nnrf-nfm" in u for u in uris)
