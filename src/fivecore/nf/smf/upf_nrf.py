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

Discovery alone learns of a new UPF only on the next discovery and of a vanished one only from
PFCP. So the SMF also subscribes to the NRF for the status of every UPF (TS 29.510 §5.2.2.5
NFStatusSubscribe, ``subscrCond`` nfType UPF, events NF_REGISTERED / NF_DEREGISTERED /
NF_PROFILE_CHANGED) and takes the NRF's NFStatusNotify (§5.2.2.6) on its own SBI at
:data:`NOTIFY_PATH`:

* :class:`UpfTable` (sans-I/O) turns a NotificationData into a change of the SMF's UPF peers;
* :class:`StatusSubscription` (sans-I/O) is the subscription's life: the SubscriptionData to
  send, the ``validityTime`` granted, when to renew it (§5.2.2.5.6, JSON Patch of
  ``validityTime``) and when to subscribe again (404 on renewal: the NRF restarted);
* :class:`UpfWatcher` carries both out over the SBI client and N4.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fivecore.errors import FivecoreError
from fivecore.nf.common.client import NoProducer, SbiClient
from fivecore.nf.smf.pfcp import N4, UpfPeer
from fivecore.transport.http2 import HttpError, Request, Response, Router, TransportError
from fivecore.transport.http2.message import path_segment
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
        #: nfInstanceId (lower case) -> N4 address of every UPF discovered: an NF_DEREGISTERED
        #: notification names the instance only (TS 29.510 §6.1.6.2.17), never its address
        self.ids: dict[str, str] = {}

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
            if isinstance(prof.get("nfInstanceId"), str):
                self.ids[prof["nfInstanceId"].lower()] = peer.address
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


# ---------------------------------------------------------------------------------------------
# NF status notifications: TS 29.510 §5.2.2.5 NFStatusSubscribe, §5.2.2.6 NFStatusNotify
# ---------------------------------------------------------------------------------------------

#: where the SMF takes the NRF's NFStatusNotify (the callback URI is the consumer's choice),
#: followed by ``/{token}``: see :class:`UpfWatcher`
NOTIFY_PATH = "/nsmf-callback/v1/nf-status-notify"
#: TS 29.510 §6.1.6.3.4 NotificationEventType values the SMF asks for
UPF_EVENTS = ("NF_REGISTERED", "NF_DEREGISTERED", "NF_PROFILE_CHANGED")
SUBSCRIPTIONS = "/nnrf-nfm/v1/subscriptions"
_NF_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


class BadNotification(FivecoreError):
    """A NotificationData the SMF cannot take (answered 400, TS 29.500 §5.2.7.2); ``param``
    is the JSON pointer of the offending member."""

    def __init__(self, detail: str, param: str = "/") -> None:
        super().__init__(detail)
        self.param = param


class SubscriptionFailed(FivecoreError):
    """The NRF did not accept an NFStatusSubscribe (or answered it with nonsense)."""


@dataclass
class UpfChange:
    """What one notification did to the SMF's UPFs.

    ``kind``: ``added`` (a new :class:`UpfPeer`, not yet handed to N4: the caller does
    ``n4.add_peer``), ``updated`` (a known peer now serves ``peer.dnns``/``peer.slices``;
    also a withdrawn one coming back), ``withdrawn`` (a known peer serves nothing for new
    sessions any more)."""

    kind: str
    nf_instance_id: str
    peer: UpfPeer


