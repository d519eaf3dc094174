"""The UPF in the NRF, end to end (TS 23.501 §6.3.3.3, TS 29.510 §5.2.2): real processes.

1. An NRF process and a UPF process (``fivecore nf upf``): the UPF registers an NFProfile with
   its ``upfInfo`` (schema-checked as the NRF stores it), keeps it alive with heartbeats, keeps
   serving PFCP while the NRF is away and registers again when it is back, comes back with the
   same nfInstanceId after a crash, and deregisters on a clean stop.
2. ``fivecore up`` (slot 5) with ``smf.upf_selection: nrf`` and a bogus ``smf.upfs``: the UPF
   ``up`` starts registers with ``up``'s NRF, the SMF finds it there, and a UE's PDU session
   carries an echo through it.
3. The HTTP/2 exchanges of both (NFRegister, heartbeat, NFDeregister; the SMF's NFDiscovery)
   validated against the 3GPP OpenAPI files by ``ValidatingHttp2Client``.

Run under ``flock /tmp/fivecore-bench.lock``; needs root (TUN devices, raw-IP SCTP).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from icmp_echo import echo_request
from polling import await_until, metric, wait_until

from fivecore.nf.common.launch import NfProcess, discover_sync, free_port
from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.nrf import upf_instance_id
from fivecore.wire import pfcp
from fivecore.wire.pfcp import PfcpMessage
from fivecore.wire.sbi.schema import OpenApiValidator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300),
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (TUN devices, raw-IP SCTP)")]

SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "3gpp-openapi"
TAG = random.randint(1, 199)
NET = f"127.{30 + TAG % 20}.{TAG}."           # loopback addresses of this run
UPF_ADDR, GTPU_ADDR = NET + "7", NET + "8"
TUN = f"fcnrf{TAG}"
POOL = f"10.{60 + TAG % 40}.0.0/16"
SLOT = 5


def _discover(nrf: str, target: str = "UPF") -> list[dict[str, Any]]:
    try:
        return discover_sync(nrf, target, requester="SMF")
    except OSError:
        return []


def _get_profile(nrf: str, nf_id: str) -> tuple[int, dict[str, Any] | None]:
    try:
        with urllib.request.urlopen(f"{nrf}/nnrf-nfm/v1/nf-instances/{nf_id}", timeout=3) as r:  # noqa: S310
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _upf_heartbeats(metrics: str) -> float:
    """The NRF's count of UPF heartbeats (-1 when its metrics listener does not answer)."""
    return metric(metrics, "fivegs_nrffunction_nfm_heartbeatrcvd", 'nftype="UPF"')


