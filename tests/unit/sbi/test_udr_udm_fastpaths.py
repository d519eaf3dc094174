"""The UDR's SQN patch fast path and the UDM's own sm-data filtering answer exactly what the
general paths answer (the general ones are the reference)."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.nf.common import LocalRegistry
from fivecore.nf.nrf import NrfApp
from fivecore.nf.udm import UdmApp
from fivecore.nf.udr import UdrApp
from fivecore.nf.udr.context import UdrContext
from fivecore.store import Subscriber, SubscriberStore
from fivecore.transport.http2 import HttpError
from fivecore.wire.sbi import ANY_SNSSAI, select_sm_data

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
SUPI = "imsi-001010000000001"


def _reference_filter(data: list, nssai: str | None, dnn: str | None) -> list:
    """The UDR's sm-data filtering as it was written before it moved to wire.sbi."""
    if nssai:
        want = json.loads(nssai)
        data = [d for d in data if isinstance(want, dict) and d.get("singleNssai", {}).get("sst") == want.get("sst")
                and (d.get("singleNssai", {}).get("sd") or "").lower() == (want.get("sd") or "").lower()]
    if dnn:
        data = [{**d, "dnnConfigurations": {k: v for k, v in (d.get("dnnConfigurations") or {}).items() if k == dnn}}
                for d in data if dnn in (d.get("dnnConfigurations") or {})]
    return data


SNSSAI = st.fixed_dictionaries({"sst": st.integers(0, 3)}, optional={"sd": st.sampled_from(["000001", "00000A", "00000a"])})
ENTRY = st.fixed_dictionaries(
    {"singleNssai": SNSSAI},
    optional={"dnnConfigurations": st.dictionaries(st.sampled_from(["internet", "ims", "x"]),
                                                   st.fixed_dictionaries({"n": st.integers(0, 9)}), max_size=3)})


@given(data=st.lists(ENTRY, max_size=5),
       nssai=st.one_of(st.none(), SNSSAI.map(json.dumps), st.sampled_from(["null", "5", "[]", '{"sd":"000001"}'])),
       dnn=st.one_of(st.none(), st.sampled_from(["", "internet", "ims", "y"])))
def test_select_sm_data_is_the_udr_filter(data, nssai, dnn):
    before = json.dumps(data)
    want = json.loads(nssai) if nssai else ANY_SNSSAI
    assert select_sm_data(data, want, dnn) == _reference_filter(data, nssai, dnn)
    assert json.dumps(data) == before  # the input is never changed


@pytest.fixture()
def udr(tmp_path):
    store = SubscriberStore(f"sqlite:///{tmp_path / 's.db'}")
    store.add(Subscriber(SUPI, K, OPC, sqn=0x20))
    yield UdrContext(store)
    store.close()


def _status(fn, *args) -> int:
    try:
        fn(*args)
    except HttpError as exc:
        return exc.status
    return 204


def _cas(old: str, new: str) -> list:
    return [{"op": "test", "path": "/sequenceNumber/sqn", "value": old},
            {"op": "replace", "path": "/sequenceNumber/sqn", "value": new}]


def test_sqn_patch_fast_path(udr):
    assert _status(udr.patch_auth_subscription, SUPI, _cas("000000000020", "000000000040")) == 204
    assert udr.store.get(SUPI).sqn == 0x40
    assert _status(udr.patch_auth_subscription, SUPI, _cas("000000000020", "000000000060")) == 409
    assert _status(udr.patch_auth_subscription, "imsi-001019999999999", _cas("000000000040", "000000000060")) == 404
    assert udr.store.get(SUPI).sqn == 0x40


@pytest.mark.parametrize("patch,status", [
    ([{"op": "test", "path": "/sequenceNumber/sqn", "value": "40"},
      {"op": "replace", "path": "/sequenceNumber/sqn", "value": "000000000060"}], 204),  # short hex: general path
    ([{"op": "test", "path": "/sequenceNumber/sqn", "value": "zz0000000040"},
      {"op": "replace", "path": "/sequenceNumber/sqn", "value": "000000000060"}], 400),
    ([{"op": "test", "path": "/sequenceNumber/sqn", "value": "000000000040"},
      {"op": "replace", "path": "/sequenceNumber/sqn", "value": "1000000000000"}], 400),  # > 48 bits
    ([{"op": "test", "path": "/k", "value": "000000000040"},
      {"op": "replace", "path": "/sequenceNumber/sqn", "value": "000000000060"}], 403),
    ([{"op": "replace", "path": "/sequenceNumber/sqn", "value": "000000000080"}], 204),  # no test: resync
    ([{"op": "test", "path": "/sequenceNumber/sqn", "value": "000000000040", "x": 1},
      {"op": "replace", "path": "/sequenceNumber/sqn", "value": "000000000060"}], 204),
    ([1, 2], 403),
])
def test_other_patches_take_the_general_path(udr, patch, status):
    udr.store.set_sqn(SUPI, 0x40)
    assert _status(udr.patch_auth_subscription, SUPI, patch) == status


