"""The demo's data network: a host in its own network namespace behind the UPF's N6.

    UPF ──N6 TUN (ogstun, 10.45.0.1/16)── host routing ── veth fc-dn0 (10.46.0.1/24)
                                                              │
                                       netns fc-dn: eth0 10.46.0.2/24, route 10.45.0.0/16 via 10.46.0.1

The host forwards between the TUN and the veth (``net.ipv4.ip_forward`` is switched on and put
back as it was). Everything is created with iproute2 and removed by :meth:`DataNetwork.remove`,
which is safe to call twice and after a partial :meth:`create`.

With ``ipv6_address`` (IPv6 and IPv4v6 PDU sessions, TS 23.501 §5.8.2.2.3) the veth gets a /64
too (``fd00:46::1`` / ``fd00:46::2`` by default), the namespace routes the UE prefix pools via
the host's end, and the host already routes each pool into the N6 TUN (its ``<pool>::1``
address). The host then forwards IPv6 between exactly these two devices and no other: their
``net.ipv6.conf.<dev>.force_forwarding`` (Linux 6.17) is switched on, never
``net.ipv6.conf.all.forwarding``, which would turn every interface of the host into a router
(Linux then ignores the Router Advertisements its uplinks receive, unless their ``accept_ra`` is
2, and the host loses the default route it learnt from them). A kernel without the per-device
switch gets no IPv6 data network (:class:`DnError`).
"""

from __future__ import annotations

import ipaddress
import logging
import subprocess
from pathlib import Path

from fivecore.errors import FivecoreError

log = logging.getLogger("fivecore.dn")

FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
#: per-device IPv6 forwarding, independent of conf/all/forwarding (Linux >= 6.17)
IPV6_CONF = Path("/proc/sys/net/ipv6/conf")


def ipv6_forwarding_supported() -> bool:
    """Whether this kernel can forward IPv6 on chosen devices only (``force_forwarding``)."""
    return (IPV6_CONF / "default" / "force_forwarding").exists()


