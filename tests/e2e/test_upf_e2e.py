"""UPF end to end: a real UPF process in its own netns between a gNB netns and a DN netns.

The test plays the SMF (PFCP on the UPF namespace's loopback, built with
``fivecore.wire.pfcp``) and the gNB (GTP-U built with ``fivecore.wire.gtpu``); the data
network is a namespace whose kernel answers ICMP and whose sockets receive the UDP. N3 and N4
are captured with dumpcap and checked by tshark at the end. Needs root; every namespace,
process and capture is removed even when a test fails.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from fivecore.wire import gtpu, pfcp
from fivecore.wire.pfcp import FSeid, FTeid, Ies, NodeId, PfcpMessage

T = TypeVar("T")
TEST_TIMEOUT = 120
LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(TEST_TIMEOUT),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (netns, veth, TUN)"),
]


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread that has entered netns ``ns``; sockets it makes stay there."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if LIBC.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            box["v"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            box["e"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box["v"]


def udp_socket(ns: str, addr: tuple[str, int], timeout: float = 2.0) -> socket.socket:
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(addr)
        s.settimeout(timeout)
        return s

    return in_netns(ns, make)


class Topology:
    """gNB ns <-veth-> UPF ns (UPF process, TUN) <-veth-> DN ns; unique names, torn down always.

    Addresses: N3 10.<a>.<b>.1 (UPF) / .2 (gNB), N6 10.<a+1>.<b>.1 (UPF) / .2 (DN host),
    PFCP on the UPF namespace's loopback 127.0.0.7 (UPF) and 127.0.0.4 (this test, as SMF).
    """

    def __init__(self) -> None:
        tag = f"{os.getpid() % 10000:04d}{uuid.uuid4().hex[:4]}"
        self.tag = tag
        self.ns_gnb, self.ns_upf, self.ns_dn = f"fcg{tag}", f"fcu{tag}", f"fcd{tag}"
        b = int(tag[-4:], 16) % 250 + 1
        self.n3_upf, self.n3_gnb = f"10.231.{b}.1", f"10.231.{b}.2"
        self.n6_upf, self.dn = f"10.232.{b}.1", f"10.232.{b}.2"
        self.tun = f"fct{tag}"
        self.if_gnb = f"g3{tag}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"upf-e2e-{tag}-"))
        self.stats_file = self.workdir / "stats.json"
        self.proc: subprocess.Popen[bytes] | None = None
        self.captures: list[subprocess.Popen[bytes]] = []
        self.pcaps: list[Path] = []

    def up(self) -> None:
        for ns in (self.ns_gnb, self.ns_upf, self.ns_dn):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        t = self.tag
        sh("ip", "link", "add", f"u3{t}", "netns", self.ns_upf, "type", "veth", "peer", "name",
           self.if_gnb, "netns", self.ns_gnb)
        sh("ip", "link", "add", f"u6{t}", "netns", self.ns_upf, "type", "veth", "peer", "name",
           f"d6{t}", "netns", self.ns_dn)
        for ns, dev, addr in ((self.ns_upf, f"u3{t}", self.n3_upf),
                              (self.ns_gnb, self.if_gnb, self.n3_gnb),
                              (self.ns_upf, f"u6{t}", self.n6_upf),
                              (self.ns_dn, f"d6{t}", self.dn)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", self.ns_dn, "route", "add", "default", "via", self.n6_upf)
        sh("ip", "netns", "exec", self.ns_upf, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def capture(self, ns: str, iface: str, name: str) -> None:
        """Capture with dumpcap so tshark can check every N3/N4 byte afterwards."""
        path = self.workdir / f"{name}.pcap"
        p = subprocess.Popen(["ip", "netns", "exec", ns, "dumpcap", "-q", "-i", iface, "-w",
                              str(path), "-f", "udp port 8805 or udp port 2152"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.captures.append(p)
        self.pcaps.append(path)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (path.exists() and path.stat().st_size > 0):
            if p.poll() is not None:
                raise RuntimeError(f"dumpcap failed: {p.stderr.read() if p.stderr else ''}")
            time.sleep(0.05)

    def stop_captures(self) -> None:
        for p in self.captures:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.captures = []

    def start_upf(self) -> None:
        cfg = {"upf": {
            "pfcp_address": "127.0.0.7", "gtpu_address": self.n3_upf, "tun_name": self.tun,
            "tun_create": True, "subnet": "10.45.0.0/16", "stats_file": str(self.stats_file),
            "stats_interval": 0.2, "heartbeat_interval": 60,
        }}
        path = self.workdir / "upf.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        self.log = open(self.workdir / "upf.log", "wb")  # noqa: SIM115 - closed in down()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns_upf, PYTHON, "-m", "fivecore.nf.upf", "--config",
             str(path)], stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"UPF exited: {self.upf_log()}")
            out = sh("ip", "netns", "exec", self.ns_upf, "ss", "-lun", check=False).stdout
            if "127.0.0.7:8805" in out and self.stats_file.exists():
                return
            time.sleep(0.1)
        raise RuntimeError(f"UPF did not start: {self.upf_log()}")

    def upf_log(self) -> str:
        try:
            return (self.workdir / "upf.log").read_text()[-3000:]
        except OSError:
            return ""

    def stats(self, wait: float = 0.5) -> dict[str, int]:
        time.sleep(wait)  # the UPF rewrites the file every 0.2 s
        return json.loads(self.stats_file.read_text())

    def down(self) -> None:
        self.stop_captures()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for ns in (self.ns_gnb, self.ns_upf, self.ns_dn):
            sh("ip", "netns", "del", ns, check=False)
        if getattr(self, "log", None):
            self.log.close()
        if not os.environ.get("FIVECORE_KEEP_E2E"):
            shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# packets
# ---------------------------------------------------------------------------------------------


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 1) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:] + payload


def udp4(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    ln = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, ln)
    u = struct.pack("!HHHH", sport, dport, ln, 0) + payload
    c = _csum(pseudo + u) or 0xFFFF
    return ipv4(src, dst, 17, u[:6] + struct.pack("!H", c) + u[8:])


def icmp_echo(src: str, dst: str, ident: int, seq: int, data: bytes = b"fivecore") -> bytes:
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return ipv4(src, dst, 1, m[:2] + struct.pack("!H", _csum(m)) + m[4:])


# ---------------------------------------------------------------------------------------------
# the SMF and the gNB
# ---------------------------------------------------------------------------------------------


class Smf:
    """A CP node: PFCP requests with retries, and answers to the UPF's own requests."""

    def __init__(self, sock: socket.socket, node_ip: str, recovery: int) -> None:
        self.sock = sock
        self.node_ip = node_ip
        self.recovery = recovery
        self.seq = 0
        self.reports: list[PfcpMessage] = []
        self.upf = ("127.0.0.7", 8805)

    def _answer(self, msg: PfcpMessage, addr: tuple[str, int]) -> None:
        if msg.msg_type == "HeartbeatRequest":
            rsp = PfcpMessage.build("HeartbeatResponse", seq=msg.seq,
                                    recovery_time_stamp=self.recovery)
        elif msg.msg_type == "SessionReportRequest":
            self.reports.append(msg)
            rsp = PfcpMessage.build("SessionReportResponse", seq=msg.seq, seid=0,
                                    cause=pfcp.CAUSE_ACCEPTED)
        else:
            return
        self.sock.sendto(pfcp.encode(rsp), addr)

    def request(self, name: str, seid: int | None = None, **ies: Any) -> PfcpMessage:
        self.seq += 1
        return self.send_raw(pfcp.encode(PfcpMessage.build(name, seq=self.seq, seid=seid, **ies)),
                             self.seq)

    def send_raw(self, data: bytes, seq: int) -> PfcpMessage:
        for _ in range(3):
            self.sock.sendto(data, self.upf)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                try:
                    raw, addr = self.sock.recvfrom(65535)
                except TimeoutError:
                    break
                msg = pfcp.decode(raw)
                if msg.seq == seq and msg.msg_type.endswith("Response"):
                    return msg
                self._answer(msg, addr)
        raise AssertionError(f"no PFCP response to seq {seq}")

    def wait_report(self, timeout: float = 5.0) -> PfcpMessage:
        deadline = time.monotonic() + timeout
        while not self.reports and time.monotonic() < deadline:
            try:
                raw, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self._answer(pfcp.decode(raw), addr)
        assert self.reports, "no Session Report Request"
        return self.reports.pop(0)

    def associate(self) -> PfcpMessage:
        return self.request("AssociationSetupRequest", node_id=NodeId.ipv4(self.node_ip),
                            recovery_time_stamp=self.recovery)

    def establish(self, cp_seid: int, ue: str, gnb: str, dl_teid: int, *,
                  mbr_kbps: int | None = None, threshold: int | None = None,
                  buffering: bool = False) -> Session:
        rsp = self.request(
            "SessionEstablishmentRequest", seid=0, node_id=NodeId.ipv4(self.node_ip),
            f_seid=FSeid(cp_seid, self.node_ip),
            create_pdr=[
                Ies(pdr_id=1, precedence=255,
                    pdi=Ies(source_interface=pfcp.IF_ACCESS, f_teid=FTeid.choose(),
                            network_instance="internet",
                            ue_ip_address=pfcp.UeIpAddress(ipv4=ue), qfi=1,
                            tgpp_interface_type=pfcp.IFTYPE_N3_3GPP),
                    outer_header_removal=pfcp.OuterHeaderRemoval(0), far_id=1, urr_id=1,
                    qer_id=[1, 2] if mbr_kbps else 1),
                Ies(pdr_id=2, precedence=255,
                    pdi=Ies(source_interface=pfcp.IF_CORE, network_instance="internet",
                            ue_ip_address=pfcp.UeIpAddress(ipv4=ue, destination=True),
                            tgpp_interface_type=pfcp.IFTYPE_N6),
                    far_id=2, urr_id=1, qer_id=[1, 2] if mbr_kbps else 1)],
            create_far=[
                Ies(far_id=1, apply_action=pfcp.APPLY_FORW,
                    forwarding_parameters=Ies(destination_interface=pfcp.IF_CORE,
                                              network_instance="internet",
                                              tgpp_interface_type=pfcp.IFTYPE_N6)),
                Ies(far_id=2, apply_action=pfcp.APPLY_BUFF | pfcp.APPLY_NOCP,
                    forwarding_parameters=Ies(destination_interface=pfcp.IF_ACCESS))
                if buffering else
                Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                    forwarding_parameters=Ies(
                        destination_interface=pfcp.IF_ACCESS, network_instance="internet",
                        outer_header_creation=pfcp.OuterHeaderCreation.gtpu(dl_teid, gnb),
                        tgpp_interface_type=pfcp.IFTYPE_N3_3GPP))],
            # QER 1: the QoS flow (QFI 1). QER 2: the session AMBR (no QFI), as an SMF
            # expresses it (TS 29.244 §5.4).
            create_qer=[Ies(qer_id=1, gate_status=pfcp.GateStatus(), qfi=1)] + (
                [Ies(qer_id=2, gate_status=pfcp.GateStatus(),
                     mbr=pfcp.Bitrate(mbr_kbps, mbr_kbps))] if mbr_kbps else []),
            create_urr=[Ies(urr_id=1, measurement_method=pfcp.MEASURE_VOLUM,
                            reporting_triggers=pfcp.Flags(
                                pfcp.TRIGGER_VOLTH if threshold else 0, 3),
                            volume_threshold=pfcp.Volume(total=threshold) if threshold else None)],
            pdn_type=1)
        assert rsp.msg_type == "SessionEstablishmentResponse"
        assert rsp.cause == pfcp.CAUSE_ACCEPTED, rsp
        assert rsp.seid == cp_seid
        created = rsp.ies.all("created_pdr")
        return Session(rsp.f_seid.seid, created[0].f_teid.teid, created[0].f_teid.ipv4, ue,
                       dl_teid)