class UpfTable:
    """The SMF's UPF peers as NF status notifications change them (sans-I/O).

    ``peers`` is the SMF's own list (the one :class:`N4` and session establishment use);
    ``wanted`` the (DNN, S-NSSAI) pairs this SMF serves; ``ids`` the nfInstanceId -> N4
    address map shared with :class:`UpfDiscovery`. :meth:`on_notification` takes one
    NotificationData and returns the :class:`UpfChange` it made (None when it concerns
    nothing of ours).

    NF_DEREGISTERED (and a profile that is no longer REGISTERED, e.g. SUSPENDED after missed
    heartbeats): TS 29.510 §5.2.2.6 only tells the subscriber that the instance is gone from
    the NRF; TS 23.502 §4.3.2.2.1 step 8 selects UPFs with NRF data but says nothing about
    sessions already on one, and TS 29.244 ties an N4 session to the PFCP association, not to
    the UPF's NRF registration (§6.2.6: association release or loss of heartbeats, §6.2.2). So
    the withdrawn UPF stops being selected for new sessions at once (it advertises nothing:
    its ``dnns`` and ``slices`` are emptied, which session establishment's selection reads),
    while its association and existing sessions are left to PFCP: an Association Release,
    lost heartbeats or a new Recovery Time Stamp end or restore them as for any UPF. A UPF
    that registers again (NF_REGISTERED, or a REGISTERED profile) serves again.
    """

    def __init__(self, peers: list[UpfPeer], wanted: Iterable[tuple[str, Slice]],
                 ids: dict[str, str] | None = None) -> None:
        self.peers = peers
        self.wanted = list(dict.fromkeys(wanted))
        self.ids = ids if ids is not None else {}

    def known(self, address: str) -> UpfPeer | None:
        for p in self.peers:
            if p.address == address:
                return p
        return None

    def offer(self, profile: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Slice, ...]] | None:
        """(DNNs, slices) a UPF profile gives this SMF, or None when it serves none of the
        wanted (DNN, S-NSSAI) pairs. A profile without UpfInfo is taken to serve them all
        (as discovery takes it: :func:`served`); a ``*`` DNN stands for the wanted ones."""
        offer = served(profile)
        if offer is None:
            if not self.wanted:
                return None
            return (tuple(dict.fromkeys(d for d, _ in self.wanted)),
                    tuple(dict.fromkeys(s for _, s in self.wanted)))
        hit = False
        dnns: dict[str, None] = {}
        for dnn, sl in self.wanted:
            offered = offer.get(sl, set()) | offer.get((sl[0], None), set())
            if dnn in offered or "*" in offered:
                hit = True
                dnns[dnn] = None
        if not hit:
            return None
        for names in offer.values():
            dnns.update((n, None) for n in sorted(names) if n != "*")
        return tuple(dnns), tuple(offer)

    def on_notification(self, body: Any) -> UpfChange | None:
        """TS 29.510 §5.2.2.6.2: one NotificationData (§6.1.6.2.17) in, the change out.
        Malformed data raises :class:`BadNotification`; another NF type's is ignored."""
        if not isinstance(body, dict):
            raise BadNotification("NotificationData must be a JSON object")
        event = body.get("event")
        if not isinstance(event, str):
            raise BadNotification("event missing", "/event")
        uri = body.get("nfInstanceUri")
        if not isinstance(uri, str):
            raise BadNotification("nfInstanceUri missing", "/nfInstanceUri")
        nf_id = uri.rstrip("/").rsplit("/", 1)[-1]
        if not _NF_ID.match(nf_id):
            raise BadNotification("nfInstanceUri does not end in an NfInstanceId", "/nfInstanceUri")
        key = nf_id.lower()
        if event == "NF_DEREGISTERED":
            return self._withdraw(key)
        if event not in ("NF_REGISTERED", "NF_PROFILE_CHANGED"):
            return None  # SHARED_DATA_CHANGED and later events: nothing to do with UPFs
        profile = body.get("nfProfile", body.get("completeNfProfile"))
        if profile is None:
            if event == "NF_REGISTERED":
                raise BadNotification("NF_REGISTERED without nfProfile", "/nfProfile")
            # only profileChanges, a delta of a profile this SMF may never have seen: the
            # next full profile, or discovery, tells what the UPF serves
            return None
        if not isinstance(profile, dict):
            raise BadNotification("nfProfile must be an NFProfile object", "/nfProfile")
        if profile.get("nfType") != "UPF":
            return None
        pid = profile.get("nfInstanceId")
        if not isinstance(pid, str) or pid.lower() != key:
            raise BadNotification("nfProfile.nfInstanceId differs from nfInstanceUri", "/nfProfile/nfInstanceId")
        if profile.get("nfStatus") != "REGISTERED":
            return self._withdraw(key)  # SUSPENDED / UNDISCOVERABLE: not to be selected
        addr = n4_address(profile)
        offer = self.offer(profile)
        if addr is None or offer is None:
            return self._withdraw(key)  # nothing this SMF can use (any more)
        old = self.ids.get(key)
        withdrawn_old = self._withdraw(key) if old is not None and old != addr else None
        self.ids[key] = addr
        dnns, slices = offer
        peer = self.known(addr)
        if peer is None:
            return UpfChange("added", nf_id, UpfPeer(addr, pfcp.PFCP_PORT, dnns, slices))
        if withdrawn_old is None and (peer.dnns, peer.slices) == (dnns, slices):
            return None  # a heartbeat-driven PROFILE_CHANGED that changes nothing here
        # the full profile is authoritative: what it no longer lists is no longer served
        peer.dnns, peer.slices = dnns, slices
        peer.withdrawn = False
        return UpfChange("updated", nf_id, peer)

    def _withdraw(self, key: str) -> UpfChange | None:
        addr = self.ids.get(key)
        peer = self.known(addr) if addr is not None else None
        if peer is None or (not peer.dnns and not peer.slices):
            return None
        peer.dnns, peer.slices = (), ()
        peer.withdrawn = True  # N4 drops it once no session is left on it
        return UpfChange("withdrawn", key, peer)