class DnError(FivecoreError):
    """The data-network namespace could not be set up."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise DnError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


class DataNetwork:
    """One DN namespace (see module docstring)."""

    def __init__(self, dn_address: str, ue_pool: str, name: str = "fc-dn", *,
                 ipv6_address: str | None = None, ue_pools6: list[str] | None = None,
                 n6_device: str | None = None) -> None:
        self.name = name
        self.host_if = f"{name}0"
        self.address = dn_address
        net = ipaddress.IPv4Network(f"{dn_address}/24", strict=False)
        self.gateway = str(next(h for h in net.hosts() if str(h) != dn_address))
        self.prefix = net.prefixlen
        self.ue_pool = ue_pool
        #: the DN host's IPv6 address (a /64 on the veth), the host side's, the UE prefix
        #: pools routed to N6, and the N6 device; None: IPv4 only
        self.address6 = str(ipaddress.IPv6Address(ipv6_address)) if ipv6_address else None
        self.gateway6: str | None = None
        if self.address6 is not None:
            net6 = ipaddress.IPv6Network(f"{self.address6}/64", strict=False)
            self.gateway6 = str(next(h for h in (net6.network_address + 1, net6.network_address + 2)
                                     if str(h) != self.address6))
            if not ue_pools6 or not n6_device:
                raise DnError("an IPv6 data network needs the UE prefix pools and the N6 device")
        self.ue_pools6 = [str(ipaddress.IPv6Network(p, strict=False)) for p in ue_pools6 or ()]
        self.n6_device = n6_device
        self._forward_before: str | None = None
        self._n6_force_before: str | None = None
        self._created = False

    def exists(self) -> bool:
        return Path(f"/run/netns/{self.name}").exists()

    def create(self) -> None:
        if self.exists():
            raise DnError(f"network namespace {self.name} already exists (left by another run?); "
                          f"remove it with `ip netns del {self.name}`")
        if self.address6 is not None and not ipv6_forwarding_supported():
            raise DnError("IPv6 to the data network needs per-device IPv6 forwarding "
                          "(net.ipv6.conf.<dev>.force_forwarding, Linux 6.17 or later); fivecore does not "
                          "switch on host-wide IPv6 forwarding")
        self._created = True
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", "eth0", "netns", self.name)
            if self.address6 is not None:
                self._no_dad()
            _ip("addr", "add", f"{self.gateway}/{self.prefix}", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            _ip("-n", self.name, "addr", "add", f"{self.address}/{self.prefix}", "dev", "eth0")
            _ip("-n", self.name, "link", "set", "eth0", "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "route", "add", self.ue_pool, "via", self.gateway)
            self._forward_before = FORWARD.read_text().strip()
            FORWARD.write_text("1\n")
            if self.address6 is not None:
                self._create_ipv6()
        except (DnError, OSError) as exc:
            self.remove()
            raise DnError(f"data network: {exc}") from None
        log.info("event=dn_created netns=%s address=%s address6=%s", self.name, self.address, self.address6)

    def _no_dad(self) -> None:
        """No Duplicate Address Detection (RFC 4862 §5.4) on either end of the veth, before the
        link comes up: the pair is ours alone, and while the host end's link-local address is
        tentative the kernel has no source for the Neighbor Solicitation of a forwarded packet
        (whose source, a UE's, is not on the veth), so the first packets towards the DN host
        would wait a retransmission timer (1 s, RFC 4861 §10) for its link-layer address."""
        if not (IPV6_CONF / self.host_if).exists():
            raise DnError(f"{self.host_if} has no IPv6 (IPv6 disabled on this host?)")
        (IPV6_CONF / self.host_if / "accept_dad").write_text("0\n")
        # /proc/sys as the namespace sees it; sh, not sysctl(8): procps is not always installed
        r = subprocess.run(["ip", "netns", "exec", self.name, "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise DnError(f"netns {self.name}: accept_dad: {r.stderr.strip()}")

    def _create_ipv6(self) -> None:
        """The IPv6 half (module docstring): addresses without DAD (a veth pair of our own has
        nobody else to collide with, and a tentative address could not be used for a second),
        routes to the UE pools, forwarding on the N6 device and the veth's host end only."""
        assert self.n6_device is not None and self.gateway6 is not None
        n6_force = IPV6_CONF / self.n6_device / "force_forwarding"
        if not n6_force.exists():
            raise DnError(f"N6 device {self.n6_device} has no IPv6 (is the UPF running?)")
        _ip("-6", "addr", "add", f"{self.gateway6}/64", "dev", self.host_if, "nodad")
        _ip("-n", self.name, "-6", "addr", "add", f"{self.address6}/64", "dev", "eth0", "nodad")
        for pool in self.ue_pools6:
            # the host's way to the pool is the prefix route of the N6 device's <pool>::1
            _ip("-n", self.name, "-6", "route", "add", pool, "via", self.gateway6)
        (IPV6_CONF / self.host_if / "force_forwarding").write_text("1\n")
        self._n6_force_before = n6_force.read_text().strip()
        n6_force.write_text("1\n")

    def remove(self) -> None:
        if self._forward_before is not None:
            try:
                FORWARD.write_text(self._forward_before + "\n")
            except OSError as exc:
                log.warning("event=dn_forward_restore_failed err=%s", exc)
            self._forward_before = None
        if self._n6_force_before is not None:
            # the N6 device is ``up``'s and may outlive the demo: put its switch back
            try:
                (IPV6_CONF / str(self.n6_device) / "force_forwarding").write_text(self._n6_force_before + "\n")
            except OSError as exc:
                log.debug("event=dn_n6_forward_restore_skipped err=%s", exc)
            self._n6_force_before = None
        if not self._created:
            return
        _ip("link", "del", self.host_if, check=False)  # deletes the peer too
        _ip("netns", "del", self.name, check=False)
        self._created = False
        log.info("event=dn_removed netns=%s", self.name)

    def exec_args(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *cmd]
