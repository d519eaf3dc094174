"""The IPv6 user plane end to end: IPv6 and IPv4v6 PDU sessions (TS 23.501 §5.8.2.2.3).

Three layers of checks, each with something we did not write as the judge:

- tshark decodes the N4 UE IP Address IE the SMF builds for an IPv4v6 session (TS 29.244
  §8.2.62) and the Router Advertisement the UPF sends down the tunnel (RFC 4861 §4.2);
- the UPF's datapath on real sockets (a UDP socket for N3, a datagram socket pair standing
  where the kernel's TUN is): IPv6 uplink by TEID with the /64 as source check, downlink by
  the destination's /64, Router Solicitation answered, unsolicited RA when the tunnel comes up,
  with the DNN's link MTU (RFC 4861 §4.6.4) and DNS servers (RFC 8106 RDNSS);
- ``fivecore up`` (slot 7, under ``flock /tmp/fivecore-bench.lock``) with an IPv6 prefix pool:
  the simulator's UEs get an IPv6 and an IPv4v6 session, configure prefix + interface
  identifier on their TUN in their namespace from the RA (and take its MTU and DNS servers,
  which ``up`` handed the UPF from the SMF's DNN), and iputils ``ping -6`` reaches the N6 side
  and a data-network host in a namespace of its own (fivecore.netup.dn, forwarding IPv6 on
  the N6 device and the DN veth only) with 0 % loss (the IPv4v6 one over IPv4 too).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tsharkjson import fields, packets

from fivecore.nf.smf import gsm
from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import Ipv6PrefixPool, SmfContext
from fivecore.nf.upf.context import UpfContext
from fivecore.nf.upf.datapath import (
    MAX_RTR_ADV_INTERVAL,
    MIN_RTR_ADV_INTERVAL,
    UPF_LINK_LOCAL,
    Datapath,
)
from fivecore.nf.upf.ndp import RaOptions, RaPolicy
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.obs.pcap import PcapWriter
from fivecore.wire import gtpu, icmpv6, pfcp

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SLOT = 7
PEER = ("127.0.0.4", 8805)
V6_POOL = "fd00:5c:7::/48"
DNS6 = "2001:db8:5c::53"
#: the data-network host of the slot (fivecore.netup.dn), IPv4 and IPv6
DN_V4, DN_V6 = "10.97.7.2", "fd00:97:7::2"


def _sm(pdu_type: int, n: int = 1) -> Any:
    sm = SmfContext().new("imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.pdu_type = pdu_type
    sm.local_seid = 100 + n
    if pdu_type in (gsm.PDU_IPV4, gsm.PDU_IPV4V6):
        sm.ue_ipv4 = f"10.45.0.{n + 1}"
    if pdu_type in (gsm.PDU_IPV6, gsm.PDU_IPV4V6):
        pool = Ipv6PrefixPool(V6_POOL)
        for _ in range(n):
            sm.ue_ipv6_prefix = pool.allocate()
    sm.ambr_ul = sm.ambr_dl = 100_000_000
    return sm


# --- tshark --------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_the_prefix_and_the_advertisement(tmp_path: Path) -> None:
    sm = _sm(gsm.PDU_IPV4V6)
    est = pfcp.encode(smf_pfcp.session_establishment(sm, seq=7, node_id=PEER[0], cp_ip=PEER[0]))
    ra = icmpv6.router_advertisement(UPF_LINK_LOCAL, icmpv6.link_local(gsm.interface_identifier(sm)),
                                     int(sm.ue_ipv6_prefix.network_address) >> 64)
    path = tmp_path / "ipv6.pcap"
    with PcapWriter(path) as w:
        w.write_pfcp(est)
        w.write_gtpu(gtpu.encap(0x1234, ra, qfi=1, pdu_type=gtpu.PDU_TYPE_DL))
    out = subprocess.run(["tshark", "-r", str(path), "-T", "json", "-V"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    text = subprocess.run(["tshark", "-r", str(path), "-V"], capture_output=True, text=True,
                          timeout=120, check=True).stdout
    assert "Malformed" not in text and "[Expert Info (Error" not in text, text
    f1, f2 = packets(out)
    found = fields(f1["pfcp"])
    assert found["pfcp.ue_ip_addr_ipv6"] == ["fd00:5c:7:1::"] * 2
    assert found["pfcp.ue_ip_addr_ipv4"] == [sm.ue_ipv4] * 2
    assert found["pfcp.ue_ip_address_flag.v6"] == ["1", "1"]
    assert found["pfcp.ue_ip_address_flag.v6d"] == ["0", "0"]  # default /64, §8.2.62
    assert found["pfcp.ue_ip_address_flag.v6pl"] == ["0", "0"]
    assert found["pfcp.ue_ip_address_flag.sd"] == ["0", "1"]
    found = fields(f2["icmpv6"])
    assert found["icmpv6.type"] == ["134"]
    assert found["icmpv6.checksum.status"] == ["1"]  # Good (0 Bad, 2 Unverified)
    assert found["icmpv6.opt.prefix"] == ["fd00:5c:7:1::"]
    assert found["icmpv6.opt.prefix.length"] == ["64"]
    assert found["icmpv6.opt.prefix.flag.a"] == ["1"] and found["icmpv6.opt.prefix.flag.l"] == ["0"]


# --- the datapath on real sockets ------------------------------------------------------------


class Upf:
    """A UPF context, its PFCP node fed by the SMF's own builder, and the datapath with a UDP
    N3 socket and one end of a datagram socket pair as its N6 device."""

    def __init__(self, ra_policy: RaPolicy | None = None) -> None:
        self.ctx = UpfContext("127.0.0.1", 0)
        self.node = PfcpNode(self.ctx, "127.0.0.1")
        self.n3 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.n3.bind(("127.0.0.1", 0))
        # the downlink FAR names only the gNB's address, so its port is 2152 (TS 29.281
        # §4.4.2): a loopback address of its own makes that free
        self.gnb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(20):
            self.gnb_ip = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.{random.randint(2, 250)}"
            with contextlib.suppress(OSError):
                self.gnb.bind((self.gnb_ip, 2152))
                break
        else:
            pytest.skip("no free loopback address for the gNB's GTP-U port")
        self.gnb.settimeout(5)
        self.tun, self.kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.kernel.settimeout(5)
        # a clock of our own: nothing here depends on how fast the machine is
        self.now = 1000.0
        self.dp = Datapath(self.ctx, self.n3, self.tun.fileno(), clock=lambda: self.now, ra_policy=ra_policy)
        self.seq = 1
        self.pfcp(pfcp.PfcpMessage.build("AssociationSetupRequest", seq=1,
                                         node_id=pfcp.NodeId.ipv4(PEER[0]),
                                         recovery_time_stamp=pfcp.ntp_now()))

    def pfcp(self, msg: pfcp.PfcpMessage) -> pfcp.PfcpMessage:
        rsp = pfcp.decode(self.node.datagram_received(pfcp.encode(msg), PEER, 0.0)[0][0])
        assert rsp.cause == pfcp.CAUSE_ACCEPTED, rsp
        return rsp

    def session(self, sm: Any, dl_teid: int) -> Any:
        self.seq += 1
        rsp = self.pfcp(smf_pfcp.session_establishment(sm, seq=self.seq, node_id=PEER[0], cp_ip=PEER[0]))
        sm.upf_seid, sm.ul_teid, sm.ul_ip = smf_pfcp.parse_establishment_response(rsp)
        sm.dl_teid, sm.dl_ip = dl_teid, self.gnb_ip
        self.seq += 1
        self.pfcp(smf_pfcp.activate_downlink(sm, seq=self.seq))
        # as the UPF app does after a modification that ended buffering
        for s in self.node.take_flushes():
            self.dp.flush_buffer(s)
        return self.ctx.sessions[sm.upf_seid]

    def uplink(self, teid: int, packet: bytes) -> None:
        self.now += 0.001
        self.gnb.sendto(gtpu.encap(teid, packet, qfi=1, pdu_type=gtpu.PDU_TYPE_UL), self.n3.getsockname())
        while not self.dp.drain_n3():
            pass

    def downlink(self, packet: bytes) -> None:
        self.kernel.send(packet)
        while not self.dp.drain_tun():
            pass

    def at_gnb(self) -> tuple[int, bytes]:
        data = self.gnb.recv(65535)
        teid, _qfi, off = gtpu.decap(data)
        return teid, data[off:]

    def close(self) -> None:
        for s in (self.n3, self.gnb, self.tun, self.kernel):
            s.close()


def _ip6(src: str | bytes, dst: str | bytes, payload: bytes = b"fivecore", nh: int = 17) -> bytes:
    s = src if isinstance(src, bytes) else ipaddress.IPv6Address(src).packed
    d = dst if isinstance(dst, bytes) else ipaddress.IPv6Address(dst).packed
    return struct.pack("!IHBB", 0x6000_0000, len(payload), nh, 64) + s + d + payload


def _ip4(src: str, dst: str) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, socket.inet_aton(src),
                       socket.inet_aton(dst)) + bytes(8)


@pytest.fixture
def upf() -> Any:
    u = Upf()
    yield u
    u.close()


def test_datapath_ipv6_both_ways(upf: Upf) -> None:
    sm = _sm(gsm.PDU_IPV6)
    session = upf.session(sm, dl_teid=0x77)
    iid = gsm.interface_identifier(sm)
    ue_addr = ipaddress.IPv6Address(int(sm.ue_ipv6_prefix.network_address) | int.from_bytes(iid, "big"))
    # the unsolicited RA went out as soon as the downlink tunnel was known
    teid, ra = upf.at_gnb()
    assert teid == 0x77 and session.ra_sent == 1
    adv = icmpv6.decode_router_advertisement(ra)
    assert [p.prefix for p in adv.prefixes] == [sm.ue_ipv6_prefix] and adv.dst == icmpv6.ALL_NODES

    # uplink: from the session's /64 to the data network, out of the "TUN" unchanged
    pkt = _ip6(str(ue_addr), "fd00:5c:7::1")
    upf.uplink(sm.ul_teid, pkt)
    assert upf.kernel.recv(65535) == pkt
    # downlink: any address of the /64 finds the tunnel
    back = _ip6("fd00:5c:7::1", str(sm.ue_ipv6_prefix.network_address + 0x99))
    upf.downlink(back)
    assert upf.at_gnb() == (0x77, back)
    m = upf.ctx.metrics
    assert (m.n3_in_pkts, m.n6_out_pkts, m.n6_in_pkts, m.n3_out_pkts) == (1, 1, 1, 1)

    # a source outside the /64 is spoofing; a packet for a prefix nobody owns is dropped
    upf.uplink(sm.ul_teid, _ip6("fd00:5c:7:9::1", "fd00:5c:7::1"))
    assert m.drop_spoofed == 1 and session.spoofed == 1
    upf.downlink(_ip6("fd00:5c:7::1", "fd00:5c:7:9::1"))
    assert m.drop_no_session == 1
    # link-scope traffic (an MLD report, from fe80::) stays on the link: dropped, not spoofing
    upf.uplink(sm.ul_teid, _ip6(icmpv6.link_local(iid), "ff02::16", nh=0))
    assert m.drop_link_local == 1 and m.drop_spoofed == 1

    # RFC 4861 §6.2.6: a solicitation is answered, unicast to the solicitor
    upf.uplink(sm.ul_teid, icmpv6.router_solicitation(icmpv6.link_local(iid)))
    teid, ra = upf.at_gnb()
    adv = icmpv6.decode_router_advertisement(ra)
    assert teid == 0x77 and adv.dst == icmpv6.link_local(iid) and adv.src == UPF_LINK_LOCAL
    assert adv.prefixes[0].prefix == sm.ue_ipv6_prefix and adv.prefixes[0].autonomous
    assert (m.rs_rx, m.ra_tx, session.ra_sent) == (1, 2, 2)
    # the next one at once is not (a soliciting loop gets no stream of RAs), later it is
    upf.uplink(sm.ul_teid, icmpv6.router_solicitation(icmpv6.link_local(iid)))
    assert (m.rs_rx, m.ra_tx, m.drop_link_local) == (2, 2, 2)
    upf.now += 1.0
    upf.uplink(sm.ul_teid, icmpv6.router_solicitation(icmpv6.UNSPECIFIED))
    teid, ra = upf.at_gnb()
    assert icmpv6.decode_router_advertisement(ra).dst == icmpv6.ALL_NODES and m.ra_tx == 3
    # a broken solicitation is malformed, and answered by nothing
    bad = bytearray(icmpv6.router_solicitation(icmpv6.link_local(iid)))
    bad[-1] ^= 0xFF
    upf.uplink(sm.ul_teid, bytes(bad))
    assert m.drop_malformed == 1 and m.ra_tx == 3


def test_datapath_repeats_the_advertisement_while_the_session_lives(upf: Upf) -> None:
    """RFC 4861 §6.2.4: unsolicited advertisements every MIN..MAX_RTR_ADV_INTERVAL seconds, so a
    UE that never solicits keeps its default route (each grants 9000 s); none while the session
    is idle (it would page the UE), the missed one as the tunnel comes back; none once the
    session is gone. The harness's clock is the test's."""
    sm = _sm(gsm.PDU_IPV6)
    session = upf.session(sm, dl_teid=0x79)
    upf.at_gnb()  # the first one, as the tunnel came up
    m, dp = upf.ctx.metrics, upf.dp
    assert dp.advertise_due() == 0 and m.ra_tx == 1  # not yet
    assert MIN_RTR_ADV_INTERVAL <= session.ra_due - upf.now <= MAX_RTR_ADV_INTERVAL
    for n in (2, 3):  # each due one goes out, and the next is scheduled
        upf.now = session.ra_due
        assert dp.advertise_due() == 1 and m.ra_tx == n and session.ra_sent == n
        teid, ra = upf.at_gnb()
        assert teid == 0x79 and icmpv6.decode_router_advertisement(ra).router_lifetime == 9000
    # CM-IDLE: the FAR buffers; the due advertisement is held back, then sent with the tunnel
    upf.seq += 1
    upf.pfcp(smf_pfcp.deactivate_downlink(sm, seq=upf.seq))
    upf.now = session.ra_due + 1
    assert dp.advertise_due() == 0 and m.ra_tx == 3
    upf.seq += 1
    upf.pfcp(smf_pfcp.activate_downlink(sm, seq=upf.seq))
    for s in upf.node.take_flushes():
        dp.flush_buffer(s)
    assert m.ra_tx == 4 and upf.at_gnb()[0] == 0x79
    # a service request soon after does not bring another one
    upf.seq += 1
    upf.pfcp(smf_pfcp.deactivate_downlink(sm, seq=upf.seq))
    upf.seq += 1
    upf.pfcp(smf_pfcp.activate_downlink(sm, seq=upf.seq))
    for s in upf.node.take_flushes():
        dp.flush_buffer(s)
    assert m.ra_tx == 4
    # the session is deleted: its pending advertisement is dropped, not sent
    upf.seq += 1
    upf.pfcp(smf_pfcp.session_deletion(sm, seq=upf.seq))
    upf.now = 1e9
    assert dp.advertise_due() == 0 and m.ra_tx == 4 and dp._ra_heap == []


def test_datapath_ra_carries_the_dnns_mtu_and_dns() -> None:
    """The advertisement down the tunnel, unsolicited and solicited, carries the session's
    DNN's link MTU and DNS servers (the DNN is the Network Instance of the SMF's PDRs)."""
    dns = ("2001:4860:4860::8888", "2001:db8::53")
    u = Upf(RaPolicy(RaOptions(1456), {"internet": RaOptions(1300, tuple(ipaddress.IPv6Address(a).packed
                                                                           for a in dns))}))
    try:
        sm = _sm(gsm.PDU_IPV6, 5)
        u.session(sm, dl_teid=0x7B)
        for solicit in (False, True):
            if solicit:
                u.now += 1.0
                u.uplink(sm.ul_teid, icmpv6.router_solicitation(icmpv6.link_local(gsm.interface_identifier(sm))))
            teid, ra = u.at_gnb()
            adv = icmpv6.decode_router_advertisement(ra)
            assert teid == 0x7B and adv.mtu == 1300 and [str(a) for a in adv.dns] == list(dns)
            assert adv.dns_lifetime == icmpv6.INFINITE and adv.prefixes[0].prefix == sm.ue_ipv6_prefix
    finally:
        u.close()
    # a UPF without per-DNN settings still tells the UE the MTU its N3 can carry, no DNS
    u = Upf()
    try:
        sm = _sm(gsm.PDU_IPV6, 6)
        u.session(sm, dl_teid=0x7C)
        adv = icmpv6.decode_router_advertisement(u.at_gnb()[1])
        assert adv.mtu == 1456 and adv.dns == ()
    finally:
        u.close()


def test_datapath_ipv4v6_keeps_ipv4(upf: Upf) -> None:
    sm = _sm(gsm.PDU_IPV4V6, 2)
    upf.session(sm, dl_teid=0x78)
    upf.at_gnb()  # the unsolicited RA
    v4 = _ip4(sm.ue_ipv4, "10.45.0.1")
    upf.uplink(sm.ul_teid, v4)
    assert upf.kernel.recv(65535) == v4
    v6 = _ip6(str(sm.ue_ipv6_prefix.network_address + 5), "fd00:5c:7::1")
    upf.uplink(sm.ul_teid, v6)
    assert upf.kernel.recv(65535) == v6
    for pkt in (_ip4("10.45.0.1", sm.ue_ipv4), _ip6("fd00:5c:7::1", str(sm.ue_ipv6_prefix.network_address + 5))):
        upf.downlink(pkt)
        assert upf.at_gnb() == (0x78, pkt)
    # the IPv4 address is still the IPv4 source check
    upf.uplink(sm.ul_teid, _ip4("10.45.0.200", "10.45.0.1"))
    assert upf.ctx.metrics.drop_spoofed == 1


def test_datapath_buffers_ipv6_until_the_tunnel_is_up(upf: Upf) -> None:
    """TS 29.244 §5.2.3 BUFF for an IPv6 destination, flushed (then the RA) on FORW."""
    sm = _sm(gsm.PDU_IPV6, 3)
    seq = 50
    rsp = upf.pfcp(smf_pfcp.session_establishment(sm, seq=seq, node_id=PEER[0], cp_ip=PEER[0]))
    sm.upf_seid, sm.ul_teid, sm.ul_ip = smf_pfcp.parse_establishment_response(rsp)
    early = _ip6("fd00:5c:7::1", str(sm.ue_ipv6_prefix.network_address + 1))
    upf.downlink(early)
    assert upf.ctx.metrics.buffered == 1
    sm.dl_teid, sm.dl_ip = 0x79, upf.gnb_ip
    upf.pfcp(smf_pfcp.activate_downlink(sm, seq=seq + 1))
    flushes = upf.node.take_flushes()
    assert flushes
    for s in flushes:
        upf.dp.flush_buffer(s)
    assert upf.at_gnb() == (0x79, early)
    teid, ra = upf.at_gnb()
    assert teid == 0x79 and icmpv6.decode_router_advertisement(ra).prefixes[0].prefix == sm.ue_ipv6_prefix


@pytest.fixture(scope="module")
def fuzz_upf() -> Any:
    u = Upf()
    sm = _sm(gsm.PDU_IPV4V6, 4)
    u.session(sm, dl_teid=0x7A)
    u.at_gnb()  # the unsolicited RA
    u.gnb.setblocking(False)
    u.kernel.setblocking(False)
    yield u, sm
    u.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=120), st.sampled_from(["prefix", "link-local", "unspecified", "other"]),
       st.booleans())
def test_datapath_takes_any_ipv6_packet(fuzz_upf: Any, junk: bytes, src: str, rs: bool) -> None:
    """Bad input is normal input: IPv6-looking junk in either direction is forwarded, answered
    or counted as dropped, never raises, and every packet is accounted for."""
    u, sm = fuzz_upf
    prefix = sm.ue_ipv6_prefix.network_address.packed[:8]
    head = {"prefix": prefix, "link-local": icmpv6.link_local(bytes(8))[:8], "unspecified": bytes(8),
            "other": b"\x20\x01\x0d\xb8" + bytes(4)}[src]
    body = bytearray(junk.ljust(48, b"\0") if rs else junk)
    pkt = bytearray(b"\x60" + bytes(7) + head + bytes(24)) + body
    if rs:
        pkt[6], pkt[40] = icmpv6.NEXT_HEADER_ICMPV6, icmpv6.ROUTER_SOLICITATION
    m = u.ctx.metrics
    before = (m.n3_in_pkts, m.n6_in_pkts)
    u.uplink(sm.ul_teid, bytes(pkt))
    u.downlink(bytes(pkt[:40]))  # a destination of "::" ... in no session's /64
    u.downlink(bytes(pkt[:24]) + prefix + bytes(pkt[32:]))
    assert (m.n3_in_pkts, m.n6_in_pkts) == (before[0] + 1, before[1] + 2)
    for sock in (u.gnb, u.kernel):
        with contextlib.suppress(BlockingIOError):
            while True:
                sock.recv(65535)


# --- the whole network ----------------------------------------------------------------------


async def _ping(ns: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, "ping", "-n", "-c", "3", "-i", "0.3", "-W", "10", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    return (await proc.communicate())[0].decode()


def test_ipv6_and_ipv4v6_sessions_ping_n6(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-IP SCTP, TUN devices, network namespaces")
    if shutil.which("ping") is None:
        pytest.skip("iputils-ping is not installed")
    from fivecore.benchkit.network import FIRST_IMSI, BenchNetwork, NetPlan
    from fivecore.netup.dn import DataNetwork, ipv6_forwarding_supported
    from fivecore.netup.network import n6_ipv6_address
    from fivecore.ran.app import RanSim
    from fivecore.ran.config import load_ran_config
    from fivecore.ran.ue import UeState
    from fivecore.ran.userplane import UserPlane

    plan = NetPlan.slot(SLOT)
    # the DNN's MTU and its IPv6 DNS server reach the UE in the UPF's Router Advertisement
    # (``up`` hands them to the UPF); 1300 is below the UE's TUN MTU, so the UE applies it
    plan.extra = {"smf": {"dnns": [{"dnn": "internet", "ipv4_pool": plan.pool, "ipv6_prefix_pool": V6_POOL,
                                    "dns": ["8.8.8.8", DNS6], "mtu": 1300}]}}
    n6_v6 = n6_ipv6_address(V6_POOL).split("/")[0]
    n6_v4 = str(ipaddress.ip_network(plan.pool)[1])
    ns_prefix = f"fc6u{SLOT}x"
    net = BenchNetwork(plan, workdir=tmp_path)
    dn: DataNetwork | None = None
    net.start()
    try:
        if ipv6_forwarding_supported():
            dn = DataNetwork(DN_V4, plan.pool, f"fc6dn{SLOT}", ipv6_address=DN_V6, ue_pools6=[V6_POOL],
                             n6_device=plan.tun)
            dn.create()
            # IPv6 forwarding is on for the N6 device and the DN's veth, and nowhere else
            conf = Path("/proc/sys/net/ipv6/conf")
            assert (conf / plan.tun / "force_forwarding").read_text().strip() == "1"
            assert (conf / dn.host_if / "force_forwarding").read_text().strip() == "1"
            assert (conf / "lo" / "force_forwarding").read_text().strip() == "0"
        net.provision(2)
        # `up` gave the N6 device its IPv6 address in the pool
        addrs = subprocess.run(["ip", "-6", "addr", "show", "dev", plan.tun], capture_output=True,
                               text=True, check=True).stdout
        assert f"{n6_v6}/48" in addrs, addrs

        async def run() -> None:
            rc = net.ran_config(FIRST_IMSI)
            rc["gnb"]["localAddress"] = f"{plan.gnb_prefix}.1"
            sim = RanSim(load_ran_config(rc), n_ues=2)
            up = UserPlane(ns_prefix=ns_prefix)
            await sim.start()
            try:
                for g in sim.gnbs:
                    await up.add_gnb(g, f"{plan.gnb_prefix}.1")
                for i, ru in enumerate(sim.ues):
                    up.enable(ru, i)
                    assert await sim.register(ru, follow_on=True) == UeState.REGISTERED
                s = net.state["slices"][0]
                snssai = (int(s["sst"]), int(s["sd"], 16) if s.get("sd") else None)
                v6, dual = sim.ues
                s6 = await up.establish(v6, 1, net.state["dnn"], snssai, 30, pdu_type=gsm.PDU_IPV6)
                s46 = await up.establish(dual, 1, net.state["dnn"], snssai, 30, pdu_type=gsm.PDU_IPV4V6)
                assert s6.pdu_type == gsm.PDU_IPV6 and s6.ipv4 is None
                assert s46.pdu_type == gsm.PDU_IPV4V6 and s46.ipv4 is not None
                for sess in (s6, s46):
                    # prefix from the RA, interface identifier from the PDU address (RFC 4291)
                    addr = ipaddress.IPv6Address(sess.ipv6)
                    assert addr in ipaddress.IPv6Network(V6_POOL)
                    assert addr.packed[8:] == sess.ipv6_iid
                assert ipaddress.IPv6Network(f"{s6.ipv6}/64", strict=False) != \
                    ipaddress.IPv6Network(f"{s46.ipv6}/64", strict=False)
                for ru, sess in ((v6, s6), (dual, s46)):
                    ns = up.namespace(ru)
                    shown = subprocess.run(["ip", "-n", ns, "-6", "addr", "show", "dev", up.interface(ru)],
                                           capture_output=True, text=True, check=True).stdout
                    assert f"{sess.ipv6}/64" in shown, shown
                    # RFC 4861 §6.3.4 / RFC 8106: the RA's MTU and DNS servers, recorded and used
                    assert sess.ipv6_mtu == 1300 and sess.ipv6_dns == [DNS6]
                    mtu6 = subprocess.run(["ip", "netns", "exec", ns, "cat",
                                           f"/proc/sys/net/ipv6/conf/{up.interface(ru)}/mtu"],
                                          capture_output=True, text=True, check=True).stdout.strip()
                    assert mtu6 == "1300"
                    out = await _ping(ns, "-6", n6_v6)
                    assert " 0% packet loss" in out, out
                    if dn is not None:
                        # through N6 and the host's routing into the data network's namespace
                        out = await _ping(ns, "-6", DN_V6)
                        assert " 0% packet loss" in out, out
                out = await _ping(up.namespace(dual), n6_v4)
                assert " 0% packet loss" in out, out
                if dn is not None:
                    out = await _ping(up.namespace(dual), DN_V4)
                    assert " 0% packet loss" in out, out
                assert up.gnbs[0].stats.get("ra_rx", 0) >= 2
            finally:
                registered = [ru for ru in sim.ues if ru.ue.state == UeState.REGISTERED and ru.amf_id is not None]
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sim.deregister_all(registered, concurrency=2, timeout=10), 20)
                await up.close()
                await sim.stop()

        asyncio.run(run())
        if dn is None:
            pytest.skip("this kernel has no per-device IPv6 forwarding (force_forwarding, Linux 6.17+): "
                        "the data-network half was not run")
    finally:
        if dn is not None:
            dn.remove()
            assert not dn.exists()
        net.stop()
        for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith(ns_prefix):
                subprocess.run(["ip", "netns", "del", line.split()[0]], capture_output=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
