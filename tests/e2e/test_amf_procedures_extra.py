"""The AMF procedures beyond registration, over real SCTP against the AMF process and its
AUSF/UDM/UDR/NRF: UE Context Modification (TS 38.413 §8.3.4), AMF and RAN Configuration Update
(§8.7.2-8.7.3), the initial NAS message container (TS 24.501 §4.4.6) — all read back by tshark
with no malformed packet or expert error — and a hostile gNB flooding Initial UE Messages it
never follows up, against the AMF-wide context cap (#22 + T3346) and the context reaper.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from netkit import amf_core
from ngap_capture import tshark_clean
from typer.testing import CliRunner

from fivecore.cli.main import app as cli_app
from fivecore.nf.amf.launch import AmfCore
from fivecore.ran import nas_io as ue_nas
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import UeState
from fivecore.ran.userplane import UeSm
from fivecore.wire import ngap
from fivecore.wire.ngap import NgapPdu

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BASE = 1010000002100
CAP = 400
SETUP_TIMEOUT = 6.0


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-extra", amf={
        "security": {"ciphering_order": ["NEA0"]},  # NAS stays readable for tshark
        "max_ue_contexts": CAP,
        "ue_setup_timeout": SETUP_TIMEOUT,
        "timers": {"t3570": 0.4},
    }) as c:
        c.provision(10, first_imsi=f"{BASE:015d}")
        yield c


def _post(core: AmfCore, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    req = urllib.request.Request(core.procs["amf"].uri + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


async def post(core: AmfCore, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    return await asyncio.to_thread(_post, core, path, body)


async def until(pred: Any, timeout: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return bool(pred())


async def test_procedures_over_sctp_decode_in_tshark(core: AmfCore, tmp_path) -> None:
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE:015d}")), n_ues=1)
    gnb = sim.gnbs[0]
    frames: list[tuple[str, bytes, int]] = []
    gnb.tap = lambda d, data, stream: frames.append((d, data, stream))
    await sim.start()
    try:
        ru = sim.ues[0]
        assert await sim.register(ru) == UeState.REGISTERED
        await core.wait_counter("release_complete", 1)
        # from CM-IDLE with a NAS security context: cleartext IEs + the whole message inside
        assert await sim.register(ru, follow_on=True) == UeState.REGISTERED
        # the new KgNB comes from the AMF's latest uplink NAS COUNT: Registration Complete's,
        # once the AMF has it (the UE counts it as sent before the AMF has read it)
        await core.wait_counter("registered", 2)
        c = await core.acounters()
        assert c.get("initial_nas_container", 0) >= 1 and c.get("registration_without_auth", 0) >= 1

        # UE Context Modification: new KgNB, UE-AMBR and RFSP, applied by the gNB
        status, _ = await post(core, f"/fivecore-amf/v1/ue-contexts/{ru.ue.supi}/modify", {
            "securityKey": True, "ueAmbr": {"uplink": "100 Mbps", "downlink": "200 Mbps"}, "rfsp": 3})
        assert status == 204
        assert await until(lambda: ru.rfsp == 3)
        assert ru.kgnb_ok and ru.ue_ambr == (100_000_000, 200_000_000)
        assert await core.wait_counter("ue_context_modification_response", 1) >= 1
        status, _ = await post(core, "/fivecore-amf/v1/ue-contexts/imsi-001019999999999/modify", {"rfsp": 1})
        assert status == 404
        status, _ = await post(core, f"/fivecore-amf/v1/ue-contexts/{ru.ue.supi}/modify", {"rfsp": 999})
        assert status == 400

        # AMF Configuration Update to every gNB (through the CLI); the gNB stores the new values
        res = await asyncio.to_thread(CliRunner().invoke, cli_app, [
            "amf", "config-update", "--name", "amf-renamed", "--capacity", "77",
            "--extra-guami", "00101:3:1:1", "--amf-uri", core.procs["amf"].uri, "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output) == {"gnbs": 1}
        assert await until(lambda: gnb.amf_name == "amf-renamed")
        assert gnb.amf_relative_capacity == 77 and ("00101", 3, 1, 1) in gnb.amf_served_guamis
        assert await core.wait_counter("amf_configuration_update_ack", 1) >= 1
        status, _ = await post(core, "/fivecore-amf/v1/configuration-update", {})
        assert status == 400

        # RAN Configuration Update from the gNB: accepted, then one the AMF must refuse
        ans = await gnb.ran_configuration_update(name="gnb-renamed")
        assert ans.kind == "successful" and gnb.cfg.name == "gnb-renamed"
        ans = await gnb.ran_configuration_update(tac=4242)
        assert ans.kind == "unsuccessful" and ans["Cause"] == ("misc", "unknown-PLMN-or-SNPN")
        assert gnb.cfg.tac == 1

        # back to CM-IDLE, then a Service Request whose PDU session status rides in the container
        gnb.release_request(ru)
        assert await until(lambda: ru.ran_id is None)
        ru.ue.sm = UeSm()
        n = (await core.acounters()).get("initial_nas_container", 0)
        assert await sim.service_request(ru) == UeState.REGISTERED
        assert await core.wait_counter("initial_nas_container", n + 1) == n + 1

        assert await sim.deregister(ru) == UeState.DEREGISTERED
    finally:
        await sim.stop()

    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    text = tshark_clean(frames, tmp_path / "procedures.pcap", core.ngap)
    for proc in ("id-UEContextModification", "id-AMFConfigurationUpdate", "id-RANConfigurationUpdate"):
        assert f"procedureCode: {proc} " in text, proc
    assert "NAS message container" in text
    assert text.count("Message type: Registration request") >= 4, "both registrations: outer and inner"
    assert text.count("Message type: Service request") >= 2, "outer and inner of the container form"


def initial_ue(ran_id: int, nas: bytes) -> bytes:
    return ngap.encode(NgapPdu("InitialUEMessage", "initiating", {
        "RAN-UE-NGAP-ID": ran_id, "NAS-PDU": nas,
        "UserLocationInformation": ngap.user_location_nr("00101", 1, 0x66),
        "RRCEstablishmentCause": "mo-Signalling"}))


async def test_hostile_flood_of_initial_ue_messages_keeps_the_amf_bounded(core: AmfCore, tmp_path) -> None:
    honest = RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE + 1:015d}")), n_ues=2)
    frames: list[tuple[str, bytes, int]] = []
    hostile_sim = RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE + 5:015d}")), n_ues=1)
    hostile_sim.gnbs[0].cfg.gnb_id = 0x666
    await honest.start()
    await hostile_sim.start()
    hostile = hostile_sim.gnbs[0]
    hostile.on_ngap = lambda data: None  # type: ignore[method-assign]  # answers nothing, ever
    usim = hostile_sim.ues[0].ue.usim
    nas_kinds = [
        # unknown 5G-GUTIs: Identity Request, T3570 runs out, context reaped at once
        *(ue_nas.registration_request(1, False, 7, ue_nas.Guti.guti("00101", 2, 1, 0, 0x7000 + i), (0, 1, 2), (1, 2))
          for i in range(4)),
        # 5GMM garbage: 5GMM STATUS and a release nobody confirms -> the sweep
        b"\x7e\x00\x41\x01",
        # a real SUCI of a subscriber who never answers the Authentication Request
        ue_nas.registration_request(1, False, 7, usim.make_suci(), (0, 1, 2), (1, 2)),
    ]
    peak = 0
    stop = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, (await core.acounters_full())["ues"])
            await asyncio.sleep(0.05)

    try:
        before = await core.acounters_full()
        watcher = asyncio.create_task(watch())
        ran_id = 1

        async def flood(n: int) -> None:
            nonlocal ran_id
            for _ in range(n):
                hostile.send(initial_ue(ran_id, nas_kinds[ran_id % len(nas_kinds)]), 1 + ran_id % 8)
                ran_id += 1
                if ran_id % 25 == 0:
                    await asyncio.sleep(0.002)

        # fill the AMF to its cap; a new honest UE then gets #22 congestion with T3346
        await flood(CAP + 100)
        assert await core.wait_counter("ue_context_limit", 1) >= 1
        ru = honest.ues[0]
        honest.gnbs[0].tap = lambda d, data, stream: frames.append((d, data, stream))
        t_sent = time.monotonic()
        assert await honest.register(ru) == UeState.DEREGISTERED
        t_back = time.monotonic()
        honest.gnbs[0].tap = None
        assert ru.ue.last_cause == 22 and ru.ue.t3346 == 60
        # TS 24.501 §5.3.9: while T3346 runs the UE does not try again (nothing goes uplink)
        sent = sum(1 for d, _, _ in frames if d == "ul")
        honest.gnbs[0].tap = lambda d, data, stream: frames.append((d, data, stream))
        assert await honest.register(ru, timeout=5) == UeState.DEREGISTERED
        honest.gnbs[0].tap = None
        assert sum(1 for d, _, _ in frames if d == "ul") == sent
        # T3346 started when the reject came, with the value it carried (whenever that was)
        assert ru.t3346_until is not None and t_sent + 60 <= ru.t3346_until <= t_back + 60
        assert honest.stats["t3346_held"] == 1 and 0 < honest.ue_view(ru)["t3346_left_s"] <= 60
        await flood(3000)
        mid = await core.acounters_full()
        # nothing of the flood survives one setup timeout (and a sweep) after it stops
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3 * SETUP_TIMEOUT + 10
        while loop.time() < deadline and (await core.acounters_full())["ues"] > before["ues"]:
            await asyncio.sleep(0.2)
        stop.set()
        await watcher
        after = await core.acounters_full()
        c = after["counters"]
        print(f"flood: peak contexts {peak} (cap {CAP}), rss before {before['rss_kb']} kB, "
              f"mid {mid['rss_kb']} kB, after {after['rss_kb']} kB, reaped {c.get('ue_reaped')}, "
              f"refused {c.get('ue_context_limit')}")
        assert peak <= CAP
        assert after["ues"] <= before["ues"]
        assert c.get("ue_context_limit", 0) >= 3000 - CAP
        assert c.get("ue_reaped_sweep", 0) >= 1 and c.get("ue_reaped_timer", 0) >= 1
        # memory follows the cap, not the 3,500 messages (generous: allocator noise, caches)
        assert after["rss_kb"] - before["rss_kb"] < 64 * 1024
        # and the AMF serves honest UEs as before, once T3346 has run out (here: made to)
        ru.t3346_until = time.monotonic()
        assert await honest.register(ru) == UeState.REGISTERED
        assert ru.t3346_until is None
        assert await honest.register(honest.ues[1]) == UeState.REGISTERED
    finally:
        stop.set()
        await hostile_sim.stop()
        await honest.stop()
    if shutil.which("tshark") is not None:
        # the congestion reject as Wireshark reads it: cause #22 with the T3346 value
        text = tshark_clean(frames, tmp_path / "congestion.pcap", core.ngap)
        assert "Message type: Registration reject" in text and "Congestion" in text
        assert "T3346" in text