class Session:
    def __init__(self, up_seid: int, ul_teid: int, n3: str, ue: str, dl_teid: int) -> None:
        self.up_seid, self.ul_teid, self.n3, self.ue, self.dl_teid = up_seid, ul_teid, n3, ue, dl_teid


class Net:
    """The running testbed handed to the tests."""

    def __init__(self, topo: Topology, smf: Smf, gnb: socket.socket) -> None:
        self.topo, self.smf, self.gnb = topo, smf, gnb
        self._cp_seid = 100
        self._ue = 10
        self._teid = 0x2000

    def new_session(self, **kw: Any) -> Session:
        self._cp_seid += 1
        self._ue += 1
        self._teid += 0x10
        return self.smf.establish(self._cp_seid, f"10.45.0.{self._ue}", self.topo.n3_gnb,
                                  self._teid, **kw)

    def send_ul(self, s: Session, inner: bytes, teid: int | None = None) -> None:
        self.gnb.sendto(gtpu.encap(s.ul_teid if teid is None else teid, inner, qfi=1,
                                   pdu_type=gtpu.PDU_TYPE_UL), (s.n3, 2152))

    def recv_n3(self, timeout: float = 2.0) -> gtpu.GtpuMessage:
        self.gnb.settimeout(timeout)
        data, addr = self.gnb.recvfrom(65535)
        assert addr == (self.topo.n3_upf, 2152)
        return gtpu.decode(data)

    def drain_n3(self) -> None:
        self.gnb.settimeout(0.05)
        try:
            while True:
                self.gnb.recvfrom(65535)
        except TimeoutError:
            pass


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    topo = Topology()
    socks: list[socket.socket] = []
    try:
        topo.up()
        topo.capture(topo.ns_upf, "lo", "n4")
        topo.capture(topo.ns_gnb, topo.if_gnb, "n3")
        topo.start_upf()
        pfcp_sock = udp_socket(topo.ns_upf, ("127.0.0.4", 8805))
        gnb = udp_socket(topo.ns_gnb, (topo.n3_gnb, 2152))
        socks += [pfcp_sock, gnb]
        smf = Smf(pfcp_sock, "127.0.0.4", pfcp.ntp_now())
        rsp = smf.associate()
        assert rsp.cause == pfcp.CAUSE_ACCEPTED
        yield Net(topo, smf, gnb)
    finally:
        for s in socks:
            s.close()
        topo.down()


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------


