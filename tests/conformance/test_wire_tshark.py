"""Wireshark agrees with our encoders.

One pcap holds every message type fivecore encodes (NGAP procedures, every NAS-5GS 5GMM and
5GSM message, security-protected NAS, every PFCP message, every GTP-U message); tshark must
find no malformed packet and no expert warning or error, and the key fields (NGAP procedure
code, NAS message types, SUCI, IMEISV, MAC/SQN, TEID, SEID, QFI) must read back as we set them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tsharkjson import assert_read_back, expert_problems, fields, packets, tshark_verbose

from fivecore.obs.pcap import PcapWriter
from fivecore.wire import gtpu, nas, ngap, pfcp, samples

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GNB, AMF, SMF, UPF = "127.0.0.1", "127.0.0.5", "127.0.0.4", "127.0.0.7"
PREFS = ["-o", "nas-5gs.null_decipher:TRUE", "-o", "sctp.checksum:CRC-32C"]


def _nas_frame(w: PcapWriter, data: bytes, up: bool) -> None:
    ids = {"AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": 1, "NAS-PDU": data}
    if up:
        ids["UserLocationInformation"] = ngap.user_location_nr(samples.PLMN, 1, 0x10)
        w.write_ngap(ngap.encode(ngap.NgapPdu("UplinkNASTransport", ies=ids)), src=GNB, dst=AMF)
    else:
        w.write_ngap(ngap.encode(ngap.NgapPdu("DownlinkNASTransport", ies=ids)), src=AMF, dst=GNB)


def _build(path: Path) -> list[dict[str, Any]]:
    """Write the pcap; return per frame the fields tshark must show (name -> expected values)."""
    exp: list[dict[str, Any]] = []
    with PcapWriter(path) as w:
        for p in samples.ngap_samples():
            up = (p.kind == "initiating") == (p.procedure in (
                "NGSetup", "InitialUEMessage", "UplinkNASTransport", "UEContextReleaseRequest"))
            w.write_ngap(ngap.encode(p), src=GNB if up else AMF, dst=AMF if up else GNB)
            e: dict[str, Any] = {"ngap.procedureCode": [str(p.procedure_code)]}
            if "RAN-UE-NGAP-ID" in p:
                e["ngap.RAN_UE_NGAP_ID"] = [str(p["RAN-UE-NGAP-ID"])]
            exp.append(e)
        for m in samples.nas_samples():
            data = nas.encode(m)
            up = m.message_type in samples.NAS_UPLINK
            e = {}
            if m.is_5gsm:
                e["nas_5gs.sm.message_type"] = [f"0x{m.code:02x}"]
                t = nas.ULNASTransport if up else nas.DLNASTransport
                data = nas.encode(t(payload_container_type=nas.PAYLOAD_N1_SM,
                                    payload_container=data, pdu_session_id=m.pdu_session_id))
                e["nas_5gs.mm.message_type"] = ["0x67" if up else "0x68"]
            else:
                e["nas_5gs.mm.message_type"] = [f"0x{m.code:02x}"]
            ident = m.get("mobile_identity")
            if ident is not None and ident.type == "suci":
                e["nas_5gs.mm.suci.scheme_id"] = [str(ident.protection_scheme)]
                e["nas_5gs.mm.suci.pki"] = [str(ident.hn_key_id)]
                e["nas_5gs.mm.suci.routing_indicator"] = [ident.routing_indicator]
                if ident.msin:
                    e["nas_5gs.mm.suci.msin"] = [ident.msin]
            if m.get("imeisv") is not None:
                e["nas_5gs.mm.imeisv"] = [m.imeisv.digits]
            if m.message_type == "PDUSessionEstablishmentAccept":
                e["nas_5gs.sm.qfi"] = ["1", "1"]  # QoS rule and QoS flow description
            _nas_frame(w, data, up)
            exp.append(e)
        by_type = {m.message_type: m for m in samples.nas_samples()}
        for sht, name in ((1, "DeregistrationRequestUEOriginating"), (2, "RegistrationAccept"),
                          (3, "SecurityModeCommand"), (4, "SecurityModeComplete")):
            m = by_type[name]
            prot = nas.SecurityProtectedNasMessage(sht, b"\x11\x22\x33\x44", 7, nas.encode(m))
            _nas_frame(w, nas.encode(prot), m.message_type in samples.NAS_UPLINK)
            exp.append({"nas_5gs.security_header_type": [str(sht), "0"],  # outer, inner
                        "nas_5gs.msg_auth_code": ["0x11223344"], "nas_5gs.seq_no": ["7"],
                        "nas_5gs.mm.message_type": [f"0x{m.code:02x}"]})
        for m in samples.pfcp_samples():
            req = m.msg_type.endswith("Request")
            w.write_pfcp(pfcp.encode(m), src=SMF if req else UPF, dst=UPF if req else SMF)
            e = {"pfcp.msg_type": [str(m.code)]}
            if m.seid is not None:
                seids = [f"0x{m.seid:016x}"]
                if m.f_seid is not None:
                    seids.append(f"0x{m.f_seid.seid:016x}")
                e["pfcp.seid"] = seids
            if m.msg_type == "SessionEstablishmentRequest":
                e["pfcp.qfi_value"] = ["0x01", "0x01"]
            for c in m.ies.all("created_pdr"):
                e["pfcp.f_teid.teid"] = [f"0x{c.f_teid.teid:08x}"]
            exp.append(e)
        for g in samples.gtpu_samples():
            w.write_gtpu(g, src=UPF, dst=GNB)
            d = gtpu.decode(g)
            e = {"gtp.message": [f"0x{d.msg_type:02x}"], "gtp.teid": [f"0x{d.teid:08x}"]}
            if d.qfi is not None:
                e["gtp.ext_hdr.pdu_ses_con.qos_flow_id"] = [str(d.qfi)]
            if d.teid_data_i is not None:
                e["gtp.teid_data"] = [f"0x{d.teid_data_i:08x}"]
            exp.append(e)
    return exp


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / "wire-all-messages.pcap"
    except OSError:
        path = tmp_path_factory.mktemp("wire") / "wire-all-messages.pcap"
    return path, _build(path)


def test_no_malformed_packet_in_verbose_text(capture: tuple[Path, list[dict[str, Any]]]) -> None:
    path, exp = capture
    out = tshark_verbose(path, PREFS)
    assert out.count("Frame ") >= len(exp)


def test_fields_read_back(capture: tuple[Path, list[dict[str, Any]]]) -> None:
    assert_read_back(*capture, PREFS)


def test_fragmented_ngap_over_16k(tmp_path: Path) -> None:
    """An NGAP PDU > 16 KiB uses X.691 fragmented lengths; Wireshark must reassemble it."""
    big = nas.encode(nas.SecurityProtectedNasMessage(2, bytes(4), 1, bytes(range(256)) * 80))
    pdu = ngap.NgapPdu("DownlinkNASTransport", ies={"AMF-UE-NGAP-ID": 77, "RAN-UE-NGAP-ID": 5,
                                                     "NAS-PDU": big})
    data = ngap.encode(pdu)
    assert len(data) > 20000
    path = tmp_path / "big.pcap"
    with PcapWriter(path) as w:
        w.write_ngap(data, src=AMF, dst=GNB)
    out = subprocess.run(["tshark", "-r", str(path), "-T", "json", "-V",
                          "-o", "sctp.checksum:CRC-32C"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    layers = packets(out)[0]
    got = fields(layers, {"ngap.procedureCode", "ngap.AMF_UE_NGAP_ID", "ngap.RAN_UE_NGAP_ID",
                          "nas_5gs.msg_auth_code"})
    assert got == {"ngap.procedureCode": ["4"], "ngap.AMF_UE_NGAP_ID": ["77"],
                   "ngap.RAN_UE_NGAP_ID": ["5"], "nas_5gs.msg_auth_code": ["0x00000000"]}
    assert not expert_problems(layers)
