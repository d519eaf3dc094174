"""The SMF follows UPFs through NRF status notifications (TS 29.510 §5.2.2.5 NFStatusSubscribe,
§5.2.2.5.6 renewal, §5.2.2.6 NFStatusNotify), with plain calls: the NRF's real context makes
the SubscriptionData answers and the NotificationData, the SMF's sans-I/O parts turn them into
UPF peer changes. Every body that crosses between them is checked against the 3GPP OpenAPI file
TS29510_Nnrf_NFManagement.yaml."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.common.client import LocalRegistry, SbiClient
from fivecore.nf.nrf.context import NrfContext
from fivecore.nf.nrf.sbi import build_router
from fivecore.nf.smf.pfcp import N4, UpfPeer
from fivecore.nf.smf.upf_nrf import (
    NOTIFY_PATH,
    BadNotification,
    StatusSubscription,
    SubscriptionFailed,
    UpfDiscovery,
    UpfTable,
    UpfWatcher,
)
from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.nrf import upf_profile
from fivecore.transport.http2 import HttpError, Request, Router
from fivecore.wire.sbi.schema import OpenApiValidator

SPEC = Path(__file__).resolve().parents[3] / ".." / "shared" / "3gpp-openapi"
NFM = "TS29510_Nnrf_NFManagement.yaml"
SMF_ID = "c0c0c0c0-0000-4000-8000-0000000000aa"
CALLBACK = "http://127.0.5.4:7777" + NOTIFY_PATH
WANTED = [("internet", (1, None)), ("iot", (2, 0xA1))]


@pytest.fixture(scope="module")
def validator() -> OpenApiValidator:
    return OpenApiValidator(SPEC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _upf(addr: str, slices: list[dict[str, Any]]) -> dict[str, Any]:
    return upf_profile(load_upf_config(data={"upf": {"pfcp_address": addr, "slices": slices}}))


def _now() -> datetime:
    return datetime.now(UTC)


def _notes_checked(validator: OpenApiValidator, notes: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The NotificationData the NRF would POST to our callback, each schema-checked."""
    out = []
    for uri, note in notes:
        assert uri.startswith(CALLBACK)
        assert validator.schema_errors(NFM, "NotificationData", note) == [], note
        out.append(note)
    return out


def _subscribed(validator: OpenApiValidator, nrf: NrfContext) -> tuple[StatusSubscription, str]:
    sub = StatusSubscription(SMF_ID, validity_s=600)
    body = sub.subscribe_body(CALLBACK, _now())
    assert validator.validate_request("POST", "/nnrf-nfm/v1/subscriptions", body) == []
    assert body["subscrCond"] == {"nfType": "UPF"} and body["reqNfInstanceId"] == SMF_ID
    assert set(body["reqNotifEvents"]) == {"NF_REGISTERED", "NF_DEREGISTERED", "NF_PROFILE_CHANGED"}
    sid, answer = nrf.subscribe(copy.deepcopy(body))
    assert validator.validate_response("POST", "/nnrf-nfm/v1/subscriptions", 201, answer) == []
    assert sub.on_subscribed(201, answer, _now()) == sid
    return sub, sid


def test_the_schema_check_itself_refuses_bad_bodies(validator: OpenApiValidator) -> None:
    """The checks below can fail: a SubscriptionData with a numeric callback or an empty event
    list, a NotificationData without its URI or an NF_REGISTERED without the profile."""
    body = StatusSubscription(SMF_ID).subscribe_body(CALLBACK, _now())
    assert validator.validate_request("POST", "/nnrf-nfm/v1/subscriptions", {**body, "nfStatusNotificationUri": 5})
    assert validator.validate_request("POST", "/nnrf-nfm/v1/subscriptions", {**body, "reqNotifEvents": []})
    assert validator.schema_errors(NFM, "NotificationData", {"event": "NF_DEREGISTERED"})
    assert validator.schema_errors(NFM, "NotificationData", {"event": "NF_REGISTERED", "nfInstanceUri": "http://x/y"})