def _utc(value: Any) -> datetime | None:
    """A TS 29.571 DateTime (RFC 3339) as an aware datetime; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _date_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class StatusSubscription:
    """One NFStatusSubscribe for UPF status changes and its renewals (sans-I/O; the caller
    passes the wall-clock ``now`` that ``validityTime`` is measured in).

    TS 29.510 §5.2.2.5.2: POST SubscriptionData (§6.1.6.2.16) with ``subscrCond`` NfTypeCond
    UPF and ``reqNotifEvents``; the consumer's ``validityTime`` is a hint, the 201 answer
    carries the one granted. §5.2.2.5.6: before that time the consumer renews with a JSON
    Patch replacing ``validityTime`` (200 with the SubscriptionData, or 204 when the hint was
    taken as is). A 404 on renewal means the NRF lost the subscription (restarted): subscribe
    again. Renewal is due when three quarters of the granted time have passed, so a lost or
    slow answer still leaves time for another try before the NRF drops the subscription.
    """

    def __init__(self, requester_id: str, *, validity_s: float = 3600.0, requester_type: str = "SMF") -> None:
        self.requester_id = requester_id
        self.requester_type = requester_type
        self.validity_s = validity_s
        self.sid: str | None = None
        self.expires: datetime | None = None
        self.renew_at: datetime | None = None
        #: a subscription given up on that the NRF may still hold (deleted before the next one)
        self.stale: str | None = None
        self._asked: datetime | None = None

    def subscribe_body(self, callback_uri: str, now: datetime) -> dict[str, Any]:
        """The SubscriptionData of the POST (``subscriptionId`` is readOnly: not sent)."""
        body: dict[str, Any] = {
            "nfStatusNotificationUri": callback_uri,
            "reqNfType": self.requester_type,
            "subscrCond": {"nfType": "UPF"},
            "reqNotifEvents": list(UPF_EVENTS),
            "validityTime": _date_time(now + timedelta(seconds=self.validity_s)),
        }
        if _NF_ID.match(self.requester_id):
            body["reqNfInstanceId"] = self.requester_id
        return body

    def on_subscribed(self, status: int, body: Any, now: datetime) -> str:
        """The NRF's answer to the POST: the subscriptionId, or :class:`SubscriptionFailed`."""
        if status != 201:
            raise SubscriptionFailed(f"NFStatusSubscribe answered {status}")
        if not isinstance(body, dict):
            raise SubscriptionFailed("NFStatusSubscribe: the answer is not a SubscriptionData")
        sid = body.get("subscriptionId")
        if not isinstance(sid, str) or not sid or "/" in sid:
            raise SubscriptionFailed("NFStatusSubscribe: no usable subscriptionId")
        self.sid = sid
        self._granted(body.get("validityTime"), now)
        return sid

    def renew_patch(self, now: datetime) -> list[dict[str, Any]]:
        """The JSON Patch (RFC 6902) of the renewal: a new ``validityTime`` hint."""
        self._asked = now + timedelta(seconds=self.validity_s)
        return [{"op": "replace", "path": "/validityTime", "value": _date_time(self._asked)}]

    def on_renewed(self, status: int, body: Any, now: datetime) -> bool:
        """The answer to the renewal PATCH. False when the subscription is gone (404: the
        NRF restarted or dropped it) and must be made again; an error status other than
        404 leaves it as it was (try again later, while it lasts)."""
        if status == 404:
            self.forget()
            self.stale = None  # nothing left at the NRF to delete
            return False
        if status == 204:
            self._set_expiry(self._asked or now + timedelta(seconds=self.validity_s), now)
            return True
        if status == 200:
            self._granted(body.get("validityTime") if isinstance(body, dict) else None, now)
            return True
        # refused or failed: retry in a while, but not after the NRF has let it lapse
        if self.expires is not None and self.expires <= now:
            self.forget()
            return False
        left = (self.expires - now).total_seconds() if self.expires is not None else 20.0
        self.renew_at = now + timedelta(seconds=min(5.0, max(0.5, left / 4)))
        return True

    def forget(self) -> None:
        """Drop the subscription (subscribe again next); its id stays in :attr:`stale`."""
        if self.sid is not None:
            self.stale = self.sid
        self.sid = self.expires = self.renew_at = None

    def next_step(self, now: datetime) -> tuple[str, float]:
        """("subscribe", 0) when there is no subscription; else ("renew", seconds until due)."""
        if self.sid is None or self.renew_at is None:
            return "subscribe", 0.0
        if self.expires is not None and self.expires <= now:
            self.forget()  # lapsed at the NRF: a renewal would only get a 404
            return "subscribe", 0.0
        return "renew", max(0.0, (self.renew_at - now).total_seconds())

    def _granted(self, value: Any, now: datetime) -> None:
        at = _utc(value)
        # no or an unreadable validityTime: the NRF should always send one (§6.1.6.2.16);
        # assume our own hint, which it may not exceed in its favour
        self._set_expiry(at if at is not None else now + timedelta(seconds=self.validity_s), now)

    def _set_expiry(self, at: datetime, now: datetime) -> None:
        self.expires = at
        left = max(0.0, (at - now).total_seconds())
        self.renew_at = now + timedelta(seconds=left * 0.75)


