"""The networks the e2e tests share, and the steps several of them take.

- The PDU-session network: NRF, UDR, UDM, AUSF, PCF, NSSF, SMF and AMF as processes, the UPF in
  a process of its own, a data-network namespace behind it and one namespace per UE
  (``SessionCore``; ``session_network`` for a module fixture, ``Sim`` for one test's simulator,
  ``ping``).
- The AMF-only network: NRF, UDR, UDM, AUSF and AMF (``amf_core`` for a module fixture).
- Steps: ``established_and_pinging``, ``go_idle``, ``idle_on_disk``, ``restart``,
  ``back_as_they_were``.

Every pytest run picks its own loopback addresses, UE pool, TUN and namespace names (``TAG``),
so it can run beside other tests; ``session_network`` removes everything it created even when a
test fails. Not a test module: e2e modules import it as ``netkit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import await_until

from fivecore.nf.amf.launch import AmfCore
from fivecore.nf.common.launch import NfProcess, free_port
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.ue import UeState
from fivecore.ran.userplane import UserPlane

TAG = random.randint(1, 199)
NET = f"127.{50 + TAG % 150}.{TAG}."          # our own loopback addresses
SMF_N4, UPF_ADDR, GNB_N3 = NET + "4", NET + "7", NET + "1"
POOL_OCTET = 100 + TAG % 100
UE_POOL = f"10.{POOL_OCTET}.0.0/16"
DN_NET = f"172.31.{TAG}."
DN_HOST = DN_NET + "2"
DN_NS = f"fcdn{TAG}"
UPF_TUN = f"fcupf{TAG}"
UE_NS = f"fc{TAG}u"
FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
FORWARD_BEFORE: list[str] = []


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


class SessionCore(AmfCore):
    """AmfCore plus PCF, NSSF and SMF processes, and the UPF in its own process."""

    ORDER = ("nrf", "udr", "udm", "ausf", "pcf", "nssf", "smf", "amf")

    def __init__(self, workdir: Path, **kw: Any) -> None:
        super().__init__(workdir, **kw)
        nrf_uri = self.config["udm"]["nrf_uri"]
        host = "127.0.0.1"
        self.config["logging"] = {"level": "info"}
        self.config["pcf"] = {"sbi": {"address": host, "port": free_port(host)}, "nrf_uri": nrf_uri}
        self.config["nssf"] = {"sbi": {"address": host, "port": free_port(host)}, "nrf_uri": nrf_uri}
        self.config["smf"] = {
            "sbi": {"address": host, "port": free_port(host)}, "nrf_uri": nrf_uri,
            "pfcp": {"address": SMF_N4, "port": 8805, "heartbeat_interval": 1.0, "t1": 1.0, "n1": 3},
            "dnns": [{"dnn": "internet", "ipv4_pool": UE_POOL}],
            "upfs": [{"address": UPF_ADDR, "port": 8805}],
            "usage_report_volume": 10_000_000,
        }
        for n in ("pcf", "nssf", "smf"):
            self.procs[n] = NfProcess(n, self.config, self.workdir)
        self.upf_cfg = {"upf": {
            "pfcp_address": UPF_ADDR, "gtpu_address": UPF_ADDR, "tun_name": UPF_TUN, "subnet": UE_POOL,
            "tun_create": False,
            "heartbeat_interval": 2.0, "stats_file": str(self.workdir / "upf-stats.json"),
            "stats_interval": 0.2,
        }}
        self.upf: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> SessionCore:
        for n in self.ORDER:
            self.procs[n].start(timeout)
        self.wait_registered(("UDR", "UDM", "AUSF", "PCF", "NSSF", "SMF", "AMF"), timeout)
        return self

    # --- the UPF ----------------------------------------------------------------------------

    def make_upf_tun(self) -> None:
        """The N6 TUN, made persistent beforehand (the UPF opens it; its address stays)."""
        sh("ip", "link", "del", UPF_TUN, check=False)
        sh("ip", "tuntap", "add", "dev", UPF_TUN, "mode", "tun")
        gw = UE_POOL.replace(".0.0/16", ".0.1/16")
        sh("ip", "addr", "add", gw, "dev", UPF_TUN)
        sh("ip", "link", "set", UPF_TUN, "mtu", "1500", "up")

    def start_upf(self, timeout: float = 20.0) -> None:
        path = self.workdir / "upf.yaml"
        path.write_text(yaml.safe_dump(self.upf_cfg))
        seen = len(self.log("upf"))
        log = (self.workdir / "upf.log").open("ab")
        self.upf = subprocess.Popen([sys.executable, "-m", "fivecore.nf.upf", "--config", str(path)],
                                    stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.upf.poll() is not None:
                raise RuntimeError(f"UPF exited:\n{self.log('upf')[-3000:]}")
            if os.path.exists(f"/sys/class/net/{UPF_TUN}") and "ready" in self.log("upf")[seen:]:
                return
            time.sleep(0.05)
        raise RuntimeError(f"UPF not ready:\n{self.log('upf')[-3000:]}")

    def kill_upf(self) -> None:
        if self.upf is not None and self.upf.poll() is None:
            self.upf.send_signal(signal.SIGKILL)
            self.upf.wait(10)

    def stop_upf(self) -> None:
        if self.upf is not None and self.upf.poll() is None:
            self.upf.send_signal(signal.SIGTERM)
            try:
                self.upf.wait(5)
            except subprocess.TimeoutExpired:
                self.kill_upf()

    def upf_stats(self) -> dict[str, int]:
        try:
            return json.loads((self.workdir / "upf-stats.json").read_text())
        except (OSError, ValueError):
            return {}

    def log(self, name: str) -> str:
        try:
            return (self.workdir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def smf_info(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.procs["smf"].uri + "/fivecore-smf/v1/pdu-info", timeout=5) as r:  # noqa: S310
            return json.loads(r.read())

    async def asmf_info(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.smf_info)

    def stop(self) -> None:
        self.stop_upf()
        super().stop()
        sh("ip", "link", "del", UPF_TUN, check=False)


def make_dn() -> None:
    """The data network: namespace DN_NS with DN_HOST, reached from the host over a veth."""
    remove_dn()
    sh("ip", "netns", "add", DN_NS)
    sh("ip", "link", "add", f"{DN_NS}h", "type", "veth", "peer", "name", f"{DN_NS}n")
    sh("ip", "link", "set", f"{DN_NS}n", "netns", DN_NS)
    sh("ip", "addr", "add", DN_NET + "1/24", "dev", f"{DN_NS}h")
    sh("ip", "link", "set", f"{DN_NS}h", "up")
    sh("ip", "-n", DN_NS, "addr", "add", DN_HOST + "/24", "dev", f"{DN_NS}n")
    sh("ip", "-n", DN_NS, "link", "set", f"{DN_NS}n", "up")
    sh("ip", "-n", DN_NS, "link", "set", "lo", "up")
    sh("ip", "-n", DN_NS, "route", "add", UE_POOL, "via", DN_NET + "1")
    FORWARD_BEFORE.append(FORWARD.read_text())
    FORWARD.write_text("1\n")


def remove_dn() -> None:
    sh("ip", "link", "del", f"{DN_NS}h", check=False)
    sh("ip", "netns", "del", DN_NS, check=False)
    if FORWARD_BEFORE and FORWARD_BEFORE[0].strip() == "0":
        FORWARD.write_text("0\n")  # put the host back as it was
    FORWARD_BEFORE.clear()


def start_core(tmp_path_factory: pytest.TempPathFactory, name: str, **sections: Any) -> SessionCore:
    """A started :class:`SessionCore` (``sections``: NF config overrides); three tries, since a
    port another process took meanwhile fails a start."""
    last: Exception | None = None
    for i in range(3):
        c = SessionCore(tmp_path_factory.mktemp(f"{name}{i}"), **sections)
        try:
            c.start()
            return c
        except (RuntimeError, TimeoutError) as exc:
            c.stop()
            last = exc
    raise AssertionError(f"core did not start: {last}")


@contextlib.contextmanager
def amf_core(tmp_path_factory: pytest.TempPathFactory, name: str, *, needs_tshark: bool = False,
             **sections: Any) -> Iterator[AmfCore]:
    """The smaller network of the AMF's e2e tests: NRF, UDR, UDM, AUSF and AMF as processes
    (``AmfCore.launch``; ``sections``: NF config overrides) in a fresh directory named after
    ``name``, stopped on leaving. Skips without root (userspace SCTP uses raw sockets) and, with
    ``needs_tshark``, without tshark. For a module fixture: ``with amf_core(...) as c:``,
    provision, ``yield c``."""
    if os.geteuid() != 0:
        pytest.skip("userspace SCTP needs raw sockets (root)")
    if needs_tshark and shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    c = AmfCore.launch(tmp_path_factory.mktemp(name), **sections)
    try:
        yield c
    finally:
        c.stop()


def remove_ue_namespaces() -> None:
    for ns in sh("ip", "netns", "list", check=False).stdout.split("\n"):
        name = ns.split(" ", 1)[0]
        if name.startswith(UE_NS):
            sh("ip", "netns", "del", name, check=False)


def session_network(tmp_path_factory: pytest.TempPathFactory, name: str, subscribers: int,
                    **sections: Any) -> Iterator[SessionCore]:
    """A module fixture's body: the started core with ``subscribers`` provisioned, its UPF
    and the data-network namespace; everything removed afterwards (UE namespaces too)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-socket SCTP, TUN devices, network namespaces")
    if shutil.which("ping") is None:
        pytest.skip("iputils-ping is not installed")
    c = start_core(tmp_path_factory, name, **sections)
    try:
        c.provision(subscribers)
        c.make_upf_tun()
        c.start_upf()
        make_dn()
        yield c
    finally:
        c.stop()
        remove_dn()
        remove_ue_namespaces()