def test_registration_deregistration_and_return_of_a_upf(validator: OpenApiValidator) -> None:
    nrf = NrfContext(heartbeat_timer=10, nrf_uri="http://nrf", clock=Clock())
    _subscribed(validator, nrf)
    n4 = N4("127.0.5.4", 0, [])
    table = UpfTable(n4.peers, WANTED)

    a = _upf("127.0.5.7", [{"sst": 1, "dnns": ["internet", "ims"]}])
    _, _, notes = nrf.register(a["nfInstanceId"], a)
    (note,) = _notes_checked(validator, notes)
    assert note["event"] == "NF_REGISTERED"
    change = table.on_notification(note)
    assert change is not None and change.kind == "added" and change.nf_instance_id == a["nfInstanceId"]
    assert change.peer.addr == ("127.0.5.7", 8805) and change.peer not in n4.peers  # N4 is the caller's
    n4.add_peer(change.peer)
    peer = n4.peers[0]
    assert peer.serves("internet", (1, None)) and not peer.serves("iot", (2, 0xA1))
    assert set(peer.dnns) == {"internet", "ims"}

    # the same profile again (e.g. re-registration after an NRF restart): no second peer
    _, _, notes = nrf.register(a["nfInstanceId"], a)
    assert [n["event"] for n in _notes_checked(validator, notes)] == ["NF_PROFILE_CHANGED"]
    assert table.on_notification(notes[0][1]) is None and len(n4.peers) == 1

    # NF_DEREGISTERED names the instance only: the table knows its address
    (note,) = _notes_checked(validator, nrf.deregister(a["nfInstanceId"]))
    assert "nfProfile" not in note
    change = table.on_notification(note)
    assert change is not None and change.kind == "withdrawn" and change.peer is peer
    assert peer in n4.peers  # the association and its sessions stay with PFCP
    assert not peer.serves("internet", (1, None))  # but no new session goes there
    assert table.on_notification(note) is None  # a repeated notification changes nothing

    # it registers again: selected again
    _, _, notes = nrf.register(a["nfInstanceId"], a)
    change = table.on_notification(_notes_checked(validator, notes)[0])
    assert change is not None and change.kind == "updated" and change.peer is peer
    assert peer.serves("internet", (1, None)) and len(n4.peers) == 1


def test_profile_changes_suspension_and_foreign_upfs(validator: OpenApiValidator) -> None:
    clock = Clock()
    nrf = NrfContext(heartbeat_timer=10, nrf_uri="http://nrf", clock=clock)
    _subscribed(validator, nrf)
    peers: list[UpfPeer] = []
    table = UpfTable(peers, WANTED)
    b = _upf("127.0.5.8", [{"sst": 1, "dnns": ["internet"]}])
    _, _, notes = nrf.register(b["nfInstanceId"], b)
    change = table.on_notification(_notes_checked(validator, notes)[0])
    assert change is not None
    peers.append(change.peer)
    peer = change.peer

    # NF_PROFILE_CHANGED: the UPF now also serves the iot slice; the full profile is the truth
    b2 = _upf("127.0.5.8", [{"sst": 2, "sd": "0000a1", "dnns": ["iot"]}])
    b2["nfInstanceId"] = b["nfInstanceId"]
    _, _, notes = nrf.register(b["nfInstanceId"], b2)
    change = table.on_notification(_notes_checked(validator, notes)[0])
    assert change is not None and change.kind == "updated"
    assert peer.serves("iot", (2, 0xA1)) and not peer.serves("internet", (1, None))

    # silent past 1.5 heartbeat timers: the NRF suspends it and says so (NF_PROFILE_CHANGED)
    clock.t += 16
    notes = nrf.expire()
    (note,) = _notes_checked(validator, notes)
    assert note["event"] == "NF_PROFILE_CHANGED" and note["nfProfile"]["nfStatus"] == "SUSPENDED"
    change = table.on_notification(note)
    assert change is not None and change.kind == "withdrawn" and not peer.serves("iot", (2, 0xA1))
    # its next heartbeat brings it back
    _, notes = nrf.update(b["nfInstanceId"], [{"op": "replace", "path": "/nfStatus", "value": "REGISTERED"}])
    change = table.on_notification(_notes_checked(validator, notes)[0])
    assert change is not None and change.kind == "updated" and peer.serves("iot", (2, 0xA1))

    # a UPF for DNNs this SMF does not serve is none of its business; so is an AMF
    c = _upf("127.0.5.9", [{"sst": 1, "dnns": ["corp"]}])
    _, _, notes = nrf.register(c["nfInstanceId"], c)
    assert table.on_notification(_notes_checked(validator, notes)[0]) is None
    amf_note = {"event": "NF_REGISTERED", "nfInstanceUri": "http://nrf/nnrf-nfm/v1/nf-instances/" + SMF_ID,
                "nfProfile": {"nfInstanceId": SMF_ID, "nfType": "AMF", "nfStatus": "REGISTERED"}}
    assert table.on_notification(amf_note) is None
    assert peers == [peer]

    # the UPF moves to another N4 address: the old peer is withdrawn, a new one added
    moved = {**b2, "ipv4Addresses": ["127.0.5.10"]}
    _, _, notes = nrf.register(b["nfInstanceId"], moved)
    change = table.on_notification(_notes_checked(validator, notes)[0])
    assert change is not None and change.kind == "added" and change.peer.address == "127.0.5.10"
    assert peer.dnns == () and peer.slices == ()


