"""What the UPF's Router Advertisements say besides the prefix: link MTU and DNS servers.

The UPF is the UE's first hop on an IPv6 or IPv4v6 PDU session (TS 23.501 §5.8.2.2.3,
TS 29.061 §11.2.1.3): its Router Advertisement carries the session's /64 and, here, also

- the link MTU (RFC 4861 §4.6.4; TS 23.501 §5.6.10.4 gives the IPv6 link MTU to the UE this
  way, the IPv4 one in PCO): the DNN's configured MTU, else the N3 path MTU minus what the
  downlink encapsulation adds (outer IPv4 20 + UDP 8 + GTP-U 8 + 4 optional fields + 4 PDU
  Session Container, TS 29.281 §5.1 / TS 38.415 §5.5.2.1 = 44 octets), so that a full-sized
  UE packet still fits in one N3 datagram;
- the DNN's IPv6 DNS servers (RFC 8106 §5.1 RDNSS).

Why the UPF holds per-DNN settings: the DNS list and the MTU are the DNN's configuration,
which lives with the SMF (``smf.dnns[].dns`` / ``mtu``; the SMF already puts the IPv4 DNS
servers and the MTU in PCO). The SMF has no N4 IE to hand them to the UPF per session, and the
UPF already knows each session's DNN from the Network Instance of its PDRs (TS 29.244
§8.2.4), so the UPF gets a small per-DNN table (``upf.ipv6_ra``). ``fivecore up`` fills it
from the SMF's DNNs (fivecore.netup.network.upf_ra_settings), as it fills ``upf.slices``; a
standalone UPF is configured like any other per-DNN setting of its section.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fivecore.wire import icmpv6

#: what the UPF puts in front of a UE packet on N3: IPv4 20, UDP 8, GTP-U 8, the optional
#: sequence/N-PDU/next-extension octets 4 and a PDU Session Container 4 (TS 29.281 §5.1,
#: TS 38.415 §5.5.2.1)
N3_OVERHEAD = 20 + 8 + 8 + 4 + 4
#: an Ethernet N3 when nothing else is configured
DEFAULT_N3_MTU = 1500


def ra_mtu_for_n3(n3_mtu: int) -> int:
    """The IPv6 link MTU a session can carry over an N3 path of ``n3_mtu`` octets: the N3 MTU
    less :data:`N3_OVERHEAD`, never below IPv6's 1280 (RFC 8200 §5; a path smaller than 1324
    then needs IP fragmentation of the outer packet, TS 29.281 §4.2.1 allows it)."""
    return max(icmpv6.MIN_MTU, n3_mtu - N3_OVERHEAD)


@dataclass(frozen=True, slots=True)
class RaOptions:
    """The options of one DNN's advertisements: ``mtu`` (RFC 4861 §4.6.4) and ``dns``
    (RFC 8106 §5.1, as 16-octet addresses)."""

    mtu: int | None = None
    dns: tuple[bytes, ...] = ()


class RaPolicy:
    """DNN -> :class:`RaOptions`; a session whose DNN has no entry gets ``default``."""

    __slots__ = ("default", "per_dnn")

    def __init__(self, default: RaOptions | None = None,
                 per_dnn: Mapping[str, RaOptions] | None = None) -> None:
        self.default = default if default is not None else RaOptions(ra_mtu_for_n3(DEFAULT_N3_MTU))
        self.per_dnn = dict(per_dnn or {})

    @classmethod
    def from_config(cls, n3_mtu: int, entries: Iterable[tuple[str, int | None, Iterable[str]]]) -> RaPolicy:
        """``entries``: (DNN, MTU or None for the N3-derived one, IPv6 DNS servers)."""
        derived = ra_mtu_for_n3(n3_mtu)
        per = {dnn: RaOptions(mtu if mtu is not None else derived,
                              tuple(ipaddress.IPv6Address(a).packed for a in dns))
               for dnn, mtu, dns in entries}
        return cls(RaOptions(derived), per)

    def for_session(self, session: object) -> RaOptions:
        """TS 29.244 §8.2.4: the session's DNN is the Network Instance of its PDRs (the
        datapath thread calls this while N4 may change the rules: a copy of the values)."""
        if self.per_dnn:
            pdrs = getattr(session, "pdrs", None) or {}
            for pdr in list(pdrs.values()):
                ni = getattr(pdr, "network_instance", None)
                if ni is not None and ni in self.per_dnn:
                    return self.per_dnn[ni]
        return self.default