def test_udp_uplink_and_downlink(net: Net) -> None:
    s = net.new_session()
    dn = udp_socket(net.topo.ns_dn, (net.topo.dn, 9000))
    try:
        net.send_ul(s, udp4(s.ue, net.topo.dn, 4000, 9000, b"hello from the UE"))
        data, addr = dn.recvfrom(2048)
        assert data == b"hello from the UE" and addr == (s.ue, 4000)
        dn.sendto(b"hello from the DN", (s.ue, 4000))
        msg = net.recv_n3()
        assert msg.msg_type == gtpu.G_PDU and msg.teid == s.dl_teid
        assert msg.qfi == 1 and msg.pdu_type == gtpu.PDU_TYPE_DL
        inner = msg.payload
        assert socket.inet_ntoa(inner[12:16]) == net.topo.dn
        assert socket.inet_ntoa(inner[16:20]) == s.ue
        assert inner[28:] == b"hello from the DN"
    finally:
        dn.close()


def test_icmp_echo_through_the_upf(net: Net) -> None:
    s = net.new_session()
    net.drain_n3()
    net.send_ul(s, icmp_echo(s.ue, net.topo.dn, ident=0x4242, seq=7))
    msg = net.recv_n3()
    assert msg.teid == s.dl_teid and msg.qfi == 1
    ip = msg.payload
    assert ip[9] == 1 and socket.inet_ntoa(ip[16:20]) == s.ue
    icmp_type, _, _, ident, seq = struct.unpack_from("!BBHHH", ip, 20)
    assert (icmp_type, ident, seq) == (0, 0x4242, 7)


