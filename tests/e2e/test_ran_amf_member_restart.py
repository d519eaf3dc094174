"""An AMF Set member dies and ``fivecore up`` restarts it: the simulated RAN comes back.

``fivecore up`` with ``up.amf_set_size: 2`` (real processes, SCTP over raw IP, the real UPF).
One simulated gNB holds an NG association to each member (TS 38.413 §8.7.1) and one user plane
(one N3 address, one TEID space) for the PDU sessions of the UEs of both. UEs register (SUCI,
spread over the members), each opens a PDU session, and every UE pings the data network
through its own TUN in its own network namespace. Then member 1 is killed with SIGKILL; ``up``
restarts it (``up.restart``); the gNB sets N2 up with it again (NG Setup). Member 1's UEs had
lost their NG connections and tunnels with the association; when they next send a Service
Request (uplink data, 5G-S-TMSI of member 1) the restarted member, which forgot them, answers
Service Reject #9 (TS 24.501 §5.6.1.5) and each UE does what a real UE does: 5GMM-DEREGISTERED,
5G-GUTI deleted, PDU session released locally, a new initial registration, and its PDU session
again -- ping with 0 % loss. One of them instead sends a mobility registration with its 5G-GUTI:
the member asks for the SUCI (identity procedure, §5.5.1.2.2 / §5.4.3) and registers it; the UE
takes that as the network having lost its sessions and asks for its session again. Member 0's UEs were never disturbed: same NG connection, same
tunnel, same address, pinging before, during and after.

That is the stateless AMF (``amf.persist: false``). The test runs a second time with the
default, where the member keeps its UEs' 5GMM contexts on disk (fivecore.nf.amf.persist): the
restarted member accepts the Service Requests and the mobility registration under the stored
NAS security contexts (no #9, no identity procedure, same 5G-GUTI). The registering UE has
uplink data too: its Registration Request names the session in Uplink data status (TS 24.501
§5.5.1.3.2) and the member answers for it in the Registration Accept (PDU session
reactivation result, §5.5.1.3.4), without a Service Request. Its SMF restarted with it and
kept its SM contexts on disk (fivecore.nf.smf.persist, the default), its UPF retained their
PFCP sessions: the user planes come back as they were, same addresses, ping with 0 % loss.
(An SMF that lost them, ``smf.persist: false``, is test_smf_persist_restart's case: the UEs
are told and establish their sessions again.)

Run under ``flock /tmp/fivecore-bench.lock`` (slot 6, like the other AMF Set tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from polling import await_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SLOT = 6
N = 6
NS = "fcmr"


def _netns_cleanup() -> None:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split(" ", 1)[0]
        if name.startswith(NS):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture(scope="module", params=[False, True], ids=["stateless-amf", "persisted-amf"])
def aset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The AMF Set of two with ``up``'s default restart policy, subscribers provisioned; the
    members keep their UEs across a restart or not (``amf.persist``)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-IP SCTP, TUN devices, network namespaces")
    if shutil.which("ping") is None:
        pytest.skip("iputils-ping is not installed")
    from fivecore.benchkit.network import AmfSetNetwork, NetPlan

    _netns_cleanup()
    plan = NetPlan.slot(SLOT, extra={"amf": {"persist": request.param}})
    net = AmfSetNetwork(plan, members=2, workdir=tmp_path_factory.mktemp("amf-member-restart"))
    net.start()
    try:
        net.provision(N)
        yield net, request.param
    finally:
        net.stop()
        _netns_cleanup()


def _state(net: Any) -> dict[str, Any]:
    return json.loads((net.workdir / "data" / "run" / "up.json").read_text())


async def _ping(ns: str, host: str, count: int = 3) -> tuple[int, str]:
    """iputils ping from the UE's namespace through its PDU session: loss in percent."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "10", host,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode()
    m = re.search(r"(\d+(?:\.\d+)?)% packet loss", out)
    return (int(float(m.group(1))) if m else 100), out


