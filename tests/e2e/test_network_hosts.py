"""Separate hosts: every NF in its own network namespace with its own address, like a deployment.

    fh-nrf 10.90.0.10 · fh-data (AUSF .11, UDM .12, PCF .13, NSSF .14, UDR .20) · fh-amf .5
    fh-smf .4 · fh-upf .7 (N6 TUN 10.92.0.1/16, veth to fh-dn) · fh-ran .100 (gNB + UE netns)
    fh-dn 10.93.0.2: the data network behind the UPF

All on one bridge (10.90.0.0/24) in the host namespace. Each NF is its own process
(`fivecore nf NAME`, the UPF `python -m fivecore.netup.upf_proc`); NFs find each other through
the NRF over HTTP/2; N2 is NGAP over (userspace) SCTP between fh-ran and fh-amf; N4 PFCP between
fh-smf and fh-upf; N3 GTP-U between fh-ran and fh-upf. One UE registers, opens a PDU session
and pings the data network through all of it.
"""

from __future__ import annotations

import contextlib
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

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TAG = f"{os.getpid() % 100000}"
BR = f"fhb{TAG}"
NET = "10.90.0"
HOSTS: dict[str, list[str]] = {
    "nrf": [f"{NET}.10"],
    "data": [f"{NET}.11", f"{NET}.12", f"{NET}.13", f"{NET}.14", f"{NET}.20"],
    "amf": [f"{NET}.5"],
    "smf": [f"{NET}.4"],
    "upf": [f"{NET}.7"],
    "ran": [f"{NET}.100"],
}
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "e8ed289deba952e4283b54e88e6183ca"
IMSI = "001010000000077"


def ns(host: str) -> str:
    return f"fh{TAG}{host}"


def ip(*args: str, check: bool = True) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