class Sim:
    """One test's simulator: RanSim + UserPlane, always torn down."""

    def __init__(self, core: SessionCore, n_ues: int, first: int) -> None:
        first_imsi = f"{int('001010000000001') + first:015d}"
        self.sim = RanSim(load_ran_config(core.ran_config(first_imsi=first_imsi)), n_ues=n_ues)
        self.up = UserPlane(ns_prefix=UE_NS)
        self.first = first

    async def __aenter__(self) -> Sim:
        await self.sim.start()
        for g in self.sim.gnbs:
            await self.up.add_gnb(g, GNB_N3)
        for i, ru in enumerate(self.sim.ues):
            self.up.enable(ru, self.first + i)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        # de-register (which releases the SM contexts) so the next test starts from a clean core
        registered = [ru for ru in self.sim.ues if ru.ue.state == UeState.REGISTERED and ru.amf_id is not None]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sim.deregister_all(registered, concurrency=32, timeout=10), 30)
        await self.up.close()
        await self.sim.stop()

    async def register(self, concurrency: int = 32) -> None:
        sem = asyncio.Semaphore(concurrency)

        async def one(ru: Any) -> UeState:
            async with sem:
                return await self.sim.register(ru, follow_on=True)

        states = await asyncio.gather(*(one(ru) for ru in self.sim.ues))
        assert set(states) == {UeState.REGISTERED}, self.sim.summary()

    async def establish_all(self, concurrency: int = 16) -> None:
        sem = asyncio.Semaphore(concurrency)

        async def one(ru: Any) -> None:
            async with sem:
                await self.up.establish(ru, timeout=30)

        await asyncio.gather(*(one(ru) for ru in self.sim.ues))