def _pfcp_heartbeat(addr: str, tries: int = 5) -> PfcpMessage | None:
    """A Heartbeat Request to the UPF's N4 (TS 29.244 §7.4.2.1); its answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((NET + "4", 0))
        s.settimeout(1.0)
        req = pfcp.encode(PfcpMessage.build("HeartbeatRequest", seq=4242, recovery_time_stamp=pfcp.ntp_now()))
        for _ in range(tries):
            s.sendto(req, (addr, 8805))
            try:
                rsp = pfcp.decode(s.recv(65535))
            except (TimeoutError, ConnectionRefusedError):
                continue
            if rsp.seq == 4242:
                return rsp
    return None


class Upf:
    """``fivecore nf upf --config FILE`` as a process."""

    def __init__(self, cfg: dict[str, Any], workdir: Path) -> None:
        self.path = workdir / "upf.yaml"
        self.path.write_text(yaml.safe_dump(cfg))
        self.log_path = workdir / "upf.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Upf:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "fivecore.cli.main", "nf", "upf", "--config",
                                          str(self.path)], stdout=log, stderr=subprocess.STDOUT)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        p = self.proc
        if p is None or p.poll() is not None:
            return p.returncode if p else None
        p.send_signal(sig)
        try:
            return p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def test_upf_registers_heartbeats_survives_the_nrf_and_deregisters(tmp_path: Path) -> None:
    nrf_port = free_port(NET + "10")
    nrf_uri = f"http://{NET}10:{nrf_port}"
    cfg: dict[str, Any] = {
        "logging": {"level": "info"},
        "plmn": {"mcc": "999", "mnc": "70"},
        "nrf": {"sbi": {"address": NET + "10", "port": nrf_port}, "heartbeat_timer": 1},
        "upf": {"pfcp_address": UPF_ADDR, "gtpu_address": GTPU_ADDR, "tun_name": TUN, "subnet": POOL,
                "nrf_uri": nrf_uri,
                "slices": [{"sst": 1, "dnns": ["internet", "ims"]}, {"sst": 2, "sd": "0000a1", "dnns": ["iot"]}]},
    }
    upf_id = upf_instance_id(load_upf_config(data=cfg))
    validator = OpenApiValidator(SPEC)
    nrf = NfProcess("nrf", cfg, tmp_path).start()
    upf = Upf(cfg, tmp_path).start()
    try:
        # --- NFRegister with the UpfInfo the configuration describes --------------------------
        profiles = wait_until("the UPF is discoverable", lambda: _discover(nrf_uri))
        assert len(profiles) == 1, profiles
        prof = profiles[0]
        assert prof["nfInstanceId"] == upf_id and prof["nfType"] == "UPF"
        assert prof["ipv4Addresses"] == [UPF_ADDR] and prof["plmnList"] == [{"mcc": "999", "mnc": "70"}]
        info = prof["upfInfo"]
        assert info["interfaceUpfInfoList"] == [
            {"interfaceType": "N3", "ipv4EndpointAddresses": [GTPU_ADDR]},
            {"interfaceType": "N6", "ipv4EndpointAddresses": [str(ipaddress.ip_network(POOL)[1])]}]
        assert {(i["sNssai"]["sst"], i["sNssai"].get("sd"), d["dnn"]) for i in info["sNssaiUpfInfoList"]
                for d in i["dnnUpfInfoList"]} == {(1, None, "internet"), (1, None, "ims"), (2, "0000a1", "iot")}
        status, stored = _get_profile(nrf_uri, upf_id)
        assert status == 200 and stored is not None
        assert validator.schema_errors("TS29510_Nnrf_NFManagement.yaml", "NFProfile", stored) == []
        # discovery with the SMF's parameters: the slice filters (sNssais)
        q = f"{nrf_uri}/nnrf-disc/v1/nf-instances?target-nf-type=UPF&requester-nf-type=SMF&dnn=iot&snssais="
        for snssai, n in (('[{"sst":2,"sd":"0000a1"}]', 1), ('[{"sst":3}]', 0)):
            with urllib.request.urlopen(q + urllib.request.quote(snssai), timeout=3) as r:  # noqa: S310
                assert len(json.loads(r.read())["nfInstances"]) == n, snssai

        # --- heartbeats: without them the NRF suspends a silent NF after 1.5 timers (1 s) and
        # removes it after 10; the NRF counts the UPF's heartbeats (its Prometheus counter), and
        # after two more of them the profile is still REGISTERED ----------------------------------
        nrf_metrics = f"http://{NET}10:9090"
        base = _upf_heartbeats(nrf_metrics)
        assert base >= 0, "the NRF serves no /metrics"
        wait_until("two more UPF heartbeats counted by the NRF",
                   lambda: _upf_heartbeats(nrf_metrics) >= base + 2, timeout=30)
        assert (_get_profile(nrf_uri, upf_id)[1] or {}).get("nfStatus") == "REGISTERED"

        # --- the NRF goes away: N4 is still served; the new NRF learns the UPF again ----------
        nrf.stop()
        hb = _pfcp_heartbeat(UPF_ADDR)
        assert hb is not None and hb.msg_type == "HeartbeatResponse"
        nrf = NfProcess("nrf", cfg, tmp_path).start()
        wait_until("the UPF registered with the restarted NRF", lambda: _discover(nrf_uri), timeout=60)
        assert upf.proc is not None and upf.proc.poll() is None

        # --- a crash: the restarted UPF registers under the same nfInstanceId ---------------
        upf.stop(signal.SIGKILL)
        wait_until("the killed UPF's TUN is gone", lambda: not Path(f"/sys/class/net/{TUN}").exists(), timeout=10)
        upf.start()
        wait_until("the restarted UPF is serving N4", lambda: _pfcp_heartbeat(UPF_ADDR), timeout=30)
        wait_until("the restarted UPF re-registered", lambda: _get_profile(nrf_uri, upf_id)[0] == 200, timeout=30)
        assert [p["nfInstanceId"] for p in _discover(nrf_uri)] == [upf_id]  # replaced, not doubled

        # --- clean stop: NFDeregister before the process exits ------------------------------
        assert upf.stop() == 0, upf.log()[-3000:]
        # a merely silent NF would still be listed (SUSPENDED) for ten timers: 404 means deleted
        assert _get_profile(nrf_uri, upf_id)[0] == 404
        assert _discover(nrf_uri) == []
    finally:
        upf.stop(signal.SIGKILL)
        nrf.stop()
        subprocess.run(["ip", "link", "del", TUN], capture_output=True)
    log = upf.log()
    assert "nf registered nf=UPF" in log and "Traceback" not in log, log[-3000:]


async def test_nfmanagement_and_discovery_exchanges_conform_to_ts29510(tmp_path: Path) -> None:
    """Every HTTP/2 exchange of the UPF's NFRegister, NFUpdate (heartbeat) and NFDeregister, and
    of the SMF's UPF discovery, checked against the 3GPP OpenAPI files (requests and answers)."""
    from fivecore.config import load_config
    from fivecore.nf.common.client import SbiClient
    from fivecore.nf.common.validating import ValidatingHttp2Client
    from fivecore.nf.nrf import NrfApp
    from fivecore.nf.smf.pfcp import N4
    from fivecore.nf.smf.upf_nrf import UpfDiscovery
    from fivecore.nf.upf.nrf import UpfNrfAgent

    validator = OpenApiValidator(SPEC)
    nrf = NrfApp(load_config({"nrf": {"sbi": {"address": "127.0.0.1", "port": 0}, "heartbeat_timer": 1}}))
    await nrf.start()
    upf_http = ValidatingHttp2Client(validator)
    smf_http = ValidatingHttp2Client(validator)
    cfg = load_upf_config(data={"upf": {"pfcp_address": UPF_ADDR, "nrf_uri": nrf.uri,
                                        "slices": [{"sst": 1, "sd": "000001", "dnns": ["internet"]}]}})
    agent = UpfNrfAgent(cfg, http=upf_http)
    smf = SbiClient("SMF", "c0c0c0c0-0000-4000-8000-0000000000cc", nrf_uri=nrf.uri, http=smf_http)
    stopped = False
    try:
        await agent.start()
        await asyncio.wait_for(agent.registered.wait(), 20)
        assert agent.heartbeat_timer == 1  # the NRF's timer, taken from its answer
        await await_until("a heartbeat sent", lambda: any(m == "PATCH" for m, _p, _s in upf_http.seen),
                          timeout=20, period=0.1)
        n4 = N4(NET + "4", 0, [])
        found = await UpfDiscovery(smf, n4, []).find("internet", (1, 1))
        assert [p.addr for p in found] == [(UPF_ADDR, 8805)]
        await agent.stop()
        stopped = True
        assert nrf.context.nfs == {}  # deregistered
    finally:
        if not stopped:
            await agent.stop()
        await smf.close()
        await nrf.stop()
    assert upf_http.errors == [] and smf_http.errors == [], upf_http.errors + smf_http.errors
    assert [(m, st) for m, _p, st in upf_http.seen][:2] == [("PUT", 201), ("PATCH", 204)]
    assert [(m, st) for m, _p, st in upf_http.seen][-1] == ("DELETE", 204)
    assert [(m, st) for m, _p, st in smf_http.seen] == [("GET", 200)]