class UpfWatcher:
    """Keeps the SMF subscribed to UPF status changes and applies the NRF's notifications
    (see :class:`StatusSubscription` and :class:`UpfTable`).

    ``callback_uri()`` gives the SMF's SBI base (its port is known once the server runs);
    ``nrf_base()`` the NRF's base URI, or None to use the in-process binding; ``registered``
    the SMF's own NRF registration event: when it drops and comes back (the NRF forgot the
    SMF, e.g. restarted) the subscription is made again without waiting for a renewal's 404.
    After every new subscription the wanted (DNN, S-NSSAI) pairs are discovered afresh, so a
    UPF that registered while the SMF was not subscribed is not missed.

    A notification decides where user-plane traffic goes, and the callback is served on the
    SMF's SBI where any peer can reach it; NotificationData carries nothing that proves it
    comes from the NRF. So the callback URI handed to the NRF ends in a random ``token``
    (``NOTIFY_PATH/{token}``) only the NRF learns; a POST with another token is answered 404
    and changes nothing (on TLS deployments the token never crosses the network in clear).
    """

    def __init__(self, client: SbiClient, n4: N4, discovery: UpfDiscovery, *,
                 callback_uri: Callable[[], str], nrf_base: Callable[[], str | None],
                 registered: asyncio.Event | None = None, validity_s: float = 3600.0,
                 retry_s: float = 2.0, wall: Callable[[], datetime] | None = None,
                 stats: dict[str, int] | None = None) -> None:
        self.client = client
        self.n4 = n4
        self.discovery = discovery
        self.table = UpfTable(n4.peers, discovery.wanted, discovery.ids)
        self.subscription = StatusSubscription(client.nf_instance_id, validity_s=validity_s,
                                               requester_type=client.nf_type)
        self.callback_uri = callback_uri
        self.nrf_base = nrf_base
        self.registered = registered
        self.retry_s = retry_s
        self.wall = wall or (lambda: datetime.now(UTC))
        #: counters (``upf_status_*``), e.g. the SMF context's, which its metrics expose
        self.stats: dict[str, int] = stats if stats is not None else {}
        #: set whenever a subscription is in place (tests and start-up ordering wait for it)
        self.subscribed = asyncio.Event()
        self.token = secrets.token_urlsafe(18)

    @property
    def notify_uri(self) -> str:
        """The ``nfStatusNotificationUri`` this SMF subscribes with."""
        return f"{self.callback_uri().rstrip('/')}{NOTIFY_PATH}/{self.token}"

    def _count(self, key: str) -> None:
        key = f"upf_status_{key}"
        self.stats[key] = self.stats.get(key, 0) + 1

    # --- NFStatusNotify (TS 29.510 §5.2.2.6) -----------------------------------------------
    def notify(self, body: Any) -> UpfChange | None:
        """Apply one NotificationData: a new UPF goes to N4 (association as for a discovered
        one), a withdrawn one is no longer selected and discovery answers are asked afresh."""
        change = self.table.on_notification(body)
        self._count("notifications")
        if change is None:
            return None
        peer = change.peer
        if change.kind == "added":
            self.n4.add_peer(peer)
        # a cached discovery answer still holds the old profile until its validityPeriod ends,
        # and UpfDiscovery.find() would merge what it lists back into the peer
        self.client.invalidate()
        self._count(change.kind)
        log.info("event=upf_%s upf=%s nf_instance_id=%s dnns=%s", change.kind, peer.address,
                 change.nf_instance_id, ",".join(peer.dnns))
        return change

    def add_routes(self, router: Router) -> None:
        """Serve ``NOTIFY_PATH/{token}`` on the SMF's SBI: 204, 400 ProblemDetails, or 404
        for a token that is not this SMF's."""

        def nf_status_notify(req: Request) -> Response:
            """TS 29.510 §5.2.2.6.2: NFStatusNotify (POST NotificationData) -> 204."""
            if not hmac.compare_digest(str(req.path_params.get("token", "")).encode(), self.token.encode()):
                self._count("notify_refused")
                raise HttpError(404, "RESOURCE_NOT_FOUND", "no such callback")
            try:
                self.notify(req.json())
            except BadNotification as exc:
                raise HttpError(400, "MANDATORY_IE_INCORRECT" if exc.param != "/" else "INVALID_MSG_FORMAT",
                                str(exc), invalid_params=[{"param": exc.param}]) from None
            return Response(204)

        router.add("POST", NOTIFY_PATH + "/{token}", nf_status_notify)

    # --- NFStatusSubscribe and its renewal (TS 29.510 §5.2.2.5) ----------------------------
    async def subscribe(self) -> None:
        """POST the subscription (an old one, if any, is removed first: best effort)."""
        self.subscription.forget()
        old, self.subscription.stale = self.subscription.stale, None
        if old is not None:
            with contextlib.suppress(TransportError, NoProducer, OSError):
                await self.client.call("DELETE", f"{SUBSCRIPTIONS}/{path_segment(old)}", base_uri=self.nrf_base(),
                                       timeout=2.0)
        self.subscribed.clear()
        body = self.subscription.subscribe_body(self.notify_uri, self.wall())
        try:
            resp = await self.client.call("POST", SUBSCRIPTIONS, body=body, base_uri=self.nrf_base(), timeout=5.0)
        except (NoProducer, OSError) as exc:
            raise TransportError(str(exc)) from None
        try:
            data = resp.json()
        except ValueError:
            data = None
        sid = self.subscription.on_subscribed(resp.status, data, self.wall())
        self.subscribed.set()
        self._count("subscribed")
        log.info("event=upf_status_subscribed subscription=%s validity_until=%s", sid,
                 _date_time(self.subscription.expires) if self.subscription.expires else "-")
        # UPFs that registered while we were not subscribed: ask the NRF now, not at the next
        # discovery refresh
        self.client.invalidate()
        for dnn, sl in self.discovery.wanted:
            await self.discovery.find_quietly(dnn, sl)

    async def renew(self) -> bool:
        """PATCH the validityTime; False when the NRF no longer has the subscription."""
        sid = self.subscription.sid
        assert sid is not None
        patch = self.subscription.renew_patch(self.wall())
        try:
            resp = await self.client.call("PATCH", f"{SUBSCRIPTIONS}/{path_segment(sid)}", body=patch,
                                          base_uri=self.nrf_base(), timeout=5.0,
                                          headers={"content-type": "application/json-patch+json"})
            try:
                data = resp.json()
            except ValueError:
                data = None
            status = resp.status
        except (TransportError, NoProducer, OSError) as exc:
            log.info("event=upf_status_renewal_failed subscription=%s err=%s", sid, exc)
            status, data = 503, None
        ok = self.subscription.on_renewed(status, data, self.wall())
        if not ok:
            self.subscribed.clear()
            self._count("resubscribe")
            log.info("event=upf_status_subscription_lost subscription=%s status=%s", sid, status)
        elif status in (200, 204):
            self._count("renewed")
        return ok

    async def unsubscribe(self) -> None:
        """TS 29.510 §5.2.2.7 NFStatusUnsubscribe on the way down (best effort: a subscription
        the NRF keeps merely lapses at its validityTime)."""
        self.subscription.forget()
        sid, self.subscription.stale = self.subscription.stale, None
        self.subscribed.clear()
        if sid is None:
            return
        with contextlib.suppress(TransportError, NoProducer, OSError):
            await self.client.call("DELETE", f"{SUBSCRIPTIONS}/{path_segment(sid)}", base_uri=self.nrf_base(),
                                   timeout=1.0)

    async def run(self) -> None:
        """The background task: subscribe, renew before ``validityTime``, subscribe again
        when the NRF lost the subscription or the SMF's own registration."""
        delay = self.retry_s
        while True:
            if self.registered is not None and not self.registered.is_set():
                await self.registered.wait()
            step, wait_s = self.subscription.next_step(self.wall())
            if step == "subscribe":
                try:
                    await self.subscribe()
                    delay = self.retry_s
                except (TransportError, SubscriptionFailed) as exc:
                    log.info("event=upf_status_subscribe_failed err=%s", exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                except Exception:  # noqa: BLE001 - a bug must not end the subscription for good
                    log.exception("event=upf_status_subscribe_error")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                continue
            if await self._registration_lost(wait_s):
                # the SMF registered again: a restarted NRF has no subscriptions either
                self.subscribed.clear()
                self._count("resubscribe")
                self.subscription.forget()
                continue
            try:
                await self.renew()
            except Exception:  # noqa: BLE001 - as above; the next step retries or resubscribes
                log.exception("event=upf_status_renew_error")
                await asyncio.sleep(self.retry_s)

    async def _registration_lost(self, wait_s: float) -> bool:
        """Sleep ``wait_s``; True as soon as the SMF's NRF registration dropped meanwhile."""
        if self.registered is None:
            await asyncio.sleep(wait_s)
            return False
        deadline = time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            if not self.registered.is_set():
                return True
            await asyncio.sleep(min(left, 0.5))
        return not self.registered.is_set()