GNB_B_N3 = NET + "11"  # the second gNB's N3 address in the handover tests


class TwoGnbs:
    """A handover test's simulator: gNBs A and B, each with a user plane (B's N3 at
    ``GNB_B_N3``), and one UE registered through A with a PDU session that pings the data
    network. ``frames`` gets every NGAP message either gNB sent or received, ``n3_a`` every
    GTP-U datagram at A. Torn down on leaving (the UE is not de-registered: each test ends its
    own procedures)."""

    def __init__(self, core: SessionCore, first: int) -> None:
        first_imsi = f"{int('001010000000001') + first:015d}"
        self.sim = RanSim(load_ran_config(core.ran_config(first_imsi=first_imsi)), n_gnbs=2, n_ues=1)
        self.up = UserPlane(ns_prefix=UE_NS)
        self.first = first
        self.frames: list[tuple[str, bytes, int]] = []
        self.n3_a: list[tuple[bytes, Any, Any]] = []

    async def __aenter__(self) -> TwoGnbs:
        try:
            await self.sim.start()
            self.up_a = await self.up.add_gnb(self.sim.nodes[0], GNB_N3)
            self.up_b = await self.up.add_gnb(self.sim.nodes[1], GNB_B_N3)
            self.a, self.b = self.sim.nodes[0].links[0], self.sim.nodes[1].links[0]
            for g in (self.a, self.b):
                g.tap = lambda d, data, stream: self.frames.append((d, data, stream))
            self.up_a.tap = lambda data, src, dst: self.n3_a.append((data, src, dst))
            self.ru = ru = self.sim.ues[0]
            self.up.enable(ru, self.first)
            assert ru.gnb is self.a
            assert await self.sim.register(ru, follow_on=True) == UeState.REGISTERED
            await self.up.establish(ru, timeout=30)
            ns = self.up.namespace(ru)
            assert ns is not None
            self.ns: str = ns
            loss, out = await ping(ns, DN_HOST, 3)
            assert loss == 0, out
            t = self.up.tunnel(ru)
            assert t is not None and t.dl_teid in self.up_a.tunnels
            self.tunnel = t
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.up.close()
        await self.sim.stop()


