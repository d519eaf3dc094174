"""SMF state: SM contexts (one per PDU session) and the UE address pools per DNN.

TS 23.501 §5.8.2.2 (UE IP address management): the SMF allocates the UE's IPv4 address
from a pool of the DNN and, for IPv6, a /64 prefix from which the UE builds its addresses
(TS 23.501 §5.8.2.2.3). An address goes back to the pool when the PDU session is released.

Plain objects, no I/O: the SBI and N4 adapters read and change them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import deque
from collections.abc import Iterable
from enum import Enum
from typing import Any

from fivecore import rng
from fivecore.errors import FivecoreError


class PoolExhausted(FivecoreError):
    """No free address (or prefix) left in a pool (5GSM cause #26, TS 24.501 §6.4.1.4.1)."""


def _dotted(a: int) -> str:
    """``str(IPv4Address(a))`` for an address of the pool, without building the object."""
    return socket.inet_ntoa(a.to_bytes(4, "big"))


class Ipv4Pool:
    """UE IPv4 addresses of one DNN (TS 23.501 §5.8.2.2.1).

    Addresses are handed out in order first, then recycled oldest-released first, so a
    released address is not reused at once (a late downlink packet for the old session
    must not reach a new UE). Allocation and release are O(1).
    """

    def __init__(self, network: str, reserved: Iterable[str] = ()) -> None:
        self.network = ipaddress.IPv4Network(network, strict=False)
        first = int(self.network.network_address) + 1
        last = int(self.network.broadcast_address) - 1
        self._reserved = {int(ipaddress.IPv4Address(a)) for a in reserved}
        if not self._reserved:
            # the first host is the UPF's N6 interface address in the default layout
            self._reserved.add(first)
        self._next = first
        self._last = last
        self._free: deque[int] = deque()
        self._used: set[int] = set()

    @property
    def size(self) -> int:
        """Addresses that can be handed out in total."""
        first = int(self.network.network_address) + 1
        return self._last - first + 1 - sum(1 for r in self._reserved if first <= r <= self._last)

    @property
    def in_use(self) -> int:
        return len(self._used)

    def allocate(self, wanted: str | None = None) -> str:
        """A free address (``wanted`` if it is free, e.g. to restore a session)."""
        if wanted is not None:
            w = int(ipaddress.IPv4Address(wanted))
            if self._valid(w) and w not in self._used:
                if w >= self._next:
                    # skip it in the sequential part; the gap goes to the free list
                    for a in range(self._next, w):
                        if a not in self._reserved and a not in self._used:
                            self._free.append(a)
                    self._next = w + 1
                else:
                    try:
                        self._free.remove(w)
                    except ValueError:
                        pass
                self._used.add(w)
                return str(ipaddress.IPv4Address(w))
        while self._next <= self._last:
            a = self._next
            self._next += 1
            if a not in self._reserved and a not in self._used:
                self._used.add(a)
                return _dotted(a)
        while self._free:
            a = self._free.popleft()
            if a not in self._used:
                self._used.add(a)
                return _dotted(a)
        raise PoolExhausted(f"IPv4 pool {self.network} exhausted")

    def take(self, addr: str) -> bool:
        """Mark ``addr`` in use again (a session restored after an SMF restart,
        fivecore.nf.smf.persist); False when it is in use, reserved or not in the pool. O(1):
        the sequential part and the free list skip addresses in use."""
        try:
            a = int(ipaddress.IPv4Address(addr))
        except ValueError:
            return False
        if not self._valid(a) or a in self._used:
            return False
        self._used.add(a)
        return True

    def release(self, addr: str) -> bool:
        """Give ``addr`` back; False if it was not allocated (double release is harmless)."""
        a = int(ipaddress.IPv4Address(addr))
        if a not in self._used:
            return False
        self._used.discard(a)
        self._free.append(a)
        return True

    def _valid(self, a: int) -> bool:
        return int(self.network.network_address) < a <= self._last and a not in self._reserved

    def __contains__(self, addr: str) -> bool:
        try:
            return int(ipaddress.IPv4Address(addr)) in self._used
        except ValueError:
            return False


class Ipv6PrefixPool:
    """/64 prefixes for IPv6 PDU sessions (TS 23.501 §5.8.2.2.3), cut from a larger prefix."""

    def __init__(self, network: str) -> None:
        self.network = ipaddress.IPv6Network(network, strict=False)
        self._count = 1 << (64 - self.network.prefixlen)
        self._next = 1  # prefix 0 stays for the UPF's own N6 side
        self._free: deque[int] = deque()
        self._used: set[int] = set()

    def allocate(self) -> ipaddress.IPv6Network:
        used = self._used
        while True:
            if self._next < self._count:
                i = self._next
                self._next += 1
            elif self._free:
                i = self._free.popleft()
            else:
                raise PoolExhausted(f"IPv6 prefix pool {self.network} exhausted")
            if i not in used:  # taken back by a restored session (take)
                break
        used.add(i)
        base = int(self.network.network_address) + (i << 64)
        return ipaddress.IPv6Network((base, 64))

    def take(self, prefix: ipaddress.IPv6Network | str) -> bool:
        """Mark ``prefix`` in use again (a restored session, fivecore.nf.smf.persist); False
        when it is in use, not a /64 of the pool, or the pool's first /64 (N6's)."""
        try:
            net = ipaddress.IPv6Network(prefix)
        except ValueError:
            return False
        if net.prefixlen != 64 or not net.subnet_of(self.network):
            return False
        i = (int(net.network_address) - int(self.network.network_address)) >> 64
        if not 0 < i < self._count or i in self._used:
            return False
        self._used.add(i)
        return True

    def release(self, prefix: ipaddress.IPv6Network | str) -> bool:
        net = ipaddress.IPv6Network(prefix)
        i = (int(net.network_address) - int(self.network.network_address)) >> 64
        if i not in self._used:
            return False
        self._used.discard(i)
        self._free.append(i)
        return True


class SmState(Enum):
    """TS 24.501 §6.1.3.3: 5GSM states of a PDU session on the network side."""

    INACTIVE = "INACTIVE"
    ACTIVE_PENDING = "ACTIVE_PENDING"          # accept sent, user plane being set up
    ACTIVE = "ACTIVE"
    MODIFICATION_PENDING = "MODIFICATION_PENDING"
    INACTIVE_PENDING = "INACTIVE_PENDING"      # release command sent


class SmContext:
    """One PDU session (TS 23.502 §4.3.2.2.1; TS 29.502 SmContext)."""

    __slots__ = (
        "ref", "supi", "psi", "pti", "dnn", "snssai", "pdu_type", "ssc_mode", "state",
        "ue_ipv4", "ue_ipv6_prefix", "pool", "amf_instance_id", "amf_uri", "status_uri",
        "pei", "gpsi", "serving_network", "an_type", "rat_type",
        "local_seid", "upf", "upf_seid", "ul_teid", "ul_ip", "dl_teid", "dl_ip", "qfi",
        "ambr_ul", "ambr_dl", "five_qi", "arp", "policy_id", "up_active", "usage",
        "release_cause", "release_pti", "udm_registered", "restore_pending", "created",
    )

    def __init__(self, ref: str, supi: str, psi: int, dnn: str, snssai: dict[str, Any]) -> None:
        self.ref = ref
        self.supi = supi
        self.psi = psi
        self.pti = 0
        self.dnn = dnn
        self.snssai = snssai
        self.pdu_type = 1  # TS 24.501 §9.11.4.11: 1 IPv4, 2 IPv6, 3 IPv4v6
        self.ssc_mode = 1
        self.state = SmState.INACTIVE
        self.ue_ipv4: str | None = None
        self.ue_ipv6_prefix: ipaddress.IPv6Network | None = None
        self.pool: str | None = None
        self.amf_instance_id: str | None = None
        self.amf_uri: str | None = None
        self.status_uri: str | None = None
        self.pei: str | None = None
        self.gpsi: str | None = None
        self.serving_network: dict[str, Any] | None = None
        self.an_type = "3GPP_ACCESS"
        self.rat_type = "NR"
        self.local_seid = 0
        self.upf: Any = None           # the PFCP peer (fivecore.nf.smf.pfcp.UpfPeer)
        self.upf_seid: int | None = None
        self.ul_teid: int | None = None  # UPF's N3 F-TEID (CHOOSE answered in Created PDR)
        self.ul_ip: str | None = None
        self.dl_teid: int | None = None  # gNB's N3 F-TEID (PDU Session Resource Setup Response)
        self.dl_ip: str | None = None
        self.qfi = 1
        self.ambr_ul = 1_000_000_000   # bit/s
        self.ambr_dl = 1_000_000_000
        self.five_qi = 9
        self.arp = 8
        self.policy_id: str | None = None
        self.up_active = False
        self.usage: dict[str, int] = {"ul": 0, "dl": 0, "total": 0, "reports": 0}
        self.release_cause: int | None = None
        self.release_pti = 0
        self.udm_registered = False
        self.restore_pending = False
        self.created = 0.0

    def summary(self) -> dict[str, Any]:
        """A JSON view for ``/pdu-info`` and the CLI (SUPI only, no keys)."""
        return {
            "smContextRef": self.ref, "supi": self.supi, "pduSessionId": self.psi,
            "dnn": self.dnn, "sNssai": self.snssai, "state": self.state.value,
            "ueIpv4Address": self.ue_ipv4,
            "ueIpv6Prefix": str(self.ue_ipv6_prefix) if self.ue_ipv6_prefix else None,
            "upf": getattr(self.upf, "address", None), "upfSeid": self.upf_seid,
            "smfSeid": self.local_seid, "ulTeid": self.ul_teid, "dlTeid": self.dl_teid,
            "gnbN3": self.dl_ip, "sessionAmbr": {"uplink": self.ambr_ul, "downlink": self.ambr_dl},
            "5qi": self.five_qi, "usage": dict(self.usage),
        }


class SmfContext:
    """All SM contexts of one SMF, indexed by reference, (SUPI, PSI) and local SEID."""

    def __init__(self) -> None:
        self.by_ref: dict[str, SmContext] = {}
        self.by_ue: dict[tuple[str, int], SmContext] = {}
        self.by_seid: dict[int, SmContext] = {}
        self.pools: dict[str, Ipv4Pool] = {}
        self.v6pools: dict[str, Ipv6PrefixPool] = {}
        self._next_seid = rng.randbits(32) | 1
        self.stats: dict[str, int] = {}
        #: references of sessions changed since the last write (fivecore.nf.smf.persist);
        #: None without persistence
        self.dirty: set[str] | None = None

    def touch(self, sm: SmContext) -> None:
        """Something kept on disk changed in ``sm`` (or it went): write it with the next flush."""
        d = self.dirty
        if d is not None:
            d.add(sm.ref)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def new(self, supi: str, psi: int, dnn: str, snssai: dict[str, Any]) -> SmContext:
        ref = rng.token_hex(8)
        while ref in self.by_ref:
            ref = rng.token_hex(8)
        sm = SmContext(ref, supi, psi, dnn, snssai)
        seid = self._next_seid
        while seid in self.by_seid or seid == 0:
            seid = (seid + 1) & 0xFFFFFFFFFFFFFFFF
        self._next_seid = (seid + 1) & 0xFFFFFFFFFFFFFFFF
        sm.local_seid = seid
        self.by_ref[ref] = sm
        self.by_ue[(supi, psi)] = sm
        self.by_seid[seid] = sm
        return sm

    def remove(self, sm: SmContext) -> None:
        """Forget the session and give its addresses back."""
        if self.dirty is not None:
            self.dirty.add(sm.ref)
        self.by_ref.pop(sm.ref, None)
        if self.by_ue.get((sm.supi, sm.psi)) is sm:
            del self.by_ue[(sm.supi, sm.psi)]
        self.by_seid.pop(sm.local_seid, None)
        if sm.ue_ipv4 and sm.pool in self.pools:
            self.pools[sm.pool].release(sm.ue_ipv4)
            sm.ue_ipv4 = None
        if sm.ue_ipv6_prefix is not None and sm.pool in self.v6pools:
            self.v6pools[sm.pool].release(sm.ue_ipv6_prefix)
            sm.ue_ipv6_prefix = None
        sm.state = SmState.INACTIVE

    def on_upf(self, upf: Any) -> list[SmContext]:
        return [sm for sm in self.by_ref.values() if sm.upf is upf]
