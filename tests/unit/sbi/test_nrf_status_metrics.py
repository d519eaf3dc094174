"""The NRF's heartbeat and subscription metrics (Open5GS-style names, parsed with
prometheus_client's parser) and its handling of a subscription's validityTime
(TS 29.510 §6.1.6.2.16 hint on NFStatusSubscribe, §5.2.2.5.6 renewal by JSON Patch)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from fivecore.config import load_config
from fivecore.nf.nrf import NrfApp
from fivecore.nf.nrf.context import NrfContext
from fivecore.nf.nrf.metrics import HEARTBEATS, INSTANCES, NOTIFICATIONS, SUBSCRIPTIONS
from fivecore.transport.http2 import HttpError

HEARTBEAT = [{"op": "replace", "path": "/nfStatus", "value": "REGISTERED"}]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _profile(nf_type: str) -> dict:
    return {"nfInstanceId": str(uuid.uuid4()), "nfType": nf_type, "nfStatus": "REGISTERED",
            "ipv4Addresses": ["127.0.5.7"]}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


def test_heartbeats_per_nf_type_in_the_exposition() -> None:
    from fivecore.netup.observe import attach

    cfg = load_config({})
    app = NrfApp(cfg)  # not started: the context exists once the router is built
    ctx = app.context
    upf, upf2, amf = _profile("UPF"), _profile("UPF"), _profile("AMF")
    for p in (upf, upf2, amf):
        ctx.register(p["nfInstanceId"], p)
    ctx.subscribe({"nfStatusNotificationUri": "http://smf/cb", "subscrCond": {"nfType": "UPF"}})
    for _ in range(3):
        assert ctx.update(upf["nfInstanceId"], HEARTBEAT) == (None, [])
    ctx.update(upf2["nfInstanceId"], [{"op": "add", "path": "/load", "value": 7}])  # a heartbeat too
    ctx.update(amf["nfInstanceId"], HEARTBEAT)
    ctx.update(amf["nfInstanceId"], [{"op": "add", "path": "/locality", "value": "east"}])  # not one
    with pytest.raises(HttpError):
        ctx.update(str(uuid.uuid4()), HEARTBEAT)  # unknown NF: 404, counted nowhere
    assert ctx.heartbeats == {"UPF": 4, "AMF": 1}

    reg, _info = attach("nrf", app, cfg)
    text = reg.expose()
    got = _samples(text)
    assert got[(HEARTBEATS + "_total", (("nftype", "UPF"),))] == 4
    assert got[(HEARTBEATS + "_total", (("nftype", "AMF"),))] == 1
    assert got[(INSTANCES, (("nfstatus", "REGISTERED"), ("nftype", "UPF")))] == 2
    assert got[(SUBSCRIPTIONS, ())] == 1
    assert f"# TYPE {HEARTBEATS} counter" in text and f"# TYPE {INSTANCES} gauge" in text

    # the UPF deregisters: one notification to the subscriber, counted per event
    assert len(ctx.deregister(upf["nfInstanceId"])) == 1
    got = _samples(reg.expose())
    assert got[(NOTIFICATIONS + "_total", (("event", "NF_DEREGISTERED"),))] == 1
    assert got[(INSTANCES, (("nfstatus", "REGISTERED"), ("nftype", "UPF")))] == 1
    assert got[(HEARTBEATS + "_total", (("nftype", "UPF"),))] == 4  # a counter never goes down


def test_validity_time_hint_is_granted_capped_or_refused() -> None:
    clock = Clock()
    nrf = NrfContext(clock=clock)
    sid, data = nrf.subscribe({"nfStatusNotificationUri": "http://smf/cb", "validityTime": _at(120)},
                              default_validity=3600)
    assert nrf.subscriptions[sid].expires == pytest.approx(clock.t + 120, abs=2)
    assert data["validityTime"] <= _at(121)
    sid, _ = nrf.subscribe({"nfStatusNotificationUri": "http://smf/cb", "validityTime": _at(10 * 86400)},
                           default_validity=3600)
    assert nrf.subscriptions[sid].expires == pytest.approx(clock.t + 3600, abs=2)  # capped
    for bad in (_at(-5), "2026-13-01T00:00:00Z", "2030-01-01T00:00:00", 17):
        with pytest.raises(HttpError) as e:
            nrf.subscribe({"nfStatusNotificationUri": "http://smf/cb", "validityTime": bad})
        assert e.value.status == 400, bad


def test_renewal_moves_the_expiry_and_keeps_the_subscription_usable() -> None:
    clock = Clock()
    nrf = NrfContext(clock=clock)
    sid, _ = nrf.subscribe({"nfStatusNotificationUri": "http://smf/cb", "validityTime": _at(60),
                            "reqNotifEvents": ["NF_DEREGISTERED"]})
    clock.t += 50
    data = nrf.renew(sid, [{"op": "replace", "path": "/validityTime", "value": _at(300)}])
    assert data["subscriptionId"] == sid and data["reqNotifEvents"] == ["NF_DEREGISTERED"]
    assert nrf.subscriptions[sid].expires == pytest.approx(clock.t + 300, abs=2)
    clock.t += 100
    nrf.expire()
    assert sid in nrf.subscriptions  # past the first validityTime, inside the renewed one
    before = dict(nrf.subscriptions[sid].data)
    for patch in ([{"op": "remove", "path": "/nfStatusNotificationUri"}],
                  [{"op": "replace", "path": "/nfStatusNotificationUri", "value": 5}],
                  [{"op": "replace", "path": "/reqNotifEvents", "value": ["NF_EXPLODED"]}],
                  [{"op": "replace", "path": "/validityTime", "value": _at(-1)}],
                  [{"op": "replace", "path": "/subscriptionId", "value": "other"}]):
        with pytest.raises(HttpError) as e:
            nrf.renew(sid, patch)
        assert e.value.status == 400, patch
    assert nrf.subscriptions[sid].data == before
    # and it still notifies
    p = _profile("UPF")
    nrf.register(p["nfInstanceId"], p)
    assert [n["event"] for _u, n in nrf.deregister(p["nfInstanceId"])] == ["NF_DEREGISTERED"]
    clock.t += 300
    nrf.expire()
    assert sid not in nrf.subscriptions
    with pytest.raises(HttpError) as e:
        nrf.renew(sid, [{"op": "replace", "path": "/validityTime", "value": _at(300)}])
    assert e.value.status == 404


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 300) | st.text(max_size=30),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=4),
                     max_leaves=15)
_times = st.one_of(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()), st.text(max_size=30), _json)


@settings(max_examples=300, deadline=None)
@given(hint=_times, patch=st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["replace", "add", "remove", "test", "move"]),
     "path": st.sampled_from(["/validityTime", "/reqNotifEvents", "/subscrCond", "/nfStatusNotificationUri",
                              "/reqNfInstanceId", "/x", ""]), "value": _json | _times}), max_size=3) | _json)
def test_hostile_validity_times_and_patches_give_only_http_errors(hint: object, patch: object) -> None:
    """validityTime and the renewal's JSON Patch are peer input: 4xx, never another exception,
    and a refused renewal leaves the subscription as it was."""
    nrf = NrfContext(clock=Clock())
    try:
        nrf.subscribe({"nfStatusNotificationUri": "http://smf/cb", "validityTime": hint})
    except HttpError as exc:
        assert 400 <= exc.status < 500
    sid, _ = nrf.subscribe({"nfStatusNotificationUri": "http://smf/cb"})
    before = dict(nrf.subscriptions[sid].data)
    try:
        data = nrf.renew(sid, patch)
    except HttpError as exc:
        assert 400 <= exc.status < 500
        assert nrf.subscriptions[sid].data == before
        return
    assert isinstance(data["nfStatusNotificationUri"], str) and data["subscriptionId"] == sid
