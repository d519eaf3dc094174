"""Wireshark reads the Router Advertisement options the UPF sends down an IPv6 PDU session's
tunnel: the MTU option (RFC 4861 §4.6.4) and the Recursive DNS Server option (RFC 8106 §5.1),
with the values the UPF's per-DNN policy (fivecore.nf.upf.ndp) gives, inside GTP-U on N3."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tsharkjson import fields, packets

from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.datapath import UPF_LINK_LOCAL
from fivecore.obs.pcap import PcapWriter
from fivecore.wire import gtpu, icmpv6

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

UE_LL = icmpv6.link_local(bytes.fromhex("02000000c0a80001"))
MANY = [f"2001:db8:53::{i:x}" for i in range(1, icmpv6.MAX_RDNSS + 1)]


def test_tshark_reads_mtu_and_rdnss(tmp_path: Path) -> None:
    policy = load_upf_config(data={"upf": {"ipv6_ra": [
        {"dnn": "internet", "mtu": 1400, "dns": ["2001:4860:4860::8888", "2001:4860:4860::8844"]}]}}).ra_policy()
    internet, default = policy.per_dnn["internet"], policy.default
    frames = [
        icmpv6.router_advertisement(UPF_LINK_LOCAL, icmpv6.ALL_NODES, 0x2001_0DB8_CAFE_0001,
                                    mtu=internet.mtu, dns=internet.dns),
        icmpv6.router_advertisement(UPF_LINK_LOCAL, UE_LL, 0x2001_0DB8_CAFE_0002, mtu=default.mtu,
                                    dns=default.dns),
        icmpv6.router_advertisement(UPF_LINK_LOCAL, UE_LL, 0x2001_0DB8_CAFE_0003, mtu=65535, dns=MANY,
                                    dns_lifetime=1800),
    ]
    path = tmp_path / "ra.pcap"
    with PcapWriter(path) as w:
        for i, ra in enumerate(frames):
            w.write_gtpu(gtpu.encap(0x100 + i, ra, qfi=1, pdu_type=gtpu.PDU_TYPE_DL))
    text = subprocess.run(["tshark", "-r", str(path), "-V"], capture_output=True, text=True, timeout=120,
                          check=True).stdout
    assert "Malformed" not in text and "[Expert Info (Error" not in text and "[Expert Info (Warn" not in text, text
    # one option subtree per option: without this flag JSON keeps only the last of them
    out = subprocess.run(["tshark", "-r", str(path), "-T", "json", "--no-duplicate-keys", "-V"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    f1, f2, f3 = (fields(layers["icmpv6"]) for layers in packets(out))
    for f in (f1, f2, f3):
        assert f["icmpv6.type"] == ["134"] and f["icmpv6.checksum.status"] == ["1"]
    assert f1["icmpv6.opt.mtu"] == ["1400"]
    assert f1["icmpv6.opt.rdnss"] == ["2001:4860:4860::8888", "2001:4860:4860::8844"]
    assert f1["icmpv6.opt.rdnss.lifetime"] == ["4294967295"]  # infinity: valid as long as the session
    assert f1["icmpv6.opt.prefix"] == ["2001:db8:cafe:1::"]
    # no DNS for the DNN: no RDNSS option; the MTU of an Ethernet N3 less the GTP-U overhead
    assert f2["icmpv6.opt.mtu"] == ["1456"] and "icmpv6.opt.rdnss" not in f2
    assert f3["icmpv6.opt.rdnss"] == MANY and f3["icmpv6.opt.rdnss.lifetime"] == ["1800"]
    assert f3["icmpv6.opt.mtu"] == ["65535"]
    # and our decoder reads what Wireshark read
    ra = icmpv6.decode_router_advertisement(frames[2])
    assert [str(a) for a in ra.dns] == MANY and ra.mtu == 65535