@pytest.fixture()
def chain(tmp_path):
    cfg = load_config({"db_uri": f"sqlite:///{tmp_path / 'c.db'}", "udr": {"mgmt": {"enabled": False}}})
    local = LocalRegistry()
    apps = [NrfApp(cfg, local=local), UdrApp(cfg, local=local), UdmApp(cfg, local=local)]
    loop = asyncio.new_event_loop()
    for a in apps:
        loop.run_until_complete(a.start(serve=False))
    apps[1].store.put_profile("multi", {"sm": [
        {"singleNssai": {"sst": 1}, "dnnConfigurations": {"internet": {"a": 1}, "ims": {"a": 2}}},
        {"singleNssai": {"sst": 1, "sd": "00000A"}, "dnnConfigurations": {"internet": {"a": 3}}},
        {"singleNssai": {"sst": 2}},
    ]})
    apps[1].store.add(Subscriber(SUPI, K, OPC, profile="multi"))
    yield loop, apps
    for a in reversed(apps):
        loop.run_until_complete(a.stop())
    loop.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nssai=st.one_of(st.none(), st.sampled_from(['{"sst":1}', '{"sst":1,"sd":"00000a"}', '{"sst":2}', '{"sst":3}'])),
       dnn=st.one_of(st.none(), st.sampled_from(["internet", "ims", "none"])))
def test_udm_sm_data_equals_the_udrs_filtered_answer(chain, nssai, dnn):
    loop, (_nrf, _udr, udm) = chain
    q = {k: v for k, v in (("single-nssai", nssai), ("dnn", dnn)) if v}
    via_udm = loop.run_until_complete(udm.client.call("GET", f"/nudm-sdm/v2/{SUPI}/sm-data", query=q))
    via_udr = loop.run_until_complete(udm.client.call(
        "GET", f"/nudr-dr/v2/subscription-data/{SUPI}/00101/provisioned-data/sm-data", query=q))
    assert via_udm.status == via_udr.status == 200
    assert via_udm.json() == via_udr.json()


def test_amf_registration_read_before_write(chain):
    """The UDR's 404 for a UE without an AMF registration is a ProblemDetails either way (built
    without raising); an unknown UE stays USER_NOT_FOUND through the UDM."""
    loop, (_nrf, _udr, udm) = chain
    call = udm.client.call
    ctx = f"/nudr-dr/v2/subscription-data/{SUPI}/context-data/amf-3gpp-access"
    r = loop.run_until_complete(call("GET", ctx))
    assert r.status == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.problem()["cause"] == "CONTEXT_NOT_FOUND" and r.problem()["status"] == 404
    assert json.loads(r.encoded())["cause"] == "CONTEXT_NOT_FOUND"
    reg = {"amfInstanceId": "7f1a1b2c-0000-4000-8000-000000000001", "deregCallbackUri": "http://127.0.0.5/cb",
           "guami": {"plmnId": {"mcc": "001", "mnc": "01"}, "amfId": "020040"}, "ratType": "NR"}
    uecm = "/nudm-uecm/v1/{}/registrations/amf-3gpp-access"
    assert loop.run_until_complete(call("PUT", uecm.format(SUPI), body=reg)).status == 201
    assert loop.run_until_complete(call("PUT", uecm.format(SUPI), body=reg)).status == 200
    assert loop.run_until_complete(call("GET", ctx)).json()["amfInstanceId"] == reg["amfInstanceId"]
    r = loop.run_until_complete(call("PUT", uecm.format("imsi-001019999999999"), body=reg))
    assert r.status == 404 and r.problem()["cause"] == "USER_NOT_FOUND"