def test_notifications_the_smf_refuses() -> None:
    table = UpfTable([], WANTED)
    uri = "http://nrf/nnrf-nfm/v1/nf-instances/" + SMF_ID
    bad: list[tuple[Any, str]] = [
        ([1, 2], "/"),
        ({"nfInstanceUri": uri}, "/event"),
        ({"event": "NF_DEREGISTERED"}, "/nfInstanceUri"),
        ({"event": "NF_DEREGISTERED", "nfInstanceUri": "http://nrf/nf-instances/not-an-id"}, "/nfInstanceUri"),
        ({"event": "NF_REGISTERED", "nfInstanceUri": uri}, "/nfProfile"),
        ({"event": "NF_REGISTERED", "nfInstanceUri": uri, "nfProfile": "UPF"}, "/nfProfile"),
        ({"event": "NF_REGISTERED", "nfInstanceUri": uri,
          "nfProfile": {"nfType": "UPF", "nfInstanceId": "c0c0c0c0-0000-4000-8000-0000000000ff"}},
         "/nfProfile/nfInstanceId"),
    ]
    for body, param in bad:
        with pytest.raises(BadNotification) as e:
            table.on_notification(body)
        assert e.value.param == param, body
    # a delta only (profileChanges) or an event we did not ask for: nothing to do, no error
    assert table.on_notification({"event": "NF_PROFILE_CHANGED", "nfInstanceUri": uri,
                                  "profileChanges": [{"op": "REPLACE", "path": "/load", "newValue": 5}]}) is None
    assert table.on_notification({"event": "SHARED_DATA_CHANGED", "nfInstanceUri": uri}) is None


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 300) | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=4),
                     max_leaves=25)
_upf_id = "c0c0c0c0-0000-4000-8000-0000000000bb"


@st.composite
def _notifications(draw: st.DrawFn) -> Any:
    """Mostly almost-right NotificationData (so the deep paths run), sometimes anything."""
    if draw(st.integers(0, 4)) == 0:
        return draw(_json)
    profile = draw(st.dictionaries(st.sampled_from(["nfType", "nfStatus", "nfInstanceId", "ipv4Addresses",
                                                    "upfInfo", "upfInfoList"]), _json, max_size=6))
    profile.setdefault("nfType", "UPF")
    profile.setdefault("nfInstanceId", _upf_id)
    profile.setdefault("nfStatus", draw(st.sampled_from(["REGISTERED", "SUSPENDED"])))
    profile.setdefault("ipv4Addresses", draw(st.sampled_from([["127.0.5.20"], ["x"], [], "127.0.5.20"])))
    body = {"event": draw(st.sampled_from(["NF_REGISTERED", "NF_PROFILE_CHANGED", "NF_DEREGISTERED", "X", 5])),
            "nfInstanceUri": draw(st.sampled_from(["http://nrf/nnrf-nfm/v1/nf-instances/" + _upf_id, _upf_id, "",
                                                   None, "http://nrf/x/"]))}
    if draw(st.booleans()):
        body[draw(st.sampled_from(["nfProfile", "completeNfProfile"]))] = profile
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=st.lists(_notifications(), min_size=1, max_size=4))
def test_hostile_notifications_raise_only_bad_notification(bodies: list[Any]) -> None:
    """NotificationData is peer input: each gives a change, None or BadNotification, and the
    table stays consistent (every change's peer is one the SMF holds or is to add)."""
    peers: list[UpfPeer] = []
    table = UpfTable(peers, WANTED)
    for body in bodies:
        try:
            change = table.on_notification(body)
        except BadNotification:
            continue
        if change is not None:
            assert change.kind in ("added", "updated", "withdrawn")
            if change.kind == "added":
                peers.append(change.peer)
            else:
                assert change.peer in peers
    assert len({p.address for p in peers}) == len(peers)