PINGER = r"""
import os, socket, struct, sys, time
host, count = sys.argv[1], int(sys.argv[2])
ident = os.getpid() & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def csum(b):
    if len(b) % 2:
        b += b"\0"
    v = sum(struct.unpack(f"!{len(b) // 2}H", b)); v = (v >> 16) + (v & 0xFFFF); v += v >> 16
    return ~v & 0xFFFF
got = set(); deadline = None
for seq in range(1, count + 1):
    body = struct.pack("!d", time.time()) + bytes(48)
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + body), ident, seq) + body, (host, 0))
    end = time.monotonic() + (0.2 if seq < count else 10.0)
    while time.monotonic() < end and len(got) < count:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            pkt = s.recv(2048)
        except socket.timeout:
            break
        ihl = (pkt[0] & 0xF) * 4
        t, _, _, i, q = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
        if t == 0 and i == ident:
            got.add(q)
print(f"{count} packets transmitted, {len(got)} received, {100 * (count - len(got)) // count}% packet loss")
"""


async def ping(ns: str, host: str, count: int = 3) -> tuple[int, str]:
    """Loss in percent of ``count`` ICMP echo requests from namespace ``ns``, each reply
    awaited up to 10 s (iputils' ping stops waiting two RTTs after the last reply, which on a
    loaded machine counts a merely late reply as lost)."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, sys.executable, "-c", PINGER, host, str(count),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode()
    for part in out.replace(",", "\n").split("\n"):
        if "packet loss" in part:
            return int(float(part.strip().split("%")[0])), out
    return 100, out


async def ping_tool(ns: str, host: str) -> str:
    """iputils ping through the 5G network, as a user would run it."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, "ping", "-n", "-c", "2", "-W", "10", host,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    return (await proc.communicate())[0].decode()




# --- steps several tests take -----------------------------------------------------------------