def test_smf_selects_the_upf_it_discovers_in_the_nrf(tmp_path: Path) -> None:
    from fivecore.benchkit.attach import Attacher
    from fivecore.benchkit.network import FIRST_IMSI, BenchNetwork, NetPlan

    plan = NetPlan.slot(SLOT, log_level="info")  # the log shows which UPF the SMF associated with
    # the configured UPF list points nowhere: only the NRF can lead the SMF to the UPF
    plan.extra = {"smf": {"upf_selection": "nrf", "upfs": [{"address": f"{plan.prefix}.99"}],
                          "pfcp": {"address": plan.address("smf"), "heartbeat_interval": 1.0}}}
    nrf = f"http://{plan.address('nrf')}:7777"
    net = BenchNetwork(plan, workdir=tmp_path)
    net.start()
    try:
        net.provision(1)
        # `up` handed its NRF to the UPF it started
        profiles = wait_until("the UPF registered with up's NRF", lambda: _discover(nrf), timeout=60)
        assert [p["ipv4Addresses"] for p in profiles] == [[plan.address("upf")]]
        smf_metrics = net.state["nfs"]["smf"].get("metrics")
        if smf_metrics:
            wait_until("the SMF associated with the discovered UPF",
                  lambda: metric(smf_metrics, "fivecore_smf_n4_associations_total") >= 1, timeout=60)

        async def attach_and_ping() -> None:
            att = await Attacher.create(net, 1, FIRST_IMSI)
            try:
                await att.attach(0)
                ue_ip = att.sim.ues[0].ue.sm.sessions[1].ipv4
                assert ue_ip and ipaddress.ip_address(ue_ip) in ipaddress.ip_network(plan.pool)
                tunnels = [(up, t) for up in att.gnb_ups for t in up.tunnels.values()]
                assert len(tunnels) == 1
                up, t = tunnels[0]
                rx = t.rx
                gw = str(ipaddress.ip_network(plan.pool)[1])
                deadline = time.monotonic() + 20
                seq = 0
                while t.rx <= rx:  # gNB -> N3 -> UPF -> N6 TUN -> host -> back
                    assert time.monotonic() < deadline, "no echo reply through the discovered UPF"
                    seq += 1
                    up.uplink(t, echo_request(ue_ip, gw, 91, seq))
                    await asyncio.sleep(0.5)
            finally:
                await att.close()

        asyncio.run(attach_and_ping())
    finally:
        net.stop()
    log = (tmp_path / "up.log").read_text(errors="replace")
    # found by NFDiscovery, or first by the NF_REGISTERED notification of the SMF's UPF status
    # subscription when the UPF registered after it subscribed: the NRF either way
    assert re.search(rf"event=upf_(discovered|added) upf={re.escape(plan.address('upf'))} ", log), log[-3000:]
    assert set(re.findall(r"event=pfcp_associated upf=(\S+)", log)) == {plan.address("upf")}