def test_renewal_extends_the_subscription_at_the_nrf(validator: OpenApiValidator) -> None:
    clock = Clock()
    nrf = NrfContext(heartbeat_timer=10, nrf_uri="http://nrf", clock=clock)
    sub, sid = _subscribed(validator, nrf)
    now = _now()
    # the NRF granted our hint (10 minutes); renewal is due after three quarters of it
    assert sub.expires is not None and 590 <= (sub.expires - now).total_seconds() <= 600
    step, wait = sub.next_step(now)
    assert step == "renew" and 440 <= wait <= 450
    assert nrf.subscriptions[sid].expires == pytest.approx(clock.t + 600, abs=2)

    # 450 s later by the NRF's clock (the wall clock both sides read stays real)
    clock.t += 450
    later = _now()
    patch = sub.renew_patch(later)
    assert validator.validate_request("PATCH", f"/nnrf-nfm/v1/subscriptions/{sid}", patch) == []
    answer = nrf.renew(sid, patch)
    assert validator.validate_response("PATCH", f"/nnrf-nfm/v1/subscriptions/{sid}", 200, answer) == []
    assert sub.on_renewed(200, answer, later) is True
    assert sub.sid == sid and sub.expires is not None and (sub.expires - later).total_seconds() >= 590
    # the NRF now keeps it until the new validityTime: expire() 300 s past the first one leaves it
    assert nrf.subscriptions[sid].expires == pytest.approx(clock.t + 600, abs=2)
    clock.t += 450
    nrf.expire()
    assert sid in nrf.subscriptions

    # 204 (the hint taken as is) counts as renewed too
    assert sub.on_renewed(204, None, later) is True and sub.sid == sid


def test_a_restarted_nrf_answers_404_and_the_smf_subscribes_again(validator: OpenApiValidator) -> None:
    nrf = NrfContext(heartbeat_timer=10, nrf_uri="http://nrf", clock=Clock())
    sub, sid = _subscribed(validator, nrf)
    restarted = NrfContext(heartbeat_timer=10, nrf_uri="http://nrf", clock=Clock())
    with pytest.raises(HttpError) as e:
        restarted.renew(sid, sub.renew_patch(_now()))
    assert e.value.status == 404
    assert sub.on_renewed(404, e.value.problem(), _now()) is False
    assert sub.next_step(_now()) == ("subscribe", 0.0) and sub.sid is None
    assert sub.stale is None  # nothing to delete at an NRF that lost it
    sub2, sid2 = _subscribed(validator, restarted)
    assert sid2 in restarted.subscriptions


def test_renewal_failures_and_lapse() -> None:
    sub = StatusSubscription(SMF_ID, validity_s=100)
    now = _now()
    sub.on_subscribed(201, {"subscriptionId": "s1", "nfStatusNotificationUri": CALLBACK,
                            "validityTime": (now + timedelta(seconds=40)).isoformat()}, now)
    assert sub.next_step(now)[0] == "renew"
    # a 503 (or a transport failure, which the watcher turns into one) retries soon
    assert sub.on_renewed(503, None, now) is True and sub.next_step(now)[1] <= 5.0
    # past validityTime the NRF has dropped it: subscribe again, delete the old one first
    late = now + timedelta(seconds=41)
    assert sub.next_step(late) == ("subscribe", 0.0) and sub.stale == "s1"
    # without a validityTime in the answer our own hint is assumed
    sub.on_subscribed(201, {"subscriptionId": "s2"}, now)
    assert sub.expires is not None and (sub.expires - now).total_seconds() == pytest.approx(100)


@settings(max_examples=300, deadline=None)
@given(status=st.sampled_from([200, 201, 204, 400, 404, 500]), body=_json)
def test_hostile_nrf_answers_raise_only_subscription_failed(status: int, body: Any) -> None:
    sub = StatusSubscription(SMF_ID)
    try:
        sub.on_subscribed(status, body, _now())
    except SubscriptionFailed:
        assert sub.sid is None
        return
    assert status == 201 and isinstance(sub.sid, str)
    sub.on_renewed(status, body, _now())
    step, wait = sub.next_step(_now())
    assert step in ("subscribe", "renew") and wait >= 0


# --- the watcher over the NRF's real router (in-process binding), and the SMF's route ---------


def _nrf_local(validity_period: int = 3600) -> tuple[NrfContext, LocalRegistry, list[Any]]:
    ctx = NrfContext(heartbeat_timer=10, validity_period=validity_period, nrf_uri="http://nrf")
    local = LocalRegistry()
    sent: list[Any] = []
    local.register(["nnrf-nfm", "nnrf-disc"], build_router(ctx, sent.extend))
    return ctx, local, sent