def test_echo_request_is_answered(net: Net) -> None:
    net.drain_n3()
    net.gnb.sendto(gtpu.build_echo_request(77), (net.topo.n3_upf, 2152))
    msg = net.recv_n3()
    assert msg.msg_type == gtpu.ECHO_RESPONSE and msg.seq == 77 and msg.recovery == 0


def test_unknown_teid_gets_error_indication(net: Net) -> None:
    net.drain_n3()
    before = net.topo.stats(wait=0)["fivecore_upf_drop_unknown_teid_total"]
    s = Session(0, 0, net.topo.n3_upf, "10.45.9.1", 0)
    net.send_ul(s, udp4("10.45.9.1", net.topo.dn, 1, 9000, b"x"), teid=0xDEADBEEF)
    msg = net.recv_n3()
    assert msg.msg_type == gtpu.ERROR_INDICATION
    assert msg.teid_data_i == 0xDEADBEEF and msg.peer_address == net.topo.n3_upf
    assert net.topo.stats()["fivecore_upf_drop_unknown_teid_total"] == before + 1


def test_spoofed_inner_source_is_dropped_and_counted(net: Net) -> None:
    s = net.new_session()
    dn = udp_socket(net.topo.ns_dn, (net.topo.dn, 9001), timeout=0.7)
    try:
        before = net.topo.stats(wait=0)["fivecore_upf_drop_spoofed_source_total"]
        for i in range(5):
            net.send_ul(s, udp4("10.45.77.77", net.topo.dn, 4000, 9001, b"spoof %d" % i))
        net.send_ul(s, udp4(s.ue, net.topo.dn, 4000, 9001, b"genuine"))
        data, addr = dn.recvfrom(2048)
        assert data == b"genuine" and addr[0] == s.ue
        with pytest.raises(TimeoutError):
            dn.recvfrom(2048)
        assert net.topo.stats()["fivecore_upf_drop_spoofed_source_total"] == before + 5
    finally:
        dn.close()