def test_ues_of_a_restarted_member_come_back_and_the_others_are_untouched(aset: Any) -> None:
    from fivecore.benchkit.network import FIRST_IMSI
    from fivecore.ran.app import RanSim
    from fivecore.ran.config import load_ran_config
    from fivecore.ran.ue import UeState
    from fivecore.ran.userplane import UserPlane

    net, persisted = aset
    members = net.member_ngap
    assert len(members) == 2
    rc = net.ran_config(FIRST_IMSI)
    del rc["gnb"]["amfAddress"], rc["gnb"]["amfPort"]
    rc["gnb"]["amfs"] = [{"address": h, "port": p} for h, p in members]
    n3 = f"{net.plan.gnb_prefix}.1"
    rc["gnb"]["localAddress"] = n3
    rc["gnb"]["idBase"] = 71
    dn = str(ipaddress.ip_network(net.plan.pool)[1])  # the UPF's N6 address
    first = _state(net)
    killed_pid = int(first["amf_set"][1]["pid"])

    async def run() -> None:
        sim = RanSim(load_ran_config(rc), n_gnbs=1, n_ues=N)
        up = UserPlane(use_namespace=True, ns_prefix=NS)
        try:
            await sim.start()
            node = sim.nodes[0]
            link0, link1 = node.links
            for g in node.links:
                g.reconnect_max = 2.0  # retry NG Setup often while the member is away
            gup = await up.add_gnb(node, n3)
            for i, ru in enumerate(sim.ues):
                up.enable(ru, i)
            for ru in sim.ues:
                assert await sim.register(ru, timeout=30, follow_on=True) == UeState.REGISTERED, ru.ue.last_cause
                s = await up.establish(ru, timeout=30)
                assert s.state == "ACTIVE" and s.ipv4
            by_member: dict[int, list[Any]] = {0: [], 1: []}
            for ru in sim.ues:
                by_member[ru.ue.guti.amf_pointer].append(ru)
                assert ru.gnb is node.links[ru.ue.guti.amf_pointer]
            assert len(by_member[0]) == len(by_member[1]) == N // 2, "SUCI registrations did not spread"
            # one user plane for the node: every session's tunnel, TEIDs unique, N3 address one
            assert len(gup.tunnels) == N and {(t.ru.gnb is link0) for t in gup.tunnels.values()} == {True, False}
            for ru in sim.ues:
                loss, out = await _ping(up.namespace(ru), dn)
                assert loss == 0, out

            keep = {id(ru): (ru.ran_id, ru.amf_id, ru.ue.guti.guti_string(), up.tunnel(ru).dl_teid,
                             up.interface(ru), up.session(ru).ipv4) for ru in by_member[0]}
            old_addr = {id(ru): up.session(ru).ipv4 for ru in by_member[1]}

            # --- member 1 dies -------------------------------------------------------------------
            os.kill(killed_pid, signal.SIGKILL)
            await await_until("the gNB noticed N2 to member 1 is gone", lambda: link1.stats.associations_lost >= 1)
            assert link0.ready and link0.stats.associations_lost == 0
            assert all(ru.ran_id is None and up.tunnel(ru) is None for ru in by_member[1])
            # member 0's UEs keep going while member 1 is away
            for ru in by_member[0]:
                loss, out = await _ping(up.namespace(ru), dn)
                assert loss == 0, out

            def restarted() -> dict[str, Any] | None:
                e = _state(net)["amf_set"][1]
                return e if e["status"] == "running" and e.get("restarts") == 1 and e["pid"] != killed_pid else None

            entry = await await_until("up restarted member 1", restarted)
            assert entry["amf_pointer"] == 1
            await await_until("the gNB set N2 up with the restarted member (NG Setup)", lambda: link1.ready)
            assert link1.stats.reconnects >= 1 and link1.amf_served_guamis[0][3] == 1

            # --- member 1's UEs have uplink data: Service Request ------------------------------
            # stateless: #9 -> register anew; persisted: accepted, the lost session asked again
            rejects0 = sim.stats.get("service_reject", 0)
            by_sr, by_reg = by_member[1][:-1], by_member[1][-1:]
            gutis = {id(ru): ru.ue.guti.guti_string() for ru in by_member[1]}
            for ru in by_sr:
                await up.resume(ru, timeout=60)
                assert ru.ue.state == UeState.REGISTERED
            # --- and one does a mobility registration with its 5G-GUTI -------------------------
            # stateless: identity procedure (SUCI), the session asked again at once; persisted:
            # accepted under the stored context, with its uplink data in the Uplink data status
            # (TS 24.501 §5.5.1.3.2): the Registration Accept answers for the session, no
            # Service Request follows
            for ru in by_reg:
                if persisted:
                    await up.resume(ru, timeout=60, reg_type=2)
                    assert ru.ue.state == UeState.REGISTERED
                else:
                    assert await sim.register(ru, timeout=60, reg_type=2, follow_on=True) == UeState.REGISTERED
            # sessions the network no longer had, released locally by the UEs (one per UE at most)
            lost = up.stats.get("released", 0)
            await await_until("the sessions are back", lambda: up.stats.get("restored", 0) >= lost
                              or up.stats.get("restore_failed", 0))
            assert up.stats.get("restored", 0) == lost and not up.stats.get("restore_failed"), \
                (dict(up.stats), dict(sim.stats))
            if persisted:
                # the member's SMF restarted with it and kept every SM context on disk
                # (fivecore.nf.smf.persist): the user planes came back as they were
                assert lost == 0, (dict(up.stats), dict(sim.stats))
                assert all(up.session(ru).ipv4 == old_addr[id(ru)] for ru in by_member[1])
                assert sim.stats.get("service_reject", 0) == rejects0
                assert sim.stats.get("reregistered", 0) == 0
                assert sim.stats.get("network_lost_context", 0) == 0
                assert sim.stats.get("reactivation_requested", 0) == len(by_reg), dict(sim.stats)
                # a Service Request keeps the 5G-GUTI; the registration may get a new one, of member 1
                assert all(ru.ue.guti.guti_string() == gutis[id(ru)] for ru in by_sr)
                assert all(ru.ue.guti.amf_pointer == 1 for ru in by_reg)
            else:
                assert lost == len(by_member[1])
                assert sim.stats.get("service_reject", 0) - rejects0 == len(by_sr)
                assert sim.stats.get("reregistered", 0) == len(by_sr)
                assert sim.stats.get("network_lost_context", 0) == len(by_member[1])
            for ru in by_member[1]:
                s = up.session(ru)
                assert s is not None and s.state == "ACTIVE" and s.ipv4
                assert up.tunnel(ru) is not None and up.interface(ru)
            for ru in by_member[1]:
                assert ru.ue.last_cause is None and ru.ue.guti is not None
                loss, out = await _ping(up.namespace(ru), dn)
                assert loss == 0, (out, old_addr[id(ru)], up.session(ru).ipv4)

            # --- member 0's UEs were never disturbed ----------------------------------------------
            for ru in by_member[0]:
                assert ru.ue.state == UeState.REGISTERED and ru.gnb is link0
                now = (ru.ran_id, ru.amf_id, ru.ue.guti.guti_string(), up.tunnel(ru).dl_teid,
                       up.interface(ru), up.session(ru).ipv4)
                assert now == keep[id(ru)]
                loss, out = await _ping(up.namespace(ru), dn)
                assert loss == 0, out
            assert len(gup.tunnels) == N and len({t.dl_teid for t in gup.tunnels.values()}) == N
            assert sim.stats.get("timeouts", 0) == 0
            assert link0.stats.error_indications_rx == 0
        finally:
            await up.close()
            await sim.stop()

    asyncio.run(run())
    log = (net.workdir / "up.log").read_text(errors="replace")
    assert log.count("event=amf_set_member_restarted") == 1