async def test_watcher_subscribes_catches_up_and_applies_notifications(validator: OpenApiValidator) -> None:
    ctx, local, sent = _nrf_local()
    early = _upf("127.0.5.7", [{"sst": 1, "dnns": ["internet"]}])
    ctx.register(early["nfInstanceId"], early)  # registered before the SMF subscribed
    client = SbiClient("SMF", SMF_ID, local=local)
    n4 = N4("127.0.5.4", 0, [])
    disc = UpfDiscovery(client, n4, WANTED)
    watcher = UpfWatcher(client, n4, disc, callback_uri=lambda: "http://127.0.5.4:7777", nrf_base=lambda: None)
    await watcher.subscribe()
    assert watcher.subscribed.is_set() and watcher.subscription.sid in ctx.subscriptions
    stored = ctx.subscriptions[watcher.subscription.sid].data
    assert stored["nfStatusNotificationUri"] == f"{CALLBACK}/{watcher.token}" == watcher.notify_uri
    assert stored["subscrCond"] == {"nfType": "UPF"}
    assert [p.address for p in n4.peers] == ["127.0.5.7"]  # the catch-up discovery found it

    # a second UPF registers: the NRF's notification adds it, no discovery needed
    late = _upf("127.0.5.8", [{"sst": 1, "dnns": ["internet"]}])
    _, _, notes = ctx.register(late["nfInstanceId"], late)
    for note in _notes_checked(validator, notes):
        watcher.notify(note)
    assert [p.address for p in n4.peers] == ["127.0.5.7", "127.0.5.8"]

    # the first deregisters: withdrawn, and the discovery cache (which still lists it) dropped
    await disc.find("internet", (1, None))  # cached now
    for _uri, note in ctx.deregister(early["nfInstanceId"]):
        change = watcher.notify(note)
        assert change is not None and change.kind == "withdrawn"
    assert not n4.peers[0].serves("internet", (1, None))
    assert client._cache == {}
    await disc.find("internet", (1, None))  # a fresh answer must not bring it back
    assert not n4.peers[0].serves("internet", (1, None)) and n4.peers[1].serves("internet", (1, None))
    # the first came by discovery, the second by notification
    assert watcher.stats["upf_status_added"] == 1 and watcher.stats["upf_status_withdrawn"] == 1

    # renewal through the router; then the NRF loses the subscription -> a new one
    assert await watcher.renew() is True
    ctx.subscriptions.clear()
    assert await watcher.renew() is False and not watcher.subscribed.is_set()
    await watcher.subscribe()
    assert watcher.subscribed.is_set() and len(ctx.subscriptions) == 1


async def test_the_callback_route_answers_204_or_400() -> None:
    client = SbiClient("SMF", SMF_ID, local=LocalRegistry())
    n4 = N4("127.0.5.4", 0, [])
    watcher = UpfWatcher(client, n4, UpfDiscovery(client, n4, WANTED), callback_uri=lambda: "http://x",
                         nrf_base=lambda: None)
    router = Router("smf")
    watcher.add_routes(router)
    prof = _upf("127.0.5.7", [{"sst": 1, "dnns": ["internet"]}])
    note = {"event": "NF_REGISTERED", "nfInstanceUri": "http://nrf/nnrf-nfm/v1/nf-instances/" + prof["nfInstanceId"],
            "nfProfile": prof}
    async def post(body: bytes, token: str = watcher.token) -> Any:
        resp = router.begin(Request("POST", f"{NOTIFY_PATH}/{token}", "", {"content-type": "application/json"},
                                    body))
        if asyncio.iscoroutine(resp):
            resp = await resp
        return resp

    # not the NRF (it alone learnt the token): refused, nothing changes
    for token in ("guess", watcher.token[:-1], watcher.token + "x"):
        assert (await post(json.dumps(note).encode(), token)).status == 404
    assert n4.peers == [] and watcher.stats["upf_status_notify_refused"] == 3
    ok = await post(json.dumps(note).encode())
    assert ok.status == 204 and [p.address for p in n4.peers] == ["127.0.5.7"]
    for body in (b"{", b"[]", json.dumps({**note, "nfInstanceUri": "x"}).encode()):
        bad = await post(body)
        assert bad.status == 400 and bad.problem() is not None, body
    assert len(n4.peers) == 1


async def test_smf_app_serves_the_callback_only_for_nrf_selection() -> None:
    from fivecore.config import load_config
    from fivecore.nf.smf.app import SmfApp

    app = SmfApp(load_config({"smf": {"upf_selection": "nrf"}}))
    assert app.upf_watcher is not None and app.upf_watcher.table.peers is app.n4.peers
    plain = SmfApp(load_config({"smf": {"upf_selection": "config"}}))
    assert plain.upf_watcher is None
    for smf, status in ((app, 400), (plain, 404)):  # {} is no NotificationData; no route -> 404
        resp = smf.router.begin(Request("POST", f"{NOTIFY_PATH}/{app.upf_watcher.token}", "",
                                        {"content-type": "application/json"}, b"{}"))
        if asyncio.iscoroutine(resp):
            resp = await resp
        assert resp.status == status