def _measure(send: Callable[[bytes], None], recv_sock: socket.socket, payload_len: int,
             inner_overhead: int, rate_bps: float, secs: float) -> float:
    """Offer ``rate_bps`` of IP packets for ``secs``; return the received IP-level bit rate.

    A policer cannot make up for time in which nothing was offered, so on this shared
    machine a run in which the sender itself stalled (a gap over 50 ms) is repeated.
    """
    for _attempt in range(3):
        got = [0]
        stop = threading.Event()
        recv_sock.settimeout(0.2)

        def rx(stop: threading.Event = stop, got: list[int] = got) -> None:
            while not stop.is_set():
                try:
                    n = len(recv_sock.recv(65535))
                except TimeoutError:
                    continue
                got[0] += n + inner_overhead

        t = threading.Thread(target=rx)
        t.start()
        pkt_bits = (payload_len + 28) * 8
        payload = b"\xab" * payload_len
        sent = 0
        worst_gap = 0.0
        t0 = last = time.monotonic()
        while True:
            now = time.monotonic()
            worst_gap = max(worst_gap, now - last)
            last = now
            el = now - t0
            if el >= secs:
                break
            while sent * pkt_bits < el * rate_bps:
                send(payload)
                sent += 1
            time.sleep(0.0005)
        time.sleep(0.3)
        stop.set()
        t.join()
        if worst_gap < 0.05:
            break
    return got[0] * 8 / secs


def test_session_ambr_is_enforced(net: Net) -> None:
    """A 10 Mbit/s session AMBR: UDP offered at 30 Mbit/s arrives within 10% of 10 Mbit/s."""
    s = net.new_session(mbr_kbps=10_000)
    dn = udp_socket(net.topo.ns_dn, (net.topo.dn, 9002))
    try:
        ul = _measure(lambda p: net.send_ul(s, udp4(s.ue, net.topo.dn, 5000, 9002, p)), dn,
                      972, 28, 30e6, 3.0)
        assert 9e6 <= ul <= 11e6, f"uplink {ul / 1e6:.2f} Mbit/s"
        net.drain_n3()
        # downlink: the gNB socket receives GTP-U; count the inner IP packet (16-octet header).
        dl = _measure(lambda p: dn.sendto(p, (s.ue, 5000)), net.gnb, 972, -16, 30e6, 3.0)
        print(f"AMBR 10 Mbit/s, UDP offered at 30: uplink {ul / 1e6:.2f}, downlink {dl / 1e6:.2f}")
        assert 9e6 <= dl <= 11e6, f"downlink {dl / 1e6:.2f} Mbit/s"
        # Above the rate the shaper's FIFO fills and its tail is dropped (drop-tail).
        assert net.topo.stats()["fivecore_upf_drop_rate_limited_total"] > 0
    finally:
        dn.close()


