"""Wireshark reads our PFCP session retention exactly as we meant it (TS 29.244 §6.2.6.2).

The octets come from the real code: the restarted SMF's Association Setup Request
(fivecore.nf.smf.pfcp.N4.association_setup, with the PFCP Session Retention Information and
its CP PFCP Entity IP Address) and the UPF's answer to it (fivecore.nf.upf.pfcp_server.PfcpNode,
PFCPASRsp-Flags with PSREI, its old association still there). tshark must find no malformed
packet, no expert warning or error, and read the IEs back.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tsharkjson import expert_problems, fields, packets

from fivecore.nf.smf.pfcp import N4, UpfPeer
from fivecore.nf.upf.context import UpfContext
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.obs.pcap import PcapWriter
from fivecore.wire import pfcp

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

SMF, UPF = "127.0.0.4", "127.0.0.7"


def test_retention_request_and_psrei_answer_read_back(tmp_path: Path) -> None:
    node = PfcpNode(UpfContext("10.200.1.1"), UPF, recovery_ts=3_900_000_000, now=0.0, cp_restart_grace=30)
    before = N4(SMF, 8805, [])
    before.recovery_ts = 3_900_000_100
    node.datagram_received(pfcp.encode(before.association_setup(UpfPeer(UPF))), (SMF, 8805), 0.1)
    after = N4(SMF, 8805, [])  # the restarted SMF, with sessions to keep on this UPF
    after.recovery_ts = 3_900_000_200
    req = pfcp.encode(after.association_setup(UpfPeer(UPF, retain_sessions=True)))
    out = node.datagram_received(req, (SMF, 8805), 1.0)
    assert len(out) == 1
    rsp = out[0][0]
    path = tmp_path / "pfcp-retention.pcap"
    with PcapWriter(path) as w:
        w.write_pfcp(req, src=SMF, dst=UPF)
        w.write_pfcp(rsp, src=UPF, dst=SMF)
    js = subprocess.run(["tshark", "-r", str(path), "-T", "json", "-V"], capture_output=True, text=True,
                        timeout=120, check=True).stdout
    frames = packets(js)
    assert len(frames) == 2
    for layers in frames:
        assert not expert_problems(layers)
    got = fields(frames[0]["pfcp"], {"pfcp.msg_type", "pfcp.ie_type", "pfcp.cp_pfcp_entity_ip_address.ipv4"})
    assert got["pfcp.msg_type"] == ["5"]
    assert "183" in got["pfcp.ie_type"] and "185" in got["pfcp.ie_type"]
    assert got["pfcp.cp_pfcp_entity_ip_address.ipv4"] == [SMF]
    got = fields(frames[1]["pfcp"], {"pfcp.msg_type", "pfcp.cause", "pfcp.asrsp_flags.flags.psrei"})
    assert got["pfcp.msg_type"] == ["6"] and got["pfcp.cause"] == ["1"]
    assert got["pfcp.asrsp_flags.flags.psrei"] in (["1"], ["True"])
    text = subprocess.run(["tshark", "-r", str(path), "-V"], capture_output=True, text=True, timeout=120,
                          check=True).stdout
    assert "Malformed" not in text and "= PSREI (PFCP Session Retained Indication): Present" in text
