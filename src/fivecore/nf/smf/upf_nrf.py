"""UPF selection through the NRF (``smf.upf_selection: nrf``).

TS 23.501 §6.3.3.3 / TS 23.502 §4.3.2.2.1 step 8: the SMF may find its UPFs with NFDiscovery
(TS 29.510 §5.3.2.2, ``target-nf-type=UPF`` with the session's ``dnn`` and ``snssais``)
instead of configuration. Each discovered NFProfile becomes a :class:`UpfPeer`: its N4
address is the profile's ``ipv4Addresses`` (PFCP on UDP 8805, TS 29.244 §4.2.2), what it
serves comes from ``upfInfo`` (§6.1.6.2.13). From then on the UPF is a peer like a configured
one: PFCP association, heartbeats, restart detection and least-loaded selection are the
existing N4 code's.

The NRF filters on slices (``sNssais``); whether a UPF serves the DNN is checked here against
``upfInfo`` as well, so a UPF is never picked for a DNN it did not advertise.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from fivecore.nf.common.client import NoProducer, SbiClient
from fivecore.nf.smf.pfcp import N4, UpfPeer
from fivecore.transport.http2 import TransportError
from fivecore.wire import pfcp

log = logging.getLogger("fivecore.smf")

Slice = tuple[int, int | None]
_HEX = frozenset("0123456789abcdefABCDEF")


def _slice(snssai: Any) -> Slice | None:
    """(SST, SD) of an S-NSSAI object (TS 29.571 Snssai); None when it is not one."""
    if not isinstance(snssai, dict) or not isinstance(snssai.get("sst"), int) or isinstance(snssai["sst"], bool):
        return None
    sd = snssai.get("sd")
    if sd is None:
        return (snssai["sst"], None)
    # TS 29.571 Snssai: sd is exactly 6 hex digits (int() alone would take " 0000a" or "+0000a")
    if not isinstance(sd, str) or len(sd) != 6 or not all(c in _HEX for c in sd):
        return None
    return (snssai["sst"], int(sd, 16))


def _infos(profile: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(profile.get("upfInfo"), dict):
        out.append(profile["upfInfo"])
    if isinstance(profile.get("upfInfoList"), dict):
        out += [i for i in profile["upfInfoList"].values() if isinstance(i, dict)]
    return out


def served(profile: dict[str, Any]) -> dict[Slice, set[str]] | None:
    """S-NSSAI -> DNNs a UPF profile advertises in ``upfInfo``/``upfInfoList``
    (TS 29.510 §6.1.6.2.13 sNssaiUpfInfoList); None when it advertises no UpfInfo (then
    nothing restricts it: it is taken as serving the slice and DNN it was discovered for)."""
    infos = _infos(profile)
    if not infos:
        return None
    out: dict[Slice, set[str]] = {}
    for info in infos:
        items = info.get("sNssaiUpfInfoList")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            sl = _slice(item.get("sNssai"))
            if sl is None:
                continue
            dnns = out.setdefault(sl, set())
            dnn_items = item.get("dnnUpfInfoList")
            for d in dnn_items if isinstance(dnn_items, list) else []:
                if isinstance(d, dict) and isinstance(d.get("dnn"), str):
                    dnns.add(d["dnn"])
    return out


def n4_address(profile: dict[str, Any]) -> str | None:
    """The UPF's N4 address: the first IPv4 address of its NFProfile (TS 29.510 §6.1.6.2.2)."""
    addrs = profile.get("ipv4Addresses")
    for a in addrs if isinstance(addrs, list) else []:
        try:
            ipaddress.IPv4Address(a)
        except (ValueError, TypeError):
            continue
        return str(a)
    return None


def peer_for(profile: dict[str, Any], dnn: str, snssai: Slice) -> UpfPeer | None:
    """A :class:`UpfPeer` for a discovered UPF that serves ``dnn`` in ``snssai``; None when the
    profile has no usable N4 address or does not serve them."""
    addr = n4_address(profile)
    if addr is None:
        return None
    offer = served(profile)
    if offer is None:
        return UpfPeer(addr, pfcp.PFCP_PORT, (dnn,), (snssai,))
    dnns = offer.get(snssai, set()) | offer.get((snssai[0], None), set())
    if dnn not in dnns and "*" not in dnns:
        return None
    slices = tuple(offer)
    all_dnns = tuple(sorted(set().union(*offer.values()) | {dnn}))
    return UpfPeer(addr, pfcp.PFCP_PORT, all_dnns, slices)


class UpfDiscovery:
    """Finds UPFs for (DNN, S-NSSAI) pairs through the NRF and hands new ones to N4.

    ``await find(dnn, snssai)`` runs one NFDiscovery (TS 29.510 §5.3.2.2.2); ``run()`` is the
    background task that looks for every configured pair until each has a UPF, then now and
    then for more (a discovery answer is cached for the NRF's validityPeriod)."""

    def __init__(self, client: SbiClient, n4: N4, wanted: Iterable[tuple[str, Slice]], *,
                 retry_s: float = 2.0, refresh_s: float = 60.0) -> None:
        self.client = client
        self.n4 = n4
        self.wanted = list(dict.fromkeys(wanted))
        self.retry_s = retry_s
        self.refresh_s = refresh_s

    def _known(self, addr: str) -> UpfPeer | None:
        for p in self.n4.peers:
            if p.address == addr:
                return p
        return None

    async def find(self, dnn: str, snssai: Slice) -> list[UpfPeer]:
        """NFDiscovery for UPFs serving ``dnn`` in ``snssai``; new ones become N4 peers. Returns
        the peers (new or known) that serve them. NoProducer when the NRF cannot be asked."""
        query_snssai: dict[str, Any] = {"sst": snssai[0]}
        if snssai[1] is not None:
            query_snssai["sd"] = f"{snssai[1]:06x}"
        try:
            profiles = await self.client.discover("UPF", extra={"dnn": dnn, "snssais": [query_snssai]})
        except TransportError as exc:
            raise NoProducer(f"NRF discovery failed: {exc}") from None
        found: list[UpfPeer] = []
        for prof in profiles:
            if not isinstance(prof, dict):
                continue
            peer = peer_for(prof, dnn, snssai)
            if peer is None:
                continue
            known = self._known(peer.address)
            if known is None:
                self.n4.add_peer(peer)
                log.info("event=upf_discovered upf=%s nf_instance_id=%s dnn=%s", peer.address,
                         prof.get("nfInstanceId"), dnn)
                known = peer
            else:
                # a profile update may add slices or DNNs; what was served stays served
                known.dnns = tuple(dict.fromkeys(known.dnns + peer.dnns))
                known.slices = tuple(dict.fromkeys(known.slices + peer.slices))
            found.append(known)
        return found

    async def find_quietly(self, dnn: str, snssai: Slice) -> None:
        """:meth:`find` for session establishment: a failed discovery just means no UPF."""
        try:
            await self.find(dnn, snssai)
        except NoProducer as exc:
            log.info("event=upf_discovery_failed dnn=%s err=%s", dnn, exc)

    async def run(self) -> None:
        while True:
            missing = False
            for dnn, sl in self.wanted:
                try:
                    if not await self.find(dnn, sl):
                        missing = True
                except NoProducer as exc:
                    missing = True
                    log.debug("event=upf_discovery_pending dnn=%s err=%s", dnn, exc)
            await asyncio.sleep(self.retry_s if missing else self.refresh_s)