def test_volume_threshold_report_and_deletion_usage(net: Net) -> None:
    s = net.new_session(threshold=5000)
    dn = udp_socket(net.topo.ns_dn, (net.topo.dn, 9003))
    try:
        for _ in range(5):  # 5 x 1000-octet IP packets reach the 5000-octet threshold
            net.send_ul(s, udp4(s.ue, net.topo.dn, 4000, 9003, b"u" * 972))
            dn.recvfrom(2048)
        rep = net.smf.wait_report()
        assert rep.msg_type == "SessionReportRequest" and rep.report_type & pfcp.REPORT_USAR
        ur = rep.ies.all("usage_report")[0]
        assert ur.urr_id == 1 and ur.usage_report_trigger & pfcp.TRIGGER_VOLTH
        assert ur.volume_measurement.ul == 5000 and ur.volume_measurement.ul_packets == 5
        net.send_ul(s, udp4(s.ue, net.topo.dn, 4000, 9003, b"u" * 972))
        dn.recvfrom(2048)
        net.drain_n3()
        for _ in range(3):
            dn.sendto(b"d" * 472, (s.ue, 4000))  # 500-octet IP packets downlink
            net.recv_n3()
        rsp = net.smf.request("SessionDeletionRequest", seid=s.up_seid)
        assert rsp.cause == pfcp.CAUSE_ACCEPTED
        vol = rsp.ies.all("usage_report_deletion")[0].volume_measurement
        assert (vol.ul, vol.dl, vol.total) == (1000, 1500, 2500)
        assert (vol.ul_packets, vol.dl_packets) == (1, 3)
        em = net.recv_n3()
        assert em.msg_type == gtpu.END_MARKER and em.teid == s.dl_teid
        # The tunnel is gone: its TEID now gets an Error Indication.
        net.send_ul(s, udp4(s.ue, net.topo.dn, 4000, 9003, b"late"))
        assert net.recv_n3().msg_type == gtpu.ERROR_INDICATION
    finally:
        dn.close()


def test_path_switch_sends_end_marker_then_uses_new_tunnel(net: Net) -> None:
    s = net.new_session()
    dn = udp_socket(net.topo.ns_dn, (net.topo.dn, 9004))
    try:
        net.drain_n3()
        rsp = net.smf.request(
            "SessionModificationRequest", seid=s.up_seid,
            update_far=[Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                            update_forwarding_parameters=Ies(
                                destination_interface=pfcp.IF_ACCESS,
                                outer_header_creation=pfcp.OuterHeaderCreation.gtpu(
                                    0x7777, net.topo.n3_gnb),
                                pfcpsmreq_flags=pfcp.Flags(0x02, 1)))])
        assert rsp.cause == pfcp.CAUSE_ACCEPTED
        em = net.recv_n3()
        assert em.msg_type == gtpu.END_MARKER and em.teid == s.dl_teid
        dn.sendto(b"after switch", (s.ue, 4000))
        msg = net.recv_n3()
        assert msg.msg_type == gtpu.G_PDU and msg.teid == 0x7777
    finally:
        dn.close()


def test_idle_ue_downlink_is_buffered_reported_and_delivered(net: Net) -> None:
    """TS 23.502 §4.2.3.3: BUFF+NOCP -> Downlink Data Report -> FORW flushes the buffer."""
    s = net.new_session(buffering=True)
    dn = udp_socket(net.topo.ns_dn, (net.topo.dn, 9005))
    try:
        net.drain_n3()
        for i in range(3):
            dn.sendto(b"paging %d" % i, (s.ue, 4000))
        rep = net.smf.wait_report()
        assert rep.report_type & pfcp.REPORT_DLDR
        assert rep.downlink_data_report.pdr_id == 2
        rsp = net.smf.request(
            "SessionModificationRequest", seid=s.up_seid,
            update_far=[Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                            update_forwarding_parameters=Ies(
                                destination_interface=pfcp.IF_ACCESS,
                                outer_header_creation=pfcp.OuterHeaderCreation.gtpu(
                                    s.dl_teid, net.topo.n3_gnb)))])
        assert rsp.cause == pfcp.CAUSE_ACCEPTED
        got = [net.recv_n3() for _ in range(3)]
        assert [m.teid for m in got] == [s.dl_teid] * 3
        assert [m.payload[28:] for m in got] == [b"paging 0", b"paging 1", b"paging 2"]
    finally:
        dn.close()


