"""Wireshark reads a full registration: every NGAP PDU between the simulated gNB and the AMF
(running NEA0, so NAS stays readable) goes into a pcap via ``fivecore.obs.pcap`` and ``tshark``
must decode it with no malformed packet, no expert error, and every NAS message named.
"""

from __future__ import annotations

import pytest
from netkit import amf_core
from ngap_capture import tshark_clean

from fivecore.nf.amf.launch import AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import UeState

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BASE = 1010000000900
NAS_MESSAGES = [
    "Registration request",
    "Authentication request",
    "Authentication response",
    "Security mode command",
    "Security mode complete",
    "Registration accept",
    "Registration complete",
    "Deregistration request (UE originating)",
    "Deregistration accept (UE originating)",
]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    with amf_core(tmp_path_factory, "amf-pcap", needs_tshark=True,
                  amf={"security": {"ciphering_order": ["NEA0"]}}) as c:
        c.provision(5, first_imsi=f"{BASE:015d}")
        yield c


async def test_registration_capture_decodes_in_tshark(core: AmfCore, tmp_path) -> None:
    sim = RanSim(load_ran_config(core.ran_config(first_imsi=f"{BASE:015d}")), n_ues=1)
    gnb = sim.gnbs[0]
    frames: list[tuple[str, bytes, int]] = []
    gnb.tap = lambda d, data, stream: frames.append((d, data, stream))
    await sim.start()
    try:
        ru = sim.ues[0]
        assert await sim.register(ru) == UeState.REGISTERED
        assert ru.ue.sec.enc_alg == 0, "the AMF was configured for NEA0"
        await core.wait_counter("release_complete", 1)
        assert await sim.deregister(ru) == UeState.DEREGISTERED
        await core.wait_counter("release_complete", 2)
    finally:
        await sim.stop()
    assert len(frames) >= 12
    text = tshark_clean(frames, tmp_path / "registration.pcap", core.ngap)
    for name in NAS_MESSAGES:
        assert f"Message type: {name}" in text, name
    assert "SUCI" in text or "SUPI format" in text
    for proc in ("id-NGSetup", "id-InitialUEMessage", "id-DownlinkNASTransport", "id-UplinkNASTransport",
                 "id-InitialContextSetup", "id-UEContextRelease"):
        assert f"procedureCode: {proc} " in text, proc
