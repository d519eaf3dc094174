"""A gNB that restarts before the AMF has noticed its old association die (RFC 9260
heartbeats take tens of seconds) comes back with an NG Setup carrying the same Global RAN Node
ID. The AMF probes the older association with an on-demand HEARTBEAT (RFC 9260 §8.3): a dead
one is aborted at once (its UEs CM-IDLE, TS 23.502 §4.2.6); a live one, a second node with
the same ID, is left alone, so no node can cut off another by claiming its ID.

Real processes and sockets: NRF, UDR, UDM, AUSF and AMF as processes; the first simulator is
its own process and is SIGKILLed (its SCTP stack dies without a word, as a crashed gNB's does).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import yaml
from netkit import amf_core
from ran_control import wait_registered

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.gnb import Gnb, GnbConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BASE = 1010000003100
N = 4


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-gnb-restart") as c:
        c.provision(N, first_imsi=f"{BASE:015d}")
        yield c


def _simulator(core: AmfCore, tmp_path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump(core.ran_config(first_imsi=f"{BASE:015d}")))
    sock = str(tmp_path / f"{name}.sock")
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "fivecore.cli.main", "ran", "--ues", str(N), "--config",
                             str(cfg), "--control", sock], stdout=log, stderr=subprocess.STDOUT)
    ues = wait_registered(proc, sock, tmp_path / f"{name}.log")
    assert len(ues) == N and all(u["state"] == "REGISTERED" for u in ues), ues
    return proc, sock


def test_restarted_gnb_replaces_its_dead_association(core: AmfCore, tmp_path) -> None:
    first, _ = _simulator(core, tmp_path, "first")
    try:
        assert core.amf_stats()["gnbs"] == 1
        first.send_signal(signal.SIGKILL)  # no ABORT, no SHUTDOWN: the AMF still has it
        first.wait(10)
        second, _ = _simulator(core, tmp_path, "second")  # same gNB ID, same address
        try:
            for _ in range(300):  # the probe's answer is awaited up to PROBE_DEADLINE (15 s); generous on a busy host
                if core.counters().get("gnb_stale_association_aborted"):
                    break
                time.sleep(0.1)
            stats = core.amf_stats()
            c = stats["counters"]
            assert c.get("gnb_stale_association_aborted") == 1
            assert stats["gnbs"] == 1, "only the restarted node's association is left"
            assert c["ng_setup_duplicate_gnb_id"] == 1 and c.get("gnb_duplicate_id_alive", 0) == 0
        finally:
            second.terminate()
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()


async def test_live_node_with_the_same_id_is_not_cut_off(core: AmfCore) -> None:
    host, port = core.ngap
    a = Gnb(GnbConfig(gnb_id=0x3456, amf_host=host, amf_port=port))
    b = Gnb(GnbConfig(gnb_id=0x3456, amf_host=host, amf_port=port))
    before = await core.acounters()
    await a.start()
    try:
        await b.start()
        try:
            alive = await core.wait_counter("gnb_duplicate_id_alive", before.get("gnb_duplicate_id_alive", 0) + 1)
            assert alive == before.get("gnb_duplicate_id_alive", 0) + 1
            after = await core.acounters()
            assert after.get("gnb_stale_association_aborted", 0) == before.get("gnb_stale_association_aborted", 0)
            assert a.ready and b.ready and not a.assoc.is_closed
        finally:
            await b.stop()
    finally:
        await a.stop()