def test_malformed_pfcp_gets_cause_and_upf_keeps_serving(net: Net) -> None:
    # From another port, so the Wireshark check below can leave these deliberate errors out.
    bad = udp_socket(net.topo.ns_upf, ("127.0.0.4", 18805))
    try:
        good = pfcp.encode(PfcpMessage.build(
            "SessionEstablishmentRequest", seq=31337, seid=0, node_id=NodeId.ipv4("127.0.0.4"),
            f_seid=FSeid(1, "127.0.0.4"),
            create_pdr=[Ies(pdr_id=1, precedence=1, pdi=Ies(source_interface=0), far_id=1)],
            create_far=[Ies(far_id=1, apply_action=pfcp.APPLY_FORW)]))
        data = bytearray(good)
        struct.pack_into("!H", data, 18, 4)  # Node ID value one octet short
        del data[24]
        struct.pack_into("!H", data, 2, len(data) - 4)
        bad.sendto(bytes(data), ("127.0.0.7", 8805))
        rsp = pfcp.decode(bad.recv(65535))
        assert rsp.msg_type == "SessionEstablishmentResponse" and rsp.seq == 31337
        assert rsp.cause == pfcp.CAUSE_MANDATORY_IE_INCORRECT
        assert rsp.offending_ie == pfcp.IE_NAMES["node_id"]
        for junk in (b"\x00", b"\xff" * 64, good[:20], os.urandom(300)):
            bad.sendto(junk, ("127.0.0.7", 8805))
        # Junk on N3 too, from the same excluded port.
        junk_n3 = udp_socket(net.topo.ns_gnb, (net.topo.n3_gnb, 18805))
        for junk in (b"\x32", b"\x30\xff\x00\x10" + b"\x00" * 4, b"\x34\xff\x00\x08" +
                     b"\x00" * 8 + b"\x00" * 4, os.urandom(100)):
            junk_n3.sendto(junk, (net.topo.n3_upf, 2152))
        junk_n3.close()
        net.gnb.sendto(gtpu.build_echo_request(5), (net.topo.n3_upf, 2152))
        # The well-formed junk G-PDU (TEID 0) earns an Error Indication first.
        kinds = [net.recv_n3().msg_type for _ in range(2)]
        assert kinds == [gtpu.ERROR_INDICATION, gtpu.ECHO_RESPONSE]
        hb = net.smf.request("HeartbeatRequest", recovery_time_stamp=net.smf.recovery)
        assert hb.msg_type == "HeartbeatResponse"
        assert net.topo.proc is not None and net.topo.proc.poll() is None
        assert net.topo.stats()["fivecore_upf_pfcp_malformed_total"] >= 1
    finally:
        bad.close()


def test_reassociation_with_new_recovery_timestamp_drops_old_sessions(net: Net) -> None:
    other = Smf(udp_socket(net.topo.ns_upf, ("127.0.0.5", 8805)), "127.0.0.5", 1000)
    try:
        assert other.associate().cause == pfcp.CAUSE_ACCEPTED
        s = other.establish(1, "10.45.1.1", net.topo.n3_gnb, 0x5000)
        sessions = net.topo.stats()["fivegs_upffunction_upf_sessionnbr"]
        other.recovery += 1  # the CP function restarted
        assert other.associate().cause == pfcp.CAUSE_ACCEPTED
        assert net.topo.stats()["fivegs_upffunction_upf_sessionnbr"] == sessions - 1
        net.drain_n3()
        net.send_ul(s, udp4(s.ue, net.topo.dn, 1, 9000, b"stale"))
        assert net.recv_n3().msg_type == gtpu.ERROR_INDICATION
        rsp = other.request("SessionDeletionRequest", seid=s.up_seid)
        assert rsp.cause == pfcp.CAUSE_SESSION_CONTEXT_NOT_FOUND
    finally:
        other.sock.close()


def test_zz_wireshark_decodes_n3_and_n4_without_errors(net: Net) -> None:
    """Runs last in this module: tshark reads the whole N3 and N4 capture."""
    # Some traffic of its own, so the check is never vacuous when run alone.
    s = net.new_session()
    net.drain_n3()
    net.send_ul(s, icmp_echo(s.ue, net.topo.dn, ident=1, seq=1))
    assert net.recv_n3().msg_type == gtpu.G_PDU
    time.sleep(0.3)
    net.topo.stop_captures()
    counts = {}
    for pcap, proto in zip(net.topo.pcaps, ("pfcp", "gtp"), strict=True):
        # The deliberately malformed PFCP came from port 18805; everything else must be clean.
        flt = f"{proto} && !(udp.port == 18805)"
        out = sh("tshark", "-r", str(pcap), "-Y", flt, "-T", "fields", "-e", "frame.number").stdout
        counts[proto] = len(out.split())
        bad = sh("tshark", "-r", str(pcap), "-Y",
                 f"({flt}) && (_ws.malformed || _ws.expert.severity >= \"error\")",
                 "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message").stdout
        assert bad.strip() == "", f"{pcap.name}: tshark errors:\n{bad}"
    assert counts["pfcp"] >= 4 and counts["gtp"] >= 2, counts
