"""The gNB side of an AMF e2e test, read back by tshark: the NGAP frames a simulated gNB's
``tap`` saw, written as SCTP DATA chunks (PPID 60, TS 38.412 §7) into a pcap, which Wireshark's
NGAP and NAS-5GS dissectors must read with no malformed packet and no expert error."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fivecore.obs.pcap import PcapWriter

GNB = ("127.0.0.1", 38412)

Frames = list[tuple[str, bytes, int]]
"""What ``gnb.tap`` records: ``(direction "ul" | "dl", NGAP PDU, SCTP stream)``."""


def tshark_clean(frames: Frames, path: Path, amf: tuple[str, int]) -> str:
    """Write ``frames`` between the gNB and the AMF at ``amf`` (host, NGAP port) to ``path``;
    assert tshark reads it with no malformed packet and no expert error, in the verbose tree and
    in its expert statistics. Returns tshark's verbose text for the test's own checks."""
    amf_host, amf_port = amf
    gnb_host, gnb_port = GNB
    with PcapWriter(path) as w:
        for d, data, stream in frames:
            if d == "ul":
                w.write_ngap(data, src=gnb_host, dst=amf_host, sport=gnb_port, dport=amf_port, stream=stream)
            else:
                w.write_ngap(data, src=amf_host, dst=gnb_host, sport=amf_port, dport=gnb_port, stream=stream)
    # NEA0 in these tests, so NAS stays readable; the AMF's port is not 38412, so say it is NGAP
    prefs = ["-o", "nas-5gs.null_decipher:TRUE", "-o", "sctp.checksum:TRUE", "-d", f"sctp.port=={amf_port},ngap"]
    out = subprocess.run(["tshark", "-r", str(path), "-V", *prefs], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Malformed Packet" not in text
    assert "[Expert Info (Error" not in text, [ln for ln in text.splitlines() if "Expert Info (Error" in ln][:5]
    experts = subprocess.run(["tshark", "-r", str(path), "-q", "-z", "expert,error", *prefs],
                             capture_output=True, text=True, timeout=120)
    assert "Errors (" not in experts.stdout, experts.stdout
    return text
