"""The demo's data network: a host in its own network namespace behind the UPF's N6.

    UPF ──N6 TUN (ogstun, 10.45.0.1/16)── host routing ── veth fc-dn0 (10.46.0.1/24)
                                                              │
                                       netns fc-dn: eth0 10.46.0.2/24, route 10.45.0.0/16 via 10.46.0.1

The host forwards between the TUN and the veth (``net.ipv4.ip_forward`` is switched on and put
back as it was). Everything is created with iproute2 and removed by :meth:`DataNetwork.remove`,
which is safe to call twice and after a partial :meth:`create`.
"""

from __future__ import annotations

import ipaddress
import logging
import subprocess
from pathlib import Path

from fivecore.errors import FivecoreError

log = logging.getLogger("fivecore.dn")

FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


class DnError(FivecoreError):
    """The data-network namespace could not be set up."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise DnError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


class DataNetwork:
    """One DN namespace (see module docstring)."""

    def __init__(self, dn_address: str, ue_pool: str, name: str = "fc-dn") -> None:
        self.name = name
        self.host_if = f"{name}0"
        self.address = dn_address
        net = ipaddress.IPv4Network(f"{dn_address}/24", strict=False)
        self.gateway = str(next(h for h in net.hosts() if str(h) != dn_address))
        self.prefix = net.prefixlen
        self.ue_pool = ue_pool
        self._forward_before: str | None = None
        self._created = False

    def exists(self) -> bool:
        return Path(f"/run/netns/{self.name}").exists()

    def create(self) -> None:
        if self.exists():
            raise DnError(f"network namespace {self.name} already exists (left by another run?); "
                          f"remove it with `ip netns del {self.name}`")
        self._created = True
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", "eth0", "netns", self.name)
            _ip("addr", "add", f"{self.gateway}/{self.prefix}", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            _ip("-n", self.name, "addr", "add", f"{self.address}/{self.prefix}", "dev", "eth0")
            _ip("-n", self.name, "link", "set", "eth0", "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "route", "add", self.ue_pool, "via", self.gateway)
            self._forward_before = FORWARD.read_text().strip()
            FORWARD.write_text("1\n")
        except (DnError, OSError) as exc:
            self.remove()
            raise DnError(f"data network: {exc}") from None
        log.info("event=dn_created netns=%s address=%s", self.name, self.address)

    def remove(self) -> None:
        if self._forward_before is not None:
            try:
                FORWARD.write_text(self._forward_before + "\n")
            except OSError as exc:
                log.warning("event=dn_forward_restore_failed err=%s", exc)
            self._forward_before = None
        if not self._created:
            return
        _ip("link", "del", self.host_if, check=False)  # deletes the peer too
        _ip("netns", "del", self.name, check=False)
        self._created = False
        log.info("event=dn_removed netns=%s", self.name)

    def exec_args(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *cmd]