class Hosts:
    """The namespaces, the bridge and the DN link; removed by :meth:`remove`."""

    def create(self) -> None:
        ip("link", "add", BR, "type", "bridge")
        ip("addr", "add", f"{NET}.254/24", "dev", BR)  # the test itself reaches every host from here
        ip("link", "set", BR, "up")
        for i, (host, addrs) in enumerate(HOSTS.items()):
            n, veth = ns(host), f"fh{TAG}v{i}"
            ip("netns", "add", n)
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", n)
            ip("link", "set", veth, "master", BR, "up")
            for a in addrs:
                ip("-n", n, "addr", "add", f"{a}/24", "dev", "eth0")
            ip("-n", n, "link", "set", "eth0", "up")
            ip("-n", n, "link", "set", "lo", "up")
        # the data network behind the UPF's N6
        dn = ns("dn")
        ip("netns", "add", dn)
        ip("-n", ns("upf"), "link", "add", "n6", "type", "veth", "peer", "name", "eth0", "netns", dn)
        ip("-n", ns("upf"), "addr", "add", "10.93.0.1/24", "dev", "n6")
        ip("-n", ns("upf"), "link", "set", "n6", "up")
        ip("-n", dn, "addr", "add", "10.93.0.2/24", "dev", "eth0")
        ip("-n", dn, "link", "set", "eth0", "up")
        ip("-n", dn, "route", "add", "10.92.0.0/16", "via", "10.93.0.1")
        subprocess.run(["ip", "netns", "exec", ns("upf"), "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)

    def remove(self) -> None:
        for host in [*HOSTS, "dn"]:
            ip("netns", "del", ns(host), check=False)
        ip("link", "del", BR, check=False)


def config(tmp: Path) -> dict[str, Any]:
    from fivecore.security import suci

    priv, pub = suci.generate_hn_keypair(1)
    (tmp / "hn.pub").write_text(pub.hex())
    nrf = f"http://{NET}.10:7777"
    sbi = {"nrf": f"{NET}.10", "ausf": f"{NET}.11", "udm": f"{NET}.12", "pcf": f"{NET}.13",
           "nssf": f"{NET}.14", "udr": f"{NET}.20", "amf": f"{NET}.5", "smf": f"{NET}.4"}
    cfg: dict[str, Any] = {
        "db_uri": f"sqlite:///{tmp / 'subscribers.db'}",
        "logging": {"level": "info"},
        "home_network_keys": [{"id": 1, "scheme": "A", "private_key": priv.hex()}],
        "upf": {"pfcp_address": f"{NET}.7", "gtpu_address": f"{NET}.7", "tun_name": "ogstun",
                "subnet": "10.92.0.0/16"},
    }
    for nf, addr in sbi.items():
        cfg[nf] = {"sbi": {"address": addr}, **({"nrf_uri": nrf} if nf != "nrf" else {})}
    cfg["udr"]["mgmt"] = {"enabled": False}
    cfg["amf"]["ngap"] = {"address": f"{NET}.5"}
    cfg["smf"].update(pfcp={"address": f"{NET}.4"}, upfs=[{"address": f"{NET}.7"}],
                      dnns=[{"dnn": "internet", "ipv4_pool": "10.92.0.0/16"}])
    return cfg


# The simulator host: one gNB, one UE with its own namespace; register, session, ping the DN.
DRIVER = r"""
import asyncio, json, sys
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.userplane import UserPlane

async def main(cfg, ns_prefix):
    sim = RanSim(load_ran_config(cfg), 1, 1)
    up = UserPlane(use_namespace=True, ns_prefix=ns_prefix)
    out = {}
    try:
        await sim.start()
        out["ng_setup"] = sim.gnbs[0].ready
        await up.add_gnb(sim.gnbs[0], cfg["gnb"]["localAddress"])
        ru = sim.ues[0]
        up.enable(ru, 0)
        out["registration"] = (await sim.register(ru, 30, follow_on=True)).name
        s = await up.establish(ru, 1, "internet", (1, None), timeout=30)
        out["ue_ipv4"] = s.ipv4
        # the simulator's loop must keep running (it carries the packets): no blocking calls here
        p = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", up.namespace(ru), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "3", "10.93.0.2",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        text = (await p.communicate())[0].decode()
        out["ping"] = text.strip().splitlines()[-2:]
        out["ping_rc"] = p.returncode
        await up.release(ru, 1, timeout=10)
        out["deregistration"] = (await sim.deregister(ru, 10)).name
    finally:
        await up.close()
        await sim.stop()
    print(json.dumps(out), flush=True)

asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2]))
"""


def _exec(host: str, *argv: str, log: Path) -> subprocess.Popen[bytes]:
    f = open(log, "wb")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(["ip", "netns", "exec", ns(host), *argv], stdout=f, stderr=subprocess.STDOUT)
    finally:
        f.close()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as r:  # noqa: S310 - our own listeners
        return r.read().decode()


def _wait_http(name: str, url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{name}: {url} not answering: {log.read_text(errors='replace')[-2000:]}")


def _metric(url: str, name: str) -> float | None:
    for ln in _get(url).splitlines():
        if ln.startswith(name + " "):
            return float(ln.split()[1])
    return None


def test_separate_hosts_register_and_ping(tmp_path: Path) -> None:
    if subprocess.run(["which", "ping"], capture_output=True).returncode != 0:
        pytest.skip("ping is not installed (scripts/system-deps.sh installs iputils-ping)")
    from fivecore.store import Subscriber, SubscriberStore

    cfg = config(tmp_path)
    cfg_path = tmp_path / "core.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    store = SubscriberStore(cfg["db_uri"])
    store.add(Subscriber(f"imsi-{IMSI}", k=bytes.fromhex(K), opc=bytes.fromhex(OPC), profile="default"))
    store.close()

    hosts = Hosts()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    try:
        hosts.create()
        # the UPF first (the SMF associates with it), then the NRF, the data layer, SMF and AMF
        logs["upf"] = tmp_path / "upf.log"
        procs["upf"] = _exec("upf", sys.executable, "-m", "fivecore.netup.upf_proc", "--config", str(cfg_path),
                             log=logs["upf"])
        order = [("nrf", "nrf"), ("data", "udr"), ("data", "udm"), ("data", "ausf"), ("data", "pcf"),
                 ("data", "nssf"), ("smf", "smf"), ("amf", "amf")]
        for host, nf in order:
            logs[nf] = tmp_path / f"{nf}.log"
            procs[nf] = _exec(host, sys.executable, "-m", "fivecore.cli.main", "nf", nf, "--config", str(cfg_path),
                              log=logs[nf])
            addr = cfg[nf]["sbi"]["address"]
            _wait_http(nf, f"http://{addr}:9090/metrics", procs[nf], logs[nf])
        _wait_http("upf", f"http://{NET}.7:9090/metrics", procs["upf"], logs["upf"])
        # every NF registered with the NRF, across namespaces
        deadline = time.monotonic() + 30
        missing: list[str] = []
        while time.monotonic() < deadline:
            missing = [t for t in ("AUSF", "UDM", "UDR", "PCF", "NSSF", "SMF", "AMF")
                       if '"nfInstanceId"' not in _get(f"http://{NET}.10:7777/nnrf-disc/v1/nf-instances?"
                                                       f"target-nf-type={t}&requester-nf-type=AMF")]
            if not missing:
                break
            time.sleep(0.2)
        assert not missing, f"not registered with the NRF: {missing}"
        # the SMF's N4 association with the UPF in another namespace
        for _ in range(200):  # up to ~20 s: a wait for an event, not a timing check
            if (_metric(f"http://{NET}.7:9090/metrics", "fivecore_upf_pfcp_rx_total") or 0) >= 1:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no PFCP from the SMF")

        ran_cfg = {
            "gnb": {"amfAddress": f"{NET}.5", "amfPort": 38412, "localAddress": f"{NET}.100"},
            "ue": {"supi": f"imsi-{IMSI}", "key": K, "op": OPC, "opType": "OPC", "protectionScheme": 1,
                   "homeNetworkPublicKey": (tmp_path / "hn.pub").read_text(), "homeNetworkPublicKeyId": 1},
        }
        drv = subprocess.run(["ip", "netns", "exec", ns("ran"), sys.executable, "-c", DRIVER, json.dumps(ran_cfg),
                              f"fh{TAG}u"], capture_output=True, text=True, timeout=120)
        assert drv.returncode == 0, drv.stderr[-3000:] + "\n" + logs["amf"].read_text(errors="replace")[-2000:]
        out = json.loads(drv.stdout.strip().splitlines()[-1])
        assert out["ng_setup"] is True
        assert out["registration"] == "REGISTERED"
        assert out["ue_ipv4"] and out["ue_ipv4"].startswith("10.92.")
        assert out["ping_rc"] == 0, out
        assert " 0% packet loss" in out["ping"][0]
        assert out["deregistration"] == "DEREGISTERED"
        # the UPF counted the uplink and downlink GTP-U packets of those pings
        upf = f"http://{NET}.7:9090/metrics"
        assert (_metric(upf, "fivegs_ep_n3_gtp_indatapktn3upf") or 0) >= 3
        assert (_metric(upf, "fivegs_ep_n3_gtp_outdatapktn3upf") or 0) >= 3
        assert _metric(f"http://{NET}.5:9090/metrics", "fivegs_amffunction_rm_reginitsucc") == 1
    finally:
        for name in reversed(list(procs)):
            p = procs[name]
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
            if p.poll() is None:
                p.kill()
                p.wait()
        hosts.remove()
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"fh{TAG}" not in leftover


