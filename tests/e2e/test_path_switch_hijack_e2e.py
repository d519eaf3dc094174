"""A hostile gNB claims a UE with a PATH SWITCH REQUEST it has no right to (TS 38.413 §8.4.4,
TS 23.502 §4.9.1.2.2), end to end: real NF processes, the real UPF, TUN interfaces and
namespaces (``netkit``), the AMF with a trust policy (audit log) and
``amf.handover.on_suspected_hijack: release``.

A UE attached through gNB A has a PDU session and pings the data network. gNB B, with no Xn
handover at all, sends PATH SWITCH REQUEST naming the UE's AMF UE NGAP ID and B's own N3
tunnel; the AMF (which cannot tell) moves the UE to B. gNB A, which still serves the real UE,
then sends a UE-associated message for it -- a UE Context Release Request (user inactivity), or
an UPLINK NAS TRANSPORT with the real UE's PDU Session Modification Request (TS 24.501
§6.4.2.2) -- and the AMF answers A with an Error Indication as before, and now flags the
suspected hijack (log, counter, an audit record naming both gNBs and the UE's
pseudonym), releases B's NG connection for the UE (UE Context Release Command to B) and holds
the UE CM-IDLE. gNB A, told the AMF does not know that connection, releases the UE's RRC
connection; the UE's next Service Request through A restores its session and ping works. A
modification the hijack swallowed (its UL NAS Transport never reached the SMF) is not lost: the
UE sends it again on the new connection (TS 24.501 §6.4.2.5 a, T3581) and it is answered.
The NGAP of the episode (path switch, Error Indication, release) must decode cleanly in
tshark: its AMF UE NGAP IDs are random 40-bit values now, usually five octets.

Run under ``flock /tmp/fivecore-bench.lock`` like every e2e test that starts processes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from netkit import DN_HOST, GNB_B_N3, SessionCore, TwoGnbs, ping, session_network
from ngap_capture import tshark_clean
from polling import await_until

from fivecore.ran.handover import switch_transfer
from fivecore.ran.ue import UeState
from fivecore.wire import ngap

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
FIRST = 340  # this module's subscribers start at IMSI 001010000000001 + FIRST
HOSTILE_TEID = 0xB0B0


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hijack-trust") / "trust-audit.jsonl"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory, audit_log: Path) -> Any:
    # the example policy: the simulator's gNBs (IDs 1 and 2) are Tundra's, admitted
    pol = yaml.safe_load((REPO / "examples" / "trust-policy.yaml").read_text())
    pol["trust"]["audit_log"] = {"path": str(audit_log), "fsync": False}
    policy = audit_log.parent / "policy.yaml"
    policy.write_text(yaml.safe_dump(pol))
    amf = {"trust_policy": str(policy), "data_dir": str(audit_log.parent),
           "handover": {"on_suspected_hijack": "release", "hijack_window": 60}}
    yield from session_network(tmp_path_factory, "pshijack", FIRST + 2, amf=amf)


@pytest.mark.parametrize("trigger", ["release_request", "uplink_nas"])
async def test_hostile_path_switch_is_flagged_and_the_ue_recovers(core: SessionCore, audit_log: Path,
                                                                  tmp_path: Path, trigger: str) -> None:
    c0 = await core.acounters()
    audited = _hijack_records(audit_log)
    async with TwoGnbs(core, FIRST + (trigger == "uplink_nas")) as w:
        sim, up, up_a, a, b, ru, ns, t = w.sim, w.up, w.up_a, w.a, w.b, w.ru, w.ns, w.tunnel
        frames = w.frames
        amf_id, psi = ru.amf_id, t.psi
        assert amf_id is not None

        # gNB B claims the UE: no Xn, no UE; its own tunnel for the downlink
        p = ru.ue.profile
        items = [{"pDUSessionID": psi, "pathSwitchRequestTransfer": switch_transfer(GNB_B_N3, HOSTILE_TEID, t.qfi)}]
        ack = await b.path_switch(b.take_ran_id(), amf_id, items, tuple(p.nea), tuple(p.nia))
        assert ack.kind == "successful", "the AMF cannot tell a hostile claim from a handover"
        info = await core.asmf_info()
        assert any(x["dlTeid"] == HOSTILE_TEID and x["gnbN3"] == GNB_B_N3 for x in info["sessions"]), info

        ei_before = a.stats.error_indications_rx
        if trigger == "release_request":
            # the real UE, still on A, goes quiet: A asks for its release (user inactivity)
            a.release_request(ru)
        else:
            # the real UE, still on A, asks for a PDU Session Modification: UPLINK NAS
            # TRANSPORT from A with the UE's old NGAP IDs
            a.uplink_nas(ru, ru.ue.ul_sm(ru.ue.sm.modify(psi), psi))
            assert up.session(ru, psi).state == "MODIFICATION_PENDING"
        await await_until("the AMF flagged and released the claim",
                          lambda: _grew(core, c0, "path_switch_hijack_release"), timeout=30, period=0.05)
        assert _delta(c0, await core.acounters(), "path_switch_suspected_hijack") == 1
        await await_until("the Error Indication to A", lambda: a.stats.error_indications_rx > ei_before,
                          timeout=10, period=0.05)
        (rec,) = _hijack_records(audit_log)[len(audited):]
        assert rec["subject"] == "gnb:00101:0x2/22" and rec["source"] == "gnb:00101:0x1/22", rec
        assert (rec["vendor"], rec["source_vendor"], rec["reaction"]) == ("tundra", "tundra", "release")
        assert rec["ue"].startswith("ue-") and ru.ue.supi not in audit_log.read_text()
        assert "event=path_switch_suspected_hijack" in core.log("amf")
        # the AMF holds the UE CM-IDLE: its session's user plane is deactivated (nothing to B)
        await await_until("the session deactivated at the SMF", lambda: _deactivated(core, t.ul_teid),
                          timeout=30, period=0.1)

        # gNB A, told its NG connection for the UE is unknown, releases the UE's RRC connection
        # (TS 38.413 §10.6 local release); the UE comes back with a Service Request through A
        up_a.drop_ue(ru)
        a.release_locally(ru)
        await up.resume(ru, timeout=30)
        assert ru.gnb is a and ru.ue.state == UeState.REGISTERED
        t2 = up.tunnel(ru)
        assert t2 is not None and t2.dl_teid in up_a.tunnels
        assert await _dl_teid(core, t.ul_teid) == t2.dl_teid
        loss, out = await ping(ns, DN_HOST, 3)
        assert loss == 0, out
        if trigger == "uplink_nas":
            # the modification the hijack swallowed was sent again and answered
            await await_until("the pending modification answered",
                              lambda: up.session(ru, psi).state == "ACTIVE", timeout=30, period=0.05)
        c = await core.acounters()
        assert _delta(c0, c, "service_request") >= 1 and _delta(c0, c, "service_reject") == 0, c
        assert _delta(c0, c, "path_switch_suspected_hijack") == 1, "recovery flagged nothing more"
        await sim.deregister(ru, 10)
    pdus = [ngap.decode(d) for _, d, _ in frames]
    seen = [(p.procedure, p.kind) for p in pdus if p.procedure in ("PathSwitchRequest", "UEContextRelease")]
    assert seen[:3] == [("PathSwitchRequest", "initiating"), ("PathSwitchRequest", "successful"),
                        ("UEContextRelease", "initiating")], seen
    if shutil.which("tshark") is not None:
        # not the NAS-carrying messages: this network ciphers NAS (NEA2), which tshark cannot read
        mine = [f for f, p in zip(frames, pdus, strict=True)
                if p.procedure in ("PathSwitchRequest", "UEContextRelease", "ErrorIndication")]
        text = tshark_clean(mine, tmp_path / "hijack.pcap", core.ngap)
        assert f"AMF-UE-NGAP-ID: {amf_id}" in text


def _delta(before: dict[str, int], after: dict[str, int], key: str) -> int:
    """How much a counter grew during one test (the tests share one core)."""
    return after.get(key, 0) - before.get(key, 0)


async def _grew(core: SessionCore, before: dict[str, int], key: str) -> bool:
    return _delta(before, await core.acounters(), key) == 1


def _hijack_records(audit_log: Path) -> list[dict[str, Any]]:
    text = audit_log.read_text() if audit_log.exists() else ""
    return [r for r in map(json.loads, text.splitlines()) if r.get("event") == "path-switch-suspected-hijack"]


async def _dl_teid(core: SessionCore, ul_teid: int) -> int | None:
    """The downlink TEID the SMF holds for the UE's session (None: user plane deactivated)."""
    for x in (await core.asmf_info())["sessions"]:
        if x.get("ulTeid") == ul_teid:
            return x["dlTeid"]
    raise AssertionError(f"no session with uplink TEID {ul_teid:#x}")


async def _deactivated(core: SessionCore, ul_teid: int) -> bool:
    return await _dl_teid(core, ul_teid) is None