async def established_and_pinging(s: Sim, count: int = 2) -> dict[Any, str | None]:
    """Every UE of ``s`` registered with one PDU session (TS 23.502 §4.3.2.2.1) that carries
    ``count`` pings to the data network with 0 % loss. Returns each UE's address (by ``id`` of
    its simulated UE)."""
    await s.register()
    await s.establish_all()
    addr = {id(ru): s.up.session(ru).ipv4 for ru in s.sim.ues}
    for ru in s.sim.ues:
        loss, out = await ping(s.up.namespace(ru), DN_HOST, count)
        assert loss == 0, out
    return addr


async def go_idle(core: SessionCore, s: Sim) -> None:
    """User inactivity (TS 38.413 §8.3.2, TS 23.502 §4.2.6): every UE CM-IDLE, its user plane
    deactivated, and nothing of it left waiting for the AMF's next persistence flush."""
    for ru in s.sim.ues:
        ru.gnb.release_request(ru)
    await await_until("every UE CM-IDLE", lambda: all(ru.ran_id is None and s.up.tunnel(ru) is None
                                                      for ru in s.sim.ues), timeout=30, period=0.05)
    await await_until("the idle UEs on the AMF's disk", core.idle_and_stored, timeout=30, period=0.05)


async def idle_on_disk(core: SessionCore, s: Sim, smf: bool = True) -> dict[Any, str | None]:
    """Register, establish, ping, go CM-IDLE; wait until the AMF (and with ``smf`` the SMF)
    has it all on disk. Returns each UE's address (by ``id`` of its simulated UE)."""
    gnb = s.sim.gnbs[0]
    gnb.reconnect_initial, gnb.reconnect_max = 0.2, 1.0
    s.sim.reregister_after_reject = False  # a #9 must show, not be papered over
    addr = await established_and_pinging(s)
    await go_idle(core, s)
    if not smf:
        return addr

    async def smf_stored() -> bool:
        info = await core.asmf_info()
        mine = [x for x in info["sessions"] if x["ueIpv4Address"] in addr.values()]
        p = info["persist"]
        return (len(mine) == len(s.sim.ues) and all(x["dlTeid"] is None for x in mine)
                and p["active"] and not p["pending"])

    await await_until("the deactivated sessions on the SMF's disk", smf_stored, timeout=30, period=0.05)
    return addr


async def restart(core: SessionCore, s: Sim, names: tuple[str, ...]) -> None:
    """SIGKILL the NF processes ``names`` (the AMF among them), then start them again; the
    gNB finds its old N2 association gone and sets NG up with the restarted AMF."""
    gnb = s.sim.gnbs[0]
    lost = gnb.stats.associations_lost
    for name in names:
        core.procs[name].kill()
    for name in names:
        await asyncio.to_thread(core.procs[name].start)
    await await_until("the gNB noticed the old association is gone",
                      lambda: gnb.stats.associations_lost > lost, timeout=60, period=0.05)
    await await_until("NG Setup with the restarted AMF", lambda: gnb.ready, timeout=60, period=0.05)


async def back_as_they_were(core: SessionCore, s: Sim, addr: dict[Any, str | None]) -> None:
    """After the restart: every UE's Service Request (uplink data, Uplink data status) is
    accepted under its stored context, its session is ACTIVE with the address it had, and it
    pings with 0 % loss; no UE registered again."""
    n = len(s.sim.ues)
    for ru in s.sim.ues:
        await s.up.resume(ru, timeout=30)
        sess = s.up.session(ru)
        assert sess is not None and sess.state == "ACTIVE" and sess.ipv4 == addr[id(ru)]
        assert s.up.tunnel(ru) is not None
    for ru in s.sim.ues:
        loss, out = await ping(s.up.namespace(ru), DN_HOST, 3)
        assert loss == 0, out
    c = await core.acounters()
    assert c.get("service_request") == n and c.get("service_reject", 0) == 0, c
    assert c.get("registration_request", 0) == 0, "no UE registered again"
    assert c.get("sm_reactivation_failed", 0) == 0 and c.get("sm_service_ics") == n, c
