"""Wireshark agrees with our N2 handover messages (TS 38.413 §8.4.1-8.4.3, §8.4.5, §9.2.3.1-12).

The gNB's messages as :mod:`fivecore.ran.n2_handover` builds them (HANDOVER REQUIRED with a
Source to Target Transparent Container holding RRC HandoverPreparationInformation, HANDOVER
REQUEST ACKNOWLEDGE with the RRC HandoverCommand, HANDOVER FAILURE, HANDOVER NOTIFY, HANDOVER
CANCEL) and the AMF's (HANDOVER REQUEST with the chained {NH, NCC} and the SMF's PDU Session
Resource Setup Request Transfer, HANDOVER COMMAND with the SMF's Handover Command Transfer,
HANDOVER PREPARATION FAILURE, UE CONTEXT RELEASE COMMAND, HANDOVER CANCEL ACKNOWLEDGE) go into
one pcap; tshark must find no malformed packet and no expert warning or error, and the fields
(including those inside the transfers and containers) must read back as we set them. (This
Wireshark shows the containers' rRCContainer as octets; it does not decode the RRC inside.)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tsharkjson import assert_read_back, tshark_verbose

from fivecore.config import load_config
from fivecore.nf.amf.app import AmfApp
from fivecore.nf.amf.context import GnbState
from fivecore.nf.amf.n2_handover import Prep
from fivecore.nf.smf.handover import SmfN2Handover, command_transfer
from fivecore.nf.smf.sbi import _setup_request_transfer
from fivecore.obs.pcap import PcapWriter
from fivecore.ran import n2_handover as ran
from fivecore.ran.forwarding import SourceForwarding
from fivecore.security import kdf
from fivecore.wire import ngap
from fivecore.wire.nas.ies import dec_ue_sec_cap

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

GNB_A, GNB_B, AMF, UPF = "127.0.0.1", "127.0.0.2", "127.0.0.5", "127.0.0.7"
PREFS = ["-o", "sctp.checksum:CRC-32C"]
KAMF, KGNB = bytes(range(32)), bytes(range(32, 64))


def _build(path: Path) -> list[dict[str, Any]]:
    """Write the pcap; per frame the fields tshark must show."""
    app = AmfApp(load_config({"amf": {"nrf_uri": None}}))
    a = app.ngap.association_up(1, GNB_A)
    b = app.ngap.association_up(2, GNB_B)
    a.state = b.state = GnbState.READY
    b.global_ran_node_id = ("00101", 2, 22)
    ue = app.gmm.ctx.new_ue(a, 21)
    ue.kamf, ue.nh, ue.ncc = KAMF, KGNB, 0
    ue.ue_sec_cap = dec_ue_sec_cap(bytes([0xF0, 0xF0]))
    ue.allowed_nssai = ((1, 0x010203),)
    amf_id = ue.amf_ue_ngap_id
    h = app.n2_handover
    prep = Prep(ue, a, 21, b, ("00101", 1))
    s2t = ran.source_to_target_container("00101", 0x20, 0x10)
    required = ran.handover_required(amf_id, 21, ("00101", 2, 22), ("00101", 1), [1], s2t)
    setup = _setup_request_transfer(UPF, 0x42, 2000000, 1000000, 1, 1, 9, 8)
    request = h.request(prep, [{"pDUSessionID": 1, "s-NSSAI": ngap.s_nssai(1, 0x010203),
                                "handoverRequestTransfer": setup}], s2t,
                        ngap.cause("radioNetwork", "handover-desirable-for-radio-reason"))
    ack = ran.handover_request_acknowledge(amf_id, 31, [(1, ran.request_acknowledge_transfer(GNB_B, 0x2001, 1))],
                                           [(2, ("radioNetwork", "radio-resources-not-available"))])
    command = h.command(prep, [{"pDUSessionID": 1, "handoverCommandTransfer": command_transfer()}],
                        [{"pDUSessionID": 2, "handoverPreparationUnsuccessfulTransfer": ngap.encode_ie(
                            "HandoverPreparationUnsuccessfulTransfer",
                            {"cause": ngap.cause("radioNetwork", "radio-resources-not-available")})}],
                        ran.target_to_source_container())
    notify = ran.handover_notify(amf_id, 31, "00101", 1, 0x20)
    release = h.release(a, amf_id, 21, ("radioNetwork", "successful-handover")).data
    prep_fail = h.preparation_failure(a, amf_id, 21, ("radioNetwork", "unknown-targetID")).data
    failure = ran.handover_failure(amf_id, ("radioNetwork", "no-radio-resources-available-in-target-cell"))
    cancel = ran.handover_cancel(amf_id, 21)
    cancel_ack = h.cancel_ack(a, amf_id, 21).data
    frames = [(ngap.encode(required), GNB_A, AMF), (ngap.encode(request), AMF, GNB_B),
              (ngap.encode(ack), GNB_B, AMF), (ngap.encode(command), AMF, GNB_A),
              (ngap.encode(notify), GNB_B, AMF), (release, AMF, GNB_A), (prep_fail, AMF, GNB_A),
              (ngap.encode(failure), GNB_B, AMF), (ngap.encode(cancel), GNB_A, AMF), (cancel_ack, AMF, GNB_A)]
    with PcapWriter(path) as w:
        for data, src, dst in frames:
            w.write_ngap(data, src=src, dst=dst)
    nh1 = kdf.nh(KAMF, KGNB)
    amf = str(amf_id)
    # procedure codes (TS 38.413 §9.4.7): 12 HandoverPreparation, 13 HandoverResourceAllocation,
    # 11 HandoverNotification, 10 HandoverCancel, 41 UEContextRelease
    return [
        {"ngap.procedureCode": ["12"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.RAN_UE_NGAP_ID": ["21"],
         # intra5gs; gNB ID 2 in 22 bits, shown left-aligned in three octets
         "ngap.HandoverType": ["0"], "ngap.gNB_ID": ["00:00:08"], "ngap.tAC": ["1"], "ngap.pDUSessionID": ["1"]},
        {"ngap.procedureCode": ["13"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.nextHopChainingCount": ["1"],
         "ngap.nextHopNH": [nh1.hex(":")], "ngap.pDUSessionID": ["1"], "ngap.gTP_TEID": ["00:00:00:42"],
         "ngap.TransportLayerAddressIPv4": [UPF], "ngap.sST": ["01", "01"], "ngap.sD": ["01:02:03", "01:02:03"]},
        {"ngap.procedureCode": ["13"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.RAN_UE_NGAP_ID": ["31"],
         "ngap.pDUSessionID": ["1", "2"], "ngap.gTP_TEID": ["00:00:20:01"],
         "ngap.TransportLayerAddressIPv4": [GNB_B]},
        {"ngap.procedureCode": ["12"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.RAN_UE_NGAP_ID": ["21"],
         "ngap.pDUSessionID": ["1", "2"]},
        {"ngap.procedureCode": ["11"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.RAN_UE_NGAP_ID": ["31"],
         "ngap.tAC": ["1"]},
        {"ngap.procedureCode": ["41"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.RAN_UE_NGAP_ID": ["21"],
         "ngap.radioNetwork": ["2"]},  # successful-handover
        {"ngap.procedureCode": ["12"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.RAN_UE_NGAP_ID": ["21"]},
        {"ngap.procedureCode": ["13"], "ngap.AMF_UE_NGAP_ID": [amf]},
        {"ngap.procedureCode": ["10"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.RAN_UE_NGAP_ID": ["21"]},
        {"ngap.procedureCode": ["10"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.RAN_UE_NGAP_ID": ["21"]},
    ]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path_factory.mktemp("n2-handover") / "n2-handover.pcap"
    return path, _build(path)


def test_no_malformed_packet_in_verbose_text(capture: tuple[Path, list[dict[str, Any]]]) -> None:
    path, _ = capture
    out = tshark_verbose(path, PREFS)
    for name in ("(HandoverRequired)", "(HandoverRequest)", "(HandoverRequestAcknowledge)", "(HandoverCommand)",
                 "(HandoverNotify)", "(UEContextReleaseCommand)", "(HandoverPreparationFailure)",
                 "(HandoverFailure)", "(HandoverCancel)", "(HandoverCancelAcknowledge)",
                 "HandoverRequiredTransfer", "PDUSessionResourceSetupRequestTransfer",
                 "HandoverRequestAcknowledgeTransfer", "HandoverCommandTransfer",
                 "HandoverResourceAllocationUnsuccessfulTransfer", "HandoverPreparationUnsuccessfulTransfer",
                 "SourceNGRANNode-ToTargetNGRANNode-TransparentContainer",
                 "TargetNGRANNode-ToSourceNGRANNode-TransparentContainer"):
        assert name in out, name


def test_fields_read_back(capture: tuple[Path, list[dict[str, Any]]]) -> None:
    assert_read_back(*capture, PREFS)


# --- direct data forwarding (TS 23.502 §4.9.1.3.2-3, TS 38.413 §9.3.4.1, §9.3.4.10-14) -----------


def _build_forwarding(path: Path) -> list[dict[str, Any]]:
    """The IEs of direct forwarding as our gNB, SMF and AMF write them, and the GTP-U the
    source sends on the forwarding tunnel (a forwarded G-PDU, then the End Marker)."""
    app = AmfApp(load_config({"amf": {"nrf_uri": None}}))
    a = app.ngap.association_up(1, GNB_A)
    b = app.ngap.association_up(2, GNB_B)
    a.state = b.state = GnbState.READY
    ue = app.gmm.ctx.new_ue(a, 21)
    ue.kamf, ue.nh, ue.ncc = KAMF, KGNB, 0
    ue.ue_sec_cap = dec_ue_sec_cap(bytes([0xF0, 0xF0]))
    amf_id = ue.amf_ue_ngap_id
    h = app.n2_handover
    prep = Prep(ue, a, 21, b, ("00101", 1))
    s2t = ran.source_to_target_container("00101", 0x20, 0x10)
    required = ran.handover_required(amf_id, 21, ("00101", 2, 22), ("00101", 1), [1], s2t)
    sm = SimpleNamespace(ul_ip=UPF, ul_teid=0x42, ambr_dl=2000000, ambr_ul=1000000, pdu_type=1, qfi=1,
                         five_qi=9, arp=8)
    cause = ngap.cause("radioNetwork", "handover-desirable-for-radio-reason")
    request = h.request(prep, [{"pDUSessionID": 1, "s-NSSAI": ngap.s_nssai(1, None),
                                "handoverRequestTransfer": SmfN2Handover.setup_transfer(sm, True)}], s2t, cause)
    no_path = h.request(prep, [{"pDUSessionID": 1, "s-NSSAI": ngap.s_nssai(1, None),
                                "handoverRequestTransfer": SmfN2Handover.setup_transfer(sm, False)}], s2t, cause)
    ack = ran.handover_request_acknowledge(amf_id, 31, [(1, ran.request_acknowledge_transfer(GNB_B, 0x2001, 1, 0x3001))])
    command = h.command(prep, [{"pDUSessionID": 1, "handoverCommandTransfer": command_transfer((GNB_B, 0x3001), (1,))}],
                        [], ran.target_to_source_container())
    ip_packet = bytes.fromhex("4500001c000000004001 0000 0a2d0001 ac1f0002 0800f7ff00000000".replace(" ", ""))
    with PcapWriter(path) as w:
        w.write_ngap(ngap.encode(required), src=GNB_A, dst=AMF)
        w.write_ngap(ngap.encode(request), src=AMF, dst=GNB_B)
        w.write_ngap(ngap.encode(no_path), src=AMF, dst=GNB_B)
        w.write_ngap(ngap.encode(ack), src=GNB_B, dst=AMF)
        w.write_ngap(ngap.encode(command), src=AMF, dst=GNB_A)
        w.write_gtpu(SourceForwarding(0x3001, (GNB_B, 2152)).packet(ip_packet, 1), src=GNB_A, dst=GNB_B)
        w.write_gtpu(SourceForwarding(0x3001, (GNB_B, 2152)).end_marker(), src=GNB_A, dst=GNB_B)
    amf = str(amf_id)
    return [
        # Handover Required Transfer: directForwardingPathAvailability direct-path-available
        {"ngap.procedureCode": ["12"], "ngap.directForwardingPathAvailability": ["0"]},
        # the SMF's setup transfer for the target: Direct Forwarding Path Availability ...
        {"ngap.procedureCode": ["13"], "ngap.AMF_UE_NGAP_ID": [amf], "ngap.DirectForwardingPathAvailability": ["0"]},
        # ... or, with no direct path, Data Forwarding Not Possible
        {"ngap.procedureCode": ["13"], "ngap.DataForwardingNotPossible": ["0"]},
        # the target's Acknowledge Transfer: downlink tunnel, forwarding tunnel, flow accepted
        {"ngap.procedureCode": ["13"], "ngap.RAN_UE_NGAP_ID": ["31"], "ngap.gTP_TEID": ["00:00:20:01", "00:00:30:01"],
         "ngap.TransportLayerAddressIPv4": [GNB_B, GNB_B], "ngap.dataForwardingAccepted": ["0"]},
        # the SMF's Handover Command Transfer: the forwarding tunnel and the flow to forward
        {"ngap.procedureCode": ["12"], "ngap.gTP_TEID": ["00:00:30:01"], "ngap.TransportLayerAddressIPv4": [GNB_B],
         "ngap.qosFlowIdentifier": ["1"], "ngap.qosFlowToBeForwardedList": ["1"]},
        {"gtp.message": ["0xff"], "gtp.teid": ["0x00003001"]},
        {"gtp.message": ["0xfe"], "gtp.teid": ["0x00003001"]},
    ]


def test_direct_forwarding_ies_read_back(tmp_path: Path) -> None:
    path = tmp_path / "n2-forwarding.pcap"
    expected = _build_forwarding(path)
    out = tshark_verbose(path, PREFS)
    for text in ("directForwardingPathAvailability: direct-path-available",
                 "DirectForwardingPathAvailability: direct-path-available",
                 "DataForwardingNotPossible: data-forwarding-not-possible",
                 "dLForwardingUP-TNLInformation", "dataForwardingAccepted: data-forwarding-accepted",
                 "qosFlowToBeForwardedList", "End Marker"):
        assert text in out, text
    assert_read_back(path, expected, PREFS)
