"""The SMF follows UPFs through the NRF's status notifications (TS 29.510 §5.2.2.5-§5.2.2.6),
end to end with real processes.

``fivecore up`` (slot 6) with ``smf.upf_selection: nrf``: its own UPF (A) is found by discovery.
A second UPF process (B, ``fivecore nf upf``) registers with up's NRF while the SMF already holds
A from a discovery answer it may cache for an hour; the NRF's NF_REGISTERED brings B to the SMF,
which associates and, B being the least loaded, gives it the next PDU session. Then B goes
silent (SIGSTOP) and its registration is removed from the NRF (NFDeregister): the SMF hears
NF_DEREGISTERED and the next session goes to A — had it selected B, the frozen B would never
answer the N4 Session Establishment and the UE would be rejected (the SMF's PFCP heartbeat
interval is 120 s here, so PFCP cannot have told it first). B wakes, its heartbeat meets a 404,
it registers again and is selected again; its clean stop (NFDeregister) withdraws it once more.

The second test runs an NRF and an SMF in this process over real HTTP/2: every exchange of the
SMF's subscription (NFStatusSubscribe, its renewals, the NFStatusNotify bodies it receives) is
checked against TS29510_Nnrf_NFManagement.yaml, and the subscription outlives an NRF restart.

Run under ``flock /tmp/fivecore-bench.lock``; the first test needs root (TUN devices, raw-IP SCTP).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import await_until, metric, wait_until

from fivecore.nf.common.launch import discover_sync
from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.nrf import upf_instance_id

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (TUN devices, raw-IP SCTP)")

SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "3gpp-openapi"

SLOT = 6
N_UES = 6


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _pdu_upfs(smf_metrics: str) -> dict[str, str]:
    """UE IPv4 address -> the N4 address of the UPF its session is on (the SMF's /pdu-info)."""
    with urllib.request.urlopen(f"{smf_metrics}/pdu-info", timeout=3) as r:  # noqa: S310 - our own core
        return {s["ipv4"]: s["upf"] for s in json.loads(r.read())["items"] if s.get("ipv4")}


def _nfderegister(nrf: str, nf_id: str) -> int:
    """TS 29.510 §5.2.2.4 NFDeregister of ``nf_id``, as an operator (or the NF) sends it."""
    req = urllib.request.Request(f"{nrf}/nnrf-nfm/v1/nf-instances/{nf_id}", method="DELETE")
    try:
        with urllib.request.urlopen(req, timeout=3) as r:  # noqa: S310 - loopback URL we built
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


@needs_root
def test_smf_takes_a_new_upf_at_once_and_drops_a_deregistered_one(tmp_path: Path) -> None:
    from fivecore.benchkit.attach import Attacher
    from fivecore.benchkit.network import FIRST_IMSI, BenchNetwork, NetPlan

    plan = NetPlan.slot(SLOT, log_level="info")
    # no usable configured UPF: only the NRF leads the SMF to UPFs. A long PFCP heartbeat
    # interval: PFCP must not be what tells the SMF that B is gone
    plan.extra = {"smf": {"upf_selection": "nrf", "upfs": [{"address": f"{plan.prefix}.99"}],
                          "pfcp": {"address": plan.address("smf"), "heartbeat_interval": 120.0}}}
    nrf = f"http://{plan.address('nrf')}:7777"
    upf_a, upf_b = plan.address("upf"), f"{plan.prefix}.70"
    tun_b = f"fcnfy{SLOT}"
    b_cfg: dict[str, Any] = {
        "logging": {"level": "info"},
        "upf": {"pfcp_address": upf_b, "gtpu_address": upf_b, "tun_name": tun_b, "subnet": "10.250.0.0/16",
                "nrf_uri": nrf, "slices": [{"sst": 1, "dnns": ["internet"]}]},
    }
    b_id = upf_instance_id(load_upf_config(data=b_cfg))
    (tmp_path / "upf-b.yaml").write_text(yaml.safe_dump(b_cfg))
    b_log = tmp_path / "upf-b.log"
    up_log = tmp_path / "up.log"
    b: subprocess.Popen[bytes] | None = None
    net = BenchNetwork(plan, workdir=tmp_path)
    net.start()
    try:
        net.provision(N_UES)
        smf_metrics = net.state["nfs"]["smf"]["metrics"]
        wait_until("UPF A registered with up's NRF", lambda: discover_sync(nrf, "UPF", requester="SMF"), timeout=60)
        wait_until("the SMF associated with UPF A", lambda: f"event=pfcp_associated upf={upf_a}" in _log(up_log),
                   timeout=60)
        wait_until("the SMF subscribed to UPF status", lambda: "event=upf_status_subscribed" in _log(up_log),
                   timeout=60)

        async def scenario() -> None:
            nonlocal b
            att = await Attacher.create(net, N_UES, FIRST_IMSI)

            async def attach(i: int) -> str:
                await att.attach(i)
                ip = att.sim.ues[i].ue.sm.sessions[1].ipv4
                return _pdu_upfs(smf_metrics)[ip]

            try:
                assert [await attach(0), await attach(1)] == [upf_a, upf_a]  # the only one

                # --- B registers: NF_REGISTERED adds it, no discovery (whose answer A's
                # discovery left cached for the NRF's validityPeriod) involved ------------------
                with b_log.open("ab") as out:
                    b = subprocess.Popen([sys.executable, "-m", "fivecore.cli.main", "nf", "upf", "--config",
                                          str(tmp_path / "upf-b.yaml")], stdout=out, stderr=subprocess.STDOUT)
                await await_until("the SMF heard of UPF B", lambda: f"event=upf_added upf={upf_b}" in _log(up_log),
                                  timeout=60)
                await await_until("the SMF associated with UPF B",
                                  lambda: f"event=pfcp_associated upf={upf_b}" in _log(up_log), timeout=60)
                assert await attach(2) == upf_b  # least loaded (A holds 2 sessions)
                assert metric(smf_metrics, "fivecore_smf_upf_status_added_total") >= 1

                # --- B freezes and is deregistered: selected no more, at once ---------------
                b.send_signal(signal.SIGSTOP)
                assert _nfderegister(nrf, b_id) == 204
                await await_until("the SMF withdrew UPF B",
                                  lambda: f"event=upf_withdrawn upf={upf_b}" in _log(up_log), timeout=30)
                assert await attach(3) == upf_a  # B (1 session) would be the least loaded
                sessions = _pdu_upfs(smf_metrics)
                assert list(sessions.values()).count(upf_b) == 1  # B's session is still there (PFCP's)

                # --- B wakes: its heartbeat gets 404, it registers again, it is selected again
                b.send_signal(signal.SIGCONT)
                await await_until("UPF B registered again and the SMF took it back",
                                  lambda: f"event=upf_updated upf={upf_b}" in _log(up_log), timeout=60)
                assert await attach(4) == upf_b  # A 3 sessions, B 1

                # --- B stops cleanly: NFDeregister, withdrawn again; the next session goes to A
                b.send_signal(signal.SIGTERM)
                assert await asyncio.get_running_loop().run_in_executor(None, b.wait, 20) == 0
                await await_until("the SMF withdrew the stopped UPF B",
                                  lambda: _log(up_log).count(f"event=upf_withdrawn upf={upf_b}") >= 2, timeout=30)
                assert await attach(5) == upf_a
            finally:
                await att.close()

        asyncio.run(scenario())
    finally:
        if b is not None and b.poll() is None:
            b.send_signal(signal.SIGCONT)
            b.kill()
            b.wait(10)
        net.stop()
        subprocess.run(["ip", "link", "del", tun_b], capture_output=True)
    log = _log(up_log)
    assert "Traceback" not in log and "Traceback" not in _log(b_log), (log + _log(b_log))[-4000:]
    # A came by discovery or, when it registered after the SMF subscribed, by notification;
    # B by notification, before any discovery could have found it
    assert f"event=upf_discovered upf={upf_a}" in log or f"event=upf_added upf={upf_a}" in log
    assert f"event=upf_discovered upf={upf_b}" not in log.split(f"event=upf_added upf={upf_b}")[0]


async def test_subscription_conforms_renews_and_survives_an_nrf_restart() -> None:
    from fivecore.config import load_config
    from fivecore.nf.common.launch import free_port
    from fivecore.nf.common.validating import ValidatingHttp2Client
    from fivecore.nf.nrf import NrfApp
    from fivecore.nf.smf.app import SmfApp
    from fivecore.nf.upf.nrf import UpfNrfAgent
    from fivecore.wire.sbi.schema import OpenApiValidator

    validator = OpenApiValidator(SPEC)
    port = free_port("127.0.0.1")
    nrf_cfg = load_config({"nrf": {"sbi": {"address": "127.0.0.1", "port": port}, "heartbeat_timer": 1}})
    nrf = NrfApp(nrf_cfg)
    await nrf.start()
    smf_http = ValidatingHttp2Client(validator)
    smf = SmfApp(load_config({"smf": {"upf_selection": "nrf", "nrf_uri": nrf.uri,
                                      "sbi": {"address": "127.0.0.1", "port": 0},
                                      "pfcp": {"address": "127.0.0.1", "port": 0}}}), http=smf_http)
    watcher = smf.upf_watcher
    assert watcher is not None
    watcher.subscription.validity_s = 2.0  # renewals every 1.5 s instead of every 45 minutes
    received: list[Any] = []
    apply = watcher.notify

    def notify(body: Any) -> Any:  # what arrives on the SMF's callback route, then applied
        received.append(body)
        return apply(body)

    watcher.notify = notify  # type: ignore[method-assign]
    agents: list[UpfNrfAgent] = []

    async def upf(addr: str) -> UpfNrfAgent:
        cfg = load_upf_config(data={"upf": {"pfcp_address": addr, "nrf_uri": nrf.uri,
                                            "slices": [{"sst": 1, "dnns": ["internet"]}]}})
        agent = UpfNrfAgent(cfg)
        await agent.start()
        agents.append(agent)
        return agent

    def peers() -> list[str]:
        return [p.address for p in smf.n4.peers if p.dnns]

    smf_running = True
    try:
        await smf.start()
        await await_until("the SMF subscribed", watcher.subscribed.is_set, timeout=30)
        await await_until("a renewal", lambda: watcher.stats.get("upf_status_renewed", 0) >= 2, timeout=30)
        first = watcher.subscription.sid
        await upf("127.0.5.7")
        await await_until("UPF 1 notified to the SMF", lambda: peers() == ["127.0.5.7"], timeout=30)

        # the NRF restarts (same address, empty memory): the SMF's heartbeat or renewal meets a
        # 404 and the SMF subscribes again; a UPF registering afterwards still reaches it
        await nrf.stop()
        nrf = NrfApp(nrf_cfg)
        await nrf.start()
        await await_until("a new subscription at the restarted NRF",
                          lambda: watcher.subscription.sid in nrf.context.subscriptions, timeout=30)
        assert watcher.subscription.sid != first and watcher.stats.get("upf_status_resubscribe", 0) >= 1
        await upf("127.0.5.8")
        await await_until("UPF 2 notified to the SMF", lambda: "127.0.5.8" in peers(), timeout=30)
        await agents.pop().stop()  # NFDeregister
        await await_until("UPF 2 withdrawn", lambda: "127.0.5.8" not in peers(), timeout=30)
        smf_running = False
        await smf.stop()  # NFStatusUnsubscribe on the way out
        assert nrf.context.subscriptions == {}
    finally:
        for a in agents:
            await a.stop()
        if smf_running:
            await smf.stop()
        await nrf.stop()
    assert smf_http.errors == [], smf_http.errors
    seen = {(m, p.rsplit("/", 1)[0] if "/subscriptions/" in p else p, st) for m, p, st in smf_http.seen}
    assert ("POST", "/nnrf-nfm/v1/subscriptions", 201) in seen
    assert ("PATCH", "/nnrf-nfm/v1/subscriptions", 200) in seen
    assert ("DELETE", "/nnrf-nfm/v1/subscriptions", 204) in seen
    assert received and {n["event"] for n in received} >= {"NF_REGISTERED", "NF_DEREGISTERED"}
    for note in received:
        assert validator.schema_errors("TS29510_Nnrf_NFManagement.yaml", "NotificationData", note) == [], note
