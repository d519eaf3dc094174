"""Wireshark agrees with our Path Switch Request procedure (TS 38.413 §8.4.4, §9.2.3.8-10).

PATH SWITCH REQUEST as the simulated target gNB builds it (with the Path Switch Request
Transfer of :mod:`fivecore.ran.handover`), PATH SWITCH REQUEST ACKNOWLEDGE as the AMF builds
it (Security Context with the chained NH, the SMF's Path Switch Request Acknowledge Transfer,
a released session, the stored UE Security Capabilities) and PATH SWITCH REQUEST FAILURE go
into one pcap; tshark must find no malformed packet and no expert warning or error, and the
fields -- including those inside the transfers, which Wireshark decodes from their OCTET
STRING -- must read back as we set them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tsharkjson import assert_read_back, tshark_verbose

from fivecore.config import load_config
from fivecore.nf.amf.app import AmfApp
from fivecore.nf.amf.context import GnbState
from fivecore.nf.smf.sbi import path_switch_ack_transfer, path_switch_unsuccessful_transfer
from fivecore.obs.pcap import PcapWriter
from fivecore.ran.gnb import Gnb, GnbConfig
from fivecore.ran.handover import switch_transfer
from fivecore.security import kdf
from fivecore.wire.nas.ies import dec_ue_sec_cap

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

GNB, AMF, UPF = "127.0.0.2", "127.0.0.5", "127.0.0.7"
PREFS = ["-o", "sctp.checksum:CRC-32C"]
KAMF, KGNB = bytes(range(32)), bytes(range(32, 64))


def _build(path: Path) -> list[dict[str, Any]]:
    """Write the pcap; per frame the fields tshark must show."""
    app = AmfApp(load_config({"amf": {"nrf_uri": None}}))
    g = app.ngap.association_up(1, GNB)
    g.state = GnbState.READY
    ue = app.gmm.ctx.new_ue(g, 21)
    ue.kamf, ue.nh, ue.ncc = KAMF, KGNB, 0
    ue.ue_sec_cap = dec_ue_sec_cap(bytes([0xF0, 0xF0]))
    ue.allowed_nssai = ((1, 0x010203),)
    h = app.handover
    target = Gnb(GnbConfig(gnb_id=2, tac=1, nci=0x20))
    req = target.path_switch_request(21, 77, [
        {"pDUSessionID": 1, "pathSwitchRequestTransfer": switch_transfer(GNB, 0x2001, 1)},
        {"pDUSessionID": 2, "pathSwitchRequestTransfer": switch_transfer(GNB, 0x2002, 1)}], (1, 2, 3), (1, 2))
    # radioNetwork causes by their ASN.1 index: 14 unknown-local-UE-NGAP-ID, 26 unknown-PDU-session-ID
    ack = h._acknowledge(ue, 21, [{"pDUSessionID": 1, "pathSwitchRequestAcknowledgeTransfer":
                                   path_switch_ack_transfer(UPF, 0x42)}],
                         [{"pDUSessionID": 2, "pathSwitchRequestUnsuccessfulTransfer":
                           path_switch_unsuccessful_transfer("radioNetwork", "unknown-PDU-session-ID")}], True)
    fail = h._failure(g, 77, 21, [1, 2], ("radioNetwork", "unknown-local-UE-NGAP-ID")).data
    with PcapWriter(path) as w:
        w.write_ngap(req, src=GNB, dst=AMF)
        w.write_ngap(ack, src=AMF, dst=GNB)
        w.write_ngap(fail, src=AMF, dst=GNB)
    nh1 = kdf.nh(KAMF, KGNB)
    return [
        {"ngap.procedureCode": ["25"], "ngap.RAN_UE_NGAP_ID": ["21"], "ngap.AMF_UE_NGAP_ID": ["77"],
         "ngap.pDUSessionID": ["1", "2"], "ngap.gTP_TEID": ["00:00:20:01", "00:00:20:02"],
         "ngap.TransportLayerAddressIPv4": [GNB, GNB], "ngap.qosFlowIdentifier": ["1", "1"],
         "ngap.tAC": ["1"], "ngap.nRencryptionAlgorithms": ["e0:00"],
         "ngap.nRintegrityProtectionAlgorithms": ["c0:00"]},
        {"ngap.procedureCode": ["25"], "ngap.RAN_UE_NGAP_ID": ["21"],
         "ngap.AMF_UE_NGAP_ID": [str(ue.amf_ue_ngap_id)], "ngap.nextHopChainingCount": ["1"],
         "ngap.nextHopNH": [nh1.hex(":")], "ngap.pDUSessionID": ["1", "2"], "ngap.gTP_TEID": ["00:00:00:42"],
         "ngap.TransportLayerAddressIPv4": [UPF], "ngap.radioNetwork": ["26"],
         "ngap.nRencryptionAlgorithms": ["e0:00"], "ngap.sST": ["01"], "ngap.sD": ["01:02:03"]},
        {"ngap.procedureCode": ["25"], "ngap.RAN_UE_NGAP_ID": ["21"], "ngap.AMF_UE_NGAP_ID": ["77"],
         "ngap.pDUSessionID": ["1", "2"], "ngap.radioNetwork": ["14", "14"]},
    ]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path_factory.mktemp("path-switch") / "path-switch.pcap"
    return path, _build(path)


def test_no_malformed_packet_in_verbose_text(capture: tuple[Path, list[dict[str, Any]]]) -> None:
    path, exp = capture
    out = tshark_verbose(path, PREFS)
    assert out.count("PathSwitchRequest") >= len(exp)
    for name in ("(PathSwitchRequest)", "(PathSwitchRequestAcknowledge)", "(PathSwitchRequestFailure)",
                 "PathSwitchRequestTransfer", "PathSwitchRequestAcknowledgeTransfer",
                 "PathSwitchRequestUnsuccessfulTransfer"):
        assert name in out, name


def test_fields_read_back(capture: tuple[Path, list[dict[str, Any]]]) -> None:
    assert_read_back(*capture, PREFS)
