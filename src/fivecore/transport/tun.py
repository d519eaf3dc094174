"""TUN devices: layer-3 interfaces whose packets a process reads and writes as plain IP.

Linux's TUN driver (Documentation/networking/tuntap.rst): open ``/dev/net/tun`` and attach
the file descriptor to an interface with the ``TUNSETIFF`` ioctl. ``IFF_TUN`` gives IP
packets (no Ethernet header), ``IFF_NO_PI`` drops the 4-byte packet-information prefix, so
each read() returns exactly one IP packet and each write() injects one.

Attaching to an interface that already exists (created with ``ip tuntap add``, as a UPF
benchmark harness does) uses the same ioctl; creating one needs CAP_NET_ADMIN. Address and
link state are set with iproute2's ``ip``.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import struct
import subprocess

from fivecore.errors import FivecoreError

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFNAMSIZ = 16


class TunError(FivecoreError):
    """The TUN device could not be opened or configured."""


def open_tun(name: str, *, nonblocking: bool = True) -> int:
    """Open /dev/net/tun and attach it to ``name`` (creating it if it does not exist).

    Returns the file descriptor; the caller owns it. The interface disappears when the
    descriptor is closed unless it was created persistent beforehand (``ip tuntap add``).
    """
    if not name or len(name.encode()) >= IFNAMSIZ:
        raise TunError(f"invalid TUN name {name!r}")
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_NONBLOCK if nonblocking else 0)
    try:
        fd = os.open("/dev/net/tun", flags)
    except OSError as exc:
        raise TunError(f"cannot open /dev/net/tun: {exc.strerror}") from exc
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    try:
        fcntl.ioctl(fd, TUNSETIFF, ifr)
    except OSError as exc:
        os.close(fd)
        raise TunError(f"TUNSETIFF {name}: {exc.strerror}") from exc
    return fd


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def configure(name: str, address: str | None = None, *, mtu: int | None = None,
              up: bool = True) -> None:
    """Give the interface an address (CIDR, e.g. ``10.45.0.1/16``), an MTU, and set it up.

    Uses iproute2's ``ip`` (rtnetlink underneath): pyroute2's synchronous API runs its own
    asyncio loop and cannot be called from inside a running one, which is where NFs start.
    """
    if not link_exists(name):
        raise TunError(f"interface {name} not found")
    if mtu is not None:
        _ip("link", "set", "dev", name, "mtu", str(mtu))
    if address is not None:
        iface = ipaddress.ip_interface(address)
        shown = _ip("-o", "addr", "show", "dev", name)
        if f" {iface.with_prefixlen} " not in shown:
            _ip("addr", "add", iface.with_prefixlen, "dev", name)
    if up:
        _ip("link", "set", "dev", name, "up")


def _ip(*args: str) -> str:
    try:
        res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TunError(f"ip {' '.join(args)}: {exc}") from exc
    if res.returncode != 0:
        raise TunError(f"ip {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


class Tun:
    """An open TUN interface: ``fd`` for the datapath, ``name`` for humans."""

    def __init__(self, name: str, *, create: bool = True, address: str | None = None,
                 mtu: int | None = None) -> None:
        """Open ``name``; with ``create`` set it up with ``address``, otherwise it must exist."""
        if not create and not link_exists(name):
            raise TunError(f"TUN {name} does not exist (set create: true to create it)")
        self.name = name
        self.fd = open_tun(name)
        try:
            if create:
                configure(name, address, mtu=mtu, up=True)
        except Exception:
            os.close(self.fd)
            raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Tun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
