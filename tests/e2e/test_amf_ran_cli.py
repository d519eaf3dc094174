"""``fivecore ran`` as its own process, driven through its control socket like UERANSIM's nr-cli:
``fivecore ran ue list``, ``fivecore ran ue deregister IMSI``, ``fivecore ran gnb status``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from netkit import amf_core
from ran_control import wait_registered

from fivecore.nf.amf.launch import AmfCore

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BASE = 1010000001000
N = 12


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-cli") as c:
        c.provision(N, first_imsi=f"{BASE:015d}")
        yield c


def fivecore(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fivecore.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_simulator_process_and_control_commands(core: AmfCore, tmp_path) -> None:
    cfg = tmp_path / "ran.yaml"
    cfg.write_text(yaml.safe_dump(core.ran_config(first_imsi=f"{BASE:015d}", scheme_cycle=[0, 1, 2])))
    sock = str(tmp_path / "ran.sock")
    log = (tmp_path / "ran.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "fivecore.cli.main", "ran", "--gnbs", "2", "--ues", str(N),
                             "--config", str(cfg), "--control", sock, "--json"], stdout=log, stderr=subprocess.STDOUT)
    try:
        ues = wait_registered(proc, sock, tmp_path / "ran.log")
        r = fivecore("ran", "ue", "list", "--control", sock, "--json")
        assert r.returncode == 0, r.stderr
        ues = json.loads(r.stdout)
        assert len(ues) == N and all(u["state"] == "REGISTERED" for u in ues), ues
        assert {u["suci_scheme"] for u in ues} == {0, 1, 2}
        assert all(u["guti"] for u in ues)

        r = fivecore("ran", "gnb", "status", "--control", sock, "--json")
        assert r.returncode == 0, r.stderr
        gnbs = json.loads(r.stdout)
        assert [g["ready"] for g in gnbs] == [True, True]
        assert all(g["amf"] == "fivecore-amf" for g in gnbs)

        target = ues[3]["supi"]
        r = fivecore("ran", "ue", "deregister", target.removeprefix("imsi-"), "--control", sock)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"{target}: DEREGISTERED"
        r = fivecore("ran", "ue", "list", "--control", sock, "--json")
        states = {u["supi"]: u["state"] for u in json.loads(r.stdout)}
        assert states[target] == "DEREGISTERED"
        assert sum(s == "REGISTERED" for s in states.values()) == N - 1

        r = fivecore("ran", "ue", "deregister", "001019999999999", "--control", sock)
        assert r.returncode != 0 and "no UE" in r.stderr and "Traceback" not in r.stderr
        r = fivecore("ran", "table", "--control", sock)
        assert r.returncode != 0
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
    r = fivecore("ran", "ue", "list", "--control", sock)
    assert r.returncode != 0 and "is `fivecore ran` running?" in r.stderr
